"""Feeds: how a ranking becomes exposure in the closed loop.

Each round, every organic account opens a Poisson number of feed sessions
(its calibrated impressions per day spread over sessions). A session is
``slots`` positions filled from retrieval pools by a fixed ``layout``:

- ``T`` topic pool: eligible items of the viewer's topic, ordered by score;
- ``R`` trending pool: the ``trending_size`` best-scored eligible items;
- ``F`` fresh pool: eligible items still inside their cold-start quota (fewer
  than ``cold_start_impressions`` impressions), drawn uniformly — the initial
  traffic pool a new post gets before the ranker decides.

Within the ``T`` and ``R`` pools the item at pool rank ρ is drawn with
probability ∝ ρ^(-pool_decay), so everyone's feed is drawn from the top of the
ranking but not identical. Each pool's draws are shown in score order in that
pool's slots. The viewer examines slot j with probability ``curve[j]``
(position bias); only examined slots are impressions, and nobody is shown an
item they have already seen.

All draws use counter-based uniforms keyed by (account, round, slot), so two
worlds that share the key activate the same sessions and couple their feed
draws monotonically in the pool rank (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .behaviour import hash_uniforms
from .events import first_occurrence
from .errors import InvalidParameter, check_choice, check_int, check_real

__all__ = ["CTR_BY_POSITION", "FeedConfig", "examination_curve", "poisson_inverse", "draw_feeds"]

# Organic click-through rate by position 1..10 (Sistrix 2020 [I], CALIBRATION.md).
CTR_BY_POSITION = (0.285, 0.157, 0.110, 0.080, 0.072, 0.051, 0.040, 0.032, 0.028, 0.025)

_S_SESSIONS, _S_FEED, _S_EXAM, _S_TIME = 201, 202, 203, 204


def examination_curve(kind: str, n_slots: int) -> np.ndarray:
    """Probability of examining each slot, 1 at the first.

    ``ctr``: the empirical curve CTR_BY_POSITION divided by its first value
    (rank 1 ≈ 11x rank 10); beyond 10 slots it continues as 1/r from the tenth.
    ``dcg``: 1 / log2(1 + r) (rank 1 ≈ 3.5x rank 10).
    """
    check_choice("examination", kind, ("ctr", "dcg"))
    n_slots = check_int("slots", n_slots, low=1, high=1000)
    r = np.arange(1, n_slots + 1, dtype=np.float64)
    if kind == "dcg":
        return 1.0 / np.log2(1.0 + r)
    ctr = np.asarray(CTR_BY_POSITION) / CTR_BY_POSITION[0]
    tail = ctr[-1] * 10.0 / r
    return np.where(r <= 10, ctr[np.minimum(r, 10).astype(int) - 1], tail)


def poisson_inverse(u: np.ndarray, lam: np.ndarray, kmax: int = 200) -> np.ndarray:
    """Inverse CDF of Poisson(lam) at u (vectorised; monotone in u, so it couples)."""
    u = np.asarray(u, np.float64)
    lam = np.broadcast_to(np.asarray(lam, np.float64), u.shape)
    p = np.exp(-lam)
    cdf = p.copy()
    n = np.zeros(u.shape, np.int64)
    active = u >= cdf
    k = 0
    while active.any() and k < kmax:
        k += 1
        n += active
        p = p * lam / k
        cdf = cdf + p
        active &= u >= cdf
    return n


@dataclass(frozen=True)
class FeedConfig:
    """How feeds are assembled. Defaults are assumptions [?] except the examination curve.

    Parameters
    ----------
    slots : int
        Items per session (10).
    layout : str
        Pool of each slot, one letter per slot: T topic, R trending, F fresh.
        Default "TRTFTRTFTR": 5 topic, 3 trending, 2 fresh slots [?].
    examination : {"ctr", "dcg"}
        Position-bias curve (default the empirical CTR curve, Sistrix 2020 [I]).
    trending_size : int
        Size of the trending pool (100 [?]).
    pool_decay : float
        Exponent of the pool-rank draw weights ρ^(-pool_decay) (1.0 [?]).
    cold_start_impressions : int
        Impressions a new post gets from the fresh pool before only the ranker decides
        (200 [?], "a few hundred" in creator lore; sweep it).
    """

    slots: int = 10
    layout: str = "TRTFTRTFTR"
    examination: str = "ctr"
    trending_size: int = 100
    pool_decay: float = 1.0
    cold_start_impressions: int = 200

    def __post_init__(self):
        w = "FeedConfig"
        check_int("slots", self.slots, low=1, high=200, where=w)
        if len(self.layout) != self.slots or set(self.layout) - set("TRF"):
            raise InvalidParameter(f"The 'layout' parameter of FeedConfig must have one letter "
                                   f"of T, R, F per slot ({self.slots}). Got {self.layout!r}.",
                                   name="layout")
        check_choice("examination", self.examination, ("ctr", "dcg"), where=w)
        check_int("trending_size", self.trending_size, low=1, where=w)
        check_real("pool_decay", self.pool_decay, low=0.0, where=w)
        check_int("cold_start_impressions", self.cold_start_impressions, low=0, where=w)

    @property
    def curve(self) -> np.ndarray:
        return examination_curve(self.examination, self.slots)


@dataclass(frozen=True)
class Feeds:
    """Impressions of one round: who saw what, in which slot, when."""

    account: np.ndarray
    item: np.ndarray
    slot: np.ndarray
    t: np.ndarray


def _pool_draw(u, sizes, cum_w):
    """Pool rank (0-based) drawn with weights ρ^-decay from pools of the given sizes."""
    target = u * cum_w[sizes]
    return np.minimum(np.searchsorted(cum_w, target, side="left") - 1, sizes - 1).clip(0)


def draw_feeds(cfg: FeedConfig, *, key: int, round_index: int, start: float, length: float,
               scores: np.ndarray, eligible: np.ndarray, impressions: np.ndarray,
               item_topic: np.ndarray, account_topic: np.ndarray, activity: np.ndarray,
               seen, max_attempts: int = 4) -> Feeds:
    """Sessions, feeds, examination and de-duplication for one round (all vectorised).

    Parameters
    ----------
    scores, eligible, impressions : per-item arrays (public: the ranker's scores,
        eligibility and impressions so far, for the cold-start quota)
    activity : per-account expected impressions per day (calibration input)
    seen : KeySet of (account, item) pairs already shown; updated with this round's.
    max_attempts : int
        An examined slot whose draw the viewer has already seen is redrawn (from its
        pool, then from all eligible items) up to this many times in all.
    """
    n_items = scores.size
    curve = cfg.curve
    n_acc = activity.size
    accounts = np.arange(n_acc)
    lam = activity * (length / 86400.0) / curve.sum()
    n_sess = poisson_inverse(hash_uniforms(key, _S_SESSIONS, accounts, round_index), lam)
    elig = np.flatnonzero(eligible)
    if elig.size == 0 or n_sess.sum() == 0:
        z = np.empty(0, np.int64)
        return Feeds(z, z, z, np.empty(0))
    acc = np.repeat(accounts, n_sess)
    first = np.repeat(np.cumsum(n_sess) - n_sess, n_sess)
    sess = np.arange(acc.size) - first                     # session index within the account
    n_s, S = acc.size, cfg.slots
    slot_id = sess[:, None] * S + np.arange(S)[None, :]
    u = hash_uniforms(key, _S_FEED, acc[:, None], round_index, slot_id)

    order = elig[np.lexsort((elig, -scores[elig]))]        # best first, ties by item id
    cum_w = np.concatenate([[0.0], np.cumsum(np.arange(1, order.size + 1, dtype=np.float64)
                                             ** -cfg.pool_decay)])
    n_trend = min(cfg.trending_size, order.size)
    by_topic = order[np.argsort(item_topic[order], kind="stable")]
    n_topics = int(max(item_topic.max(), account_topic.max())) + 1
    topic_size = np.bincount(item_topic[order], minlength=n_topics)
    topic_start = np.cumsum(topic_size) - topic_size
    fresh = elig[impressions[elig] < cfg.cold_start_impressions]
    layout = np.array(["TRF".index(x) for x in cfg.layout])

    def draw(pool: int, uu, rows):
        """Items drawn from ``pool`` with uniforms ``uu`` for sessions ``rows``."""
        if pool == 0:  # topic pool; falls back to trending when the topic has nothing eligible
            tp = account_topic[acc[rows]]
            size = topic_size[tp]
            size = size.reshape(size.shape + (1,) * (uu.ndim - 1))
            start_ = topic_start[tp].reshape(size.shape)
            has = size > 0
            rho = _pool_draw(uu, np.where(has, size, n_trend), cum_w)
            return np.where(has, by_topic[np.minimum(start_ + rho, order.size - 1)], order[rho])
        if pool == 1 or fresh.size == 0:
            return order[_pool_draw(uu, np.full(uu.shape, n_trend), cum_w)]
        return fresh[np.minimum((uu * fresh.size).astype(np.int64), fresh.size - 1)]

    all_rows = np.arange(n_s)
    feed = np.empty((n_s, S), np.int64)
    for pool in range(3):
        pos = np.flatnonzero(layout == pool)
        if pos.size:
            d = draw(pool, u[:, pos], all_rows)
            srt = np.argsort(-scores[d], axis=1, kind="stable")  # a pool's draws in score order
            feed[:, pos] = np.take_along_axis(d, srt, axis=1)

    examined = hash_uniforms(key, _S_EXAM, acc[:, None], round_index, slot_id) < curve[None, :]
    rows, cols = np.nonzero(examined)
    itm = feed[rows, cols]
    out_rows, out_cols, out_items = [], [], []
    for attempt in range(max_attempts):
        keys = acc[rows].astype(np.int64) * n_items + itm
        ok = ~seen.contains(keys)
        ok[ok] = first_occurrence(keys[ok])
        seen.add(keys[ok])
        out_rows.append(rows[ok])
        out_cols.append(cols[ok])
        out_items.append(itm[ok])
        rows, cols = rows[~ok], cols[~ok]
        if rows.size == 0 or attempt == max_attempts - 1:
            break
        # an examined slot showing a seen item shows another draw instead; from the
        # third try on, any eligible item (a viewer who has seen the top gets the tail)
        uu = hash_uniforms(key, _S_FEED + 10 * (attempt + 1), acc[rows], round_index,
                           slot_id[rows, cols])
        if attempt + 1 >= 2:
            itm = elig[np.minimum((uu * elig.size).astype(np.int64), elig.size - 1)]
        else:
            itm = np.empty(rows.size, np.int64)
            for pool in range(3):
                m = layout[cols] == pool
                if m.any():
                    itm[m] = draw(pool, uu[m], rows[m])
    rows, cols, itm = (np.concatenate(x) for x in (out_rows, out_cols, out_items))
    t_sess = start + hash_uniforms(key, _S_TIME, acc, round_index, sess) * length
    t = t_sess[rows] + 10.0 * cols                             # 10 s per slot [?]
    return Feeds(acc[rows], itm, cols.astype(np.int64), t)
