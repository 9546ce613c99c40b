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

Speed (DESIGN §5): a closed-loop round costs its new events — observations share
the run's append-only buffers instead of copying them. With more than one CPU the
loop uses one helper thread (set ``BOOSTBENCH_THREADS=1`` to turn it off): it
prepares the next round's sessions, fills the feeds of half the accounts, answers
half the impressions and appends the log while the main thread does the rest.
Every split is along independent work (accounts, impressions) and is put back in
the original order, so results do not depend on the thread count.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .attacks.base import Campaign
from .behaviour import CounterUniforms, concat_responses, drop_repeat_likes
from .errors import InvalidParameter, check_choice
from .events import (ENGAGEMENT, N_KINDS, EventKind, EventLog, KeySet, append_grown, kind_table,
                     merge_logs, pair_keys, stable_argsort)
from .feed import FeedConfig, draw_feeds, plan_sessions
from .observation import AGGREGATES, Observation, aggregate, aggregate_index, viewed_before
from .rankers.base import rank_items, score_items
from .rankers.pipeline import with_oracle
from .scenario import Scenario, choose_targets
from .world import HOUR, World, organic_events

__all__ = ["Trajectory", "DefenceRecord", "RunBase", "replay", "closed_loop",
           "closed_loop_rounds", "RoundInfo", "simulate", "MODES", "fake_accounts"]

MODES = ("closed", "replay")


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
    defence: "DefenceRecord | None" = None

    @property
    def n_rounds(self) -> int:
        return self.ranks.shape[0]


@dataclass(frozen=True)
class DefenceRecord:
    """What a defended ranker did in one run, for detection and collateral metrics.

    Covers the *acts* of the run's window (every event with ``t >= t0`` except
    impressions, which no defence weighs) plus the account and item columns the
    segment metrics need. Public columns only, except ``fake`` and
    ``fake_account`` (from the campaign, for the metrics).

    Attributes
    ----------
    t, account, item, kind : the acts
    weight : float32, the act's final weight (1 = untouched)
    fake : bool, the act is a campaign event
    banned_at : float64[n_accounts], first ban time (inf: never)
    penalised : bool[n_items]
    fake_account : bool[n_accounts], campaign accounts (new and recruited)
    account_created_at, account_device : public account columns
    item_created_at, item_creator : public item columns
    t0 : start of the window
    """

    t: np.ndarray
    account: np.ndarray
    item: np.ndarray
    kind: np.ndarray
    weight: np.ndarray
    fake: np.ndarray
    banned_at: np.ndarray
    penalised: np.ndarray
    fake_account: np.ndarray
    account_created_at: np.ndarray
    account_device: np.ndarray
    item_created_at: np.ndarray
    item_creator: np.ndarray
    t0: float


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
        self.rival_targets = choose_targets(world, scenario, "demote")
        self.round_times = scenario.round_times(t0)
        _, acc, itm, kind, value = world.history.columns()
        self.n_items = n_items = len(world.items)
        universe = len(world.accounts) * n_items
        keys = pair_keys(acc, itm, n_items)
        self.history_seen = KeySet(keys[kind == EventKind.IMPRESSION], universe=universe)
        self.history_viewed = KeySet(keys[kind == EventKind.VIEW], universe=universe)
        self.history_liked = KeySet(keys[kind == EventKind.LIKE], universe=universe)
        # viewed-before can only hold for pairs with a VIEW: sort just their events
        # (all of them, VIEWs included, in log order: the same answer as the whole log)
        maybe = np.flatnonzero(self.history_viewed.contains(keys))
        del keys
        vb = np.zeros(acc.size, bool)
        vb[maybe] = viewed_before(acc[maybe], itm[maybe], kind[maybe], n_items)
        del maybe
        vb.flags.writeable = False
        self.history_vb = vb
        index = aggregate_index(itm, kind)
        self.history_aggs = {name: aggregate(name, itm, kind, value, vb, None, n_items,
                                             index=index) for name in AGGREGATES}
        del index
        for a in self.history_aggs.values():
            a.flags.writeable = False

    @cached_property
    def window(self) -> EventLog:
        """Open-loop organic events of the whole horizon (replay only)."""
        return organic_events(self.world, self.world.t0, self.end, self._rng,
                              seen=self.history_seen)

    def targets_for(self, goal: str):
        """Targets of an attack with this goal (low-quality posts, or a rival's good posts)."""
        return self.targets if goal == "promote" else self.rival_targets

    def observation_at_start(self) -> Observation:
        """The public view at ``t0``, which a fixed attacker sees before buying."""
        w = self.world
        cache = dict(self.history_aggs, viewed_before=self.history_vb)
        return Observation(w.items, w.accounts, w.history, w.t0, n=len(w.history),
                           eligibility_hours=self.scenario.eligibility_hours, cache=cache)


