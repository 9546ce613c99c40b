"""Measuring how far one campaign lifts its targets against one ranker (paired runs).

Every measurement is a clean twin and an attacked run of the same world, the
same organic randomness and the same seed (DESIGN §4), read through the
registered metrics (``rank_lift``, ``log_rank_lift``, ``hit_rate_at_k``,
``extra_organic_impressions``): nothing here re-implements a metric.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache

import numpy as np

from ..attacks.base import Campaign, CostModel
from ..errors import InvalidParameter
from .._core.params import MAX_BUDGET, check_choice, check_int, check_real
from ..metrics.rise import target_ranks
from ..plugins import ATTACKS, METRICS
from ..runner import attack_stream, seed_setup, seed_streams
from ..scenario import SCENARIOS, Scenario
from ..simulate import MODES, RunBase, simulate
from .._core.units import HOUR
from ..world import SIZES, World, WorldConfig, make_world
from ._plan import AttackPlan, describe_attack

__all__ = ["WORLD_SIZES", "SeededWorld", "build_world", "default_scenario", "AttackPlan",
           "describe_attack", "RiseResult", "RiseTooHigh", "measure_rise", "assert_rise_at_most",
           "steer"]

#: World presets for tests: ``micro`` (builds in ~0.2 s) and the package presets.
WORLD_SIZES = {
    "micro": dict(n_accounts=60, accounts_per_new_item=0.1, n_topics=3, history_hours=24,
                  future_hours=24),
    **SIZES,
}


# --- worlds -------------------------------------------------------------------------
@dataclass(frozen=True, repr=False, eq=False)
class SeededWorld(World):
    """A :class:`~boostbench.world.World` that remembers how it was drawn (short repr).

    ``size`` is the preset name (or ``"custom"``); ``draw_seed`` the seed its
    random stream came from (the stream a ``boostbench run`` with that seed uses).
    """

    size: str = "custom"
    draw_seed: int = 0

    __eq__ = object.__eq__        # identity: the columns are arrays
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"world(size={self.size!r}, seed={self.draw_seed})"

    def _repr_pretty_(self, p, cycle) -> None:  # Hypothesis' and IPython's printer
        p.text(repr(self))


def build_world(size="tiny", seed: int = 0) -> SeededWorld:
    """The world of a size preset (or a :class:`WorldConfig`) and a seed; cached.

    Parameters
    ----------
    size : str or WorldConfig
        One of :data:`WORLD_SIZES` (``micro``, ``tiny``, ``small``, ``medium``) or a config.
    seed : int in [0, 2**63)
        Seeds the world stream exactly as :func:`boostbench.runner.seed_streams` does.

    Returns
    -------
    SeededWorld
        The same object for the same arguments (the last 16 are kept).
    """
    seed = check_int("seed", seed, low=0, high=2**63 - 1, where="build_world")
    if isinstance(size, WorldConfig):
        return _build(size, "custom", seed)
    check_choice("size", size, tuple(WORLD_SIZES), where="build_world")
    return _build(WorldConfig(**WORLD_SIZES[size]), size, seed)


@lru_cache(maxsize=16)
def _build(config: WorldConfig, size: str, seed: int) -> SeededWorld:
    w = make_world(config, seed_streams(seed)[0])
    return SeededWorld(**{f.name: getattr(w, f.name) for f in fields(World)}, size=size,
                       draw_seed=seed)


def default_scenario(world: World, *, k: int = 10, n_targets: int = 1) -> Scenario:
    """The evaluation settings used for a bare world.

    A 12-hour attack window and a 24-hour horizon from the world's ``t0`` (shorter
    if the world's future is), one target (the earliest low-quality post after
    ``t0``), feed length ``k``. The scenario's ``size`` field is not used: the
    world is given.
    """
    if not isinstance(world, World):
        raise InvalidParameter(f"The 'world' parameter of default_scenario must be a World. "
                               f"Got {type(world).__name__} instead.", name="world")
    future = int(world.config.future_hours)
    if future < 1:
        raise InvalidParameter("The 'world' parameter needs future_hours >= 1 (the attack "
                               f"window runs after t0). Got {future} instead.", name="world")
    horizon = min(24, future)
    return Scenario(name="testing", size="tiny", attack_hours=min(12, horizon),
                    horizon_hours=horizon, n_targets=n_targets, budget=0.0, k=k)


# --- results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class RiseResult:
    """How far a campaign lifted its targets against a ranker, next to the clean twin.

    Ranks are read at the end of the attack window (1 = top; mean over targets);
    impressions over the whole horizon.

    Attributes
    ----------
    ranker, campaign : str
        Ranker name; the campaign in readable form (attack, supplier, mix, pacing, budget).
    mode, seed, k : str, int, int
    budget, spend : float
        USD allowed and spent; ``spend_items`` itemises the spend.
    n_accounts, n_actions : int
        Accounts the campaign created or recruited; actions it delivered (events
        other than impressions and views).
    targets : tuple of int
    clean_rank, attacked_rank : float
        Mean target rank in the clean twin and in the attacked run.
    rank_lift, log_rank_lift : float
        The registered metrics (clean minus attacked rank; log2 of their ratio).
    clean_hit_at_k, hit_at_k : float
        ``hit_rate_at_k`` of the targets without and with the campaign.
    extra_organic_impressions : float
        Mean extra organic impressions per target (0 by construction in replay).
    """

    ranker: str
    campaign: str
    mode: str
    seed: int
    k: int
    budget: float
    spend: float
    spend_items: tuple
    n_accounts: int
    n_actions: int
    targets: tuple
    clean_rank: float
    attacked_rank: float
    rank_lift: float
    log_rank_lift: float
    clean_hit_at_k: float
    hit_at_k: float
    extra_organic_impressions: float

    @property
    def entered_top_k(self) -> bool:
        """Did a target get into the top k more often than in the clean twin?"""
        return self.hit_at_k > self.clean_hit_at_k + 1e-12

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spend_items"] = dict(self.spend_items)
        d["targets"] = list(self.targets)
        d["entered_top_k"] = self.entered_top_k
        return d

    def __str__(self) -> str:
        top = f", into the top {self.k}" if self.entered_top_k else ""
        return (f"{self.ranker}: target rank {_fmt(self.clean_rank)} -> "
                f"{_fmt(self.attacked_rank)} (lift {_fmt(self.rank_lift)}{top}) for "
                f"${self.spend:.2f} spent of ${self.budget:.2f}, {self.n_accounts} accounts, "
                f"{self.n_actions} actions; campaign {self.campaign} "
                f"({_mode_text(self.mode)}, seed {self.seed})")


def _mode_text(mode: str) -> str:
    return "closed loop" if mode == "closed" else "replay"


def _fmt(x: float) -> str:
    return f"{x:.1f}".removesuffix(".0")


class RiseTooHigh(AssertionError):
    """:func:`assert_rise_at_most` failed; ``result`` holds the measurement."""

    def __init__(self, message: str, result: RiseResult):
        super().__init__(message)
        self.result = result


# --- set-up, cached -----------------------------------------------------------------------
_MAX_SETUPS = 8
_MAX_CLEAN = 32
_setups: OrderedDict = OrderedDict()
_cleans: OrderedDict = OrderedDict()


def _lru_get(cache: OrderedDict, key, make, maxsize):
    try:
        hash(key)
    except TypeError:
        return make()
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = make()
    if len(cache) > maxsize:
        cache.popitem(last=False)
    return value


@dataclass(frozen=True, eq=False)
class _Setup:
    """World, run base, scenario and a ``buy(attack, budget)`` for one (world, seed)."""

    world: World
    base: RunBase
    scenario: Scenario
    buy: object
    kw: dict
    mode: str


def _setup(world, scenario, *, k, seed, mode, cost) -> _Setup:
    if isinstance(world, str):
        check_choice("world", world, tuple(SCENARIOS), where="measure_rise (a scenario name)")
        world = SCENARIOS[world]
    if isinstance(world, Scenario):
        if scenario is not None:
            raise InvalidParameter("Give the scenario either as 'world' or as 'scenario', not "
                                   "both.", name="scenario")
        sc = world.with_(k=k)
        key = ("scenario", sc, seed, mode, cost)

        def make():
            w, base, buy, kw = seed_setup(sc, seed, mode=mode, cost=cost)
            return _Setup(w, base, sc, buy, kw, mode)
        return _lru_get(_setups, key, make, _MAX_SETUPS)
    if not isinstance(world, World):
        raise InvalidParameter("The 'world' parameter of measure_rise must be a World, a "
                               f"Scenario or a scenario name. Got {type(world).__name__} "
                               "instead.", name="world")
    if scenario is None:
        sc = default_scenario(world, k=k)
    elif isinstance(scenario, Scenario):
        sc = scenario.with_(k=k)
    else:
        raise InvalidParameter("The 'scenario' parameter of measure_rise must be a Scenario or "
                               f"None. Got {type(scenario).__name__} instead.", name="scenario")
    key = ("world", id(world), sc, seed, mode, cost)

    def make():
        base = sc.run_base(world, seed_streams(seed)[1])
        obs0 = base.observation_at_start()
        window = (world.t0, world.t0 + sc.attack_hours * HOUR)

        def buy(attack, budget):  # as boostbench.runner buys a fixed campaign
            return attack(obs0, base.targets_for(getattr(attack, "goal", "promote")), budget,
                          window, attack_stream(seed, attack.name), cost)
        # the cache holds the world itself, so its id is not reused while the entry lives
        return _Setup(world, base, sc, buy, {}, mode)
    return _lru_get(_setups, key, make, _MAX_SETUPS)


def _ranker(ranker):
    if isinstance(ranker, str):
        ranker = _built_ranker(ranker.strip())
    if not callable(ranker):
        raise InvalidParameter("The 'ranker' parameter must be a ranker (a callable "
                               "Observation -> scores), a registered name, 'module:attr' or "
                               f"'scorer+defence+...'. Got {ranker!r:.80} instead.",
                               name="ranker")
    return ranker


@lru_cache(maxsize=32)
def _built_ranker(spec: str):
    """One ranker object per spec, as ``boostbench run --rankers`` builds it (so the clean
    twin cache, keyed by the ranker, is hit across examples)."""
    from ..rankers import build_ranker
    return build_ranker(spec)


def _plan(campaign, budget, scenario: Scenario):
    """(AttackPlan or None, realised Campaign or None) from what the caller gave."""
    if isinstance(campaign, Campaign):
        if budget is not None:
            raise InvalidParameter("The 'budget' parameter cannot be used with a realised "
                                   "Campaign (it already spent its money).", name="budget")
        return None, campaign
    if isinstance(campaign, AttackPlan):
        if budget is not None:
            raise InvalidParameter("The 'budget' parameter cannot be used with an AttackPlan "
                                   "(it carries its budget).", name="budget")
        return campaign, None
    if isinstance(campaign, str):
        campaign = ATTACKS.get(campaign)()
    b = scenario.budget if budget is None else budget
    return AttackPlan(campaign, b), None


# --- the measurement ------------------------------------------------------------------------
def measure_rise(ranker, campaign, world, *, k: int = 10, seed: int = 0, mode: str = "closed",
                 budget: float | None = None, scenario: Scenario | None = None,
                 cost: CostModel | None = None) -> RiseResult:
    """Run a clean twin and an attacked run, and say how far the targets rose.

    Parameters
    ----------
    ranker : Ranker, str
        A ranker, or a spec as ``boostbench run --rankers`` takes it: a registered
        name, ``"module:attr"`` (a factory), or ``"scorer+defence+..."``.
    campaign : AttackPlan, Attack, str or Campaign
        What to buy: a plan (attack + budget, as the strategies draw), an attack
        (with ``budget``), a registered attack name, or a campaign already bought
        against this world.
    world : World, Scenario or str
        A world (evaluated with :func:`default_scenario` unless ``scenario`` is
        given) or a scenario / scenario name (its world is drawn from ``seed``
        exactly as ``boostbench run`` draws it).
    k : int in [1, inf)
        Feed length for the top-k figures.
    seed : int in [0, 2**63)
        Seeds the organic replay stream, the attack stream and, for a scenario,
        the world. Both runs share it (paired runs).
    mode : {"closed", "replay"}
    budget : float, optional
        USD for an attack given without one (default: the scenario's budget).
    scenario : Scenario, optional
        Evaluation settings for a given world (attack window, horizon, targets).
    cost : CostModel, optional

    Returns
    -------
    RiseResult

    Notes
    -----
    Worlds, run bases and clean twins are cached (a few of each), so a property
    test that draws many campaigns pays for the world and the clean run once.
    Rankers must be deterministic functions of the observation (the ranker contract).

    Examples
    --------
    >>> r = measure_rise("like_count", AttackPlan(ATTACKS.get("bot_farm")(), 0.0),
    ...                  build_world("micro"))
    >>> r.rank_lift
    0.0
    """
    k = check_int("k", k, low=1, where="measure_rise")
    seed = check_int("seed", seed, low=0, high=2**63 - 1, where="measure_rise")
    check_choice("mode", mode, MODES, where="measure_rise")
    if budget is not None:
        budget = check_real("budget", budget, low=0.0, high=MAX_BUDGET, where="measure_rise")
    cost = CostModel() if cost is None else cost
    if not isinstance(cost, CostModel):
        raise InvalidParameter(f"The 'cost' parameter of measure_rise must be a CostModel. Got "
                               f"{type(cost).__name__} instead.", name="cost")
    ranker = _ranker(ranker)
    setup = _setup(world, scenario, k=k, seed=seed, mode=mode, cost=cost)
    plan, bought = _plan(campaign, budget, setup.scenario)
    if bought is None:
        bought = setup.buy(plan.attack, plan.budget)
        text = plan.describe()
    else:
        text = f"{bought.attack} (given campaign) for ${bought.budget:.2f}"
    clean = _clean(setup, ranker, seed)
    if bought.n_events == 0 and bought.policy is None:  # the clean twin, exactly (see simulate)
        att = replace(clean, attack=bought.attack, budget=bought.budget, targets=bought.targets)
    else:
        att = simulate(mode, setup.base, ranker, bought, seed=seed, **setup.kw)
    truth = setup.world.truth
    clean_at = replace(clean, targets=att.targets)
    hit = METRICS.get("hit_rate_at_k")
    return RiseResult(
        ranker=att.ranker, campaign=text, mode=mode, seed=seed, k=k, budget=float(bought.budget),
        spend=float(att.spend), spend_items=tuple(sorted(att.spend_items.items())),
        n_accounts=int(bought.n_new_accounts + len(bought.recruited)),
        n_actions=int(att.fake_actions), targets=tuple(int(x) for x in att.targets),
        clean_rank=float(np.mean(target_ranks(clean, targets=att.targets))),
        attacked_rank=float(np.mean(target_ranks(att))),
        rank_lift=METRICS.get("rank_lift")(att, clean, truth),
        log_rank_lift=METRICS.get("log_rank_lift")(att, clean, truth),
        clean_hit_at_k=hit(clean_at, clean_at, truth), hit_at_k=hit(att, clean, truth),
        extra_organic_impressions=METRICS.get("extra_organic_impressions")(att, clean, truth))


def _clean(setup: _Setup, ranker, seed: int):
    """The clean twin, cached per (set-up, ranker) when the ranker is hashable.

    The key holds the set-up object itself (hashed by identity), which holds the
    world: a cached twin can never be mistaken for another world's.
    """
    def make():
        return simulate(setup.mode, setup.base, ranker, seed=seed, **setup.kw)
    return _lru_get(_cleans, (setup, type(ranker), ranker), make, _MAX_CLEAN)


def steer(result: RiseResult, *, label: str = "") -> None:
    """Point Hypothesis' search at campaigns that lift their targets further.

    Calls :func:`hypothesis.target` with the result's ``log_rank_lift`` and
    ``rank_lift`` (labels ``label + "log_rank_lift"`` and ``label + "rank_lift"``).
    Random campaigns are weak attackers; without steering a property such as
    "no campaign lifts a target into the top 10" can pass only because the
    search never tried hard. Outside a Hypothesis test this does nothing; only
    the first call per label in one example counts (pass ``label`` to steer
    several measurements).
    """
    try:
        import hypothesis
        from hypothesis.errors import InvalidArgument
    except ImportError:  # Hypothesis is optional
        return
    in_test = getattr(hypothesis, "currently_in_test_context", None)
    if in_test is None or not in_test():
        return
    for name in ("log_rank_lift", "rank_lift"):
        value = getattr(result, name)
        if math.isfinite(value):
            try:
                hypothesis.target(float(value), label=f"{label}{name}")
            except InvalidArgument:  # already targeted in this example
                pass


def assert_rise_at_most(ranker, campaign, world, *, k: int = 10,
                        max_rank_lift: float | None = None, seed: int = 0, mode: str = "closed",
                        budget: float | None = None, scenario: Scenario | None = None,
                        cost: CostModel | None = None, label: str = "") -> RiseResult:
    """Fail when a campaign lifts its targets further than allowed.

    With ``max_rank_lift=None`` the claim is "no target enters the top k" (a
    target already in the clean twin's top k does not count as entering); with
    a number, "the mean rank lift is at most ``max_rank_lift`` places". Inside a
    Hypothesis test the measurement also steers the search (:func:`steer`).

    Parameters are those of :func:`measure_rise`, plus ``max_rank_lift`` (a real
    in [0, inf) or None) and ``label`` (for :func:`steer`).

    Returns
    -------
    RiseResult
        When the claim holds.

    Raises
    ------
    RiseTooHigh
        An ``AssertionError`` whose message says how far the target rose, at what
        spend and with which campaign; its ``result`` holds the figures.
    """
    if max_rank_lift is not None:
        max_rank_lift = check_real("max_rank_lift", max_rank_lift, low=0.0,
                                   where="assert_rise_at_most")
    r = measure_rise(ranker, campaign, world, k=k, seed=seed, mode=mode, budget=budget,
                     scenario=scenario, cost=cost)
    steer(r, label=label)
    if max_rank_lift is None:
        failed, allowed = r.entered_top_k, f"no target entering the top {r.k}"
    else:
        failed, allowed = r.rank_lift > max_rank_lift, f"a rank lift of at most {max_rank_lift:g}"
    if failed:
        n = len(r.targets)
        who = "the target" if n == 1 else f"the {n} targets (mean)"
        top = (f", into the top {r.k} (hit@{r.k} {r.clean_hit_at_k:.2f} -> {r.hit_at_k:.2f})"
               if r.entered_top_k else "")
        raise RiseTooHigh(
            f"{r.ranker} let {who} rise {_fmt(r.rank_lift)} places, from rank "
            f"{_fmt(r.clean_rank)} to {_fmt(r.attacked_rank)}{top}, at a spend of "
            f"${r.spend:.2f} (budget ${r.budget:.2f}; {r.n_accounts} accounts, {r.n_actions} "
            f"actions) with campaign {r.campaign}. Allowed: {allowed}. ({_mode_text(r.mode)}, seed "
            f"{r.seed}, targets {list(r.targets)}, extra organic impressions "
            f"{r.extra_organic_impressions:.1f})", r)
    return r
