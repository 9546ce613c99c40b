"""Metrics: pure functions of (attacked trajectory, clean trajectory, Truth).

Each is registered in :data:`boostbench.plugins.METRICS` with its direction, its
exact definition (round, averaging), the tables that show it and its gate margin
(:mod:`.base`). Modules: :mod:`.rise` (how far the targets rose), :mod:`.feed`
(what the feed looks like in true quality), :mod:`.defence` (detection and
collateral), :mod:`.clean` (the clean twin's figures), :mod:`.cost` (money).
"""

from . import rise, feed, defence, clean, cost  # noqa: F401  (register; order = column order)
from .base import NEEDS, TABLES, Margin, Metric, available, metric, table_columns
from .feed import low_quality_mask, quality_ndcg_at_k, topk_membership
from .rise import target_ranks

__all__ = ["Metric", "metric", "Margin", "TABLES", "table_columns", "quality_ndcg_at_k",
           "topk_membership", "low_quality_mask", "target_ranks", "feed", "rise", "defence",
           "clean", "cost", "undefined_without_detection", "available", "NEEDS"]


def undefined_without_detection() -> list[str]:
    """Names of the registered metrics that are NaN when nothing was detected."""
    from ..plugins import METRICS
    return [n for n, m in METRICS.items() if getattr(m, "undefined_without_detection", False)]
