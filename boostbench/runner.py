"""Ranker x attack x seed matrices, each attacked run paired with its clean twin."""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, fields, is_dataclass, replace
from functools import partial

import numpy as np

from ._core.params import (BUDGET, SEED, InstanceOf, Interval, Options, Satisfies, SequenceOf,
                           declare)
from .attacks.base import CostModel
from .attacks.query import QUERY_BUDGET
from .errors import InvalidParameter, plugin_call
from ._core.units import HOUR
from .feed import FeedConfig
from .metrics.base import available
from .metrics.feed import feed_quality_per_round
from .metrics.rise import target_ranks
from .plugins import ATTACKS, METRICS
from .executors import map_seeds, mapper, seed_parts
from .progress import bar
from .recorded import RecordedLog, check_needs, recorded_world
from .scenario import Scenario, get_scenario
from .simulate import MODES, simulate
from . import world_store
from .world import make_world

__all__ = ["RunSpec", "build_spec", "JOBS", "BUDGETS", "run_seed", "run_matrix", "seed_streams",
           "sweep_seed", "run_sweep", "adaptive_search", "run_cost", "clean_twins",
           "describe_ranker", "measure", "seed_setup"]


def seed_streams(seed: int):
    """Independent streams of one run: world, organic window. Attacks get their own (see below)."""
    world_ss, organic_ss = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(world_ss), np.random.default_rng(organic_ss)


def attack_stream(seed: int, attack_name: str) -> np.random.Generator:
    """The attack's stream depends on (seed, attack name) only, so adding an attack shifts nothing."""
    return np.random.default_rng(np.random.SeedSequence([seed, 1, zlib.crc32(attack_name.encode())]))


def describe(obj) -> dict:
    """Name and parameters of a ranker or attack, for the manifest."""
    d = {"name": getattr(obj, "name", type(obj).__name__), "class": type(obj).__qualname__}
    if hasattr(obj, "defences") and hasattr(obj, "scorer"):  # a Pipeline
        d["scorer"] = describe(obj.scorer)
        d["defences"] = [dict(describe(x), schedule=asdict(x.schedule), action=x.action)
                         for x in obj.defences]
        return d
    if is_dataclass(obj):
        d["params"] = {f.name: (asdict(v) if is_dataclass(v) else v if _plain(v) else repr(v))
                       for f in fields(obj) if f.name != "name" for v in [getattr(obj, f.name)]}
    return d


def _plain(v) -> bool:
    """JSON-ready as it is (a number, string, None or a container of them); anything else, a
    model object say, goes into the manifest as its repr."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(x) for k, x in v.items())
    return False


def _is_ranker(x) -> bool:
    return callable(x) and isinstance(getattr(x, "name", None), str)


def _is_attack(x) -> bool:
    return callable(x) and isinstance(getattr(x, "name", None), str)


#: Parallel processes a matrix may use.
JOBS = Interval(int, 1, 64)
#: A budget grid: distinct budgets in USD, increasing.
BUDGETS = SequenceOf(BUDGET, min_len=1, distinct=True, increasing=True)


@dataclass(frozen=True)
@declare(scenario=InstanceOf(Scenario),
         rankers=SequenceOf(Satisfies(_is_ranker, "a ranker (a callable with a str name)"),
                            min_len=1),
         attacks=SequenceOf(Satisfies(_is_attack, "an attack (a callable with a str name)"),
                            min_len=1),
         seeds=SequenceOf(SEED, min_len=1, distinct=True), budget=BUDGET,
         cost=InstanceOf(CostModel), mode=Options(*MODES), feed=InstanceOf(FeedConfig),
         log=Satisfies(lambda x: x is None or isinstance(x, RecordedLog),
                       "None or a RecordedLog"))
class RunSpec:
    """One matrix: every ranker against every attack on every seed of a scenario; ``log``:
    a recorded log as every seed's world (:mod:`boostbench.recorded`; replay only)."""

    scenario: Scenario
    rankers: tuple
    attacks: tuple
    seeds: tuple
    budget: float
    cost: CostModel = CostModel()
    mode: str = "closed"
    feed: FeedConfig = FeedConfig()
    log: RecordedLog | None = None

    def __post_init__(self):
        if self.log is not None:
            if self.mode != "replay":
                raise InvalidParameter("A recorded log runs in replay (mode='replay'): the "
                                       "closed loop needs a behaviour model fitted to known "
                                       "item quality, which a log does not have.", name="mode")
            check_needs(self.log, self.rankers, self.attacks)


