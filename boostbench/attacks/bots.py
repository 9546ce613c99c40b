"""Scripted accounts: bot farms (流量工厂), aged bots (养号) and API exploits (接口漏洞)."""

from __future__ import annotations

from ..plugins import ATTACKS, SUPPLIERS
from ..world import Origin
from .compose import Recipe, SignalMix
from .pacing import Burst, Even
from .supply import Supplier

__all__ = ["FRESH_BOTS", "AGED_BOTS", "API_CLIENT", "bot_farm", "aged_bots", "api_exploit"]

FRESH_BOTS = Supplier("fresh_bots", Origin.BOT, accounts="new", pricing="bot_service",
                      age_days=(0.0, 3.0), accounts_per_device=20)
# a farm that raises accounts to pass as users (养号): months old, one phone per account, and an
# established user's everyday life as camouflage (each account mirrors one, attacks.mimic)
AGED_BOTS = Supplier("aged_bots", Origin.AGED_BOT, accounts="new", pricing="own_farm",
                     age_days=(90.0, 365.0), accounts_per_device=1, account_price="account_aged",
                     camouflage=True)
API_CLIENT = Supplier("api_client", Origin.API, accounts="new", pricing="bot_service",
                      age_days=(0.0, 30.0), accounts_per_device=50)

SUPPLIERS.register(FRESH_BOTS.name)(FRESH_BOTS)
SUPPLIERS.register(AGED_BOTS.name)(AGED_BOTS)
SUPPLIERS.register(API_CLIENT.name)(API_CLIENT)


@ATTACKS.register("bot_farm")
def bot_farm() -> Recipe:
    """Bought bot likes: fresh accounts on few devices, a 2 s view then a like, in a 2 h burst."""
    return Recipe("bot_farm", FRESH_BOTS, SignalMix(view="short", short_seconds=(2.0, 2.0)),
                  Burst(hours=2.0))


@ATTACKS.register("aged_bots")
def aged_bots() -> Recipe:
    """Own farm of aged accounts (养号): months old, living a user's everyday life, real views."""
    return Recipe("aged_bots", AGED_BOTS, SignalMix(view="real"), Even())


@ATTACKS.register("api_exploit")
def api_exploit() -> Recipe:
    """Likes sent straight to the API: no impression, no view, all within ten minutes."""
    return Recipe("api_exploit", API_CLIENT, SignalMix(view="none"), Burst(hours=1 / 6))
