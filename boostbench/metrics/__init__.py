"""Metrics: pure functions of (attacked trajectory, clean trajectory, Truth).

Each is registered in :data:`boostbench.plugins.METRICS` with its direction and
its exact definition (round, averaging).
"""

from . import defence, feed, rise
from .base import Metric, metric
from .feed import low_quality_mask, quality_ndcg_at_k, topk_membership
from .rise import target_ranks

__all__ = ["Metric", "metric", "quality_ndcg_at_k", "topk_membership", "low_quality_mask",
           "target_ranks", "feed", "rise", "defence"]
