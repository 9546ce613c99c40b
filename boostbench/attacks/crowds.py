"""Real people paid per action: task crowds (任务型刷赞群), deep-engagement services
(“规范流量服务”) and mass-report sabotage."""

from __future__ import annotations

from ..plugins import ATTACKS, SUPPLIERS
from ..world import Origin
from .compose import Recipe, SignalMix
from .pacing import Burst, Even, Tasks
from .supply import Supplier

__all__ = ["PAID_CROWD", "MATCHED_USERS", "task_crowd", "engagement_service", "mass_report"]

PAID_CROWD = Supplier("paid_crowd", Origin.CROWD, accounts="crowd", pricing="crowd_task")
MATCHED_USERS = Supplier("matched_users", Origin.SERVICE, accounts="matched",
                         pricing="human_service")

SUPPLIERS.register(PAID_CROWD.name)(PAID_CROWD)
SUPPLIERS.register(MATCHED_USERS.name)(MATCHED_USERS)


@ATTACKS.register("task_crowd")
def task_crowd() -> Recipe:
    """Paid micro-tasks: recruited users watch 3–10 s and like, in bursts after each task release."""
    return Recipe("task_crowd", PAID_CROWD, SignalMix(view="short", short_seconds=(3.0, 10.0)),
                  Tasks(n_tasks=4, interval_hours=3.0, response_minutes=15.0))


@ATTACKS.register("engagement_service")
def engagement_service() -> Recipe:
    """Interest-matched paid users: full views, human comments and shares, aimed at depth rankers."""
    return Recipe("engagement_service", MATCHED_USERS,
                  SignalMix(view="complete", like=0.5, comment=0.6, share=0.4), Even())


@ATTACKS.register("mass_report")
def mass_report() -> Recipe:
    """Sabotage: paid users report and hide a rival's good post (targets are good posts)."""
    return Recipe("mass_report", PAID_CROWD,
                  SignalMix(view="short", like=0.0, report=0.5, not_interested=1.0,
                            short_seconds=(3.0, 10.0)),
                  Burst(hours=3.0), goal="demote")
