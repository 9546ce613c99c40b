"""An online-reactive attacker: reads the public counts every round and tops up.

Knowledge ``adaptive`` in its online form: the attacker sees what any
user sees — the displayed like counts — never the ranker's code. Each round of
the attack window it buys just enough bot likes to bring every target to a
multiple of the k-th highest like count among the items posted in the last
``eligibility_hours``, until the budget is spent. Against a like-count ranker
that is the cheapest way to hold the top k; against a rate-based ranker it pays
for nothing it could not have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._core.params import Interval, declare
from ..events import EventKind as K
from ..plugins import ATTACKS
from .._core.units import HOUR
from ..world import Origin
from .base import Campaign, CostModel, check_attack_args, empty_campaign
from .compose import new_accounts

__all__ = ["TopUp"]


@ATTACKS.register("top_up")
@dataclass(frozen=True)
@declare(k=Interval(int, 1, None), margin=Interval(float, 1.0, None),
         eligibility_hours=Interval(float, 0.0, None, closed="neither"),
         short_seconds=Interval(float, 0.0, None), accounts_per_device=Interval(int, 1, None))
class TopUp:
    """Online-reactive bot likes: each round, top each target up to the visible top-k like count.

    Parameters
    ----------
    k : int
        The feed length the attacker aims at (reads the k-th highest displayed count).
    margin : float
        Target count = ``margin`` x the k-th highest count (ties are not enough).
    eligibility_hours : float
        Items the attacker compares against: posted within this many hours (72, the
        default feed's eligibility; an assumption about what the attacker infers).
    short_seconds : float
        Dwell of the bot view before each like (bought as ``view_bot``).
    """

    k: int = 10
    margin: float = 1.2
    eligibility_hours: float = 72.0
    short_seconds: float = 2.0
    accounts_per_device: int = 20
    name: str = "top_up"
    goal: str = "promote"
    knowledge: str = "adaptive"
    closed_loop_only: bool = True

    def __call__(self, obs, targets, budget, window, rng, cost: CostModel = CostModel()
                 ) -> Campaign:
        targets, budget, (start, end) = check_attack_args(obs, targets, budget, window)
        bundle = cost.view_bot + cost.like_bot
        n_pool = int(np.floor(budget / bundle * (1 + 1e-12)))   # likes one target could get
        if n_pool == 0:
            return empty_campaign(self.name, budget, targets)
        key = int(np.random.default_rng(rng).integers(0, 2**62))
        first = obs.n_accounts                  # the pool's global ids: first .. first+n_pool-1
        created, device, topic = new_accounts(obs, key, n_pool, start, (0.0, 3.0),  # fresh
                                              self.accounts_per_device)
        policy = _TopUpPolicy(self, targets, budget, start, end, first, n_pool,
                              cost.view_bot, cost.like_bot)
        return Campaign(attack=self.name, budget=budget, targets=targets, new_created_at=created,
                        new_device=device, new_topic=topic,
                        new_origin=np.full(n_pool, Origin.BOT, np.int8),
                        recruited_origin=int(Origin.BOT), policy=policy, goal=self.goal)


@dataclass(frozen=True)
class _TopUpPolicy:
    """The per-round decision of :class:`TopUp`; stateless (reads what it bought from ``obs``)."""

    attack: TopUp
    targets: np.ndarray
    budget: float
    start: float
    end: float
    first: int
    n_pool: int
    view_price: float
    like_price: float

    def __call__(self, obs, start, end, accounts=None):
        """This round's events and spend; ``accounts``: the rows the simulator placed the
        pool's accounts on (default: numbered after the observed table)."""
        empty = (np.empty(0),) * 5, {}
        if not (self.start <= start < self.end):
            return empty
        rows = (self.first + np.arange(self.n_pool) if accounts is None
                else np.asarray(accounts, np.int64))
        t, acc, item, kind, _ = obs.events
        is_mine = np.zeros(max(obs.n_accounts, int(rows.max()) + 1), bool)
        is_mine[rows] = True
        mine = is_mine[acc]
        bought = np.bincount(item[mine & (kind == K.LIKE)], minlength=obs.n_items)[self.targets]
        spent = (mine & (kind == K.VIEW)).sum() * self.view_price + \
            (mine & (kind == K.LIKE)).sum() * self.like_price
        likes = obs.count(K.LIKE)
        c = obs.items.created_at
        recent = (c <= obs.now) & (c > obs.now - self.attack.eligibility_hours * HOUR)
        counts = np.sort(likes[recent])[::-1]
        kth = counts[min(self.attack.k, counts.size) - 1] if counts.size else 0.0
        goal = np.ceil(self.attack.margin * max(kth, 1.0))
        need = np.maximum(goal - likes[self.targets], 0).astype(np.int64)
        need = np.minimum(need, self.n_pool - bought)          # one like per account and target
        need[~(c[self.targets] <= obs.now)] = 0                # a post not up yet: nothing to like
        bundle = self.view_price + self.like_price
        afford = int(np.floor((self.budget - spent) / bundle * (1 + 1e-9)))
        if afford <= 0 or need.sum() == 0:
            return empty
        # spend in target order, the first target's need first (a deterministic prefix)
        cum = np.cumsum(need)
        need = np.diff(np.minimum(cum, afford), prepend=0)
        tgt = np.repeat(self.targets, need)
        slot = np.concatenate([np.arange(b, b + n) for b, n in zip(bought, need)]) \
            if tgt.size else np.empty(0, np.int64)
        accounts = rows[slot]
        n = tgt.size
        t_view = start + 60.0 + (end - start) * 0.5 * np.arange(n) / n   # in the round's 1st half
        t_like = t_view + self.attack.short_seconds
        completion = np.minimum(self.attack.short_seconds / obs.items.duration[tgt], 1.0)
        cols = (np.concatenate([t_view, t_view, t_like]),           # opening the post shows it
                np.concatenate([accounts, accounts, accounts]), np.concatenate([tgt, tgt, tgt]),
                np.concatenate([np.full(n, K.IMPRESSION), np.full(n, K.VIEW),
                                np.full(n, K.LIKE)]),
                np.concatenate([np.zeros(n), completion, np.zeros(n)]))
        return cols, {"view_bot": n * self.view_price, "like_bot": n * self.like_price}
