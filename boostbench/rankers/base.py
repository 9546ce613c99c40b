"""The ranker contract and the ranking helper every caller uses.

A ranker is any callable ``Observation -> float64[n_items]`` with a ``name``;
higher is better. Only eligible items are ranked; ties get mid-ranks.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from scipy.stats import rankdata

from .._core.arrays import run_starts
from ..errors import InvalidParameter
from ..observation import Observation

__all__ = ["Ranker", "rank_items", "score_items", "with_oracle"]


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
        ranks[eligible] = _average_ranks(-scores[eligible])
    return ranks


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(x, method="average")`` of a 1-d array, the same floats.

    rankdata sorts stably, but an average rank is the same for every member of a
    tie group whatever their order, so the faster unstable sort gives the same
    answer; arrays with NaN go to rankdata itself.
    """
    n = x.size
    if n == 0 or np.isnan(x).any():
        return rankdata(x, method="average")
    j = np.argsort(x)
    starts = np.flatnonzero(run_starts(x[j]))
    counts = np.diff(starts, append=n)
    per_group = (starts + 1).astype(np.float64) + (counts.astype(np.float64) - 1) / 2
    out = np.empty(n, np.float64)
    out[j] = np.repeat(per_group, counts)
    return out


def with_oracle(ranker, fake: np.ndarray, since: float | None = None):
    """``ranker`` with fake-account labels (and the window start ``since``, if given) bound
    if it is an oracle pipeline, else ``ranker``."""
    if not getattr(ranker, "oracle", False):
        return ranker
    return ranker.bind(fake) if since is None else ranker.bind(fake, since=since)

