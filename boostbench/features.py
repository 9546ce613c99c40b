"""The feature view: a documented, versioned, columnar table of per-item features.

What a learned ranker reads of an :class:`~boostbench.observation.Observation`
(and only that: no Truth). Every feature is a function of the public log up to a
time ``at`` (weighted by the observation's event weights, so a defence in front
of a learned ranker changes its features the way it changes a formula's counts):

======================  ===============================================================
feature                 definition (counts are weighted event counts up to ``at``)
======================  ===============================================================
log_age_hours           log1p(hours since the item was posted)
log_{kind}              log1p(all-time count) for impression, view, like, comment, share,
                        report, not_interested
log_{kind}_{w}h         log1p(count in the last w hours), w in :data:`WINDOWS`, for
                        impression, view, like, comment, share
{kind}_rate             (count + prior rate x 20) / (impressions + 20) for like, comment,
                        share, report, not_interested: smoothed rate per impression
mean_completion         (sum of VIEW completions + 0.45 x 5) / (views + 5)
viewed_like_share       (likes from accounts that had viewed the item + 1) / (likes + 2)
log_comment_depth       mean log1p(comment length) over comments from viewers (0 if none)
creator_log_likes       the creator's mean log1p(likes) over its other posts so far
creator_log_followers   log1p(follows of the creator so far)
======================  ===============================================================

The table is versioned (:data:`FEATURES_VERSION`): a change of a definition bumps
it, so a model trained on one version is never read with another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InvalidParameter
from .events import EventKind as K
from .observation import Observation, aggregate

__all__ = ["FEATURES_VERSION", "FEATURE_NAMES", "WINDOWS", "FeatureTable", "item_features",
           "counts_between"]

FEATURES_VERSION = 1
#: Trailing windows (hours) of the recent-count features.
WINDOWS = (1, 6)
_TOTAL = (K.IMPRESSION, K.VIEW, K.LIKE, K.COMMENT, K.SHARE, K.REPORT, K.NOT_INTERESTED)
_RECENT = (K.IMPRESSION, K.VIEW, K.LIKE, K.COMMENT, K.SHARE)
_RATES = (K.LIKE, K.COMMENT, K.SHARE, K.REPORT, K.NOT_INTERESTED)
# smoothing: a rate is worth 20 impressions of the prior; a completion mean 5 views of 0.45
# (the organic mean completion, KuaiRand [D])
_RATE_PRIOR_IMPRESSIONS = 20.0
_COMPLETION_PRIOR, _COMPLETION_PRIOR_VIEWS = 0.45, 5.0


def _name(kind) -> str:
    return K(kind).name.lower()


#: Column names, in order.
FEATURE_NAMES = (("log_age_hours",)
                 + tuple(f"log_{_name(k)}" for k in _TOTAL)
                 + tuple(f"log_{_name(k)}_{w}h" for w in WINDOWS for k in _RECENT)
                 + tuple(f"{_name(k)}_rate" for k in _RATES)
                 + ("mean_completion", "viewed_like_share", "log_comment_depth",
                    "creator_log_likes", "creator_log_followers"))


@dataclass(frozen=True)
class FeatureTable:
    """Per-item features at one time: ``values[i, j]`` is feature ``names[j]`` of item i.

    Rows of items not posted by ``at`` are NaN; ``version`` is :data:`FEATURES_VERSION`.
    """

    names: tuple
    values: np.ndarray
    at: float
    version: int = FEATURES_VERSION

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.names.index(name)]


def counts_between(obs: Observation, lo: float, hi: float, name: str = "counts") -> np.ndarray:
    """Weighted aggregate ``name`` (see :meth:`Observation.aggregate`) of the events with
    ``lo < t <= hi``, float64[n_items, N_KINDS]. One pass over those events only."""
    t, _, item, kind, value = obs.events
    a, b = np.searchsorted(t, [lo, hi], side="right")
    w = obs.weight[a:b] if obs.weighted else None
    vb = obs.viewed_before()[a:b] if name.startswith("verified") else None
    return aggregate(name, item[a:b], kind[a:b], value[a:b], vb, w, obs.n_items)


def _totals(obs: Observation, at: float) -> dict:
    if at >= obs.now:
        return {n: obs.aggregate(n) for n in ("counts", "sums", "verified_counts",
                                               "verified_log_sums")}
    return {n: counts_between(obs, -np.inf, at, n) for n in ("counts", "sums", "verified_counts",
                                                              "verified_log_sums")}


def item_features(obs: Observation, at: float | None = None) -> FeatureTable:
    """The feature table of every item as of ``at`` (default ``obs.now``; at most it).

    Costs one bincount pass over the events up to ``at`` (none when ``at`` is
    ``obs.now``: the observation's cached aggregates are used) plus one over the
    last ``max(WINDOWS)`` hours.
    """
    at = obs.now if at is None else float(at)
    if not at <= obs.now:
        raise InvalidParameter(f"item_features needs at <= the observation's now ({obs.now}). "
                               f"Got {at}.", name="at")
    agg = _totals(obs, at)
    c, s = agg["counts"], agg["sums"]
    created = obs.items.created_at
    posted = created <= at
    cols = [np.log1p(np.maximum(at - created, 0.0) / 3600.0)]
    cols += [np.log1p(c[:, k]) for k in _TOTAL]
    for w in WINDOWS:
        recent = counts_between(obs, at - w * 3600.0, at)
        cols += [np.log1p(recent[:, k]) for k in _RECENT]
    imp = c[:, K.IMPRESSION]
    elig = posted & (created > at - obs.eligibility_hours * 3600.0)
    base = max(float(imp[elig].sum()), 1.0)
    for k in _RATES:
        prior = float(c[elig, k].sum()) / base
        cols.append((c[:, k] + prior * _RATE_PRIOR_IMPRESSIONS) / (imp + _RATE_PRIOR_IMPRESSIONS))
    views = c[:, K.VIEW]
    cols.append((s[:, K.VIEW] + _COMPLETION_PRIOR * _COMPLETION_PRIOR_VIEWS)
                / (views + _COMPLETION_PRIOR_VIEWS))
    likes = c[:, K.LIKE]
    cols.append((agg["verified_counts"][:, K.LIKE] + 1.0) / (likes + 2.0))
    vc = agg["verified_counts"][:, K.COMMENT]
    cols.append(np.divide(agg["verified_log_sums"][:, K.COMMENT], vc, out=np.zeros_like(vc),
                          where=vc > 0))
    cols += _creator_features(obs, np.log1p(likes), c[:, K.FOLLOW], posted)
    values = np.stack(cols, axis=1)
    values[~posted] = np.nan
    return FeatureTable(FEATURE_NAMES, values, at)


def _creator_features(obs, log_likes, follows, posted):
    """The creator's mean log-likes over its other posted items, and its followers so far."""
    creator = obs.items.creator.astype(np.int64)
    n = obs.n_accounts
    ok = posted & (creator >= 0)
    total = np.bincount(creator[ok], weights=log_likes[ok], minlength=n)
    n_posts = np.bincount(creator[ok], minlength=n).astype(np.float64)
    fol = np.bincount(creator[ok], weights=follows[ok], minlength=n)
    cr = np.where(creator >= 0, creator, 0)
    others = n_posts[cr] - ok
    mean_other = np.divide(total[cr] - np.where(ok, log_likes, 0.0), others,
                           out=np.zeros(creator.size), where=others > 0)
    return [mean_other, np.log1p(fol[cr])]

