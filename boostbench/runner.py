"""Ranker x attack x seed matrices, each attacked run paired with its clean twin."""

from __future__ import annotations

import os
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, is_dataclass

import numpy as np

from .attacks.base import CostModel
from .errors import InvalidParameter, check_int, check_real
from .plugins import METRICS
from .scenario import Scenario
from .simulate import ReplayBase, replay
from .world import HOUR, make_world

__all__ = ["RunSpec", "run_seed", "run_matrix", "seed_streams", "REPORTED_METRICS"]

REPORTED_METRICS = ("rank_lift", "log_rank_lift", "hit_rate_at_k", "low_quality_share_at_k",
                    "quality_ndcg_at_k", "target_rank")


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
    if is_dataclass(obj):
        d["params"] = {f.name: getattr(obj, f.name) for f in fields(obj) if f.name != "name"}
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


def run_seed(spec: RunSpec, seed: int) -> list[dict]:
    """All records of one seed: one per ranker x attack, each against the ranker's clean twin."""
    sc = spec.scenario
    world_rng, organic_rng = seed_streams(seed)
    world = make_world(sc.world_config(), world_rng)
    base = ReplayBase(world, sc, organic_rng)
    obs0 = base.observation_at_start()
    window = (world.t0, world.t0 + sc.attack_hours * HOUR)
    campaigns = [a(obs0, base.targets, spec.budget, window, attack_stream(seed, a.name), spec.cost)
                 for a in spec.attacks]
    records = []
    for ranker in spec.rankers:
        clean = replay(base, ranker, seed=seed)
        clean_ndcg = METRICS.get("quality_ndcg_at_k")(clean, clean, world.truth)
        for attack, campaign in zip(spec.attacks, campaigns):
            att = replay(base, ranker, campaign, seed=seed)
            rec = {"ranker": att.ranker, "attack": attack.name, "budget": spec.budget,
                   "seed": int(seed), "spend": att.spend, "spend_items": att.spend_items,
                   "shadow_priced": att.shadow_priced, "fake_actions": att.fake_actions,
                   "targets": [int(x) for x in base.targets],
                   "clean_target_rank": METRICS.get("target_rank")(clean, clean, world.truth),
                   "clean_quality_ndcg_at_k": clean_ndcg}
            for name in REPORTED_METRICS:
                rec[name] = METRICS.get(name)(att, clean, world.truth)
            records.append(rec)
    return records


def run_matrix(spec: RunSpec, *, jobs: int = 1) -> list[dict]:
    """Records for every seed, in seed order; ``jobs`` > 1 runs seeds in parallel processes.

    Results do not depend on ``jobs``: each seed has its own streams.
    """
    jobs = check_int("jobs", jobs, low=1, high=max(os.cpu_count() or 1, 1) * 4, where="run_matrix")
    if jobs == 1 or len(spec.seeds) == 1:
        out = [run_seed(spec, s) for s in spec.seeds]
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(spec.seeds))) as ex:
            out = list(ex.map(run_seed, [spec] * len(spec.seeds), spec.seeds))
    return [r for recs in out for r in recs]
