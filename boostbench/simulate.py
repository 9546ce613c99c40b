"""Simulation: replay (open loop) and the feed loop (closed loop), each -> :class:`Trajectory`.

Replay: organic events over the window are generated in advance and do not react
to the ranking; the campaign is merged in and the ranker re-scores every round.

Closed loop: each round, observation -> ranker -> feeds -> exposure -> organic
events (with herding on displayed like counts) -> the campaign's events ->
append. Organic decisions use counter-based uniforms keyed by the world, so a
clean twin and an attacked run share their organic randomness (common random
numbers): the same accounts open the same sessions, and an account shown the
same item in the same round decides the same way in both worlds.

Every attacked run has a clean twin built from the same :class:`RunBase`; a
zero-budget campaign reproduces the clean trajectory bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .attacks.base import Campaign
from .behaviour import drop_repeat_likes, hash_uniforms
from .errors import InvalidParameter, check_choice
from .events import EventKind, EventLog, KeySet, merge_logs, pair_keys
from .feed import FeedConfig, draw_feeds
from .observation import AGGREGATES, Observation, aggregate, viewed_before
from .rankers.base import rank_items, score_items
from .scenario import Scenario, choose_targets
from .world import HOUR, World, organic_events

__all__ = ["Trajectory", "RunBase", "replay", "closed_loop", "simulate", "MODES"]

MODES = ("closed", "replay")
_ENGAGEMENT = (EventKind.LIKE, EventKind.COMMENT, EventKind.SHARE)


@dataclass(frozen=True)
class Trajectory:
    """Per-round record of one run: enough for every metric without re-running.

    Attributes
    ----------
    ranks : float32[n_rounds, n_items]
        Rank of each eligible item at the end of each round (1 = top, ties
        mid-ranked), NaN if ineligible. In the closed loop the ranking made at the
        end of round r serves the feeds of round r + 1.
    exposure : float32[n_rounds, n_items]
        Organic impressions each item received during the round.
    engagement : float32[n_rounds, n_items]
        Organic likes + comments + shares each item received during the round.
    round_times : float64[n_rounds]
        End of each round.
    targets : int64[n_targets]
    eval_round : int
        Last round of the attack window: end-of-campaign metrics are read here;
        later rounds are "after the campaign".
    k, low_quality_quantile :
        The scenario's feed length and low-quality threshold, carried for the metrics.
    mode : {"closed", "replay"}
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
    engagement: np.ndarray
    round_times: np.ndarray
    targets: np.ndarray
    eval_round: int
    k: int
    low_quality_quantile: float
    mode: str = "replay"
    spend: float = 0.0
    spend_items: dict = field(default_factory=dict)
    fake_actions: int = 0
    shadow_priced: bool = False

    @property
    def n_rounds(self) -> int:
        return self.ranks.shape[0]


class RunBase:
    """What a clean run and its attacked twins share: world, targets, history aggregates.

    Parameters
    ----------
    world : World
    scenario : Scenario
    rng : Generator or seed
        Source of the replay window's organic events (drawn on first use).
    """

    def __init__(self, world: World, scenario: Scenario, rng):
        self.world = world
        self.scenario = scenario
        t0 = world.t0
        self.end = t0 + scenario.horizon_hours * HOUR
        if self.end > world.config.t_end + 1e-6:
            raise InvalidParameter(f"Scenario {scenario.name!r} needs a world with future_hours >= "
                                   f"{scenario.horizon_hours}.", name="horizon_hours")
        self._rng = np.random.default_rng(rng)
        self.targets = choose_targets(world, scenario)
        self.round_times = scenario.round_times(t0)
        _, acc, itm, kind, value = world.history.columns()
        self.n_items = n_items = len(world.items)
        vb = viewed_before(acc, itm, kind, n_items)
        vb.flags.writeable = False
        self.history_vb = vb
        self.history_aggs = {name: aggregate(name, itm, kind, value, vb, None, n_items)
                             for name in AGGREGATES}
        for a in self.history_aggs.values():
            a.flags.writeable = False
        universe = len(world.accounts) * n_items
        keys = pair_keys(acc, itm, n_items)
        self.history_seen = KeySet(keys[kind == EventKind.IMPRESSION], universe=universe)
        self.history_viewed = KeySet(keys[kind == EventKind.VIEW], universe=universe)
        self.history_liked = KeySet(keys[kind == EventKind.LIKE], universe=universe)

    @cached_property
    def window(self) -> EventLog:
        """Open-loop organic events of the whole horizon (replay only)."""
        return organic_events(self.world, self.world.t0, self.end, self._rng,
                              seen=self.history_seen)

    def observation_at_start(self) -> Observation:
        """The public view at ``t0``, which a fixed attacker sees before buying."""
        w = self.world
        cache = dict(self.history_aggs, viewed_before=self.history_vb)
        return Observation(w.items, w.accounts, w.history, w.t0, n=len(w.history),
                           eligibility_hours=self.scenario.eligibility_hours, cache=cache)


