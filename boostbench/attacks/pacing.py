"""Pacings: when a recipe's bundles happen. One class per pacing, registered by name.

A pacing maps each bundle to a time, relative to ``base = max(window start, target
posted)``: ``times(base, end, rank, u1, u2, u_account)`` where ``rank`` is the
bundle's rank among its account's bundles, ``u1``/``u2`` are uniforms per bundle
and ``u_account`` one per account. A new pacing is one class here (or in a user
package, on the ``boostbench.pacings`` entry point): declare its parameters,
write ``times`` and ``describe``, register it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._core.params import Interval, declare
from .._core.units import HOUR
from ..plugins import PACINGS

__all__ = ["Pacing", "Burst", "Even", "ColdStart", "UnderCap", "Tasks"]

_HOURS = Interval(float, 0.0, None, closed="neither")


@dataclass(frozen=True)
class Pacing:
    """Base of every pacing. ``name`` is its registered name; ``per_account_clock``
    says whether bundles are timed from one clock per account (all targets up)."""

    name: ClassVar[str] = ""
    per_account_clock: ClassVar[bool] = False

    def times(self, base, end, rank, u1, u2, u_account) -> np.ndarray:
        """Bundle times (seconds); see the module docstring."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short label (``burst 2h``)."""
        return self.name

    @classmethod
    def variants(cls) -> list["Pacing"]:
        """A few instances a search or a property test tries (the default first)."""
        return [cls()]


@PACINGS.register("burst")
@dataclass(frozen=True)
@declare(hours=_HOURS)
class Burst(Pacing):
    """Uniform over ``hours`` after the base time (a bought batch delivered at once)."""

    name: ClassVar[str] = "burst"
    hours: float = 2.0

    def times(self, base, end, rank, u1, u2, u_account):
        return base + u1 * self.hours * HOUR

    def describe(self) -> str:
        return f"burst {self.hours:g}h"

    @classmethod
    def variants(cls):
        return [cls(h) for h in (2.0, 1.0, 0.5, 6.0, 24.0)]


@PACINGS.register("even")
@dataclass(frozen=True)
class Even(Pacing):
    """Uniform over the rest of the window (drip-fed)."""

    name: ClassVar[str] = "even"

    def times(self, base, end, rank, u1, u2, u_account):
        return base + u1 * np.maximum(end - base, 1.0)


@PACINGS.register("cold_start")
@dataclass(frozen=True)
@declare(hours=_HOURS)
class ColdStart(Pacing):
    """Concentrated in the target's first hours: a truncated exponential with mean
    ``hours`` (ignites trending and velocity signals)."""

    name: ClassVar[str] = "cold_start"
    hours: float = 1.0

    def times(self, base, end, rank, u1, u2, u_account):
        span = np.maximum(end - base, 1.0)
        mean = self.hours * HOUR
        return base - mean * np.log1p(-u1 * (1 - np.exp(-span / mean)))

    def describe(self) -> str:
        return f"cold_start {self.hours:g}h"

    @classmethod
    def variants(cls):
        return [cls(h) for h in (1.0, 0.5, 2.0, 6.0)]


@PACINGS.register("under_cap")
@dataclass(frozen=True)
@declare(cap=Interval(int, 1, None), cap_hours=_HOURS)
class UnderCap(Pacing):
    """Each account's k-th action ``cap_hours / cap`` apart, so it never exceeds ``cap``
    actions per ``cap_hours`` (below a velocity cap the attacker knows)."""

    name: ClassVar[str] = "under_cap"
    per_account_clock: ClassVar[bool] = True
    cap: int = 10
    cap_hours: float = 1.0

    def times(self, base, end, rank, u1, u2, u_account):
        gap = self.cap_hours * HOUR / self.cap * 1.001
        return base + u_account * gap + rank * gap

    def describe(self) -> str:
        return f"under_cap {self.cap}/{self.cap_hours:g}h"

    @classmethod
    def variants(cls):
        return [cls(10, 1.0), cls(1, 1.0), cls(5, 1.0), cls(30, 24.0)]


@PACINGS.register("tasks")
@dataclass(frozen=True)
@declare(n_tasks=Interval(int, 1, None), interval_hours=_HOURS, response_minutes=_HOURS)
class Tasks(Pacing):
    """``n_tasks`` task releases ``interval_hours`` apart; workers answer after an
    exponential delay with mean ``response_minutes`` (a paid crowd's rhythm)."""

    name: ClassVar[str] = "tasks"
    n_tasks: int = 4
    interval_hours: float = 3.0
    response_minutes: float = 15.0

    def times(self, base, end, rank, u1, u2, u_account):
        task = np.minimum((u2 * self.n_tasks).astype(np.int64), self.n_tasks - 1)
        return base + task * self.interval_hours * HOUR - np.log1p(-u1) * self.response_minutes * 60

    def describe(self) -> str:
        return f"tasks {self.n_tasks}x{self.interval_hours:g}h"

    @classmethod
    def variants(cls):
        return [cls(4, 3.0, 15.0), cls(1, 1.0, 5.0), cls(8, 6.0, 60.0)]
