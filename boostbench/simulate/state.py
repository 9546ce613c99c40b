"""The state of one run: its plan, what its twins share, the growing log, the trajectory.

Every attacked run has a clean twin built from the same :class:`RunBase`; a
zero-budget campaign reproduces the clean trajectory bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from .._core.arrays import KeySet, append_grown, distinct, pair_keys, pair_set
from .._core.units import DAY, HOUR
from ..attacks.base import Campaign
from ..errors import InvalidParameter
from ..events import ENGAGEMENT, N_KINDS, EventKind, EventLog, kind_mask, kind_table, merge_logs
from ..observation import (AGGREGATES, Aggregates, Observation, aggregate, aggregate_index,
                           viewed_before)
from ..history import herding_reference, organic_events
from ..population import active_on
from ..world import World

__all__ = ["RunPlan", "Trajectory", "DefenceRecord", "RunBase", "fake_accounts"]


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
        The run plan's feed length and low-quality threshold, carried for the metrics.
    mode : {"closed", "replay"}
    spend : float
        Money the campaign spent (0 for a clean run); ``spend_items`` itemises it.
    fake_actions : int
        Campaign events other than impressions and views.
    aimed_actions : int
        Those of them on the targets (the rest is camouflage and reciprocity).
    shadow_priced : bool
        The spend is a shadow price (a ring pays in reciprocity).
    defence : DefenceRecord or None
        What a defended ranker did (None without defences).
    campaign_items : int64[m]
        Distinct items the campaign acted on (targets, camouflage, reciprocity).
    new_rows : int64[m]
        Account rows of the accounts the campaign brought (placed on the world's
        reserved rows, :meth:`RunBase.place`).
    account_price, account_uses : float
        An own farm's price per account and the campaigns it is amortised over
        (price 0 for a service, which replaces its own banned accounts).
    reach_items, reach : int64[m]
        Closed loop: the targets and the organic item with the most organic
        impressions over the horizon (last), and how many distinct accounts had an
        organic impression of each over the horizon. Empty in replay.
    active_accounts : int
        Closed loop: accounts with at least one organic impression over the horizon
        (the reach's denominator); 0 in replay.
    personal_hits : float32[n_rounds, n_targets]
        Closed loop: per round, the share of the round's viewers whose own ranked
        candidates (:func:`~boostbench.feed.personal_pools`: the viewer's retrieved
        candidates in the ranker's pair-score order; a global ranker's item order)
        held each target in the top k. Empty in replay.
    queries : int
        Closed loop: what-if queries of the ranker a query attacker spent
        (:mod:`boostbench.attacks.query`); 0 for every other campaign.
    bare : Trajectory or None
        On the clean twin of a defended ranker: the clean run of its bare scorer
        (set by the runner, for the collateral metrics).
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
    aimed_actions: int = 0
    shadow_priced: bool = False
    defence: "DefenceRecord | None" = None
    campaign_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    new_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    account_price: float = 0.0
    account_uses: float = 1.0
    reach_items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reach: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    active_accounts: int = 0
    personal_hits: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    queries: int = 0
    bare: "Trajectory | None" = None

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
    weighed : bool, the act's kind is one the defences weigh or read (``Pipeline.kinds``):
        what a defence can touch, the collateral metrics' denominator
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
    weighed: np.ndarray
    fake: np.ndarray
    banned_at: np.ndarray
    penalised: np.ndarray
    fake_account: np.ndarray
    account_created_at: np.ndarray
    account_device: np.ndarray
    item_created_at: np.ndarray
    item_creator: np.ndarray
    t0: float


@dataclass(frozen=True)
class RunPlan:
    """What one run needs from the experiment around it: targets, rounds and readouts.

    Built by the harness (:meth:`boostbench.scenario.Scenario.plan`); the loop
    knows no scenario.

    Attributes
    ----------
    targets : int64[n]
        Low-quality items a promoting attack boosts.
    rival_targets : int64[n]
        Good items a demoting attack (mass reports) sinks.
    round_times : float64[n_rounds]
        End of each round (the ranker scores then), seconds from the epoch.
    round_length : float
        Seconds per round.
    attack_window : (float, float)
        Start and end of the attack window.
    eval_round : int
        Last round of the attack window (end-of-campaign readouts).
    eligibility_hours : float
        Items posted within this many hours are ranked.
    k : int
        Feed length the top-k metrics read.
    low_quality_quantile : float
        Quality quantile below which an item counts as low quality.
    """

    targets: np.ndarray
    rival_targets: np.ndarray
    round_times: np.ndarray
    round_length: float
    attack_window: tuple
    eval_round: int
    eligibility_hours: float
    k: int
    low_quality_quantile: float

    @property
    def n_rounds(self) -> int:
        return len(self.round_times)

    @property
    def end(self) -> float:
        """End of the horizon: the last round's end."""
        return float(self.round_times[-1])