class _State:
    """The growing log of a run with its incremental aggregates (unit weights)."""

    def __init__(self, base: RunBase, campaign: Campaign | None):
        w = base.world
        self.base = base
        self.log = w.history.copy()
        self.aggs = {k: v.copy() for k, v in base.history_aggs.items()}
        self._vb = np.empty(max(2 * len(self.log), 1024), bool)
        self._vb[: len(self.log)] = base.history_vb
        self.accounts = w.accounts
        if campaign is not None and campaign.n_new_accounts:
            self.accounts = w.accounts.extend(campaign.new_created_at, campaign.new_device,
                                              campaign.new_topic)

    def append(self, cols, vb) -> None:
        """Append time-sorted columns whose viewed-before flags are ``vb``."""
        n0 = len(self.log)
        self.log.append(*cols)
        n1 = len(self.log)
        if n1 > self._vb.size:
            grown = np.empty(2 * n1, bool)
            grown[:n0] = self._vb[:n0]
            self._vb = grown
        self._vb[n0:n1] = vb
        _, _, item, kind, value = cols
        for name in AGGREGATES:
            self.aggs[name] += aggregate(name, item, kind, value, vb, None, self.base.n_items)

    def observation(self, now: float) -> Observation:
        cache = {name: a.copy() for name, a in self.aggs.items()}
        vb = self._vb[: len(self.log)].copy()
        cache["viewed_before"] = vb
        w = self.base.world
        return Observation(w.items, self.accounts, self.log, now, n=len(self.log),
                           eligibility_hours=self.base.scenario.eligibility_hours, cache=cache)


def _campaign_log(c: Campaign | None) -> EventLog:
    if c is None or c.n_events == 0:
        return EventLog()
    return EventLog.from_arrays(c.t, c.account, c.item, c.kind, c.value)


def _per_round(item, kind, organic, kinds, n_items) -> np.ndarray:
    m = organic & np.isin(kind, kinds)
    return np.bincount(item[m], minlength=n_items)


def _n_actions(kind, t, end) -> int:
    """Events other than impressions and views, delivered before ``end``."""
    return int(np.count_nonzero((kind != EventKind.IMPRESSION) & (kind != EventKind.VIEW)
                                & (t < end)))


def _trajectory(base, ranker, campaign, ranks, exposure, engagement, mode, seed,
                reactive=None) -> Trajectory:
    """Assemble a Trajectory; ``reactive`` = (extra spend dict, extra fake actions) of a policy."""
    sc = base.scenario
    fake = 0 if campaign is None else _n_actions(campaign.kind, campaign.t, base.end)
    spend = {} if campaign is None else dict(campaign.spend)
    if reactive is not None:
        for unit, v in reactive[0].items():
            spend[unit] = spend.get(unit, 0.0) + v
        fake += reactive[1]
    return Trajectory(
        ranker=getattr(ranker, "name", str(ranker)),
        attack=None if campaign is None else campaign.attack,
        seed=seed, budget=0.0 if campaign is None else campaign.budget,
        ranks=ranks, exposure=exposure, engagement=engagement, round_times=base.round_times,
        targets=base.targets, eval_round=sc.eval_round, k=sc.k,
        low_quality_quantile=sc.low_quality_quantile, mode=mode,
        spend=float(sum(spend.values())), spend_items=spend, fake_actions=fake, shadow_priced=bool(campaign is not None and campaign.shadow_priced))


