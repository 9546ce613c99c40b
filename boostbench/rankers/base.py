"""The ranker contract and the ranking helper every caller uses.

A ranker is any callable ``Observation -> float64[n_items]`` with a ``name``;
higher is better. Only eligible items are ranked; ties get mid-ranks.

Personalised rankers extend the same contract instead of replacing it: a ranker
may *also* offer ``score_pairs(obs, account, item) -> float64[n]``, scores of
(account, candidate item) pairs (a collaborative-filtering model, a learned
pLike per viewer). Its plain call still returns one global score per item, which
is what the tables, the metrics and the global (trending) pool read; a feed that
fills a viewer's personalised candidates orders them by ``score_pairs`` when the
ranker has it, and by the global scores otherwise. So every global ranker is a
personalised one whose pair score is its item score, and no caller needs a
second code path: :func:`score_pairs` answers for both.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from scipy.stats import rankdata

from .._core.arrays import run_starts
from ..errors import InvalidParameter, plugin_call
from ..observation import Observation

__all__ = ["Ranker", "PersonalisedRanker", "rank_items", "score_items", "score_pairs",
           "with_oracle"]


@runtime_checkable
class Ranker(Protocol):
    """Scores items from the public view; higher is better."""

    name: str

    def __call__(self, obs: Observation) -> np.ndarray: ...


@runtime_checkable
class PersonalisedRanker(Ranker, Protocol):
    """A ranker that also scores (account, candidate item) pairs; higher is better."""

    def score_pairs(self, obs: Observation, account: np.ndarray, item: np.ndarray
                    ) -> np.ndarray: ...


def score_pairs(ranker, obs: Observation, account, item, scores: np.ndarray | None = None
                ) -> np.ndarray:
    """Scores of (account, item) pairs: the ranker's ``score_pairs`` if it has one, else its
    item scores (``scores``, or a fresh call) at ``item``. Checked: float64, one per pair,
    finite."""
    account = np.asarray(account, np.int64)
    item = np.asarray(item, np.int64)
    if account.shape != item.shape:
        raise InvalidParameter(f"score_pairs needs account and item arrays of one shape. Got "
                               f"{account.shape} and {item.shape}.", name="account")
    fn = getattr(ranker, "score_pairs", None)
    if fn is None:
        s = score_items(ranker, obs) if scores is None else np.asarray(scores, np.float64)
        return s[item]
    out = np.asarray(fn(obs, account, item), dtype=np.float64)
    if out.shape != item.shape or not np.all(np.isfinite(out)):
        raise InvalidParameter(f"Ranker {getattr(ranker, 'name', ranker)!r}: score_pairs must "
                               f"return finite float scores of shape {item.shape}.",
                               name="ranker")
    return out


def score_items(ranker, obs: Observation) -> np.ndarray:
    """Call ``ranker`` and check its output: float64[n_items], finite on eligible items.

    A failure inside the ranker (scores that are not numbers included) is a
    :class:`~boostbench.errors.PluginFailure` naming it."""
    name = getattr(ranker, "name", ranker)
    with plugin_call("ranker", name, "scoring the feed"):
        raw = ranker(obs)
        if np.iscomplexobj(raw):   # numpy would drop the imaginary part with a warning
            raise TypeError("its scores are complex numbers; a score must be a real number")
        s = np.asarray(raw, dtype=np.float64)
    if s.shape != (obs.n_items,):
        raise InvalidParameter(f"Ranker {name!r} must return shape "
                               f"({obs.n_items},). Got {s.shape} instead.", name="ranker")
    if not np.all(np.isfinite(s[obs.eligible])):
        raise InvalidParameter(f"Ranker {name!r} returned non-finite "
                               "scores for eligible items.", name="ranker")
    return s


def rank_items(scores: np.ndarray, eligible: np.ndarray, order: np.ndarray | None = None
               ) -> np.ndarray:
    """Rank eligible items by score (1 = best; ties get mid-ranks); NaN for ineligible items.

    ``order``: the eligible items' ids sorted best first, if the caller has them (a feed
    does: :func:`boostbench.feed.ranked_order`); the ranks are then read off it without
    another sort.

    Examples
    --------
    >>> rank_items(np.array([3.0, 1.0, 3.0, 9.0]), np.array([True, True, True, False]))
    array([1.5, 3. , 1.5, nan])
    """
    ranks = np.full(scores.shape, np.nan)
    if order is not None:
        if order.size:
            ranks[order] = _mid_ranks(scores[order])
    elif eligible.any():
        ranks[eligible] = _average_ranks(-scores[eligible])
    return ranks


def _mid_ranks(sorted_scores: np.ndarray) -> np.ndarray:
    """Mid-ranks (1 = first) of values already sorted, best first: each run of equal values
    shares its average position — the floats of :func:`_average_ranks`."""
    n = sorted_scores.size
    starts = np.flatnonzero(run_starts(sorted_scores))
    counts = np.diff(starts, append=n)
    per_group = (starts + 1).astype(np.float64) + (counts.astype(np.float64) - 1) / 2
    return np.repeat(per_group, counts)


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
    out = np.empty(n, np.float64)
    out[j] = _mid_ranks(x[j])
    return out


def with_oracle(ranker, fake: np.ndarray, since: float | None = None, quality=None):
    """``ranker`` with what an ORACLE may read of the hidden truth bound — the fake-account
    labels, the window start ``since`` and the items' true ``quality`` — if it is an oracle
    (``ranker.oracle`` true: an oracle pipeline, ``oracle_quality``), else ``ranker``."""
    if not getattr(ranker, "oracle", False):
        return ranker
    kw = {} if since is None else {"since": since}
    if quality is not None:
        kw["quality"] = quality
    return ranker.bind(fake, **kw)

