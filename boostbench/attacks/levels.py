"""Knowledge levels above the search: query attackers that must beat the level below.

Attacker knowledge, weakest first: ``fixed`` < ``adaptive`` (``defence_aware`` when it
reads a pipeline's thresholds) < ``query_rank`` < ``query_score``
(:mod:`boostbench.attacks.query`). A query level's pool holds its query attacker and
the winner of the level below; the one with the better objective on the search seeds
wins (the search's rule), and it is reported on the same held-out seeds as the level
below. So knowing more never finds less on the search seeds, by construction; a loss on
the held-out seeds is flagged by the paired test of
:func:`~boostbench.attacks.adaptive.knowledge_flags`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._core.params import check_choice, check_int
from .adaptive import SearchResult, mean_row, score_row
from .query import QUERY_BUDGET, Query

__all__ = ["QUERY_LEVELS", "QueryPoint", "query_level"]

#: The query levels, weakest first.
QUERY_LEVELS = ("query_rank", "query_score")


@dataclass(frozen=True)
class QueryPoint:
    """A query attacker as a point a level chooses (duck-typed like a search Candidate)."""

    feedback: str
    queries: int = QUERY_BUDGET

    @property
    def knowledge(self) -> str:
        return f"query_{self.feedback}"

    @property
    def label(self) -> str:
        return f"{self.knowledge}({self.queries} queries)"

    def recipe(self) -> Query:
        return Query(feedback=self.feedback, queries=self.queries, name=self.knowledge)


def query_level(evaluate_fn, knowledge: str, below: SearchResult, *,
                queries: int = QUERY_BUDGET,
                objective: str = "impressions", evaluate_many=None) -> SearchResult:
    """The ``knowledge`` level (``query_rank`` or ``query_score``) against ``below``'s winner.

    Parameters
    ----------
    evaluate_fn : callable ``(attack, seed) -> float or mapping``
        As for :func:`boostbench.attacks.adaptive.search` (the same objective).
    below : SearchResult
        The level below (its winner, search seeds and held-out seeds are used).
    queries : int
        The query attacker's query budget per run.
    evaluate_many : callable ``(list of (attack, seed)) -> list``, optional
        Evaluates several at once (e.g. in worker processes); defaults to a loop.

    Returns
    -------
    SearchResult
        ``best``: the query attacker or ``below.best``; ``evaluations``: the search-seed
        simulations spent (both points on every search seed). The paired test against the
        level below is :func:`boostbench.attacks.adaptive.knowledge_flags`'s.
    """
    check_choice("knowledge", knowledge, QUERY_LEVELS, where="query_level")
    queries = check_int("queries", queries, low=1, where="query_level")
    many = evaluate_many or (lambda pairs: [evaluate_fn(a, s) for a, s in pairs])
    point = QueryPoint(knowledge.split("_", 1)[1], queries)
    pool = [point, below.best]
    search_seeds, held = tuple(below.search_seeds), tuple(below.heldout_seeds)
    pairs = [(c.recipe(), s) for c in pool for s in search_seeds]
    rows = [score_row(v, objective) for v in many(pairs)]
    n = len(search_seeds)
    scores = [mean_row(rows[i * n:(i + 1) * n]) for i in range(len(pool))]
    # the better on the search seeds; a tie keeps what the level below found
    best = point if scores[0] > scores[1] else below.best
    search_score = scores[pool.index(best)]
    if best is below.best:     # its held-out scores are the level below's
        held_scores = list(below.heldout_scores)
        evaluated = 0
    else:
        held_scores = [score_row(v, objective)[0]
                       for v in many([(best.recipe(), s) for s in held])]
        evaluated = len(held)
    return SearchResult(
        below.ranker, knowledge, below.budget, best, search_seeds, held, search_score[0],
        float(np.mean(held_scores)) if held_scores else float("nan"), below.best_fixed,
        below.best_fixed_score, "", float("nan"),
        rungs=[{"seeds": list(search_seeds),
                "scores": {c.label: s[0] for c, s in zip(pool, scores)}}],
        objective=objective, evaluations=len(pairs),
        convergence=[[len(pairs), search_score[0]]], pool_size=len(pool),
        heldout_scores=held_scores, fixed_heldout=dict(below.fixed_heldout),
        refinement={"held_out_evaluations": evaluated})