def replay(base: RunBase, ranker, campaign: Campaign | None = None, *, seed: int = 0
           ) -> Trajectory:
    """Open loop: the ranker re-scores every round; organic events do not react to it.

    ``campaign=None`` (or an empty campaign) gives the clean twin.
    """
    if campaign is not None and campaign.policy is not None:
        raise InvalidParameter("A reactive campaign (with a policy) needs the closed loop "
                               "(mode='closed').", name="mode")
    world, sc = base.world, base.scenario
    n_items = base.n_items
    window, from_campaign = merge_logs(base.window, _campaign_log(campaign))
    w_t, w_acc, w_itm, w_kind, w_val = window.columns()
    keys = pair_keys(w_acc, w_itm, n_items)
    w_vb = base.history_viewed.contains(keys) | viewed_before(w_acc, w_itm, w_kind, n_items)
    state = _State(base, campaign)
    organic = ~from_campaign
    ranks = np.empty((sc.n_rounds, n_items), np.float32)
    exposure = np.empty((sc.n_rounds, n_items), np.float32)
    engagement = np.empty((sc.n_rounds, n_items), np.float32)
    lo = 0
    for r, now in enumerate(base.round_times):
        hi = int(np.searchsorted(w_t, now, side="right"))
        sl = slice(lo, hi)
        state.append((w_t[sl], w_acc[sl], w_itm[sl], w_kind[sl], w_val[sl]), w_vb[sl])
        exposure[r] = _per_round(w_itm[sl], w_kind[sl], organic[sl], [EventKind.IMPRESSION], n_items)
        engagement[r] = _per_round(w_itm[sl], w_kind[sl], organic[sl], _ENGAGEMENT, n_items)
        obs = state.observation(now)
        ranks[r] = rank_items(score_items(ranker, obs), obs.eligible)
        lo = hi
    return _trajectory(base, ranker, campaign, ranks, exposure, engagement, "replay", seed)


def _herding_ref(counts: np.ndarray, eligible: np.ndarray) -> float:
    """Impression-weighted mean of log1p(like count) over eligible items: a typical displayed count."""
    imp = counts[eligible, EventKind.IMPRESSION]
    if imp.sum() == 0:
        return 0.0
    return float(np.average(np.log1p(counts[eligible, EventKind.LIKE]), weights=imp))


