"""Replay (open loop): organic events fixed in advance, the campaign merged in, the ranker
re-scoring every round; the result is a :class:`Trajectory`.

Every attacked run has a clean twin: the same world, the same organic events,
no campaign. :class:`ReplayBase` holds what twins share, so a zero-budget
campaign reproduces the clean trajectory exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .attacks.base import Campaign
from .errors import InvalidParameter
from .events import EventKind, EventLog, merge_logs
from .observation import AGGREGATES, Observation, aggregate, viewed_before
from .rankers.base import rank_items, score_items
from .scenario import Scenario, choose_targets
from .world import World, organic_events

__all__ = ["Trajectory", "ReplayBase", "replay"]


@dataclass(frozen=True)
class Trajectory:
    """Per-round record of one run: enough for every metric without re-running.

    Attributes
    ----------
    ranks : float32[n_rounds, n_items]
        Rank of each eligible item after each round (1 = top, ties mid-ranked), NaN if ineligible.
    exposure : float32[n_rounds, n_items]
        Organic impressions each item received during the round.
    round_times : float64[n_rounds]
    targets : int64[n_targets]
    eval_round : int
        Round index at which end-of-campaign metrics are read.
    k, low_quality_quantile :
        The scenario's feed length and low-quality threshold, carried for the metrics.
    spend : float
        Money the campaign spent (0 for a clean run); ``spend_items`` itemises it.
    fake_actions : int
        Campaign events other than impressions and views.
    """

    ranker: str
    attack: str | None
    seed: int
    budget: float
    ranks: np.ndarray
    exposure: np.ndarray
    round_times: np.ndarray
    targets: np.ndarray
    eval_round: int
    k: int
    low_quality_quantile: float
    spend: float = 0.0
    spend_items: dict = field(default_factory=dict)
    fake_actions: int = 0
    shadow_priced: bool = False

    @property
    def n_rounds(self) -> int:
        return self.ranks.shape[0]


class ReplayBase:
    """What a clean run and its attacked twins share: world, organic timeline, targets.

    Parameters
    ----------
    world : World
    scenario : Scenario
    rng : Generator or seed
        Source of the organic events inside the window (generated once, here).
    """

    def __init__(self, world: World, scenario: Scenario, rng):
        self.world = world
        self.scenario = scenario
        t0 = world.t0
        end = t0 + scenario.horizon_hours * 3600.0
        if end > world.config.t_end + 1e-6:
            raise InvalidParameter(f"Scenario {scenario.name!r} needs a world with future_hours >= "
                                   f"{scenario.horizon_hours}.", name="horizon_hours")
        self.window = organic_events(world, t0, end, rng)
        self.targets = choose_targets(world, scenario)
        self.round_times = scenario.round_times(t0)
        h = world.history
        _, acc, itm, kind, value = h.columns()
        n_items = len(world.items)
        vb = viewed_before(acc, itm, kind, n_items)
        self.history_aggs = {name: aggregate(name, itm, kind, value, vb, None, n_items)
                             for name in AGGREGATES}
        keys = acc.astype(np.int64) * n_items + itm
        self.history_view_keys = np.unique(keys[kind == EventKind.VIEW])
        self.history_vb = vb

    def observation_at_start(self) -> Observation:
        """The public view at ``t0``, which the attacker sees before buying."""
        w = self.world
        cache = dict(self.history_aggs, viewed_before=self.history_vb)
        return Observation(w.items, w.accounts, w.history, w.t0, n=len(w.history),
                           eligibility_hours=self.scenario.eligibility_hours, cache=cache)


def _campaign_log(c: Campaign | None) -> EventLog:
    if c is None or c.n_events == 0:
        return EventLog()
    return EventLog.from_arrays(c.t, c.account, c.item, c.kind, c.value)


def replay(base: ReplayBase, ranker, campaign: Campaign | None = None, *, seed: int = 0
           ) -> Trajectory:
    """Run ``ranker`` over the window with ``campaign`` merged into the organic events.

    ``campaign=None`` (or an empty campaign) gives the clean twin.
    """
    world, sc = base.world, base.scenario
    n_items = len(world.items)
    window, from_campaign = merge_logs(base.window, _campaign_log(campaign))
    _, w_acc, w_itm, w_kind, w_val = window.columns()
    # viewed-before for window events: a view in the history, or earlier in the window
    keys = w_acc.astype(np.int64) * n_items + w_itm
    hk = base.history_view_keys
    j = np.minimum(np.searchsorted(hk, keys), max(hk.size - 1, 0))
    in_hist = (hk[j] == keys) if hk.size else np.zeros(keys.size, bool)
    w_vb = in_hist | viewed_before(w_acc, w_itm, w_kind, n_items)
    vb = np.concatenate([base.history_vb, w_vb])

    log = world.history.copy()
    log.append(*window.columns())
    accounts = world.accounts
    if campaign is not None and campaign.n_new_accounts:
        accounts = accounts.extend(campaign.new_created_at, campaign.new_device, campaign.new_topic)
    aggs = {k: v.copy() for k, v in base.history_aggs.items()}
    organic_imp = (w_kind == EventKind.IMPRESSION) & ~from_campaign
    n_hist = len(world.history)
    lo = 0
    ranks = np.empty((sc.n_rounds, n_items), np.float32)
    exposure = np.empty((sc.n_rounds, n_items), np.float32)
    t_window = window.t
    for r, now in enumerate(base.round_times):
        hi = int(np.searchsorted(t_window, now, side="right"))
        sl = slice(lo, hi)
        for name in AGGREGATES:
            aggs[name] += aggregate(name, w_itm[sl], w_kind[sl], w_val[sl], w_vb[sl], None, n_items)
        exposure[r] = np.bincount(w_itm[sl][organic_imp[sl]], minlength=n_items)
        cache = {name: a.copy() for name, a in aggs.items()}
        cache["viewed_before"] = vb
        obs = Observation(world.items, accounts, log, now, n=n_hist + hi,
                          eligibility_hours=sc.eligibility_hours, cache=cache)
        ranks[r] = rank_items(score_items(ranker, obs), obs.eligible)
        lo = hi
    fake = 0
    if campaign is not None:
        fake = int(np.count_nonzero((campaign.kind != EventKind.IMPRESSION)
                                    & (campaign.kind != EventKind.VIEW)))
    return Trajectory(
        ranker=getattr(ranker, "name", str(ranker)),
        attack=None if campaign is None else campaign.attack,
        seed=seed, budget=0.0 if campaign is None else campaign.budget,
        ranks=ranks, exposure=exposure, round_times=base.round_times, targets=base.targets,
        eval_round=sc.eval_round, k=sc.k, low_quality_quantile=sc.low_quality_quantile,
        spend=0.0 if campaign is None else campaign.spend_total,
        spend_items={} if campaign is None else dict(campaign.spend),
        fake_actions=fake, shadow_priced=bool(campaign is not None and campaign.shadow_priced))
