"""Simulation speed (DESIGN §5: a round costs its new events, not the history).

* ``replay(base, ranker)`` and ``closed_loop(base, ranker)`` of the default scenario
  for each registered ranker, with window events per second in ``extra_info``;
* one full ``run_seed`` of the default comparison (closed loop, every ranker x every
  attack, each against its clean twin), timed once: it draws its own world, so it
  includes world generation.
"""

from __future__ import annotations

import pytest

import boostbench  # noqa: F401  (registers the built-ins)
from boostbench.attacks.base import CostModel
from boostbench.plugins import ATTACKS, RANKERS
from boostbench.runner import RunSpec, run_seed
from boostbench.simulate import closed_loop, replay

from .conftest import SEED, untrained_rankers


@pytest.mark.parametrize("name", untrained_rankers())
def test_replay_clean(benchmark, name, replay_base, scenario):
    ranker = RANKERS.get(name)()
    traj = benchmark.pedantic(replay, args=(replay_base, ranker), rounds=3, warmup_rounds=0,
                              iterations=1)
    assert traj.ranks.shape == (scenario.n_rounds, len(replay_base.world.items))
    n_window = len(replay_base.window)
    info = benchmark.extra_info
    info["n_window_events"] = n_window
    info["n_history_events"] = len(replay_base.world.history)
    info["n_rounds"] = scenario.n_rounds
    if benchmark.stats is not None:
        mean = benchmark.stats.stats.mean
        info["events_per_s"] = n_window / mean
        info["rounds_per_s"] = scenario.n_rounds / mean


@pytest.mark.parametrize("name", untrained_rankers())
def test_closed_loop_clean(benchmark, name, replay_base, scenario):
    ranker = RANKERS.get(name)()
    traj = benchmark.pedantic(closed_loop, args=(replay_base, ranker), rounds=1, warmup_rounds=0,
                              iterations=1)
    n_events = int(traj.exposure.sum())  # organic impressions; all events are about 1.45x this
    info = benchmark.extra_info
    info["n_organic_impressions"] = n_events
    info["n_rounds"] = scenario.n_rounds
    if benchmark.stats is not None:
        mean = benchmark.stats.stats.mean
        info["impressions_per_s"] = n_events / mean
        info["s_per_round"] = mean / scenario.n_rounds


def test_run_seed_default_comparison(benchmark, scenario, world, replay_base):
    rankers = tuple(RANKERS.get(n)() for n in untrained_rankers())
    attacks = tuple(ATTACKS.get(n)() for n in ATTACKS.names())
    spec = RunSpec(scenario, rankers, attacks, (SEED,), scenario.budget, CostModel())
    records, _ = benchmark.pedantic(run_seed, args=(spec, SEED), rounds=1, iterations=1)
    assert len(records) == len(rankers) * len(attacks)
    n_replays = len(rankers) * (1 + len(attacks))  # each ranker: a clean twin + one per attack
    info = benchmark.extra_info
    info["n_rankers"], info["n_attacks"], info["n_replays"] = len(rankers), len(attacks), n_replays
    if benchmark.stats is not None:
        mean = benchmark.stats.stats.mean
        info["s_per_replay"] = mean / n_replays
        info["s_per_run"] = mean / n_replays