def build_spec(*, scenario="default", rankers, attacks, seeds, budget=None, k=None, size=None,
               mode: str = "closed", cost: CostModel = CostModel(), world=None) -> RunSpec:
    """A :class:`RunSpec` from names: the scenario (a name or a Scenario), ranker specs
    (``name``, ``module:attr`` or ``scorer+defence+...``), attack names, seeds, and
    overrides of the scenario's budget, k, size and world settings (``(name, value)``
    pairs, :func:`boostbench.world.world_overrides`).

    Raises
    ------
    InvalidParameter
        An unknown name, a value out of range, or an attack that reacts to the feed
        asked for in replay mode.
    """
    from .rankers.pipeline import build_ranker
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    mode = Options(*MODES).check("mode", mode, "build_spec")
    changes = {name: value for name, value in (("budget", budget), ("k", k), ("size", size),
                                               ("world", world)) if value is not None}
    sc = sc.with_(**changes) if changes else sc
    made = [ATTACKS.create(a) for a in attacks]
    loop_only = [a.name for a in made if getattr(a, "closed_loop_only", False)]
    if loop_only and mode == "replay":
        raise InvalidParameter(f"{', '.join(loop_only)} react to the feed and need mode "
                               "'closed'.", name="attacks")
    return RunSpec(sc, tuple(build_ranker(r) for r in rankers), tuple(made), tuple(seeds),
                   sc.budget, cost, mode)


def _trace_rows(att, clean, truth) -> list[dict]:
    """Per-round rows for --trace: targets' rank, exposure and engagement, feed quality (when
    the truth knows quality), both twins."""
    known = "quality" not in getattr(truth, "unknown", frozenset())
    if known:
        fq_a, fq_c = feed_quality_per_round(att, truth), feed_quality_per_round(clean, truth)
    rows = []
    for r in range(att.n_rounds):
        rows.append({
            "ranker": att.ranker, "attack": att.attack, "seed": att.seed, "round": r,
            "hours": (att.round_times[r] - att.round_times[0]) / HOUR + 1.0,
            "in_attack_window": r <= att.eval_round,
            "target_rank": float(np.mean(target_ranks(att, r))),
            "clean_target_rank": float(np.mean(target_ranks(clean, r, att.targets))),
            "target_impressions": float(att.exposure[r, att.targets].sum()),
            "clean_target_impressions": float(clean.exposure[r, att.targets].sum()),
            "target_engagement": float(att.engagement[r, att.targets].sum()),
            "clean_target_engagement": float(clean.engagement[r, att.targets].sum()),
            **({"feed_quality": float(fq_a[r]), "clean_feed_quality": float(fq_c[r])}
               if known else {})})
    return rows


def _seed_setup(spec: RunSpec, seed: int, world_scenario: Scenario | None = None):
    """:func:`seed_setup` of a spec's scenario, mode, cost model and feed."""
    return seed_setup(spec.scenario, seed, mode=spec.mode, cost=spec.cost, feed=spec.feed,
                      log=spec.log, world_scenario=world_scenario)


#: Bytes of drawn worlds a process keeps for reuse (:func:`drawn_world`).
WORLD_CACHE_BYTES = 64 * 2**20
_WORLDS: "OrderedDict[tuple, object]" = OrderedDict()
_WORLDS_LOCK = threading.Lock()         # Dask workers run tasks in threads


def _world_bytes(world) -> int:
    """The bytes of a world's arrays (its history log, items, accounts and truth)."""
    parts = (world.items, world.accounts, world.truth)
    return sum(c.nbytes for c in world.history.columns()) + sum(
        getattr(p, f.name).nbytes for p in parts for f in fields(p)
        if isinstance(getattr(p, f.name), np.ndarray))


def drawn_world(config, seed: int):
    """``make_world(config, seed_streams(seed)[0])``, kept for the process's later calls:
    the least recently used worlds are let go past :data:`WORLD_CACHE_BYTES` (a
    ``default``-size world is ~50 MB, a ``tiny`` one ~2 MB). Worlds are read-only (arrays
    and history log frozen), and a world is a function of its config and seed, so a kept
    one is the one drawing gives. Thread-safe (two threads asking for one new world may
    both draw it; one is kept). With ``BOOSTBENCH_WORLD_CACHE`` set, worlds are also kept on
    disk for later processes (:mod:`boostbench.world_store`)."""
    key = (config, int(seed))
    with _WORLDS_LOCK:
        world = _WORLDS.get(key)
    if world is None:
        world = world_store.load(config, seed)
    if world is None:
        world = make_world(config, seed_streams(seed)[0])
        world_store.save(config, seed, world)
    with _WORLDS_LOCK:
        world = _WORLDS.pop(key, world)
        _WORLDS[key] = world
        total = sum(_world_bytes(w) for w in _WORLDS.values())
        while len(_WORLDS) > 1 and total > WORLD_CACHE_BYTES:
            total -= _world_bytes(_WORLDS.popitem(last=False)[1])
        if total > WORLD_CACHE_BYTES:
            _WORLDS.clear()
    return world


