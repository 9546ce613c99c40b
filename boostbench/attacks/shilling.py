"""Shilling attacks: fake profiles that like the targets plus filler items.

Recommender-poisoning attacks build *shilling profiles*, fake users that rate the
target item together with *filler* items so the profiles look like users (Lam &
Riedl 2004; Mobasher et al. 2007; Gunes et al. 2014, below). On implicit feedback
(likes) the three classic profiles are:

- ``random``: the target plus ``fillers`` items drawn uniformly from the eligible items;
- ``average``: fillers drawn with probability proportional to their public like count
  + 1 (the implicit analogue of rating each filler at its mean rating);
- ``bandwagon``: the target, the ``selected`` most-liked eligible items and ``fillers``
  uniform ones.

Each is a :class:`~boostbench.attacks.compose.Recipe` (supplier x signal mix x pacing)
with a :class:`Filler`: a profile is one account; with its first bundle it also
views and likes its filler items, the same way it engages with the target. A filler
like bought from a service is a bought like: it is priced like any other action of the
supplier, counted in the spend and bought within the budget (a profile is bought
whole or not at all).

References
----------
Lam & Riedl, "Shilling recommender systems for fun and profit", WWW 2004 [P];
Mobasher, Burke, Bhaumik & Williams, "Toward trustworthy recommender systems: an
analysis of attack models and algorithm robustness", ACM TOIT 2007 [P]; Gunes, Kaleli,
Bilge & Polat, "Shilling attacks against recommender systems: a comprehensive survey",
Artificial Intelligence Review 2014 [P].
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .._core.arrays import first_occurrence
from .._core.params import InstanceOf, Interval, Options, declare
from .._core.random import STREAMS, hash_uniforms
from ..events import EventKind as K
from ..plugins import ATTACKS
from .bots import FRESH_BOTS
from .compose import _DELAY, _LAST_SECONDS, _S_ACCOUNT_CLOCK, Recipe, SignalMix, _Plan, _push
from .pacing import Burst

__all__ = ["FILLER_KINDS", "Filler", "Shilling", "random_shilling", "average_shilling",
           "bandwagon"]

FILLER_KINDS = ("random", "average", "bandwagon")
_S_ITEM, _S_TIME, _S_TASK, _S_DWELL = STREAMS.claim_block(
    "campaign", "shilling", 90, ("item", "time", "task", "dwell"))


@dataclass(frozen=True)
@declare(kind=Options(*FILLER_KINDS), fillers=Interval(int, 0, None),
         selected=Interval(int, 0, None))
class Filler:
    """Which items a shilling profile likes besides the targets.

    Parameters
    ----------
    kind : {"random", "average", "bandwagon"}
        ``random``: fillers uniform over the eligible items; ``average``: with
        probability proportional to their public like count + 1; ``bandwagon``: the
        ``selected`` most-liked eligible items plus uniform fillers (Lam & Riedl,
        WWW 2004; Mobasher et al., ACM TOIT 2007).
    fillers : int
        Filler items per profile (fewer if fewer items are eligible).
    selected : int
        Most-liked items every bandwagon profile likes (ignored by the other kinds).

    Notes
    -----
    Candidates are the items eligible in the public observation, posted by the
    campaign's start, never a target. A profile's fillers are distinct, drawn one
    after another, each in proportion to its weight among those not yet drawn
    (exact, by counter-based uniforms keyed by the campaign key and the bundle).
    """

    kind: str = "random"
    fillers: int = 10
    selected: int = 5

    def candidates(self, obs, targets, start: float):
        """``(selected, pool, weight)``: the items every profile likes, then the filler
        pool and its integer draw weights."""
        ok = obs.eligible & (obs.items.created_at <= start)
        ok[np.asarray(targets, np.int64)] = False
        pool = np.flatnonzero(ok)
        likes = np.rint(obs.count(K.LIKE)[pool]).astype(np.int64)
        selected = np.empty(0, np.int64)
        if self.kind == "bandwagon" and self.selected:
            top = np.argsort(-likes, kind="stable")[:self.selected]  # ties: lower id first
            selected = pool[top]
            rest = np.ones(pool.size, bool)
            rest[top] = False
            pool, likes = pool[rest], likes[rest]
        weight = likes + 1 if self.kind == "average" else np.ones(pool.size, np.int64)
        return selected, pool, weight

    def size(self, obs, targets, start: float) -> int:
        """Filler likes per profile (selected items included)."""
        selected, pool, _ = self.candidates(obs, targets, start)
        return selected.size + min(self.fillers, pool.size)

    def choose(self, obs, targets, start: float, key: int, bundles) -> np.ndarray:
        """int64 ``(len(bundles), size)``: each profile's items (selected first), keyed by
        the campaign ``key`` and the profile's bundle."""
        selected, pool, weight = self.candidates(obs, targets, start)
        bundles = np.asarray(bundles, np.int64)
        f = min(self.fillers, pool.size)
        u = hash_uniforms(key, _S_ITEM, bundles[:, None], np.arange(f)[None, :])
        picks = pool[_draw_without_replacement(weight, u)]
        return np.concatenate([np.broadcast_to(selected, (bundles.size, selected.size)), picks],
                              axis=1).astype(np.int64)


