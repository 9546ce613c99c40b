"""Feeds: how a ranking becomes exposure in the closed loop.

Each round, every account that exists and is active that day
(:func:`boostbench.population.active_on`) opens a Poisson number of feed
sessions (its impressions per active day spread over sessions). A session has
``slots`` positions; each position comes from one of four pools:

- **fresh** (probability ``fresh_share``): an eligible item still inside its
  cold-start quota (fewer than ``cold_start_impressions`` impressions), drawn
  uniformly — the initial traffic a new post gets before the ranker decides;
- **exploration** (``explore_share``): any eligible item, uniformly;
- **global** (``global_share`` of the rest): all eligible items in the ranker's order;
- **topic** (the rest): eligible items of the viewer's topic in the ranker's order —
  or, when the ranker is personalised (it offers ``score_pairs``), the viewer's own
  pool: ``candidates`` eligible items retrieved at random for that viewer and round,
  in the order of the ranker's scores of (viewer, item) pairs
  (:func:`personal_pools`).

A ranked pool's positions are the best of ``candidates`` items retrieved at
random from the pool (two-stage recommenders: candidate retrieval, then ranking):
the k-th best of C uniform candidates from a pool of L items sits at rank
≈ ``L/C x (E_1 + ... + E_k)`` with standard exponential spacings, so a session's
positions of one pool are drawn already in score order. Then each position
*walks* the ranker's order from that rank to the first item the viewer has not
seen (nor been shown earlier in the batch): exposure follows the ranking, there
is no redraw and no uniform fallback.

The viewer examines position j with probability ``curve[j]`` (position bias);
only examined positions are impressions. All draws are counter-based, keyed by
(account, round, position), so two worlds that share the key open the same
sessions, examine the same positions and retrieve at the same ranks (common
random numbers); they differ only where their rankings differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._core.arrays import stable_argsort
from ._core.params import Interval, OrNone, Options, check_choice, check_int, declare
from ._core.kernels import walk_pools
from ._core.random import STREAMS, derive, hash_uniforms, hash_words
from .errors import InvalidParameter

__all__ = ["CTR_BY_POSITION", "FeedConfig", "feed_for", "examination_curve", "poisson_inverse",
           "draw_feeds", "plan_sessions", "Sessions", "Feeds", "POOLS", "PersonalPools",
           "personal_pools", "global_hits", "ranked_order"]

# Organic click-through rate by position 1..10 (Sistrix 2020 [I]).
CTR_BY_POSITION = (0.285, 0.157, 0.110, 0.080, 0.072, 0.051, 0.040, 0.032, 0.028, 0.025)

#: Pools of a position: topic, global, fresh, exploration.
POOLS = ("topic", "global", "fresh", "explore")
_TOPIC, _GLOBAL, _FRESH, _EXPLORE = range(4)

_S_SESSIONS, _S_SLOT, _S_TIME = STREAMS.claim_block("world", "feed", 201,
                                                    ("sessions", "slot", "time"))
_S_POOL, _S_EXAM, _S_GAP, _S_PICK = STREAMS.claim_block("world", "feed.slot", 210,
                                                        ("pool", "examined", "gap", "pick"))
_S_PERSONAL = STREAMS.claim("world", "feed.personal_candidate", 220)


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
@declare(slots=Interval(int, 1, 200), examination=Options("ctr", "dcg"),
         candidates=Interval(int, 1, 10_000_000), global_share=Interval(float, 0.0, 1.0),
         explore_share=Interval(float, 0.0, 1.0), fresh_share=OrNone(Interval(float, 0.0, 1.0)),
         cold_start_impressions=OrNone(Interval(int, 0, None)),
         cold_start_share=Interval(float, 0.0, 1.0))
class FeedConfig:
    """How feeds are assembled.

    Parameters
    ----------
    slots : int
        Positions per session (10).
    examination : {"ctr", "dcg"}
        Position-bias curve (default the empirical CTR curve, Sistrix 2020 [I]).
    candidates : int
        Items retrieved at random per session and ranked pool (200: candidate
        generation retrieves "a few hundred" videos per request, Covington, Adams &
        Sargin, RecSys 2016 [P]). Fewer candidates spread exposure over more of the
        ranking; more concentrate it on the top.
    global_share : float
        Share of the ranked positions from the global pool, the rest from the
        viewer's topic (0.5: out-of-network ≈ 50% of X's For You, X engineering blog,
        March 2023 [T]).
    explore_share : float
        Positions filled uniformly from all eligible items (0.01; KuaiRand's random
        exposure is 0.37% of interactions [D], sweep 0.0037-0.1).
    fresh_share : float or None
        Positions from the cold-start pool. None (default): the share that gives every
        new post its quota, ``new items per day x quota / impressions per day`` of the
        world [drv] (capped at 0.5).
    cold_start_impressions : int or None
        Impressions a new post gets from the fresh pool before only the ranker decides.
        None (default): ``cold_start_share`` of the mean exposure of an item in the
        world, so the quota keeps its share of an item's traffic whatever the world's
        size.
    cold_start_share : float
        The quota's share of an item's mean exposure (0.08: "200-500 users" of initial
        traffic in creator lore about Douyin [I, weak], 300 impressions, over the mean
        exposure of a short-video post, 10 daily active accounts per new post [P]/[?] x
        ~380 impressions per active account-day [D] ≈ 3,800; sweep 100-1,000
        impressions, i.e. 0.03-0.26).
    """

    slots: int = 10
    examination: str = "ctr"
    candidates: int = 200
    global_share: float = 0.5
    explore_share: float = 0.01
    fresh_share: float | None = None
    cold_start_impressions: int | None = None
    cold_start_share: float = 0.08

    def __post_init__(self):
        if self.fresh_share is not None and self.fresh_share + self.explore_share > 1.0:
            raise InvalidParameter("FeedConfig needs fresh_share + explore_share <= 1. Got "
                                   f"{self.fresh_share} + {self.explore_share}.",
                                   name="fresh_share")

    @property
    def curve(self) -> np.ndarray:
        return examination_curve(self.examination, self.slots)

    def resolve(self, new_items_per_day: float, impressions_per_day: float
                ) -> tuple[int, float]:
        """``(cold-start quota, fresh share)`` in a world posting ``new_items_per_day`` and
        showing ``impressions_per_day`` (see ``cold_start_impressions`` and ``fresh_share``)."""
        mean_exposure = impressions_per_day / max(new_items_per_day, 1e-9)
        quota = (self.cold_start_impressions if self.cold_start_impressions is not None
                 else int(round(self.cold_start_share * mean_exposure)))
        if self.fresh_share is not None:
            return quota, self.fresh_share
        need = new_items_per_day * quota / max(impressions_per_day, 1.0)
        return quota, float(min(0.5, need, 1.0 - self.explore_share))


def feed_for(feed: FeedConfig, world) -> tuple[int, float]:
    """``(cold-start quota, fresh share)`` of ``feed`` in ``world`` (:meth:`FeedConfig.resolve`),
    from the world's posting rate and expected organic impressions per day."""
    c = world.config
    per_day = len(world.items) / ((c.history_hours + c.future_hours) / 24.0)
    organic = world.truth.organic & (world.accounts.created_at <= world.t0)
    impressions = float(world.truth.activity[organic].sum()) * c.stickiness
    return feed.resolve(per_day, impressions)


