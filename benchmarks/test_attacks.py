"""Buying a campaign: the aged bots' everyday life before the window.

An ``aged_bots`` campaign mirrors each bot's template over the whole visible history
(~2.1M events on the default world) when it is bought, and the cost search buys many;
``extra_info`` holds the bots, the events written and the events per second of history read.
A fresh bot farm's buy (no history) is the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from boostbench.plugins import ATTACKS
from boostbench.runner import attack_stream

SEED = 0


@pytest.mark.parametrize("name,budget", [("aged_bots", 2.0), ("aged_bots", 16.0),
                                         ("bot_farm", 16.0)])
def test_buy(benchmark, replay_base, scenario, name, budget):
    base = replay_base
    obs = base.observation_at_start()
    attack = ATTACKS.create(name)
    window = (base.world.t0, base.world.t0 + scenario.attack_hours * 3600.0)

    def buy():
        return attack(obs, base.targets, budget, window, attack_stream(SEED, attack.name))

    c = benchmark.pedantic(buy, rounds=3, iterations=1)
    assert c.spend_total <= budget + 1e-9 and c.n_new_accounts > 0
    n_history = len(obs.events[0])
    benchmark.extra_info.update(accounts=c.n_new_accounts, events=c.n_events,
                                history_events=n_history)
    if benchmark.stats is not None:
        benchmark.extra_info["history_events_per_s"] = n_history / benchmark.stats.stats.min
    if name == "aged_bots":
        assert np.count_nonzero(c.t < base.world.t0) > 0
