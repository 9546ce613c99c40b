"""Defences: event-weight transforms a platform puts in front of any scorer.

A defence only ever *lowers* event weights (DESIGN §3). It declares

- a **schedule**: ``inline`` (every event, no delay — caps, ``require_view``) or
  ``batch`` (runs every ``every_hours`` on the data up to ``lag_hours`` before the
  run — ``lockstep``, ``dense_block``, the calibrated oracle);
- an **action**: ``discount`` (per-event multipliers), ``ban`` (flagged accounts'
  engagement is removed from the detection on; with ``clawback`` their past
  engagement too) or ``penalise`` (flagged items are ranked below every
  unflagged item).

Inline defences are *causal*: an event's multiplier depends only on events at or
before it, so :class:`~boostbench.rankers.Pipeline` computes each event's weight
once (a round costs its new events). Their ``weights(obs, start, state)`` returns
multipliers for events ``start..n`` and may keep running totals in ``state``, a
dict the pipeline keeps per event stream. Batch defences implement
``detect(obs) -> Detection`` on a prefix observation.

Every default marked [?] is an assumption, not a published figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .._core.arrays import KeySet, distinct, first_occurrence, rank_within_runs, run_starts
from .._core.random import STREAMS, hash_uniforms
from .._core.units import DAY, HOUR
from ..errors import InvalidParameter
from .._core.params import check_choice, check_int, check_real
from ..events import ENGAGEMENT, N_KINDS, EventKind, kind_table
from ..observation import Observation
from ..plugins import DEFENCES
from .fraudar import densest_block

__all__ = ["Schedule", "Detection", "VelocityCap", "AccountTrust", "DeviceDedup", "RequireView",
           "AudienceDiversity", "Lockstep", "DenseBlock", "CalibratedDetector", "ACTS",
           "INLINE", "ACTIONS"]

K = EventKind
#: The engagement acts a defence looks at by default (what attackers buy).
ACTS = ENGAGEMENT
_NEGATIVE = (K.REPORT, K.NOT_INTERESTED)
ACTIONS = ("discount", "ban", "penalise")
_S_CAUGHT = STREAMS.claim("detector", "calibrated_detector.caught", 41)


@dataclass(frozen=True)
class Schedule:
    """When a defence runs: ``inline`` on every event, or ``batch`` every N hours on lagged data."""

    kind: str = "inline"
    every_hours: float = 0.0
    lag_hours: float = 0.0

    def __post_init__(self):
        check_choice("kind", self.kind, ("inline", "batch"), where="Schedule")
        if self.kind == "batch":
            check_real("every_hours", self.every_hours, low=0.0, low_open=True, where="Schedule")
            check_real("lag_hours", self.lag_hours, low=0.0, where="Schedule")

    def describe(self) -> str:
        if self.kind == "inline":
            return "inline"
        return f"batch every {self.every_hours:g} h, lag {self.lag_hours:g} h"


INLINE = Schedule()


@dataclass(frozen=True)
class Detection:
    """What one batch run flagged: account ids and item ids."""

    accounts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _kind_mask(kind: np.ndarray, kinds) -> np.ndarray:
    return kind_table(kinds)[kind]


def _check_kinds(kinds, where):
    kinds = tuple(int(k) for k in kinds)
    if not kinds or any(k < 0 or k >= N_KINDS for k in kinds):
        raise InvalidParameter(f"The 'kinds' parameter of {where} must be a non-empty tuple of "
                               f"EventKind values in [0, {N_KINDS - 1}]. Got {kinds} instead.",
                               name="kinds")
    return kinds


def _ones(n):
    return np.ones(n, np.float32)


# --- inline defences ---------------------------------------------------------

@DEFENCES.register("velocity_cap")
@dataclass(frozen=True)
class VelocityCap:
    """Per-account action cap: acts past ``max_actions`` in a trailing window weigh 0.

    WeChat-style "you are liking too fast". Every attempt counts toward the cap
    (blocked ones too). Defaults: 20 acts per hour [?] — an organic heavy user
    sees about 25 impressions an hour and likes under 2% of them (CALIBRATION.md),
    so the cap binds only scripted accounts.
    """

    max_actions: int = 20
    window_hours: float = 1.0
    kinds: tuple = ACTS
    name: str = "velocity_cap"
    schedule: Schedule = INLINE
    action: str = "discount"

    def __post_init__(self):
        check_int("max_actions", self.max_actions, low=1, where="VelocityCap")
        check_real("window_hours", self.window_hours, low=0.0, low_open=True, where="VelocityCap")
        object.__setattr__(self, "kinds", _check_kinds(self.kinds, "VelocityCap"))

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        t, acc, _, kind, _ = obs.events
        n = obs.n_events
        out = _ones(n - start)
        if n == start:
            return out
        window = self.window_hours * HOUR
        lo = int(np.searchsorted(t, t[start] - window, side="right"))
        idx = lo + np.flatnonzero(_kind_mask(kind[lo:], self.kinds))
        if idx.size == 0:
            return out
        a, tt = acc[idx].astype(np.int64), t[idx]
        order = np.lexsort((idx, a))            # by account, then log order (= time order)
        a, tt, idx = a[order], tt[order], idx[order]
        # acts of the same account in (t - window, t], counting itself. Exact integer keys
        # (account group, rank of the time among the times and window starts): a float key
        # ``account * span + t`` rounds at large ids and spans and misplaces acts exactly
        # one window apart, differently from one call to the next.
        m = tt.size
        vals, rank = np.unique(np.concatenate([tt, tt - window]), return_inverse=True)
        group = (np.cumsum(run_starts(a)) - 1).astype(np.int64)
        base = group * np.int64(vals.size + 1)
        key = base + rank[:m]
        in_window = np.arange(m) - np.searchsorted(key, base + rank[m:], side="right") + 1
        over = (in_window > self.max_actions) & (idx >= start)
        out[idx[over] - start] = 0.0
        return out


@DEFENCES.register("account_trust")
@dataclass(frozen=True)
class AccountTrust:
    """Discount acts of young accounts and accounts with little viewing history.

    ``weight = min(1, age / full_trust_days) * min(1, (views + 1) / full_trust_views)``
    with ``age`` the account's age at the act and ``views`` its VIEW events before
    the act. Defaults 30 days and 20 views [?]: fresh bot accounts weigh ~0;
    aged bots with camouflage history pass — which is why they are bought.
    """

    full_trust_days: float = 30.0
    full_trust_views: int = 20
    kinds: tuple = ACTS + _NEGATIVE
    name: str = "account_trust"
    schedule: Schedule = INLINE
    action: str = "discount"

    def __post_init__(self):
        check_real("full_trust_days", self.full_trust_days, low=0.0, low_open=True,
                   where="AccountTrust")
        check_int("full_trust_views", self.full_trust_views, low=1, where="AccountTrust")
        object.__setattr__(self, "kinds", _check_kinds(self.kinds, "AccountTrust"))

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        t, acc, _, kind, _ = (c[start:] for c in obs.events)
        n_acc = obs.n_accounts
        views = state.get("views")
        if views is None or views.size < n_acc:
            grown = np.zeros(n_acc, np.int64)
            if views is not None:
                grown[:views.size] = views
            views = grown
        is_view = kind == K.VIEW
        # views of the account before each event: earlier batches + earlier in this batch
        order = np.argsort(acc, kind="stable")
        a_sorted, v_sorted = acc[order], is_view[order].astype(np.int64)
        csum = np.cumsum(v_sorted) - v_sorted
        first = np.arange(a_sorted.size) - rank_within_runs(a_sorted)
        before = np.empty(acc.size, np.int64)
        before[order] = csum - (csum[first] if first.size else 0) + views[a_sorted]
        views = views + np.bincount(acc[is_view], minlength=n_acc)
        state["views"] = views
        age = (t - obs.accounts.created_at[acc]) / (self.full_trust_days * DAY)
        w = np.minimum(1.0, np.maximum(age, 0.0)) * np.minimum(
            1.0, (before + 1) / self.full_trust_views)
        out = _ones(acc.size)
        m = _kind_mask(kind, self.kinds)
        out[m] = w[m]
        return out


@DEFENCES.register("device_dedup")
@dataclass(frozen=True)
class DeviceDedup:
    """One device, one vote per item and kind: later acts from the same device weigh 0.

    Accounts share device fingerprints (organic households share too:
    ``WorldConfig.device_shares``), so this has honest collateral by design.
    """

    kinds: tuple = ACTS + _NEGATIVE
    name: str = "device_dedup"
    schedule: Schedule = INLINE
    action: str = "discount"

    def __post_init__(self):
        object.__setattr__(self, "kinds", _check_kinds(self.kinds, "DeviceDedup"))

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        _, acc, item, kind, _ = (c[start:] for c in obs.events)
        out = _ones(acc.size)
        idx = np.flatnonzero(_kind_mask(kind, self.kinds))
        if idx.size == 0:
            return out
        dev = obs.accounts.device[acc[idx]].astype(np.int64)
        keys = (dev * obs.n_items + item[idx]) * N_KINDS + kind[idx]
        seen = state.setdefault("seen", KeySet())
        dup = seen.contains(keys) | ~first_occurrence(keys)
        seen.add(keys)
        out[idx[dup]] = 0.0
        return out


@DEFENCES.register("require_view")
@dataclass(frozen=True)
class RequireView:
    """No act without a view: acts whose account had not viewed the item weigh 0.

    Catches API exploits (likes sent straight to the endpoint); bought views
    (engagement services) pass it.
    """

    kinds: tuple = ACTS
    name: str = "require_view"
    schedule: Schedule = INLINE
    action: str = "discount"

    def __post_init__(self):
        object.__setattr__(self, "kinds", _check_kinds(self.kinds, "RequireView"))

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        kind = obs.events[3][start:]
        vb = obs.viewed_before()[start:]
        return np.where(_kind_mask(kind, self.kinds) & ~vb, 0.0, 1.0).astype(np.float32)


_CLUSTERS = ("topic", "device", "cohort")


@DEFENCES.register("audience_diversity")
@dataclass(frozen=True)
class AudienceDiversity:
    """Sublinear aggregation per account cluster: n acts from one cluster count n**exponent.

    The j-th act of a kind on an item from a cluster weighs
    ``j**exponent - (j-1)**exponent`` (causal, sums to ``n**exponent``).
    Clusters: ``topic`` (the account's main interest, public), ``device`` or
    ``cohort`` (creation week). Exponent 0.5 [?].
    """

    cluster: str = "topic"
    exponent: float = 0.5
    kinds: tuple = ACTS
    name: str = "audience_diversity"
    schedule: Schedule = INLINE
    action: str = "discount"

    def __post_init__(self):
        check_choice("cluster", self.cluster, _CLUSTERS, where="AudienceDiversity")
        check_real("exponent", self.exponent, low=0.0, high=1.0, where="AudienceDiversity")
        object.__setattr__(self, "kinds", _check_kinds(self.kinds, "AudienceDiversity"))

    def _cluster(self, obs, acc):
        a = obs.accounts
        if self.cluster == "topic":
            return a.topic[acc].astype(np.int64)
        if self.cluster == "device":
            return a.device[acc].astype(np.int64)
        return np.floor(a.created_at[acc] / (7 * DAY)).astype(np.int64) + 1_000_000

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        _, acc, item, kind, _ = (c[start:] for c in obs.events)
        out = _ones(acc.size)
        idx = np.flatnonzero(_kind_mask(kind, self.kinds))
        if idx.size == 0:
            return out
        keys = (self._cluster(obs, acc[idx]) * obs.n_items + item[idx]) * N_KINDS + kind[idx]
        uk, inv, cnt = np.unique(keys, return_inverse=True, return_counts=True)
        old_k = state.get("keys", np.zeros(0, np.int64))
        old_c = state.get("counts", np.zeros(0, np.int64))
        prev = np.zeros(uk.size, np.int64)
        if old_k.size:
            pos = np.minimum(np.searchsorted(old_k, uk), old_k.size - 1)
            prev = np.where(old_k[pos] == uk, old_c[pos], 0)
        order = np.argsort(inv, kind="stable")
        rank_in_batch = np.empty(idx.size, np.int64)
        rank_in_batch[order] = np.arange(idx.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        j = (prev[inv] + rank_in_batch + 1).astype(np.float64)
        # (j-1)**a with j = 1 is 0 (0**0 would be 1 and zero the first act when a = 0)
        below = np.where(j > 1, (j - 1) ** self.exponent, 0.0)
        out[idx] = (j ** self.exponent - below).astype(np.float32)
        # merge the running counts (sorted keys, no per-key Python)
        all_k = np.concatenate([old_k, uk])
        all_c = np.concatenate([old_c, cnt])
        mk, minv = np.unique(all_k, return_inverse=True)
        state["keys"], state["counts"] = mk, np.bincount(minv, all_c).astype(np.int64)
        return out


# --- batch defences ------------------------------------------------------------

_BATCH_6H = Schedule("batch", every_hours=6.0, lag_hours=1.0)


def _window_acts(obs: Observation, lookback_hours: float, kinds):
    """(account, item, t) of the acts of ``kinds`` in the last ``lookback_hours`` of ``obs``."""
    t, acc, item, kind, _ = obs.events
    lo = int(np.searchsorted(t, obs.now - lookback_hours * HOUR, side="right"))
    m = _kind_mask(kind[lo:], kinds)
    return acc[lo:][m].astype(np.int64), item[lo:][m].astype(np.int64), t[lo:][m]


@DEFENCES.register("lockstep")
@dataclass(frozen=True)
class Lockstep:
    """CopyCatch-style lockstep detection: groups acting on the same items at the same time.

    Acts are bucketed into (item, ``window_hours`` time bucket) cells. Two accounts
    are linked when they share at least ``min_items`` cells *and* those are at
    least ``min_overlap`` of the cells of the less active one (so two heavy users
    who both liked three trending posts are not linked: the feed itself makes
    honest users co-act); connected groups of at least ``min_group`` accounts are
    banned (Beutel et al., "CopyCatch", WWW 2013, with fixed buckets instead of
    per-item centres). Defaults: 2 h buckets, 3 shared items, groups of 8, over the
    last 72 h, run every 6 h on data 1 h old [?]. Chosen on the default world: they
    flag no organic account at t0 and catch every bot-farm and API-exploit account
    (with 6 h buckets and no overlap rule, 55 of its 1,000 organic accounts were
    flagged).
    """

    window_hours: float = 2.0
    min_items: int = 3
    min_overlap: float = 0.5
    min_group: int = 8
    lookback_hours: float = 72.0
    kinds: tuple = ACTS
    clawback: bool = True
    name: str = "lockstep"
    schedule: Schedule = _BATCH_6H
    action: str = "ban"

    def __post_init__(self):
        check_real("window_hours", self.window_hours, low=0.0, low_open=True, where="Lockstep")
        check_int("min_items", self.min_items, low=1, where="Lockstep")
        check_real("min_overlap", self.min_overlap, low=0.0, high=1.0, where="Lockstep")
        check_int("min_group", self.min_group, low=2, where="Lockstep")
        check_real("lookback_hours", self.lookback_hours, low=0.0, low_open=True, where="Lockstep")
        object.__setattr__(self, "kinds", _check_kinds(self.kinds, "Lockstep"))
        # a batch run flags accounts; it has no per-event multipliers to discount with
        check_choice("action", self.action, ("ban",), where="Lockstep")

    def detect(self, obs: Observation) -> Detection:
        acc, item, t = _window_acts(obs, self.lookback_hours, self.kinds)
        if acc.size == 0:
            return Detection()
        cell = item * np.int64(1 << 20) + np.floor(t / (self.window_hours * HOUR)).astype(np.int64)
        pair = distinct(acc * np.int64(1 << 40) + np.unique(cell, return_inverse=True)[1])
        a, c = pair >> 40, pair & ((1 << 40) - 1)
        ua, ai = np.unique(a, return_inverse=True)
        m = sparse.csr_matrix((np.ones(a.size, np.int32), (ai, c)), shape=(ua.size, int(c.max()) + 1))
        co = (m @ m.T).tocoo()
        cells = np.asarray(m.sum(axis=1)).ravel()           # cells per account
        smaller = np.minimum(cells[co.row], cells[co.col])
        keep = ((co.row != co.col) & (co.data >= self.min_items)
                & (co.data >= self.min_overlap * smaller))
        if not keep.any():
            return Detection()
        g = sparse.csr_matrix((np.ones(int(keep.sum()), np.int8), (co.row[keep], co.col[keep])),
                              shape=(ua.size, ua.size))
        _, label = connected_components(g, directed=False)
        group_size = np.bincount(label)
        linked = np.zeros(ua.size, bool)
        linked[co.row[keep]] = True
        flagged = linked & (group_size[label] >= self.min_group)
        return Detection(accounts=ua[flagged])


@DEFENCES.register("dense_block")
@dataclass(frozen=True)
class DenseBlock:
    """FRAUDAR: the densest account x item block, found by greedy peeling.

    Edges are distinct (account, item) acts in the last ``lookback_hours``; an
    item's edges weigh ``1 / log(degree + 5)`` so camouflage on popular items adds
    little (Hooi et al., "FRAUDAR", KDD 2016). Up to ``max_blocks`` blocks are
    peeled off in turn; a block's accounts are banned when its density
    (weighted edges per node) is at least ``min_density`` and it holds at least
    ``min_accounts`` accounts. Defaults 2.5 and 5 [?], set above the organic core
    of the default world (its densest block: 650-700 accounts x ~950 items,
    density 2.1 over 72 h). The $5 campaigns of the default scenario form
    sparser blocks (0.6-1.2), so there this defence catches only dense attacks
    (large rings, many targets per account) — measured, not assumed.
    """

    min_density: float = 2.5
    min_accounts: int = 5
    max_blocks: int = 3
    lookback_hours: float = 72.0
    kinds: tuple = ACTS
    clawback: bool = True
    name: str = "dense_block"
    schedule: Schedule = _BATCH_6H
    action: str = "ban"

    def __post_init__(self):
        check_real("min_density", self.min_density, low=0.0, low_open=True, where="DenseBlock")
        check_int("min_accounts", self.min_accounts, low=1, where="DenseBlock")
        check_int("max_blocks", self.max_blocks, low=1, high=100, where="DenseBlock")
        check_real("lookback_hours", self.lookback_hours, low=0.0, low_open=True,
                   where="DenseBlock")
        object.__setattr__(self, "kinds", _check_kinds(self.kinds, "DenseBlock"))
        check_choice("action", self.action, ("ban", "penalise"), where="DenseBlock")

    def detect(self, obs: Observation) -> Detection:
        acc, item, _ = _window_acts(obs, self.lookback_hours, self.kinds)
        accounts, items = [], []
        pairs = distinct(acc * np.int64(obs.n_items) + item)
        a, i = pairs // obs.n_items, pairs % obs.n_items
        for _ in range(self.max_blocks):
            if a.size == 0:
                break
            rows, cols, density = densest_block(a, i)
            if density < self.min_density or rows.size < self.min_accounts:
                break
            accounts.append(rows)
            items.append(cols)
            keep = ~np.isin(a, rows)
            a, i = a[keep], i[keep]
        cat = lambda x: np.concatenate(x) if x else np.zeros(0, np.int64)  # noqa: E731
        return Detection(accounts=cat(accounts), items=cat(items))


@DEFENCES.register("calibrated_detector")
@dataclass(frozen=True)
class CalibratedDetector:
    """ORACLE: flags fake accounts at a stated operating point (reads Truth).

    Each campaign account is caught with probability ``tpr``, ``latency_hours``
    after its first act in the window; each organic account is flagged with
    probability ``fpr`` at its first act in the window. Lets a team plug in its
    production detector's measured rates. The simulator binds the labels
    (:meth:`bind`); every result that uses it is marked as an oracle.

    The window starts at ``since`` (bound with the labels): acts before it, such
    as the history of organic accounts a campaign recruits, do not start the
    clock. Left unset (None: every act counts), a recruited account's old first act
    makes it "due" at the first run, before it has done anything for the campaign.
    """

    tpr: float = 0.8
    fpr: float = 0.001
    latency_hours: float = 6.0
    seed: int = 0
    clawback: bool = True
    name: str = "calibrated_detector"
    schedule: Schedule = Schedule("batch", every_hours=1.0, lag_hours=0.0)
    action: str = "ban"
    oracle: bool = True
    fake: np.ndarray | None = field(default=None, repr=False, compare=False)
    since: float | None = None

    def __post_init__(self):
        check_real("tpr", self.tpr, low=0.0, high=1.0, where="CalibratedDetector")
        check_real("fpr", self.fpr, low=0.0, high=1.0, where="CalibratedDetector")
        check_real("latency_hours", self.latency_hours, low=0.0, where="CalibratedDetector")
        check_int("seed", self.seed, low=0, where="CalibratedDetector")
        if self.since is not None:
            object.__setattr__(self, "since", check_real("since", self.since,
                                                         where="CalibratedDetector"))

    def bind(self, fake: np.ndarray, since: float | None = None) -> "CalibratedDetector":
        """A copy that knows which accounts are fake (bool per account) and, optionally,
        when the window starts (``since``; see the class docstring)."""
        from dataclasses import replace
        return replace(self, fake=np.asarray(fake, bool),
                       since=self.since if since is None else since)

    def detect(self, obs: Observation) -> Detection:
        if self.fake is None:
            raise InvalidParameter("calibrated_detector is an oracle: the simulator must bind "
                                   "the fake-account labels before it runs.", name="fake")
        t, acc, _, kind, _ = obs.events
        m = _kind_mask(kind, ACTS + _NEGATIVE)
        if self.since is not None:
            m &= t >= self.since
        a, ta = acc[m], t[m]
        n = obs.n_accounts
        first = np.full(n, np.inf)
        np.minimum.at(first, a, ta)
        fake = np.zeros(n, bool)
        fake[: min(n, self.fake.size)] = self.fake[:n]
        u = hash_uniforms(self.seed, _S_CAUGHT, np.arange(n, dtype=np.int64))
        caught = np.where(fake, u < self.tpr, u < self.fpr)
        due = first + np.where(fake, self.latency_hours * HOUR, 0.0)
        return Detection(accounts=np.flatnonzero(caught & (due <= obs.now)))