@dataclass(frozen=True)
class Sessions:
    """The part of a round's feeds that does not depend on the ranking (:func:`plan_sessions`).

    Per examined position (row-major by session, then position): ``acc`` the viewer,
    ``slot`` the position, ``pool`` (index into :data:`POOLS`), ``depth`` the
    retrieval depth of a ranked position (a sum of standard exponential spacings:
    rank ≈ depth x L / candidates in a pool of L items), ``pick`` a uniform for
    fresh and exploration positions, ``t`` the impression time.
    """

    key: int
    round_index: int
    acc: np.ndarray
    slot: np.ndarray
    pool: np.ndarray
    depth: np.ndarray
    pick: np.ndarray
    t: np.ndarray
    n_sessions: int


@dataclass(frozen=True)
class Feeds:
    """Impressions of one round: who saw what, in which slot, when (sorted as planned)."""

    account: np.ndarray
    item: np.ndarray
    slot: np.ndarray
    t: np.ndarray


def plan_sessions(cfg: FeedConfig, *, key: int, round_index: int, start: float, length: float,
                  accounts: np.ndarray, activity: np.ndarray, fresh_share: float) -> Sessions:
    """Who opens how many sessions this round, which positions they examine, from which pool
    each comes and how deep it retrieves. Depends only on the key, the round and the
    accounts' activity — not on the ranking.

    Parameters
    ----------
    accounts : int array
        Rows active this round (they exist and are active today).
    activity : float array
        Their impressions per active day.
    fresh_share : float
        The fresh pool's share of positions (:meth:`FeedConfig.resolve`).
    """
    curve = cfg.curve
    S = cfg.slots
    lam = activity * (length / 86400.0) / curve.sum()
    n_sess = poisson_inverse(hash_uniforms(key, _S_SESSIONS, accounts, round_index), lam)
    acc = np.repeat(accounts, n_sess)
    first = np.repeat(np.cumsum(n_sess) - n_sess, n_sess)
    sess = np.arange(acc.size) - first                     # session index within the account
    t_sess = start + hash_uniforms(key, _S_TIME, acc, round_index, sess) * length
    words = hash_words(key, _S_SLOT, acc[:, None], round_index,
                       sess[:, None] * S + np.arange(S)[None, :])   # (sessions, S)
    u = derive(words, _S_POOL)
    fixed = fresh_share + cfg.explore_share
    pool = np.where(u < fresh_share, _FRESH, np.where(
        u < fixed, _EXPLORE, np.where(u < fixed + (1.0 - fixed) * cfg.global_share,
                                      _GLOBAL, _TOPIC))).astype(np.int8)
    gap = -np.log1p(-derive(words, _S_GAP))
    depth = np.zeros(pool.shape)
    for p in (_TOPIC, _GLOBAL):                            # spacings accumulate per pool
        m = pool == p
        depth = np.where(m, np.cumsum(np.where(m, gap, 0.0), axis=1), depth)
    examined = derive(words, _S_EXAM) < curve[None, :]
    rows, cols = np.nonzero(examined)
    pick = derive(words[rows, cols], _S_PICK)
    return Sessions(key, round_index, acc[rows], cols.astype(np.int64), pool[rows, cols],
                    depth[rows, cols], pick, t_sess[rows] + 10.0 * cols, int(acc.size))


