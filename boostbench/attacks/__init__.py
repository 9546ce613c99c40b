"""Boosting attacks. Each recipe is registered by name in :data:`boostbench.plugins.ATTACKS`."""

from . import bots, crowds, reactive, rings  # noqa: F401  (register the recipes)
from .base import Attack, Campaign, CostModel, empty_campaign
from .compose import PACINGS, Pacing, Recipe, SignalMix, Supplier

__all__ = ["Attack", "Campaign", "CostModel", "empty_campaign", "Recipe", "Supplier",
           "SignalMix", "Pacing", "PACINGS"]
