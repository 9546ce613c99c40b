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

from ._core.random import STREAMS, hash_uniforms
from .errors import InvalidParameter
from ._core.params import InstanceOf, Interval, Options, check_choice, check_int, declare

__all__ = ["CTR_BY_POSITION", "FeedConfig", "examination_curve", "poisson_inverse", "draw_feeds",
           "plan_sessions", "Sessions"]

# Organic click-through rate by position 1..10 (Sistrix 2020 [I], CALIBRATION.md).
CTR_BY_POSITION = (0.285, 0.157, 0.110, 0.080, 0.072, 0.051, 0.040, 0.032, 0.028, 0.025)

_S_SESSIONS, _S_FEED, _S_EXAM, _S_TIME = STREAMS.claim_block(
    "world", "feed", 201, ("sessions", "slot", "examined", "time"))
# the slot draws of redraws 1, 2, 3 (212, 222, 232)
_S_REDRAWS = tuple(STREAMS.claim("world", f"feed.redraw{a}", _S_FEED + 10 * a)
                   for a in range(1, 4))


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
    """Inverse CDF of Poisson(lam) at u (vectorised; monotone in u, so it couples).

    Walks the CDF term by term (p_k = p_{k-1} * lam / k), each step only for the
    entries whose uniform is still above it.
    """
    u = np.asarray(u, np.float64)
    lam = np.broadcast_to(np.asarray(lam, np.float64), u.shape)
    p = np.exp(-lam)
    n = np.zeros(u.shape, np.int64)
    flat_n = n.reshape(-1)
    idx = np.flatnonzero(u >= p)
    uu, lam_a, p_a, cdf_a = u.reshape(-1)[idx], lam.reshape(-1)[idx], p.reshape(-1)[idx], \
        p.reshape(-1)[idx]
    k = 0
    while idx.size and k < kmax:
        k += 1
        flat_n[idx] += 1
        p_a = p_a * lam_a / k
        cdf_a = cdf_a + p_a
        keep = uu >= cdf_a
        if not keep.all():
            idx, uu, lam_a, p_a, cdf_a = idx[keep], uu[keep], lam_a[keep], p_a[keep], cdf_a[keep]
    return n


@dataclass(frozen=True)
@declare(slots=Interval(int, 1, 200), layout=InstanceOf(str, "a string"),
         examination=Options("ctr", "dcg"), trending_size=Interval(int, 1, None),
         pool_decay=Interval(float, 0.0, None), cold_start_impressions=Interval(int, 0, None))
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
        if len(self.layout) != self.slots or set(self.layout) - set("TRF"):
            raise InvalidParameter(f"The 'layout' parameter of FeedConfig must have one letter "
                                   f"of T, R, F per slot ({self.slots}). Got {self.layout!r}.",
                                   name="layout")

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


class _PoolRanks:
    """:func:`_pool_draw` for one cumulative weight table, with a guide table.

    ``np.searchsorted`` costs a binary search per draw; here a draw's bucket in
    ``[0, total)`` (a few buckets per pool rank) gives, through the guide, the
    first rank whose cumulative weight falls in that bucket or later — never
    past the answer, because bucketing is monotone — and a step or two forward
    finds the exact ``searchsorted(..., side="left")`` answer.
    """

    _STEPS = 4  # forward steps before falling back to a binary search

    def __init__(self, cum_w: np.ndarray):
        self.cum_w = cum_w
        n_buckets = 4 * cum_w.size
        self.scale = n_buckets / cum_w[-1] if cum_w[-1] > 0 else 0.0
        bucket = np.minimum((cum_w * self.scale).astype(np.int64), n_buckets)
        # guide[b]: number of entries whose bucket is below b = first entry in bucket >= b
        counts = np.bincount(bucket, minlength=n_buckets + 1)
        self.guide = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.n_buckets = n_buckets

    def search_left(self, x: np.ndarray) -> np.ndarray:
        """``np.searchsorted(cum_w, x, side="left")`` for 0 <= x <= cum_w[-1]."""
        cum_w = self.cum_w
        shape = x.shape
        x = x.reshape(-1)
        b = (x * self.scale).astype(np.int64)
        np.clip(b, 0, self.n_buckets, out=b)
        i = self.guide[b]
        np.minimum(i, cum_w.size - 1, out=i)
        idx = np.flatnonzero(cum_w[i] < x)
        if idx.size and x[idx].max() > cum_w[-1]:  # outside the table: binary search only
            out = x[idx] > cum_w[-1]
            i[idx[out]] = cum_w.size
            idx = idx[~out]
        for _ in range(self._STEPS):
            if idx.size == 0:
                break
            i[idx] += 1
            idx = idx[cum_w[i[idx]] < x[idx]]
        if idx.size:
            i[idx] = np.searchsorted(cum_w, x[idx], side="left")
        return i.reshape(shape)

    def draw(self, u, sizes):
        """Same as ``_pool_draw(u, sizes, cum_w)``."""
        target = u * self.cum_w[sizes]
        rho = self.search_left(target)
        rho -= 1
        rho = np.minimum(rho, sizes - 1, out=rho if rho.shape == np.broadcast_shapes(
            rho.shape, np.shape(sizes)) else None)
        np.maximum(rho, 0, out=rho)
        return rho


