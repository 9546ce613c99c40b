"""Learned rankers: a retraining round against an ordinary round and against the loop.

On the default world at ``t0`` (seed 0):

* ``test_training[...]``: one training (what a retraining round adds: the pXtr heads'
  snapshots and L-BFGS fits, or WRMF's ALS), timed on a fresh run each time;
* ``test_ordinary_round[...]``: scoring with the trained model (features and
  predictions, or WRMF's fold-in of today's item factors), what every other round costs.

``extra_info``: ``loop_round_s`` (the median of three clean ``like_count`` rounds of
the closed loop, measured once, untimed), ``ratio_to_loop_round`` (this call's mean /
that), and for a training ``retrain_every_h`` (how many rounds share its cost).
"""

from __future__ import annotations

import timeit

import numpy as np
import pytest

import boostbench  # noqa: F401  (registers the built-ins)
from boostbench.observation import Observation
from boostbench.rankers import build_ranker
from boostbench.simulate import closed_loop_rounds

LEARNED = ("learned_pxtr", "wrmf")


@pytest.fixture(scope="module")
def loop_round_s(replay_base):
    run = closed_loop_rounds(replay_base, build_ranker("like_count"))
    next(run)                                  # warm up (compiled kernels, first plans)
    return float(np.median(timeit.repeat(lambda: next(run), number=1, repeat=3)))


def _record(benchmark, loop_round_s, ranker):
    info = benchmark.extra_info
    info["loop_round_s"] = loop_round_s
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        info["ratio_to_loop_round"] = stats.stats.mean / loop_round_s
    if ranker.schedule.retrain_every is not None:
        info["retrain_every_h"] = ranker.schedule.retrain_every


def _fit(ranker):
    return getattr(ranker, "fit", None) or ranker._fit


@pytest.mark.parametrize("name", LEARNED)
def test_training(benchmark, name, replay_base, loop_round_s):
    ranker = build_ranker(name)
    obs = replay_base.observation_at_start()
    model = benchmark.pedantic(_fit(ranker), args=(obs, obs.now), rounds=3, iterations=1)
    assert model is not None
    _record(benchmark, loop_round_s, ranker)


@pytest.mark.parametrize("name", LEARNED)
def test_ordinary_round(benchmark, name, world, history_cache, loop_round_s):
    ranker = build_ranker(name)

    def at(minutes):
        """The history seen ``minutes`` after t0, aggregates pre-filled as the loop passes
        them (a new ``now`` each time, so nothing of the previous call is reused)."""
        return Observation(world.items, world.accounts, world.history, world.t0 + 60 * minutes,
                           n=len(world.history), cache=history_cache)

    ranker(at(0))                                   # trains once, outside the timing
    box = {"minute": 0}

    def setup():
        box["minute"] += 1
        box["obs"] = obs = at(box["minute"])
        return (obs,), {}

    scores = benchmark.pedantic(ranker, setup=setup, rounds=8, iterations=1)
    assert np.all(np.isfinite(scores[box["obs"].eligible]))
    _record(benchmark, loop_round_s, ranker)