def seed_setup(sc: Scenario, seed: int, *, mode: str = "closed", cost: CostModel = CostModel(),
               feed: FeedConfig = FeedConfig(), log=None, world_scenario: Scenario | None = None):
    """World, shared run base, a ``buy(attack, budget)`` for fixed campaigns, simulate kwargs:
    everything one seed of a scenario shares across rankers and attacks. ``log``: a
    :class:`~boostbench.recorded.RecordedLog` is the world instead of a drawn one (the seed
    then moves the campaigns only). ``world_scenario``: draw the world of this scenario
    instead (a longer horizon's world, run over ``sc``'s shorter one)."""
    _, organic_rng = seed_streams(seed)
    wsc = sc if world_scenario is None else world_scenario
    if log is not None:
        world = recorded_world(log, horizon_hours=wsc.horizon_hours, seed=seed)
    else:
        world = drawn_world(wsc.world_config(), seed)
    base = sc.run_base(world, organic_rng)
    obs0 = base.observation_at_start()
    window = (world.t0, world.t0 + sc.attack_hours * HOUR)

    def buy(attack, budget):
        with plugin_call("attack", getattr(attack, "name", attack), "buying a campaign"):
            return attack(obs0, base.targets_for(getattr(attack, "goal", "promote")), budget,
                          window, attack_stream(seed, attack.name), cost)
    return world, base, buy, ({"feed": feed} if mode == "closed" else {})


def clean_twins(spec: RunSpec, base, seed: int, kw):
    """``clean_of(ranker)``: the ranker's clean twin, run once per distinct ranker. A
    defended ranker's twin carries its bare scorer's clean run in ``bare`` (for the
    collateral metrics); the bare scorer is often in the list too and runs once."""
    cache = {}

    def clean_of(ranker):
        key = (ranker.name, repr(ranker))
        if key not in cache:
            tr = simulate(spec.mode, base, ranker, seed=seed, **kw)
            scorer = getattr(ranker, "scorer", None)
            cache[key] = tr if scorer is None else replace(tr, bare=clean_of(scorer))
        return cache[key]
    return clean_of


def describe_ranker(ranker) -> dict:
    """The record fields naming a ranker's parts: its scorer, defences, oracle flag."""
    defences = getattr(ranker, "defences", ())
    return {"scorer": getattr(getattr(ranker, "scorer", ranker), "name", str(ranker)),
            "defences": [d.name for d in defences],
            "oracle": bool(getattr(ranker, "oracle", False))}


def measure(att, clean, truth) -> dict:
    """Every registered metric of one attacked run against its clean twin, but those that
    need what the truth does not know (:func:`boostbench.metrics.available`)."""
    out = {}
    for name in available(getattr(truth, "unknown", frozenset()))[0]:
        with plugin_call("metric", name, "measuring a run"):
            out[name] = METRICS.get(name)(att, clean, truth)
    return out


def run_seed(spec: RunSpec, seed: int, *, trace: bool = False, tick=None, export=None):
    """All records of one seed: one per ranker x attack, each against the ranker's clean twin.

    A record holds what identifies the run (ranker, attack, seed, budget, targets),
    what the campaign bought (spend, fake actions, side items) and every registered
    metric. Returns ``(records, trace_rows)``; ``trace_rows`` is empty unless ``trace``.
    ``tick``, if given, is called once per cell done (progress). ``export``, a folder:
    each attacked run's labelled traffic is written there (:mod:`boostbench.traffic`).
    """
    part = _seed_runs(spec, (seed, tuple(range(len(spec.rankers)))), trace=trace, tick=tick,
                      export=export)
    return [r for _, recs, _ in part for r in recs], [r for *_, rws in part for r in rws]


