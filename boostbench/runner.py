"""Ranker x attack x seed matrices, each attacked run paired with its clean twin."""

from __future__ import annotations

import os
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields, is_dataclass, replace
from functools import partial

import numpy as np

from .attacks.base import CostModel
from .errors import InvalidParameter
from ._core.params import check_choice, check_int, check_real
from ._core.arrays import distinct
from ._core.units import HOUR
from .feed import FeedConfig
from .metrics.feed import feed_quality_per_round, topk_membership
from .metrics.rise import target_ranks
from .plugins import METRICS
from .scenario import Scenario
from .simulate import MODES, RunBase, simulate
from .world import make_world

__all__ = ["RunSpec", "run_seed", "run_matrix", "seed_streams", "TABLE_METRICS",
           "COLLATERAL_METRICS", "RUNNER_DIRECTIONS", "collateral", "ban_replacement_cost",
           "sweep_seed", "run_sweep", "adaptive_search"]

# Columns of the printed table per mode; every registered metric goes into the JSON records.
TABLE_METRICS = {
    "replay": ("rank_lift", "log_rank_lift", "hit_rate_at_k", "low_quality_share_at_k",
               "quality_ndcg_at_k"),
    "closed": ("rank_lift", "hit_rate_at_k", "extra_organic_impressions",
               "extra_organic_impressions_after", "amplification", "low_quality_exposure_share",
               "feed_quality"),
}
# What a defence costs honest content, next to the robustness columns (see collateral()).
COLLATERAL_METRICS = ("detection_recall", "organic_weight_removed", "clean_quality_ndcg_drop",
                      "honest_demoted")
#: Directions of the record fields computed here rather than registered as metrics.
RUNNER_DIRECTIONS = {"clean_quality_ndcg_drop": False, "honest_demoted": False}


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
        d["params"] = {f.name: (asdict(v) if is_dataclass(v) else v)
                       for f in fields(obj) if f.name != "name" for v in [getattr(obj, f.name)]}
    return d


@dataclass(frozen=True)
class RunSpec:
    """One matrix: every ranker against every attack on every seed of a scenario."""

    scenario: Scenario
    rankers: tuple
    attacks: tuple
    seeds: tuple
    budget: float
    cost: CostModel = CostModel()
    mode: str = "closed"
    feed: FeedConfig = FeedConfig()

    def __post_init__(self):
        if not self.rankers:
            raise InvalidParameter("The 'rankers' parameter needs at least one ranker.", name="rankers")
        if not self.attacks:
            raise InvalidParameter("The 'attacks' parameter needs at least one attack.", name="attacks")
        if not self.seeds:
            raise InvalidParameter("The 'seeds' parameter needs at least one seed.", name="seeds")
        for s in self.seeds:
            check_int("seeds", s, low=0, high=2**63 - 1, where="RunSpec")
        check_real("budget", self.budget, low=0.0, where="RunSpec")
        check_choice("mode", self.mode, MODES, where="RunSpec")


def _trace_rows(att, clean, truth) -> list[dict]:
    """Per-round rows for --trace: targets' rank, exposure and engagement, feed quality, both twins."""
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
            "feed_quality": float(fq_a[r]), "clean_feed_quality": float(fq_c[r])})
    return rows


def _side_lift(att, clean, campaign) -> dict:
    """Lift of the non-target items a campaign touched (a ring's other members' posts,
    aged bots' camouflage items): their count, and their mean extra organic impressions
    and mean rank lift at the end of the attack window."""
    side = np.setdiff1d(distinct(campaign.item), campaign.targets)
    if side.size == 0:
        return {"side_items": 0, "side_extra_organic_impressions": None, "side_rank_lift": None}
    extra = att.exposure[:, side].sum(axis=0) - clean.exposure[:, side].sum(axis=0)
    lift = target_ranks(clean, targets=side) - target_ranks(att, targets=side)
    return {"side_items": int(side.size),
            "side_extra_organic_impressions": float(np.mean(extra)),
            "side_rank_lift": float(np.mean(lift))}


def _seed_setup(spec: RunSpec, seed: int):
    """World, shared run base, a ``buy(attack, budget)`` for fixed campaigns, simulate kwargs."""
    sc = spec.scenario
    world_rng, organic_rng = seed_streams(seed)
    world = make_world(sc.world_config(), world_rng)
    base = sc.run_base(world, organic_rng)
    obs0 = base.observation_at_start()
    window = (world.t0, world.t0 + sc.attack_hours * HOUR)

    def buy(attack, budget):
        return attack(obs0, base.targets_for(getattr(attack, "goal", "promote")), budget, window,
                      attack_stream(seed, attack.name), spec.cost)
    return world, base, buy, ({"feed": spec.feed} if spec.mode == "closed" else {})


