"""Scenarios: named, versioned bundles that keep results comparable across releases."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from .errors import InvalidParameter

from ._core.params import BUDGET, InstanceOf, Interval, Options, check_choice, declare
from ._core.units import HOUR
from .simulate import RunBase, RunPlan
from .world import SIZES, World, WorldConfig, world_config, world_overrides

__all__ = ["Scenario", "SCENARIOS", "get_scenario", "choose_targets"]

TARGET_CHOICES = ("low_quality",)


@dataclass(frozen=True)
@declare(name=InstanceOf(str, "a string"), version=Interval(int, 1, None),
         size=Options(*SIZES), attack_hours=Interval(int, 1, 24 * 90),
         horizon_hours=Interval(int, 1, 24 * 365), round_hours=Interval(int, 1, 24 * 90),
         n_targets=Interval(int, 1, 1000), target_choice=Options(*TARGET_CHOICES),
         low_quality_quantile=Interval(float, 0.0, 1.0, closed="neither"),
         budget=BUDGET, eligibility_hours=Interval(float, 0.0, None,
                                                                        closed="right"),
         k=Interval(int, 1, None), world=InstanceOf(tuple, "a tuple of (name, value) pairs"))
class Scenario:
    """Everything that defines an experiment except the ranker, the attack and the seed.

    Parameters
    ----------
    name, version : str, int
        Identity; bump ``version`` whenever a field's meaning or default changes.
    size : str
        World size preset (``tiny``, ``small``, ``medium``, ``platform``; see
        :data:`boostbench.world.SIZES`).
    attack_hours : int
        Length of the attack window, starting at the world's ``t0``.
    horizon_hours : int
        Evaluation horizon from ``t0`` (>= attack_hours; runs past the campaign).
    round_hours : int
        Length of a simulation round (the ranker re-scores every round).
    n_targets : int
        Items the attacker boosts.
    target_choice : str
        ``low_quality``: the earliest-posted items at or after ``t0`` whose true
        quality is in the bottom ``low_quality_quantile`` of all items.
    low_quality_quantile : float
        Quality quantile below which an item counts as low quality (targets and
        ``low_quality_share_at_k``).
    budget : float
        Default campaign budget in USD, split evenly across targets.
    eligibility_hours : float
        Only items posted within this many hours are ranked.
    k : int
        Feed length the top-k metrics look at.
    world : tuple of (name, value)
        Settings of the world that differ from the size preset
        (:func:`boostbench.world.world_overrides`: ``("fan_share", 0.05)``,
        ``("behaviour.beta_fan", 4.0)``); empty by default. A sensitivity sweep changes
        these, not the scenario's version.
    """

    name: str = "default"
    version: int = 4
    size: str = "small"
    attack_hours: int = 24
    horizon_hours: int = 48
    round_hours: int = 1
    n_targets: int = 4
    target_choice: str = "low_quality"
    low_quality_quantile: float = 0.2
    budget: float = 5.0
    eligibility_hours: float = 72.0
    k: int = 10
    world: tuple = ()

    def __post_init__(self):
        if not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in self.world):
            raise InvalidParameter(f"The 'world' parameter of Scenario must be a tuple of "
                                   f"(name, value) pairs. Got {self.world!r} instead.",
                                   name="world")
        world_overrides(self.world)      # unknown names, repeats and wrong types fail here
        object.__setattr__(self, "world", tuple(sorted((str(k), v) for k, v in self.world)))
        Interval(int, self.attack_hours, 24 * 365).check("horizon_hours", self.horizon_hours,
                                                          "Scenario")
        Interval(int, 1, self.attack_hours).check("round_hours", self.round_hours, "Scenario")
        c = self.world_config()   # a top k longer than the live posts would hold every post
        live = c.daily_active / c.accounts_per_new_item * self.eligibility_hours / 24.0
        Interval(int, 1, max(1, int(live))).check("k", self.k, f"Scenario (at most the ~"
                                                  f"{int(live):,} posts live at a time)")

    def world_config(self, **overrides) -> WorldConfig:
        """The world this scenario runs on: the size preset with the scenario's ``world``
        settings, long enough for the horizon."""
        return world_config(self.size, **{"future_hours": self.horizon_hours,
                                          **world_overrides(self.world), **overrides})

    @property
    def n_rounds(self) -> int:
        return self.horizon_hours // self.round_hours

    @property
    def eval_round(self) -> int:
        """Index of the round at which end-of-campaign metrics are read: the end of the attack window."""
        return self.attack_hours // self.round_hours - 1

    def round_times(self, t0: float) -> np.ndarray:
        """Times at which the ranker scores (the end of each round)."""
        return t0 + np.arange(1, self.n_rounds + 1) * self.round_hours * HOUR

    def plan(self, world: World) -> RunPlan:
        """What a run of this scenario in ``world`` needs: targets, round times, readouts."""
        t0 = world.t0
        if t0 + self.horizon_hours * HOUR > world.config.t_end + 1e-6:
            raise InvalidParameter(f"Scenario {self.name!r} needs a world with future_hours >= "
                                   f"{self.horizon_hours}.", name="horizon_hours")
        return RunPlan(targets=choose_targets(world, self),
                       rival_targets=_rivals(world, self),
                       round_times=self.round_times(t0), round_length=self.round_hours * HOUR,
                       attack_window=(t0, t0 + self.attack_hours * HOUR),
                       eval_round=self.eval_round, eligibility_hours=self.eligibility_hours,
                       k=self.k, low_quality_quantile=self.low_quality_quantile)

    def run_base(self, world: World, rng) -> RunBase:
        """The :class:`~boostbench.simulate.RunBase` of a run of this scenario in ``world``
        (``rng``: the replay window's organic stream)."""
        return RunBase(world, self.plan(world), rng)

    def with_(self, **changes) -> "Scenario":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields (``world`` as ``[[name, value], ...]``, and left out when empty, as
        manifests written before it had settings say nothing of it)."""
        out = asdict(self)
        out["world"] = [list(p) for p in self.world]
        if not self.world:
            del out["world"]
        return out


SCENARIOS = {
    "default": Scenario(),
    "tiny": Scenario(name="tiny", size="tiny", attack_hours=12, horizon_hours=24, n_targets=3,
                     budget=2.0),
    "platform": Scenario(name="platform", size="platform"),
}


def get_scenario(name: str) -> Scenario:
    check_choice("scenario", name, tuple(SCENARIOS))
    return SCENARIOS[name]


def _rivals(world: World, scenario: Scenario) -> np.ndarray:
    """The demote targets; a recorded log may have none to offer (then no demoting attack
    may run on it: the command checks before any work)."""
    try:
        return choose_targets(world, scenario, "demote")
    except InvalidParameter:
        if world.recorded is None:
            raise
        return np.zeros(0, np.int64)


def choose_targets(world: World, scenario: Scenario, goal: str = "promote") -> np.ndarray:
    """Target item ids for ``scenario`` in ``world`` (uses Truth: the experimenter's choice).

    ``promote``: the earliest-posted items at or after ``t0`` in the bottom
    ``low_quality_quantile`` of quality (what a booster lifts). ``demote``: the
    earliest-posted ones in the top ``low_quality_quantile`` (a rival's good posts,
    what mass-report sabotage sinks). Raises InvalidParameter when the world has
    too few candidates. A world made from a recorded log takes the items named with
    ``--targets`` (promote), and without a quality proxy
    :func:`boostbench.recorded.public_targets` (a rule on public signals).
    """
    check_choice("goal", goal, ("promote", "demote"))
    rec = world.recorded
    if rec is not None and rec.targets is not None and goal == "promote":
        from .recorded import live_targets
        return live_targets(world, scenario, rec.targets)
    if "quality" in world.truth.unknown:
        from .recorded import public_targets
        return public_targets(world, scenario, goal)
    q = world.truth.quality
    if goal == "promote":
        pick = q <= np.quantile(q, scenario.low_quality_quantile)
    else:
        pick = q >= np.quantile(q, 1.0 - scenario.low_quality_quantile)
    posted = world.items.created_at >= world.t0
    if rec is not None:        # a log ends: only items posted in the attack window are ranked
        posted &= world.items.created_at < world.t0 + scenario.attack_hours * HOUR
    cand = np.flatnonzero(pick & posted)  # items sorted by time
    if cand.size < scenario.n_targets:
        raise InvalidParameter(
            f"The 'n_targets' parameter of Scenario {scenario.name!r} must be at most "
            f"{cand.size} (low-quality items posted after t0 in this world). "
            f"Got {scenario.n_targets} instead.", name="n_targets")
    return cand[: scenario.n_targets]
