"""The defence contract: a weight transform with a declared schedule and action.

A defence only ever *lowers* event weights (DESIGN §3). It declares

- a **schedule**: ``inline`` (every event, no delay — caps, ``require_view``) or
  ``batch`` (runs every ``every_hours`` on the data up to ``lag_hours`` before the
  run — ``lockstep``, ``dense_block``, the calibrated oracle);
- an **action**: ``discount`` (per-event multipliers), ``ban`` (flagged accounts'
  engagement is removed from the detection on; with ``clawback`` their past
  engagement too) or ``penalise`` (flagged items are ranked below every
  unflagged item);
- the event **kinds** it weighs or reads.

Inline defences are *causal*: an event's multiplier depends only on events at or
before it, so :class:`~boostbench.rankers.Pipeline` computes each event's weight
once (a round costs its new events). Their ``weights(obs, start, state)`` returns
multipliers for events ``start..n`` and may keep running totals in ``state``, a
dict the pipeline keeps per event stream. Batch defences implement
``detect(obs) -> Detection`` on a prefix observation.

:class:`InlineDefence` and :class:`BatchDefence` hold the shared fields; a user's
defence may subclass them or just provide the same attributes (the pipeline and
:func:`boostbench.testing.checks.check_defence` read the contract, not the class).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..._core.params import (Boolean, InstanceOf, Interval, Options, OrNone, SequenceOf,
                             check_real, declare)
from ..._core.units import HOUR
from ...events import ENGAGEMENT, N_KINDS, EventKind, kind_mask
from ...observation import Observation

__all__ = ["Schedule", "INLINE", "BATCH_6H", "Detection", "Defence", "InlineDefence",
           "BatchDefence", "ACTS", "NEGATIVE", "ACTIONS", "KINDS", "POSITIVE", "kind_mask", "ones",
           "group_keys"]

#: The engagement acts a defence looks at by default (what attackers buy).
ACTS = ENGAGEMENT
#: Negative feedback (what mass-report sabotage buys).
NEGATIVE = (EventKind.REPORT, EventKind.NOT_INTERESTED)
ACTIONS = ("discount", "ban", "penalise")
#: The event kinds a defence weighs: a non-empty tuple of EventKind values.
KINDS = SequenceOf(Interval(int, 0, N_KINDS - 1), min_len=1)
POSITIVE = Interval(float, 0.0, None, closed="neither")


@dataclass(frozen=True)
@declare(kind=Options("inline", "batch"))
class Schedule:
    """When a defence runs: ``inline`` on every event, or ``batch`` every N hours on lagged data."""

    kind: str = "inline"
    every_hours: float = 0.0
    lag_hours: float = 0.0

    def __post_init__(self):
        if self.kind == "batch":
            check_real("every_hours", self.every_hours, low=0.0, low_open=True, where="Schedule")
            check_real("lag_hours", self.lag_hours, low=0.0, where="Schedule")

    def describe(self) -> str:
        if self.kind == "inline":
            return "inline"
        return f"batch every {self.every_hours:g} h, lag {self.lag_hours:g} h"


INLINE = Schedule()
BATCH_6H = Schedule("batch", every_hours=6.0, lag_hours=1.0)


@dataclass(frozen=True)
class Detection:
    """What one batch run flagged: account ids and item ids."""

    accounts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(frozen=True, kw_only=True)
@declare(name=InstanceOf(str, "a string"), kinds=KINDS, schedule=InstanceOf(Schedule),
         action=Options(*ACTIONS))
class Defence:
    """Fields every defence has. Parameters are keyword-only."""

    name: str
    kinds: tuple = ACTS
    schedule: Schedule = INLINE
    action: str = "discount"


@dataclass(frozen=True, kw_only=True)
@declare()
class InlineDefence(Defence):
    """A causal per-event discount: implement ``weights(obs, start, state)``."""

    def __post_init__(self):
        Options("inline").check("schedule.kind", self.schedule.kind, type(self).__name__)

    def weights(self, obs: Observation, start: int, state: dict) -> np.ndarray:
        """float32 multipliers in [0, 1] for events ``start..obs.n_events``."""
        raise NotImplementedError

    def new_acts(self, obs: Observation, start: int):
        """The events ``start..n`` of this defence's kinds: ``(idx, account, item, kind)``,
        ``idx`` relative to ``start``."""
        _, acc, item, kind, _ = (c[start:] for c in obs.events)
        idx = np.flatnonzero(kind_mask(kind, self.kinds))
        return idx, acc[idx], item[idx], kind[idx]


def group_keys(group: np.ndarray, item: np.ndarray, kind: np.ndarray, n_items: int) -> np.ndarray:
    """One int64 key per (group, item, kind) — a group being a device, a topic, a cohort."""
    return (np.asarray(group, np.int64) * n_items + item) * N_KINDS + kind


@dataclass(frozen=True, kw_only=True)
@declare(lookback_hours=OrNone(POSITIVE), clawback=Boolean())
class BatchDefence(Defence):
    """A detector run on a schedule over lagged data: implement ``detect(obs)``.

    ``lookback_hours``: how far back a run reads (None: all visible data);
    ``clawback``: a ban also removes the account's earlier engagement.
    """

    schedule: Schedule = BATCH_6H
    action: str = "ban"
    lookback_hours: float | None = 72.0
    clawback: bool = True

    def __post_init__(self):
        Options("batch").check("schedule.kind", self.schedule.kind, type(self).__name__)
        Options("ban", "penalise").check("action", self.action, type(self).__name__)

    def detect(self, obs: Observation) -> Detection:
        """Accounts (to ban) or items (to penalise) flagged on a prefix observation."""
        raise NotImplementedError

    def window_acts(self, obs: Observation):
        """(account, item, t) of this defence's kinds in its look-back window of ``obs``."""
        t, acc, item, kind, _ = obs.events
        lo = 0 if self.lookback_hours is None else int(
            np.searchsorted(t, obs.now - self.lookback_hours * HOUR, side="right"))
        idx = lo + np.flatnonzero(kind_mask(kind[lo:], self.kinds))   # few: gather, not mask
        return acc[idx].astype(np.int64), item[idx].astype(np.int64), t[idx]


def ones(n: int) -> np.ndarray:
    """Unit multipliers (float32) for ``n`` events."""
    return np.ones(n, np.float32)