def collateral(defended, undefended, truth) -> dict:
    """What defences cost honest content, from two clean runs: the pipeline and its bare scorer.

    ``clean_quality_ndcg_drop``: quality NDCG@k at the end of the attack window,
    scorer alone minus pipeline (positive = the defence made the clean feed
    worse). ``honest_demoted``: expected share of the scorer's clean top k (random
    tie-breaking) that the pipeline's clean ranking no longer puts in its top k.
    """
    ndcg = METRICS.get("quality_ndcg_at_k")
    r = defended.eval_round
    before = topk_membership(undefended.ranks[r], undefended.k)
    after = topk_membership(defended.ranks[r], defended.k)
    lost = np.clip(before - after, 0.0, None).sum() / max(before.sum(), 1e-12)
    return {"clean_quality_ndcg_drop": ndcg(undefended, undefended, truth)
            - ndcg(defended, defended, truth), "honest_demoted": float(lost)}


def _clean_runs(spec, base, seed, kw):
    """``clean_run(ranker)``: the clean twin, run once per distinct ranker (a pipeline's bare
    scorer is often in the list too)."""
    cleans = {}

    def clean_run(ranker):
        key = (ranker.name, repr(ranker))
        if key not in cleans:
            cleans[key] = simulate(spec.mode, base, ranker, seed=seed, **kw)
        return cleans[key]
    return clean_run


def _clean_fields(ranker, clean_run, truth) -> dict:
    """Record fields from clean runs: what the ranker's defences cost honest content."""
    scorer = getattr(ranker, "scorer", None)
    clean = clean_run(ranker)
    out = (collateral(clean, clean_run(scorer), truth) if scorer is not None
           else {"clean_quality_ndcg_drop": 0.0, "honest_demoted": 0.0})
    out["organic_weight_removed"] = METRICS.get("organic_weight_removed")(clean, clean, truth)
    return {**out, **_defence_fields(ranker)}


def ban_replacement_cost(att, attack, campaign, cost: CostModel) -> float:
    """What an own-farm attacker pays after the run to replace its banned accounts.

    The campaign paid each account's amortised share (price / uses); a banned
    account cannot be reused, so the rest of its price is lost:
    ``banned x price x (1 - 1/uses)``. 0 for services (they pay per action and
    the seller replaces its own accounts) and for rankers without bans. Reported
    next to the spend, not in it: the budget bounds what the campaign spends.
    """
    supplier = getattr(attack, "supplier", None)
    d = att.defence
    if d is None or supplier is None or not supplier.own_farm:
        return 0.0
    new = d.banned_at[d.banned_at.size - campaign.n_new_accounts:]   # new accounts come last
    banned = int(np.count_nonzero(np.isfinite(new)))
    price = getattr(cost, supplier.account_price)
    return banned * price * (1.0 - 1.0 / supplier.uses)


def _defence_fields(ranker) -> dict:
    defences = getattr(ranker, "defences", ())
    return {"scorer": getattr(getattr(ranker, "scorer", ranker), "name", str(ranker)),
            "defences": [d.name for d in defences],
            "oracle": bool(getattr(ranker, "oracle", False))}


def run_seed(spec: RunSpec, seed: int, *, trace: bool = False):
    """All records of one seed: one per ranker x attack, each against the ranker's clean twin.

    A defended ranker (a Pipeline) also gets its collateral against its bare
    scorer's clean run (:func:`collateral`). Returns ``(records, trace_rows)``;
    ``trace_rows`` is empty unless ``trace``.
    """
    world, base, buy, kw = _seed_setup(spec, seed)
    campaigns = [buy(a, spec.budget) for a in spec.attacks]
    truth = world.truth
    records, rows = [], []
    clean_run = _clean_runs(spec, base, seed, kw)
    for ranker in spec.rankers:
        clean = clean_run(ranker)
        clean_vals = {f"clean_{m}": METRICS.get(m)(clean, clean, truth)
                      for m in ("quality_ndcg_at_k", "feed_quality", "low_quality_exposure_share")}
        clean_vals.update(_clean_fields(ranker, clean_run, truth))
        for attack, campaign in zip(spec.attacks, campaigns):
            att = simulate(spec.mode, base, ranker, campaign, seed=seed, **kw)
            rec = {"ranker": att.ranker, "attack": attack.name, "goal": campaign.goal,
                   "mode": spec.mode, "clean_target_rank": float(np.mean(target_ranks(
                       clean, targets=att.targets))),
                   "budget": spec.budget, "seed": int(seed), "spend": att.spend,
                   "spend_items": att.spend_items, "shadow_priced": att.shadow_priced,
                   "fake_actions": att.fake_actions, "targets": [int(x) for x in base.targets],
                   **clean_vals}
            for name, m in METRICS.items():
                rec[name] = m(att, clean, truth)
            rec.update(_side_lift(att, clean, campaign))
            rec["ban_replacement_cost"] = ban_replacement_cost(att, attack, campaign, spec.cost)
            records.append(rec)
            if trace:
                rows.extend(_trace_rows(att, clean, truth))
    return records, rows


