"""Paid task crowds (任务型刷赞群): real users paid per micro-task."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import check_int, check_real
from ..observation import Observation
from ..plugins import ATTACKS
from ..world import HOUR, Origin
from .base import CostModel, Campaign, check_attack_args, empty_campaign, pair_view_like, split_budget

__all__ = ["TaskCrowd"]


@ATTACKS.register("task_crowd")
@dataclass(frozen=True)
class TaskCrowd:
    """Likes bought as micro-tasks from real users recruited on the platform.

    The buyer posts ``n_tasks`` task batches, one every ``task_interval_hours``
    from the target's posting; workers respond with an exponential delay (mean
    ``response_minutes``) [?], watch briefly (``dwell_seconds``, uniform) and like.
    Workers are organic accounts active in the last day (public), recruited by
    the crowd platform; many unrelated targets share the same workers. One like
    per worker per target; ``crowd_task`` per like (CALIBRATION.md).
    """

    n_tasks: int = 4
    task_interval_hours: float = 3.0
    response_minutes: float = 15.0
    dwell_seconds: tuple = (3.0, 10.0)
    name: str = "task_crowd"

    def __post_init__(self):
        check_int("n_tasks", self.n_tasks, low=1, where="TaskCrowd")
        check_real("task_interval_hours", self.task_interval_hours, low=0.0, low_open=True,
                   where="TaskCrowd")
        check_real("response_minutes", self.response_minutes, low=0.0, low_open=True,
                   where="TaskCrowd")
        lo, hi = self.dwell_seconds
        check_real("dwell_seconds[0]", lo, low=0.0, low_open=True, where="TaskCrowd")
        check_real("dwell_seconds[1]", hi, low=lo, where="TaskCrowd")

    def __call__(self, obs: Observation, targets, budget, window, rng,
                 cost: CostModel = CostModel()) -> Campaign:
        targets, budget, (start, _) = check_attack_args(obs, targets, budget, window)
        per_target = split_budget(budget, targets.size, cost.crowd_task)
        if per_target == 0:
            return empty_campaign(self.name, budget, targets)
        rng = np.random.default_rng(rng)
        t, account, _, _, _ = obs.events
        active = np.unique(account[t > obs.now - 24 * HOUR])
        if active.size == 0:
            active = np.arange(obs.n_accounts)
        n_workers = min(per_target, active.size)
        workers = rng.choice(active, n_workers, replace=False)
        acc = np.tile(workers, targets.size)
        itm = np.repeat(targets, n_workers)
        task = rng.integers(0, self.n_tasks, acc.size)
        release = np.maximum(start, obs.items.created_at[itm]) + task * self.task_interval_hours * HOUR
        base = release + rng.exponential(self.response_minutes * 60.0, acc.size)
        dwell = rng.uniform(*self.dwell_seconds, acc.size)
        cols = pair_view_like(base, acc, itm, dwell, obs.items.duration)
        return Campaign(self.name, budget, targets, np.empty(0), np.empty(0, np.int32),
                        np.empty(0, np.int16), np.empty(0, np.int8), workers.astype(np.int64),
                        int(Origin.CROWD), *cols, spend={"crowd_task": acc.size * cost.crowd_task})
