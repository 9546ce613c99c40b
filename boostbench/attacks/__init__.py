"""Boosting attacks. Each is registered by name in :data:`boostbench.plugins.ATTACKS`."""

from .base import Attack, Campaign, CostModel, empty_campaign
from .bots import BotFarm
from .crowds import TaskCrowd
from .rings import MutualLikeRing

__all__ = ["Attack", "Campaign", "CostModel", "empty_campaign", "BotFarm", "TaskCrowd",
           "MutualLikeRing"]
