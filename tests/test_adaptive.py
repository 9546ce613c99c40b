import zlib
from dataclasses import replace

import numpy as np
import pytest

from boostbench.attacks.adaptive import (SEARCH_SPACE, Candidate, candidates, halving_cost,
                                         knowledge_flags, known_thresholds, nearest, neighbours,
                                         paired_test, search, space, warm_starts)
from boostbench.errors import InvalidParameter
from boostbench.plugins import ATTACKS, RANKERS
from boostbench.runner import RunSpec, adaptive_search


def _score_by_label(table, noise=0.0):
    """A synthetic objective: a fixed score per configuration (plus seed noise)."""
    def fn(attack, seed):
        label = attack.name.split(":", 1)[-1]
        return table.get(label, 0.0) + noise * np.sin(seed * 7.1 + len(label))
    return fn


def test_candidates_are_valid_distinct_and_seeded():
    a, b = candidates(30, 5), candidates(30, 5)
    assert a == b and len(set(a)) == 30
    for c in a:
        assert c.supplier in SEARCH_SPACE["supplier"] and c.mix in SEARCH_SPACE["mix"]
        if c.supplier == "api_client":
            assert c.mix == "likes_blind"
        assert c.recipe().knowledge == "adaptive"


def test_search_finds_the_best_configuration_and_reports_held_out():
    pool = candidates(16, 1)
    table = {c.label: float(i) for i, c in enumerate(pool)}
    best = pool[-1]
    r = search(_score_by_label(table, noise=0.1), budget=5.0, search_seeds=(10, 11, 12),
               heldout_seeds=(0, 1), fixed={}, n_candidates=16, rng=1)
    assert r.best == best and r.knowledge == "adaptive"
    assert r.heldout_score == pytest.approx(table[best.label], abs=0.2)
    assert r.rungs[0]["seeds"] == [10]
    assert len(r.rungs[0]["scores"]) == len(set(pool) | set(warm_starts()))   # + warm starts
    assert len(r.rungs[-1]["scores"]) <= 2


def test_every_search_tries_the_deep_engagement_warm_starts():
    """A one-candidate draw still tries every deep-engagement seller: the points a
    rate-per-view ranker falls to are never left to the luck of the draw."""
    r = search(lambda a, s: 1.0, budget=1.0, search_seeds=(1,), heldout_seeds=(2,), fixed={},
               n_candidates=1, rng=0)
    tried = set(r.rungs[0]["scores"])
    assert {c.label for c in warm_starts()} <= tried
    assert all(c.mix == "deep" for c in warm_starts()) and len(warm_starts()) == 4
    r = search(lambda a, s: 1.0, budget=1.0, search_seeds=(1,), heldout_seeds=(2,), fixed={},
               n_candidates=1, rng=0, warm=False)
    assert len(r.rungs[0]["scores"]) == 1


def test_sanity_flags_fire_when_a_weaker_attacker_wins():
    pool = candidates(4, 2)
    table = {c.label: 1.0 for c in pool}
    strong_fixed = Candidate("fresh_bots", "likes_short", "burst").recipe()
    fn = _score_by_label({**table, strong_fixed.name.split(":", 1)[1]: 9.0})
    r = search(fn, budget=1.0, search_seeds=(1, 2), heldout_seeds=(3, 4, 5, 6, 7),
               fixed={"bot_farm": strong_fixed}, n_candidates=4, rng=2, warm=False)
    assert any("fixed recipe bot_farm beat" in f for f in r.flags)
    # one held-out seed is one draw: the paired test cannot tell it from luck (p = 1/2)
    r = search(fn, budget=1.0, search_seeds=(1, 2), heldout_seeds=(3,),
               fixed={"bot_farm": strong_fixed}, n_candidates=4, rng=2, warm=False)
    assert r.best_fixed_score > r.heldout_score and not r.flags
    assert r.tests["fixed"]["method"] == "sign-flip" and r.tests["fixed"]["pvalue"] == 0.5


def test_adaptive_search_is_reproducible_and_keeps_seeds_apart(tiny_scenario):
    spec = RunSpec(tiny_scenario, (RANKERS.get("real_interaction")(),),
                   (ATTACKS.get("task_crowd")(),), (0,), 1.0)
    kw = dict(budget=1.0, search_seeds=(100, 101), n_candidates=2, rng=3)
    ticks = []
    a = adaptive_search(spec, spec.rankers[0], **kw, tick=ticks.append)
    b = adaptive_search(spec, spec.rankers[0], **kw, jobs=2)      # in worker processes
    assert a.to_dict() == b.to_dict()
    assert ticks == [1] * (a.evaluations + 3 * len(spec.seeds))   # + winner, fixed, random
    # another ranker gets its own draw of the space (seeded by its name), not the same one
    other = adaptive_search(spec, RANKERS.get("like_count")(), **kw)
    assert set(other.rungs[0]["scores"]) != set(a.rungs[0]["scores"])
    assert a.heldout_seeds == (0,) and a.best_fixed == "task_crowd"
    with pytest.raises(InvalidParameter, match="differ from the held-out"):
        adaptive_search(spec, spec.rankers[0], budget=1.0, search_seeds=(0, 5))
    # the hours-in-the-top-k objective on real runs, on the smallest budget (one candidate)
    h = adaptive_search(spec, spec.rankers[0], budget=1.0, search_seeds=(100, 101),
                        evaluations=2, objective="hours_in_top_k")
    assert h.objective == "hours_in_top_k" and h.evaluations == 2 and h.pool_size == 1
    horizon = tiny_scenario.horizon_hours
    assert 0.0 <= h.search_score <= horizon and 0.0 <= h.heldout_score <= horizon
    assert h.to_dict()["objective"] == "hours_in_top_k" and set(h.tests) == {"random", "fixed"}


