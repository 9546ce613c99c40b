import json
import subprocess
import sys

import pytest

from boostbench import cli
from boostbench.plugins import ATTACKS, DEFENCES, METRICS, RANKERS
from boostbench.report import write_json_atomic

TINY = ["run", "--scenario", "tiny", "--seeds", "2", "--jobs", "1"]


def test_run_tiny_end_to_end(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(TINY + ["--json", str(out)]) == 0
    text = capsys.readouterr().out
    for name in cli.DEFAULT_RANKERS + cli.DEFAULT_ATTACKS:
        assert name in text
    data = json.loads(out.read_text())
    man = data["manifest"]
    assert man["package"] == "boostbench" and man["seeds"] == [0, 1]
    assert man["scenario"]["name"] == "tiny" and "behaviour" in man["world"]
    assert len(data["records"]) == 2 * len(cli.DEFAULT_RANKERS) * len(cli.DEFAULT_ATTACKS)
    for rec in data["records"]:
        for f in ("ranker", "attack", "budget", "seed", "spend", "rank_lift", "hit_rate_at_k",
                  "low_quality_share_at_k", "quality_ndcg_at_k"):
            assert f in rec
        assert rec["spend"] <= rec["budget"] + 1e-9


def test_options_are_applied(tmp_path):
    out = tmp_path / "r.json"
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "7,9", "--rankers", "like_count",
                     "--attacks", "bot_farm", "--budget", "2.5", "--k", "3", "--json", str(out),
                     "--jobs", "1"]) == 0
    data = json.loads(out.read_text())
    assert {(r["ranker"], r["attack"], r["seed"]) for r in data["records"]} == {
        ("like_count", "bot_farm", 7), ("like_count", "bot_farm", 9)}
    assert data["manifest"]["k"] == 3 and data["manifest"]["scenario"]["budget"] == 2.5


@pytest.mark.parametrize("args, needle", [
    (["--k", "0"], "--k must be an int in [1, inf). Got '0'"),
    (["--budget", "-1"], "--budget must be a finite real in [0, 10000]. Got '-1'"),
    (["--budget", "1e9"], "--budget must be a finite real in [0, 10000]. Got '1e9'"),
    (["--budget", "nan"], "--budget"),
    (["--seeds", "0"], "--seeds must be a count in [1, 10000]"),
    (["--rankers", "nope"], "--rankers: 'nope': Unknown ranker 'nope'"),
    (["--rankers", "like_count+nope"], "Unknown defence 'nope'"),
    (["--rankers", "like_count+lockstep+lockstep"], "Defences must not repeat"),
    (["--rankers", "like_count+"], "'scorer+defence+...'"),
    (["--attacks", "bot_farm,bot_farm"], "--attacks: names must not repeat"),
    (["--size", "huge"], "--size must be one of 'tiny', 'small', 'medium'"),
    (["--jobs", "0"], "--jobs must be an int in [1, 64]. Got '0'"),
    (["--json", "/no/such/dir/x.json"], "--json: folder"),
    (["--bogus"], "unrecognized arguments"),
    (["--mode", "loop"], "--mode must be one of 'closed', 'replay'"),
    (["--mode", "replay", "--attacks", "top_up"], "top_up react to the feed and need --mode closed"),
    (["--trace", "/no/such/dir/t.csv"], "--trace: folder"),
    (["--world", "fan_share"], "--world must be NAME=VALUE,... (fan_share=0.05"),
    (["--world", "fan_share="], "--world must be NAME=VALUE,... (fan_share=0.05"),
    (["--world", "fan_share=lots"], "--world: The 'world' setting 'fan_share' must be a number"),
    (["--world", "history_feed=sorted"], "The 'history_feed' parameter of WorldConfig must be "
                                         "one of 'open', 'ranked'"),
    (["--world", "fan_share=0.1,fan_share=0.2"], "--world names a setting twice"),
    (["--world", "fans=0.1"], "--world: The 'world' parameter has no setting 'fans'; allowed:"),
    (["--world", "future_hours=5"], "has no setting 'future_hours'"),
    (["--world", "fan_group_size=2.5"], "setting 'fan_group_size' must be an integer"),
    (["--world", "fan_share=1.5"], "The 'fan_share' parameter of WorldConfig must be a finite "
                                   "real in [0, 1]. Got 1.5"),
    (["--world", "behaviour.beta_fan=nan"], "'beta_fan' parameter of BehaviourParams"),
])
def test_bad_option_one_line_exit_2_no_file(args, needle, tmp_path, capsys):
    out = tmp_path / "r.json"
    extra = [] if "--json" in args else ["--json", str(out)]
    assert cli.main(TINY + args + extra) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, needle", [
    (["sweep", "--budgets", "0,1e12"], "--budgets must be a non-empty sequence of values each a "
                                       "finite real in [0, 10000]"),
    (["cost", "--cap", "1e300"], "--cap must be a finite real in [0.25, 10000]"),
])
def test_huge_budgets_are_refused_before_any_work(argv, needle, capsys, monkeypatch):
    """They used to grow memory ~300 MB/s until the machine died."""
    from boostbench import runner, world

    def boom(*a, **k):
        raise AssertionError("a world was built before the budget was checked")
    monkeypatch.setattr(world, "make_world", boom)
    monkeypatch.setattr(runner, "make_world", boom)
    monkeypatch.setattr(runner, "drawn_world", boom)     # a world kept from an earlier test
    assert cli.main([*argv, "--scenario", "tiny", "--seeds", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


def test_replay_mode_and_trace(tmp_path, capsys):
    out, tr = tmp_path / "r.json", tmp_path / "t.csv"
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "1", "--rankers", "like_count",
                     "--attacks", "bot_farm", "--mode", "replay", "--json", str(out),
                     "--trace", str(tr)]) == 0
    assert "mode replay" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["manifest"]["mode"] == "replay" and data["records"][0]["mode"] == "replay"
    assert data["records"][0]["extra_organic_impressions"] == 0.0  # organic is fixed in replay
    lines = tr.read_text().splitlines()
    assert lines[0].startswith("ranker,attack,seed,round,hours")
    assert len(lines) == 1 + 24  # one row per round of the tiny scenario


