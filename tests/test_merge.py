"""Result files carry a schema version; shards on disjoint seeds merge into the unsharded
result."""

import json

import pytest

from boostbench import cli
from boostbench.report import SCHEMA_VERSION

RUN = ["run", "--scenario", "tiny", "--rankers", "like_count", "--attacks", "bot_farm",
       "--quiet", "--jobs", "1"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    for name, seeds in (("all", "0,1,2"), ("a", "2,0"), ("b", "1,")):
        assert cli.main([*RUN, "--seeds", seeds, "--json", str(d / f"{name}.json")]) == 0
    return d


def test_merged_shards_equal_the_unsharded_run(shards, capsys):
    out = shards / "merged.json"
    assert cli.main(["merge", str(shards / "b.json"), str(shards / "a.json"), "--out",
                     str(out)]) == 0
    assert "2 run shards, 3 seeds (0, 1, 2)" in capsys.readouterr().out
    merged, whole = (json.loads(p.read_text()) for p in (out, shards / "all.json"))
    assert merged["records"] == whole["records"] and merged["summary"] == whole["summary"]
    assert merged["manifest"]["seeds"] == [0, 1, 2]
    assert merged["manifest"]["executor"]["kind"] == "merged"
    # a merged file is a result file like any other: it merges and plots again
    assert merged["manifest"]["schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize("case, needle", [
    ("overlap", "seed 0 is in both"),
    ("other config", "differs from"),
    ("old schema", "no schema version"),
    ("one file", "at least two"),
    ("not a result", "not a boostbench result file"),
])
def test_bad_shards_are_refused_naming_why(case, needle, shards, tmp_path, capsys):
    a, b = shards / "a.json", shards / "b.json"
    files = [a, b]
    if case == "overlap":
        files = [a, shards / "all.json"]
    elif case == "other config":
        d = json.loads(b.read_text())
        d["manifest"]["k"] = 5
        files = [a, tmp_path / "k.json"]
        files[1].write_text(json.dumps(d))
    elif case == "old schema":
        d = json.loads(b.read_text())
        del d["manifest"]["schema_version"]
        files = [a, tmp_path / "old.json"]
        files[1].write_text(json.dumps(d))
    elif case == "one file":
        files = [a]
    else:
        files = [a, tmp_path / "x.json"]
        files[1].write_text("[1, 2]")
    out = tmp_path / "m.json"
    assert cli.main(["merge", *map(str, files), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and not out.exists()


def test_plot_refuses_another_schema_version(shards, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    d = json.loads((shards / "a.json").read_text())
    d["manifest"]["schema_version"] = SCHEMA_VERSION + 1
    p = tmp_path / "future.json"
    p.write_text(json.dumps(d))
    assert cli.main(["plot", str(p), "--out", str(tmp_path)]) == 2
    assert f"schema version {SCHEMA_VERSION + 1}" in capsys.readouterr().err
