import numpy as np
import pytest

from boostbench.attacks.adaptive import (SEARCH_SPACE, Candidate, candidates, knowledge_flags,
                                         known_thresholds, search, space, warm_starts)
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
    r = search(fn, budget=1.0, search_seeds=(1, 2), heldout_seeds=(3,),
               fixed={"bot_farm": strong_fixed}, n_candidates=4, rng=2)
    assert any("fixed recipe bot_farm beat" in f for f in r.flags)


def test_adaptive_search_is_reproducible_and_keeps_seeds_apart(tiny_scenario):
    spec = RunSpec(tiny_scenario, (RANKERS.get("real_interaction")(),),
                   (ATTACKS.get("task_crowd")(),), (0,), 1.0)
    kw = dict(budget=1.0, search_seeds=(100, 101), n_candidates=4, rng=3)
    a = adaptive_search(spec, spec.rankers[0], **kw)
    b = adaptive_search(spec, spec.rankers[0], **kw)
    assert a.to_dict() == b.to_dict()
    # another ranker gets its own draw of the space (seeded by its name), not the same one
    other = adaptive_search(spec, RANKERS.get("like_count")(), **kw)
    assert set(other.rungs[0]["scores"]) != set(a.rungs[0]["scores"])
    assert a.heldout_seeds == (0,) and a.best_fixed == "task_crowd"
    with pytest.raises(InvalidParameter, match="differ from the held-out"):
        adaptive_search(spec, spec.rankers[0], budget=1.0, search_seeds=(0, 5))


def test_defence_aware_space_adds_moves_just_below_known_thresholds():
    from boostbench.rankers.defences import Lockstep, VelocityCap
    plain = space("adaptive")
    assert space("defence_aware") == [
        Candidate(c.supplier, c.mix, c.pacing, c.delay_hours, knowledge="defence_aware")
        for c in plain]                                  # no defences: nothing more to know
    known = known_thresholds([VelocityCap(max_actions=7, window_hours=2.0), Lockstep(min_items=4)])
    assert known == {"cap": (7, 2.0), "targets_per_account": (0, 3)}
    aware = space("defence_aware", [VelocityCap(max_actions=7, window_hours=2.0),
                                    Lockstep(min_items=4)])
    assert len(aware) > 2 * len(plain)
    capped = [c for c in aware if c.cap]
    assert capped and all(c.cap == 7 and c.cap_hours == 2.0 for c in capped)
    assert {c.targets_per_account for c in aware} == {0, 3}
    r = capped[0].recipe()
    assert r.knowledge == "defence_aware" and r.pacing.name == "under_cap" and r.pacing.cap == 7


def test_knowledge_flag_when_the_weaker_attacker_wins():
    pool = candidates(2, 0)
    mk = lambda k, score: search(lambda a, s: score, budget=1.0,  # noqa: E731
                                 search_seeds=(1,), heldout_seeds=(2,), fixed={},
                                 n_candidates=2, rng=0, knowledge=k)
    assert pool
    weak, strong = mk("adaptive", 5.0), mk("defence_aware", 3.0)
    assert strong.knowledge == "defence_aware"
    assert knowledge_flags([weak, strong]) and not knowledge_flags([mk("adaptive", 1.0), strong])


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