def _seed_runs(spec: RunSpec, part: tuple, *, trace: bool = False, tick=None,
               export=None) -> list:
    """``[(ranker index, records, trace rows)]`` of a part ``(seed, ranker indices)`` of a
    seed (:func:`seed_parts`): what :func:`run_seed` gives for those rankers."""
    seed, idx = part
    world, base, buy, kw = _seed_setup(spec, seed)
    campaigns = [buy(a, spec.budget) for a in spec.attacks]
    truth = world.truth
    out = []
    clean_of = clean_twins(spec, base, seed, kw)
    for j in idx:
        ranker = spec.rankers[j]
        records, rows = [], []
        clean = clean_of(ranker)
        for attack, campaign in zip(spec.attacks, campaigns):
            extra = {}
            if export is not None and (campaign.n_events or campaign.policy is not None):
                from .traffic import traffic_path, write_traffic
                extra["on_traffic"] = partial(
                    write_traffic, traffic_path(export, seed, ranker.name, attack.name),
                    campaign=f"{attack.name}@seed{int(seed)}", recipe=attack.name,
                    recording=world.recorded)
            att = simulate(spec.mode, base, ranker, campaign, seed=seed, **kw, **extra)
            rec = {"ranker": att.ranker, "attack": attack.name, "goal": campaign.goal,
                   "mode": spec.mode, "budget": spec.budget, "seed": int(seed),
                   "spend": att.spend, "spend_items": att.spend_items,
                   "shadow_priced": att.shadow_priced, "fake_actions": att.fake_actions,
                   "queries": att.queries,
                   "side_items": int(np.setdiff1d(att.campaign_items, att.targets).size),
                   "targets": [int(x) for x in base.targets], **describe_ranker(ranker),
                   **measure(att, clean, truth)}
            records.append(rec)
            if trace:
                rows.extend(_trace_rows(att, clean, truth))
            if tick is not None:
                tick(1)
        out.append((j, records, rows))
    return out


def run_matrix(spec: RunSpec, *, jobs: int = 1, trace: bool = False, progress: bool = False,
               scheduler=None, export=None):
    """Records (and trace rows) for every seed, in seed order.

    ``jobs`` > 1 runs seeds in parallel processes, ``scheduler`` (a Dask scheduler
    address or ``distributed.Client``) as Dask tasks; results do not depend on either,
    since each seed has its own streams. ``progress`` draws cells done on standard
    error (see :mod:`boostbench.progress`). Returns ``(records, trace_rows)``.
    """
    jobs = JOBS.check("jobs", jobs, "run_matrix")
    parts = seed_parts(spec.seeds, spec.rankers, 1 if scheduler is not None else jobs)
    out = map_seeds(partial(_seed_runs, spec, trace=trace, export=export),
                    [(seed, idx) for _, seed, idx in parts], jobs=jobs, scheduler=scheduler,
                    progress=progress, per_seed=[len(p[2]) * len(spec.attacks) for p in parts])
    # a seed split into parts: its records in ranker order again
    got = sorted(((pos, j), recs, rws) for (pos, _, _), part in zip(parts, out)
                 for j, recs, rws in part)
    return [r for _, recs, _ in got for r in recs], [r for *_, rws in got for r in rws]


def sweep_seed(spec: RunSpec, seed: int, budgets, tick=None) -> list[dict]:
    """Records for every ranker x attack x grid budget of one seed (nested campaigns);
    ``tick`` (progress), if given, is called once per record."""
    world, base, buy, kw = _seed_setup(spec, seed)
    sc = spec.scenario
    plans = {a.name: [buy(a, b) for b in budgets] for a in spec.attacks}
    records = []
    clean_of = clean_twins(spec, base, seed, kw)
    truth = world.truth
    collateral = ("clean_quality_ndcg_drop", "honest_demoted", "organic_weight_removed")
    for ranker in spec.rankers:
        clean = clean_of(ranker)
        clean_vals = {m: METRICS.get(m)(clean, clean, truth) for m in collateral}
        for attack in spec.attacks:
            for budget, campaign in zip(budgets, plans[attack.name]):
                if campaign.n_events == 0 and campaign.policy is None:  # exactly the clean twin
                    att = replace(clean, attack=attack.name, budget=float(budget),
                                  targets=campaign.targets)
                else:
                    att = simulate(spec.mode, base, ranker, campaign, seed=seed, **kw)
                extra = METRICS.get("extra_organic_impressions")(att, clean, truth)
                impressions, hours = _outcome(att)
                records.append({
                    "ranker": att.ranker, "attack": attack.name, "goal": campaign.goal,
                    "knowledge": getattr(attack, "knowledge", "fixed"), "mode": spec.mode,
                    "budget": float(budget), "k": sc.k, "seed": int(seed), "spend": att.spend,
                    "fake_actions": att.fake_actions, "queries": att.queries,
                    "success": _success_for(att, clean, campaign.goal),
                    "rank_lift": METRICS.get("rank_lift")(att, clean, truth),
                    "log_rank_lift": METRICS.get("log_rank_lift")(att, clean, truth),
                    "extra_organic_impressions_total": extra * att.targets.size,
                    "target_reach": METRICS.get("target_reach")(att, clean, truth),
                    "shadow_priced": att.shadow_priced, "target_impressions": impressions,
                    "target_hours_in_top_k": float(np.mean(hours)), **clean_vals,
                    **describe_ranker(ranker)})
                if tick is not None:
                    tick(1)
    return records