def test_closed_mode_is_the_default_and_reports_loop_metrics(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(TINY[:-2] + ["--rankers", "like_count", "--attacks", "task_crowd", "--seeds",
                                 "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "mode closed" in text and "extra_organic_impressions" in text
    rec = json.loads(out.read_text())["records"][0]
    assert rec["mode"] == "closed" and rec["extra_organic_impressions"] > 0
    assert rec["amplification"] is not None


def test_failure_half_way_leaves_no_file(tmp_path, monkeypatch):
    out = tmp_path / "r.json"

    def boom(*a, **k):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr("boostbench.report.json.dump", boom)
    with pytest.raises(RuntimeError):
        cli.main(TINY + ["--rankers", "like_count", "--attacks", "bot_farm", "--json", str(out)])
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "x.json"
    write_json_atomic(p, {"a": float("nan"), "b": [1, 2]})
    assert json.loads(p.read_text()) == {"a": None, "b": [1, 2]}


def test_all_means_every_registered_plugin(tmp_path):
    out = tmp_path / "r.json"
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "1", "--rankers", "all", "--attacks",
                     "api_exploit", "--mode", "replay", "--json", str(out)]) == 0
    assert {r["ranker"] for r in json.loads(out.read_text())["records"]} == set(RANKERS.names())


def test_list_shows_everything(capsys):
    assert cli.main(["list"]) == 0
    text = capsys.readouterr().out
    for name in RANKERS.names() + DEFENCES.names() + ATTACKS.names() + METRICS.names():
        assert name in text
    assert "[inline; discount]" in text and "[batch every 6 h, lag 1 h; ban]" in text
    for pacing in ("burst", "even", "cold_start", "under_cap"):
        assert pacing in text


def test_python_dash_m_entry_point():
    p = subprocess.run([sys.executable, "-m", "boostbench", "run", "--k", "-3"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "--k must be an int" in p.stderr


def test_defended_pipeline_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "2", "--jobs", "1", "--rankers",
                     "like_count,like_count+require_view+lockstep", "--attacks", "bot_farm",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "What the defences catch" in text and "organic_weight_removed" in text
    recs = {r["ranker"]: r for r in json.loads(out.read_text())["records"]}
    bare, defended = recs["like_count"], recs["like_count+require_view+lockstep"]
    assert bare["defences"] == [] and bare["honest_demoted"] == 0.0
    assert defended["defences"] == ["require_view", "lockstep"] and defended["scorer"] == "like_count"
    assert defended["oracle"] is False
    # the burst farm is caught, and its fake likes stop counting
    assert defended["detection_recall"] > 0.9 and defended["detection_precision"] > 0.9
    assert defended["hit_rate_at_k"] < bare["hit_rate_at_k"]
    man = json.loads(out.read_text())["manifest"]
    pipe = [r for r in man["rankers"] if r["name"] == "like_count+require_view+lockstep"][0]
    assert [d["name"] for d in pipe["defences"]] == ["require_view", "lockstep"]
    assert pipe["defences"][1]["schedule"]["kind"] == "batch"


def test_output_files_get_the_usual_permissions(tmp_path):
    import os
    p = tmp_path / "x.json"
    write_json_atomic(p, {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert (p.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_a_module_in_the_current_folder_resolves_from_the_command_line(tmp_path, capsys,
                                                                      monkeypatch):
    """As pytest and uvicorn users expect: no PYTHONPATH=. needed for module:attr."""
    import sys
    (tmp_path / "cwd_ranker_mod.py").write_text(
        "from boostbench.events import EventKind\n"
        "class Mine:\n    name = 'mine'\n"
        "    def __call__(self, obs):\n        return obs.count(EventKind.LIKE) * 1.0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "1", "--rankers",
                     "cwd_ranker_mod:Mine", "--attacks", "bot_farm", "--quiet"]) == 0
    assert "mine" in capsys.readouterr().out
    assert str(tmp_path) not in sys.path          # searched, not left on the path


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "json"])
def test_metrics_and_format_pick_the_columns_and_the_shape(fmt, capsys):
    import csv
    import io
    import json
    argv = ["run", "--scenario", "tiny", "--seeds", "2", "--rankers", "like_count,"
            "like_count+lockstep", "--attacks", "bot_farm", "--quiet", "--metrics",
            "reached_top_k,target_reach", "--format", fmt]
    assert cli.main(argv) == 0
    cap = capsys.readouterr()
    out = cap.out
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [r["ranker"] for r in rows] == ["like_count", "like_count+lockstep"]
        assert {"reached_top_k_mean", "target_reach_high", "spend_n"} <= set(rows[0])
        assert "boostbench run:" in cap.err and "boostbench run:" not in out
    elif fmt == "json":
        rows = json.loads(out)
        assert rows[0]["reached_top_k"]["n"] == 2 and "log_rank_lift" not in rows[0]
    else:
        assert "reached_top_k" in out and "target_reach" in out and "log_rank_lift" not in out
        assert "detection_recall" not in out            # the chosen columns only
        if fmt == "md":
            assert "| ranker | attack |" in out and "| --- |" in out


def test_unknown_metrics_are_refused_before_the_run(capsys, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the run started before --metrics was checked")
    monkeypatch.setattr(cli, "run_matrix", boom)
    assert cli.main([*TINY, "--metrics", "reached_top_k,nope"]) == 2
    err = capsys.readouterr().err
    assert "--metrics must be a comma list" in err and "unknown: nope" in err


def test_world_settings_reach_the_world_the_manifest_and_the_headline(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = [*TINY, "--seeds", "1", "--rankers", "like_count", "--attacks", "bot_farm",
            "--world", "fan_share=0.3,behaviour.beta_fan=5,fan_group_size=25",
            "--json", str(out)]
    assert cli.main(argv) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "(world behaviour.beta_fan=5,fan_group_size=25,fan_share=0.3)" in head
    scenario = json.loads(out.read_text())["manifest"]["scenario"]
    assert scenario["world"] == [["behaviour.beta_fan", 5], ["fan_group_size", 25],
                                 ["fan_share", 0.3]]
    plain = tmp_path / "p.json"
    assert cli.main([*argv[:-4], "--json", str(plain)]) == 0
    assert "world" not in json.loads(plain.read_text())["manifest"]["scenario"]
    # the settings changed the world: fans act, so the records differ
    recs = [json.loads(p.read_text())["records"][0] for p in (out, plain)]
    assert recs[0]["extra_organic_impressions"] != recs[1]["extra_organic_impressions"]


@pytest.mark.parametrize("setting, stored", [
    ("fan_share=0.2", [["fan_share", 0.2]]),
    ("history_feed=ranked,fan_share=0.2", [["fan_share", 0.2], ["history_feed", "ranked"]]),
])
def test_a_baseline_with_world_settings_checks_against_the_same_world(setting, stored, tmp_path,
                                                                       capsys):
    b = tmp_path / "b.json"
    argv = ["--scenario", "tiny", "--seeds", "2", "--rankers", "like_count", "--attacks",
            "bot_farm", "--quiet"]
    assert cli.main(["baseline", *argv, "--world", setting, "--out", str(b)]) == 0
    assert json.loads(b.read_text())["runs"][0]["options"]["world"] == stored
    assert cli.main(["check", "--baseline", str(b), "--quiet"]) == 0
    assert "PASS" in capsys.readouterr().out