@dataclass(frozen=True)
class PersonalPools:
    """Each viewer's retrieved candidates of a round, best first.

    ``accounts`` (sorted) are the viewers of the round; row ``j`` of ``items`` holds
    account ``accounts[j]``'s candidates in the ranker's order of their pair scores
    (``scores``, same shape; ties by item id); a candidate drawn twice keeps its
    first place and its repeat is marked -1.
    """

    accounts: np.ndarray
    items: np.ndarray
    scores: np.ndarray

    def hits(self, targets, k: int) -> np.ndarray:
        """float[n_targets]: the share of the viewers whose top ``k`` holds each target."""
        targets = np.asarray(targets, np.int64)
        if self.accounts.size == 0:
            return np.zeros(targets.size)
        top = self.items[:, :k]
        return np.array([(top == t).any(axis=1).mean() for t in targets])


def personal_pools(cfg: FeedConfig, plan: Sessions, eligible: np.ndarray, pair_scores
                   ) -> PersonalPools:
    """Retrieve ``cfg.candidates`` eligible items per viewer of the round (uniform, counter-
    based: keyed by (viewer, round, draw), so twins retrieve alike) and order each
    viewer's by ``pair_scores(account, item)`` (a ranker's :func:`~boostbench.rankers.base.
    score_pairs`; for a global ranker its item scores)."""
    acc = np.unique(plan.acc)
    elig = np.flatnonzero(eligible)
    c = int(min(cfg.candidates, elig.size))
    if acc.size == 0 or c == 0:
        empty = np.zeros((acc.size, 0))
        return PersonalPools(acc, empty.astype(np.int64), empty)
    u = hash_uniforms(plan.key, _S_PERSONAL, acc[:, None], plan.round_index,
                      np.arange(c)[None, :])
    cand = elig[np.minimum((u * elig.size).astype(np.int64), elig.size - 1)]
    sc = np.asarray(pair_scores(np.repeat(acc, c), cand.ravel()), np.float64).reshape(cand.shape)
    by_id = np.argsort(cand, axis=1, kind="stable")          # ties by item id: sort by id,
    cand, sc = (np.take_along_axis(x, by_id, axis=1) for x in (cand, sc))
    order = np.argsort(-sc, axis=1, kind="stable")            # then stably by score
    cand, sc = (np.take_along_axis(x, order, axis=1) for x in (cand, sc))
    repeat = np.zeros(cand.shape, bool)     # sorted by score then id: a repeat sits next to it
    repeat[:, 1:] = cand[:, 1:] == cand[:, :-1]
    cand[repeat] = -1
    return PersonalPools(acc, cand, sc)


