"""Feed-ranking functions. Each is registered by name in :data:`boostbench.plugins.RANKERS`."""

from .base import Ranker, rank_items, score_items
from .depth import EngagementDepth
from .formulas import BayesianAverage, HackerNews, LikeVelocity, RedditHot, Wilson
from .likes import LikeCount
from .real_interaction import RealInteraction

__all__ = ["Ranker", "rank_items", "score_items", "LikeCount", "EngagementDepth",
           "RealInteraction", "LikeVelocity", "HackerNews", "RedditHot", "Wilson",
           "BayesianAverage"]
