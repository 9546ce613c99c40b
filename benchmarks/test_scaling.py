"""How the closed loop scales with the world (DESIGN §5), each size in a fresh process.

Sizes (accounts x items x one-hour rounds, "small" preset otherwise):

* 10,000 x 10,000 x 100, 96 hours of organic history (target: loop < 5 s on 2 cores);
* 100,000 x 20,000 x 100 (``slow``, opt-in with ``-m slow``; target < 60 s on 2 cores)
  with 24 hours of history: ``make_world`` alone cannot draw the preset's 96 hours for
  100,000 accounts (~190M history events) in 20 GB (it peaks near 6 GB at 20,000
  accounts and failed under a 19 GB cap at 100,000); a round's cost does not depend
  on the history anyway.
* 1,000,000 x 100,000 x 50 (``slow``; target < 5 min and 12 GB) with 2 hours of
  history. At the calibrated activity a round adds ~23M events, so 50 rounds log
  ~1.15 billion events: at least ~28 bytes each (21 in the log, 2 of flags, ~5 in
  the pair-key sets), ~32 GB. The test skips, saying so, where that lower bound
  exceeds the memory available; ``BOOSTBENCH_SCALE_1M_ROUNDS`` runs fewer rounds
  (e.g. 3, to measure a round: ``benchmarks/_scaling_run.py 1000000 100000 3
  --history-hours 2`` by hand).

Each measurement runs ``benchmarks/_scaling_run.py`` in a subprocess, so peak memory
(``ru_maxrss``) belongs to that size alone. The timed value is the whole subprocess
(drawing the world, building the run base, the loop); the loop alone and the rest
are in ``extra_info``: ``loop_s``, ``s_per_round``, ``events_per_s``, ``world_s``,
``base_s``, ``n_loop_events``, ``n_history_events``, ``peak_rss_mb`` (whole process),
``peak_rss_setup_mb`` (before the loop), ``rss_before_loop_mb``, ``peak_rss_loop_mb``
(during the loop).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).with_name("_scaling_run.py")
ROOT = Path(__file__).resolve().parents[1]


def _measure(n_accounts: int, n_items: int, n_rounds: int, *extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run([sys.executable, str(RUNNER), str(n_accounts), str(n_items),
                           str(n_rounds), *extra], capture_output=True, text=True, env=env,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scaling run failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _bench(benchmark, n_accounts, n_items, n_rounds, *extra):
    box = {}

    def run():
        box["out"] = _measure(n_accounts, n_items, n_rounds, *extra)

    benchmark.pedantic(run, rounds=1, warmup_rounds=0, iterations=1)
    out = box["out"]
    benchmark.extra_info.update(out)
    assert out["n_loop_events"] > 0
    return out


def test_scaling_10k_accounts_10k_items_100_rounds(benchmark):
    _bench(benchmark, 10_000, 10_000, 100)


@pytest.mark.slow
def test_scaling_100k_accounts_20k_items_100_rounds(benchmark):
    _bench(benchmark, 100_000, 20_000, 100, "--history-hours", "24")


EVENTS_PER_ACCOUNT_HOUR = 23   # measured: 69.2M loop events, 1M accounts, 3 rounds
BYTES_PER_EVENT = 28           # lower bound: log 21, flags 2, pair-key sets ~5


def _available_bytes() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024.0
    except OSError:
        pass
    return float("inf")


@pytest.mark.slow
def test_scaling_1m_accounts_100k_items_50_rounds(benchmark):
    rounds = int(os.environ.get("BOOSTBENCH_SCALE_1M_ROUNDS", "50"))
    need = EVENTS_PER_ACCOUNT_HOUR * 1_000_000 * rounds * BYTES_PER_EVENT
    if need > _available_bytes():
        pytest.skip(f"1M accounts x {rounds} rounds logs ~{need / 2**30:.0f} GiB of events at "
                    f"least; {_available_bytes() / 2**30:.0f} GiB are available "
                    "(BOOSTBENCH_SCALE_1M_ROUNDS=3 measures a few rounds)")
    _bench(benchmark, 1_000_000, 100_000, rounds, "--history-hours", "2")