def test_defence_aware_space_adds_moves_just_below_known_thresholds():
    from boostbench.rankers.defences import Lockstep, VelocityCap
    plain = space("adaptive")
    assert space("defence_aware") == [replace(c, knowledge="defence_aware")
                                      for c in plain]   # no defences: nothing more to know
    known = known_thresholds([VelocityCap(max_actions=7, window_hours=2.0), Lockstep(min_items=4)])
    assert known == {"cap": (7, 2.0), "targets_per_account": (0, 3)}
    aware = space("defence_aware", [VelocityCap(max_actions=7, window_hours=2.0),
                                    Lockstep(min_items=4)])
    assert len(aware) > 1.5 * len(plain)
    capped = [c for c in aware if c.cap]
    assert capped and all(c.cap == 7 and c.cap_hours == 2.0 for c in capped)
    assert len({(c.supplier, c.mix, c.delay_hours, c.targets_per_account, c.filler)
                for c in capped}) == len(capped)                    # one under_cap per point
    assert {c.targets_per_account for c in aware} == {0, 1, 3}
    assert {c.targets_per_account for c in plain} == {0, 1}
    r = capped[0].recipe()
    assert r.knowledge == "defence_aware" and r.pacing.name == "under_cap" and r.pacing.cap == 7


def test_knowledge_flag_needs_a_consistent_win_of_the_weaker_attacker():
    held = (20, 21, 22, 23, 24, 25)

    def mk(knowledge, per_seed, heldout_seeds=held):
        return search(lambda a, s: per_seed(s), budget=1.0, search_seeds=(1,),
                      heldout_seeds=heldout_seeds, fixed={}, n_candidates=2, rng=0,
                      knowledge=knowledge)
    strong = mk("defence_aware", lambda s: 3.0 + 0.1 * (s % 2))
    assert strong.knowledge == "defence_aware"
    consistent = mk("adaptive", lambda s: 5.0 + 0.1 * (s % 3))     # ahead on every seed
    flags = knowledge_flags([consistent, strong])
    assert len(flags) == 1 and "beat the defence_aware one" in flags[0]
    assert "one-sided paired t test on 6 seeds, p=" in flags[0]
    lucky = mk("adaptive", lambda s: 50.0 if s == 20 else 0.5)      # far ahead on one seed
    assert lucky.heldout_score > strong.heldout_score               # the old mean rule flagged
    assert not knowledge_flags([lucky, strong])
    assert not knowledge_flags([mk("adaptive", lambda s: 1.0), strong])
    assert knowledge_flags([consistent]) == []
    with pytest.raises(InvalidParameter, match="seed by seed"):
        knowledge_flags([mk("adaptive", lambda s: 5.0, heldout_seeds=(20, 21)), strong])


def test_defence_aware_search_starts_from_the_adaptive_best():
    from boostbench.attacks.adaptive import aware_variants
    from boostbench.rankers.defences import Lockstep
    best = Candidate("fresh_bots", "likes_short", "burst")
    warm = aware_variants(best, [Lockstep(min_items=3)])
    assert [c.targets_per_account for c in warm] == [0, 2]
    assert all(c.knowledge == "defence_aware" and c.supplier == "fresh_bots" for c in warm)
    table = {c.label: 1.0 for c in warm}
    table[warm[1].label] = 5.0
    r = search(_score_by_label(table), budget=1.0, search_seeds=(1, 2), heldout_seeds=(3,),
               fixed={}, n_candidates=2, rng=4, knowledge="defence_aware",
               defences=[Lockstep(min_items=3)], include=warm)
    assert r.best == warm[1]


# --- evaluation budget, local refinement, objective, paired flags (#16) -------------------

def _hashed(attack, seed):
    """A cheap deterministic objective of (attack, seed) with no structure to exploit."""
    name = attack.name
    return ((zlib.crc32(name.encode()) % 1000) / 10 + (seed % 7) * 0.5
            + (zlib.crc32(f"{name}{seed}".encode()) % 100) / 100)


_W = {"supplier": {"paid_crowd": 3.0, "aged_bots": 2.0, "matched_users": 1.0},
      "mix": {"shares": 3.0, "deep": 2.0, "likes_real": 1.0},
      "pacing": {"cold_start": 2.0, "even": 1.0}, "delay": {3.0: 1.0}}
_OPTIMUM = Candidate("paid_crowd", "shares", "cold_start", 3.0)


