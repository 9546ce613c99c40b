"""The adaptive attacker: a seeded black-box search over the composable attack space.

Knowledge levels (stated in every result):

- ``fixed``: a named recipe, no feedback;
- ``adaptive``: searches supplier x signal mix x pacing x start delay against the
  ranker's public behaviour (it sees the feed, not the code), choosing on *search
  seeds* by random search with successive halving on common random numbers, and
  is reported on held-out seeds (no winner's curse);
- ``defence_aware`` (needs defences with thresholds) is not built yet.

Sanity flags, as AutoAttack reports them: a random configuration beating the
search's choice, or a fixed recipe beating the adaptive attacker, on held-out seeds.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import check_int, check_real
from ..world import HOUR
from .bots import AGED_BOTS, API_CLIENT, FRESH_BOTS
from .compose import Pacing, Recipe, SignalMix
from .crowds import MATCHED_USERS, PAID_CROWD
from .rings import RING_MEMBERS

__all__ = ["SEARCH_SPACE", "Candidate", "SearchResult", "candidates", "search"]

SUPPLIERS = {s.name: s for s in (FRESH_BOTS, AGED_BOTS, PAID_CROWD, RING_MEMBERS, API_CLIENT,
                                  MATCHED_USERS)}
MIXES = {
    "likes_short": SignalMix(view="short", short_seconds=(2.0, 6.0)),
    "likes_real": SignalMix(view="real"),
    "likes_blind": SignalMix(view="none"),
    "deep": SignalMix(view="complete", like=0.5, comment=0.6, share=0.4),
    "complete_only": SignalMix(view="complete", like=0.0),
    "shares": SignalMix(view="real", like=0.3, share=1.0),
}
PACINGS = {
    "burst": Pacing("burst", hours=2.0),
    "even": Pacing("even"),
    "cold_start": Pacing("cold_start", hours=1.0),
    "tasks": Pacing("tasks"),
}
DELAYS_HOURS = (0.0, 3.0)
SEARCH_SPACE = {"supplier": tuple(SUPPLIERS), "mix": tuple(MIXES), "pacing": tuple(PACINGS),
                "delay_hours": DELAYS_HOURS}


@dataclass(frozen=True)
class Candidate:
    """One point of the search space; ``recipe()`` makes it an attack."""

    supplier: str
    mix: str
    pacing: str
    delay_hours: float = 0.0

    @property
    def label(self) -> str:
        d = f"+{self.delay_hours:g}h" if self.delay_hours else ""
        return f"{self.supplier}/{self.mix}/{self.pacing}{d}"

    def recipe(self) -> Recipe:
        return _Delayed(f"adaptive:{self.label}", SUPPLIERS[self.supplier], MIXES[self.mix],
                        PACINGS[self.pacing], reciprocity=self.supplier == "ring_members",
                        knowledge="adaptive", delay_hours=self.delay_hours)


@dataclass(frozen=True)
class _Delayed(Recipe):
    """A recipe whose campaign starts ``delay_hours`` into the window."""

    delay_hours: float = 0.0

    def __call__(self, obs, targets, budget, window, rng, cost=None):
        start, end = window
        start = min(start + self.delay_hours * HOUR, end - 1.0)
        kw = {} if cost is None else {"cost": cost}
        return Recipe.__call__(self, obs, targets, budget, (start, end), rng, **kw)


def _valid(c: Candidate) -> bool:
    """Combinations a seller can actually deliver."""
    if c.supplier == "api_client":
        return c.mix == "likes_blind"           # an API exploit sends actions, not views
    if c.mix == "likes_blind":
        return c.supplier in ("fresh_bots", "aged_bots")
    if c.supplier == "ring_members":
        return c.mix in ("likes_real", "shares")
    return True


def candidates(n: int, rng) -> list[Candidate]:
    """``n`` distinct valid candidates drawn without replacement (seeded)."""
    n = check_int("n", n, low=1, where="candidates")
    space = [Candidate(*x) for x in itertools.product(*SEARCH_SPACE.values())]
    space = [c for c in space if _valid(c)]
    rng = np.random.default_rng(rng)
    idx = rng.permutation(len(space))[: min(n, len(space))]
    return [space[i] for i in idx]


@dataclass(frozen=True)
class SearchResult:
    """Outcome of one search against one ranker (scores: mean target organic impressions)."""

    ranker: str
    knowledge: str
    budget: float
    best: Candidate
    search_seeds: tuple
    heldout_seeds: tuple
    search_score: float
    heldout_score: float
    best_fixed: str
    best_fixed_score: float
    random_label: str
    random_score: float
    rungs: list = field(default_factory=list)
    flags: list = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["best"] = self.best.label
        return d


def search(evaluate_fn, *, budget: float, search_seeds, heldout_seeds, fixed: dict,
           n_candidates: int = 16, eta: int = 2, rng=0, ranker: str = "") -> SearchResult:
    """Random search with successive halving, chosen on search seeds, reported on held-out ones.

    Parameters
    ----------
    evaluate_fn : callable ``(attack, seed) -> float``
        The attacker's objective for one seed (higher is better for the attacker),
        e.g. the targets' organic impressions in the closed loop. Every candidate
        is scored on the same seeds (common random numbers).
    fixed : dict name -> attack
        The fixed recipes the adaptive attacker must beat (sanity flag).
    n_candidates, eta : int
        Rung r keeps the best 1/eta of the candidates and doubles the seeds used.
    """
    check_real("budget", budget, low=0.0, where="search")
    eta = check_int("eta", eta, low=2, where="search")
    search_seeds, heldout_seeds = tuple(search_seeds), tuple(heldout_seeds)
    rng = np.random.default_rng(rng)
    pool = candidates(n_candidates, rng)
    cache: dict = {}

    def score(c: Candidate, seeds) -> float:
        for s in seeds:
            if (c, s) not in cache:
                cache[c, s] = float(evaluate_fn(c.recipe(), s))
        return float(np.mean([cache[c, s] for s in seeds]))

    alive, n_seeds, rungs = pool, 1, []
    while True:
        seeds = search_seeds[: min(n_seeds, len(search_seeds))]
        scored = sorted(alive, key=lambda c: -score(c, seeds))
        rungs.append({"seeds": list(seeds), "scores": {c.label: score(c, seeds) for c in scored}})
        if len(alive) == 1 or (len(seeds) == len(search_seeds) and len(alive) <= eta):
            break
        alive = scored[: max(1, len(alive) // eta)]
        n_seeds *= 2
    best = scored[0]
    search_score = score(best, search_seeds)
    held = float(np.mean([evaluate_fn(best.recipe(), s) for s in heldout_seeds]))
    fixed_scores = {name: float(np.mean([evaluate_fn(a, s) for s in heldout_seeds]))
                    for name, a in fixed.items()}
    best_fixed = max(fixed_scores, key=fixed_scores.get) if fixed_scores else ""
    rand = candidates(1, rng.integers(2**32))[0]
    rand_score = float(np.mean([evaluate_fn(rand.recipe(), s) for s in heldout_seeds]))
    flags = []
    if rand_score > held:
        flags.append(f"a random configuration ({rand.label}) beat the search on held-out seeds")
    if best_fixed and fixed_scores[best_fixed] > held:
        flags.append(f"the fixed recipe {best_fixed} beat the adaptive attacker on held-out seeds")
    return SearchResult(ranker, "adaptive", float(budget), best, search_seeds, heldout_seeds,
                        search_score, held, best_fixed, fixed_scores.get(best_fixed, float("nan")),
                        rand.label, rand_score, rungs, flags)
