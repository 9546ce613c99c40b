"""Hypothesis strategies for attack tests: worlds, budgets, attacks and campaigns.

Every strategy shrinks toward the smallest attack: budgets shrink toward $0
(in cents, so a minimal example reads ``$0.02``, not ``$0.0193...``), and every
choice lists its simplest option first — bought bot likes (``bot_farm``)
before aged bots, crowds, rings and deep-engagement services, a burst before
other pacings, no start delay. Because a recipe buys the longest prefix of its
plan that the budget pays for, less money means fewer accounts and fewer
actions. A failing test therefore reports something like
``AttackPlan(bot_farm[fresh_bots (bot_service); view=short like=1; burst 2h] for $0.02)``.

Random campaigns are weak attackers: pair a strategy with
:func:`boostbench.testing.steer` (``assert_rise_at_most`` does it for you) so
Hypothesis pushes toward campaigns that lift their targets further. One example
runs two simulations (the clean twin is cached): about 0.1-0.3 s on the ``tiny``
world, so give such tests ``@settings(deadline=None)`` and a modest
``max_examples``.

Importing this module registers the strategies for :func:`hypothesis.strategies.from_type`
(``Recipe``, ``Supplier``, ``SignalMix``, ``Pacing``, ``AttackPlan``,
``WorldConfig``, ``World``); the ``hypothesis`` entry point does the same
whenever Hypothesis is imported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from hypothesis import strategies as st

from ..attacks.adaptive import DELAYS_HOURS, MIXES, PACINGS as NAMED_PACINGS, SUPPLIERS, Candidate
from ..attacks.adaptive import candidates as _candidates
from ..attacks.compose import VIEW_STYLES, Recipe, SignalMix
from ..attacks.pacing import Pacing
from ..attacks.supply import Supplier
from ..errors import InvalidParameter
from .._core.params import MAX_BUDGET, check_choice, check_int, check_real
from ..plugins import ATTACKS, PACINGS
from ..world import World, WorldConfig
from ._measure import WORLD_SIZES, AttackPlan, build_world

__all__ = ["world_configs", "worlds", "budgets", "suppliers", "signal_mixes", "pacings",
           "recipes", "campaigns", "register_type_strategies", "SUPPLIER_ORDER", "MIX_ORDER",
           "PACING_ORDER", "NAMED_ORDER"]


def _simplest_first(preferred: tuple, available) -> tuple:
    """``available`` in the ``preferred`` order; names added later go last, sorted."""
    return (tuple(n for n in preferred if n in available)
            + tuple(sorted(set(available) - set(preferred))))


#: Simplest first: the order every choice shrinks toward.
SUPPLIER_ORDER = _simplest_first(("fresh_bots", "api_client", "aged_bots", "paid_crowd",
                                  "matched_users", "ring_members"), SUPPLIERS)
MIX_ORDER = _simplest_first(("likes_short", "likes_blind", "likes_real", "shares",
                             "complete_only", "deep"), MIXES)
PACING_ORDER = _simplest_first(("burst", "even", "cold_start", "tasks"), NAMED_PACINGS)
NAMED_ORDER = ("bot_farm", "api_exploit", "aged_bots", "task_crowd", "mutual_like_ring",
               "engagement_service", "mass_report")
# (supplier, mix) pairs a seller can deliver: the adaptive search space's rule
_VALID = frozenset((c.supplier, c.mix) for c in _candidates(10**6, 0))


def _names(param: str, value, allowed, where: str) -> tuple:
    """``value`` (None = all of ``allowed``) as a tuple in ``allowed``'s order."""
    if value is None:
        return tuple(allowed)
    value = (value,) if isinstance(value, str) else tuple(value)
    for v in value:
        check_choice(param, v, tuple(allowed), where=where)
    if not value:
        raise InvalidParameter(f"The {param!r} parameter of {where} must name at least one of "
                               f"{', '.join(allowed)}.", name=param)
    return tuple(a for a in allowed if a in value)


# --- worlds ----------------------------------------------------------------------------
def world_configs(sizes=("micro", "tiny")) -> st.SearchStrategy[WorldConfig]:
    """World configurations of size presets, the first (smallest) preferred.

    Parameters
    ----------
    sizes : str or iterable of str
        Presets from :data:`boostbench.testing.WORLD_SIZES` (``micro``, ``tiny``,
        ``small``, ``medium``), in the order to shrink toward.
    """
    sizes = _sizes(sizes, "world_configs")
    return st.sampled_from([WorldConfig(**WORLD_SIZES[s]) for s in sizes])