def run_matrix(spec: RunSpec, *, jobs: int = 1, trace: bool = False):
    """Records (and trace rows) for every seed, in seed order.

    ``jobs`` > 1 runs seeds in parallel processes; results do not depend on it,
    since each seed has its own streams. Returns ``(records, trace_rows)``.
    """
    jobs = check_int("jobs", jobs, low=1, high=max(os.cpu_count() or 1, 1) * 4, where="run_matrix")
    if jobs == 1 or len(spec.seeds) == 1:
        out = [run_seed(spec, s, trace=trace) for s in spec.seeds]
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(spec.seeds))) as ex:
            out = list(ex.map(partial(run_seed, spec, trace=trace), spec.seeds))
    return [r for recs, _ in out for r in recs], [r for _, rows in out for r in rows]


def sweep_seed(spec: RunSpec, seed: int, budgets) -> list[dict]:
    """Records for every ranker x attack x grid budget of one seed (nested campaigns)."""
    world, base, buy, kw = _seed_setup(spec, seed)
    sc = spec.scenario
    plans = {a.name: [buy(a, b) for b in budgets] for a in spec.attacks}
    records = []
    clean_run = _clean_runs(spec, base, seed, kw)
    for ranker in spec.rankers:
        clean = clean_run(ranker)
        clean_vals = _clean_fields(ranker, clean_run, world.truth)
        for attack in spec.attacks:
            for budget, campaign in zip(budgets, plans[attack.name]):
                if campaign.n_events == 0 and campaign.policy is None:  # exactly the clean twin
                    att = replace(clean, attack=attack.name, budget=float(budget),
                                  targets=campaign.targets)
                else:
                    att = simulate(spec.mode, base, ranker, campaign, seed=seed, **kw)
                extra = METRICS.get("extra_organic_impressions")(att, clean, world.truth)
                records.append({
                    "ranker": att.ranker, "attack": attack.name, "goal": campaign.goal,
                    "knowledge": getattr(attack, "knowledge", "fixed"), "mode": spec.mode, "budget": float(budget), "k": sc.k,
                    "seed": int(seed), "spend": att.spend, "fake_actions": att.fake_actions,
                    "success": _success_for(att, clean, campaign.goal),
                    "rank_lift": METRICS.get("rank_lift")(att, clean, world.truth),
                    "log_rank_lift": METRICS.get("log_rank_lift")(att, clean, world.truth),
                    "extra_organic_impressions_total": extra * att.targets.size,
                    "shadow_priced": att.shadow_priced, **clean_vals})
    return records


def _success_for(att, clean, goal) -> float:
    if goal == "demote":
        fell = target_ranks(att) >= 2 * target_ranks(clean, targets=att.targets)
        return float(np.mean(fell))
    return METRICS.get("hit_rate_at_k")(att, clean, None)


def run_sweep(spec: RunSpec, budgets, *, jobs: int = 1) -> list[dict]:
    """:func:`sweep_seed` over every seed (in parallel processes when ``jobs`` > 1)."""
    budgets = [check_real("budgets", b, low=0.0, where="run_sweep") for b in budgets]
    if budgets != sorted(budgets) or len(set(budgets)) != len(budgets):
        raise InvalidParameter(f"The 'budgets' parameter must be strictly increasing. "
                               f"Got {budgets!r}.", name="budgets")
    if jobs == 1 or len(spec.seeds) == 1:
        out = [sweep_seed(spec, s, budgets) for s in spec.seeds]
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(spec.seeds))) as ex:
            out = list(ex.map(partial(sweep_seed, spec, budgets=budgets), spec.seeds))
    return [r for recs in out for r in recs]


def adaptive_search(spec: RunSpec, ranker, *, budget: float, search_seeds, n_candidates: int = 16,
                    rng=0, knowledge: str = "adaptive", include=()):
    """Search the attack space against ``ranker`` on ``search_seeds``; report on ``spec.seeds``.

    The fixed recipes of ``spec.attacks`` (promote goal) are the baseline the
    adaptive attacker is checked against (see :func:`boostbench.attacks.adaptive.search`).
    ``knowledge="defence_aware"`` lets the attacker read the ranker's defence
    thresholds (a Pipeline's ``defences``).
    """
    from .attacks.adaptive import search
    overlap = set(search_seeds) & set(spec.seeds)
    if overlap:
        raise InvalidParameter(f"Search seeds must differ from the held-out seeds; both have "
                               f"{sorted(overlap)}.", name="search_seeds")
    setups = {}

    def fn(attack, seed):
        """The attacker's objective on one seed: mean organic impressions of its targets."""
        if seed not in setups:
            setups[seed] = _seed_setup(spec, seed)
        _, base, buy, kw = setups[seed]
        tr = simulate(spec.mode, base, ranker, buy(attack, budget), seed=seed, **kw)
        return float(tr.exposure[:, tr.targets].sum(axis=0).mean())
    fixed = {a.name: a for a in spec.attacks if getattr(a, "goal", "promote") == "promote"}
    return search(fn, budget=budget, search_seeds=search_seeds, heldout_seeds=spec.seeds,
                  fixed=fixed, n_candidates=n_candidates, rng=rng, ranker=ranker.name,
                  knowledge=knowledge, defences=getattr(ranker, "defences", ()),
                  include=include)
