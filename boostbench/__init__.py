"""boostbench: how far does bought engagement lift low-quality content in a ranked feed?

The data flows one way: WorldConfig -> World -> Attack -> Observation -> Ranker ->
Trajectory -> metrics -> report. Rankers see only the :class:`Observation`.

Names are imported on first use, so ``import boostbench`` (and the pytest plugin)
costs nothing until something is used; the registries load the built-ins on
their first look-up.
"""

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "attacks": (".attacks", None), "metrics": (".metrics", None), "rankers": (".rankers", None),
    "HOUR": ("._core.units", "HOUR"), "DAY": ("._core.units", "DAY"),
    "BoostbenchError": (".errors", "BoostbenchError"),
    "InvalidParameter": (".errors", "InvalidParameter"),
    "EventKind": (".events", "EventKind"), "EventLog": (".events", "EventLog"),
    "Observation": (".observation", "Observation"),
    "SCENARIOS": (".scenario", "SCENARIOS"), "Scenario": (".scenario", "Scenario"),
    "get_scenario": (".scenario", "get_scenario"),
    "RunBase": (".simulate", "RunBase"), "RunPlan": (".simulate", "RunPlan"),
    "Trajectory": (".simulate", "Trajectory"),
    "replay": (".simulate", "replay"), "closed_loop": (".simulate", "closed_loop"),
    "World": (".world", "World"), "WorldConfig": (".world", "WorldConfig"),
    "make_world": (".world", "make_world"), "world_config": (".world", "world_config"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'boostbench' has no attribute {name!r}") from None
    mod = import_module(module, __name__)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
