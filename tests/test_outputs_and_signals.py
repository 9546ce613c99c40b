"""Result files are written together or not at all, never through a link or into a special
file; a write failure, Ctrl-C or SIGTERM is one line, a distinct exit status and no file."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from boostbench import cli, report

TINY = ["run", "--scenario", "tiny", "--seeds", "1", "--rankers", "like_count", "--attacks",
        "bot_farm", "--quiet"]


def _one_line(capsys):
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_a_symlink_or_a_fifo_is_refused_before_the_run(tmp_path, capsys, monkeypatch):
    from boostbench import runner

    def boom(*a, **k):
        raise AssertionError("the run started before the output path was checked")
    monkeypatch.setattr(cli, "run_matrix", boom)
    monkeypatch.setattr(runner, "run_matrix", boom)
    target = tmp_path / "target.json"
    target.write_text("keep me")
    (tmp_path / "link.json").symlink_to(target)
    assert cli.main([*TINY, "--json", str(tmp_path / "link.json")]) == 2
    assert "is a symbolic link" in _one_line(capsys) and target.read_text() == "keep me"
    os.mkfifo(tmp_path / "fifo")
    assert cli.main([*TINY, "--trace", str(tmp_path / "fifo")]) == 2
    assert "exists and is not a regular file" in _one_line(capsys)


def test_json_and_trace_land_together_or_not_at_all(tmp_path, capsys, monkeypatch):
    def broken(rows):
        def write(f):
            raise OSError(28, "No space left on device")
        return write
    monkeypatch.setattr(cli, "csv_writer", broken)
    js, tr = tmp_path / "r.json", tmp_path / "t.csv"
    assert cli.main([*TINY, "--json", str(js), "--trace", str(tr)]) == 2
    err = _one_line(capsys)
    assert "cannot write" in err and "No space left on device" in err
    assert list(tmp_path.iterdir()) == []          # no JSON, no trace, no temporary file


def test_a_failed_flush_to_disk_writes_nothing(tmp_path, capsys, monkeypatch):
    def no_space(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(report.os, "fsync", no_space)
    assert cli.main([*TINY, "--json", str(tmp_path / "r.json")]) == 2
    assert "No space left on device" in _one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_is_one_line_and_status_130(capsys, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "run_matrix", interrupted)
    assert cli.main(TINY) == cli.EXIT_INTERRUPTED == 130
    assert _one_line(capsys) == "boostbench: interrupted (Ctrl-C)."


@pytest.mark.parametrize("sig, status, words", [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                               (signal.SIGINT, 130, "interrupted (Ctrl-C)")])
def test_a_signal_mid_run_stops_the_workers_and_leaves_no_file(sig, status, words, tmp_path):
    """A real process with two workers, signalled as a terminal or a job scheduler would
    (the whole process group), while it simulates."""
    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "boostbench", "run", "--scenario", "default", "--seeds", "2",
         "--jobs", "2", "--json", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
        # a background job of a non-interactive shell starts with SIGINT ignored, and a child
        # would inherit that: start it with the default, as a terminal's command gets
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # signalled once its two workers exist (the handlers are set before they fork): a fixed
    # sleep raced the interpreter's start-up on a loaded machine (killed before the handlers)
    deadline = time.monotonic() + 120.0
    while len(_processes_writing(out)) < 3 and proc.poll() is None:
        assert time.monotonic() < deadline, "the run never started its two workers"
        time.sleep(0.1)
    assert proc.poll() is None
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status
    assert err.strip() == f"boostbench: {words}.", err
    assert _processes_writing(out) == []           # the workers were stopped, none lingers
    assert list(tmp_path.iterdir()) == []


def _processes_writing(out) -> list:
    """Processes whose command line names ``out`` (the run and its forked workers)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(out).encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found
