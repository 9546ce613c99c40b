"""boostbench plot: the figures a run, sweep or cost file supports; deterministic files."""

import json

import pytest

from boostbench import cli

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot")
    base = ["--scenario", "tiny", "--seeds", "2", "--rankers", "like_count,real_interaction",
            "--attacks", "bot_farm", "--quiet"]
    assert cli.main(["run", *base, "--json", str(d / "run.json"), "--trace",
                     str(d / "trace.csv")]) == 0
    assert cli.main(["cost", *base, "--cap", "1", "--json", str(d / "cost.json")]) == 0
    return d


def test_run_with_trace_gives_outcomes_and_trajectories(results, tmp_path, capsys):
    assert cli.main(["plot", str(results / "run.json"), "--trace", str(results / "trace.csv"),
                     "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outcomes.png", "trajectories.png"]
    assert all(p.read_bytes().startswith(PNG) for p in tmp_path.iterdir())
    assert "wrote" in capsys.readouterr().out


def test_cost_gives_robustness_and_pareto_and_the_files_are_deterministic(results, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for d in (a, b):
        assert cli.main(["plot", str(results / "cost.json"), "--out", str(d)]) == 0
    names = sorted(p.name for p in a.iterdir())
    assert names == ["pareto.png", "robustness.png"]
    for n in names:
        data = (a / n).read_bytes()
        assert data == (b / n).read_bytes() and b"Matplotlib" not in data


@pytest.mark.parametrize("args, needle", [
    (["{run}", "--out", "{missing}"], "--out:"),
    (["{bad}", "--out", "{tmp}"], "is not a boostbench result file"),
    (["{cost}", "--trace", "{trace}", "--out", "{tmp}"], "--trace goes with the JSON of a run"),
    (["{run}", "--trace", "{run}", "--out", "{tmp}"], "is not a boostbench trace"),
])
def test_bad_input_is_one_line_exit_2_and_no_file(args, needle, results, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"records": []}))
    out = tmp_path / "out"
    out.mkdir()
    subs = {"{run}": str(results / "run.json"), "{cost}": str(results / "cost.json"),
            "{trace}": str(results / "trace.csv"), "{bad}": str(bad),
            "{missing}": str(tmp_path / "nope"), "{tmp}": str(out)}
    assert cli.main(["plot", *[subs.get(x, x) for x in args]]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err
    assert list(out.iterdir()) == []


def test_plot_option_draws_after_the_run_and_is_checked_before_it(tmp_path, capsys, monkeypatch):
    from boostbench import runner
    figs = tmp_path / "figs"
    figs.mkdir()
    argv = ["sweep", "--scenario", "tiny", "--seeds", "2", "--rankers", "like_count",
            "--attacks", "bot_farm", "--budgets", "0,1", "--quiet"]
    assert cli.main([*argv, "--json", str(tmp_path / "s.json"), "--plot", str(figs)]) == 0
    assert [p.name for p in figs.iterdir()] == ["robustness.png"]

    def boom(*a, **k):
        raise AssertionError("work started before --plot was checked")
    monkeypatch.setattr(runner, "run_sweep", boom)
    capsys.readouterr()
    assert cli.main([*argv, "--plot", str(figs)]) == 2
    assert "--plot draws from the result file: give --json too" in capsys.readouterr().err
    assert cli.main([*argv, "--json", str(tmp_path / "t.json"), "--plot",
                     str(tmp_path / "nope")]) == 2
    assert "--plot:" in capsys.readouterr().err and not (tmp_path / "t.json").exists()
