"""The example's rankers.

A boostbench ranker is any callable ``Observation -> float64[n_items]`` (higher
is better) with a ``name``. It sees only the public view of the platform (the
event stream, item and account metadata), never the hidden truth (quality,
which accounts are fake). It must be a deterministic function of the
observation: boostbench compares an attacked run with a clean twin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from boostbench.events import EventKind
from boostbench.observation import Observation
from boostbench.rankers import Pipeline, RealInteraction
from boostbench.rankers.defences import AccountTrust, RequireView


@dataclass(frozen=True)
class MyLikes:
    """Raw like count, no defence: deliberately gameable (a few bought likes go a long way).

    ``obs.count(kind)`` is the weighted number of events of that kind per item
    (weights are 1 unless a defence in front of the ranker lowered them).
    """

    name: str = "my_likes"

    def __call__(self, obs: Observation) -> np.ndarray:
        return obs.count(EventKind.LIKE).astype(np.float64)  # a copy: never hand back the cache


def my_defended() -> Pipeline:
    """boostbench's real-interaction score behind two inline defences.

    ``RealInteraction`` judges items on smoothed rates *per view* (completion
    first; a like counts only when the same account viewed the item first), so
    bought likes after 2-second views mostly add bad views. In front of it,
    ``RequireView`` zeroes acts of accounts that never viewed the item and
    ``AccountTrust`` discounts acts of young accounts with little viewing history.
    The name is the one registered in pyproject.toml, so records and the gate
    call it ``my_defended``.
    """
    return Pipeline(AccountTrust(), RequireView(), RealInteraction(), name="my_defended")
