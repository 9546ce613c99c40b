"""Feed-level metrics: what the top of the feed looks like, in true quality."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidParameter

from .._core.arrays import stable_argsort
from .._core.params import check_int
from .base import Margin, metric

__all__ = ["topk_membership", "topk_membership_of", "quality_ndcg_at_k", "low_quality_mask",
           "feed_quality_per_round"]


def topk_membership(ranks: np.ndarray, k: int) -> np.ndarray:
    """Probability that each item is in the top ``k`` when ties are broken at random.

    ``ranks`` are mid-ranks (1 = best) with NaN for unranked items. An item whose
    tie group of size g occupies positions lo..lo+g-1 is in the top k with
    probability ``clip((k - lo + 1) / g, 0, 1)``. The memberships sum to
    ``min(k, number ranked)``.

    Examples
    --------
    >>> topk_membership(np.array([1.0, 2.5, 2.5, 4.0]), 2).tolist()
    [1.0, 0.5, 0.5, 0.0]
    """
    k = check_int("k", k, low=1, where="topk_membership")
    out = np.zeros(ranks.shape, np.float64)
    ok = np.isfinite(ranks)
    r = ranks[ok].astype(np.float64)
    if r.size == 0:
        return out
    uniq, inv, size = np.unique(r, return_inverse=True, return_counts=True)
    g = size[inv].astype(np.float64)
    lo = r - (g - 1) / 2
    out[ok] = np.clip((k - lo + 1) / g, 0.0, 1.0)
    return out


def topk_membership_of(ranks: np.ndarray, items, k: int) -> np.ndarray:
    """:func:`topk_membership` of a few ``items`` in every row of ``ranks`` (rounds x items):
    shape (rounds, len(items)). Counts each item's tie group directly instead of grouping
    every ranked item, so a metric that reads a few targets over many rounds costs
    O(rounds x items x targets) comparisons rather than a sort per round.
    """
    k = check_int("k", k, low=1, where="topk_membership_of")
    ranks = np.atleast_2d(np.asarray(ranks))
    if ranks.dtype.kind != "f":
        ranks = ranks.astype(np.float64)
    items = np.asarray(items, np.int64)
    out = np.zeros((ranks.shape[0], items.size))
    for j, i in enumerate(items.tolist()):
        # ties are counted in the ranks' own float type (a float32 trajectory is not copied
        # to float64: equality survives the exact widening), the formula in float64
        own = ranks[:, i]
        ok = np.isfinite(own)
        g = np.count_nonzero(ranks[ok] == own[ok, None], axis=1).astype(np.float64)
        r = own[ok].astype(np.float64)
        out[ok, j] = np.clip((k - (r - (g - 1) / 2) + 1) / g, 0.0, 1.0)
    return out


def _dcg_tie_averaged(gains: np.ndarray, scores: np.ndarray, k: int) -> float:
    """DCG@k with gains averaged within tied-score groups (as sklearn's ndcg_score does)."""
    order = stable_argsort(-scores)
    s, g = scores[order], gains[order]
    _, starts, counts = np.unique(-s, return_index=True, return_counts=True)
    discount = 1.0 / np.log2(np.arange(2, s.size + 2))
    discount[k:] = 0.0
    cum = np.concatenate([[0.0], np.cumsum(discount)])
    group_gain = np.add.reduceat(g, starts) / counts
    return float(np.sum(group_gain * (cum[starts + counts] - cum[starts])))


def quality_ndcg_at_k(quality, scores, *, k: int) -> float:
    """NDCG@k with linear gains equal to true quality and the 1/log2(1 + rank) discount.

    Parameters
    ----------
    quality : array of shape (n,), values >= 0
        True quality of the ranked items (the gains).
    scores : array of shape (n,)
        Ranking scores (higher = better); tied items share the average gain of their group.
    k : int >= 1

    Returns
    -------
    float in [0, 1]; 0 when every gain is 0.

    References
    ----------
    Järvelin & Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
    ACM TOIS 2002; ties as in McSherry & Najork, ECIR 2008 (sklearn's ``ndcg_score``).
    """
    k = check_int("k", k, low=1, where="quality_ndcg_at_k")
    q = np.asarray(quality, np.float64)
    s = np.asarray(scores, np.float64)
    if q.shape != s.shape or q.ndim != 1:
        raise InvalidParameter("quality_ndcg_at_k needs 1-d quality and scores of equal length. "
                               f"Got {q.shape} and {s.shape}.", name="scores")
    if q.size and (q.min() < 0 or not np.all(np.isfinite(q)) or not np.all(np.isfinite(s))):
        raise InvalidParameter("quality_ndcg_at_k needs finite scores and finite quality >= 0.",
                               name="quality")
    ideal = _dcg_tie_averaged(q, q, k)
    if ideal == 0:
        return 0.0
    return _dcg_tie_averaged(q, s, k) / ideal


def low_quality_mask(quality: np.ndarray, quantile: float) -> np.ndarray:
    """Items whose quality is at or below the ``quantile`` of all items' quality."""
    return quality <= np.quantile(quality, quantile)


@metric("low_quality_share_at_k", needs=("quality",), greater_is_better=False, column=60,
        margin=Margin(0.10, 0.02), tables=("replay",),
        definition="attacked run, end of the attack window: expected share of the top k "
                   "(random tie-breaking) held by items in the bottom low_quality_quantile of quality")
def low_quality_share_at_k(attacked, clean, truth) -> float:
    ranks = attacked.ranks[attacked.eval_round]
    m = topk_membership(ranks, attacked.k)
    low = low_quality_mask(truth.quality, attacked.low_quality_quantile)
    return float(np.sum(m * low) / max(np.sum(m), 1e-12))


@metric("quality_ndcg_at_k", needs=("quality",), greater_is_better=True, column=70,
        margin=Margin(0.05, 0.01), tables=("replay",),
        definition="attacked run, end of the attack window: NDCG@k of the eligible items "
                   "ranked by the ranker, gains = true quality")
def quality_ndcg_metric(attacked, clean, truth) -> float:
    ranks = attacked.ranks[attacked.eval_round]
    ok = np.isfinite(ranks)
    return quality_ndcg_at_k(truth.quality[ok], -ranks[ok], k=attacked.k)


def feed_quality_per_round(traj, truth) -> np.ndarray:
    """Mean true quality of the organic impressions of each round (NaN for a round without any)."""
    exp = traj.exposure.astype(np.float64)
    tot = exp.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (exp @ truth.quality.astype(np.float64)) / tot


@metric("low_quality_exposure_share", needs=("quality", "impressions"),
        greater_is_better=False, column=80,
        margin=Margin(0.10, 0.01), tables=("closed",),
        definition="attacked run, whole horizon: share of organic impressions that went to "
                   "items in the bottom low_quality_quantile of quality")
def low_quality_exposure_share(attacked, clean, truth) -> float:
    exp = attacked.exposure.sum(axis=0).astype(np.float64)
    low = low_quality_mask(truth.quality, attacked.low_quality_quantile)
    return float(exp[low].sum() / max(exp.sum(), 1e-12))


@metric("feed_quality", needs=("quality", "impressions"), greater_is_better=True,
        nan_when='no round had an organic impression', column=90,
        margin=Margin(0.02, 0.005), tables=("closed",),
        definition="attacked run, whole horizon: mean over rounds of the mean true quality of "
                   "what organic users were shown")
def feed_quality(attacked, clean, truth) -> float:
    q = feed_quality_per_round(attacked, truth)
    q = q[np.isfinite(q)]
    return float(q.mean()) if q.size else float("nan")
