"""A plug-in that fails while running is one line naming it, the call and the exception,
exit status 3 — never a traceback, never a silent success."""

import importlib
import textwrap

import pytest

from boostbench import cli

from helpers import USER_PLUGINS as USER


@pytest.fixture
def user(tmp_path, monkeypatch):
    (tmp_path / "user_plugins.py").write_text(textwrap.dedent(USER))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "user_plugins"


TINY = ["run", "--scenario", "tiny", "--seeds", "1", "--attacks", "bot_farm", "--quiet"]


@pytest.mark.parametrize("ranker, needle", [
    ("Raises", "ranker 'raises' failed while scoring the feed: RuntimeError: model file missing"),
    ("Exits", "ranker 'exits' failed while scoring the feed: SystemExit: 0"),
    ("Strings", "ranker 'strings' failed while scoring the feed: ValueError"),
])
def test_a_ranker_that_fails_is_exit_3_and_one_line(ranker, needle, user, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main([*TINY, "--rankers", f"{user}:{ranker}", "--json", str(out)]) == 3
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and not out.exists()


def test_debug_shows_the_traceback(user, capsys):
    assert cli.main(["--debug", *TINY, "--rankers", f"{user}:Raises"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "model file missing" in err.splitlines()[-1]


def test_a_factory_that_fails_cannot_be_loaded_exit_2(user, capsys):
    assert cli.main([*TINY, "--rankers", f"{user}:broken_factory"]) == 2
    err = capsys.readouterr().err.strip()
    assert "calling it without arguments failed with ImportError: no module named torch" in err
    assert "\n" not in err


def test_a_metric_that_fails_is_named(user, capsys, monkeypatch):
    from boostbench.metrics.base import metric
    from boostbench.plugins import METRICS
    monkeypatch.setattr(METRICS, "_items", dict(METRICS._items))
    metric("broken", greater_is_better=True, definition="fails")(
        importlib.import_module(user).broken_metric)
    assert cli.main([*TINY, "--rankers", "like_count"]) == 3
    assert "metric 'broken' failed while measuring a run: ZeroDivisionError" in \
        capsys.readouterr().err


def test_an_unpicklable_ranker_runs_in_this_process_and_says_why(user, tmp_path, capsys):
    args = ["run", "--scenario", "tiny", "--seeds", "2", "--attacks", "bot_farm", "--quiet",
            "--rankers", f"{user}:Unpicklable"]
    a, b = tmp_path / "two.json", tmp_path / "one.json"
    assert cli.main([*args, "--jobs", "2", "--json", str(a)]) == 0
    err = capsys.readouterr().err
    assert "ranker 'unpicklable' cannot be pickled (AttributeError" in err
    assert "running the 2 seeds in this process instead" in err
    assert cli.main([*args, "--jobs", "1", "--json", str(b)]) == 0
    import json
    assert json.loads(a.read_text())["records"] == json.loads(b.read_text())["records"]


def test_an_unpicklable_run_under_a_scheduler_runs_here_and_names_the_flag_that_matters(
        capsys, monkeypatch):
    """Under --scheduler the note names --scheduler (--jobs 1 silences nothing there), and
    the seeds run in this process without reaching for the cluster."""
    from boostbench import executors

    def no_cluster(*a, **k):
        raise AssertionError("an unpicklable run must not go to the cluster")
    monkeypatch.setattr(executors, "dask_client", no_cluster)
    local = lambda seed, tick=None: seed * 2           # noqa: E731 (a lambda: not picklable)
    assert executors.map_seeds(local, [1, 2], scheduler="tcp://nowhere:8786") == [2, 4]
    err = capsys.readouterr().err
    assert "cannot be sent to Dask workers" in err and "--scheduler" in err
    assert "--jobs 1 silences" not in err
    with executors.mapper(lambda x, memo: x + 1, scheduler="tcp://nowhere:8786") as run:
        assert run([(1,), (2,)]) == [2, 3]
    assert "cannot be sent to Dask workers" in capsys.readouterr().err
