"""Session fixtures for the speed benchmarks (DESIGN §5).

Building a world, the replay base and the physical floor is *setup*: it happens
once per session here, never inside a timed call.

Every benchmark runs on the world ``run_seed(spec, 0)`` builds for the default
scenario (size "small", ~2.1M history events, ~1.06M organic window events), so
the ranker, replay and full-run numbers all describe the same data.
"""

from __future__ import annotations

import timeit

import numpy as np
import pytest

import boostbench  # noqa: F401  (registers the built-in rankers, attacks and metrics)
from boostbench.observation import AGGREGATES, Observation, aggregate, viewed_before
from boostbench.runner import seed_streams
from boostbench.scenario import get_scenario
from boostbench.simulate import RunBase
from boostbench.world import make_world

SEED = 0
MIN_EVENTS = 1_000_000
FLOOR_REPEATS = 30


@pytest.fixture(scope="session")
def scenario():
    return get_scenario("default")


@pytest.fixture(scope="session")
def world(scenario):
    """The default scenario's world for seed 0, drawn exactly as ``run_seed`` draws it."""
    world_rng, _ = seed_streams(SEED)
    w = make_world(scenario.world_config(), world_rng)
    assert len(w.history) >= MIN_EVENTS, "benchmark world is too small to be meaningful"
    return w


@pytest.fixture(scope="session")
def replay_base(world, scenario):
    """What every replay of seed 0 shares (organic window, targets, history aggregates)."""
    _, organic_rng = seed_streams(SEED)
    return scenario.run_base(world, organic_rng)


@pytest.fixture(scope="session")
def history_cache(world):
    """Unit-weight aggregates of the whole history, as the simulator pre-computes them."""
    _, acc, itm, kind, value = world.history.columns()
    n_items = len(world.items)
    vb = viewed_before(acc, itm, kind, n_items)
    vb.flags.writeable = False
    cache = {"viewed_before": vb}
    for name in AGGREGATES:
        a = aggregate(name, itm, kind, value, vb, None, n_items)
        a.flags.writeable = False
        cache[name] = a
    return cache


@pytest.fixture(scope="session")
def fresh_observation(world):
    """Factory of a new observation of the history with an empty aggregate cache."""
    def make():
        return Observation(world.items, world.accounts, world.history, world.t0)
    return make


@pytest.fixture(scope="session")
def cached_observation(world, history_cache):
    """Factory of a new observation whose aggregate cache is pre-filled (what replay passes)."""
    def make():
        return Observation(world.items, world.accounts, world.history, world.t0,
                           n=len(world.history), cache=history_cache)
    return make


@pytest.fixture(scope="session")
def bincount_floor(world):
    """The physical floor: one ``np.bincount`` pass over the history's item column.

    Min of ``FLOOR_REPEATS`` single calls (``timeit``), measured once per session.
    """
    item = world.history.item
    n_items = len(world.items)
    np.bincount(item, minlength=n_items)  # warm up
    times = timeit.repeat(lambda: np.bincount(item, minlength=n_items),
                          number=1, repeat=FLOOR_REPEATS)
    return {"n_events": int(item.size), "n_items": n_items, "floor_s": min(times),
            "floor_repeats": FLOOR_REPEATS}


def record_floor_ratio(benchmark, floor: dict, n_events: int, *, per_event: bool = True) -> None:
    """Put n_events, the floor and ranker_time / floor_time into ``benchmark.extra_info``.

    ``per_event=False`` leaves out ``events_per_s`` (for work that does not touch
    the events, e.g. scoring from a pre-filled cache). With ``--benchmark-disable``
    there are no stats; only n_events and the floor are recorded then.
    """
    info = benchmark.extra_info
    info["n_events"] = n_events
    info["floor_s"] = floor["floor_s"]
    stats = getattr(benchmark, "stats", None)
    if stats is None:
        return
    s = stats.stats
    info["floor_ratio_mean"] = s.mean / floor["floor_s"]
    info["floor_ratio_min"] = s.min / floor["floor_s"]
    if per_event:
        info["events_per_s"] = n_events / s.mean


def untrained_rankers() -> list[str]:
    """Registered rankers that score without training: the learned ones (a ``schedule``)
    retrain on a fresh run in seconds per round, so ``test_learned.py`` times their
    training and ordinary rounds apart and the per-ranker tables leave them out."""
    from boostbench.plugins import RANKERS
    return [n for n in RANKERS.names() if not hasattr(RANKERS.get(n)(), "schedule")]
