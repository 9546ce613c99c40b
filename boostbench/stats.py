"""Seed-level statistics: the seed is the unit of replication."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from .errors import InvalidParameter

from ._core.params import check_choice, check_int, check_real

__all__ = ["Interval", "t_interval", "holm", "sign_flip_pvalue", "RegressionTest",
           "regression_test", "REGRESSION_TESTS", "detectable_degradation"]


@dataclass(frozen=True)
class Interval:
    """A mean with a two-sided confidence interval across ``n`` seeds."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


def t_interval(values, confidence: float = 0.95) -> Interval:
    """Student-t interval for the mean of per-seed values.

    ``mean ± t_{(1+c)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation (ddof=1). With one value the bounds are NaN (no spread to estimate).

    Examples
    --------
    >>> iv = t_interval([1.0, 2.0, 3.0])
    >>> round(iv.low, 4), round(iv.high, 4)
    (-0.4841, 4.4841)
    """
    confidence = check_real("confidence", confidence, low=0.0, high=1.0, low_open=True,
                            high_open=True, where="t_interval")
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, confidence)
    m = float(v.mean())
    if n == 1:
        return Interval(m, float("nan"), float("nan"), 1, confidence)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return Interval(m, m - half, m + half, n, confidence)


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control across many tests).

    With the ``m`` finite p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the
    adjusted value of ``p_(i)`` is ``max_{j <= i} min(1, (m - j + 1) * p_(j))``; it is
    compared with alpha directly. NaN entries (tests not performed) stay NaN and do
    not count in ``m``. Same values as ``statsmodels``' ``multipletests(...,
    method="holm")[1]``.

    Parameters
    ----------
    pvalues : array_like of float
        Raw p-values in [0, 1] (or NaN).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the input order.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005]).round(4).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(pvalues, np.float64).reshape(-1)
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise InvalidParameter(f"The 'pvalues' parameter of holm must hold values in [0, 1] "
                               f"(or NaN). Got {p[ok][(p[ok] < 0) | (p[ok] > 1)][:3].tolist()} "
                               "instead.", name="pvalues")
    out = np.full(p.shape, np.nan)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
        vals = np.empty(m)
        vals[order] = adj
        out[ok] = vals
    return out


_EXACT_MAX_N = 16


