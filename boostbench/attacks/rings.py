"""Mutual-like rings (互赞群): real accounts that like each other's posts."""

from __future__ import annotations

from ..plugins import ATTACKS, SUPPLIERS
from ..world import Origin
from .compose import Recipe, SignalMix
from .pacing import Even
from .supply import Supplier

__all__ = ["RING_MEMBERS", "mutual_like_ring"]

RING_MEMBERS = Supplier("ring_members", Origin.RING, accounts="ring", pricing="shadow")

SUPPLIERS.register(RING_MEMBERS.name)(RING_MEMBERS)


@ATTACKS.register("mutual_like_ring")
def mutual_like_ring() -> Recipe:
    """Real creators around the targets' creators like each target; the creators like back.

    Members watch like real people (completion ~ Beta(5, 2)); timing is spread over the
    window. Rings pay in reciprocity: spend is a shadow price (crowd-task price per like).
    """
    return Recipe("mutual_like_ring", RING_MEMBERS, SignalMix(view="real"), Even(),
                  reciprocity=True)
