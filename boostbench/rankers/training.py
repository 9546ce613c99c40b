"""When a learned ranker trains, and the models it has trained on each run's log.

A learned ranker is retrained on a schedule, as a platform retrains its models
every day on its own log: the model that scores at ``now`` is the one trained at
the last schedule time ``T <= now`` on the log up to ``T`` (fake engagement
included: that is the poisoning). Training is a pure function of that prefix of
the log (with the weights in force at ``T``) and the ranker's parameters, so the
clean twin and every attacked run train their own models and a zero-budget run
trains the same model as its twin.

Models are cached per event stream (:attr:`Observation.stream`, held weakly: a
run's models go when its log goes), so a ranker instance stays a plain, picklable
value and a round that does not retrain costs no training.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass

from .._core.params import Interval, OrNone, declare
from .._core.units import HOUR
from ..observation import Observation

__all__ = ["Schedule", "trained_model"]

_MODELS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


@dataclass(frozen=True)
@declare(retrain_every=OrNone(Interval(float, 1.0, 24.0 * 90)),
         train_window=Interval(float, 1.0, 24.0 * 365))
class Schedule:
    """A training schedule.

    Parameters
    ----------
    retrain_every : float or None
        Hours between retrainings, on the clock (24: once a day at midnight of the
        simulation's epoch). None: a *frozen* model — the daily model of the run's
        first day (trained at the last midnight at or before the first observation
        the ranker sees, before any campaign of a window that starts at midnight, as
        the built-in scenarios' do; replay's first observation is an hour in) and never
        retrained: the control that separates poisoning (through retraining) from
        feature manipulation (through today's features).
    train_window : float
        Hours of log before the training time that the model learns from.
    """

    retrain_every: float | None = 24.0
    train_window: float = 72.0

    def training_time(self, now: float, first_now: float) -> float:
        """The time of the model that scores at ``now``; ``first_now`` is the run's first
        observation time (the frozen model's training time)."""
        step = (24.0 if self.retrain_every is None else self.retrain_every) * HOUR
        return math.floor((first_now if self.retrain_every is None else now) / step + 1e-9) * step


def trained_model(owner, obs: Observation, schedule: Schedule, fit):
    """The model ``owner`` scores ``obs`` with: ``fit(obs, T)`` for this run's training time
    ``T`` (:meth:`Schedule.training_time`), trained once per run and ``T`` and cached.

    ``fit`` must read only events with ``t <= T`` (it gets ``obs``, whose ``now`` may be
    later). The frozen model's first observation is remembered per run and owner.
    """
    with _LOCK:
        per_run = _MODELS.setdefault(obs.stream, {})
        first = per_run.setdefault(("first", id(owner)), (owner, obs.now))[1]
    at = schedule.training_time(obs.now, first)
    key = ("model", id(owner), at, not obs.weighted)
    with _LOCK:
        hit = per_run.get(key)
    if hit is not None:
        return hit[1]
    model = fit(obs, min(at, obs.now))
    with _LOCK:
        per_run[key] = (owner, model)   # the owner is kept alive, so its id is not reused
    return model
