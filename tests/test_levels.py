"""Knowledge levels: a query level holds the level below's winner, so it never finds less."""

import numpy as np
import pytest

from boostbench.attacks.adaptive import knowledge_flags, search
from boostbench.attacks.levels import QUERY_LEVELS, QueryPoint, query_level
from boostbench.attacks.query import Query
from boostbench.errors import InvalidParameter


def _objective(query_score, search_table=None, query_impressions=10.0):
    """A synthetic objective: the query attacker scores ``query_score(seed)`` hours (and
    ``query_impressions``); every search configuration 1.0 hours (or its entry in
    ``search_table``) and 5 impressions."""
    def fn(attack, seed):
        if isinstance(attack, Query):
            return {"hours_in_top_k": query_score(seed), "impressions": query_impressions}
        label = attack.name.split(":", 1)[-1]
        return {"hours_in_top_k": (search_table or {}).get(label, 1.0), "impressions": 5.0}
    return fn


def _below(fn):
    return search(fn, budget=2.0, search_seeds=(10, 11), heldout_seeds=(0, 1, 2, 3, 4, 5),
                  fixed={}, n_candidates=2, rng=0, objective="hours_in_top_k")


def test_query_point_makes_the_query_attacker_of_its_level():
    p = QueryPoint("score", 40)
    assert p.knowledge == "query_score" and p.knowledge in QUERY_LEVELS
    a = p.recipe()
    assert isinstance(a, Query) and a.knowledge == "query_score" and a.queries == 40
    assert p.label == "query_score(40 queries)"


def test_a_better_query_attacker_wins_and_is_scored_on_the_same_held_out_seeds():
    fn = _objective(lambda s: 3.0 + 0.01 * s)
    below = _below(fn)
    res = query_level(fn, "query_rank", below, objective="hours_in_top_k")
    assert res.best == QueryPoint("rank") and res.knowledge == "query_rank"
    assert res.heldout_seeds == below.heldout_seeds and res.search_seeds == below.search_seeds
    assert res.heldout_scores == pytest.approx([3.0 + 0.01 * s for s in below.heldout_seeds])
    assert res.evaluations == 2 * len(below.search_seeds) and res.pool_size == 2
    assert knowledge_flags([below, res]) == []


@pytest.mark.parametrize("q", [0.5, 1.0])
def test_knowing_more_never_finds_less_the_level_below_is_kept_on_a_loss_or_a_tie(q):
    fn = _objective(lambda s: q, query_impressions=5.0)
    below = _below(fn)
    res = query_level(fn, "query_score", below, objective="hours_in_top_k")
    assert res.best == below.best
    assert res.search_score >= below.search_score
    assert res.heldout_scores == below.heldout_scores   # not re-run: the same numbers
    assert res.refinement["held_out_evaluations"] == 0


def test_a_held_out_loss_to_the_level_below_is_flagged_by_the_paired_test():
    # the query attacker wins on the search seeds (10, 11) and loses on every held-out seed
    fn = _objective(lambda s: 5.0 if s >= 10 else 0.2 + 0.01 * s)
    below = _below(fn)
    res = query_level(fn, "query_rank", below, objective="hours_in_top_k")
    assert res.best == QueryPoint("rank")
    flags = knowledge_flags([below, res])
    assert len(flags) == 1 and "query_rank" in flags[0] and "paired" in flags[0]


def test_bad_level_and_query_budget_name_themselves():
    fn = _objective(lambda s: 1.0)
    below = _below(fn)
    with pytest.raises(InvalidParameter, match="knowledge"):
        query_level(fn, "adaptive", below)
    with pytest.raises(InvalidParameter, match="queries"):
        query_level(fn, "query_rank", below, queries=0)


def test_evaluate_many_gets_each_batch_and_gives_the_same_result():
    fn = _objective(lambda s: 2.0 + np.sin(s))
    below = _below(fn)
    batches = []

    def many(pairs):
        batches.append(len(pairs))
        return [fn(a, s) for a, s in pairs]
    a = query_level(fn, "query_rank", below, objective="hours_in_top_k")
    b = query_level(fn, "query_rank", below, objective="hours_in_top_k", evaluate_many=many)
    assert repr(a.to_dict()) == repr(b.to_dict())        # NaN fields compare as text
    assert batches[0] == 2 * len(below.search_seeds)


def test_cost_runs_the_query_levels_against_the_best_level_below(tmp_path, capsys):
    """End to end on tiny: the query levels follow the adaptive search, each holding the
    level below's winner; their query attackers' grids are in the records when they win."""
    import json
    from boostbench import cli
    out = tmp_path / "cost.json"
    assert cli.main(["cost", "--scenario", "tiny", "--rankers", "like_count", "--attacks",
                     "bot_farm", "--adaptive", "--seeds", "1", "--cap", "0.25",
                     "--search-seeds", "1", "--evaluations", "1", "--queries", "20", "--quiet",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "attacker knowledge: fixed + adaptive + query_rank + query_score" in text
    data = json.loads(out.read_text())
    levels = [r["knowledge"] for r in data["searches"]]
    assert levels == ["adaptive", "query_rank", "query_score"]
    below = data["searches"][0]
    for r in data["searches"][1:]:
        assert r["heldout_seeds"] == below["heldout_seeds"] and r["pool_size"] == 2
        assert r["search_score"] >= below["search_score"]
        won = r["best"].startswith(r["knowledge"])
        assert won == any(x["attack"] == r["knowledge"] for x in data["runs"])
