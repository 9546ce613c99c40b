"""Progress on stderr: only on a terminal, never in the tables, never in the results."""

import io
import json
from concurrent.futures import ProcessPoolExecutor

import pytest

from boostbench import cli, progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_wanted_only_on_a_terminal_and_not_quiet():
    assert progress.wanted(stream=_Tty())
    assert not progress.wanted(quiet=True, stream=_Tty())
    assert not progress.wanted(stream=io.StringIO())


def test_a_disabled_bar_is_none_and_draws_nothing():
    f = io.StringIO()
    with progress.bar(10, "cells", enabled=False, file=f) as tick:
        assert tick is None
    assert f.getvalue() == ""


def _work(tick, n):
    for _ in range(n):
        tick(1)
    return n


@pytest.mark.parametrize("processes", [False, True])
def test_ticks_reach_the_bar_from_this_process_and_from_workers(processes):
    f = _Tty()
    with progress.bar(6, "cells", enabled=True, processes=processes, file=f, leave=True) as tick:
        if processes:
            with ProcessPoolExecutor(2) as ex:
                assert sum(ex.map(_work, [tick, tick], [2, 4])) == 6
        else:
            _work(tick, 6)
    assert "6/6" in f.getvalue() and "cells" in f.getvalue()


def test_progress_goes_to_stderr_and_leaves_the_results_alone(tmp_path, capsys, monkeypatch):
    argv = ["run", "--scenario", "tiny", "--seeds", "2", "--rankers", "like_count",
            "--attacks", "bot_farm", "--jobs", "2"]
    quiet, drawn = tmp_path / "q.json", tmp_path / "d.json"
    assert cli.main([*argv, "--json", str(quiet)]) == 0
    out_quiet = capsys.readouterr()
    monkeypatch.setattr(progress, "wanted", lambda quiet=False, stream=None: not quiet)
    assert cli.main([*argv, "--json", str(drawn)]) == 0
    out_drawn = capsys.readouterr()
    assert "cells" in out_drawn.err and "cells" not in out_quiet.err
    def table(text):   # the stdout lines, but the elapsed time and the file written
        return [line for line in text.splitlines() if "(" not in line and "wrote" not in line]
    assert table(out_drawn.out) == table(out_quiet.out) and "like_count" in out_drawn.out
    recs = [json.loads(p.read_text())["records"] for p in (quiet, drawn)]
    assert recs[0] == recs[1]
    assert cli.main([*argv, "--quiet", "--json", str(drawn)]) == 0
    assert "cells" not in capsys.readouterr().err