def closed_loop(base: RunBase, ranker, campaign: Campaign | None = None, *,
                feed: FeedConfig = FeedConfig(), key: int | None = None, seed: int = 0
                ) -> Trajectory:
    """Closed loop: the ranking decides exposure, exposure drives organic engagement.

    Parameters
    ----------
    base : RunBase
    ranker : Ranker
    campaign : Campaign or None
        Its events are delivered at their times; None gives the clean twin.
    feed : FeedConfig
    key : int, optional
        Key of the organic uniforms (default: the world's). Twins share it; a
        different key gives an independent twin (used to measure what pairing buys).
    """
    world, sc = base.world, base.scenario
    n_items = base.n_items
    key = world.seed if key is None else int(key)
    beh = world.behaviour
    n_org = len(world.accounts)
    state = _State(base, campaign)
    seen = base.history_seen.copy()
    viewed = base.history_viewed.copy()
    liked = base.history_liked.copy()
    clog = _campaign_log(campaign)
    c_t = clog.t
    c_cols = clog.columns()
    policy = None if campaign is None else campaign.policy
    extra_spend, extra_actions = {}, 0
    pending = None
    ranks = np.empty((sc.n_rounds, n_items), np.float32)
    exposure = np.empty((sc.n_rounds, n_items), np.float32)
    engagement = np.empty((sc.n_rounds, n_items), np.float32)
    obs = state.observation(world.t0)
    scores = score_items(ranker, obs)
    ref = _herding_ref(obs.counts(), obs.eligible)
    length = sc.round_hours * HOUR
    for r, end in enumerate(base.round_times):
        start = end - length
        counts = obs.counts()
        f = draw_feeds(feed, key=key, round_index=r, start=start, length=length, scores=scores,
                       eligible=obs.eligible, impressions=counts[:, EventKind.IMPRESSION],
                       item_topic=world.items.topic, account_topic=world.accounts.topic[:n_org],
                       activity=world.truth.activity, seen=seen)
        a, i = f.account, f.item
        resp = beh.respond(a, i, f.t, lambda s: hash_uniforms(key, 100 + s, a, i, r),
                           displayed_likes=counts[i, EventKind.LIKE], herding_ref=ref)
        resp = drop_repeat_likes(resp, n_items, liked)
        lo, hi = np.searchsorted(c_t, [start, end], side="left")
        parts = [(resp.t, resp.account, resp.item, resp.kind, resp.value,
                  np.zeros(resp.t.size, bool)),
                 (*(c[lo:hi] for c in c_cols), np.ones(hi - lo, bool))]
        if policy is not None:
            cols_p, spend_p = policy(obs, start, end)
            cols_p = [np.asarray(c, dt) for c, dt in zip(
                cols_p, (np.float64, np.int64, np.int64, np.int8, np.float64))]
            if cols_p[0].size and (cols_p[0].min() < start or cols_p[0].max() >= end):
                raise InvalidParameter("A campaign policy must return events inside its round "
                                       f"[{start}, {end}).", name="policy")
            for unit, v in spend_p.items():
                extra_spend[unit] = extra_spend.get(unit, 0.0) + float(v)
            if campaign.spend_total + sum(extra_spend.values()) > campaign.budget * (1 + 1e-12):
                raise InvalidParameter(f"Campaign {campaign.attack!r} overspent its budget "
                                       f"{campaign.budget} in round {r}.", name="budget")
            extra_actions += _n_actions(cols_p[3], cols_p[0], base.end)
            parts.append((*cols_p, np.ones(cols_p[0].size, bool)))
        if pending is not None:
            parts.insert(0, pending)
        cols = [np.concatenate(x) for x in zip(*parts)]
        order = np.argsort(cols[0], kind="stable")
        cols = [c[order] for c in cols]
        now_mask = cols[0] < end
        pending = tuple(c[~now_mask] for c in cols)
        t, acc, itm, kind, val, fake = (c[now_mask] for c in cols)
        keys = pair_keys(acc, itm, n_items)
        vb = viewed.contains(keys) | viewed_before(acc, itm, kind, n_items)
        viewed.add(keys[kind == EventKind.VIEW])
        liked.add(keys[kind == EventKind.LIKE])
        state.append((t, acc, itm, kind, val), vb)
        exposure[r] = _per_round(itm, kind, ~fake, [EventKind.IMPRESSION], n_items)
        engagement[r] = _per_round(itm, kind, ~fake, _ENGAGEMENT, n_items)
        obs = state.observation(end)
        scores = score_items(ranker, obs)
        ranks[r] = rank_items(scores, obs.eligible)
    return _trajectory(base, ranker, campaign, ranks, exposure, engagement, "closed", seed,
                       reactive=(extra_spend, extra_actions))


def simulate(mode: str, base: RunBase, ranker, campaign: Campaign | None = None, **kw
             ) -> Trajectory:
    """Dispatch to :func:`closed_loop` or :func:`replay`."""
    check_choice("mode", mode, MODES)
    return (closed_loop if mode == "closed" else replay)(base, ranker, campaign, **kw)