class RunBase:
    """What a clean run and its attacked twins share: world, plan, history aggregates.

    Parameters
    ----------
    world : World
    plan : RunPlan
    rng : Generator or seed
        Source of the replay window's organic events (drawn on first use).
    """

    def __init__(self, world: World, plan: RunPlan, rng):
        self.world = world
        self.plan = plan
        self.end = plan.end
        if self.end > world.config.t_end + 1e-6:
            hours = (self.end - world.t0) / HOUR
            raise InvalidParameter(f"The run's horizon ({hours:g} h after t0) needs a world with "
                                   f"future_hours >= {hours:g}.", name="horizon_hours")
        self._rng = np.random.default_rng(rng)
        self.shared: dict = {}       # ranking-independent work runs of this base share
        self.targets = plan.targets
        self.rival_targets = plan.rival_targets
        self.round_times = plan.round_times
        _, acc, itm, kind, value = world.history.columns()
        self.n_items = n_items = len(world.items)
        universe = len(world.accounts) * n_items
        keys = pair_keys(acc, itm, n_items)
        self.history_seen = pair_set(keys[kind == EventKind.IMPRESSION],
                                     n_rows=len(world.accounts), n_items=n_items)
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
        # a typical displayed like count at t0, from the organic history only: the same in
        # every run of this base (campaign events never move it)
        counts = self.history_aggs["counts"]
        self.herding_ref = herding_reference(counts[:, EventKind.LIKE],
                                             counts[:, EventKind.IMPRESSION],
                                             self.observation_at_start().eligible)

    def place(self, campaign: Campaign | None, skip: int = 0) -> Campaign | None:
        """The campaign with the accounts it brought on the world's reserved rows and its
        devices on reserved device ids (the attacker numbers them after the observed table;
        ids then say nothing about who is behind an account). A campaign larger than the
        reserve gets rows and device ids past the table. ``skip``: reserved rows (and devices)
        another campaign in the same run already took."""
        if campaign is None or campaign.n_new_accounts == 0 or campaign.new_rows is not None:
            return campaign
        w = self.world
        n, k = len(w.accounts), campaign.n_new_accounts
        res = w.reserved_rows[skip:]
        rows = np.concatenate([res[:k], n + np.arange(max(0, k - res.size))]).astype(np.int64)
        local = np.asarray(campaign.new_device, np.int64)
        n_dev = int(local.max()) + 1 if local.size else 0
        rdev = w.reserved_devices[skip:]
        top = int(max(w.accounts.device.max(initial=-1), w.reserved_devices.max(initial=-1)))
        dev = np.concatenate([rdev[:n_dev], top + 1 + np.arange(max(0, n_dev - rdev.size))])
        account = np.asarray(campaign.account, np.int64)
        account = np.where(account >= n, rows[np.clip(account - n, 0, k - 1)], account)
        return replace(campaign, account=account, new_device=dev[local].astype(np.int32),
                       new_rows=rows)

    @cached_property
    def window(self) -> EventLog:
        """Open-loop organic events of the whole horizon (replay only): drawn, or a recorded
        log's window."""
        if self.world.recorded is not None:
            return self.world.recorded.window
        return organic_events(self.world, self.world.t0, self.end, self._rng,
                              seen=self.history_seen)

    def targets_for(self, goal: str):
        """Targets of an attack with this goal (low-quality posts, or a rival's good posts)."""
        return self.targets if goal == "promote" else self.rival_targets

    def observation_at_start(self, reveal=None) -> Observation:
        """The public view at ``t0``, which a fixed attacker sees before buying. Future items
        are hidden except ``reveal`` (default: the targets, which an attacker posts itself
        or watches for)."""
        w = self.world
        if reveal is None:
            reveal = np.concatenate([self.targets, self.rival_targets])
        cache = dict(self.history_aggs, viewed_before=self.history_vb)
        return Observation(w.items, w.accounts, w.history, w.t0, n=len(w.history),
                           eligibility_hours=self.plan.eligibility_hours, cache=cache,
                           reveal=reveal)


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
        self.aggs = Aggregates(base.n_items, base.history_aggs)   # brought forward when asked
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
            self.aggs.extend(p_itm, p_kind, p_val, vb_pre)
        self.accounts = w.accounts
        if campaign is not None and campaign.n_new_accounts:
            self.accounts = w.accounts.fill(campaign.new_rows, campaign.new_created_at,
                                            campaign.new_device, campaign.new_topic)

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
        n = n0 + len(vb)
        _, _, item, kind, _ = (c[n0:n] for c in self.log.columns(n))   # views of the log
        # the values as given (float64), not the log's float32 copy: the aggregates have
        # always summed these (a change of numbers is a scenario version's business)
        self.aggs.extend(item, kind, np.asarray(cols[4]), self._vb[n0:n])

    def reach(self, targets, exposure, campaign_items) -> dict:
        """Trajectory reach fields: distinct accounts with an organic impression over the
        horizon of each target and of the most exposed organic item, and the number of
        accounts with any organic impression over the horizon."""
        t, acc, itm, kind, _ = self.log.columns()
        n0 = int(np.searchsorted(t, self.base.world.t0, side="left"))   # the log is time-sorted
        imp = np.flatnonzero(kind[n0:] == EventKind.IMPRESSION) + n0
        imp = imp[~self._fake[imp]]
        acc, itm = acc[imp], itm[imp]
        total = exposure.sum(axis=0)
        total[np.concatenate([targets, campaign_items]).astype(np.int64)] = -1
        items = np.append(targets, np.argmax(total)).astype(np.int64)
        hit = np.isin(itm, items)
        pairs = distinct(pair_keys(acc[hit], itm[hit], self.base.n_items)) % self.base.n_items
        per_item = np.bincount(pairs, minlength=self.base.n_items)
        active = int(np.count_nonzero(np.bincount(acc, minlength=1)))
        return dict(reach_items=items, reach=per_item[items].astype(np.int64),
                    active_accounts=active)

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
            weight=audit.weight[acts], weighed=_weighed(ranker, kind[acts]),
            fake=self._fake[acts].copy(),
            banned_at=audit.banned_at, penalised=audit.penalised,
            fake_account=fake_accounts(obs.n_accounts, campaign),
            account_created_at=obs.accounts.created_at, account_device=obs.accounts.device,
            item_created_at=w.items.created_at, item_creator=w.items.creator, t0=w.t0)

    def traffic(self) -> tuple:
        """``(t, account, item, kind, value, is_campaign)`` of the run's whole log: the organic
        history, the window and every campaign event (aged bots' camouflage before the
        window too) — the labelled traffic a team can test its own detectors on, and a log
        ``boostbench run --log`` reads back."""
        n = len(self.log)
        return (*self.log.columns(), self._fake[:n].copy())

    def observation(self, now: float) -> Observation:
        cache = self.aggs.snapshot()
        cache["viewed_before"] = self._vb[: len(self.log)]  # a view: later appends go past it
        w = self.base.world
        return Observation(w.items, self.accounts, self.log, now, n=len(self.log),
                           eligibility_hours=self.base.plan.eligibility_hours, cache=cache)