def _grid_evaluations(records, spec: RunSpec, ranker, budgets, objective: str) -> dict:
    """The search's evaluations of the fixed recipes on ``spec.seeds``, read from the budget
    grid's ``records`` of ``spec`` (:func:`run_sweep`'s: the same simulations a search would
    run), keyed as :func:`_evaluators` keeps them. Empty when the grid lacks
    a cell (another ranker of the same name in the run: nothing is guessed)."""
    grid = tuple(float(b) for b in budgets)
    if sum(r.name == ranker.name for r in spec.rankers) != 1:
        return {}
    cells = {(r["attack"], r["seed"], r["budget"]): r for r in records
             if r["ranker"] == ranker.name}
    out = {}
    for attack in spec.attacks:
        if getattr(attack, "goal", "promote") != "promote":
            continue
        rows = [cells.get((attack.name, int(s), b)) for s in spec.seeds for b in grid]
        if any(r is None for r in rows):
            return {}
        for seed in spec.seeds:
            def run(b, seed=seed, name=attack.name):
                r = cells[name, int(seed), float(b)]
                return r["target_impressions"], r["target_hours_in_top_k"], r["success"] >= 0.5
            out[(grid[-1], objective, grid, attack, seed)] = _objective(run, grid[-1], objective,
                                                                        grid)
    return out


def _success_for(att, clean, goal) -> float:
    if goal == "demote":
        fell = target_ranks(att) >= 2 * target_ranks(clean, targets=att.targets)
        return float(np.mean(fell))
    return METRICS.get("reached_top_k")(att, clean, None)


def run_sweep(spec: RunSpec, budgets, *, jobs: int = 1, progress: bool = False,
              desc: str = "cells", scheduler=None) -> list[dict]:
    """:func:`sweep_seed` over every seed (in parallel processes when ``jobs`` > 1, as Dask
    tasks with ``scheduler``); ``progress`` draws cells done on standard error."""
    budgets = list(BUDGETS.check("budgets", budgets, "run_sweep"))
    jobs = JOBS.check("jobs", jobs, "run_sweep")
    out = map_seeds(partial(sweep_seed, spec, budgets=budgets), spec.seeds, jobs=jobs,
                    scheduler=scheduler, progress=progress, desc=desc,
                    per_seed=len(spec.rankers) * len(spec.attacks) * len(budgets))
    return [r for recs in out for r in recs]


def _targets_outcome(spec: RunSpec, setup, ranker, attack, budget: float, seed: int):
    """One simulation of ``attack`` at ``budget`` on a seed's ``setup``: the targets' mean
    organic impressions and each target's expected hours in the top k."""
    _, base, buy, kw = setup
    return _outcome(simulate(spec.mode, base, ranker, buy(attack, budget), seed=seed, **kw))


def _outcome(tr) -> tuple:
    """A run's targets' mean organic impressions and each target's expected hours in the
    top k (what the search's objectives read)."""
    from .metrics.rise import hours_in_top_k
    return float(tr.exposure[:, tr.targets].sum(axis=0).mean()), hours_in_top_k(tr)


def _at_budget(impressions: float, hours) -> tuple:
    """``(impressions, mean hours in the top k, whether half the targets reach it)``: one
    budget's outcome as :func:`_search_objective` reads it."""
    from .metrics.rise import reached
    return impressions, float(np.mean(hours)), float(np.mean(reached(hours))) >= 0.5


