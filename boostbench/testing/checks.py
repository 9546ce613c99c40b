"""Conformance checks generated from the registries (as scikit-learn's ``estimator_checks``).

Every registered ranker, defence, attack and metric, built-in or installed as a
plug-in, is held to its family's contract on a small seeded world:

- :func:`check_ranker`: one finite score per eligible item, the observation left
  untouched, deterministic (also across fresh instances), invariant to
  relabelling items and accounts; ``score_pairs`` checked when present;
- :func:`check_defence`: a declared schedule and action; inline multipliers in
  [0, 1], causal and deterministic; batch detections in range and
  deterministic; behind a :class:`~boostbench.rankers.Pipeline` no weight ever
  rises;
- :func:`check_attack`: a zero budget buys nothing, spend within the budget and
  non-decreasing in it, nested recipe budgets, seeded determinism, ids and
  times in range; reactive (closed-loop-only) attacks through the closed loop;
- :func:`check_metric`: a bool direction, a definition, purity, and NaN only
  where ``nan_when`` says.

A check raises :class:`AssertionError` naming the component and the broken
property (``ranker 'x' fails check_ranker[relabelling]: ...``) and returns
``{property: "ok" | "exempt: <reason>"}``. A component may declare exemptions
as a class attribute, ``conformance_exempt = {"relabelling": "scores are seeded
by item id"}``: the property is skipped and the reason reported, never silently.

In a test file::

    from boostbench.testing.checks import parametrize_with_checks

    @parametrize_with_checks(rankers=["my_ranker"])   # names, specs or instances
    def test_conformance(component, check):
        check(component)

The world, the run base, the campaign and the simulated runs the checks share
are built once per process (a few per world and seed).
"""

from __future__ import annotations

import copy
import functools
import math
from collections import OrderedDict
from dataclasses import fields, is_dataclass, replace

import numpy as np

from ..attacks.base import Campaign, CostModel
from ..attacks.compose import GOALS, Recipe
from ..errors import InvalidParameter
from ..events import N_KINDS, EventLog
from ..metrics.base import TABLES
from ..observation import Observation
from ..plugins import ATTACKS, DEFENCES, METRICS, RANKERS
from ..rankers.base import score_pairs as _score_pairs
from ..rankers.base import with_oracle
from ..rankers.defences.base import ACTIONS
from ..rankers.likes import LikeCount
from ..rankers.pipeline import Pipeline, build_ranker
from ..simulate import Trajectory, closed_loop, replay
from ..world import Accounts, Items, Truth
from .._core.units import HOUR

__all__ = ["check_ranker", "check_defence", "check_attack", "check_metric", "all_checks",
           "parametrize_with_checks", "FAMILIES", "CHECKS", "RANKER_CHECKS", "DEFENCE_CHECKS",
           "ATTACK_CHECKS", "METRIC_CHECKS"]

#: The plug-in families the suite covers, in order.
FAMILIES = ("rankers", "defences", "attacks", "metrics")
_SINGULAR = {"rankers": "ranker", "defences": "defence", "attacks": "attack",
             "metrics": "metric"}
_REGISTRIES = {"rankers": RANKERS, "defences": DEFENCES, "attacks": ATTACKS, "metrics": METRICS}

#: The properties each check runs (the names ``conformance_exempt`` may use).
RANKER_CHECKS = ("output", "no_mutation", "deterministic", "fresh_instance", "relabelling",
                 "score_pairs")
DEFENCE_CHECKS = ("contract", "weights", "deterministic", "causal", "detect", "pipeline")
ATTACK_CHECKS = ("contract", "no_mutation", "zero_budget", "budget", "monotone_spend", "nested",
                 "deterministic", "ids", "times", "closed_loop")
METRIC_CHECKS = ("contract", "pure", "nan_policy")
#: The basic contract of each family: never exempt (the other properties need it).
_REQUIRED = {"output", "contract", "weights"}

#: Budgets (USD) every attack is bought at, smallest first.
BUDGETS = (0.0, 0.5, 2.0)
#: Hours into the attack window of the later observation (organic events and campaigns;
#: at most three quarters of the window).
_LATER_HOURS = 9.0
_RTOL = 1e-9
_LATER = "later in the window, with two campaigns"


# --- failures and exemptions -----------------------------------------------------------------

class _Context:
    """Which component a check runs on, its exemptions and the report it builds."""

    def __init__(self, family: str, component, check: str, names: tuple, extra=None):
        self.family, self.check, self.names = family, check, names
        self.name = _name_of(component)
        self.report: dict[str, str] = {}
        exempt = getattr(component, "conformance_exempt", None) or {}
        for where, given in (("conformance_exempt", exempt), ("exempt", extra or {})):
            if not isinstance(given, dict):
                self.fail("contract", f"{where} must be a dict {{check name: reason}}. Got "
                          f"{type(given).__name__} instead.")
        # a composite (a Pipeline) inherits what its parts declare about the same check
        inherited = {}
        for part in (*getattr(component, "defences", ()), getattr(component, "scorer", None)):
            declared = getattr(part, "conformance_exempt", None)
            if isinstance(declared, dict):
                inherited.update({k: f"{r} (declared by {_name_of(part)})"
                                  for k, r in declared.items()
                                  if k in names and k not in _REQUIRED})
        exempt = {**inherited, **exempt, **(extra or {})}
        for key, reason in exempt.items():
            if key not in names or key in _REQUIRED:
                allowed = ", ".join(n for n in names if n not in _REQUIRED)
                self.fail("contract", f"an exemption names {key!r}, which is not an "
                          f"exemptable property of {check}; one of {allowed}.")
            if not isinstance(reason, str) or not reason.strip():
                self.fail("contract", f"the exemption of {key!r} must give a reason (a "
                          f"non-empty string). Got {reason!r} instead.")
        self.exempt = dict(exempt)

    def message(self, prop: str, detail: str) -> str:
        return f"{self.family} {self.name!r} fails {self.check}[{prop}]: {detail}"

    def fail(self, prop: str, detail: str):
        raise _Failure(self.message(prop, detail))

    def run(self, prop: str, fn):
        """Run property ``prop`` (``fn()``) unless it is exempt; any error is a failure of it."""
        if prop in self.exempt:
            self.report[prop] = f"exempt: {self.exempt[prop]}"
            return None
        try:
            out = fn()
        except _Failure:
            raise
        except AssertionError as e:
            raise _Failure(self.message(prop, str(e).strip())) from e
        except Exception as e:
            raise _Failure(self.message(prop, f"raised {type(e).__name__}: {e}")) from e
        self.report[prop] = "ok"
        return out

    def done(self) -> dict:
        return {n: self.report[n] for n in self.names if n in self.report}


