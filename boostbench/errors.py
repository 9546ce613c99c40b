"""Exceptions and the small argument checkers every public entry point uses.

Messages follow one template so a user can grep for the parameter name:
``The 'k' parameter of hit_rate_at_k must be an int in [1, inf). Got 0 instead.``
"""

from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = [
    "BoostbenchError",
    "InvalidParameter",
    "check_int",
    "check_real",
    "check_choice",
]


class BoostbenchError(Exception):
    """Root of every error boostbench raises on purpose."""


class InvalidParameter(BoostbenchError, ValueError):
    """A parameter is outside its allowed range or of the wrong type."""

    def __init__(self, message: str, *, name: str | None = None):
        super().__init__(message)
        self.name = name


def _interval(low, high, low_open, high_open) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_int(name: str, value, *, low: int | None = None, high: int | None = None,
              where: str = "") -> int:
    """Return ``value`` as an int, or raise InvalidParameter naming ``name`` and its range."""
    where_ = f" of {where}" if where else ""
    rng = _interval(low, high, False, False)
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidParameter(
            f"The {name!r} parameter{where_} must be an int in {rng}. Got {value!r} instead.", name=name)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidParameter(
            f"The {name!r} parameter{where_} must be an int in {rng}. Got {value!r} instead.", name=name)
    return value


def check_real(name: str, value, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, where: str = "") -> float:
    """Return ``value`` as a finite float inside the interval, or raise InvalidParameter."""
    where_ = f" of {where}" if where else ""
    rng = _interval(low, high, low_open, high_open)
    msg = f"The {name!r} parameter{where_} must be a finite real in {rng}. Got {value!r} instead."
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidParameter(msg, name=name)
    value = float(value)
    if not math.isfinite(value):
        raise InvalidParameter(msg, name=name)
    if low is not None and (value < low or (low_open and value == low)):
        raise InvalidParameter(msg, name=name)
    if high is not None and (value > high or (high_open and value == high)):
        raise InvalidParameter(msg, name=name)
    return value


def check_choice(name: str, value, choices, *, where: str = ""):
    """Return ``value`` if it is one of ``choices``, else raise InvalidParameter listing them."""
    where_ = f" of {where}" if where else ""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise InvalidParameter(
            f"The {name!r} parameter{where_} must be one of {allowed}. Got {value!r} instead.",
            name=name)
    return value