def _screen_objective(spec: RunSpec, ranker, budget: float, attack, seed: int, *, memo: dict):
    """The search's cheap screen on one seed: the targets' mean hours in the top k and
    their mean organic impressions (a tie-break) at ``budget``, over the attack window
    only (the seed's world, a plan whose horizon ends with the campaign)."""
    if seed not in memo:
        short = replace(spec, scenario=spec.scenario.with_(
            horizon_hours=spec.scenario.attack_hours))
        memo[seed] = _seed_setup(short, seed, world_scenario=spec.scenario)
    impressions, hours = _targets_outcome(spec, memo[seed], ranker, attack, budget, seed)
    return float(np.mean(hours)), impressions


def _search_objective(spec: RunSpec, ranker, budget: float, objective: str, attack, seed: int,
                      *, memo: dict, grid: tuple = ()):
    """The attacker's objective on one seed: mean organic impressions of its targets (with
    ``hours_in_top_k``, their mean expected hours in the top k too). ``memo`` keeps each
    seed's setup for the process's later calls.

    ``cheapest_budget``: ``-log2`` of the cheapest budget of ``grid`` (ascending, nested
    campaigns) at which at least half the targets reach the top k (``reached_top_k``), found
    by bisection — success is taken as monotone in the budget — and ``-log2(2 x cap)`` when
    the cap does not reach; its tie-breaks are the hours in the top k and the impressions at
    that budget (at the cap when none reaches). ``simulations`` says how many it ran.
    """
    if seed not in memo:
        memo[seed] = _seed_setup(spec, seed)
    return _objective(lambda b: _at_budget(*_targets_outcome(spec, memo[seed], ranker, attack,
                                                              b, seed)),
                      budget, objective, grid)


def _objective(run, budget: float, objective: str, grid: tuple):
    """:func:`_search_objective` from ``run(budget) ->`` :func:`_at_budget`'s tuple."""
    if objective != "cheapest_budget":
        impressions, hours, _ = run(budget)
        if objective == "impressions":
            return impressions
        return {"impressions": impressions, objective: hours}
    lo, hi, best, seen = 0, len(grid), None, {}     # the answer's index is in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        seen[mid] = run(grid[mid])
        if seen[mid][2]:
            hi, best = mid, mid
        else:
            lo = mid + 1
    # the bisection ran the cheapest budget that reaches, or (none reaching) the cap last
    impressions, hours, _ = seen[best if best is not None else len(grid) - 1]
    cheapest = grid[best] if best is not None else 2.0 * grid[-1]
    return {"cheapest_budget": -float(np.log2(cheapest)), "hours_in_top_k": hours,
            "impressions": impressions, "simulations": len(seen)}


@contextmanager
def _evaluators(spec: RunSpec, ranker, budget: float, objective: str, tick, jobs, scheduler,
                what: str, grid: tuple = (), done: dict | None = None):
    """``(evaluate_fn, evaluate_many)`` of :func:`_search_objective` against ``ranker`` over
    one executor (:func:`boostbench.executors.mapper`), ``tick`` once per evaluation.

    ``done``, if given, keeps every result by ``(budget, objective, grid, attack, seed)``
    for later searches against the same ranker in the same run (``run_cost`` keeps one per
    ranker): an evaluation is a deterministic function of those, so a pair a search asks
    for again — the fixed recipes on the held-out seeds, which the adaptive and the
    defence-aware search both score — is read back instead of simulated again.
    """
    fn = partial(_search_objective, replace(spec, rankers=(ranker,)), ranker, budget, objective,
                 grid=tuple(grid))
    done = {} if done is None else done
    with mapper(fn, jobs=jobs, scheduler=scheduler, what=what) as run:
        def many(calls):
            keys = [(budget, objective, tuple(grid), attack, seed) for attack, seed in calls]
            todo = list(dict.fromkeys(k for k in keys if k not in done))
            done.update(zip(todo, run([k[3:] for k in todo], tick)))
            if tick is not None and len(keys) > len(todo):
                tick(len(keys) - len(todo))
            return [done[k] for k in keys]
        yield (lambda attack, seed: many([(attack, seed)])[0]), many


