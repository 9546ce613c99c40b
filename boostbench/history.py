"""Open-loop organic traffic: the history before the window, and replay's window.

Impressions do not react to any ranking. Each active day (the draws of
:func:`boostbench.population.active_on`, the same days the closed loop uses) an
account gets Poisson(activity x the share of the day it exists) impressions at
uniform times. Each impression picks a live item with probability proportional to
``reach * exp(-age / decay_hours)``, from the viewer's own topic with probability
``topic_pool_share``, else from all topics. Because the decay factor of every live
item shrinks by the same ``exp(-dt / decay)``, the relative weights at any time are
``reach * exp(created / decay)`` over the items posted so far: one cumulative sum
serves every impression, whatever its time (no loop over hours).

Nobody is shown an item twice: a draw of a pair already shown (in ``seen`` or
earlier in the batch) is drawn again, up to ``_DRAWS`` times (the last two from all
live items uniformly: a viewer who has seen the popular items gets the long tail),
then dropped. Shares by circle members bring their friends the item within minutes
(:func:`boostbench.population.link_impressions`), and a creator's posts its fans
(:func:`boostbench.population.fan_impressions`, when the world has fan groups).
"""

from __future__ import annotations

import numpy as np

from ._core.arrays import KeySet, SortedSearch, first_occurrence, pair_keys, stable_argsort
from ._core.units import DAY
from .events import EventKind, EventLog
from .population import active_on, fan_impressions, link_impressions

__all__ = ["impressions", "respond", "organic_events"]

_DRAWS = 5