class _State:
    """The growing log of a run with its incremental aggregates (unit weights).

    Observations share everything with the state instead of copying it, so a
    round costs its new events, not the history: the log and the viewed-before
    column are append-only buffers (an observation's prefix view never changes),
    and an aggregate is never modified in place — each round replaces it with a
    new array (old one + the round's increment), which past observations keep.
    """

    def __init__(self, base: RunBase, campaign: Campaign | None, expected_events: int = 0):
        w = base.world
        self.base = base
        pre = _pre_window(campaign, w.t0)
        n_hist = len(w.history) + len(pre)
        # room for the expected window up front: growing a log by doubling would copy
        # the whole history again and hold both buffers at once
        capacity = n_hist + max(int(expected_events), 0)
        self.log = EventLog(capacity=max(capacity, 1))
        self.aggs = dict(base.history_aggs)   # read-only arrays, replaced (never mutated) later
        self._vb = np.empty(max(capacity, 1024), bool)
        self._fake = np.zeros(max(capacity, 1024), bool)   # campaign events (history: none)
        if not len(pre):
            self.log._write(list(w.history.columns()))  # already validated and sorted
            self._vb[:n_hist] = base.history_vb
        else:  # campaign events before the window (camouflage history) join the history
            log, from_pre = merge_logs(w.history, pre)
            self.log._write(list(log.columns()))
            _, p_acc, p_itm, p_kind, p_val = pre.columns()
            vb_pre = viewed_before(p_acc, p_itm, p_kind, base.n_items)  # new accounts only
            self._vb[:n_hist][~from_pre] = base.history_vb
            self._vb[:n_hist][from_pre] = vb_pre
            self._fake[:n_hist] = from_pre
            for name in AGGREGATES:
                self.aggs[name] = self.aggs[name] + aggregate(name, p_itm, p_kind, p_val, vb_pre,
                                                              None, base.n_items)
        self.accounts = w.accounts
        if campaign is not None and campaign.n_new_accounts:
            self.accounts = w.accounts.extend(campaign.new_created_at, campaign.new_device,
                                              campaign.new_topic)

    def append(self, cols, vb, fake) -> None:
        """Append time-sorted columns whose viewed-before flags are ``vb``."""
        self.append_flags(cols, vb, self.append_log(cols, fake))

    def append_log(self, cols, fake) -> int:
        """First half of :meth:`append`: the events and their campaign flags; returns the
        log length before."""
        n0 = len(self.log)
        self.log.append(*cols)
        self._fake = append_grown(self._fake, n0, fake)
        return n0

    def append_flags(self, cols, vb, n0: int) -> None:
        """Second half of :meth:`append`: viewed-before flags and aggregates of the events."""
        self._vb = append_grown(self._vb, n0, vb)
        _, _, item, kind, value = cols
        index = aggregate_index(item, kind)
        for name in AGGREGATES:
            new = self.aggs[name] + aggregate(name, item, kind, value, vb, None, self.base.n_items,
                                              index=index)
            new.flags.writeable = False
            self.aggs[name] = new

    def defence_record(self, ranker, obs: Observation, campaign) -> "DefenceRecord | None":
        """The :class:`DefenceRecord` of a ranker that offers ``audit`` (a Pipeline), else None."""
        if not hasattr(ranker, "audit"):
            return None
        audit = ranker.audit(obs)
        w = self.base.world
        t, acc, itm, kind, _ = obs.events
        lo = int(np.searchsorted(t, w.t0, side="left"))
        acts = lo + np.flatnonzero(kind[lo:] != EventKind.IMPRESSION)
        return DefenceRecord(
            t=t[acts], account=acc[acts], item=itm[acts], kind=kind[acts],
            weight=audit.weight[acts], fake=self._fake[acts].copy(),
            banned_at=audit.banned_at, penalised=audit.penalised,
            fake_account=fake_accounts(len(w.accounts), obs.n_accounts, campaign),
            account_created_at=obs.accounts.created_at, account_device=obs.accounts.device,
            item_created_at=w.items.created_at, item_creator=w.items.creator, t0=w.t0)

    def observation(self, now: float) -> Observation:
        cache = dict(self.aggs)
        cache["viewed_before"] = self._vb[: len(self.log)]  # a view: later appends go past it
        w = self.base.world
        return Observation(w.items, self.accounts, self.log, now, n=len(self.log),
                           eligibility_hours=self.base.scenario.eligibility_hours, cache=cache)


