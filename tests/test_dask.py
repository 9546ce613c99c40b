"""Matrices on a Dask cluster give the same records, byte for byte, as the serial run."""

import json
import sys

import pytest

from boostbench import cli

distributed = pytest.importorskip("distributed")

BASE = ["--scenario", "tiny", "--seeds", "3", "--rankers", "like_count,real_interaction+lockstep",
        "--attacks", "bot_farm,task_crowd", "--quiet"]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=50) as c:
        yield c


def _records(path):
    return json.dumps(json.loads(path.read_text())["records"], sort_keys=True)


@pytest.mark.parametrize("command, extra", [
    ("run", []), pytest.param("sweep", ["--budgets", "0,1"], marks=pytest.mark.slow)])
def test_dask_records_equal_the_serial_run_byte_for_byte(command, extra, cluster, tmp_path,
                                                         capsys):
    serial, dask = tmp_path / "serial.json", tmp_path / "dask.json"
    assert cli.main([command, *BASE, *extra, "--jobs", "1", "--json", str(serial)]) == 0
    assert cli.main([command, *BASE, *extra, "--scheduler", cluster.scheduler_address,
                     "--json", str(dask)]) == 0
    assert _records(dask) == _records(serial)
    ex = json.loads(dask.read_text())["manifest"]["executor"]
    assert ex["kind"] == "dask" and len(ex["workers"]) == 2
    assert {w["numpy"] for w in ex["workers"].values()} == {ex["client"]["numpy"]}
    assert json.loads(serial.read_text())["manifest"]["executor"] == {"kind": "local", "jobs": 1}


@pytest.mark.slow
def test_check_runs_on_dask_too(cluster, tmp_path, capsys):
    b = tmp_path / "b.json"
    assert cli.main(["baseline", *BASE, "--out", str(b), "--scheduler",
                     cluster.scheduler_address]) == 0
    assert cli.main(["check", "--baseline", str(b), "--quiet", "--scheduler",
                     cluster.scheduler_address]) == 0
    assert "PASS" in capsys.readouterr().out


def test_an_unreachable_scheduler_is_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    from boostbench import executors, runner

    def boom(*a, **k):
        raise AssertionError("work started before the scheduler was reached")
    monkeypatch.setattr(runner, "map_seeds", boom)
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "1s")
    out = tmp_path / "r.json"
    assert cli.main(["run", *BASE, "--scheduler", "tcp://127.0.0.1:9", "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--scheduler: cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'" in err
    assert "\n" not in err and not out.exists()


def test_without_dask_the_option_says_how_to_install_it(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert cli.main(["run", *BASE, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert 'pip install "boostbench[dask]"' in capsys.readouterr().err