def global_hits(scores: np.ndarray, eligible: np.ndarray, targets, k: int, candidates: int
                ) -> np.ndarray:
    """For a global ranker, the probability that a viewer's ``candidates`` uniform draws
    (with replacement) from the L eligible items hold a target and fewer than ``k`` draws
    of items ahead of it in the order (ties by item id): with ``p`` items ahead,
    ``F(k-1; C, p/L) - ((L-1)/L)^C F(k-1; C, p/(L-1))``, F the binomial CDF — the
    expectation of :meth:`PersonalPools.hits` over the retrieval draws (0 for an
    ineligible target)."""
    from scipy.stats import binom

    targets = np.asarray(targets, np.int64)
    out = np.zeros(targets.size)
    L = int(eligible.sum())
    if L == 0:
        return out
    s = scores[eligible]
    ids = np.flatnonzero(eligible)
    c = min(int(candidates), L) if L > 1 else 1
    ok = eligible[targets]
    if L == 1:
        out[ok] = 1.0
        return out
    t = targets[ok]
    st = scores[t]
    ahead = ((s[None, :] > st[:, None])
             | ((s[None, :] == st[:, None]) & (ids[None, :] < t[:, None]))).sum(axis=1)
    out[ok] = (binom.cdf(k - 1, c, ahead / L)            # one call for every target
               - ((L - 1) / L) ** c * binom.cdf(k - 1, c, ahead / (L - 1)))
    return out


