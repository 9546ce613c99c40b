"""The metric contract: a pure function of (attacked, clean, truth) with a declared direction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..plugins import METRICS

__all__ = ["Metric", "metric"]


@dataclass(frozen=True)
class Metric:
    """A registered metric.

    Attributes
    ----------
    name : str
    fn : callable ``(attacked: Trajectory, clean: Trajectory, truth: Truth) -> float``
        One value per run (seed): targets are averaged within the run.
    greater_is_better : bool
        Direction *for the ranker's robustness*: True when a larger value means the
        ranker held up better (e.g. feed quality), False when larger means the
        attack did better (e.g. rank lift).
    definition : str
        Exactly what is measured: which round, averaged over what.
    """

    name: str
    fn: Callable
    greater_is_better: bool
    definition: str

    def __call__(self, attacked, clean, truth) -> float:
        return float(self.fn(attacked, clean, truth))


def metric(name: str, *, greater_is_better: bool, definition: str):
    """Decorator: register ``fn`` as a :class:`Metric` under ``name``."""
    def deco(fn):
        METRICS.register(name)(Metric(name, fn, greater_is_better, definition))
        return fn
    return deco
