"""Attack tests for your own ranker: measurements, assertions and Hypothesis strategies.

>>> from boostbench.testing import assert_rise_at_most, build_world
>>> from boostbench.testing.strategies import campaigns
>>> from hypothesis import given, settings
>>>
>>> @settings(max_examples=20, deadline=None)
... @given(campaign=campaigns(max_budget=50.0))
... def test_no_cheap_campaign_reaches_the_top_10(campaign):
...     assert_rise_at_most(MyRanker(), campaign, build_world("tiny"), k=10)

:func:`measure_rise` runs a clean twin and an attacked run on the same world and
seed and returns a :class:`RiseResult`; :func:`assert_rise_at_most` fails with a
message that says how far the target rose, at what spend and with which
campaign, and steers Hypothesis toward stronger campaigns (:func:`steer`).
Strategies live in :mod:`boostbench.testing.strategies`; the conformance suite
generated from the registries (``check_ranker``, ..., ``parametrize_with_checks``)
in :mod:`boostbench.testing.checks`.

This module imports nothing heavy until a name is used, so the pytest plug-in
and the Hypothesis hook cost nothing in runs that do not use them.
"""

from __future__ import annotations

import importlib

__all__ = ["measure_rise", "assert_rise_at_most", "steer", "RiseResult", "RiseTooHigh",
           "AttackPlan", "describe_attack", "build_world", "SeededWorld", "default_scenario",
           "WORLD_SIZES"]

#: Names served from :mod:`.checks` (the conformance suite).
_CHECKS = ("check_ranker", "check_defence", "check_attack", "check_metric", "all_checks",
           "parametrize_with_checks")


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module("._measure", __name__), name)
    if name in _CHECKS:
        return getattr(importlib.import_module(".checks", __name__), name)
    if name in ("strategies", "checks"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_CHECKS) | {"strategies", "checks"})