class _Failure(AssertionError):
    """A failed property, its message already naming the component and the check."""


def _require(cond, detail: str) -> None:
    if not cond:
        raise AssertionError(detail)


def _name_of(component) -> str:
    name = getattr(component, "name", None)
    return name if isinstance(name, str) and name else type(component).__name__


# --- the shared world, built once per process ------------------------------------------------

_MAX_SETUPS = 4
_setups: OrderedDict = OrderedDict()


def _frozen_copy(a) -> np.ndarray:
    out = np.array(a)
    out.flags.writeable = False
    return out


class _Setup:
    """A world, its run base, a bot-farm campaign and pristine observation data.

    Components never see these arrays: every check gets fresh observations with
    their own copies (:meth:`obs0`, :meth:`obs1`), so a component that writes to
    what it is given cannot corrupt the checks that follow.
    """

    def __init__(self, world, seed: int):
        from . import _measure
        self.world, self.seed = world, seed
        base = None
        for n_targets in (3, 1):
            try:
                sc = _measure.default_scenario(world, n_targets=n_targets)
                base = sc.run_base(world, np.random.default_rng(seed))
                break
            except InvalidParameter:
                if n_targets == 1:
                    raise
        self.scenario, self.base = sc, base
        self.t0 = float(world.t0)
        self.window = tuple(float(x) for x in base.plan.attack_window)
        self.eligibility_hours = base.plan.eligibility_hours
        self.n_organic = len(world.accounts)
        self.items_cols = tuple(_frozen_copy(getattr(world.items, f.name))
                                for f in fields(Items))
        self.accounts_cols0 = tuple(_frozen_copy(getattr(world.accounts, f.name))
                                    for f in fields(Accounts))
        self.cols0 = tuple(_frozen_copy(c) for c in world.history.columns())
        self.cache0 = {k: _frozen_copy(v) for k, v in
                       dict(base.history_aggs, viewed_before=base.history_vb).items()}
        # a bot farm on the targets (what the runs and detectors see), and in the later view
        # also an API exploit liking 25 items from each account within minutes, blind, many
        # accounts to a device: something for every built-in inline defence to discount
        self.campaign = ATTACKS.get("bot_farm")()(self.obs0(), base.targets, 2.0, self.window,
                                                  np.random.default_rng(seed))
        c = base.place(self.campaign)            # its accounts on the world's reserved rows
        after_farm = world.accounts.fill(c.new_rows, c.new_created_at, c.new_device,
                                         c.new_topic)
        log0 = EventLog.from_arrays(*self.cols0)
        seen = Observation(self.items(), after_farm, log0, self.t0, n=len(log0),
                           eligibility_hours=self.eligibility_hours,
                           cache={k: v.copy() for k, v in self.cache0.items()})
        many = np.flatnonzero(np.asarray(world.items.created_at) >= self.t0)[:25]
        api = (base.place(ATTACKS.get("api_exploit")()(seen, many, 0.5, self.window,
                                                       np.random.default_rng([seed, 1])),
                          skip=c.n_new_accounts) if many.size else None)
        end = self.window[1]
        self.now1 = min(self.t0 + _LATER_HOURS * HOUR, self.t0 + 0.75 * (end - self.t0))
        win = base.window
        parts = [self.cols0, win.columns(win.count_until(self.now1))]
        extended = after_farm
        for x in (c, api):
            if x is None or not x.n_events:
                continue
            m = x.t <= self.now1
            parts.append((x.t[m], x.account[m], x.item[m], x.kind[m], x.value[m]))
            if x is api and x.n_new_accounts:
                extended = extended.fill(x.new_rows, x.new_created_at, x.new_device,
                                         x.new_topic)
        log = EventLog.from_arrays(*(np.concatenate(x) for x in zip(*parts)))
        self.cols1 = tuple(_frozen_copy(x) for x in log.columns())
        self.accounts_cols1 = tuple(_frozen_copy(getattr(extended, f.name))
                                    for f in fields(Accounts))
        self.fake1 = np.zeros(len(extended), bool)
        for x in (c, api):
            if x is not None:
                if x.new_rows is not None:
                    self.fake1[x.new_rows] = True
                self.fake1[np.asarray(x.recruited, np.int64)] = True
        self._runs = None
        self._clean = None

    # fresh observations: their own log, columns and cache ----------------------------------
    def items(self) -> Items:
        return Items(*(np.array(a) for a in self.items_cols))

    def obs0(self) -> Observation:
        """The public view at ``t0`` (as :meth:`RunBase.observation_at_start` builds it)."""
        log = EventLog.from_arrays(*self.cols0)
        return Observation(self.items(), Accounts(*(np.array(a) for a in self.accounts_cols0)),
                           log, self.t0, n=len(log), eligibility_hours=self.eligibility_hours,
                           cache={k: v.copy() for k, v in self.cache0.items()},
                           reveal=np.concatenate([self.base.targets, self.base.rival_targets]))

    def obs1(self, cols=None, items=None, accounts=None) -> Observation:
        """A later view: history, organic window events and both campaigns up to ``now1``."""
        log = EventLog.from_arrays(*(self.cols1 if cols is None else cols))
        items = self.items() if items is None else items
        accounts = (Accounts(*(np.array(a) for a in self.accounts_cols1)) if accounts is None
                    else accounts)
        return Observation(items, accounts, log, self.now1, n=len(log),
                           eligibility_hours=self.eligibility_hours)

    def relabelled(self, pi: np.ndarray, pa: np.ndarray) -> Observation:
        """:meth:`obs1` with item ``i`` renamed ``pi[i]`` and account ``a`` renamed ``pa[a]``
        (public columns moved with them; the creator column renamed too)."""
        inv_i, inv_a = np.argsort(pi), np.argsort(pa)
        created, creator, topic, duration = self.items_cols
        items = Items(created[inv_i], pa[creator[inv_i]].astype(creator.dtype), topic[inv_i],
                      duration[inv_i])
        accounts = Accounts(*(a[inv_a] for a in self.accounts_cols1))
        t, acc, item, kind, value = self.cols1
        return self.obs1((t, pa[acc], pi[item], kind, value), items, accounts)

    # simulated runs (for the metrics and the reactive attacks) -------------------------------
    def clean_like_count(self) -> Trajectory:
        if self._clean is None:
            self._clean = closed_loop(self.base, LikeCount(), seed=self.seed)
        return self._clean

    def runs(self) -> dict:
        """Closed-loop runs: ``like_count`` and ``like_count+lockstep``, clean and with the
        bot-farm campaign; the defended clean twin carries its bare scorer's run in ``bare``."""
        if self._runs is None:
            clean = self.clean_like_count()
            att = closed_loop(self.base, LikeCount(), self.campaign, seed=self.seed)
            d_clean = closed_loop(self.base, build_ranker("like_count+lockstep"), seed=self.seed)
            d_att = closed_loop(self.base, build_ranker("like_count+lockstep"), self.campaign,
                                seed=self.seed)
            self._runs = {"like_count": (att, clean),
                          "like_count+lockstep": (d_att, replace(d_clean, bare=clean))}
        return self._runs