def fake_accounts(n_organic: int, n_accounts: int, campaign: Campaign | None) -> np.ndarray:
    """bool per account: a campaign account (new, or an organic account it recruited)."""
    out = np.zeros(n_accounts, bool)
    if campaign is not None:
        out[n_organic:] = True
        out[np.asarray(campaign.recruited, np.int64)] = True
    return out


def _campaign_log(c: Campaign | None, t0: float) -> EventLog:
    """The campaign's events in the window (``t >= t0``); earlier ones join the history."""
    if c is None or c.n_events == 0:
        return EventLog()
    m = c.t >= t0
    return EventLog.from_arrays(c.t[m], c.account[m], c.item[m], c.kind[m], c.value[m])


def _pre_window(c: Campaign | None, t0: float) -> EventLog:
    """The campaign's events before the window (e.g. aged bots' camouflage history)."""
    if c is None or c.n_events == 0 or not (c.t < t0).any():
        return EventLog()
    m = c.t < t0
    return EventLog.from_arrays(c.t[m], c.account[m], c.item[m], c.kind[m], c.value[m])


_IMPRESSION_KINDS = kind_table([EventKind.IMPRESSION])
_ENGAGEMENT_KINDS = kind_table(ENGAGEMENT)


def _per_round(item, kind, organic, kinds, n_items) -> np.ndarray:
    """Per-item count of the organic events whose kind is in ``kinds`` (a kind list or mask)."""
    table = kinds if isinstance(kinds, np.ndarray) and kinds.dtype == bool else kind_table(kinds)
    m = organic & table[kind]
    return np.bincount(item[m], minlength=n_items)


_ROUND_CLASS = np.zeros(N_KINDS, np.int64)  # 1: an impression, 2: engagement, 0: neither
_ROUND_CLASS[_IMPRESSION_KINDS] = 1
_ROUND_CLASS[_ENGAGEMENT_KINDS] = 2


def _organic_counts(item, kind, fake, n_items):
    """Per-item organic impressions and engagement (likes, comments, shares): one bincount."""
    cls = _ROUND_CLASS[kind]
    cls[fake] = 0
    both = np.bincount(item.astype(np.int64) * 3 + cls, minlength=3 * n_items)
    return both[1::3], both[2::3]


def _n_actions(kind, t, end) -> int:
    """Events other than impressions and views, delivered before ``end``."""
    return int(np.count_nonzero((kind != EventKind.IMPRESSION) & (kind != EventKind.VIEW)
                                & (t < end)))


def _trajectory(base, ranker, campaign, ranks, exposure, engagement, mode, seed,
                reactive=None, defence=None) -> Trajectory:
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
        targets=base.targets if campaign is None else campaign.targets,
        eval_round=sc.eval_round, k=sc.k,
        low_quality_quantile=sc.low_quality_quantile, mode=mode,
        spend=float(sum(spend.values())), spend_items=spend, fake_actions=fake,
        shadow_priced=bool(campaign is not None and campaign.shadow_priced), defence=defence)


