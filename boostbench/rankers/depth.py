"""Engagement-depth ranking: weighted sums of engagement counts or of smoothed engagement rates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._core.params import InstanceOf, Interval, check_choice, declare
from ..events import EventKind
from ..observation import Observation
from ..plugins import RANKERS
from .real_interaction import smoothed_rate

__all__ = ["EngagementDepth", "TwitterHeavy", "TWITTER_HEAVY_WEIGHTS", "DEPTH_PRESETS",
           "half_views"]

#: The X/Twitter "For You" heavy-ranker weights of April 5, 2023, by head
#: (twitter/the-algorithm-ml, ``projects/home/recap/README.md``, commit b852108).
TWITTER_HEAVY_WEIGHTS = {
    "fav": 0.5,
    "retweet": 1.0,
    "reply": 13.5,
    "good_profile_click": 12.0,
    "video_playback50": 0.005,
    "reply_engaged_by_author": 75.0,
    "good_click": 11.0,
    "good_click_v2": 10.0,
    "negative_feedback_v2": -74.0,
    "report": -369.0,
}

_W = TWITTER_HEAVY_WEIGHTS
_WEIGHT = Interval(float, 0.0, None)

#: Raw-count :class:`EngagementDepth` presets, by name (keyword arguments of the constructor).
DEPTH_PRESETS = {
    "inverse_frequency": {},
    "twitter_heavy": {"like": _W["fav"], "share": _W["retweet"], "comment": _W["reply"],
                      "completion": 0.0, "not_interested": -_W["negative_feedback_v2"],
                      "report": -_W["report"], "name": "twitter_heavy_counts"},
}


@RANKERS.register("engagement_depth")
@dataclass(frozen=True)
@declare(**{f: _WEIGHT for f in ("like", "comment", "share", "completion", "not_interested",
                                 "report")}, name=InstanceOf(str, "a string"))
class EngagementDepth:
    """Weighted engagement: likes, comments, shares, completion, minus negative feedback.

    ``score = like*L + comment*C + share*S + completion*sum(view completion)
    - not_interested*N - report*R`` over weighted event counts.

    Defaults are inverse-frequency weights [drv]: each signal's weight is the
    like rate divided by its own rate per impression (KuaiRand / Tenrec [D]: like 0.018,
    comment 0.0027, share 0.0015, completion 0.38 x 0.45 per impression,
    not-interested 0.0009, report 0.0001), so each contributes equally to an
    average item's score. Rarer signals count more, as in production
    engagement-weighted rankers; reports weigh heaviest, which is what
    mass-report sabotage exploits. Other weightings: :meth:`preset`.
    """

    like: float = 1.0
    comment: float = 6.67
    share: float = 12.0
    completion: float = 0.105
    not_interested: float = 20.0
    report: float = 180.0
    name: str = "engagement_depth"

    @classmethod
    def preset(cls, preset: str, **overrides) -> "EngagementDepth":
        """A raw-count ranker with the weights of a named preset (see :data:`DEPTH_PRESETS`).

        ``"inverse_frequency"`` is the default ranker. ``"twitter_heavy"`` puts the
        published heavy-ranker weights on raw weighted counts (name
        ``twitter_heavy_counts``): like 0.5, share 1, comment 13.5, not-interested 74,
        report 369; ``completion`` is 0, because the published head counts views
        past half the video, not a sum of completions (:class:`TwitterHeavy` has it).

        Examples
        --------
        >>> EngagementDepth.preset("twitter_heavy").report
        369.0
        """
        check_choice("preset", preset, tuple(DEPTH_PRESETS), where="EngagementDepth.preset")
        return cls(**{**DEPTH_PRESETS[preset], **overrides})

    def __call__(self, obs: Observation) -> np.ndarray:
        c, s = obs.counts(), obs.sums()
        K = EventKind
        return (self.like * c[:, K.LIKE] + self.comment * c[:, K.COMMENT]
                + self.share * c[:, K.SHARE] + self.completion * s[:, K.VIEW]
                - self.not_interested * c[:, K.NOT_INTERESTED] - self.report * c[:, K.REPORT])


def half_views(obs: Observation, threshold: float = 0.5) -> np.ndarray:
    """Weighted number of VIEW events with completion ``>= threshold``, per item (one bincount)."""
    _, _, item, kind, value = obs.events
    hit = (kind == EventKind.VIEW) & (value >= threshold)
    return np.bincount(item[hit], weights=obs.weight[hit].astype(np.float64),
                       minlength=obs.n_items).astype(np.float64, copy=False)


@RANKERS.register("twitter_heavy")
@dataclass(frozen=True)
@declare(**{f: _WEIGHT for f in ("fav", "retweet", "reply", "video_playback50")},
         **{f: Interval(float, None, 0.0) for f in ("negative_feedback", "report")},
         prior_impressions=Interval(float, 0.0, None, closed="neither"),
         name=InstanceOf(str, "a string"))
class TwitterHeavy:
    """X/Twitter's heavy-ranker weights on smoothed per-impression engagement rates.

    Twitter's score is ``sum_h w_h * p_h`` with ``p_h`` the model's predicted
    probability that *this viewer* engages in way ``h``. boostbench has no
    per-viewer model, so ``p_h`` becomes the item's observed rate per weighted
    impression, shrunk toward the global rate of the eligible items:
    ``rate_i = (x_i + m*g) / (impressions_i + m)``, ``g = sum(x) / sum(impressions)``
    over eligible items, ``m = prior_impressions`` (an item seen 3 times is not
    judged on 3 coin flips). ``score_i = sum_h w_h * rate_{h,i}``.

    Head mapping (published weight -> boostbench signal, all counts weighted):

    ======================================  ========  ==============================
    head                                    weight    boostbench signal
    ======================================  ========  ==============================
    fav (favourite)                         0.5       LIKE
    retweet                                 1         SHARE
    reply                                   13.5      COMMENT
    video_playback50                        0.005     VIEW with completion >= 0.5
    negative_feedback_v2                    -74       NOT_INTERESTED
    report                                  -369      REPORT
    good_profile_click                      12        none: contributes 0
    good_click                              11        none: contributes 0
    good_click_v2                           10        none: contributes 0
    reply_engaged_by_author                 75        none: contributes 0
    ======================================  ========  ==============================

    Parameters
    ----------
    fav, retweet, reply, video_playback50 : float >= 0
        Weights of the positive heads (defaults: the published ones).
    negative_feedback, report : float <= 0
        Weights of the negative heads, with their published sign.
    prior_impressions : float > 0, default 100.0
        ``m``, impressions the global rate is worth [?] (an assumption: twice
        :class:`~boostbench.rankers.RealInteraction`'s ``prior_views``, because
        impressions outnumber views).

    References
    ----------
    twitter/the-algorithm-ml, ``projects/home/recap/README.md`` ("the current
    weighting of probabilities (April 5, 2023)"), commit b852108; an earlier
    revision listed reply 27 and one "good click" weight of 11.
    """

    #: per-impression rates (boostbench.recorded.needs)
    needs: ClassVar[tuple] = ("impressions",)

    fav: float = _W["fav"]
    retweet: float = _W["retweet"]
    reply: float = _W["reply"]
    video_playback50: float = _W["video_playback50"]
    negative_feedback: float = _W["negative_feedback_v2"]
    report: float = _W["report"]
    prior_impressions: float = 100.0
    name: str = "twitter_heavy"

    def __call__(self, obs: Observation) -> np.ndarray:
        K = EventKind
        c = obs.counts()
        heads = ((self.fav, c[:, K.LIKE]), (self.retweet, c[:, K.SHARE]),
                 (self.reply, c[:, K.COMMENT]), (self.video_playback50, half_views(obs)),
                 (self.negative_feedback, c[:, K.NOT_INTERESTED]), (self.report, c[:, K.REPORT]))
        impressions, elig = c[:, K.IMPRESSION], obs.eligible
        score = np.zeros(obs.n_items)
        for w, x in heads:
            score += w * smoothed_rate(x, impressions, self.prior_impressions, elig)[0]
        return score
