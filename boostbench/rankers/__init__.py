"""Feed-ranking functions and the defences in front of them.

Scorers are registered in :data:`boostbench.plugins.RANKERS`, defences in
:data:`boostbench.plugins.DEFENCES`; ``Pipeline(*defences, scorer)`` composes them
(``build_ranker("scorer+defence+...")`` from a spec).
"""

from . import defences
from .base import Ranker, rank_items, score_items
from .depth import EngagementDepth, TwitterHeavy
from .learned import LogisticL2, ModelRanker
from .wrmf import WRMF
from .formulas import BayesianAverage, HackerNews, LikeVelocity, RedditHot, Wilson
from .likes import LikeCount
from .pipeline import Audit, Pipeline, build_ranker
from .reference import OracleQuality, RandomRanker
from .real_interaction import (RealInteraction, RealInteractionCompletion, RealInteractionDepth,
                               RealInteractionDistinct)

__all__ = ["Ranker", "rank_items", "score_items", "LikeCount", "EngagementDepth",
           "RealInteraction", "LikeVelocity", "HackerNews", "RedditHot", "Wilson",
           "BayesianAverage", "TwitterHeavy", "RealInteractionCompletion", "RealInteractionDepth",
           "RealInteractionDistinct", "Pipeline", "Audit", "build_ranker", "defences",
           "RandomRanker", "OracleQuality", "ModelRanker", "LogisticL2", "WRMF"]
