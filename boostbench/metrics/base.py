"""The metric contract: a pure function of (attacked, clean, truth) with a declared direction.

Every measured field of a result record is a registered :class:`Metric`; the
metric carries everything the rest of the house needs to know about it — its
direction, its exact definition, the tables that show it by default, its margin
in the regression gate, and whether it is undefined (NaN) when a defence
detected nothing — so no other module keeps a list of metric names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..plugins import METRICS

__all__ = ["Metric", "metric", "Margin", "DEFAULT_MARGIN", "table_columns", "TABLES", "NEEDS",
           "available"]

#: The tables of ``boostbench run``: the closed-loop and replay outcome tables, and the
#: defence table (detection and collateral).
TABLES = ("closed", "replay", "defence")


@dataclass(frozen=True)
class Margin:
    """Tolerated degradation of one metric in the gate: ``max(floor, relative * |baseline mean|)``.

    Parameters
    ----------
    relative : float
        Fraction of the baseline mean's magnitude, >= 0.
    floor : float
        Smallest margin, in the metric's units, >= 0 (so a metric whose baseline
        sits at 0, a robust ranker's hit rate, still has a margin).
    """

    relative: float = 0.0
    floor: float = 0.0

    def resolve(self, baseline_mean: float) -> float:
        """The margin in the metric's units for a baseline mean."""
        rel = self.relative * abs(baseline_mean) if math.isfinite(baseline_mean) else 0.0
        return float(max(self.floor, rel))

    def describe(self) -> str:
        if self.relative and self.floor:
            return f"{self.relative:.0%} (>= {self.floor:g})"
        return f"{self.relative:.0%}" if self.relative else f"{self.floor:g}"


#: What a metric may need of the truth that a world may not know
#: (:attr:`boostbench.world.Truth.unknown`).
NEEDS = ("quality", "creators", "devices", "ages", "impressions", "topics")

#: The gate's margin of a metric that declares none.
DEFAULT_MARGIN = Margin(0.10, 0.0)



@dataclass(frozen=True)
class Metric:
    """A registered metric.

    Attributes
    ----------
    name : str
    fn : callable ``(attacked: Trajectory, clean: Trajectory, truth: Truth) -> float``
        One value per run (seed): targets are averaged within the run. The clean
        twin of a defended ranker carries its bare scorer's clean run in ``bare``.
    greater_is_better : bool
        Direction *for the ranker's robustness*: True when a larger value means the
        ranker held up better (e.g. feed quality), False when larger means the
        attack did better (e.g. rank lift).
    definition : str
        Exactly what is measured: which round, averaged over what.
    margin : Margin
        Tolerated degradation in the regression gate.
    tables : tuple of str
        The default tables (:data:`TABLES`) that show it.
    undefined_without_detection : bool
        NaN when the run banned or removed nothing (a ratio over detections).
    nan_when : str or None
        The condition under which the metric is NaN (undefined), in words; None:
        never NaN. A NaN outside the stated condition is a bug
        (:func:`boostbench.testing.checks.check_metric`).
    column : float
        Position in the tables that show it (smaller: further left).
    saturated_at : float or None
        A mean at or above it flags the table row as saturated (the metric has hit
        a ceiling the world, not the ranker, sets); None: never.
    needs : tuple of str
        What of the truth it reads that a world may not know (:data:`NEEDS`; a world
        made from a recorded log knows no quality without a proxy column): in a world
        whose ``truth.unknown`` holds one of them the metric is left out
        (:func:`available`), never computed on a stand-in.
    """

    name: str
    fn: Callable
    greater_is_better: bool
    definition: str
    margin: Margin = DEFAULT_MARGIN
    tables: tuple = ()
    undefined_without_detection: bool = False
    column: float = 1000.0
    nan_when: str | None = None
    saturated_at: float | None = None
    needs: tuple = ()

    def __call__(self, attacked, clean, truth) -> float:
        return float(self.fn(attacked, clean, truth))


def metric(name: str, *, greater_is_better: bool, definition: str, margin: Margin | None = None,
           tables: tuple = (), column: float = 1000.0, undefined_without_detection: bool = False,
           nan_when: str | None = None, saturated_at: float | None = None,
           needs: tuple = ()):
    """Decorator: register ``fn`` as a :class:`Metric` under ``name``."""
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"metric {name!r}: unknown tables {sorted(unknown)}; one of {TABLES}")
    if set(needs) - set(NEEDS):
        raise ValueError(f"metric {name!r}: unknown needs {sorted(set(needs) - set(NEEDS))}; "
                         f"one of {NEEDS}")

    def deco(fn):
        METRICS.register(name)(Metric(name, fn, greater_is_better, definition,
                                      margin or DEFAULT_MARGIN, tuple(tables),
                                      undefined_without_detection, float(column),
                                      nan_when or ("nothing was detected"
                                                   if undefined_without_detection else None),
                                      saturated_at, tuple(needs)))
        return fn
    return deco


def available(unknown=frozenset()) -> tuple[list, dict]:
    """The registered metrics a world whose truth lacks ``unknown`` can give, by name, and
    the left-out ones with what they need: ``(available names, {name: needs})``."""
    names, left = [], {}
    for name, m in METRICS.items():
        missing = sorted(set(getattr(m, "needs", ())) & set(unknown))
        if missing:
            left[name] = missing
        else:
            names.append(name)
    return names, left


def table_columns(table: str) -> list[str]:
    """The registered metrics a default table shows, by their ``column``."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; one of {TABLES}")
    rows = [(m.column, name) for name, m in METRICS.items() if table in getattr(m, "tables", ())]
    return [name for _, name in sorted(rows)]
