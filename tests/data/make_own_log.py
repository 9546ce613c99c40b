"""Make ``own_log.csv``: a small recorded-log example in a team's own column names.

A clean world of 60 accounts (the ``tiny`` preset's shape) over 72 hours — its organic
history and the organic events of the following day — written as a platform might log it:
string ids, ISO 8601 times, its own column and kind spellings kept to boostbench's kinds,
impressions left out (a log of acts and views), and the per-item / per-account columns a
team may have (author, a rater's quality score, sign-up time, device).

    python tests/data/make_own_log.py      # rewrites tests/data/own_log.csv
"""

import csv
from pathlib import Path

import numpy as np

from boostbench.events import EventKind
from boostbench.history import organic_events
from boostbench.world import make_world, world_config

EPOCH = np.datetime64("2026-01-05T00:00:00", "ms")
COLUMNS = ("ts", "user_id", "video_id", "action", "watch_ratio", "author_id", "quality_score",
           "signup", "device_id")


def iso(seconds) -> str:
    return str(EPOCH + np.timedelta64(int(round(float(seconds) * 1000)), "ms"))


def main(path=Path(__file__).with_name("own_log.csv")) -> None:
    config = world_config("tiny", n_accounts=60, history_hours=48, future_hours=24)
    world = make_world(config, np.random.default_rng(7))
    window = organic_events(world, world.t0, config.t_end, np.random.default_rng(8))
    cols = [np.concatenate([a, b]) for a, b in zip(world.history.columns(), window.columns())]
    t, acc, itm, kind, val = cols
    keep = kind != EventKind.IMPRESSION
    names = {int(k): k.name.lower() for k in EventKind}
    creator = world.items.creator
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for a, b, c, d, e in zip(t[keep], acc[keep], itm[keep], kind[keep], val[keep]):
            w.writerow((iso(a), f"u{b:04d}", f"v{c:04d}", names[int(d)], f"{e:.4g}",
                        f"u{creator[c]:04d}", f"{world.truth.quality[c]:.3f}",
                        iso(max(world.accounts.created_at[b], -3.0e7)),
                        f"d{world.accounts.device[b]}"))


if __name__ == "__main__":
    main()