def sign_flip_pvalue(x, *, n_resamples: int = 65_536, rng=0) -> float:
    """One-sided sign-flip (paired permutation) p-value of H0 "x is symmetric about 0"
    against H1 "x is centred above 0", with the sum as statistic.

    Exact (all ``2**n`` sign vectors) for ``n <= 16``; otherwise ``n_resamples``
    random sign vectors from ``numpy.random.default_rng(rng)`` and the
    ``(1 + hits) / (1 + n_resamples)`` estimate. The smallest possible exact
    p-value is ``2**-n``: with 4 seeds it is 0.0625, so the test cannot reject at
    0.05 with fewer than 5 values (fewer still after a multiple-test correction).

    Parameters
    ----------
    x : array_like of float
        Per-seed values (e.g. degradation minus margin); NaN entries are dropped.
    n_resamples : int
        Random sign vectors when ``n > 16``.
    rng : int or numpy.random.Generator
        Seed or generator for the random sign vectors.

    Returns
    -------
    float
        The p-value (NaN without values).

    Examples
    --------
    >>> sign_flip_pvalue([1.0, 2.0, 3.0])
    0.125
    """
    v = np.asarray(x, np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        return float("nan")
    obs = v.sum()
    tol = 1e-12 * max(1.0, float(np.abs(v).sum()))
    if n <= _EXACT_MAX_N:
        signs = 1 - 2 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
        return float(np.mean(signs @ v >= obs - tol))
    n_resamples = check_int("n_resamples", n_resamples, low=1, where="sign_flip_pvalue")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    hits = 0
    for start in range(0, n_resamples, 4096):
        b = min(4096, n_resamples - start)
        signs = gen.choice(np.array([-1.0, 1.0]), size=(b, n))
        hits += int(np.sum(signs @ v >= obs - tol))
    return float((1 + hits) / (1 + n_resamples))


REGRESSION_TESTS = ("t", "sign-flip")


@dataclass(frozen=True)
class RegressionTest:
    """Outcome of :func:`regression_test` for one metric.

    ``change`` is ``mean_after - mean_before``; ``degradation`` is the change in
    the metric's worse direction (positive = worse). ``pvalue`` is one-sided, for
    H1 "worse by more than ``margin``"; NaN when the test could not be done.
    """

    method: str
    paired: bool
    n_before: int
    n_after: int
    mean_before: float
    mean_after: float
    change: float
    degradation: float
    margin: float
    statistic: float
    pvalue: float

    def to_dict(self) -> dict:
        return asdict(self)


def detectable_degradation(sd: float, n: int, *, margin: float, alpha: float, tests: int = 1,
                           paired: bool = True, power: float = 0.8) -> float:
    """The smallest mean degradation the gate's one-sided t-test detects with probability
    ``power`` (normal-theory approximation with t quantiles).

    ``margin + (t_{1-a, df} + t_{power, df}) * se`` with ``a = alpha / tests`` (Holm's
    first step, Bonferroni: the strictest level a test faces) and, for ``n`` seeds a
    side, ``se = sd / sqrt(n)``, ``df = n - 1`` when ``paired`` (``sd``: of the per-seed
    differences) or ``se = sd * sqrt(2 / n)``, ``df = 2 (n - 1)`` for two independent
    groups (``sd``: the between-seed spread of the metric). NaN with fewer than 2 seeds.

    Examples
    --------
    >>> round(detectable_degradation(1.0, 10, margin=0.0, alpha=0.05), 3)
    0.859
    """
    if n < 2 or not math.isfinite(sd):
        return float("nan")
    a = alpha / max(int(tests), 1)
    df = n - 1 if paired else 2 * (n - 1)
    se = sd / math.sqrt(n) if paired else sd * math.sqrt(2.0 / n)
    return float(margin + (stats.t.ppf(1 - a, df) + stats.t.ppf(power, df)) * se)


def regression_test(before, after, *, margin: float, greater_is_better: bool,
                    paired: bool = True, method: str = "t") -> RegressionTest:
    """Is the metric worse after than before by more than ``margin``? (one-sided)

    Degradation is ``after - before`` for a lower-is-better metric and
    ``before - after`` for a higher-is-better one. The test is of
    H0: mean degradation <= margin against H1: mean degradation > margin, so a
    small p-value is evidence of a regression beyond the margin (a gate built on
    it fails only on evidence, never on noise alone).

    * ``method="t"``, paired: one-sample t-test of the per-seed degradations minus
      ``margin`` (same as ``scipy.stats.ttest_rel(after, before + margin,
      alternative="greater")`` for a lower-is-better metric).
    * ``method="t"``, unpaired: Welch's t-test (different seeds in each group).
    * ``method="sign-flip"``: exact paired permutation test (see
      :func:`sign_flip_pvalue`); paired only.

    When the degradations have no spread (a bounded metric at its ceiling in every
    seed, or bit-identical re-runs) the t statistic is infinite or undefined; the
    p-value is then its limit: 0 when the mean degradation exceeds the margin,
    else 1. Pairs with a NaN on either side are dropped; fewer than 2 usable
    values give a NaN p-value.

    Parameters
    ----------
    before, after : array_like of float
        Per-seed values; aligned by seed when ``paired``.
    margin : float
        Tolerated degradation, >= 0, in the metric's units.
    greater_is_better : bool
        The metric's declared direction.
    paired : bool
        Pair ``before[i]`` with ``after[i]`` (same seed).
    method : {"t", "sign-flip"}

    Returns
    -------
    RegressionTest

    Examples
    --------
    >>> r = regression_test([1.0, 2.0, 3.0], [2.0, 3.5, 4.0], margin=0.1,
    ...                     greater_is_better=False)
    >>> round(r.degradation, 3), round(r.pvalue, 4)
    (1.167, 0.0118)
    """
    check_choice("method", method, REGRESSION_TESTS, where="regression_test")
    margin = check_real("margin", margin, low=0.0, where="regression_test")
    b = np.asarray(before, np.float64).reshape(-1)
    a = np.asarray(after, np.float64).reshape(-1)
    if paired:
        if a.size != b.size:
            raise InvalidParameter(f"Paired 'before' and 'after' of regression_test must have "
                                   f"the same length. Got {b.size} and {a.size} instead.",
                                   name="after")
        keep = np.isfinite(a) & np.isfinite(b)
        a, b = a[keep], b[keep]
    else:
        if method != "t":
            raise InvalidParameter("The 'method' parameter of regression_test must be 't' when "
                                   "paired=False (the sign-flip test needs pairs). Got "
                                   f"{method!r} instead.", name="method")
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    sign = -1.0 if greater_is_better else 1.0
    nan = float("nan")
    mb = float(b.mean()) if b.size else nan
    ma = float(a.mean()) if a.size else nan
    change = ma - mb
    degr = sign * change
    stat = pvalue = nan
    if paired and a.size >= 2:
        x = sign * (a - b) - margin
        if method == "sign-flip":
            stat, pvalue = float(x.sum()), sign_flip_pvalue(x)
        elif np.ptp(x) == 0:
            stat = float("inf") if x[0] > 0 else float("-inf") if x[0] < 0 else nan
            pvalue = 0.0 if x[0] > 0 else 1.0
        else:
            with warnings.catch_warnings():   # near-identical values: the p-value stands
                warnings.simplefilter("ignore", RuntimeWarning)
                res = stats.ttest_1samp(x, 0.0, alternative="greater")
            stat, pvalue = float(res.statistic), float(res.pvalue)
    elif not paired and a.size >= 2 and b.size >= 2:
        xa, xb = sign * a, sign * b + margin
        if np.ptp(xa) == 0 and np.ptp(xb) == 0:
            d = xa[0] - xb[0]
            stat = float("inf") if d > 0 else float("-inf") if d < 0 else nan
            pvalue = 0.0 if d > 0 else 1.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = stats.ttest_ind(xa, xb, equal_var=False, alternative="greater")
            stat, pvalue = float(res.statistic), float(res.pvalue)
    return RegressionTest(method, bool(paired), int(b.size), int(a.size), mb, ma, change, degr,
                          margin, stat, pvalue)