def _setup(world=None, seed: int = 0) -> _Setup:
    from . import _measure
    if world is None or isinstance(world, str):
        world = _measure.build_world("tiny" if world is None else world, 0)
    seed = int(seed)
    key = (id(world), seed)
    hit = _setups.get(key)
    if hit is not None and hit.world is world:
        _setups.move_to_end(key)
        return hit
    s = _setups[key] = _Setup(world, seed)   # holds the world: its id is not reused meanwhile
    while len(_setups) > _MAX_SETUPS:
        _setups.popitem(last=False)
    return s


# --- observations: snapshots ---------------------------------------------------------------

def _snapshot(obs: Observation) -> dict:
    """Copies of everything public an observation holds (columns, weights, cache)."""
    snap = {f"event column {n}": c.copy() for n, c in
            zip(("t", "account", "item", "kind", "value"), obs.events)}
    snap["weight"] = np.array(obs.weight)
    for f in fields(Items):
        snap[f"items.{f.name}"] = np.array(getattr(obs.items, f.name))
    for f in fields(Accounts):
        snap[f"accounts.{f.name}"] = np.array(getattr(obs.accounts, f.name))
    for k, v in obs._cache.items():
        snap[f"cached aggregate {k!r}"] = v.copy()
    return snap


def _mutated(before: dict, obs: Observation, reference: Observation) -> list[str]:
    """What changed in ``obs`` since ``before``; aggregates the call cached are compared with
    a fresh computation on ``reference`` (an untouched observation of the same data)."""
    now = _snapshot(obs)
    bad = [k for k, v in before.items() if not np.array_equal(v, now[k], equal_nan=True)]
    for k, v in obs._cache.items():
        if f"cached aggregate {k!r}" in before:
            continue
        ref = reference.viewed_before() if k == "viewed_before" else reference.aggregate(k)
        if not np.array_equal(v[: ref.size] if k == "viewed_before" else v, ref):
            bad.append(f"cached aggregate {k!r}")
    return bad


# --- rankers ---------------------------------------------------------------------------------

def _resolve(component, family: str, factory):
    """(instance, factory) of a component given as an instance or a registered name/spec.

    A registered factory (a class or a function) is called; a registered object that is a
    component already (it has a string ``name``; every metric) is used as is, with no
    factory (a fresh instance is then a deep copy).
    """
    if not isinstance(component, str):
        return component, factory
    spec = component
    if family == "rankers" and "+" in spec:
        factory = functools.partial(build_ranker, spec)
        return factory(), factory
    obj = _REGISTRIES[family].get(spec)
    if family == "metrics" or (not isinstance(obj, type)
                               and isinstance(getattr(obj, "name", None), str)):
        return obj, None
    try:
        made = obj()
    except Exception as e:
        raise InvalidParameter(f"Cannot make {_SINGULAR[family]} {spec!r}: calling its factory "
                               f"without arguments failed with {type(e).__name__}: {e}",
                               name=family) from e
    return made, obj


def _fresh(component, factory):
    """A new instance: ``factory()`` or a deep copy of the (not yet called) component."""
    return factory() if factory is not None else copy.deepcopy(component)


def _scores(ranker, obs) -> np.ndarray:
    return np.asarray(ranker(obs), dtype=np.float64)


