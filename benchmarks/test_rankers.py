"""Ranker scoring speed against the physical floor (one ``np.bincount`` pass; DESIGN §5).

Two paths per registered ranker:

* ``fresh``: a new :class:`Observation` per round (built in ``setup``, untimed), so
  the per-observation aggregate cache is empty and the timed call pays for every
  aggregate the ranker needs: the honest cost of scoring a new observation.
* ``cached``: the cache is pre-filled with the history's aggregates, as the
  simulator passes it, so only the ranker's own work is timed.

``extra_info`` holds ``n_events``, ``floor_s`` (min-of-N bincount seconds) and
``floor_ratio_mean`` / ``floor_ratio_min`` (ranker time / floor time).
"""

from __future__ import annotations

import numpy as np
import pytest

import boostbench  # noqa: F401  (registers the built-ins)
from boostbench.plugins import RANKERS
from boostbench.rankers.base import with_oracle

from .conftest import record_floor_ratio, untrained_rankers

RANKER_NAMES = untrained_rankers()


def _ranker(name, world):
    """The registered ranker, with an ORACLE's truth bound as the simulator binds it."""
    return with_oracle(RANKERS.get(name)(), np.zeros(len(world.accounts), bool),
                       since=world.t0, quality=world.truth.quality)


def _check(scores, obs):
    assert scores.shape == (obs.n_items,)
    assert np.all(np.isfinite(scores[obs.eligible]))


def test_bincount_floor(benchmark, world, bincount_floor):
    """The floor itself, in the same table: one bincount over the history's item column."""
    item, n_items = world.history.item, len(world.items)
    out = benchmark(np.bincount, item, minlength=n_items)
    assert out.sum() == item.size
    record_floor_ratio(benchmark, bincount_floor, int(item.size))


@pytest.mark.parametrize("name", RANKER_NAMES)
def test_ranker_fresh_observation(benchmark, name, world, fresh_observation, bincount_floor):
    ranker = _ranker(name, world)
    box = {}

    def setup():
        box["obs"] = obs = fresh_observation()
        return (obs,), {}

    scores = benchmark.pedantic(ranker, setup=setup, rounds=8, warmup_rounds=1, iterations=1)
    obs = box["obs"]
    _check(scores, obs)
    record_floor_ratio(benchmark, bincount_floor, obs.n_events)
    benchmark.extra_info["path"] = "fresh"


@pytest.mark.parametrize("name", RANKER_NAMES)
def test_ranker_cached_observation(benchmark, name, world, cached_observation, bincount_floor):
    ranker = _ranker(name, world)
    box = {}

    def setup():
        box["obs"] = obs = cached_observation()
        return (obs,), {}

    scores = benchmark.pedantic(ranker, setup=setup, rounds=200, warmup_rounds=5, iterations=1)
    obs = box["obs"]
    _check(scores, obs)
    record_floor_ratio(benchmark, bincount_floor, obs.n_events, per_event=False)
    benchmark.extra_info["path"] = "cached"
    benchmark.extra_info["n_items"] = obs.n_items