def ranked_order(scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """The eligible items' ids, best score first, ties by item id (one stable sort)."""
    elig = np.flatnonzero(eligible)
    return elig[stable_argsort(-scores[elig])]


def _ranked_pools(order, item_topic, n_topics):
    """The topic orders (each in the global ``order``) laid end to end, with each topic's
    start and size."""
    tp = item_topic[order]
    # a stable sort of small integers is a radix sort
    tp = tp.astype(np.int16 if n_topics <= np.iinfo(np.int16).max else np.int64)
    by_topic = order[np.argsort(tp, kind="stable")]
    size = np.bincount(tp, minlength=n_topics)
    return by_topic, np.cumsum(size) - size, size


def draw_feeds(cfg: FeedConfig, plan: Sessions, *, scores: np.ndarray, eligible: np.ndarray,
               impressions: np.ndarray, item_topic: np.ndarray, account_topic: np.ndarray,
               seen, n_topics: int, quota: int, personal: PersonalPools | None = None,
               order: np.ndarray | None = None) -> Feeds:
    """Fill the examined positions of a round's sessions with items (all vectorised).

    Parameters
    ----------
    plan : Sessions
        This round's :func:`plan_sessions`.
    scores, eligible, impressions : per-item arrays (public: the ranker's scores,
        eligibility and impressions so far, for the cold-start quota)
    seen : PairSet (or sparse KeySet) of (account, item) pair keys already shown
        (:func:`~boostbench._core.arrays.pair_set`); updated with this round's.
    quota : int
        The cold-start quota (:meth:`FeedConfig.resolve`).
    personal : PersonalPools, optional
        A personalised ranker's pools of this round (:func:`personal_pools`): topic
        positions walk the viewer's own order instead of the topic order.
    order : int array, optional
        :func:`ranked_order` of ``scores`` and ``eligible``, if the caller has it.
    """
    n_items = scores.size
    empty = Feeds(*(np.zeros(0, np.int64),) * 3, np.zeros(0))
    if plan.acc.size == 0 or not eligible.any():
        return empty
    if order is None:
        order = ranked_order(scores, eligible)
    by_topic, t_start, t_size = _ranked_pools(order, item_topic, n_topics)
    fresh = np.flatnonzero(eligible & (impressions < quota))
    # every pool is a slice of one array: [global order | topics | fresh (by id) | personal]
    mine = np.zeros(0, np.int64) if personal is None else personal.items.ravel()
    arena = np.concatenate([order, by_topic, fresh, mine])
    n_elig = order.size
    pool = plan.pool.copy()
    lo = np.zeros(pool.size, np.int64)
    size = np.full(pool.size, n_elig, np.int64)
    tp = account_topic[plan.acc].astype(np.int64)
    tp_ok = (tp >= 0) & (tp < t_size.size)
    has_topic = np.zeros(pool.size, bool)
    has_topic[tp_ok] = t_size[tp[tp_ok]] > 0
    if personal is not None:
        has_topic[:] = personal.items.shape[1] > 0
    pool[(pool == _TOPIC) & ~has_topic] = _GLOBAL        # an empty topic: the global order
    pool[(pool == _FRESH) & (fresh.size == 0)] = _EXPLORE
    m = pool == _TOPIC
    if personal is None:
        lo[m] = n_elig + t_start[tp[m]]
        size[m] = t_size[tp[m]]
    else:  # the viewer's own candidates, in its order: the k-th best sits at depth ~ k
        width = personal.items.shape[1]
        row = np.searchsorted(personal.accounts, plan.acc[m])
        lo[m] = 2 * n_elig + fresh.size + row * width
        size[m] = width
    m = pool == _FRESH
    lo[m] = 2 * n_elig
    size[m] = fresh.size
    ranked = pool <= _GLOBAL
    per = np.where((pool == _TOPIC) & (personal is not None), size, cfg.candidates)
    start = np.where(ranked, plan.depth * size / np.maximum(per, 1), plan.pick * size)
    pos = np.minimum(start.astype(np.int64), size - 1)
    glob = np.minimum((plan.depth * n_elig / cfg.candidates).astype(np.int64), n_elig - 1)
    # a session's candidates lie L / candidates ranks apart; uniform pools step one at a time;
    # a position tries at most ``candidates`` of them (a lap of a smaller pool)
    stride = np.where(ranked, np.maximum(size // np.maximum(per, 1), 1), 1)
    lap = np.minimum(-(-size // stride), cfg.candidates)
    g_stride = max(n_elig // cfg.candidates, 1)
    acc = plan.acc.astype(np.int64)
    bits, row_bytes, runs, starts = seen.arrays()
    itm = walk_pools(arena, lo, size, pos, stride, lap, acc, n_items,
                     np.where((pool == _GLOBAL) | (pool == _EXPLORE), -1, glob), n_elig,
                     g_stride, min(-(-n_elig // g_stride), cfg.candidates), bits, row_bytes,
                     runs, starts)
    shown = itm >= 0
    seen.add(acc[shown] * n_items + itm[shown])
    return Feeds(plan.acc[shown].astype(np.int64), itm[shown], plan.slot[shown], plan.t[shown])