def check_ranker(ranker, *, world=None, seed: int = 0, factory=None, exempt=None) -> dict:
    """Check a ranker against the ranker contract.

    Parameters
    ----------
    ranker : ranker or str
        An instance, or a registered name or spec (``"scorer+defence"``, ``"module:attr"``).
    world : World or str, optional
        A world or a :func:`~boostbench.testing.build_world` size; default
        ``build_world("tiny", 0)``.
    seed : int
        Seeds the run base, the campaigns and the relabelling.
    factory : callable, optional
        Makes a fresh instance (default: a deep copy of ``ranker`` taken before any call).
    exempt : dict, optional
        ``{property: reason}`` exemptions declared by the caller (for a component it cannot
        change), merged over the component's own ``conformance_exempt``; reported, never silent.

    Returns
    -------
    dict
        ``{property: "ok" | "exempt: <reason>"}`` over :data:`RANKER_CHECKS`.

    Raises
    ------
    AssertionError
        Naming the ranker and the broken property.
    """
    ranker, factory = _resolve(ranker, "rankers", factory)
    ctx = _Context("ranker", ranker, "check_ranker", RANKER_CHECKS, exempt)
    s = _setup(world, seed)
    try:
        spare = _fresh(ranker, factory)      # before any call: no state yet
    except Exception as e:
        spare = e

    def new_instance():
        if isinstance(spare, Exception):
            raise AssertionError(f"cannot make a fresh instance: deep-copying the ranker raised "
                                 f"{type(spare).__name__}: {spare} (pass factory=...)")
        return _fresh(spare, None) if factory is None else factory()

    def bound(r, fake):
        return with_oracle(r, fake, since=s.t0, quality=s.world.truth.quality)

    views = {"at t0": (s.obs0, np.zeros(s.n_organic, bool)), _LATER: (s.obs1, s.fake1)}
    first: dict = {}

    def output():
        _require(callable(ranker), "a ranker must be callable (Observation -> scores).")
        _require(isinstance(getattr(ranker, "name", None), str) and ranker.name,
                 "a ranker needs a non-empty string 'name'.")
        for label, (make, fake) in views.items():
            obs = make()
            before = _snapshot(obs)
            r = bound(ranker, fake)
            raw = r(obs)
            try:
                sc = np.asarray(raw, dtype=np.float64)
            except (TypeError, ValueError) as e:
                raise AssertionError(f"its scores on the observation {label} are not convertible "
                                     f"to float64 ({type(e).__name__}: {e})") from e
            _require(sc.shape == (obs.n_items,), f"the observation {label} has {obs.n_items} "
                     f"items; the scores have shape {sc.shape} instead of ({obs.n_items},).")
            bad = ~np.isfinite(sc[obs.eligible])
            _require(not bad.any(), f"{int(bad.sum())} of the {int(obs.eligible.sum())} eligible "
                     f"items get non-finite scores on the observation {label}.")
            first[label] = (obs, before, r, sc, fake, make)

    ctx.run("output", output)

    def no_mutation():
        for label, (obs, before, _, _, _, make) in first.items():
            bad = _mutated(before, obs, make())
            _require(not bad, f"scoring the observation {label} changed {', '.join(bad)}.")

    def deterministic():
        for label, (obs, _, r, sc, _, _) in first.items():
            again = _scores(r, obs)
            _require(np.array_equal(again, sc, equal_nan=True),
                     f"a second call on the same observation {label} gave other scores "
                     f"(max difference {_max_diff(again, sc):.3g}).")

    def fresh_instance():
        for label, (_, _, _, sc, fake, make) in first.items():
            other = _scores(bound(new_instance(), fake), make())
            _require(np.array_equal(other, sc, equal_nan=True),
                     f"a fresh instance scores the observation {label} differently (max "
                     f"difference {_max_diff(other, sc):.3g}).")

    def relabelling():
        obs, _, _, sc, fake, _ = first[_LATER]
        rng = np.random.default_rng(seed)
        pi, pa = rng.permutation(obs.n_items), rng.permutation(obs.n_accounts)
        robs = s.relabelled(pi, pa)
        rfake = np.zeros_like(fake)
        rfake[pa] = fake
        rs = _scores(bound(new_instance(), rfake), robs)
        _require(rs.shape == sc.shape, f"relabelled scores have shape {rs.shape}.")
        elig = obs.eligible
        a, b = rs[pi][elig], sc[elig]
        ok = np.isclose(a, b, rtol=_RTOL, atol=1e-12) | (np.isnan(a) & np.isnan(b))
        if not ok.all():
            i = np.flatnonzero(elig)[np.flatnonzero(~ok)[0]]
            raise AssertionError(
                f"scores do not follow a consistent relabelling of items and accounts: "
                f"{int((~ok).sum())} of {int(elig.sum())} eligible items differ (item {int(i)} "
                f"scores {sc[i]!r}, renamed {int(pi[i])} it scores {rs[pi[i]]!r}).")

    def pairs():
        obs, _, r, sc, _, _ = first[_LATER]
        if not hasattr(r, "score_pairs"):
            return
        rng = np.random.default_rng(seed)
        elig = np.flatnonzero(obs.eligible)
        n = 64
        account = rng.integers(0, obs.n_accounts, n)
        item = elig[rng.integers(0, elig.size, n)] if elig.size else rng.integers(0, obs.n_items, n)
        out = _score_pairs(r, obs, account, item)
        _require(out.shape == (n,) and np.isfinite(out).all(),
                 f"score_pairs must give {n} finite scores for {n} pairs.")
        again = _score_pairs(r, obs, account, item)
        _require(np.array_equal(out, again), "score_pairs gave other scores on a second call.")

    for prop, fn in (("no_mutation", no_mutation), ("deterministic", deterministic),
                     ("fresh_instance", fresh_instance), ("relabelling", relabelling),
                     ("score_pairs", pairs)):
        ctx.run(prop, fn)
    return ctx.done()


