"""Inline defences: causal per-event discounts, applied as events arrive.

Every default marked [?] is an assumption, not a published figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..._core.arrays import (KeySet, first_occurrence, run_starts,
                             stable_argsort)
from ..._core.params import Interval, Options, declare
from ..._core.units import DAY, HOUR
from ...events import EventKind as K
from ...observation import Observation
from ...plugins import DEFENCES
from .base import ACTS, NEGATIVE, POSITIVE, InlineDefence, group_keys, kind_mask, ones

__all__ = ["VelocityCap", "AccountTrust", "DeviceDedup", "RequireView", "AudienceDiversity"]


@DEFENCES.register("velocity_cap")
@dataclass(frozen=True, kw_only=True)
@declare(max_actions=Interval(int, 1, None), window_hours=POSITIVE)
class VelocityCap(InlineDefence):
    """Per-account action cap: acts past ``max_actions`` in a trailing window weigh 0.

    WeChat-style "you are liking too fast". Every attempt counts toward the cap
    (blocked ones too). Defaults: 20 acts per hour [?] — an organic heavy user
    sees about 25 impressions an hour and likes under 2% of them (KuaiRand, Tenrec [D]),
    so the cap binds only scripted accounts.
    """

    max_actions: int = 20
    window_hours: float = 1.0
    name: str = "velocity_cap"

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        t, acc, _, kind, _ = obs.events
        n = obs.n_events
        out = ones(n - start)
        if n == start:
            return out
        window = self.window_hours * HOUR
        lo = int(np.searchsorted(t, t[start] - window, side="right"))
        idx = lo + np.flatnonzero(kind_mask(kind[lo:], self.kinds))
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
@dataclass(frozen=True, kw_only=True)
@declare(full_trust_days=POSITIVE, full_trust_views=Interval(int, 1, None))
class AccountTrust(InlineDefence):
    """Discount acts of young accounts and accounts with little viewing history.

    ``weight = min(1, age / full_trust_days) * min(1, (views + 1) / full_trust_views)``
    with ``age`` the account's age at the act and ``views`` its VIEW events before
    the act. Defaults 30 days and 20 views [?]: fresh bot accounts weigh ~0;
    aged bots with camouflage history pass — which is why they are bought.
    """

    #: what it reads that a recorded log may lack (boostbench.recorded.needs)
    needs: ClassVar[tuple] = ("ages",)

    full_trust_days: float = 30.0
    full_trust_views: int = 20
    kinds: tuple = ACTS + NEGATIVE
    name: str = "account_trust"

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
        order = stable_argsort(acc)
        a_sorted, v_sorted = acc[order], is_view[order].astype(np.int64)
        csum = np.cumsum(v_sorted) - v_sorted
        per_account = np.bincount(acc, minlength=n_acc)
        first = (np.cumsum(per_account) - per_account)[a_sorted]   # where its run starts
        before = np.empty(acc.size, np.int64)
        before[order] = csum - (csum[first] if first.size else 0) + views[a_sorted]
        views = views + np.bincount(acc[is_view], minlength=n_acc)
        state["views"] = views
        age = (t - obs.accounts.created_at[acc]) / (self.full_trust_days * DAY)
        w = np.minimum(1.0, np.maximum(age, 0.0)) * np.minimum(
            1.0, (before + 1) / self.full_trust_views)
        out = ones(acc.size)
        m = kind_mask(kind, self.kinds)
        out[m] = w[m]
        return out


@DEFENCES.register("device_dedup")
@dataclass(frozen=True, kw_only=True)
class DeviceDedup(InlineDefence):
    """One device, one vote per item and kind: later acts from the same device weigh 0.

    Accounts share device fingerprints (organic households share too:
    ``WorldConfig.device_shares``), so this has honest collateral by design.
    """

    #: what it reads that a recorded log may lack (boostbench.recorded.needs)
    needs: ClassVar[tuple] = ("devices",)

    kinds: tuple = ACTS + NEGATIVE
    name: str = "device_dedup"

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        out = ones(obs.n_events - start)
        idx, acc, item, kind = self.new_acts(obs, start)
        if idx.size == 0:
            return out
        keys = group_keys(obs.accounts.device[acc], item, kind, obs.n_items)
        seen = state.setdefault("seen", KeySet())
        dup = seen.contains(keys) | ~first_occurrence(keys)
        seen.add(keys)
        out[idx[dup]] = 0.0
        return out


@DEFENCES.register("require_view")
@dataclass(frozen=True, kw_only=True)
class RequireView(InlineDefence):
    """No act without a view: acts whose account had not viewed the item weigh 0.

    Catches API exploits (likes sent straight to the endpoint); bought views
    (engagement services) pass it.
    """

    name: str = "require_view"

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        kind = obs.events[3][start:]
        vb = obs.viewed_before()[start:]
        return np.where(kind_mask(kind, self.kinds) & ~vb, 0.0, 1.0).astype(np.float32)


_CLUSTERS = ("topic", "device", "cohort")


@DEFENCES.register("audience_diversity")
@dataclass(frozen=True, kw_only=True)
@declare(cluster=Options(*_CLUSTERS), exponent=Interval(float, 0.0, 1.0))
class AudienceDiversity(InlineDefence):
    """Sublinear aggregation per account cluster: n acts from one cluster count n**exponent.

    The j-th act of a kind on an item from a cluster weighs
    ``j**exponent - (j-1)**exponent`` (causal, sums to ``n**exponent``).
    Clusters: ``topic`` (the account's main interest, public), ``device`` or
    ``cohort`` (creation week). Exponent 0.5 [?].
    """

    cluster: str = "topic"
    exponent: float = 0.5
    name: str = "audience_diversity"

    @property
    def needs(self) -> tuple:
        """What its clusters read that a recorded log may lack (boostbench.recorded.needs)."""
        return {"topic": ("topics",), "device": ("devices",), "cohort": ("ages",)}[self.cluster]

    def _cluster(self, obs, acc):
        a = obs.accounts
        if self.cluster == "topic":
            return a.topic[acc].astype(np.int64)
        if self.cluster == "device":
            return a.device[acc].astype(np.int64)
        return np.floor(a.created_at[acc] / (7 * DAY)).astype(np.int64) + 1_000_000

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        out = ones(obs.n_events - start)
        idx, acc, item, kind = self.new_acts(obs, start)
        if idx.size == 0:
            return out
        keys = group_keys(self._cluster(obs, acc), item, kind, obs.n_items)
        uk, inv, cnt = np.unique(keys, return_inverse=True, return_counts=True)
        old_k = state.get("keys", np.zeros(0, np.int64))
        old_c = state.get("counts", np.zeros(0, np.int64))
        prev = np.zeros(uk.size, np.int64)
        if old_k.size:
            pos = np.minimum(np.searchsorted(old_k, uk), old_k.size - 1)
            prev = np.where(old_k[pos] == uk, old_c[pos], 0)
        order = stable_argsort(inv)
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