def fake_accounts(n_accounts: int, campaign: Campaign | None) -> np.ndarray:
    """bool per account row: a campaign account (one it brought, placed on a reserved row,
    or an organic account it recruited)."""
    out = np.zeros(n_accounts, bool)
    if campaign is not None:
        out[_rows(campaign)] = True
        out[np.asarray(campaign.recruited, np.int64)] = True
    return out


def _rows(campaign: Campaign) -> np.ndarray:
    rows = getattr(campaign, "new_rows", None)
    return np.zeros(0, np.int64) if rows is None else np.asarray(rows, np.int64)


def _campaign_log(c: Campaign | None, t0: float) -> EventLog:
    """The campaign's events in the window (``t >= t0``); earlier ones join the history."""
    if c is None or c.n_events == 0:
        return EventLog()
    m = c.t >= t0
    return EventLog.from_arrays(c.t[m], c.account[m], c.item[m], c.kind[m], c.value[m])


def mirrors(c: Campaign | None) -> bool:
    """The campaign has accounts that mirror established ones (aged bots' everyday life)."""
    return c is not None and c.life is not None and bool((c.life.templates >= 0).any())


class Mirroring:
    """A placed campaign's :attr:`~boostbench.attacks.base.Campaign.life` in a run: whom its
    accounts mirror each day — on a day with paid work, an established account active that
    day (the loop's activity draws, keyed by ``key``) — and their copies of organic events."""

    def __init__(self, world: World, c: Campaign, key: int):
        self.world, self.c, self.key = world, c, int(key)
        w = world
        self._established = np.flatnonzero(
            w.truth.organic & (w.accounts.created_at <= w.t0 - c.life.established_days * DAY))
        paid = np.isin(c.item, c.targets) & (c.t >= w.t0)
        self._paid_account = c.account[paid]
        self._paid_day = np.floor(c.t[paid] / DAY).astype(np.int64)
        self._days = {}

    def templates(self, day: int) -> np.ndarray:
        """Whom each new account mirrors on ``day`` (days since the epoch)."""
        if day not in self._days:
            w, c = self.world, self.c
            busy = np.isin(c.new_rows, self._paid_account[self._paid_day == day])
            est = self._established
            active = est[active_on(w.config, self.key, w.accounts, w.truth.keeper, est, day)]
            self._days[day] = c.life.on_day(busy, active, w.accounts.topic, self.key, day)
        return self._days[day]

    def events(self, cols, before=None):
        """The copies of organic events ``cols`` (``(t, account, item, kind, value)``, every
        pair's events complete); substitutes come from the impressions among ``cols`` and
        ``before`` (the same columns of the hour before)."""
        t = np.asarray(cols[0])
        d0, d1 = (int(np.floor(x / DAY)) for x in (t.min(), t.max())) if t.size else (0, 0)
        tpl = np.stack([self.templates(d) for d in range(d0, d1 + 1)], axis=1)
        w, c = self.world, self.c
        return c.life.copies(cols, before, c.new_rows, c.new_created_at, tpl, w.accounts.topic,
                             w.items.created_at, self.key, d0)