def _max_diff(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return math.inf
    d = np.abs(a - b)
    d = d[np.isfinite(d)]
    return float(d.max()) if d.size else math.inf


# --- defences --------------------------------------------------------------------------------

def _bind_oracle(defence, fake, since):
    if not getattr(defence, "oracle", False):
        return defence
    try:
        return defence.bind(fake, since=since)
    except TypeError:
        return defence.bind(fake)


def _base_weights(n: int) -> np.ndarray:
    """Observation weights below 1 on some events (a defence in front must keep them)."""
    return np.array([1.0, 0.5, 1.0, 0.25], np.float32)[np.arange(n) % 4]


def check_defence(defence, *, world=None, seed: int = 0, factory=None, exempt=None) -> dict:
    """Check a defence against the defence contract.

    Parameters
    ----------
    defence : defence or str
        An instance or a registered name.
    world : World or str, optional
        Default ``build_world("tiny", 0)``; campaigns are injected so detectors have something
        to catch and inline defences something to discount.
    seed : int
    factory : callable, optional
        Unused by the checks (accepted for symmetry with :func:`check_ranker`).
    exempt : dict, optional
        ``{property: reason}`` exemptions declared by the caller (for a component it cannot
        change), merged over the component's own ``conformance_exempt``; reported, never silent.

    Returns
    -------
    dict
        ``{property: "ok" | "exempt: <reason>"}`` over :data:`DEFENCE_CHECKS` (inline defences
        skip ``detect``, batch ones ``weights`` and ``causal``).

    Raises
    ------
    AssertionError
    """
    defence, _ = _resolve(defence, "defences", factory)
    ctx = _Context("defence", defence, "check_defence", DEFENCE_CHECKS, exempt)
    s = _setup(world, seed)
    kind = getattr(getattr(defence, "schedule", None), "kind", None)

    def contract():
        _require(isinstance(getattr(defence, "name", None), str) and defence.name,
                 "a defence needs a non-empty string 'name'.")
        _require(kind in ("inline", "batch"),
                 f"schedule.kind must be 'inline' or 'batch'. Got {kind!r}.")
        action = getattr(defence, "action", None)
        _require(action in ACTIONS, f"action must be one of {ACTIONS}. Got {action!r}.")
        if kind == "inline":
            _require(action == "discount", f"an inline defence discounts events (action "
                     f"'discount'). Got {action!r}.")
            _require(callable(getattr(defence, "weights", None)),
                     "an inline defence needs weights(obs, start, state).")
        else:
            _require(action in ("ban", "penalise"), f"a batch defence bans accounts or "
                     f"penalises items (action 'ban' or 'penalise'). Got {action!r}.")
            _require(callable(getattr(defence, "detect", None)),
                     "a batch defence needs detect(obs).")

    ctx.run("contract", contract)
    d = _bind_oracle(defence, s.fake1, s.t0)
    if kind == "inline":
        full = {}

        def weights():
            obs = s.obs1()
            w = np.asarray(d.weights(obs, 0, {}))
            _require(w.dtype.kind in "biuf", f"weights must be real numbers (float32). Got "
                     f"dtype {w.dtype}.")
            w32 = w.astype(np.float32)
            _require(w32.shape == (obs.n_events,), f"weights(obs, 0, state) must give one "
                     f"multiplier per event, shape ({obs.n_events},). Got {w32.shape}.")
            _require(np.isfinite(w32).all(), "weights must be finite.")
            out = (w32 < 0) | (w32 > 1)
            _require(not out.any(), f"weights must lie in [0, 1]: {int(out.sum())} do not "
                     f"(min {w32.min():g}, max {w32.max():g}).")
            full["w"] = w32

        ctx.run("weights", weights)

        def deterministic():
            again = np.asarray(d.weights(s.obs1(), 0, {}), np.float32)
            _require(np.array_equal(again, full["w"]),
                     "a second call with a fresh state gave other weights.")

        def causal():
            obs = s.obs1()
            t = obs.events[0]
            cuts = [s.t0, s.t0 + HOUR, s.t0 + 2 * HOUR, s.t0 + 4 * HOUR, obs.now]
            state, parts, start = {}, [], 0
            for now in cuts:
                sub = obs.prefix(now)
                w = np.asarray(d.weights(sub, start, state), np.float32)
                _require(w.shape == (sub.n_events - start,),
                         f"weights(obs, start={start}, state) on a prefix of {sub.n_events} "
                         f"events must give {sub.n_events - start} multipliers. Got {w.shape}.")
                parts.append(w)
                start = sub.n_events
            inc = np.concatenate(parts)
            diff = np.flatnonzero(inc != full["w"])
            if diff.size:
                j = diff[0]
                raise AssertionError(
                    f"multipliers computed incrementally (growing prefixes, one state carried "
                    f"along) differ from one call on the whole stream at {diff.size} events, the "
                    f"first at t={float(t[j]):.0f} (incremental {inc[j]:g}, one call "
                    f"{full['w'][j]:g}): the weights read later events (not causal).")

        ctx.run("deterministic", deterministic)
        ctx.run("causal", causal)

        def pipeline():
            obs = s.obs1()
            base_w = _base_weights(obs.n_events)
            o = obs.with_weights(base_w)
            p = Pipeline(d, LikeCount())
            for now in (s.t0, s.t0 + 2 * HOUR, o.now):
                k = o.prefix(now).n_events
                p(Observation(o.items, o.accounts, o.stream, o.now, n=k, weight=base_w[:k],
                              eligibility_hours=o.eligibility_hours))
            _pipeline_props(p, o)

        ctx.run("pipeline", pipeline)
    else:
        def detect():
            lag = getattr(d.schedule, "lag_hours", 0.0) * HOUR
            out = None
            for _ in range(2):
                obs = s.obs1().prefix(s.now1 - lag)
                det = d.detect(obs)
                for attr, n in (("accounts", obs.n_accounts), ("items", obs.n_items)):
                    _require(hasattr(det, attr), f"detect must return a Detection (with "
                             f"'accounts' and 'items'). Got {type(det).__name__}.")
                    ids = np.asarray(getattr(det, attr))
                    _require(ids.ndim == 1, f"Detection.{attr} must be 1-d. Got shape "
                             f"{ids.shape}.")
                    if ids.size:
                        _require(ids.dtype.kind in "iu", f"Detection.{attr} must hold integer "
                                 f"ids. Got dtype {ids.dtype}.")
                        _require(ids.min() >= 0 and ids.max() < n, f"Detection.{attr} must "
                                 f"hold ids in [0, {n}). Got [{ids.min()}, {ids.max()}].")
                if out is not None:
                    for attr in ("accounts", "items"):
                        _require(np.array_equal(np.asarray(getattr(det, attr)),
                                                np.asarray(getattr(out, attr))),
                                 f"a second detect on the same prefix flagged other {attr}.")
                out = det

        ctx.run("detect", detect)

        def pipeline():
            traj = replay(s.base, Pipeline(defence, LikeCount()), s.campaign, seed=s.seed)
            rec = traj.defence
            _require(rec is not None, "a replay behind the defence recorded no DefenceRecord.")
            _require(((rec.weight >= 0) & (rec.weight <= 1)).all(),
                     "the replay's final event weights leave [0, 1].")
            o = s.obs1().with_weights(_base_weights(len(s.cols1[0])))
            p = Pipeline(d, LikeCount())
            _pipeline_props(p, o)

        ctx.run("pipeline", pipeline)
    return ctx.done()


def _pipeline_props(p: Pipeline, o: Observation) -> None:
    """Behind ``p``: no weight above the observation's own, finite scores on eligible items."""
    audit = p.audit(o)
    _require(audit.weight.shape == (o.n_events,), "the pipeline's audit has the wrong length.")
    up = audit.weight > o.weight
    _require(not up.any(), f"behind the defence {int(up.sum())} event weights rose above the "
             f"observation's own (defences never raise a weight).")
    sc = _scores(p, o)
    _require(sc.shape == (o.n_items,) and np.isfinite(sc[o.eligible]).all(),
             "the pipeline's scores are not finite on every eligible item.")


# --- attacks ---------------------------------------------------------------------------------

def _rows(c: Campaign) -> np.ndarray:
    """(t, account, item, kind) rows of a campaign's events, float64, one per event."""
    return np.stack([np.asarray(c.t, np.float64), np.asarray(c.account, np.float64),
                     np.asarray(c.item, np.float64), np.asarray(c.kind, np.float64)], axis=1)


def _is_subset(small: np.ndarray, large: np.ndarray) -> bool:
    if not small.size:
        return True
    both = np.unique(np.concatenate([large, small]), axis=0)
    return both.shape[0] == np.unique(large, axis=0).shape[0]


_CAMPAIGN_ARRAYS = ("targets", "new_created_at", "new_device", "new_topic", "new_origin",
                    "recruited", "t", "account", "item", "kind", "value")


def _same_campaign(a: Campaign, b: Campaign) -> list[str]:
    bad = [f for f in _CAMPAIGN_ARRAYS
           if not np.array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f)))]
    if a.spend != b.spend:
        bad.append("spend")
    return bad