def replay(base: RunBase, ranker, campaign: Campaign | None = None, *, seed: int = 0
           ) -> Trajectory:
    """Open loop: the ranker re-scores every round; organic events do not react to it.

    ``campaign=None`` (or an empty campaign) gives the clean twin.
    """
    if campaign is not None and campaign.policy is not None:
        raise InvalidParameter("A reactive campaign (with a policy) needs the closed loop "
                               "(mode='closed').", name="mode")
    sc = base.scenario
    n_items = base.n_items
    window, from_campaign = merge_logs(base.window, _campaign_log(campaign, base.world.t0))
    w_t, w_acc, w_itm, w_kind, w_val = window.columns()
    keys = pair_keys(w_acc, w_itm, n_items)
    w_vb = base.history_viewed.contains(keys) | viewed_before(w_acc, w_itm, w_kind, n_items)
    state = _State(base, campaign, expected_events=len(window))
    ranker = with_oracle(ranker, fake_accounts(len(base.world.accounts), len(state.accounts),
                                               campaign), since=base.world.t0)
    organic = ~from_campaign
    ranks = np.empty((sc.n_rounds, n_items), np.float32)
    exposure = np.empty((sc.n_rounds, n_items), np.float32)
    engagement = np.empty((sc.n_rounds, n_items), np.float32)
    lo = 0
    for r, now in enumerate(base.round_times):
        hi = int(np.searchsorted(w_t, now, side="right"))
        sl = slice(lo, hi)
        state.append((w_t[sl], w_acc[sl], w_itm[sl], w_kind[sl], w_val[sl]), w_vb[sl],
                     from_campaign[sl])
        exposure[r] = _per_round(w_itm[sl], w_kind[sl], organic[sl], _IMPRESSION_KINDS, n_items)
        engagement[r] = _per_round(w_itm[sl], w_kind[sl], organic[sl], _ENGAGEMENT_KINDS, n_items)
        obs = state.observation(now)
        ranks[r] = rank_items(score_items(ranker, obs), obs.eligible)
        lo = hi
    return _trajectory(base, ranker, campaign, ranks, exposure, engagement, "replay", seed,
                       defence=state.defence_record(ranker, obs, campaign))


def _n_cpus() -> int:
    """CPUs the closed loop may use: ``BOOSTBENCH_THREADS`` if set (1 = no helper thread),
    else the CPUs this process may run on."""
    env = os.environ.get("BOOSTBENCH_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise InvalidParameter(f"BOOSTBENCH_THREADS must be a positive integer. Got {env!r}.",
                                   name="BOOSTBENCH_THREADS") from None
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_SPLIT_MIN = 20_000  # impressions worth answering in two halves on two threads


class _SessionPlans:
    """Each round's ranking-independent feed work (:func:`plan_sessions`: sessions,
    feed and examination uniforms, times), prepared one round ahead on a helper
    thread while the current round runs. Pure functions of (key, round, activity):
    the arrays are the same as computing them in line, only earlier."""

    def __init__(self, cfg: FeedConfig, key: int, round_times: np.ndarray, length: float,
                 activity: np.ndarray):
        self.cfg, self.key, self.round_times, self.length = cfg, key, round_times, length
        self.activity = activity
        self._pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="boostbench-feeds")
                      if _n_cpus() > 1 else None)
        self._next = None

    def _plan(self, r: int):
        end = self.round_times[r]
        return plan_sessions(self.cfg, key=self.key, round_index=r, start=end - self.length,
                             length=self.length, activity=self.activity)

    @property
    def executor(self):
        return self._pool

    def run(self, fn) -> Future:
        """``fn()`` on the helper thread, or here and now without one."""
        if self._pool is not None:
            return self._pool.submit(fn)
        done = Future()
        try:
            done.set_result(fn())
        except BaseException as e:  # re-raised by result(), as from the helper thread
            done.set_exception(e)
        return done

    def get(self, r: int):
        """Round ``r``'s plan: prepared in the background if :meth:`prefetch` asked for it."""
        nxt, self._next = self._next, None
        return nxt[1].result() if nxt is not None and nxt[0] == r else self._plan(r)

    def prefetch(self, r: int) -> None:
        """Start preparing round ``r``'s plan on the helper thread."""
        if self._pool is not None and r < len(self.round_times):
            self._next = (r, self._pool.submit(self._plan, r))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def respond(self, beh, a, i, t, key: int, r: int, displayed_likes, herding_ref: float):
        """Organic responses to this round's impressions; a large batch is answered in two
        halves, one on the helper thread (each impression is decided on its own, so
        :func:`concat_responses` of the halves is the response to the whole batch)."""
        def part(sl):
            return beh.respond(a[sl], i[sl], t[sl], CounterUniforms(key, 100, a[sl], i[sl], r),
                               displayed_likes=displayed_likes[sl], herding_ref=herding_ref)

        if self._pool is None or a.size < _SPLIT_MIN:
            return part(slice(None))
        half = a.size // 2
        later = self._pool.submit(part, slice(half, None))
        first = part(slice(0, half))
        return concat_responses([first, later.result()])


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
    rounds = closed_loop_rounds(base, ranker, campaign, feed=feed, key=key, seed=seed)
    while True:
        try:
            next(rounds)
        except StopIteration as done:
            return done.value