def history_tail(world: World, hours: float) -> list:
    """The history's columns in the ``hours`` before ``t0``."""
    h = world.history.columns()
    return [x[int(np.searchsorted(h[0], world.t0 - hours * HOUR, side="left")):] for x in h]


def with_mirrored(base: "RunBase", c: Campaign | None) -> Campaign | None:
    """The placed campaign with its mirroring accounts' copies of the whole open-loop window
    (replay: the organic events are known in advance)."""
    if not mirrors(c):
        return c
    w = base.world
    m = Mirroring(w, c, w.seed).events(base.window.columns(),
                                       history_tail(w, c.life.candidate_hours))
    return replace(c, **{f: np.concatenate([getattr(c, f), x]) for f, x in
                         zip(("t", "account", "item", "kind", "value"), m)})


def _pre_window(c: Campaign | None, t0: float) -> EventLog:
    """The campaign's events before the window (e.g. aged bots' camouflage history)."""
    if c is None or c.n_events == 0 or not (c.t < t0).any():
        return EventLog()
    m = c.t < t0
    return EventLog.from_arrays(c.t[m], c.account[m], c.item[m], c.kind[m], c.value[m])


_IMPRESSION_KINDS = kind_table([EventKind.IMPRESSION])
_ENGAGEMENT_KINDS = kind_table(ENGAGEMENT)


def _weighed(ranker, kind: np.ndarray) -> np.ndarray:
    """bool per act: its kind is one the ranker's defences weigh (every act when it does not
    say which)."""
    kinds = getattr(ranker, "kinds", None)
    return np.ones(kind.size, bool) if kinds is None else kind_mask(kind, kinds)


def _per_round(item, kind, organic, kinds, n_items) -> np.ndarray:
    """Per-item count of the organic events whose kind is in ``kinds`` (a kind list or mask)."""
    m = organic & kind_mask(kind, kinds)
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


def _n_actions(kind, t, end, item, targets) -> tuple[int, int]:
    """Events other than impressions and views delivered before ``end``: all of them, and
    those aimed at ``targets``."""
    act = (kind != EventKind.IMPRESSION) & (kind != EventKind.VIEW) & (t < end)
    return int(np.count_nonzero(act)), int(np.count_nonzero(act & np.isin(item, targets)))


def _trajectory(base, ranker, campaign, ranks, exposure, engagement, mode, seed,
                reactive=None, defence=None, reach=None, personal_hits=None,
                queries: int = 0, touched=None) -> Trajectory:
    """Assemble a Trajectory; ``reactive`` = (extra spend dict, extra fake actions, of them
    aimed at the targets) of a policy; ``queries``: what-if queries it spent; ``touched``:
    the items the campaign acted on, when more than its events' (copies made in the loop)."""
    plan = base.plan
    fake, aimed = (0, 0) if campaign is None else _n_actions(
        campaign.kind, campaign.t, base.end, campaign.item, campaign.targets)
    spend = {} if campaign is None else dict(campaign.spend)
    if reactive is not None:
        for unit, v in reactive[0].items():
            spend[unit] = spend.get(unit, 0.0) + v
        fake += reactive[1]
        aimed += reactive[2]
    return Trajectory(
        ranker=getattr(ranker, "name", str(ranker)),
        attack=None if campaign is None else campaign.attack,
        seed=seed, budget=0.0 if campaign is None else campaign.budget,
        ranks=ranks, exposure=exposure, engagement=engagement, round_times=base.round_times,
        targets=base.targets if campaign is None else campaign.targets,
        eval_round=plan.eval_round, k=plan.k,
        low_quality_quantile=plan.low_quality_quantile, mode=mode,
        spend=float(sum(spend.values())), spend_items=spend, fake_actions=fake,
        aimed_actions=aimed, queries=int(queries),
        shadow_priced=bool(campaign is not None and campaign.shadow_priced), defence=defence,
        **(reach or {}),
        **({} if personal_hits is None else dict(personal_hits=personal_hits)),
        **({} if campaign is None else dict(
            campaign_items=distinct(campaign.item if touched is None else touched),
            new_rows=_rows(campaign),
            account_price=campaign.account_price, account_uses=campaign.account_uses)))


