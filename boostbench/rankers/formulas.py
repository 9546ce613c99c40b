"""Published ranking formulas, as plain vectorised functions and as feed rankers.

The functions take plain numpy arrays (any shapes that broadcast) and reproduce
the formula of their primary source: Reddit's "hot" and "best" (Wilson lower
bound), Hacker News' front-page rank and the Bayesian (prior-smoothed) average.
The rankers apply them to an :class:`~boostbench.observation.Observation`,
mapping boostbench's event kinds onto each formula's inputs; every mapping and
every constant that is not the source's own is stated in the ranker's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParameter

from .._core.params import (InstanceOf, Interval, Options, OrNone, check_choice, check_real,
                            declare)
from .._core.units import HOUR
from ..events import EventKind
from ..observation import Observation
from ..plugins import RANKERS

__all__ = [
    "reddit_hot",
    "wilson_lower_bound",
    "hacker_news",
    "bayesian_average",
    "LikeVelocity",
    "HackerNews",
    "RedditHot",
    "Wilson",
    "BayesianAverage",
]

#: Reddit's reference instant (epoch seconds, 2005-12-08) in ``_sorts.pyx``.
REDDIT_EPOCH = 1134028003
#: Seconds per order of magnitude of votes in Reddit's hot formula.
REDDIT_SECONDS_PER_DECADE = 45000.0
HN_FORMS = ("arc", "simple")
_NAME = InstanceOf(str, "a string")


# --- argument checks ---------------------------------------------------------------------

def _real_arrays(where: str, nonnegative: tuple[str, ...] = (),
                 **arrays) -> tuple[np.ndarray, ...]:
    """Float64 arrays broadcast to one shape; finite, and >= 0 for the names in ``nonnegative``."""
    out = []
    for name, value in arrays.items():
        a = np.asarray(value)
        low = name in nonnegative
        must = (f"The {name!r} parameter of {where} must be an array of finite reals in "
                f"{'[0, inf)' if low else '(-inf, inf)'}.")
        if a.dtype.kind not in "iuf":
            raise InvalidParameter(f"{must} Got dtype {a.dtype} instead.", name=name)
        a = a.astype(np.float64, copy=False)
        bad = ~np.isfinite(a) | (a < 0) if low else ~np.isfinite(a)
        if bad.any():
            raise InvalidParameter(f"{must} Got {float(a[bad].flat[0])!r} instead.", name=name)
        out.append(a)
    try:
        return np.broadcast_arrays(*out)
    except ValueError:
        shapes = ", ".join(f"{n}={a.shape}" for n, a in zip(arrays, out))
        raise InvalidParameter(f"The array parameters of {where} must broadcast to one shape. "
                               f"Got {shapes} instead.", name=next(iter(arrays))) from None


def _check_not_above(where: str, positives: np.ndarray, totals: np.ndarray) -> None:
    over = positives > totals
    if over.any():
        i = np.flatnonzero(over.ravel())[0]
        k, n = float(positives.flat[i]), float(totals.flat[i])
        raise InvalidParameter(f"The 'positives' parameter of {where} must not exceed 'totals'. "
                               f"Got positives={k!r} > totals={n!r} instead.", name="positives")


def _result(a: np.ndarray):
    """A float64 array, or a numpy float for scalar inputs (as numpy ufuncs return)."""
    return a[()]


# --- formulas ----------------------------------------------------------------------------

def reddit_hot(ups, downs, created_at):
    """Reddit's "hot" score: vote order of magnitude plus a linear time term.

    ``s = ups - downs``;
    ``hot = round(sign(s) * log10(max(|s|, 1)) + (created_at - 1134028003) / 45000, 7)``.

    Ten times the net votes is worth 45000 s (12.5 h) of recency; the time term
    grows without bound, so newer posts need exponentially fewer votes. Rounding
    to 7 decimal places is the source's own (kept so values match Reddit's; the
    ranking it induces is unchanged except for differences below 1e-7).

    Parameters
    ----------
    ups, downs : array_like of float >= 0
        Up- and down-votes (Reddit uses integers; weighted counts are accepted).
    created_at : array_like of float
        Submission time in Unix epoch seconds.
        The three arrays must broadcast to one shape.

    Returns
    -------
    ndarray of float64 with the broadcast shape (a numpy float for scalar inputs).

    Raises
    ------
    InvalidParameter
        If an input is non-numeric or non-finite, a vote count is negative, or
        the shapes do not broadcast.

    References
    ----------
    reddit-archive/reddit, ``r2/r2/lib/db/_sorts.pyx``, function ``_hot``
    (sign times order plus ``seconds / 45000``, ``seconds = date - 1134028003``).

    Examples
    --------
    >>> float(reddit_hot(10, 0, 1134028003 + 45000))
    2.0
    >>> reddit_hot([1, 0, 0], [0, 0, 100], 1134028003).tolist()
    [0.0, 0.0, -2.0]
    """
    ups, downs, created_at = _real_arrays("reddit_hot", ("ups", "downs"), ups=ups, downs=downs,
                                          created_at=created_at)
    s = ups - downs
    order = np.log10(np.maximum(np.abs(s), 1.0))
    seconds = created_at - REDDIT_EPOCH
    return _result(np.round(np.sign(s) * order + seconds / REDDIT_SECONDS_PER_DECADE, 7))


def wilson_lower_bound(positives, totals, *, z):
    """Lower bound of the Wilson score interval for a proportion; 0 when ``totals`` is 0.

    With ``n = totals``, ``k = positives`` and ``p = k / n``::

        (p + z²/(2n) - z * sqrt(p(1 - p)/n + z²/(4n²))) / (1 + z²/n)

    computed in the algebraically equal form
    ``(k + z²/2 - z * sqrt(k(n - k)/n + z²/4)) / (n + z²)`` and clipped to [0, 1]
    against round-off. Reddit's "best" comment sort uses ``z = 1.281551565545``
    (an 80% two-sided interval); Evan Miller's essay uses ``z = 1.96`` (95%).

    Parameters
    ----------
    positives : array_like of float >= 0
        Positive ratings (likes, up-votes); at most ``totals`` element-wise.
    totals : array_like of float >= 0
        All ratings (trials). Weighted (non-integer) counts are accepted.
    z : float > 0, keyword-only
        Standard-normal quantile of the interval (no default: the two standard
        choices differ).

    Returns
    -------
    ndarray of float64 in [0, 1] with the broadcast shape (a numpy float for scalars).

    Raises
    ------
    InvalidParameter
        If ``z <= 0``, counts are negative or non-finite, ``positives > totals``
        somewhere, or the shapes do not broadcast.

    References
    ----------
    E. B. Wilson, "Probable inference, the law of succession, and statistical
    inference", JASA 22(158), 1927. E. Miller, "How Not To Sort By Average
    Rating", 2009, https://www.evanmiller.org/how-not-to-sort-by-average-rating.html.
    reddit-archive/reddit, ``r2/r2/lib/db/_sorts.pyx``, ``_confidence`` (Reddit
    computes in single precision, so its values agree with these to about 1e-7).

    Examples
    --------
    >>> round(float(wilson_lower_bound(3, 10, z=1.96)), 6)
    0.107789
    >>> float(wilson_lower_bound(0, 0, z=1.96))
    0.0
    """
    z = check_real("z", z, low=0.0, low_open=True, where="wilson_lower_bound")
    k, n = _real_arrays("wilson_lower_bound", ("positives", "totals"), positives=positives,
                        totals=totals)
    _check_not_above("wilson_lower_bound", k, n)
    z2 = z * z
    n_safe = np.where(n > 0, n, 1.0)
    spread = z * np.sqrt(k * (n - k) / n_safe + z2 / 4.0)
    lower = (k + z2 / 2.0 - spread) / (n + z2)
    return _result(np.where(n > 0, np.clip(lower, 0.0, 1.0), 0.0))


def hacker_news(points, age_hours, *, gravity=1.8, form="arc"):
    """Hacker News' front-page rank: points decayed by a power of age.

    ``form="arc"`` (the Arc source): with ``base = points - 1`` (the submitter's
    own vote removed), ``base**0.8 / (age_hours + 2)**gravity`` when ``base > 0``
    and ``base / (age_hours + 2)**gravity`` otherwise. ``form="simple"``: the
    widely cited ``(points - 1) / (age_hours + 2)**gravity``. The Arc source's
    per-story penalties (no URL, controversy, "lightweight", buried) are not
    modelled: boostbench items carry none of those signals.

    Parameters
    ----------
    points : array_like of float >= 0
        Points including the submitter's own vote (a new story has 1).
    age_hours : array_like of float >= 0
        Hours since submission. The source adds a 120-minute ``timebase*`` to
        the age in minutes and divides by 60, hence ``age_hours + 2``.
    gravity : float >= 0, keyword-only, default 1.8
        The source's ``gravity*``.
    form : {"arc", "simple"}, keyword-only, default "arc"

    Returns
    -------
    ndarray of float64 with the broadcast shape (a numpy float for scalar inputs).

    Raises
    ------
    InvalidParameter
        If ``gravity < 0``, ``form`` is unknown, an input is negative or
        non-finite, or the shapes do not broadcast.

    References
    ----------
    Arc 3.1 ``news.arc``, ``frontpage-rank`` (``gravity* 1.8``, ``timebase* 120``,
    ``(expt base .8)`` when ``base > 0``), as posted by P. Graham on Hacker News
    in 2010. The simple form: A. Salihefendic, "How Hacker News ranking
    algorithm works", 2010.

    Examples
    --------
    >>> float(hacker_news(5, 0, gravity=1.0, form="simple"))
    2.0
    >>> float(hacker_news(2, 0, gravity=1.0))
    0.5
    """
    gravity = check_real("gravity", gravity, low=0.0, where="hacker_news")
    check_choice("form", form, HN_FORMS, where="hacker_news")
    points, age = _real_arrays("hacker_news", ("points", "age_hours"), points=points,
                               age_hours=age_hours)
    base = points - 1.0
    if form == "arc":
        base = np.where(base > 0, np.maximum(base, 0.0) ** 0.8, base)
    return _result(base / (age + 2.0) ** gravity)


def bayesian_average(positives, totals, *, prior_mean, prior_weight):
    """A rate shrunk toward a prior mean: ``(positives + w * m) / (totals + w)``.

    Equivalent to the posterior mean under a Beta prior with mean ``m`` and
    ``w`` pseudo-observations, and to IMDb's weighted rating
    ``(v / (v + w)) R + (w / (v + w)) m`` with ``v R = positives``. Items with
    few ratings sit near ``m``; evidence moves them away at rate ``1 / (v + w)``.

    Parameters
    ----------
    positives : array_like of float >= 0
        Positive ratings; at most ``totals`` element-wise.
    totals : array_like of float >= 0
        All ratings. Weighted counts are accepted.
    prior_mean : float in [0, 1], keyword-only
        ``m``: the rate assumed before any evidence (usually the global rate).
    prior_weight : float > 0, keyword-only
        ``w``: how many ratings the prior is worth.

    Returns
    -------
    ndarray of float64 in [0, 1] with the broadcast shape (a numpy float for scalars);
    ``prior_mean`` where ``totals`` is 0.

    Raises
    ------
    InvalidParameter
        If ``prior_mean`` is outside [0, 1], ``prior_weight <= 0``, counts are
        negative or non-finite, ``positives > totals`` somewhere, or the shapes
        do not broadcast.

    References
    ----------
    IMDb Top 250 "weighted rating" ``WR = (v/(v+m)) R + (m/(v+m)) C`` (IMDb help
    pages); the Beta-Binomial posterior mean, e.g. Gelman et al., *Bayesian
    Data Analysis*, 3rd ed., §2.4.

    Examples
    --------
    >>> float(bayesian_average(3, 10, prior_mean=0.5, prior_weight=10))
    0.4
    """
    prior_mean = check_real("prior_mean", prior_mean, low=0.0, high=1.0, where="bayesian_average")
    prior_weight = check_real("prior_weight", prior_weight, low=0.0, low_open=True,
                              where="bayesian_average")
    k, n = _real_arrays("bayesian_average", ("positives", "totals"), positives=positives,
                        totals=totals)
    _check_not_above("bayesian_average", k, n)
    return _result((k + prior_weight * prior_mean) / (n + prior_weight))


# --- feed rankers ------------------------------------------------------------------------

def _likes_and_views(obs: Observation) -> tuple[np.ndarray, np.ndarray]:
    """Weighted likes capped at weighted views, and weighted views, per item."""
    counts = obs.counts()
    views = counts[:, EventKind.VIEW]
    return np.minimum(counts[:, EventKind.LIKE], views), views


@RANKERS.register("like_velocity")
@dataclass(frozen=True)
@declare(window_hours=Interval(float, 0.0, None, closed="neither"), name=_NAME)
class LikeVelocity:
    """Weighted likes in the trailing window ``(now - window_hours, now]``: a "trending" ranker.

    Velocity rankers reward a burst more than a slow accumulation, which is
    what cold-start ignition exploits. One binary search on the time-sorted
    log finds the window; one ``bincount`` sums its likes.

    Parameters
    ----------
    window_hours : float > 0, default 6.0
        Window length [?] (an assumption; trending lists use windows from one
        hour to a day).
    """

    window_hours: float = 6.0
    name: str = "like_velocity"

    def __call__(self, obs: Observation) -> np.ndarray:
        t, _, item, kind, _ = obs.events
        lo = np.searchsorted(t, obs.now - self.window_hours * HOUR, side="right")
        hi = np.searchsorted(t, obs.now, side="right")
        like = kind[lo:hi] == EventKind.LIKE
        w = obs.weight[lo:hi][like].astype(np.float64)
        return np.bincount(item[lo:hi][like], weights=w, minlength=obs.n_items).astype(np.float64)


@RANKERS.register("hacker_news")
@dataclass(frozen=True)
@declare(gravity=Interval(float, 0.0, None), form=Options(*HN_FORMS), name=_NAME)
class HackerNews:
    """Hacker News' front-page rank (:func:`hacker_news`) over weighted likes.

    ``points = weighted likes + 1`` (the submitter's own vote, which every HN
    story starts with and the formula removes again);
    ``age_hours = max(now - created_at, 0) / 3600`` (items not yet posted are
    never eligible; the clip only keeps their scores finite).

    Parameters
    ----------
    gravity : float >= 0, default 1.8
        The Arc source's ``gravity*``.
    form : {"arc", "simple"}, default "arc"
        See :func:`hacker_news`.
    """

    gravity: float = 1.8
    form: str = "arc"
    name: str = "hacker_news"

    def __call__(self, obs: Observation) -> np.ndarray:
        points = obs.count(EventKind.LIKE) + 1.0
        age = np.maximum(obs.now - obs.items.created_at, 0.0) / HOUR
        return hacker_news(points, age, gravity=self.gravity, form=self.form)


@RANKERS.register("reddit_hot")
@dataclass(frozen=True)
@declare(epoch_offset=Interval(float), name=_NAME)
class RedditHot:
    """Reddit's "hot" (:func:`reddit_hot`) over weighted events.

    Mapping [?] (boostbench has no down-vote): ``ups`` = weighted likes,
    ``downs`` = weighted reports + weighted not-interested, the platform's
    explicit negative feedback. Reddit's clock is Unix time, boostbench's is
    seconds from the world's epoch, so an item's submission time is
    ``epoch_offset + created_at``. The time term is linear, so the offset
    shifts every score by the same amount: it keeps the values on Reddit's
    scale without changing the ranking (beyond the source's rounding at 1e-7),
    and 45000 s of age still weigh one order of magnitude of net votes.

    Parameters
    ----------
    epoch_offset : float, default 1_700_000_000
        Unix time of the world's epoch [?] (default: 2023-11-14, late 2023).
    """

    epoch_offset: float = 1_700_000_000.0
    name: str = "reddit_hot"

    def __call__(self, obs: Observation) -> np.ndarray:
        counts = obs.counts()
        downs = counts[:, EventKind.REPORT] + counts[:, EventKind.NOT_INTERESTED]
        return reddit_hot(counts[:, EventKind.LIKE], downs,
                          self.epoch_offset + np.minimum(obs.items.created_at, obs.now))


@RANKERS.register("wilson")
@dataclass(frozen=True)
@declare(z=Interval(float, 0.0, None, closed="neither"), name=_NAME)
class Wilson:
    """Reddit's "best": the Wilson lower bound (:func:`wilson_lower_bound`) of likes per view.

    ``positives`` = weighted likes, ``totals`` = weighted views. A like can
    arrive without any view (an API exploit bypassing the client), so likes are
    capped at views per item: likes beyond the views add nothing, which is the
    ratio's own "no like without a view" defence.

    Parameters
    ----------
    z : float > 0, default 1.281551565545
        Reddit's constant (an 80% two-sided interval); 1.96 gives Evan Miller's 95%.
    """

    z: float = 1.281551565545
    name: str = "wilson"

    def __call__(self, obs: Observation) -> np.ndarray:
        likes, views = _likes_and_views(obs)
        return wilson_lower_bound(likes, views, z=self.z)


@RANKERS.register("bayesian_average")
@dataclass(frozen=True)
@declare(prior_weight=Interval(float, 0.0, None, closed="neither"),
         prior_mean=OrNone(Interval(float, 0.0, 1.0)), name=_NAME)
class BayesianAverage:
    """Likes per view shrunk toward a prior (:func:`bayesian_average`).

    ``positives`` = weighted likes capped at weighted views (as in
    :class:`Wilson`: likes with no view cannot raise the rate above 1),
    ``totals`` = weighted views.

    Parameters
    ----------
    prior_weight : float > 0, default 50.0
        Views the prior is worth [?] (the same smoothing strength as
        :class:`~boostbench.rankers.RealInteraction`'s ``prior_views``).
    prior_mean : float in [0, 1] or None, default None
        None: the global capped-likes / views over the eligible items of the
        observation (0 when they have no views).
    """

    prior_weight: float = 50.0
    prior_mean: float | None = None
    name: str = "bayesian_average"

    def __call__(self, obs: Observation) -> np.ndarray:
        likes, views = _likes_and_views(obs)
        m = self.prior_mean
        if m is None:
            elig = obs.eligible
            v = views[elig].sum()
            m = min(likes[elig].sum() / v, 1.0) if v > 0 else 0.0
        return bayesian_average(likes, views, prior_mean=m, prior_weight=self.prior_weight)
