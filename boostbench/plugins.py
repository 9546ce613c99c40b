"""Registries: one per plug-in family (rankers, defences, attacks, metrics).

Built-ins register themselves with a decorator; unknown names get an error that
lists what exists.
"""

from __future__ import annotations

from .errors import InvalidParameter

__all__ = ["Registry", "RANKERS", "DEFENCES", "ATTACKS", "METRICS"]


class Registry:
    """A name -> factory mapping for one plug-in family."""

    def __init__(self, family: str):
        self.family = family
        self._items: dict[str, object] = {}

    def register(self, name: str):
        """Decorator registering ``obj`` under ``name``; duplicate names are rejected."""
        def deco(obj):
            if name in self._items:
                raise InvalidParameter(f"A {self.family} named {name!r} is already registered.",
                                       name="name")
            self._items[name] = obj
            return obj
        return deco

    def get(self, name: str):
        try:
            return self._items[name]
        except KeyError:
            raise InvalidParameter(f"Unknown {self.family} {name!r}; registered: "
                                   f"{', '.join(self.names())}.", name=self.family) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name):
        return name in self._items

    def items(self):
        return sorted(self._items.items())


RANKERS = Registry("ranker")
DEFENCES = Registry("defence")
ATTACKS = Registry("attack")
METRICS = Registry("metric")
