"""One scaling measurement in a fresh process (see ``test_scaling.py``); prints one JSON line.

    python benchmarks/_scaling_run.py N_ACCOUNTS N_ITEMS N_ROUNDS [--seed S] [--ranker NAME]
                                      [--history-hours H]

Draws a world of the "small" preset with ``n_accounts`` and about ``n_items`` items (the
posting rate set to give that many; history and calibration of the preset, a future
long enough for the rounds), builds the run base,
runs one clean closed loop and reports the time of each stage, the events the loop
appended, and memory: ``peak_rss_mb`` is the process's peak resident set
(``ru_maxrss``) over everything, ``peak_rss_setup_mb`` the peak before the loop,
``rss_before_loop_mb`` what was resident when the loop started and
``peak_rss_loop_mb`` the peak during the loop (Linux: the peak is reset before it).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path


def _rss_now_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            import os
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def _peak_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def _reset_peak() -> bool:
    """Reset the peak resident set to the current one (Linux >= 4.0), so the next
    reading is the peak of what follows; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _hwm_mb() -> float:
    """Peak resident set since the last reset (``VmHWM``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("n_accounts", type=int)
    p.add_argument("n_items", type=int)
    p.add_argument("n_rounds", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ranker", default="like_count")
    p.add_argument("--history-hours", type=int, default=None,
                   help="organic history before the loop (default: the preset's, 96)")
    a = p.parse_args(argv)

    root = str(Path(__file__).resolve().parents[1])  # this checkout's boostbench first
    if root not in sys.path:
        sys.path.insert(0, root)
    import boostbench  # noqa: F401  (registers the built-ins)
    from boostbench.plugins import RANKERS
    from boostbench.runner import seed_streams
    from boostbench.scenario import Scenario
    from boostbench.simulate import RunBase, closed_loop_rounds
    from boostbench.world import make_world, world_config

    sizes = dict(n_accounts=a.n_accounts, future_hours=a.n_rounds)
    if a.history_hours is not None:
        sizes["history_hours"] = a.history_hours
    config = world_config("small", **sizes)
    # the posting rate that gives n_items over the timeline
    days = (config.history_hours + config.future_hours) / 24.0
    config = replace(config, accounts_per_new_item=config.daily_active * days / a.n_items)
    out = dict(n_accounts=a.n_accounts, n_items=a.n_items, n_rounds=a.n_rounds, seed=a.seed,
               ranker=a.ranker, history_hours=config.history_hours)
    world_rng, organic_rng = seed_streams(a.seed)
    t = time.perf_counter()
    world = make_world(config, world_rng)
    out["world_s"] = time.perf_counter() - t
    out["n_history_events"] = len(world.history)
    sc = Scenario(name=f"scale-{a.n_accounts}x{a.n_items}", size="small",
                  attack_hours=min(24, a.n_rounds), horizon_hours=a.n_rounds)
    t = time.perf_counter()
    base = sc.run_base(world, organic_rng)
    out["base_s"] = time.perf_counter() - t
    out["peak_rss_setup_mb"] = _peak_mb()
    out["rss_before_loop_mb"] = _rss_now_mb()
    loop_peak_known = _reset_peak()

    ranker = RANKERS.get(a.ranker)()
    n_events, t = 0, time.perf_counter()
    run = closed_loop_rounds(base, ranker)
    try:
        while True:
            n_events += next(run).n_events
    except StopIteration as done:
        traj = done.value
    out["loop_s"] = time.perf_counter() - t
    out["peak_rss_loop_mb"] = _hwm_mb() if loop_peak_known else float("nan")
    out["peak_rss_mb"] = max(out["peak_rss_setup_mb"], _peak_mb())
    out["n_loop_events"] = n_events
    out["n_impressions"] = int(traj.exposure.sum())
    out["s_per_round"] = out["loop_s"] / a.n_rounds
    out["events_per_s"] = n_events / out["loop_s"]
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
