"""The ranker contract and the ranking helper every caller uses.

A ranker is any callable ``Observation -> float64[n_items]`` with a ``name``;
higher is better. Only eligible items are ranked; ties get mid-ranks.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from scipy.stats import rankdata

from ..errors import InvalidParameter
from ..observation import Observation

__all__ = ["Ranker", "rank_items", "score_items"]


@runtime_checkable
class Ranker(Protocol):
    """Scores items from the public view; higher is better."""

    name: str

    def __call__(self, obs: Observation) -> np.ndarray: ...


def score_items(ranker, obs: Observation) -> np.ndarray:
    """Call ``ranker`` and check its output: float64[n_items], finite on eligible items."""
    s = np.asarray(ranker(obs), dtype=np.float64)
    if s.shape != (obs.n_items,):
        raise InvalidParameter(f"Ranker {getattr(ranker, 'name', ranker)!r} must return shape "
                               f"({obs.n_items},). Got {s.shape} instead.", name="ranker")
    if not np.all(np.isfinite(s[obs.eligible])):
        raise InvalidParameter(f"Ranker {getattr(ranker, 'name', ranker)!r} returned non-finite "
                               "scores for eligible items.", name="ranker")
    return s


def rank_items(scores: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Rank eligible items by score (1 = best; ties get mid-ranks); NaN for ineligible items.

    Examples
    --------
    >>> rank_items(np.array([3.0, 1.0, 3.0, 9.0]), np.array([True, True, True, False]))
    array([1.5, 3. , 1.5, nan])
    """
    ranks = np.full(scores.shape, np.nan)
    if eligible.any():
        ranks[eligible] = rankdata(-scores[eligible], method="average")
    return ranks