def _separable(attack, seed):
    """A sum of one term per dimension (plus seed noise well below the terms' gaps),
    largest at ``_OPTIMUM``, which a one-dimension-at-a-time walk reaches from anywhere."""
    if ":" not in attack.name:                        # a fixed recipe: a flat score
        return 0.5 + 0.01 * (seed % 3)
    label = attack.name.split(":", 1)[-1]
    sup, mix, rest, *split_or_filler = label.split("/")
    pacing, _, delay = rest.partition("+")
    return (_W["supplier"].get(sup, 0) + _W["mix"].get(mix, 0) + _W["pacing"].get(pacing, 0)
            + _W["delay"].get(float(delay[:-1]) if delay else 0.0, 0)
            + 0.5 * (not split_or_filler)          # all targets per account, no fillers
            + 0.01 * ((seed * 7 + len(label)) % 5))


def _counting(fn, calls):
    def wrapped(attack, seed):
        calls.append((attack.name, seed))
        return fn(attack, seed)
    return wrapped


def test_no_budget_is_a_halved_random_draw_plus_the_warm_starts():
    """evaluations=None: ``n_candidates`` points drawn from the space (seeded by ``rng``) and
    the warm starts, halved on the search seeds — every number recomputed from the
    objective here (the pinned labels of commit 4455ff8 went with the space they were drawn
    from; the space now holds every fixed recipe)."""
    fixed = {"strong": Candidate("fresh_bots", "likes_2s", "burst").recipe()}
    calls = []
    r = search(_counting(_hashed, calls), budget=2.0, search_seeds=(10, 11, 12),
               heldout_seeds=(20, 21), fixed=fixed, n_candidates=6, rng=7)
    rng = np.random.default_rng(7)
    pool = candidates(6, rng)
    pool += [c for c in warm_starts() if c not in pool]
    assert len(pool) == r.pool_size == 10

    def mean(c, seeds):
        a = c.recipe() if isinstance(c, Candidate) else c
        return float(np.mean([_hashed(a, s) for s in seeds]))
    alive = pool
    for rung, seeds in zip(r.rungs, ([10], [10, 11], [10, 11, 12])):
        alive = sorted(alive, key=lambda c: -mean(c, seeds))
        assert rung["seeds"] == seeds and list(rung["scores"]) == [c.label for c in alive]
        alive = alive[: max(1, len(alive) // 2)]
    assert [len(x["scores"]) for x in r.rungs] == [10, 5, 2]
    assert r.best.label == list(r.rungs[-1]["scores"])[0]
    rand = candidates(1, rng.integers(2**32))[0]
    assert r.random_label == rand.label
    assert (r.search_score, r.heldout_score, r.best_fixed_score, r.random_score) == \
        pytest.approx((mean(r.best, (10, 11, 12)), mean(r.best, (20, 21)),
                       mean(fixed["strong"], (20, 21)), mean(rand, (20, 21))), abs=1e-9)
    assert r.evaluation_budget is None and r.refinement == {} and r.fixed_points == {}
    search_calls = [c for c in calls if c[1] in (10, 11, 12)]
    assert r.evaluations == len(search_calls) == len(set(search_calls)) == \
        halving_cost(r.pool_size, 3) == 10 + 5 + 2
    assert r.convergence == [[r.evaluations, r.search_score]]
    assert len(calls) - len(search_calls) == 2 * 3          # winner, fixed, random held out


@pytest.mark.parametrize("evaluations", [3, 4, 7, 20, 45, 137, 400])
def test_the_budget_is_never_exceeded_and_each_simulation_counts_once(evaluations):
    calls = []
    fixed = {"bot_farm": ATTACKS.create("bot_farm"), "task_crowd": ATTACKS.create("task_crowd")}
    r = search(_counting(_separable, calls), budget=1.0, search_seeds=(1, 2, 3),
               heldout_seeds=(8, 9), fixed=fixed, rng=5, evaluations=evaluations)
    on_search = [c for c in calls if c[1] in (1, 2, 3)]
    assert len(on_search) == len(set(on_search)) == r.evaluations <= evaluations
    assert r.evaluation_budget == evaluations
    assert len(calls) - len(on_search) == 2 * (2 + len(fixed))   # held-out scoring on top
    spent = [e for e, _ in r.convergence]
    assert spent == sorted(spent) and spent[-1] == r.evaluations
    scores = [s for _, s in r.convergence]
    assert scores == sorted(scores) and scores[-1] == pytest.approx(r.search_score)
    if evaluations >= 2 * halving_cost(len(space()), 3):     # the whole space fits in half
        assert r.pool_size == len(space())
    elif r.pool_size >= 4 + 2:            # the warm starts and the fixed points fit in half
        assert halving_cost(r.pool_size, 3) <= evaluations / 2
    else:                                 # they do not: as many of them as the whole budget holds
        assert halving_cost(r.pool_size, 3) <= evaluations
        assert set(r.rungs[0]["scores"]) <= {c.label for c in warm_starts()} | set(
            r.fixed_points.values())
    with pytest.raises(InvalidParameter, match="evaluations"):
        search(_separable, budget=1.0, search_seeds=(1, 2, 3), heldout_seeds=(8,), fixed={},
               evaluations=2)


def test_a_budget_pool_holds_the_warm_starts_and_each_fixed_recipes_nearest_point():
    fixed = {n: ATTACKS.create(n) for n in ("bot_farm", "task_crowd", "engagement_service",
                                            "top_up")}
    r = search(_hashed, budget=1.0, search_seeds=(1, 2), heldout_seeds=(8,), fixed=fixed,
               rng=3, evaluations=40)
    tried = set(r.rungs[0]["scores"])
    assert {c.label for c in warm_starts()} <= tried
    assert r.fixed_points == {"bot_farm": "fresh_bots/likes_2s/burst",
                              "task_crowd": "paid_crowd/likes_3_10s/tasks",
                              "engagement_service": "matched_users/deep/even",
                              "top_up": None}        # reactive: no point in the space
    assert {p for p in r.fixed_points.values() if p} <= tried
    assert r.pool_size == len(tried) and halving_cost(r.pool_size, 2) <= 20
    big = search(_hashed, budget=1.0, search_seeds=(1, 2), heldout_seeds=(8,), fixed=fixed,
                 rng=3, evaluations=2 * halving_cost(len(space()), 2))
    assert big.pool_size == len(space())                     # the whole space when it fits


def test_local_refinement_finds_the_optimum_random_halving_misses():
    kw = dict(budget=1.0, search_seeds=(1, 2), heldout_seeds=(9,), fixed={}, rng=0)
    halving = search(_separable, n_candidates=8, **kw)
    assert halving.best != _OPTIMUM
    r = search(_separable, evaluations=200, **kw)
    assert r.refinement["start"] != _OPTIMUM.label and r.refinement["moves"]
    assert r.best == _OPTIMUM and r.refinement["stopped"] == "local optimum"
    assert r.refinement["moves"][-1] == _OPTIMUM.label and r.evaluations <= 200
    assert len(r.convergence) == len(r.refinement["moves"]) + 2
    # a budget too small to finish the walk stops on the budget, within it
    short = search(_separable, evaluations=64, **kw)
    assert short.refinement["stopped"] == "budget" and short.evaluations <= 64


def test_a_batch_evaluator_changes_nothing_but_who_runs_the_simulations():
    """Rungs, one refinement move's seeds and the held-out scoring arrive as batches; any
    evaluator of them (here one working backwards) gives the sequential result."""
    fixed = {"bot_farm": ATTACKS.create("bot_farm"), "task_crowd": ATTACKS.create("task_crowd")}
    kw = dict(budget=1.0, search_seeds=(1, 2, 3), heldout_seeds=(8, 9), fixed=fixed, rng=5,
              evaluations=120)
    batches = []

    def backwards(calls):
        batches.append([(a.name, s) for a, s in calls])
        return [_separable(a, s) for a, s in calls[::-1]][::-1]
    calls = []
    plain = search(_counting(_separable, calls), **kw)
    r = search(_separable, evaluate_many=backwards, **kw)
    assert r.to_dict() == plain.to_dict() and r.refinement["moves"]
    assert [c for b in batches for c in b] == calls                   # the same, in order
    on_search = [c for b in batches[:-1] for c in b]
    assert len(on_search) == len(set(on_search)) == r.evaluations <= 120
    assert len(batches[0]) == r.pool_size                             # the first rung at once
    assert len(batches[-1]) == (2 + len(fixed)) * 2                   # the held-out scoring
    assert max(len(b) for b in batches[len(r.rungs):-1]) <= 3         # one move at a time


def test_neighbours_change_one_dimension_including_the_defence_aware_ones():
    from boostbench.rankers.defences import Lockstep, VelocityCap
    c = Candidate("aged_bots", "deep", "even")
    nb = neighbours(c, space())
    dims = ("supplier", "mix", "pacing", "delay_hours", "targets_per_account", "filler")
    changed = [[f for f in dims if getattr(p, f) != getattr(c, f)] for p in nb]
    assert nb and all(len(x) == 1 for x in changed)
    order = [dims.index(x[0]) for x in changed]
    assert order == sorted(order) and set(order) == {0, 1, 2, 3, 4}   # dimension by dimension
    assert len(nb) == 3 + 7 + 4 + 1 + 1        # deep is no shilling mix: no filler move
    shill = Candidate("fresh_bots", "likes_2s", "burst", targets_per_account=1)
    assert {p.filler for p in neighbours(shill, space())} >= {"random", "average", "bandwagon"}
    assert {p.supplier for p in nb if p.supplier != c.supplier} == {
        "fresh_bots", "paid_crowd", "matched_users"}        # ring / api need another mix
    defences = [VelocityCap(max_actions=7, window_hours=2.0), Lockstep(min_items=4)]
    aware = space("defence_aware", defences)
    d = Candidate("aged_bots", "deep", "even", knowledge="defence_aware")
    nb = neighbours(d, aware)
    assert any(p.cap == 7 and p.pacing == "under_cap" for p in nb)       # the cap dimension
    assert any(p.targets_per_account == 3 and p.pacing == "even" for p in nb)   # the split


def test_results_are_a_function_of_rng_seeds_and_budget():
    fixed = {"bot_farm": ATTACKS.create("bot_farm")}
    kw = dict(budget=1.0, search_seeds=(4, 5), heldout_seeds=(6, 7, 8), fixed=fixed)
    a = search(_hashed, rng=11, evaluations=90, **kw).to_dict()
    assert a == search(_hashed, rng=11, evaluations=90, **kw).to_dict()
    assert a != search(_hashed, rng=12, evaluations=90, **kw).to_dict()


def test_the_paired_flag_needs_a_consistent_win_not_one_lucky_seed():
    strong = Candidate("fresh_bots", "likes_short", "burst").recipe()
    held = (20, 21, 22, 23, 24, 25)

    def fn(lucky):
        def f(attack, seed):
            if attack.name == strong.name:
                if lucky:
                    return 50.0 if seed == 20 else 0.5          # far ahead on one seed only
                return 3.0 + 0.1 * (seed % 3)                    # ahead on every seed
            return 1.0 + 0.05 * (seed % 2)
        return f
    kw = dict(budget=1.0, search_seeds=(1, 2), heldout_seeds=held,
              fixed={"bot_farm": strong}, n_candidates=4, rng=2)
    consistent = search(fn(False), **kw)
    assert any("fixed recipe bot_farm beat" in f for f in consistent.flags)
    t = consistent.tests["fixed"]
    assert t["method"] == "t" and t["significant"] and t["pvalue"] < 0.05 and t["n"] == 6
    lucky = search(fn(True), **kw)
    assert lucky.best_fixed_score > lucky.heldout_score       # the old one-draw rule flagged
    assert not lucky.flags and not lucky.tests["fixed"]["significant"]
    assert lucky.fixed_heldout["bot_farm"][0] == 50.0 and len(lucky.heldout_scores) == 6
    # equal differences on every seed: no spread, so the exact sign-flip test decides
    assert paired_test([[1.0]] * 6, [[2.0]] * 6)["method"] == "sign-flip"
    assert paired_test([[1.0]] * 6, [[2.0]] * 6)["pvalue"] == pytest.approx(2 ** -6)
    assert not paired_test([[1.0]] * 4, [[2.0]] * 4)["significant"]   # 2**-4 > 0.05
    # float32 noise in "equal" differences is no spread (a saturated tiny world)
    assert paired_test([142.0, 142.6666717529297],
                       [142.6666717529297, 143.3333282470703])["method"] == "sign-flip"


def test_hours_in_top_k_objective_breaks_ties_by_impressions():
    def fn(attack, seed):
        label = attack.name.split(":", 1)[-1]
        hours = 2.0 if label.startswith("paid_crowd/") else 0.0
        return {"hours_in_top_k": hours, "impressions": float(len(label)) + seed % 2}
    kw = dict(budget=1.0, search_seeds=(1, 2), heldout_seeds=(3,), fixed={}, rng=0,
              evaluations=2 * halving_cost(len(space()), 2))
    r = search(fn, objective="hours_in_top_k", **kw)
    longest = max((c for c in space() if c.supplier == "paid_crowd"), key=lambda c: len(c.label))
    assert r.best.supplier == "paid_crowd" and len(r.best.label) == len(longest.label)
    assert r.objective == "hours_in_top_k" and r.search_score == 2.0
    by_impressions = search(fn, objective="impressions", **kw)
    assert len(by_impressions.best.label) == max(len(c.label) for c in space())
    assert by_impressions.objective == "impressions" and by_impressions.to_dict()["objective"] \
        == "impressions"
    with pytest.raises(InvalidParameter, match="objective"):
        search(fn, objective="reach", **kw)


def test_every_registered_promote_recipe_is_a_point_of_the_space_but_reactive_top_up_is_not():
    """The space covers every fixed promoting recipe exactly: its point's recipe is the
    recipe (supplier, mix, pacing, split, fillers, no delay), but for its name."""
    from dataclasses import fields as dc_fields

    from boostbench.attacks.compose import Recipe
    no_point, covered = [], []
    for name, _ in ATTACKS.items():
        a = ATTACKS.create(name)
        if getattr(a, "goal", "promote") != "promote":
            continue
        p = nearest(a)
        if not isinstance(a, Recipe):
            assert p is None, f"{name} is not a Recipe and has no point in the space"
            no_point.append(name)
            continue
        assert p in space() and nearest(a, "defence_aware") in space("defence_aware"), name
        r = p.recipe()
        assert isinstance(r, type(a)), name            # a Shilling recipe stays one
        differ = [f.name for f in dc_fields(a) if f.name not in ("name", "knowledge")
                  and getattr(a, f.name) != getattr(r, f.name)]
        assert not differ and r.delay_hours == 0.0, (name, differ)
        covered.append(name)
    assert "top_up" in no_point, "top_up reacts to the feed each round: no point in the space"
    assert {"bot_farm", "api_exploit", "aged_bots", "task_crowd", "engagement_service",
            "mutual_like_ring", "random_shilling", "average_shilling", "bandwagon"} <= set(covered)
    assert nearest(ATTACKS.create("engagement_service")) == Candidate("matched_users", "deep",
                                                                      "even")
    assert nearest(ATTACKS.create("bandwagon")) == Candidate(
        "fresh_bots", "likes_2s", "burst", targets_per_account=1, filler="bandwagon")


@pytest.mark.parametrize("argv, needle", [
    (["--evaluations", "5"], "give --adaptive too"),
    (["--objective", "hours_in_top_k"], "give --adaptive too"),
    (["--adaptive", "--search-seeds", "3", "--evaluations", "2"],
     "--evaluations must be at least --search-seeds (3)"),
    (["--adaptive", "--evaluations", "0"], "--evaluations must be an int in [1, 1000000]"),
    (["--adaptive", "--objective", "reach"], "--objective must be one of 'impressions'"),
    (["--queries", "20"], "give --adaptive too"),
    (["--adaptive", "--queries", "-1"], "--queries must be an int in [0, 100000]"),
])
def test_cost_evaluations_and_objective_are_checked_before_any_work(argv, needle, capsys):
    from boostbench import cli
    assert cli.main(["cost", "--scenario", "tiny", "--seeds", "1", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


# --- the comparator test (#16): the search against everything chosen by its own rule -------

#: The grid's smallest budget: at $1 tiny saturates (against like_count dozens of points keep
#: the targets in the top k all 24 hours, and the verdict rests on the impressions tie-break).
_CMP_BUDGET, _CMP_EVALUATIONS = 0.25, 100
_CMP_SEARCH, _CMP_HELD = (10_000, 10_001), tuple(range(8))


@pytest.mark.slow
@pytest.mark.parametrize("ranker", ["like_count", "real_interaction"])
def test_no_comparator_chosen_by_the_same_rule_beats_the_search(ranker, tiny_scenario):
    """The comparators — every fixed recipe, every deep-mix variant of them, and 200 random
    points of the space — are chosen by the same rule on the same search seeds and judged
    on the same held-out seeds; the search's worst case is not significantly more expensive
    than any of them (the paired test). On ``tiny`` at one budget, hours in the top k, 100
    evaluations, 2 search and 8 held-out seeds; ``pytest -m slow -k comparator`` (~2 minutes
    for both rankers on 2 cores)."""
    from dataclasses import replace
    from functools import partial

    from boostbench.attacks.adaptive import DEEP_SUPPLIERS, MIXES
    from boostbench.attacks.compose import Recipe
    from boostbench.executors import mapper
    from boostbench.runner import _search_objective
    fixed = [a for a in (ATTACKS.create(n) for n, _ in ATTACKS.items())
             if getattr(a, "goal", "promote") == "promote"]
    deep = [replace(a, name=f"{a.name}+deep", mix=MIXES["deep"]) for a in fixed
            if isinstance(a, Recipe) and a.supplier.name in DEEP_SUPPLIERS]
    comparators = [*fixed, *deep, *(c.recipe() for c in candidates(200, 0))]
    assert len(deep) >= 5 and len(comparators) == len(fixed) + len(deep) + 200
    rk = RANKERS.get(ranker)()
    spec = RunSpec(tiny_scenario, (rk,), tuple(fixed), _CMP_HELD, _CMP_BUDGET)
    res = adaptive_search(spec, rk, budget=_CMP_BUDGET, search_seeds=_CMP_SEARCH,
                          evaluations=_CMP_EVALUATIONS, objective="hours_in_top_k", jobs=2)
    assert res.evaluations <= _CMP_EVALUATIONS
    row = lambda v: (v["hours_in_top_k"], v["impressions"])   # noqa: E731
    fn = partial(_search_objective, spec, rk, _CMP_BUDGET, "hours_in_top_k")
    with mapper(fn, jobs=2) as run:
        on_search = run([(a, s) for a in comparators for s in _CMP_SEARCH])
        means = [tuple(np.mean([row(v) for v in on_search[i:i + len(_CMP_SEARCH)]], axis=0))
                 for i in range(0, len(on_search), len(_CMP_SEARCH))]
        chosen = comparators[max(range(len(means)), key=means.__getitem__)]   # first of ties
        held = run([(a, s) for a in (res.best.recipe(), chosen) for s in _CMP_HELD])
    search_rows, chosen_rows = ([row(v) for v in held[i:i + len(_CMP_HELD)]]
                                for i in (0, len(_CMP_HELD)))
    assert [r[0] for r in search_rows] == res.heldout_scores          # the search's own runs
    t = paired_test(search_rows, chosen_rows)
    assert not t["significant"], (
        f"{chosen.name} (chosen on the search seeds) beats the search's {res.best.label} on "
        f"held-out seeds vs {ranker}: hours in the top k "
        f"{np.mean([r[0] for r in chosen_rows]):.3f} vs {res.heldout_score:.3f}, {t}")


def test_the_cheapest_budget_objective_is_a_bisection_of_the_grid(tiny_scenario):
    """``cheapest_budget``: the cheapest grid budget at which half the targets reach the top k
    (what cost_to_top_k reports), found by bisection — the same budget as scanning the whole
    grid, in at most ceil(log2(G + 1)) simulations — as -log2 of the dollars, ties broken
    by the hours in the top k and the impressions at that budget; 2 x cap when none does."""
    import math

    from boostbench.attacks.adaptive import score_row
    from boostbench.metrics.cost import budget_grid
    from boostbench.runner import _search_objective
    grid = tuple(budget_grid(2.0))                    # $0.25 .. $2: four budgets
    branches = set()
    for ranker, attack in (("like_count", "bot_farm"), ("real_interaction", "bot_farm")):
        rk = RANKERS.get(ranker)()
        spec = RunSpec(tiny_scenario, (rk,), (ATTACKS.create(attack),), (0,), 2.0)
        memo = {}
        v = _search_objective(spec, rk, 2.0, "cheapest_budget", spec.attacks[0], 3, memo=memo,
                              grid=grid)
        scan = [_search_objective(spec, rk, b, "hours_in_top_k", spec.attacks[0], 3, memo=memo)
                for b in grid]
        ok = _reaches(spec, rk, grid, memo)
        branches.add(True in ok)
        want = grid[ok.index(True)] if True in ok else 2.0 * grid[-1]
        assert v["cheapest_budget"] == pytest.approx(-math.log2(want))
        at = ok.index(True) if True in ok else len(grid) - 1
        assert (v["hours_in_top_k"], v["impressions"]) == (
            scan[at]["hours_in_top_k"], scan[at]["impressions"])
        assert v["simulations"] <= math.ceil(math.log2(len(grid) + 1))
        assert score_row(v, "cheapest_budget") == (
            v["cheapest_budget"], v["hours_in_top_k"], v["impressions"])
    assert branches == {True, False}        # one reaches within the grid, one does not


def _reaches(spec, rk, grid, memo):
    """Per grid budget: did at least half the targets spend an hour in the top k (seed 3)?"""
    from boostbench.metrics.rise import HIT_HOURS, hours_in_top_k
    from boostbench.runner import _seed_setup
    from boostbench.simulate import simulate
    if 3 not in memo:
        memo[3] = _seed_setup(spec, 3)
    _, base, buy, kw = memo[3]
    out = []
    for b in grid:
        tr = simulate(spec.mode, base, rk, buy(spec.attacks[0], b), seed=3, **kw)
        out.append(float(np.mean(hours_in_top_k(tr) >= HIT_HOURS * (1 - 1e-9))) >= 0.5)
    return out


# --- the screening rung: a cheap objective chooses which random points are halved ----------

def test_a_screen_fills_the_random_part_of_the_pool_with_its_best_points():
    """With a screen, the pool's random part is the best of the screened points by the
    cheap objective (here the true one on one seed), not the first drawn: the same pool
    size, a better start for the halving, the screening reported apart."""
    kw = dict(budget=1.0, search_seeds=(1, 2), heldout_seeds=(9,), fixed={}, rng=4,
              evaluations=60)
    calls, screened = [], []

    def screen_many(batch):
        screened.extend(batch)
        return [(_separable(a, s), 0.0) for a, s in batch]
    plain = search(_counting(_separable, calls), **kw)
    r = search(_separable, screen=300, screen_many=screen_many, **kw)
    assert r.screened == 300 == len(screened) and {s for _, s in screened} == {1}
    assert r.pool_size == plain.pool_size and r.evaluations <= 60
    random_part = [lab for lab in r.rungs[0]["scores"] if lab in r.screen["passed"]]
    assert random_part and set(random_part) == set(r.screen["passed"])
    # the points passed on are the screen's best: none left out scored higher
    by_label = {a.name.split(":", 1)[-1]: _separable(a, 1) for a, _ in screened}
    worst_in = min(by_label[lab] for lab in r.screen["passed"])
    left_out = [v for lab, v in by_label.items() if lab not in r.rungs[0]["scores"]]
    assert max(left_out) <= worst_in
    assert r.screen["best"][0][1][0] == max(by_label.values())
    # a better start: the screened pool's best first-rung score beats the plain draw's
    assert max(r.rungs[0]["scores"].values()) >= max(plain.rungs[0]["scores"].values())
    assert r.search_score >= plain.search_score
    # reproducible, and no screen is the plain search
    again = search(_separable, screen=300, screen_many=screen_many, **kw)
    assert again.best == r.best and again.rungs == r.rungs
    assert search(_separable, screen=0, **kw).rungs == plain.rungs


def test_a_screen_needs_an_evaluation_budget_and_its_objective():
    kw = dict(budget=1.0, search_seeds=(1, 2), heldout_seeds=(9,), fixed={})
    with pytest.raises(InvalidParameter, match="screen"):
        search(_separable, screen=10, screen_many=lambda b: [0.0] * len(b), **kw)
    with pytest.raises(InvalidParameter, match="screen"):
        search(_separable, screen=10, evaluations=20, **kw)
    with pytest.raises(InvalidParameter, match="screen"):
        search(_separable, screen=-1, evaluations=20, **kw)


@pytest.mark.parametrize("argv, needle", [
    (["--screen", "5"], "give --adaptive too"),
    (["--adaptive", "--screen", "5"], "--screen fills the pool --evaluations sizes"),
    (["--adaptive", "--evaluations", "8", "--screen", "-2"], "--screen must be an int in [0,"),
])
def test_cost_screen_is_checked_before_any_work(argv, needle, capsys):
    from boostbench import cli
    assert cli.main(["cost", "--scenario", "tiny", "--seeds", "1", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


def test_the_screen_runs_the_attack_window_on_the_full_horizons_world(tiny_scenario):
    """The screen's simulation: the seed's world (drawn for the full horizon), a plan that
    ends with the campaign, one budget; reproducible."""
    from boostbench.runner import _screen_objective, _seed_setup
    spec = RunSpec(scenario=tiny_scenario, rankers=(RANKERS.create("like_count"),),
                   attacks=(ATTACKS.create("bot_farm"),), seeds=(0,), budget=2.0)
    memo = {}
    v = _screen_objective(spec, spec.rankers[0], 2.0, spec.attacks[0], 10_000, memo=memo)
    world, base, _, _ = memo[10_000]
    full_world = _seed_setup(spec, 10_000)[0]
    assert world.items.created_at.tolist() == full_world.items.created_at.tolist()
    assert base.plan.round_times[-1] == pytest.approx(
        world.t0 + tiny_scenario.attack_hours * 3600)
    assert 0 < v[0] <= tiny_scenario.attack_hours and v[1] > 0
    assert _screen_objective(spec, spec.rankers[0], 2.0, spec.attacks[0], 10_000,
                             memo={}) == v


def test_a_rankers_searches_share_their_evaluations_and_find_the_same(tiny_scenario,
                                                                       monkeypatch):
    """The defence-aware search scores the fixed recipes on the held-out seeds as the adaptive
    search did: with the adaptive search's evaluations kept (``done``, as ``run_cost`` keeps
    them per ranker) no (attack, seed) is simulated twice, and its result is the one it
    finds on its own."""
    from boostbench import runner
    from boostbench.attacks.adaptive import aware_variants
    calls = []
    real = runner._search_objective

    def counted(spec, ranker, budget, objective, attack, seed, **kw):
        calls.append((attack, seed))
        return real(spec, ranker, budget, objective, attack, seed, **kw)
    monkeypatch.setattr(runner, "_search_objective", counted)
    from boostbench.rankers.defences import Lockstep
    from boostbench.rankers.likes import LikeCount
    from boostbench.rankers.pipeline import Pipeline
    rk = Pipeline(Lockstep(), LikeCount())
    spec = RunSpec(tiny_scenario, (rk,), (ATTACKS.create("bot_farm"),), (0, 1), 0.5)
    kw = dict(budget=0.5, search_seeds=(10_000,), evaluations=3, objective="cheapest_budget",
              grid=(0.25, 0.5))
    done: dict = {}
    first = adaptive_search(spec, rk, done=done, **kw)
    n_first = len(calls)
    warm = aware_variants(first.best, rk.defences)
    shared = adaptive_search(spec, rk, knowledge="defence_aware", include=warm, done=done, **kw)
    n_shared = len(calls) - n_first
    alone = adaptive_search(spec, rk, knowledge="defence_aware", include=warm, **kw)
    n_alone = len(calls) - n_first - n_shared
    assert repr(shared.to_dict()) == repr(alone.to_dict())     # NaN fields compare as text
    assert len(set(calls[:n_first + n_shared])) == n_first + n_shared    # none twice
    assert n_alone - n_shared >= len(spec.seeds)   # bot_farm's held-out seeds, at least
    assert len(done) == n_first + n_shared


@pytest.mark.parametrize("objective", ["cheapest_budget", "hours_in_top_k", "impressions"])
def test_the_fixed_recipes_held_out_evaluations_are_read_from_the_grid(tiny_scenario, objective):
    """``run_cost`` gives each ranker's searches the fixed recipes' held-out evaluations read
    from the budget grid's records: each is what simulating it gives, float for float."""
    from boostbench.runner import _grid_evaluations, _search_objective, run_sweep
    rk = RANKERS.create("real_interaction")
    attacks = tuple(ATTACKS.create(n) for n in ("bot_farm", "mass_report", "top_up"))
    grid = (0.25, 0.5, 1.0)
    spec = RunSpec(tiny_scenario, (rk,), attacks, (0, 1), 1.0)
    records = run_sweep(spec, list(grid))
    read = _grid_evaluations(records, spec, rk, list(grid), objective)
    promote = [a for a in attacks if a.goal == "promote"]
    assert len(promote) == 2 and len(read) == 2 * len(spec.seeds)   # mass_report demotes
    memo: dict = {}
    for (budget, obj, g, attack, seed), v in read.items():
        assert (budget, obj, g) == (1.0, objective, grid) and attack in promote
        assert v == _search_objective(spec, rk, budget, objective, attack, seed, memo=memo,
                                      grid=grid)
    assert not _grid_evaluations(records[1:], spec, rk, list(grid), objective)   # a cell gone