def adaptive_search(spec: RunSpec, ranker, *, budget: float, search_seeds, n_candidates: int = 16,
                    rng=0, knowledge: str = "adaptive", include=(), tick=None,
                    evaluations: int | None = None, objective: str = "impressions",
                    jobs: int = 1, scheduler=None, grid=None, screen: int = 0,
                    done: dict | None = None):
    """Search the attack space against ``ranker`` on ``search_seeds``; report on ``spec.seeds``.

    The fixed recipes of ``spec.attacks`` (promote goal) are the baseline the
    adaptive attacker is checked against (see :func:`boostbench.attacks.adaptive.search`).
    ``knowledge="defence_aware"`` lets the attacker read the ranker's defence
    thresholds (a Pipeline's ``defences``). ``tick`` (progress), if given, is called once
    per evaluation. ``evaluations``: the search's budget of search-seed simulations (None:
    the halving of ``n_candidates`` alone); ``objective``: ``"impressions"`` (the targets'
    mean organic impressions), ``"hours_in_top_k"`` (their mean expected hours in the
    top k over the horizon, ties broken by impressions) or ``"cheapest_budget"`` (the
    cheapest budget of ``grid`` — default: the budgets ``budget / 2**j`` down to $0.25 —
    at which half the targets reach the top k, by bisection: see :func:`_search_objective`;
    each evaluation is then up to ``ceil(log2(len(grid) + 1))`` simulations). ``jobs`` > 1
    runs each batch of independent evaluations in a process pool, ``scheduler`` as Dask
    tasks (the result is the same; see :func:`boostbench.executors.mapper`). ``screen``
    (with ``evaluations``): first screen that many random points of the space by
    :func:`_screen_objective` on the first search seed — one simulation of the attack
    window each, at the grid's middle budget for ``cheapest_budget`` (else at ``budget``)
    — and halve the best of them (see :func:`boostbench.attacks.adaptive.search`).
    ``done``: evaluations earlier searches against ``ranker`` kept (see :func:`_evaluators`).
    """
    from .attacks.adaptive import search
    from .metrics.cost import budget_grid
    grid = tuple(budget_grid(budget) if grid is None else grid)
    jobs = JOBS.check("jobs", jobs, "adaptive_search")
    overlap = set(search_seeds) & set(spec.seeds)
    if overlap:
        raise InvalidParameter(f"Search seeds must differ from the held-out seeds; both have "
                               f"{sorted(overlap)}.", name="search_seeds")
    fixed = {a.name: a for a in spec.attacks if getattr(a, "goal", "promote") == "promote"}
    # each ranker gets its own draw of the space (seeded by its name and ``rng``), never
    # one shared draw for every ranker
    rng = np.random.default_rng([zlib.crc32(ranker.name.encode()), int(rng)])
    at = grid[len(grid) // 2] if objective == "cheapest_budget" else budget
    screen_fn = partial(_screen_objective, replace(spec, rankers=(ranker,)), ranker, at)
    screener = (mapper(screen_fn, jobs=jobs, scheduler=scheduler,
                       what=f"the search's screen vs {ranker.name}") if screen else nullcontext())
    with _evaluators(spec, ranker, budget, objective, tick, jobs, scheduler,
                     f"the search's evaluations vs {ranker.name}", grid, done) as (one, many), \
            screener as screen_many:
        return search(one, budget=budget, search_seeds=search_seeds, heldout_seeds=spec.seeds,
                      fixed=fixed, n_candidates=n_candidates, rng=rng, ranker=ranker.name,
                      knowledge=knowledge, defences=getattr(ranker, "defences", ()),
                      include=include, evaluations=evaluations, objective=objective,
                      evaluate_many=many, screen=screen,
                      screen_many=partial(screen_many, tick=tick) if screen else None)


def query_search(spec: RunSpec, ranker, knowledge: str, below, *, queries: int = QUERY_BUDGET,
                 objective: str = "impressions", tick=None, jobs: int = 1, scheduler=None,
                 grid=None, done: dict | None = None):
    """The query level ``knowledge`` against ``ranker``: its query attacker (``queries`` per
    run) or ``below``'s winner, whichever is better on ``below``'s search seeds
    (:func:`boostbench.attacks.levels.query_level`), on the same seeds and held-out seeds,
    evaluated as :func:`adaptive_search` evaluates (``done``: see :func:`_evaluators`)."""
    from .attacks.levels import query_level
    from .metrics.cost import budget_grid
    grid = tuple(budget_grid(below.budget) if grid is None else grid)
    with _evaluators(spec, ranker, below.budget, objective, tick, jobs, scheduler,
                     f"the {knowledge} level's evaluations vs {ranker.name}", grid,
                     done) as (one, many):
        return query_level(one, knowledge, below, queries=queries, objective=objective,
                           evaluate_many=many)


def run_cost(spec: RunSpec, budgets, *, jobs: int = 1, adaptive: bool = False,
             n_candidates: int = 16, n_search_seeds: int = 3, progress: bool = False,
             scheduler=None, evaluations: int | None = None, objective: str = "impressions",
             queries: int = 0, screen: int = 0):
    """The budget grid of every ranker x attack, and with ``adaptive`` a search per ranker.

    The adaptive attacker searches the attack space against each ranker on search
    seeds ``10000, 10001, ...`` (disjoint from ``spec.seeds``, on which it is
    reported); a defended ranker also meets the ``defence_aware`` attacker, whose
    search starts from the adaptive winner (so knowing more cannot find less by bad
    luck). With ``queries`` > 0 the query levels follow (``query_rank``, then
    ``query_score``: :func:`query_search`), each against the best level below it. Each
    winner then runs the grid like a fixed recipe (unless it already has: a level that
    keeps the winner below, or a query attacker among ``spec.attacks``).

    Returns
    -------
    (records, searches, flags)
        Grid records (as :func:`run_sweep`), the :class:`SearchResult` of every
        search, and the sanity flags across knowledge levels.

    ``progress`` draws the grid's cells and each search's evaluations on standard error.
    ``jobs`` and ``scheduler`` (Dask tasks) run the grids' seeds and each search's batches
    of independent evaluations (see :func:`adaptive_search`). ``evaluations`` and
    ``objective`` go to every search (see :func:`adaptive_search`), and ``screen`` to every
    adaptive and defence-aware one; all are checked before the grid runs.
    """
    from ._core.params import check_choice, check_int
    from .attacks.adaptive import OBJECTIVES, aware_variants, knowledge_flags
    from .attacks.levels import QUERY_LEVELS
    if adaptive:
        check_int("queries", queries, low=0, where="run_cost")
        check_choice("objective", objective, OBJECTIVES, where="run_cost")
        if evaluations is not None:
            check_int("evaluations", evaluations, low=n_search_seeds, where="run_cost")
        check_int("screen", screen, low=0, where="run_cost")
        if screen and evaluations is None:
            raise InvalidParameter("run_cost: screen > 0 needs evaluations (the screen fills "
                                   "the pool an evaluation budget sizes).", name="screen")
    records = run_sweep(spec, budgets, jobs=jobs, progress=progress, scheduler=scheduler)
    grid_records, searches, flags = list(records), [], []
    if not adaptive:
        return records, searches, flags
    search_seeds = tuple(range(10_000, 10_000 + n_search_seeds))
    for ranker in spec.rankers:
        levels = ("adaptive", "defence_aware") if getattr(ranker, "defences", ()) else (
            "adaptive",)
        # done: this ranker's evaluations, shared by its searches; the fixed recipes'
        # held-out ones are the grid's simulations, read from its records
        found, done = [], _grid_evaluations(grid_records, spec, ranker, budgets, objective)
        for knowledge in levels:   # the defence-aware search starts from the adaptive best
            warm = (aware_variants(found[0].best, ranker.defences)
                    if knowledge == "defence_aware" else ())
            with bar(None, f"{knowledge} search vs {ranker.name}: evaluations",
                     enabled=progress) as tick:
                res = adaptive_search(spec, ranker, budget=budgets[-1],
                                      search_seeds=search_seeds, n_candidates=n_candidates,
                                      knowledge=knowledge, include=warm, tick=tick,
                                      evaluations=evaluations, objective=objective,
                                      jobs=jobs, scheduler=scheduler, grid=budgets,
                                      screen=screen, done=done)
            found.append(res)
            one = replace(spec, rankers=(ranker,), attacks=(res.best.recipe(),))
            records += run_sweep(one, budgets, jobs=jobs, progress=progress,
                                 desc=f"{knowledge} winner vs {ranker.name}: cells",
                                 scheduler=scheduler)
        for knowledge in (QUERY_LEVELS if queries else ()):
            below = found[-1]
            with bar(None, f"{knowledge} level vs {ranker.name}: evaluations",
                     enabled=progress) as tick:
                res = query_search(spec, ranker, knowledge, below, queries=queries,
                                   objective=objective, tick=tick, jobs=jobs,
                                   scheduler=scheduler, grid=budgets, done=done)
            found.append(res)
            attack = res.best.recipe()
            if res.best is below.best or attack in spec.attacks:
                continue                   # its grid is in the records already
            one = replace(spec, rankers=(ranker,), attacks=(attack,))
            records += run_sweep(one, budgets, jobs=jobs, progress=progress,
                                 desc=f"{knowledge} winner vs {ranker.name}: cells",
                                 scheduler=scheduler)
        searches += found
        flags += knowledge_flags(found)
    return records, searches, flags