def check_attack(attack, *, world=None, seed: int = 0, factory=None, exempt=None) -> dict:
    """Check an attack against the attack contract.

    Bought at :data:`BUDGETS` against the world's targets over its attack window,
    seeing only the public observation at the window's start.

    Parameters
    ----------
    attack : attack or str
        An instance or a registered name.
    world : World or str, optional
        Default ``build_world("tiny", 0)``.
    seed : int
        Seeds the attack's rng (the same seed for every budget: nested campaigns).
    factory : callable, optional
        Unused (accepted for symmetry with :func:`check_ranker`).
    exempt : dict, optional
        ``{property: reason}`` exemptions declared by the caller (for a component it cannot
        change), merged over the component's own ``conformance_exempt``; reported, never silent.

    Returns
    -------
    dict
        ``{property: "ok" | "exempt: <reason>"}`` over :data:`ATTACK_CHECKS`.

    Raises
    ------
    AssertionError
    """
    attack, _ = _resolve(attack, "attacks", factory)
    ctx = _Context("attack", attack, "check_attack", ATTACK_CHECKS, exempt)
    s = _setup(world, seed)
    goal = getattr(attack, "goal", "promote")
    targets = s.base.targets_for(goal) if goal in GOALS else s.base.targets
    first_t = float(s.cols0[0][0]) if s.cols0[0].size else s.window[0]
    n_obs = s.n_organic
    bought: dict = {}

    def buy(budget):
        obs = s.obs0()
        before = _snapshot(obs)
        c = attack(obs, targets, budget, s.window, np.random.default_rng(seed), CostModel())
        return c, obs, before

    def contract():
        _require(isinstance(getattr(attack, "name", None), str) and attack.name,
                 "an attack needs a non-empty string 'name'.")
        _require(goal in GOALS, f"goal must be one of {GOALS}. Got {goal!r}.")
        _require(callable(attack), "an attack must be callable.")
        for b in BUDGETS:
            try:
                c, obs, before = buy(b)
            except InvalidParameter as e:
                if e.name != "budget":   # Campaign refuses a spend above its budget
                    raise AssertionError(f"buying at ${b:g} with the public observation only "
                                         f"raised InvalidParameter: {e}") from e
                raise _Failure(ctx.message("budget", f"buying at ${b:g} overspent: {e}")) from e
            except Exception as e:
                raise AssertionError(f"buying at ${b:g} with the public observation only raised "
                                     f"{type(e).__name__}: {e}") from e
            _require(isinstance(c, Campaign), f"an attack returns a Campaign. Got "
                     f"{type(c).__name__} at ${b:g}.")
            cols = [np.asarray(getattr(c, f)) for f in ("t", "account", "item", "kind", "value")]
            _require(len({x.shape for x in cols}) == 1 and cols[0].ndim == 1,
                     f"the campaign's event columns differ in shape at ${b:g}.")
            bought[b] = (c, obs, before)

    ctx.run("contract", contract)

    def no_mutation():
        for b, (_, obs, before) in bought.items():
            bad = _mutated(before, obs, s.obs0())
            _require(not bad, f"buying at ${b:g} changed the observation's {', '.join(bad)}.")

    def zero_budget():
        c = bought[0.0][0]
        _require(c.n_events == 0, f"a zero budget bought {c.n_events} events.")
        _require(c.n_new_accounts == 0, f"a zero budget created {c.n_new_accounts} accounts.")
        _require(len(c.recruited) == 0, f"a zero budget recruited {len(c.recruited)} accounts.")
        _require(c.spend_total == 0.0, f"a zero budget spent ${c.spend_total:g}.")

    def budget():
        for b, (c, _, _) in bought.items():
            vals = np.array(list(c.spend.values()), np.float64)
            _require(np.isfinite(vals).all() and (vals >= 0).all(),
                     f"spend items must be finite and >= 0 at ${b:g}. Got {c.spend}.")
            _require(c.spend_total <= b * (1 + 1e-12) + 1e-12,
                     f"spent ${c.spend_total:g} of a ${b:g} budget (overspent).")
            _require(float(c.budget) == float(b), f"the campaign records budget {c.budget!r}, "
                     f"not the ${b:g} it was given.")

    def monotone_spend():
        spend = [bought[b][0].spend_total for b in BUDGETS]
        _require(all(y >= x - 1e-12 for x, y in zip(spend, spend[1:])),
                 f"spend must not decrease with the budget: budgets {list(BUDGETS)} spent "
                 f"{spend}.")

    def nested():
        if not (isinstance(attack, Recipe) or hasattr(attack, "plan")):
            return
        for small, large in zip(BUDGETS, BUDGETS[1:]):
            a, b = bought[small][0], bought[large][0]
            _require(_is_subset(_rows(a), _rows(b)),
                     f"with the same seed the ${small:g} campaign's events are not all among the "
                     f"${large:g} campaign's (budgets must buy nested plans).")

    def deterministic():
        b = BUDGETS[-1]
        again = buy(b)[0]
        bad = _same_campaign(bought[b][0], again)
        _require(not bad, f"the same seed bought another campaign at ${b:g} (differs in "
                 f"{', '.join(bad)}).")

    def ids():
        for b, (c, obs, _) in bought.items():
            n_acc = n_obs + c.n_new_accounts
            new = [np.asarray(getattr(c, f)) for f in ("new_created_at", "new_device",
                                                        "new_topic", "new_origin")]
            _require(len({x.size for x in new}) == 1, f"the new-account columns differ in "
                     f"length at ${b:g}.")
            acc, item, kind = (np.asarray(getattr(c, f)) for f in ("account", "item", "kind"))
            rec = np.asarray(c.recruited)
            if acc.size:
                _require(acc.min() >= 0 and acc.max() < n_acc, f"event accounts must be in "
                         f"[0, {n_acc}) (observed accounts, then the {c.n_new_accounts} new "
                         f"ones) at ${b:g}. Got [{acc.min()}, {acc.max()}].")
                _require(item.min() >= 0 and item.max() < obs.n_items, f"event items must be in "
                         f"[0, {obs.n_items}) at ${b:g}. Got [{item.min()}, {item.max()}].")
                _require(kind.min() >= 0 and kind.max() < N_KINDS,
                         f"event kinds must be EventKind values at ${b:g}.")
                _require(np.isfinite(np.asarray(c.value, np.float64)).all(),
                         f"event values must be finite at ${b:g}.")
            if rec.size:
                _require(rec.min() >= 0 and rec.max() < n_obs, f"recruited accounts must be "
                         f"observed ones, in [0, {n_obs}), at ${b:g}.")

    def times():
        start, end = s.window
        for b, (c, _, _) in bought.items():
            t = np.asarray(c.t, np.float64)
            if not t.size:
                continue
            _require(np.isfinite(t).all(), f"event times must be finite at ${b:g}.")
            late = t >= end
            _require(not late.any(), f"{int(late.sum())} of {t.size} events at ${b:g} are at or "
                     f"after the window's end (up to {(t.max() - end) / HOUR:.2f} h after).")
            early = t < first_t
            _require(not early.any(), f"{int(early.sum())} events at ${b:g} are before the "
                     f"visible history starts ({(first_t - t.min()) / HOUR:.2f} h before).")

    def closed():
        reactive = getattr(attack, "closed_loop_only", False) or any(
            c.policy is not None for c, _, _ in bought.values())
        if not reactive:
            return
        clean = s.clean_like_count()
        for b, (c, _, _) in bought.items():
            traj = closed_loop(s.base, LikeCount(), c, seed=s.seed)
            _require(traj.spend <= b * (1 + 1e-12) + 1e-12, f"the closed loop spent "
                     f"${traj.spend:g} of a ${b:g} budget (the policy overspent).")
            if b == 0.0:
                same = all(np.array_equal(getattr(traj, f), getattr(clean, f), equal_nan=True)
                           for f in ("ranks", "exposure", "engagement"))
                _require(same, "with a zero budget the closed loop differs from the clean run.")

    for prop, fn in (("no_mutation", no_mutation), ("zero_budget", zero_budget),
                     ("budget", budget), ("monotone_spend", monotone_spend), ("nested", nested),
                     ("deterministic", deterministic), ("ids", ids), ("times", times),
                     ("closed_loop", closed)):
        ctx.run(prop, fn)
    return ctx.done()


