"""Simulation: replay (open loop) and the feed loop (closed loop), each -> :class:`Trajectory`.

- :mod:`.state`: the run plan, what a clean run and its twins share
  (:class:`RunBase`), the growing log and the :class:`Trajectory`;
- :mod:`.replay`: organic events drawn in advance, the ranker re-scores each round;
- :mod:`.closed_loop`: the ranking decides exposure and exposure drives engagement.

The loop knows no scenario: the harness hands it a :class:`RunPlan` (targets,
round times, readouts).
"""

from __future__ import annotations

from ..attacks.base import Campaign
from .._core.params import check_choice
from .closed_loop import RoundInfo, closed_loop, closed_loop_rounds
from .replay import replay
from .state import DefenceRecord, RunBase, RunPlan, Trajectory, fake_accounts

__all__ = ["Trajectory", "DefenceRecord", "RunBase", "RunPlan", "replay", "closed_loop",
           "closed_loop_rounds", "RoundInfo", "simulate", "MODES", "fake_accounts"]

MODES = ("closed", "replay")


def simulate(mode: str, base: RunBase, ranker, campaign: Campaign | None = None, **kw
             ) -> Trajectory:
    """Dispatch to :func:`closed_loop` or :func:`replay`."""
    check_choice("mode", mode, MODES)
    return (closed_loop if mode == "closed" else replay)(base, ranker, campaign, **kw)
