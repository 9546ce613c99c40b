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


#: A user's plug-in module (the source), rankers and a metric that fail in every way a
#: plug-in can: written to a folder on sys.path by the plug-in failure and red-team tests.
USER_PLUGINS = '''
import numpy as np


class Raises:
    name = "raises"

    def __call__(self, obs):
        raise RuntimeError("model file missing")


class Exits:
    name = "exits"

    def __call__(self, obs):
        raise SystemExit(0)


class Strings:
    name = "strings"

    def __call__(self, obs):
        return np.array(["a"] * obs.n_items)


class Complex:
    name = "complex"

    def __call__(self, obs):
        return np.ones(obs.n_items) * (1 + 2j)


class Unpicklable:
    """Holds a lambda: fine in this process, cannot be sent to a worker process."""

    def __init__(self):
        self.name = "unpicklable"
        self.score = lambda obs: obs.count(2).copy()

    def __call__(self, obs):
        return self.score(obs)


def broken_factory():
    raise ImportError("no module named torch")


def broken_metric(att, clean, truth):
    raise ZeroDivisionError("division by zero")
'''