# --- metrics ---------------------------------------------------------------------------------

def _hand_pairs():
    """Hand-built (attacked, clean, truth) pairs: a clean pair and an attacked one."""
    n = 6
    quality = np.array([0.1, 0.9, 0.8, 0.05, 0.5, 0.3], np.float32)
    truth = Truth(quality, quality.copy(), quality.astype(np.float64), np.array([3.0, 1.0, 2.0]),
                  np.zeros(3, np.int8), np.zeros(3, np.int32))
    f32 = lambda x: np.asarray(x, np.float32)  # noqa: E731
    common = dict(round_times=np.array([3600.0, 7200.0]), targets=np.array([0, 3]), eval_round=0,
                  k=2, low_quality_quantile=0.2, mode="closed")
    clean = Trajectory("hand", None, 0, 0.0,
                       f32([[5, 1, 2, 6, 3, np.nan], [5, 1, 2, 6, 3, 4]]),
                       f32([[1, 5, 3, 0, 2, 0], [0, 6, 2, 1, 1, 1]]),
                       f32([[0, 1, 1, 0, 0, 0], [0, 2, 0, 0, 1, 0]]), **common)
    att = Trajectory("hand", "hand_attack", 0, 1.0,
                     f32([[1, 3, 4, 2, 5, np.nan], [2, 1, 3, 4, 5, 6]]),
                     f32([[4, 3, 2, 3, 1, 0], [3, 4, 2, 1, 1, 1]]),
                     f32([[1, 0, 1, 1, 0, 0], [2, 1, 0, 0, 1, 0]]), **common,
                     spend=0.75, spend_items={"like_bot": 0.75}, fake_actions=8,
                     campaign_items=np.array([0, 3, 4]), new_rows=np.array([4, 5]))
    return {"a hand-built clean pair": (clean, clean, truth),
            "a hand-built attacked pair": (att, clean, truth)}


def _metric_pairs(s: _Setup) -> dict:
    pairs = dict(_hand_pairs())
    truth = s.world.truth
    for spec, (att, clean) in s.runs().items():
        pairs[f"the clean twin of {spec} (attacked == clean)"] = (clean, clean, truth)
        pairs[f"a bot-farm run of {spec}"] = (att, clean, truth)
    return pairs


def _arrays_of(obj, prefix: str, out: dict, depth: int = 0) -> dict:
    """Copies of every array reachable through dataclass fields (trajectories, records, truth)."""
    if depth > 3 or obj is None:
        return out
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray):
            out[f"{prefix}.{f.name}"] = v.copy()
        elif is_dataclass(v) and not isinstance(v, type):
            _arrays_of(v, f"{prefix}.{f.name}", out, depth + 1)
    return out


def check_metric(metric, *, world=None, seed: int = 0, exempt=None) -> dict:
    """Check a registered :class:`~boostbench.metrics.Metric` against the metric contract.

    Parameters
    ----------
    metric : Metric or str
        A metric or a registered name.
    world : World or str, optional
        Default ``build_world("tiny", 0)`` (closed-loop runs of ``like_count`` and
        ``like_count+lockstep``, clean and with a bot-farm campaign).
    seed : int
    exempt : dict, optional
        ``{property: reason}`` exemptions declared by the caller (for a component it cannot
        change), merged over the component's own ``conformance_exempt``; reported, never silent.

    Returns
    -------
    dict
        ``{property: "ok" | "exempt: <reason>"}`` over :data:`METRIC_CHECKS`.

    Raises
    ------
    AssertionError
    """
    metric, _ = _resolve(metric, "metrics", None)
    ctx = _Context("metric", metric, "check_metric", METRIC_CHECKS, exempt)

    def contract():
        _require(isinstance(getattr(metric, "name", None), str) and metric.name,
                 "a metric needs a non-empty string 'name'.")
        g = getattr(metric, "greater_is_better", None)
        _require(isinstance(g, bool), f"greater_is_better must be a bool. Got {g!r} "
                 f"({type(g).__name__}).")
        d = getattr(metric, "definition", None)
        _require(isinstance(d, str) and d.strip(), f"definition must be a non-empty string. "
                 f"Got {d!r}.")
        nw = getattr(metric, "nan_when", None)
        _require(nw is None or (isinstance(nw, str) and nw.strip()), f"nan_when must be None "
                 f"or a non-empty string stating when the metric is NaN. Got {nw!r}.")
        tables = getattr(metric, "tables", ())
        _require(set(tables) <= set(TABLES), f"tables must be among {TABLES}. Got {tables!r}.")
        _require(callable(metric), "a metric must be callable (attacked, clean, truth).")

    ctx.run("contract", contract)
    s = _setup(world, seed)
    pairs = {label: copy.deepcopy(p) for label, p in _metric_pairs(s).items()}
    values: dict = {}

    def pure():
        for label, (att, clean, truth) in pairs.items():
            before = {}
            for what, obj in (("attacked", att), ("clean", clean), ("truth", truth)):
                _arrays_of(obj, what, before)
            v1 = float(metric(att, clean, truth))
            v2 = float(metric(att, clean, truth))
            _require(v1 == v2 or (math.isnan(v1) and math.isnan(v2)),
                     f"two calls on {label} gave {v1!r} and {v2!r}.")
            now = {}
            for what, obj in (("attacked", att), ("clean", clean), ("truth", truth)):
                _arrays_of(obj, what, now)
            bad = [k for k, v in before.items() if not np.array_equal(v, now[k], equal_nan=True)]
            _require(not bad, f"calling it on {label} modified {', '.join(bad)}.")
            values[label] = v1

    def nan_policy():
        if getattr(metric, "nan_when", None):
            return
        for label, (att, clean, truth) in pairs.items():
            v = values[label] if label in values else float(metric(att, clean, truth))
            _require(math.isfinite(v), f"it is {v!r} on {label}, but declares no nan_when "
                     f"(a metric that can be NaN states when, in nan_when).")

    ctx.run("pure", pure)
    ctx.run("nan_policy", nan_policy)
    return ctx.done()


