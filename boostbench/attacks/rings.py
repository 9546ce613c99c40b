"""Mutual-like rings (互赞群): real accounts that like each other's posts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import check_real
from ..observation import Observation
from ..plugins import ATTACKS
from ..world import HOUR, Origin
from .base import CostModel, Campaign, check_attack_args, empty_campaign, pair_view_like, split_budget

__all__ = ["MutualLikeRing"]


@ATTACKS.register("mutual_like_ring")
@dataclass(frozen=True)
class MutualLikeRing:
    """A ring of real creators formed around the targets' creators.

    Members are the targets' creators plus other organic accounts that have
    posted (public). Every member watches and likes every target (real people:
    completion ~ Beta(5, 2) [?], a lognormal delay with median ``delay_hours``
    after the post [?]); in return each target's creator likes the newest post of
    each member who liked it (reciprocity, the ring's currency).

    Rings pay in reciprocity, not money. For money tables the likes the targets
    receive are shadow-priced at the paid crowd-task price (CALIBRATION.md), so a
    budget of B buys ``B / crowd_task`` likes split across targets;
    ``Campaign.shadow_priced`` is True.
    """

    delay_hours: float = 2.0
    name: str = "mutual_like_ring"

    def __post_init__(self):
        check_real("delay_hours", self.delay_hours, low=0.0, low_open=True, where="MutualLikeRing")

    def __call__(self, obs: Observation, targets, budget, window, rng,
                 cost: CostModel = CostModel()) -> Campaign:
        targets, budget, (start, _) = check_attack_args(obs, targets, budget, window)
        per_target = split_budget(budget, targets.size, cost.crowd_task)
        if per_target == 0:
            return empty_campaign(self.name, budget, targets)
        rng = np.random.default_rng(rng)
        items = obs.items
        posted = items.created_at <= start
        target_creators = np.unique(items.creator[targets])
        pool = np.setdiff1d(np.unique(items.creator[posted]), target_creators)
        n_other = min(per_target, pool.size)
        members = np.concatenate([target_creators, rng.choice(pool, n_other, replace=False)])
        # each target gets likes from up to per_target members other than its creator
        acc_l, itm_l = [], []
        for tgt in targets:  # loop over targets (a handful), not events
            others = members[members != items.creator[tgt]][:per_target]
            acc_l.append(others)
            itm_l.append(np.full(others.size, tgt))
        acc, itm = np.concatenate(acc_l), np.concatenate(itm_l)
        delay = np.exp(np.log(self.delay_hours * HOUR) + rng.standard_normal(acc.size))
        base = np.maximum(start, items.created_at[itm]) + delay
        watch = rng.beta(5.0, 2.0, acc.size) * items.duration[itm]
        cols = list(pair_view_like(base, acc, itm, watch, items.duration))
        # reciprocity: target creators like back each liker's newest post (if any)
        newest = np.full(obs.n_accounts, -1, np.int64)
        ids = np.flatnonzero(posted)
        newest[items.creator[ids]] = ids  # items are sorted by time: last write is newest
        back_acc = items.creator[itm]
        back_itm = newest[acc]
        ok = back_itm >= 0
        bt = base[ok] + rng.exponential(HOUR, ok.sum())
        rv = pair_view_like(bt, back_acc[ok], back_itm[ok],
                            rng.beta(5.0, 2.0, ok.sum()) * items.duration[back_itm[ok]],
                            items.duration)
        cols = [np.concatenate([a, b]) for a, b in zip(cols, rv)]
        n_bought = acc.size
        return Campaign(self.name, budget, targets, np.empty(0), np.empty(0, np.int32),
                        np.empty(0, np.int16), np.empty(0, np.int8), members.astype(np.int64),
                        int(Origin.RING), *cols,
                        spend={"crowd_task (shadow)": n_bought * cost.crowd_task},
                        shadow_priced=True)
