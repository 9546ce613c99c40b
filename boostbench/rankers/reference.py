"""Reference rankers that bound every comparison: ``random`` (ranking does nothing) and
``oracle_quality`` (an ORACLE that ranks by true quality: what ranking could do at best).

A table with both shows how much ranking can matter in the world at hand; every real
ranker's clean feed quality should fall between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from .._core.params import SEED, InstanceOf, declare
from .._core.random import STREAMS, hash_uniforms
from .._core.units import HOUR
from ..errors import InvalidParameter
from ..observation import Observation
from ..plugins import RANKERS

__all__ = ["RandomRanker", "OracleQuality"]

_S_RANDOM = STREAMS.claim("ranker", "random.score", 1)


@RANKERS.register("random")
@dataclass(frozen=True)
@declare(seed=SEED, name=InstanceOf(str, "a string"))
class RandomRanker:
    """Uniform random scores, redrawn every hour: the floor of every comparison.

    Deterministic per ``seed``, item and hour (a counter-based draw), so a clean twin and an
    attacked run rank alike and an attack can only act through the feed's other pools.
    """

    seed: int = 0
    name: str = "random"
    conformance_exempt: ClassVar[dict] = {
        "relabelling": "its scores are drawn per item id: a relabelled item draws anew"}

    def __call__(self, obs: Observation) -> np.ndarray:
        return hash_uniforms(self.seed, _S_RANDOM, np.arange(obs.n_items),
                             int(np.floor(obs.now / HOUR)))


@RANKERS.register("oracle_quality")
@dataclass(frozen=True)
@declare(name=InstanceOf(str, "a string"))
class OracleQuality:
    """ORACLE: ranks by true quality (reads Truth through the simulator's oracle binding, as
    ``calibrated_detector`` does): the ceiling of every comparison; every result that uses
    it is marked as an oracle."""

    name: str = "oracle_quality"
    quality: np.ndarray | None = field(default=None, repr=False, compare=False)
    oracle: ClassVar[bool] = True
    #: what it reads that a recorded log may not know (boostbench.recorded.needs)
    needs: ClassVar[tuple] = ("quality",)
    conformance_exempt: ClassVar[dict] = {
        "relabelling": "it reads true quality per item id (an ORACLE, bound by the simulator)"}

    def bind(self, fake=None, since=None, quality=None) -> "OracleQuality":
        """A copy that knows the items' true quality (the simulator calls it)."""
        return self if quality is None else replace(self, quality=np.asarray(quality, np.float64))

    def __call__(self, obs: Observation) -> np.ndarray:
        if self.quality is None:
            raise InvalidParameter("oracle_quality is an ORACLE: the simulator must bind the "
                                   "items' true quality before it runs.", name="quality")
        return self.quality.copy()
