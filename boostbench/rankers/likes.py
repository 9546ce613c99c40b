"""Like-count ranking: the simplest social-proof ranker, and the easiest to buy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._core.params import InstanceOf, declare
from ..events import EventKind
from ..observation import Observation
from ..plugins import RANKERS

__all__ = ["LikeCount"]


@RANKERS.register("like_count")
@dataclass(frozen=True)
@declare(name=InstanceOf(str, "a string"))
class LikeCount:
    """Weighted number of likes an item has received (all time; only eligible items are ranked)."""

    name: str = "like_count"

    def __call__(self, obs: Observation) -> np.ndarray:
        return obs.count(EventKind.LIKE).copy()