class _ItemSampler:
    """Draws live items by weight, globally or within a topic, for impressions at any time."""

    def __init__(self, world):
        c = world.config
        created = world.items.created_at
        self.created, self.n = created, created.size
        logw = np.log(world.truth.reach) + (created - created.max()) / (c.decay_hours * 3600.0)
        w = np.exp(logw - logw.max())
        self.cum = np.cumsum(w)
        topic = world.items.topic.astype(np.int64)
        self.order = np.lexsort((np.arange(self.n), topic))      # by topic, then time
        self.n_topics = int(topic.max()) + 1 if topic.size else 1
        self.start = np.searchsorted(topic[self.order], np.arange(self.n_topics + 1))
        self.t_key = topic[self.order] * self._span() + created[self.order]
        self.tcum = np.cumsum(w[self.order])
        # millions of random queries: bucketed searches, numpy's answers ~10x faster
        self._cum, self._tkey, self._tcum = (SortedSearch(a) for a in (self.cum, self.t_key,
                                                                       self.tcum))

    def _span(self) -> float:
        return float(self.created.max() - min(self.created.min(), 0.0)) + 2.0 * DAY

    def n_live(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.created, t, side="right")

    def global_draw(self, t: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Items by weight among those posted by ``t`` (-1 where none is)."""
        n = self.n_live(t)
        target = u * self.cum[np.maximum(n, 1) - 1]
        out = np.minimum(self._cum.right(target), np.maximum(n, 1) - 1)
        return np.where(n > 0, out, -1)

    def topic_draw(self, topic: np.ndarray, t: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Items by weight within ``topic`` among those posted by ``t`` (-1 where none is)."""
        topic = np.asarray(topic, np.int64)
        lo = self.start[np.clip(topic, 0, self.n_topics)]
        hi = self._tkey.right(topic * self._span() + t)
        ok = (topic >= 0) & (topic < self.n_topics) & (hi > lo)
        base = np.where(lo > 0, self.tcum[np.maximum(lo, 1) - 1], 0.0)
        top = self.tcum[np.maximum(hi, 1) - 1]
        target = base + u * (top - base)
        pos = np.clip(self._tcum.right(target), lo, np.maximum(hi - 1, lo))
        return np.where(ok, self.order[np.minimum(pos, self.n - 1)], -1)

    def uniform_draw(self, t: np.ndarray, u: np.ndarray) -> np.ndarray:
        n = self.n_live(t)
        return np.where(n > 0, np.minimum((u * n).astype(np.int64), np.maximum(n, 1) - 1), -1)


def _account_days(world, start: float, end: float, rng):
    """(account, span start, span end) of every account-day with activity in [start, end),
    and the impressions each gets (Poisson of activity x the span's share of a day)."""
    c = world.config
    acc_rows = np.flatnonzero(world.truth.activity > 0)
    created = world.accounts.created_at[acc_rows]
    accs, lo, hi = [], [], []
    for day in range(int(np.floor(start / DAY)), int(np.ceil(end / DAY))):
        d0, d1 = max(day * DAY, start), min((day + 1) * DAY, end)
        s0 = np.maximum(d0, created)
        live = s0 < d1
        rows = acc_rows[live]
        act = active_on(c, world.seed, world.accounts, world.truth.keeper, rows, day)
        accs.append(rows[act])
        lo.append(s0[live][act])
        hi.append(np.full(int(act.sum()), d1))
    acc = np.concatenate(accs) if accs else np.zeros(0, np.int64)
    lo = np.concatenate(lo) if lo else np.zeros(0)
    hi = np.concatenate(hi) if hi else np.zeros(0)
    n = rng.poisson(world.truth.activity[acc] * (hi - lo) / DAY)
    return acc, lo, hi, n


def impressions(world, start: float, end: float, rng, seen: KeySet | None = None):
    """Open-loop impressions ``(account, item, t)`` in ``[start, end)`` (see the module).

    ``seen`` holds (account, item) pair keys shown before; it is not modified.
    """
    c = world.config
    sampler = _ItemSampler(world)
    acc, lo, hi, n = _account_days(world, start, end, rng)
    acc = np.repeat(acc, n)
    t = np.repeat(lo, n) + rng.random(acc.size) * np.repeat(hi - lo, n)
    order = stable_argsort(t)
    acc, t = acc[order], t[order]
    topic = world.accounts.topic[acc]
    own = rng.random(acc.size) < c.topic_pool_share
    itm = np.full(acc.size, -1, np.int64)
    todo = np.flatnonzero(sampler.n_live(t) > 0)
    n_items = sampler.n
    for attempt in range(_DRAWS):
        u = rng.random(todo.size)
        if attempt >= _DRAWS - 2:
            pick = sampler.uniform_draw(t[todo], u)
        else:
            pick = np.where(own[todo], sampler.topic_draw(topic[todo], t[todo], u), -1)
            pick = np.where(pick >= 0, pick, sampler.global_draw(t[todo], u))
        itm[todo] = pick
        # accepted: the first time (in time order) an account is shown an item, and not
        # shown before the batch; the others draw again
        idx = np.flatnonzero(itm >= 0)
        keys = pair_keys(acc[idx], itm[idx], n_items)
        ok = first_occurrence(keys)
        if seen is not None:
            ok &= ~seen.contains(keys)
        todo = idx[~ok]
        itm[todo] = -1
        if todo.size == 0:
            break
    keep = itm >= 0
    return acc[keep], itm[keep], t[keep]


def respond(world, acc, itm, t, end: float, rng, seen: KeySet | None = None,
            start: float = 0.0) -> EventLog:
    """The organic events impressions lead to, plus the circle links their shares cause
    and the fans' openings of posts made in ``[start, end)``; follow-ups past ``end`` are
    dropped with it."""
    beh = world.behaviour
    r = beh.respond(acc, itm, t, lambda stream: rng.random(acc.size))
    cols = [[r.t], [r.account], [r.item], [r.kind], [r.value]]
    n_items = len(world.items)
    shown = KeySet(pair_keys(acc, itm, n_items))

    def new_pairs(a, i):
        """Pairs not shown in the feed, before, or earlier in ``a``."""
        keys = pair_keys(a, i, n_items)
        ok = ~shown.contains(keys) & first_occurrence(keys)
        if seen is not None:
            ok &= ~seen.contains(keys)
        return ok

    share = r.kind == EventKind.SHARE
    la, li, lt = link_impressions(world, r.t[share], r.account[share], r.item[share])
    if la.size:
        ok = new_pairs(la, li)
        la, li, lt = la[ok], li[ok], lt[ok]
        lr = beh.respond(la, li, lt, lambda stream: rng.random(la.size), social=True)
        for col, x in zip(cols, (lr.t, lr.account, lr.item, lr.kind, lr.value)):
            col.append(x)
        shown.add(pair_keys(la, li, n_items))
    fa, fi, ft = fan_impressions(world, start, end)
    if fa.size:
        ok = new_pairs(fa, fi)
        fa, fi, ft = fa[ok], fi[ok], ft[ok]
        fr = beh.respond(fa, fi, ft, lambda stream: rng.random(fa.size), social=True, fan=True)
        for col, x in zip(cols, (fr.t, fr.account, fr.item, fr.kind, fr.value)):
            col.append(x)
    t_, a_, i_, k_, v_ = (np.concatenate(c) for c in cols)
    keep = t_ < end
    return EventLog.from_arrays(t_[keep], a_[keep], i_[keep], k_[keep], v_[keep])


def organic_events(world, start: float, end: float, rng, *, seen: KeySet | None = None
                   ) -> EventLog:
    """Open-loop organic events in ``[start, end)`` (replay's window)."""
    rng = np.random.default_rng(rng)
    acc, itm, t = impressions(world, start, end, rng, seen)
    return respond(world, acc, itm, t, end, rng, seen, start=start)
