"""Organic traffic outside the closed loop: the history before the window, and replay's window.

No campaign, no ranker under test. Two ways to draw the impressions
(``WorldConfig.history_feed``):

- ``open`` (:func:`open_impressions`; replay's window too): impressions that react to
  nothing. Each active day (the
  draws of :func:`boostbench.population.active_on`, the same days the closed loop uses)
  an account gets Poisson(activity x the share of the day it exists) impressions at
  uniform times. Each impression picks a live item with probability proportional to
  ``reach * exp(-age / decay_hours)``, from the viewer's own topic with probability
  ``topic_pool_share``, else from all topics. Because the decay factor of every live
  item shrinks by the same ``exp(-dt / decay)``, the relative weights at any time are
  ``reach * exp(created / decay)`` over the items posted so far: one cumulative sum
  serves every impression, whatever its time (no loop over hours). Nobody is shown an
  item twice: a draw of a pair already shown (in ``seen`` or earlier in the batch) is
  drawn again, up to ``_DRAWS`` times (the last two from all live items uniformly: a
  viewer who has seen the popular items gets the long tail), then dropped.
- ``ranked`` (:func:`ranked_history`; the default since scenario v4). Hour by hour, the
  window's feed (:func:`boostbench.feed.draw_feeds`: the same sessions, pools, cold-start
  quota and walk past seen items) over the platform's incumbent ranking — like counts so far —
  answered with those counts displayed (herding), from an empty platform at ``t = 0``.
  Exposure follows an engagement ranking, as it did in the logs the behaviour is
  calibrated on, and the window's ``like_count`` continues the history's process.

Shares by circle members bring their friends the item within minutes
(:func:`boostbench.population.link_impressions`), and a creator's posts its fans
(:func:`boostbench.population.fan_impressions`, when the world has fan groups).
"""

from __future__ import annotations

import numpy as np

from ._core.arrays import (KeySet, SortedSearch, first_occurrence, pair_keys, pair_set,
                           stable_argsort)
from ._core.random import STREAMS, ImpressionUniforms, hash_words
from ._core.units import DAY, HOUR
from .behaviour import concat_responses
from .events import EventKind, EventLog
from .feed import FeedConfig, draw_feeds, feed_for
from .population import (active_on, fan_impressions, link_impressions, round_sessions,
                         unseen_openings)

__all__ = ["open_impressions", "ranked_history", "herding_reference", "respond",
           "organic_events"]

_DRAWS = 5
_S_HISTORY_KEY = STREAMS.claim("world", "history.key", 340)
_S_FEED, _S_LINK, _S_FAN = STREAMS.claim_block("world", "history.impression", 341,
                                               ("feed", "link", "fan"))
#: Hours an item stays in the incumbent's ranking (the default scenario's eligibility).
ELIGIBLE_HOURS = 72.0


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


def history_key(world) -> int:
    """The key of the ranked history's counter-based draws: its own, so the history's hours
    and the window's rounds (both numbered from 0) draw apart."""
    return int(hash_words(world.seed, _S_HISTORY_KEY, np.zeros(1, np.int64))[0] >> np.uint64(2))


def herding_reference(likes, impressions, eligible) -> float:
    """A typical displayed like count: the mean of ``log1p(likes)`` over the ``eligible``
    items, weighted by their ``impressions`` (0 when they have none). The ranked history
    takes it each hour over its feed impressions; the closed loop once, at ``t0``, over all
    the history's impressions (links and fans too) and the scenario's eligibility: close,
    not equal (the window continues the history's process up to that)."""
    w = impressions[eligible]
    return float(np.average(np.log1p(likes[eligible]), weights=w)) if w.sum() else 0.0


def ranked_history(world, start: float, end: float, feed: FeedConfig = FeedConfig(), *,
                   plans: dict | None = None):
    """The organic history in ``[start, end)`` under the incumbent ranking, hour by hour.

    Each hour: the window's feed (:func:`boostbench.feed.draw_feeds`) over the items
    eligible for ``ELIGIBLE_HOURS``, in order of their like counts so far (the
    ``like_count`` ranking, the platform's incumbent [?]); the impressions are answered
    with those counts displayed (herding, around :func:`herding_reference`), then the circle
    links the hour's shares cause and the fans' openings, as in the closed loop. Counter-
    based (:func:`history_key`); the likes an hour adds move the next hour's ranking.

    ``plans``: a dict that keeps each hour's sessions for another draw of the same world
    (they depend on the key, the hour and who is active, not on the behaviour).

    Returns
    -------
    (EventLog, (account, item, t, herd))
        The history, and its feed impressions with ``log1p(displayed likes) - reference``
        each was answered at (the sample :meth:`Behaviour.fit` calibrates on).
    """
    beh = world.behaviour
    key = history_key(world)
    n_items = len(world.items)
    created = world.items.created_at
    quota, fresh = feed_for(feed, world)
    rows_all = np.flatnonzero(world.truth.activity > 0)
    seen = pair_set(np.zeros(0, np.int64), n_rows=len(world.accounts), n_items=n_items)
    served, likes = np.zeros(n_items), np.zeros(n_items)
    n_topics = int(world.items.topic.max()) + 1 if n_items else 1
    cols, sample = [], []
    plans = {} if plans is None else plans
    for r, t in enumerate(np.arange(start, end, HOUR)):
        if (r, t) not in plans:
            plans[r, t] = round_sessions(world, feed, rows_all, r, t, min(HOUR, end - t),
                                         active_key=world.seed, session_key=key,
                                         fresh_share=fresh)
        sessions = plans[r, t]
        eligible = (created <= t) & (created > t - ELIGIBLE_HOURS * HOUR)
        ref = herding_reference(likes, served, eligible)
        f = draw_feeds(feed, sessions, scores=likes, eligible=eligible, impressions=served,
                       item_topic=world.items.topic, account_topic=world.accounts.topic,
                       seen=seen, n_topics=n_topics, quota=quota)
        resp = [beh.respond(f.account, f.item, f.t,
                            ImpressionUniforms(key, _S_FEED, f.account, f.item, r),
                            displayed_likes=likes[f.item], herding_ref=ref)]
        sample.append((f.account, f.item, f.t, np.log1p(likes[f.item]) - ref))
        share = resp[0].kind == EventKind.SHARE
        for opened, stream, fan in (
                (link_impressions(world, resp[0].t[share], resp[0].account[share],
                                  resp[0].item[share]), _S_LINK, False),
                (fan_impressions(world, t, min(t + HOUR, end)), _S_FAN, True)):
            new = unseen_openings(opened, seen, n_items)
            if new is not None:
                a, i, ti = new
                resp.append(beh.respond(a, i, ti, ImpressionUniforms(key, stream, a, i, r),
                                        displayed_likes=likes[i], herding_ref=ref,
                                        social=True, fan=fan))
        resp = concat_responses(resp)
        served += np.bincount(f.item, minlength=n_items)
        likes += np.bincount(resp.item[resp.kind == EventKind.LIKE], minlength=n_items)
        keep = resp.t < end
        cols.append(tuple(x[keep] for x in (resp.t, resp.account, resp.item, resp.kind,
                                            resp.value)))
    log = EventLog.from_arrays(*(np.concatenate(x) for x in zip(*cols)))
    return log, tuple(np.concatenate(x) for x in zip(*sample))


def open_impressions(world, start: float, end: float, rng, seen: KeySet | None = None):
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
    acc, itm, t = open_impressions(world, start, end, rng, seen)
    return respond(world, acc, itm, t, end, rng, seen, start=start)
