"""Boosting attacks: suppliers x signal mixes x pacings make recipes; each recipe is
registered by name in :data:`boostbench.plugins.ATTACKS`, each supplier in
:data:`~boostbench.plugins.SUPPLIERS` and each pacing in :data:`~boostbench.plugins.PACINGS`."""

from . import bots, crowds, pacing, reactive, rings, shilling  # noqa: F401  (register the built-ins)
from . import query  # noqa: F401,E402  (after the suppliers it offers are registered)
from .base import Attack, Campaign, CostModel, empty_campaign
from .compose import Recipe, SignalMix
from .pacing import Burst, ColdStart, Even, Pacing, Tasks, UnderCap
from .supply import Supplier

__all__ = ["Attack", "Campaign", "CostModel", "empty_campaign", "Recipe", "Supplier",
           "SignalMix", "Pacing", "Burst", "Even", "ColdStart", "UnderCap", "Tasks"]
