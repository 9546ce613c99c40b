"""A Douyin-style "real-interaction score" (真实互动分) and variants — documented proxies.

No platform publishes this formula. The proxy follows what creators and the
platform describe: items are judged on *rates per view* (completion first, then
comment depth, shares, likes), interactions count only when they look real (the
same account viewed the item before acting), bare likes weigh little, and
negative feedback subtracts. The variants change one thing each: how an
interaction is credited (:class:`RealInteractionCompletion`,
:class:`RealInteractionDistinct`) or how the signals are weighted
(:class:`RealInteractionDepth`); every one is a proxy too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._core.params import InstanceOf, Interval, declare
from .._core.arrays import first_occurrence, pair_keys
from ..events import N_KINDS, EventKind
from ..observation import Observation, aggregate
from ..plugins import RANKERS

__all__ = ["RealInteraction", "RealInteractionCompletion", "RealInteractionDepth",
           "RealInteractionDistinct", "smoothed_rate", "view_completion"]

_EPS = 1e-9
_WEIGHTS = ("completion", "comment", "share", "like", "negative", "volume")


def smoothed_rate(x: np.ndarray, n: np.ndarray, prior: float, eligible: np.ndarray
                  ) -> tuple[np.ndarray, float]:
    """Per-item rates ``x / n`` shrunk toward the global rate of the eligible items.

    ``g = sum(x[eligible]) / max(sum(n[eligible]), 1e-9)`` and
    ``rate = (x + prior * g) / (n + prior)``: an item with no evidence gets ``g``,
    one with ``n >> prior`` its raw rate. Returns ``(rate, g)``.

    Examples
    --------
    >>> rate, g = smoothed_rate(np.array([1.0, 9.0]), np.array([10.0, 10.0]), 10.0,
    ...                         np.array([True, True]))
    >>> float(g), rate.tolist()
    (0.5, [0.3, 0.7])
    """
    g = x[eligible].sum() / max(n[eligible].sum(), _EPS)
    return (x + prior * g) / (n + prior), g


def _signals(counts, sums, verified_counts, verified_log_sums) -> dict:
    """The proxy's signals as ``name -> (total, denominator)`` per item, from aggregates."""
    K = EventKind
    views = counts[:, K.VIEW]
    return {
        "completion": (sums[:, K.VIEW], views),
        "like": (verified_counts[:, K.LIKE], views),
        "share": (verified_counts[:, K.SHARE], views),
        "comment": (verified_log_sums[:, K.COMMENT], views),
        "negative": (counts[:, K.REPORT] + counts[:, K.NOT_INTERESTED], counts[:, K.IMPRESSION]),
    }


@RANKERS.register("real_interaction")
@dataclass(frozen=True)
@declare(**{f: Interval(float, 0.0, None) for f in _WEIGHTS},
         prior_views=Interval(float, 0.0, None, closed="neither"), name=InstanceOf(str, "a string"))
class RealInteraction:
    """Smoothed per-view rates against the platform average, on a log scale (a proxy).

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

    #: what it reads that a recorded log may lack (boostbench.recorded.needs): the
    #: negative term is per impression
    needs: ClassVar[tuple] = ("impressions",)

    completion: float = 1.0
    comment: float = 0.6
    share: float = 0.3
    like: float = 0.2
    negative: float = 0.3
    volume: float = 0.15
    prior_views: float = 50.0
    name: str = "real_interaction"

    def __call__(self, obs: Observation) -> np.ndarray:
        return self._score(obs, self._signals(obs))

    def _signals(self, obs: Observation) -> dict:
        """``name -> (total, denominator)`` per item; variants override this."""
        return _signals(obs.counts(), obs.sums(), obs.aggregate("verified_counts"),
                        obs.aggregate("verified_log_sums"))

    def _score(self, obs: Observation, signals: dict) -> np.ndarray:
        """The volume term plus each signal's weighted log smoothed-rate ratio."""
        elig = obs.eligible
        score = self.volume * np.log1p(signals["completion"][1])
        for name, (x, denom) in signals.items():
            rate, g = smoothed_rate(x, denom, self.prior_views, elig)
            term = getattr(self, name) * np.log((rate + _EPS) / (g + _EPS))
            score = score - term if name == "negative" else score + term
        return score


