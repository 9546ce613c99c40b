"""Engagement-depth ranking: a weighted sum of engagement counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import check_real
from ..events import EventKind
from ..observation import Observation
from ..plugins import RANKERS

__all__ = ["EngagementDepth"]


@RANKERS.register("engagement_depth")
@dataclass(frozen=True)
class EngagementDepth:
    """Weighted engagement: likes, comments, shares, completion, minus negative feedback.

    ``score = like*L + comment*C + share*S + completion*sum(view completion)
    - not_interested*N - report*R`` over weighted event counts.

    Defaults are inverse-frequency weights [drv]: each signal's weight is the
    like rate divided by its own rate per impression (CALIBRATION.md: like 0.018,
    comment 0.0027, share 0.0015, completion 0.38 x 0.45 per impression,
    not-interested 0.0009, report 0.0001), so each contributes equally to an
    average item's score. Rarer signals count more, as in production
    engagement-weighted rankers; reports weigh heaviest, which is what
    mass-report sabotage exploits.
    """

    like: float = 1.0
    comment: float = 6.67
    share: float = 12.0
    completion: float = 0.105
    not_interested: float = 20.0
    report: float = 180.0
    name: str = "engagement_depth"

    def __post_init__(self):
        for f in ("like", "comment", "share", "completion", "not_interested", "report"):
            check_real(f, getattr(self, f), low=0.0, where="EngagementDepth")

    def __call__(self, obs: Observation) -> np.ndarray:
        c, s = obs.counts(), obs.sums()
        K = EventKind
        return (self.like * c[:, K.LIKE] + self.comment * c[:, K.COMMENT]
                + self.share * c[:, K.SHARE] + self.completion * s[:, K.VIEW]
                - self.not_interested * c[:, K.NOT_INTERESTED] - self.report * c[:, K.REPORT])