def _desc_order_rows(values: np.ndarray) -> np.ndarray:
    """For values (k, n): the position of ``values[j, s]`` in
    ``np.argsort(-values[:, s], kind="stable")``, for every column s.

    Columns are short (a pool's slots in one session), so the ranks come from the
    k(k-1)/2 pairwise comparisons: an entry is preceded by the larger values and
    by the equal values before it.
    """
    k, n = values.shape
    rank = np.zeros((k, n), np.int8 if k < 128 else np.int64)
    for j in range(k):
        for m in range(j + 1, k):
            later_larger = values[m] > values[j]
            rank[j] += later_larger
            rank[m] += ~later_larger
    return rank


@dataclass(frozen=True)
class Sessions:
    """The part of a round's feeds that does not depend on the ranking (see :func:`plan_sessions`).

    ``acc``, ``sess``: account and its session index, one entry per session;
    ``u``: feed uniforms, slot-major (``u[j, s]`` for slot j of session s);
    ``rows``, ``cols``: examined (session, slot) pairs in row-major order;
    ``t_sess``: session start times.
    """

    cfg: "FeedConfig"
    activity: np.ndarray
    key: int
    round_index: int
    start: float
    length: float
    acc: np.ndarray
    sess: np.ndarray
    u: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    t_sess: np.ndarray

    def matches(self, cfg: "FeedConfig", key, round_index, start, length, activity) -> bool:
        """Whether this is the plan :func:`plan_sessions` would return for these arguments."""
        return (self.cfg == cfg and self.key == key and self.round_index == round_index
                and self.start == start and self.length == length
                and (self.activity is activity or np.array_equal(self.activity, activity)))


_SPLIT_MIN_SESSIONS = 8192  # sessions worth filling on two threads


