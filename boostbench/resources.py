"""What a run will need, estimated before any world is built, and the limit it must fit.

A run's memory is its event log — the world's history and window, plus the largest
campaign it buys — and the per-round trajectories of every ranker x attack cell of a
seed (three float32 [round, item] arrays each), held once per worker process. Measured
on the default world with one worker: 677 MB for one cell, 1.73 GB for the default
run's 32 (estimates 0.79 and 1.89 GB): about 170 bytes per event and 150 MB for the
interpreter, its libraries and the compiled kernels. :func:`estimate` turns a :class:`~boostbench.runner.RunSpec`
into those numbers from the world's configuration and the budget alone;
:func:`check_fits` refuses a run whose estimate exceeds the limit, with the estimate
and the options that change it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

from .errors import InvalidParameter

__all__ = ["Estimate", "estimate", "check_fits", "default_limit_gb", "BYTES_PER_EVENT"]

#: Measured peak resident bytes per event of a run's log (default world, one worker).
BYTES_PER_EVENT = 170
#: The interpreter, numpy, scipy and the compiled kernels.
BASE_BYTES = 150e6
#: Per cell besides its trajectory arrays (records, defence records).
CELL_BYTES = 2e6
#: Events per organic impression (views, acts, links: the closed loop's own allowance).
EVENTS_PER_IMPRESSION = 1.45
#: A paid action brings at most its impression with it.
EVENTS_PER_PAID_ACTION = 2


@dataclass(frozen=True)
class Estimate:
    """Events of one run (organic world, largest campaign), cells per seed, worker
    processes, and the peak memory of the whole run in bytes."""

    organic_events: float
    campaign_events: float
    cells_per_seed: int
    workers: int
    peak_bytes: float

    def describe(self) -> str:
        return (f"about {self.peak_bytes / 1e9:.1f} GB ({_m(self.organic_events)} organic "
                f"events and up to {_m(self.campaign_events)} campaign events per run, "
                f"{self.cells_per_seed} cells per seed, {self.workers} worker process"
                f"{'es' if self.workers != 1 else ''})")


def _m(x: float) -> str:
    return f"{x / 1e6:.1f}M" if x >= 1e5 else f"{x:,.0f}"


def organic_events(config, hours: float) -> float:
    """Expected organic events of a world over ``hours``: accounts x mean impressions a
    day (log-normal: median x exp(sigma^2 / 2)) x stickiness x events per impression
    (6% over on the default world; an upper bound, x2.2, on ``tiny``, whose accounts
    run out of live posts to see)."""
    per_day = (config.n_accounts * config.impressions_median
               * math.exp(config.impressions_sigma ** 2 / 2) * config.stickiness)
    return per_day * EVENTS_PER_IMPRESSION * hours / 24.0


def estimate(spec, workers: int, budget: float | None = None, cached_seeds: int = 0,
             tasks: int | None = None) -> Estimate:
    """The :class:`Estimate` of ``spec`` run on ``workers`` processes (one task each, a
    world per task; ``tasks``: how many, default one per seed), its largest campaign
    bought at ``budget`` (default the spec's). ``cached_seeds``: seeds' worlds a worker
    keeps besides the one it runs (an attacker search's workers keep every search and
    held-out seed's world for the whole search), each its history's events — measured
    220–290 MB per kept seed on the default world, estimated 376 MB."""
    sc = spec.scenario
    config = sc.world_config()
    organic = organic_events(config, config.history_hours + sc.horizon_hours)
    n_items = config.n_items
    log = getattr(spec, "log", None)
    if log is not None:                  # a recorded log is the world: its own size
        organic, n_items = float(log.source["events"]), int(log.item_ids.size)
    prices = [getattr(spec.cost, f.name) for f in fields(spec.cost)
              if isinstance(getattr(spec.cost, f.name), float) and getattr(spec.cost, f.name) > 0]
    budget = spec.budget if budget is None else float(budget)
    campaign = EVENTS_PER_PAID_ACTION * budget / min(prices) if prices else 0.0
    cells = len(spec.rankers) * (len(spec.attacks) + 1)
    trajectory = 3 * 4 * sc.n_rounds * n_items
    workers = max(1, min(int(workers), len(spec.seeds) if tasks is None else int(tasks)))
    kept = 0.0 if log is not None else organic_events(config, config.history_hours)
    per_worker = (BASE_BYTES + BYTES_PER_EVENT * (organic + campaign + cached_seeds * kept)
                  + (CELL_BYTES + trajectory) * cells)
    return Estimate(organic, campaign, cells, workers, workers * per_worker)


def default_limit_gb() -> float:
    """80% of this machine's physical memory, in GB (16 GB where it cannot be read)."""
    try:
        return 0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (AttributeError, ValueError, OSError):
        return 16.0


def check_fits(est: Estimate, limit_gb: float) -> None:
    """Raise :class:`InvalidParameter` (naming ``max_memory``) when ``est`` needs more than
    ``limit_gb``, saying what it needs and what to change."""
    if est.peak_bytes > limit_gb * 1e9:
        raise InvalidParameter(
            f"this run needs {est.describe()}, more than the limit of {limit_gb:.1f} GB. Use "
            "fewer --jobs, a smaller --size or --budget, or raise --max-memory (GB; default "
            "80% of this machine's memory) if you know better.", name="max_memory")