def _sizes(sizes, where):
    sizes = (sizes,) if isinstance(sizes, str) else tuple(sizes)
    if not sizes:
        raise InvalidParameter(f"The 'sizes' parameter of {where} must name at least one of "
                               f"{', '.join(WORLD_SIZES)}.", name="sizes")
    for s in sizes:
        check_choice("sizes", s, tuple(WORLD_SIZES), where=where)
    return sizes


def worlds(sizes=("micro", "tiny"), seeds=3) -> st.SearchStrategy[World]:
    """Seeded worlds (built once per size and seed, then reused across examples).

    Parameters
    ----------
    sizes : str or iterable of str
        Presets, smallest first (``micro`` builds in ~0.2 s, ``tiny`` in ~0.6 s).
    seeds : int in [1, 1000] or iterable of int
        ``n`` means seeds ``0 .. n-1``; shrinks toward the first.

    Returns
    -------
    strategy of :class:`~boostbench.testing.SeededWorld`
        A :class:`~boostbench.world.World` whose repr is ``world(size='tiny', seed=0)``.

    Notes
    -----
    The first draw of each (size, seed) builds the world; with many sizes and
    seeds Hypothesis' ``too_slow`` health check may fire on the first examples.
    """
    sizes = _sizes(sizes, "worlds")
    if isinstance(seeds, Iterable):
        seeds = tuple(check_int("seeds", s, low=0, high=2**63 - 1, where="worlds") for s in seeds)
        if not seeds:
            raise InvalidParameter("The 'seeds' parameter of worlds must hold at least one seed.",
                                   name="seeds")
    else:
        seeds = tuple(range(check_int("seeds", seeds, low=1, high=1000, where="worlds")))
    return st.builds(build_world, st.sampled_from(sizes), st.sampled_from(seeds))


# --- money -------------------------------------------------------------------------------
def budgets(max_budget: float = 50.0, *, min_budget: float = 0.0) -> st.SearchStrategy[float]:
    """Budgets in USD, whole cents in ``[min_budget, max_budget]``, shrinking toward the minimum.

    Parameters
    ----------
    max_budget : float in [0, MAX_BUDGET] (10,000)
    min_budget : float in [0, max_budget]
    """
    hi = check_real("max_budget", max_budget, low=0.0, high=MAX_BUDGET, where="budgets")
    lo = check_real("min_budget", min_budget, low=0.0, high=hi, where="budgets")
    lo_c, hi_c = math.ceil(round(lo * 100, 6)), math.floor(round(hi * 100, 6))
    if lo_c > hi_c:
        raise InvalidParameter(f"budgets needs a whole cent in [min_budget, max_budget]; "
                               f"got min_budget={lo!r}, max_budget={hi!r}.", name="min_budget")
    return st.integers(lo_c, hi_c).map(lambda c: c / 100)


# --- the parts of an attack ---------------------------------------------------------------
def suppliers() -> st.SearchStrategy[Supplier]:
    """The six built-in suppliers, bot services first."""
    return st.sampled_from([SUPPLIERS[n] for n in SUPPLIER_ORDER])


@st.composite
def _custom_mixes(draw):
    view = draw(st.sampled_from(("short",) + tuple(v for v in VIEW_STYLES if v != "short")))
    acts = {"like": draw(st.sampled_from((1.0, 0.0, 0.5)))}
    for name in ("comment", "share", "follow", "report", "not_interested"):
        acts[name] = draw(st.sampled_from((0.0, 0.5, 1.0)))
    if view == "none" and not any(acts.values()):
        acts["like"] = 1.0  # a mix must do something
    short = draw(st.sampled_from(((2.0, 2.0), (2.0, 6.0), (3.0, 10.0))))
    return SignalMix(view=view, short_seconds=short, **acts)


def signal_mixes() -> st.SearchStrategy[SignalMix]:
    """Named mixes of the adaptive search (likes after a short view first), then any valid mix."""
    return st.one_of(st.sampled_from([MIXES[n] for n in MIX_ORDER]), _custom_mixes())


def pacings() -> st.SearchStrategy[Pacing]:
    """Named pacings of the adaptive search (a 2 h burst first), then the variants of every
    registered pacing (:meth:`Pacing.variants`)."""
    variants = [v for _, cls in PACINGS.items() for v in cls.variants()]
    return st.one_of(st.sampled_from([NAMED_PACINGS[n] for n in PACING_ORDER]),
                     st.sampled_from(variants))


def _named_recipes(goal: str, suppliers_: tuple) -> list:
    """The built-in recipes of :data:`NAMED_ORDER` with this goal and an allowed supplier."""
    out = []
    for name in NAMED_ORDER:
        try:
            r = ATTACKS.get(name)()
        except InvalidParameter:  # not (or no longer) registered
            continue
        if isinstance(r, Recipe) and r.goal == goal and r.supplier.name in suppliers_:
            out.append(r)
    return out