@dataclass(frozen=True)
class RoundInfo:
    """What :func:`closed_loop_rounds` reports after each round."""

    round: int
    n_events: int       # events the round appended to the log (organic and campaign)
    log: EventLog       # the run's log so far (history first); read it, never append


def closed_loop_rounds(base: RunBase, ranker, campaign: Campaign | None = None, *,
                       feed: FeedConfig = FeedConfig(), key: int | None = None, seed: int = 0):
    """:func:`closed_loop` one round at a time (for benchmarks and progress reports).

    A generator: yields a :class:`RoundInfo` after each round and returns the
    :class:`Trajectory` (as ``StopIteration.value``); same arguments as :func:`closed_loop`.
    """
    world, sc = base.world, base.scenario
    n_items = base.n_items
    key = world.seed if key is None else int(key)
    beh = world.behaviour
    n_org = len(world.accounts)
    # organic impressions the calibration expects over the horizon, and what they lead to
    # (about 1.45 events per impression), so the log is allocated once
    expected = 1.5 * float(world.truth.activity.sum()) * sc.horizon_hours / 24.0
    state = _State(base, campaign, expected_events=int(expected) + (
        0 if campaign is None else campaign.n_events))
    ranker = with_oracle(ranker, fake_accounts(n_org, len(state.accounts), campaign),
                         since=world.t0)
    seen = base.history_seen.copy()
    viewed = base.history_viewed.copy()
    liked = base.history_liked.copy()
    clog = _campaign_log(campaign, world.t0)
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
    plans = _SessionPlans(feed, key, base.round_times, length, world.truth.activity)
    for r, end in enumerate(base.round_times):
        start = end - length
        counts = obs.counts()
        f = draw_feeds(feed, key=key, round_index=r, start=start, length=length, scores=scores,
                       eligible=obs.eligible, impressions=counts[:, EventKind.IMPRESSION],
                       item_topic=world.items.topic, account_topic=world.accounts.topic[:n_org],
                       activity=world.truth.activity, seen=seen, sessions=plans.get(r),
                       executor=plans.executor)
        a, i = f.account, f.item
        resp = plans.respond(beh, a, i, f.t, key, r, counts[i, EventKind.LIKE], ref)
        plans.prefetch(r + 1)  # the helper thread is free until the next round's feeds
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
        order = stable_argsort(cols[0])
        cols = [c[order] for c in cols]
        n_now = int(np.searchsorted(cols[0], end, side="left"))  # sorted: t < end is a prefix
        pending = tuple(c[n_now:] for c in cols)
        t, acc, itm, kind, val, fake = (c[:n_now] for c in cols)
        keys = pair_keys(acc, itm, n_items)
        new = (t, acc, itm, kind, val)

        def side_work():
            """What does not need the viewed-before flags (on the helper thread if any)."""
            n0 = state.append_log(new, fake)
            liked.add(keys[kind == EventKind.LIKE])
            exposure[r], engagement[r] = _organic_counts(itm, kind, fake, n_items)
            return n0

        side = plans.run(side_work)
        vb = viewed.contains(keys)                 # viewed in an earlier round
        viewed.add(keys[kind == EventKind.VIEW])
        # only pairs first viewed in this round need the within-round answer, and all
        # of their events (every VIEW among them) are in this subset, in log order
        fresh = np.flatnonzero(~vb & viewed.contains(keys))
        if fresh.size:
            vb[fresh] = viewed_before(acc[fresh], itm[fresh], kind[fresh], n_items)
        n0 = side.result()
        state.append_flags(new, vb, n0)
        obs = state.observation(end)
        scores = score_items(ranker, obs)
        ranks[r] = rank_items(scores, obs.eligible)
        yield RoundInfo(r, int(t.size), state.log)
    plans.close()
    return _trajectory(base, ranker, campaign, ranks, exposure, engagement, "closed", seed,
                       reactive=(extra_spend, extra_actions),
                       defence=state.defence_record(ranker, obs, campaign))


def simulate(mode: str, base: RunBase, ranker, campaign: Campaign | None = None, **kw
             ) -> Trajectory:
    """Dispatch to :func:`closed_loop` or :func:`replay`."""
    check_choice("mode", mode, MODES)
    return (closed_loop if mode == "closed" else replay)(base, ranker, campaign, **kw)