# --- the suite -------------------------------------------------------------------------------

#: The check of each family.
CHECKS = {"rankers": check_ranker, "defences": check_defence, "attacks": check_attack,
          "metrics": check_metric}


class Unavailable:
    """Stands for a component that could not be built (a broken plug-in); its check fails."""

    def __init__(self, family: str, name: str, error: str):
        self.family, self.name, self.error = family, name, error

    def __repr__(self) -> str:
        return f"Unavailable({_SINGULAR[self.family]} {self.name!r})"


def _unavailable_check(family: str):
    """The family's check for a component that could not be built: it fails, saying why."""
    def check(component, **_) -> dict:
        raise AssertionError(f"{_SINGULAR[family]} {component.name!r} cannot be built, so no "
                             f"conformance check can run: {component.error}")
    check.__name__ = check.__qualname__ = CHECKS[family].__name__
    return check


def _cases(selection: dict):
    """``(family, name, component, check)`` for every selected component."""
    for family in FAMILIES:
        if family not in selection:
            continue
        chosen = selection[family]
        reg = _REGISTRIES[family]
        check = CHECKS[family]
        entries = reg.names() if chosen is None else list(chosen)
        for entry in entries:
            if not isinstance(entry, str):
                yield family, _name_of(entry), entry, check
                continue
            try:
                component, factory = _resolve(entry, family, None)
            except Exception as e:
                msg = str(e) if isinstance(e, InvalidParameter) else f"{type(e).__name__}: {e}"
                yield family, entry, Unavailable(family, entry, msg), _unavailable_check(family)
                continue
            bound = check if factory is None or family == "metrics" else \
                functools.update_wrapper(functools.partial(check, factory=factory), check)
            yield family, entry, component, bound


def _selection(rankers, defences, attacks, metrics, families) -> dict:
    given = {"rankers": rankers, "defences": defences, "attacks": attacks, "metrics": metrics}
    explicit = {f: v for f, v in given.items() if v is not None}
    if explicit:
        for f, v in explicit.items():
            if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                raise InvalidParameter(f"The {f!r} parameter must be a list of names or "
                                       f"instances. Got {v!r} instead.", name=f)
        return {f: list(v) for f, v in explicit.items()}
    families = tuple(families)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise InvalidParameter(f"Unknown families {unknown}; one of {FAMILIES}.", name="families")
    return {f: None for f in families}


def _case_id(family: str, name: str, check) -> str:
    return f"{_SINGULAR[family]}:{name}-{getattr(check, '__name__', 'check')}"


def all_checks(families=FAMILIES, *, rankers=None, defences=None, attacks=None, metrics=None):
    """Every conformance check of the registered components, as ``(component, check, run)``.

    Parameters
    ----------
    families : sequence of str
        Which of :data:`FAMILIES` to cover (every registered component of each); ignored
        when a component list is given.
    rankers, defences, attacks, metrics : list, optional
        Names (or specs) and/or instances to check instead of the registries' contents.

    Yields
    ------
    (str, str, callable)
        The component's id (``"ranker:like_count"``), the check's name
        (``"check_ranker"``) and a callable with no arguments that runs it (raising
        AssertionError on failure, returning the report). A broken plug-in yields a
        check that fails with its loading error.
    """
    for family, name, component, check in _cases(
            _selection(rankers, defences, attacks, metrics, families)):
        yield (f"{_SINGULAR[family]}:{name}", getattr(check, "__name__", "check"),
               functools.partial(check, component))


def parametrize_with_checks(rankers=None, defences=None, attacks=None, metrics=None, *,
                            families=FAMILIES, expected_failures=None):
    """A pytest decorator parametrising a test with ``(component, check)`` pairs.

    Parameters
    ----------
    rankers, defences, attacks, metrics : list, optional
        Names (registered names, ranker specs such as ``"like_count+lockstep"``,
        ``"module:attr"``) and/or instances. When none is given, every registered
        component of ``families`` (built-ins and installed plug-ins; a broken
        plug-in becomes a failing case).
    families : sequence of str
        Used when no component list is given.
    expected_failures : dict, optional
        ``{case id: reason}``: known failures, marked ``xfail(strict=True)`` (the case
        must keep failing with an AssertionError). An id that matches no case raises.

    Returns
    -------
    decorator
        ``pytest.mark.parametrize("component, check", ...)`` with ids like
        ``"ranker:like_count-check_ranker"``.

    Examples
    --------
    >>> @parametrize_with_checks(rankers=["like_count"])
    ... def test_conformance(component, check):
    ...     check(component)
    """
    import pytest
    expected = dict(expected_failures or {})
    params = []
    for family, name, component, check in _cases(
            _selection(rankers, defences, attacks, metrics, families)):
        case = _case_id(family, name, check)
        marks = ()
        if case in expected:
            marks = pytest.mark.xfail(strict=True, raises=AssertionError,
                                      reason=expected.pop(case))
        params.append(pytest.param(component, check, id=case, marks=marks))
    if expected:
        raise InvalidParameter(f"expected_failures names cases that do not exist: "
                               f"{sorted(expected)}.", name="expected_failures")
    return pytest.mark.parametrize("component, check", params)