@st.composite
def _composed(draw, suppliers_, mixes_, pacings_, delays_):
    s = draw(st.sampled_from([s for s in suppliers_ if any((s, m) in _VALID for m in mixes_)]))
    # one draw over every mix, mapped onto the ones this supplier can deliver: a fixed number
    # of choices per recipe, so shrinking compares recipes choice by choice (a supplier with a
    # single valid mix would otherwise look "shorter", hence simpler, than fresh bots)
    valid = [m for m in mixes_ if (s, m) in _VALID]
    m = valid[draw(st.integers(0, len(mixes_) - 1)) % len(valid)]
    p = draw(st.sampled_from(pacings_))
    d = draw(st.sampled_from(delays_))
    return Candidate(s, m, p, d).recipe()


def recipes(goal: str = "promote", *, suppliers=None, mixes=None, pacings=None,
            delays=None) -> st.SearchStrategy[Recipe]:
    """Attack recipes: the registered ones, then the adaptive search space.

    Parameters
    ----------
    goal : {"promote", "demote"}
        ``demote`` draws only the registered sabotage recipes (``mass_report``).
    suppliers : iterable of str, optional
        Supplier names (``fresh_bots``, ``api_client``, ``aged_bots``, ``paid_crowd``,
        ``matched_users``, ``ring_members``); restricts both parts.
    mixes, pacings : iterable of str, optional
        Names from the adaptive search space (``boostbench.attacks.adaptive.MIXES``
        and ``PACINGS``). Giving either leaves out the registered recipes, whose
        mixes and pacings are their own.
    delays : iterable of float, optional
        Start delays in hours (default ``DELAYS_HOURS``: 0 and 3).

    Shrinks toward ``bot_farm``, then toward fresh bots with likes after a short
    view in a burst, no delay. Only (supplier, mix) pairs a seller can deliver
    are drawn (the adaptive search's rule).
    """
    w = "recipes"
    check_choice("goal", goal, ("promote", "demote"), where=w)
    sup = _names("suppliers", suppliers, SUPPLIER_ORDER, w)
    mix = _names("mixes", mixes, MIX_ORDER, w)
    pac = _names("pacings", pacings, PACING_ORDER, w)
    dly = DELAYS_HOURS if delays is None else tuple(
        check_real("delays", d, low=0.0, high=24.0 * 365, where=w) for d in delays)
    if not dly:
        raise InvalidParameter("The 'delays' parameter of recipes must hold at least one delay.",
                               name="delays")
    named = _named_recipes(goal, sup) if mixes is None and pacings is None else []
    parts = [st.sampled_from(named)] if named else []
    if goal == "promote" and any((s, m) in _VALID for s in sup for m in mix):
        parts.append(_composed(sup, mix, pac, dly))
    if not parts:
        raise InvalidParameter(f"recipes has nothing to draw for goal={goal!r}, "
                               f"suppliers={sup!r}, mixes={mix!r}: no supplier can deliver "
                               f"those mixes.", name="suppliers")
    return st.one_of(*parts)


def campaigns(max_budget: float = 50.0, *, min_budget: float = 0.0, goal: str = "promote",
              attacks=None) -> st.SearchStrategy[AttackPlan]:
    """Campaigns to buy: an attack and a budget, shrinking toward the smallest attack.

    Parameters
    ----------
    max_budget, min_budget : float
        Budget bounds in USD (see :func:`budgets`).
    goal : {"promote", "demote"}
    attacks : strategy or sequence of attacks, optional
        What to draw the attack from (default :func:`recipes` of ``goal``); a
        sequence is drawn in its order (first = simplest).

    Returns
    -------
    strategy of :class:`~boostbench.testing.AttackPlan`
        Pass it to :func:`~boostbench.testing.measure_rise` or
        :func:`~boostbench.testing.assert_rise_at_most`.
    """
    if attacks is None:
        attacks = recipes(goal)
    elif not isinstance(attacks, st.SearchStrategy):
        attacks = list(attacks)
        if not attacks:
            raise InvalidParameter("The 'attacks' parameter of campaigns must hold at least one "
                                   "attack.", name="attacks")
        attacks = st.sampled_from(attacks)
    return st.builds(AttackPlan, attacks, budgets(max_budget, min_budget=min_budget))


# --- st.from_type ---------------------------------------------------------------------------
def register_type_strategies() -> None:
    """Make ``st.from_type`` draw these strategies for the attack and world types."""
    for typ, make in ((Recipe, recipes), (Supplier, suppliers), (SignalMix, signal_mixes),
                      (Pacing, pacings), (AttackPlan, campaigns), (WorldConfig, world_configs),
                      (World, worlds)):
        st.register_type_strategy(typ, lambda _t, make=make: make())


register_type_strategies()
