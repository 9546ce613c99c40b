"""Bot farms (流量工厂): scripted, freshly created accounts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import check_int, check_real
from ..observation import Observation
from ..plugins import ATTACKS
from ..world import DAY, HOUR, Origin
from .base import CostModel, Campaign, check_attack_args, empty_campaign, pair_view_like, split_budget

__all__ = ["BotFarm"]


@ATTACKS.register("bot_farm")
@dataclass(frozen=True)
class BotFarm:
    """Likes bought from a bot-farm service, each preceded by a cheap short view.

    Signature: accounts created days before the window (``max_age_days``), packed
    onto few device fingerprints (``accounts_per_device``), acting in a burst
    right after the purchase (``burst_hours``), with a ``view_seconds`` view and a
    like. One like per account per target, so a target buying n likes needs n
    accounts; the same bots serve every target.

    Price: retail ``like_bot + view_bot`` per like (the seller's accounts are inside
    that price; CALIBRATION.md "price accounting").
    """

    accounts_per_device: int = 20
    max_age_days: float = 3.0
    burst_hours: float = 2.0
    view_seconds: float = 2.0
    name: str = "bot_farm"

    def __post_init__(self):
        check_int("accounts_per_device", self.accounts_per_device, low=1, where="BotFarm")
        check_real("max_age_days", self.max_age_days, low=0.0, low_open=True, where="BotFarm")
        check_real("burst_hours", self.burst_hours, low=0.0, low_open=True, where="BotFarm")
        check_real("view_seconds", self.view_seconds, low=0.0, low_open=True, where="BotFarm")

    def __call__(self, obs: Observation, targets, budget, window, rng,
                 cost: CostModel = CostModel()) -> Campaign:
        targets, budget, (start, _) = check_attack_args(obs, targets, budget, window)
        unit = cost.like_bot + cost.view_bot
        per_target = split_budget(budget, targets.size, unit)
        if per_target == 0:
            return empty_campaign(self.name, budget, targets)
        rng = np.random.default_rng(rng)
        n_bots = per_target
        first = obs.n_accounts
        created = start - rng.random(n_bots) * self.max_age_days * DAY
        device = (int(obs.accounts.device.max(initial=-1)) + 1
                  + np.arange(n_bots) // self.accounts_per_device).astype(np.int32)
        topic = rng.integers(0, int(obs.accounts.topic.max(initial=0)) + 1, n_bots).astype(np.int16)
        acc = first + np.tile(np.arange(n_bots), targets.size)
        itm = np.repeat(targets, per_target)
        base = np.maximum(start, obs.items.created_at[itm]) + rng.random(acc.size) * self.burst_hours * HOUR
        cols = pair_view_like(base, acc, itm, self.view_seconds, obs.items.duration)
        n_likes = acc.size
        return Campaign(self.name, budget, targets, created, device, topic,
                        np.full(n_bots, Origin.BOT, np.int8), np.empty(0, np.int64), 0, *cols,
                        spend={"like_bot": n_likes * cost.like_bot, "view_bot": n_likes * cost.view_bot})
