"""Small hand-made observations for unit tests."""

import numpy as np

from boostbench.events import EventLog
from boostbench.observation import Observation
from boostbench.plugins import ATTACKS
from boostbench.world import Accounts, Items
from boostbench._core.units import HOUR


def make_obs(events, n_items=3, n_accounts=5, now=10 * HOUR, created=None, duration=10.0):
    """``events``: list of (t, account, item, kind, value)."""
    created = np.zeros(n_items) if created is None else np.asarray(created, float)
    items = Items(created, np.zeros(n_items, np.int32), np.zeros(n_items, np.int16),
                  np.full(n_items, duration, np.float32))
    accounts = Accounts(np.full(n_accounts, -100 * HOUR), np.arange(n_accounts, dtype=np.int32),
                        np.zeros(n_accounts, np.int16))
    if events:
        cols = [np.asarray(c) for c in zip(*events)]
        log = EventLog.from_arrays(*cols)
    else:
        log = EventLog()
    return Observation(items, accounts, log, now)


def make_campaign(base, name, budget, seed=0):
    """The registered attack ``name`` with its defaults, bought against ``base``'s targets."""
    obs = base.observation_at_start()
    t0 = base.world.t0
    return ATTACKS.get(name)()(obs, base.targets, budget,
                               base.plan.attack_window,
                               np.random.default_rng(seed))