def view_completion(obs: Observation, account: np.ndarray, item: np.ndarray) -> np.ndarray:
    """Best weighted completion of each (account, item)'s views; 0 where it never viewed.

    A view's credit is ``weight * completion`` (a view a defence discounted vouches
    for less); several views of one pair take the maximum. Vectorised join: one
    sort of the VIEW keys, one binary search per queried pair.
    """
    _, v_account, v_item, kind, value = obs.events
    is_view = kind == EventKind.VIEW
    keys = pair_keys(v_account[is_view], v_item[is_view], obs.n_items)
    credit = obs.weight[is_view].astype(np.float64) * value[is_view]
    out = np.zeros(np.shape(account), np.float64)
    if keys.size == 0:
        return out
    order = np.lexsort((credit, keys))                    # by key, then credit: max is last
    keys, credit = keys[order], credit[order]
    last = np.append(keys[1:] != keys[:-1], True)
    keys, best = keys[last], credit[last]
    q = pair_keys(account, item, obs.n_items)
    j = np.minimum(np.searchsorted(keys, q), keys.size - 1)
    hit = keys[j] == q
    out[hit] = best[j[hit]]
    return out


def _per_kind(item, kind, weights, n_items) -> np.ndarray:
    """Sum of ``weights`` per item and kind, float64[n_items, N_KINDS] (one bincount)."""
    return aggregate("counts", item, kind, None, None, weights, n_items)


@RANKERS.register("real_interaction_completion")
@dataclass(frozen=True)
class RealInteractionCompletion(RealInteraction):
    """:class:`RealInteraction` with interactions credited by the actor's completion (a proxy).

    No platform publishes this formula. A like, share or comment counts
    ``weight * c`` with ``c`` the completion of the acting account's own view of
    the item (its best view if several; 0 if it never viewed it, at any time up
    to ``now``; see :func:`view_completion`): a like from an account that watched
    20% counts 0.2, an API-style like with no view counts nothing. A comment
    contributes ``weight * c * log(1 + length)`` (comment depth, credited the same
    way). This replaces the view-before-act check; completion, negative feedback,
    the volume term, the weights and the smoothing are :class:`RealInteraction`'s.
    """

    name: str = "real_interaction_completion"

    def _signals(self, obs: Observation) -> dict:
        K = EventKind
        _, account, item, kind, value = obs.events
        act = (kind == K.LIKE) | (kind == K.SHARE) | (kind == K.COMMENT)
        a_item, a_kind = item[act], kind[act]
        credit = obs.weight[act] * view_completion(obs, account[act], a_item)
        depth = np.where(a_kind == K.COMMENT, np.log1p(value[act].astype(np.float64)), 1.0)
        credited = _per_kind(a_item, a_kind, credit, obs.n_items)
        credited_depth = _per_kind(a_item, a_kind, credit * depth, obs.n_items)
        return _signals(obs.counts(), obs.sums(), credited, credited_depth)


@RANKERS.register("real_interaction_depth")
@dataclass(frozen=True)
class RealInteractionDepth(RealInteraction):
    """:class:`RealInteraction` with comment depth as the dominant term (a proxy).

    No platform publishes this formula. Same signals as :class:`RealInteraction`
    (comment depth = sum of log(1 + length) over view-verified comments, per
    view); only the default weights differ: comment depth 1.2, completion 0.4,
    share 0.2, like 0.1, negative 0.3, volume 0.15 [?]. The comment weight
    exceeds the other positive signal weights combined (0.7), modelling
    platforms that reward conversation over passive approval.
    """

    completion: float = 0.4
    comment: float = 1.2
    share: float = 0.2
    like: float = 0.1
    name: str = "real_interaction_depth"


@RANKERS.register("real_interaction_distinct")
@dataclass(frozen=True)
class RealInteractionDistinct(RealInteraction):
    """:class:`RealInteraction` counting each account at most once per item and kind (a proxy).

    No platform publishes this formula. Only an account's *first* event of each
    kind on an item counts, with that event's weight (five likes from one account
    count as one; only its first view's completion counts; its first comment's
    length is the depth). Every signal, denominator (views, impressions) and
    the view-verification are otherwise :class:`RealInteraction`'s.
    """

    name: str = "real_interaction_distinct"

    def _signals(self, obs: Observation) -> dict:
        _, account, item, kind, value = obs.events
        keys = pair_keys(account, item, obs.n_items) * N_KINDS + kind
        first = first_occurrence(keys)
        item, kind, value = item[first], kind[first], value[first]
        vb, w = obs.viewed_before()[first], obs.weight[first]
        parts = [aggregate(name, item, kind, value, vb, w, obs.n_items)
                 for name in ("counts", "sums", "verified_counts", "verified_log_sums")]
        return _signals(*parts)