def _draw_without_replacement(weight: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Positions ``(n, f)``: row r draws f distinct positions in turn, each with probability
    proportional to ``weight`` (positive ints) among those it has not drawn, by its
    uniforms ``u[r]``. Exact: ``u`` picks a point of the weight line without the drawn
    intervals, mapped back onto the whole line."""
    n, f = u.shape
    end = np.cumsum(weight)
    begin = end - weight
    total = int(end[-1]) if end.size else 0
    pos = np.zeros((n, f), np.int64)
    taken = np.zeros(n, np.int64)
    for k in range(f):
        left = total - taken
        x = np.minimum(np.floor(u[:, k] * left).astype(np.int64), left - 1)
        drawn = np.sort(pos[:, :k], axis=1)
        for q in drawn.T:                  # skip the drawn intervals, leftmost first
            x += np.where(x >= begin[q], weight[q], 0)
        pos[:, k] = np.searchsorted(end, x, side="right")
        taken += weight[pos[:, k]]
    return pos


@dataclass(frozen=True)
@declare(filler=InstanceOf(Filler))
class Shilling(Recipe):
    """A recipe whose accounts are shilling profiles: with its first bundle each account
    also views and likes its :class:`Filler` items.

    The filler actions follow the recipe's signal mix for the view (a ``short`` view of
    ``short_seconds``, a real or a complete one, or none) and are always liked; they
    are timed by the recipe's pacing from the same base as the bundle (after the
    account's target actions under a per-account clock). They are bought at the
    supplier's per-action prices and added to the first bundle's cost, so a budget buys
    whole profiles and the spend counts every filler like and view. Fake actions on
    fillers are off-target (not ``aimed_actions``).
    """

    filler: Filler = field(default_factory=Filler)

    def _filler_price(self, cost) -> float:
        s = self.supplier
        price = s.unit(K.LIKE, self.mix.view, cost)[1]
        if self.mix.view != "none":
            price += s.unit(K.VIEW, self.mix.view, cost)[1]
        return float(price)

    def _filler_times(self, obs, targets, window, key, bundle, account, target, m) -> np.ndarray:
        """``(len(bundle), m)`` start times of the filler views (likes follow)."""
        start, end = window
        n = bundle.size
        if self.pacing.per_account_clock:
            base = np.full(n, max(start, float(obs.items.created_at[targets].max())))
        else:
            base = np.maximum(start, obs.items.created_at[target])
        b = np.repeat(bundle, m)
        f = np.tile(np.arange(m), n)
        t = self.pacing.times(np.repeat(base, m), end, targets.size + f,
                              hash_uniforms(key, _S_TIME, b, f), hash_uniforms(key, _S_TASK, b, f),
                              hash_uniforms(key, _S_ACCOUNT_CLOCK, np.repeat(account, m)))
        return np.asarray(t, np.float64).reshape(n, m)

    def _bundles(self, obs, targets, window, key, n, cost) -> _Plan:
        p = super()._bundles(obs, targets, window, key, n, cost)
        m = self.filler.size(obs, targets, window[0])
        if m == 0 or p.bundle.size == 0:
            return p
        first = first_occurrence(p.account)
        t = self._filler_times(obs, targets, window, key, p.bundle[first], p.account[first],
                               p.target[first], m)
        # a profile whose fillers its pacing puts too late is not bought (none of its bundles)
        late = p.account[first][(t > window[1] - _LAST_SECONDS).any(axis=1)]
        keep = ~np.isin(p.account, late)
        c = p.cost + first * (m * self._filler_price(cost))
        cols = (x[keep] for x in (p.bundle, p.target, p.account, p.new_index, p.t, p.acts, c))
        return _Plan(*cols, p.exhausted or (not keep.any() and n >= 4096))

    def _campaign(self, obs, targets, budget, window, key, p: _Plan, cost):
        c = super()._campaign(obs, targets, budget, window, key, p, cost)
        first = first_occurrence(p.account)
        bundle, account, target = p.bundle[first], p.account[first], p.target[first]
        items = self.filler.choose(obs, targets, window[0], key, bundle)
        n, m = items.shape
        if n == 0 or m == 0:
            return c
        t = self._filler_times(obs, targets, window, key, bundle, account, target, m).ravel()
        acc, itm = np.repeat(account, m), items.ravel()
        b, f = np.repeat(bundle, m), np.tile(np.arange(m), n)
        mix, s = self.mix, self.supplier
        out = {"t": [c.t], "account": [c.account], "item": [c.item], "kind": [c.kind],
               "value": [c.value]}
        spend = dict(c.spend)

        def pay(kind, count):
            unit, price = s.unit(kind, mix.view, cost)
            if price and not s.own_farm:   # an own farm's spend is its accounts (in the plan)
                spend[unit] = spend.get(unit, 0.0) + price * count

        dwell = np.zeros(t.size)
        if mix.view != "none":
            dur = obs.items.duration[itm].astype(np.float64)
            dwell = mix.dwell(hash_uniforms(key, _S_DWELL, b, f), dur)
            _push(out, t, acc, itm, K.IMPRESSION, 0.0)
            _push(out, t, acc, itm, K.VIEW, np.minimum(dwell / dur, 1.0))
            pay(K.VIEW, t.size)
        _push(out, t + dwell + _DELAY[K.LIKE], acc, itm, K.LIKE, 0.0)
        pay(K.LIKE, t.size)
        return replace(c, spend=spend, **{k: np.concatenate(v) for k, v in out.items()})


def _profiles(name: str, kind: str) -> Shilling:
    # fresh bot accounts (a profile is a fake account), a 2 s view then a like, a 2 h burst
    return Shilling(name, FRESH_BOTS, SignalMix(view="short", short_seconds=(2.0, 2.0)),
                    Burst(hours=2.0), targets_per_account=1, filler=Filler(kind))


@ATTACKS.register("random_shilling")
def random_shilling() -> Shilling:
    """Random shilling profiles: bot accounts like a target and 10 uniform eligible items."""
    return _profiles("random_shilling", "random")


@ATTACKS.register("average_shilling")
def average_shilling() -> Shilling:
    """Average shilling profiles: a target and 10 items drawn by public likes + 1."""
    return _profiles("average_shilling", "average")


@ATTACKS.register("bandwagon")
def bandwagon() -> Shilling:
    """Bandwagon profiles: a target, the 5 most-liked eligible items and 10 uniform ones."""
    return _profiles("bandwagon", "bandwagon")
