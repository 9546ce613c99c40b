"""The clean twin's own figures, recorded next to every attacked run's.

They say where a ranker stands without an attack: how good its clean feed is and
where the targets would have been. Each is a registered metric like any other.
"""

from __future__ import annotations

import numpy as np

from .base import metric
from .feed import feed_quality, low_quality_exposure_share, quality_ndcg_metric
from .rise import target_ranks

__all__: list[str] = []


@metric("clean_target_rank", greater_is_better=True,
        definition="clean twin, end of the attack window: mean over the attacked run's targets "
                   "of their rank (larger: the ranker keeps low-quality targets lower)")
def clean_target_rank(attacked, clean, truth) -> float:
    return float(np.mean(target_ranks(clean, targets=attacked.targets)))


@metric("clean_quality_ndcg_at_k", needs=("quality",), greater_is_better=True,
        definition="clean twin: quality_ndcg_at_k (NDCG@k of the ranking at the end of the "
                   "attack window, gains = true quality)")
def clean_quality_ndcg_at_k(attacked, clean, truth) -> float:
    return quality_ndcg_metric(clean, clean, truth)


@metric("clean_feed_quality", needs=("quality", "impressions"), greater_is_better=True,
        definition="clean twin: feed_quality (mean true quality of what organic users were "
                   "shown, averaged over rounds)")
def clean_feed_quality(attacked, clean, truth) -> float:
    return feed_quality(clean, clean, truth)


@metric("clean_low_quality_exposure_share", needs=("quality", "impressions"),
        greater_is_better=False,
        definition="clean twin: low_quality_exposure_share (share of organic impressions on "
                   "items in the bottom low_quality_quantile of quality)")
def clean_low_quality_exposure_share(attacked, clean, truth) -> float:
    return low_quality_exposure_share(clean, clean, truth)
