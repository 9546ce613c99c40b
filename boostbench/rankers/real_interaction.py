"""A Douyin-style "real-interaction score" (真实互动分) — a documented proxy.

No platform publishes this formula. The proxy follows what creators and the
platform describe: items are judged on *rates per view* (completion first, then
comment depth, shares, likes), interactions count only when they look real (the
same account viewed the item before acting), bare likes weigh little, and
negative feedback subtracts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import check_real
from ..events import EventKind
from ..observation import Observation
from ..plugins import RANKERS

__all__ = ["RealInteraction"]

_EPS = 1e-9


@RANKERS.register("real_interaction")
@dataclass(frozen=True)
class RealInteraction:
    """Smoothed per-view rates against the platform average, on a log scale.

    For item i with weighted views V_i and signal totals X_i (completion sum,
    view-verified likes, comment depth = sum of log(1 + length) over
    view-verified comments, view-verified shares) the smoothed rate is
    ``(X_i + m * g) / (V_i + m)`` with ``g`` the average rate over eligible items
    and ``m = prior_views``. Negative feedback (reports + not-interested) is a rate
    per impression, smoothed the same way. The score is

    ``completion*log(c_i/g_c) + comment*log(d_i/g_d) + share*log(s_i/g_s)
    + like*log(l_i/g_l) - negative*log(n_i/g_n) + volume*log(1 + V_i)``.

    Weights (completion 1, comment depth 0.6, share 0.3, like 0.2, negative 0.3,
    volume 0.15) and ``prior_views = 50`` are assumptions [?] that encode the
    published ordering "completion > comments > shares > likes"; the small
    volume term breaks ties toward items with more evidence.
    """

    completion: float = 1.0
    comment: float = 0.6
    share: float = 0.3
    like: float = 0.2
    negative: float = 0.3
    volume: float = 0.15
    prior_views: float = 50.0
    name: str = "real_interaction"

    def __post_init__(self):
        for f in ("completion", "comment", "share", "like", "negative", "volume"):
            check_real(f, getattr(self, f), low=0.0, where="RealInteraction")
        check_real("prior_views", self.prior_views, low=0.0, low_open=True,
                   where="RealInteraction")

    def __call__(self, obs: Observation) -> np.ndarray:
        K = EventKind
        counts, sums = obs.counts(), obs.sums()
        vc, vl = obs.aggregate("verified_counts"), obs.aggregate("verified_log_sums")
        views = counts[:, K.VIEW]
        totals = {
            "completion": (sums[:, K.VIEW], views),
            "like": (vc[:, K.LIKE], views),
            "share": (vc[:, K.SHARE], views),
            "comment": (vl[:, K.COMMENT], views),
            "negative": (counts[:, K.REPORT] + counts[:, K.NOT_INTERESTED],
                         counts[:, K.IMPRESSION]),
        }
        elig = obs.eligible
        score = self.volume * np.log1p(views)
        for name, (x, denom) in totals.items():
            g = x[elig].sum() / max(denom[elig].sum(), _EPS)
            rate = (x + self.prior_views * g) / (denom + self.prior_views)
            term = getattr(self, name) * np.log((rate + _EPS) / (g + _EPS))
            score = score - term if name == "negative" else score + term
        return score
