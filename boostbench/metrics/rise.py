"""How far the targets rose: attacked run against its clean twin, at the end of the attack window."""

from __future__ import annotations

import numpy as np

from .base import metric
from .feed import topk_membership

__all__ = ["target_ranks"]


def target_ranks(traj, round_index: int | None = None) -> np.ndarray:
    """Ranks of ``traj.targets`` at ``round_index`` (default: the evaluation round).

    An ineligible target (not ranked) counts as one below the last ranked item.
    """
    r = traj.ranks[traj.eval_round if round_index is None else round_index]
    out = r[traj.targets].astype(np.float64)
    return np.where(np.isfinite(out), out, np.count_nonzero(np.isfinite(r)) + 1.0)


@metric("target_rank", greater_is_better=True,
        definition="attacked run, end of the attack window: mean over targets of the target's "
                   "rank (1 = top; larger means the attack did worse)")
def target_rank(attacked, clean, truth) -> float:
    return float(np.mean(target_ranks(attacked)))


@metric("rank_lift", greater_is_better=False,
        definition="end of the attack window: mean over targets of clean-twin rank minus "
                   "attacked rank (positive = the target rose)")
def rank_lift(attacked, clean, truth) -> float:
    return float(np.mean(target_ranks(clean) - target_ranks(attacked)))


@metric("log_rank_lift", greater_is_better=False,
        definition="end of the attack window: mean over targets of log2(clean rank / attacked "
                   "rank); 1 = the target's rank halved")
def log_rank_lift(attacked, clean, truth) -> float:
    return float(np.mean(np.log2(target_ranks(clean) / target_ranks(attacked))))


@metric("hit_rate_at_k", greater_is_better=False,
        definition="attacked run, end of the attack window: mean over targets of the "
                   "probability of being in the top k (random tie-breaking)")
def hit_rate_at_k(attacked, clean, truth) -> float:
    m = topk_membership(attacked.ranks[attacked.eval_round], attacked.k)
    return float(np.mean(m[attacked.targets]))