def _split_point(acc: np.ndarray, n_items: int, seen) -> int:
    """A session index near the middle where a new account starts whose pair keys start
    on a byte of the ``seen`` bitmap (so two threads never write the same byte); 0 if none."""
    n_s = acc.size
    bits = getattr(seen, "_bits", None)
    if n_s < _SPLIT_MIN_SESSIONS or bits is None or acc[-1] * n_items + n_items > 8 * bits.size:
        return 0
    step = 8 // int(np.gcd(n_items, 8))
    a_mid = -(-int(acc[n_s // 2]) // step) * step
    mid = int(np.searchsorted(acc, a_mid, side="left"))
    return mid if 0 < mid < n_s else 0


def plan_sessions(cfg: FeedConfig, *, key: int, round_index: int, start: float, length: float,
                  activity: np.ndarray) -> Sessions:
    """Who opens how many sessions, their feed and examination uniforms, and their times.

    Depends only on the key, the round and the accounts' activity — not on the
    ranking — so the closed loop can prepare the next round's while this one runs.
    """
    curve = cfg.curve
    n_acc = activity.size
    accounts = np.arange(n_acc)
    lam = activity * (length / 86400.0) / curve.sum()
    n_sess = poisson_inverse(hash_uniforms(key, _S_SESSIONS, accounts, round_index), lam)
    acc = np.repeat(accounts, n_sess)
    first = np.repeat(np.cumsum(n_sess) - n_sess, n_sess)
    sess = np.arange(acc.size) - first                     # session index within the account
    S = cfg.slots
    # slot-major (S, n_sessions): the same uniforms as (session, slot), transposed, so a
    # pool's slots are contiguous rows
    slot_id = sess[None, :] * S + np.arange(S)[:, None]
    u = hash_uniforms(key, _S_FEED, acc[None, :], round_index, slot_id)
    examined = hash_uniforms(key, _S_EXAM, acc[None, :], round_index, slot_id) < curve[:, None]
    rows, cols = np.nonzero(np.ascontiguousarray(examined.T))  # row-major (session, slot)
    t_sess = start + hash_uniforms(key, _S_TIME, acc, round_index, sess) * length
    return Sessions(cfg, activity, key, round_index, start, length, acc, sess, u, rows, cols,
                    t_sess)


def draw_feeds(cfg: FeedConfig, *, key: int, round_index: int, start: float, length: float,
               scores: np.ndarray, eligible: np.ndarray, impressions: np.ndarray,
               item_topic: np.ndarray, account_topic: np.ndarray, activity: np.ndarray,
               seen, max_attempts: int = 4, sessions: Sessions | None = None,
               executor=None) -> Feeds:
    """Sessions, feeds, examination and de-duplication for one round (all vectorised).

    Parameters
    ----------
    scores, eligible, impressions : per-item arrays (public: the ranker's scores,
        eligibility and impressions so far, for the cold-start quota)
    activity : per-account expected impressions per day (calibration input)
    seen : KeySet of (account, item) pairs already shown; updated with this round's.
    max_attempts : int in [1, 4]
        An examined slot whose draw the viewer has already seen is redrawn (from its
        pool, then from all eligible items) up to this many times in all.
    sessions : Sessions, optional
        This round's :func:`plan_sessions` result, if already computed.
    executor : concurrent.futures.Executor, optional
        Fills the feeds of half the accounts there while this thread fills the
        other half (the same feeds as in one go).
    """
    check_int("max_attempts", max_attempts, low=1, high=1 + len(_S_REDRAWS), where="draw_feeds")
    n_items = scores.size
    if sessions is None or not sessions.matches(cfg, key, round_index, start, length, activity):
        sessions = plan_sessions(cfg, key=key, round_index=round_index, start=start,
                                 length=length, activity=activity)
    acc, sess, u = sessions.acc, sessions.sess, sessions.u
    elig = np.flatnonzero(eligible)
    if elig.size == 0 or acc.size == 0:
        z = np.empty(0, np.int64)
        return Feeds(z, z, z, np.empty(0))
    n_s, S = acc.size, cfg.slots

    order = elig[np.lexsort((elig, -scores[elig]))]        # best first, ties by item id
    cum_w = np.concatenate([[0.0], np.cumsum(np.arange(1, order.size + 1, dtype=np.float64)
                                             ** -cfg.pool_decay)])
    ranks = _PoolRanks(cum_w)
    n_trend = min(cfg.trending_size, order.size)
    by_topic = order[np.argsort(item_topic[order], kind="stable")]
    n_topics = int(max(item_topic.max(), account_topic.max())) + 1
    topic_size = np.bincount(item_topic[order], minlength=n_topics)
    topic_start = np.cumsum(topic_size) - topic_size
    fresh = elig[impressions[elig] < cfg.cold_start_impressions]
    layout = np.array(["TRF".index(x) for x in cfg.layout])
    # per session: its topic pool (start in by_topic and size); an empty topic falls back
    # to the trending pool, i.e. to ranks 0..n_trend-1 of ``order``
    tp = account_topic[acc]
    s_has = topic_size[tp] > 0
    s_size = np.where(s_has, topic_size[tp], n_trend)
    s_base = np.where(s_has, topic_start[tp], order.size)  # offset into by_topic ++ order
    topic_or_order = np.concatenate([by_topic, order])

    def draw(pool: int, uu, rows):
        """Items drawn from ``pool`` with uniforms ``uu`` (last axis: sessions ``rows``)."""
        if pool == 0:  # topic pool; falls back to trending when the topic has nothing eligible
            rho = ranks.draw(uu, s_size[rows])
            pos = s_base[rows] + rho
            # a topic draw past the end of by_topic is clipped to its last item
            pos = np.where(s_has[rows], np.minimum(pos, order.size - 1), pos)
            return topic_or_order[pos]
        if pool == 1 or fresh.size == 0:
            return order[ranks.draw(uu, np.full(uu.shape, n_trend))]
        return fresh[np.minimum((uu * fresh.size).astype(np.int64), fresh.size - 1)]

    ex_rows, ex_cols = sessions.rows, sessions.cols       # examined slots, row-major

    def fill(lo: int, hi: int, e_lo: int, e_hi: int):
        """Feeds of sessions ``lo:hi``, whose examined slots are ``ex_*[e_lo:e_hi]``:
        per attempt, the examined slots filled (indices into ``ex_*``) and their items."""
        n = hi - lo
        local = np.arange(n)
        feed = np.empty((S, n), np.int64)                   # slot-major, like u
        flat_feed = feed.reshape(-1)
        for pool in range(3):
            pos = np.flatnonzero(layout == pool)
            if pos.size:
                d = draw(pool, u[pos, lo:hi], local + lo)
                # a pool's draws in score order (stable): slot pos[rank[j]] shows draw j
                rank = _desc_order_rows(scores[d])
                for j in range(pos.size):
                    flat_feed[pos[rank[j]] * n + local] = d[j]
        e_rows, e_cols = ex_rows[e_lo:e_hi], ex_cols[e_lo:e_hi]
        e_acc = acc[e_rows]
        e_key = e_acc.astype(np.int64) * n_items            # (account, item) key less the item
        itm = feed[e_cols, e_rows - lo]
        pos = None                                          # None: all of this block's slots
        out = []
        for attempt in range(max_attempts):
            keys = (e_key if pos is None else e_key[pos]) + itm
            ok = seen.add_new(keys)   # unseen, first of its pair in this batch; now seen
            good = np.flatnonzero(ok)
            if good.size == ok.size:
                out.append((np.arange(ok.size) if pos is None else pos, itm))
                break
            out.append((good if pos is None else pos[good], itm[good]))
            bad = np.flatnonzero(~ok)
            pos = bad if pos is None else pos[bad]
            if pos.size == 0 or attempt == max_attempts - 1:
                break
            # an examined slot showing a seen item shows another draw instead; from the
            # third try on, any eligible item (a viewer who has seen the top gets the tail)
            rows, cols = e_rows[pos], e_cols[pos]
            uu = hash_uniforms(key, _S_REDRAWS[attempt], e_acc[pos], round_index,
                               sess[rows] * S + cols)
            if attempt + 1 >= 2:
                itm = elig[np.minimum((uu * elig.size).astype(np.int64), elig.size - 1)]
            else:
                itm = np.empty(rows.size, np.int64)
                slot_pool = layout[cols]
                for pool in range(3):
                    m = np.flatnonzero(slot_pool == pool)
                    if m.size:
                        itm[m] = draw(pool, uu[m], rows[m])
        return [(p + e_lo, i) for p, i in out]

    n_ex = ex_rows.size
    mid = _split_point(acc, n_items, seen) if executor is not None else 0
    if mid:
        # two blocks of whole accounts, on two threads: a pair (account, item) is only
        # ever compared with pairs of the same account, and the blocks' keys fall in
        # different bytes of the seen bitmap, so each block fills its feeds exactly as
        # the whole batch would; per attempt, the first block's slots come first
        e_mid = int(np.searchsorted(ex_rows, mid))
        later = executor.submit(fill, mid, n_s, e_mid, n_ex)
        blocks = [fill(0, mid, 0, e_mid), later.result()]
    else:
        blocks = [fill(0, n_s, 0, n_ex)]
    out_pos, out_items = [], []
    for attempt in range(max_attempts):
        for block in blocks:
            if attempt < len(block):
                out_pos.append(block[attempt][0])
                out_items.append(block[attempt][1])
    pos = np.concatenate(out_pos)
    itm = np.concatenate(out_items)
    rows, cols = ex_rows[pos], ex_cols[pos]
    t = sessions.t_sess[rows] + 10.0 * cols                   # 10 s per slot [?]
    return Feeds(acc[rows], itm, cols.astype(np.int64), t)
