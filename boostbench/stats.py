"""Seed-level statistics: the seed is the unit of replication."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from .errors import check_real

__all__ = ["Interval", "t_interval"]


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
