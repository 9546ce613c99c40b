"""boostbench: how far does bought engagement lift low-quality content in a ranked feed?

The data flows one way: WorldConfig -> World -> Attack -> Observation -> Ranker ->
Trajectory -> metrics -> report. Rankers see only the :class:`Observation`.
"""

__version__ = "0.1.0"

from . import attacks, metrics, rankers  # noqa: E402  (register built-ins)
from .errors import BoostbenchError, InvalidParameter  # noqa: E402
from .events import EventKind, EventLog  # noqa: E402
from .observation import Observation  # noqa: E402
from .scenario import SCENARIOS, Scenario, get_scenario  # noqa: E402
from .simulate import RunBase, Trajectory, replay  # noqa: E402
from .world import World, WorldConfig, make_world, world_config  # noqa: E402

__all__ = ["__version__", "attacks", "metrics", "rankers", "BoostbenchError", "InvalidParameter",
           "EventKind", "EventLog", "Observation", "Scenario", "SCENARIOS", "get_scenario",
           "RunBase", "Trajectory", "replay", "World", "WorldConfig", "make_world",
           "world_config"]
