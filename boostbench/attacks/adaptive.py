"""The adaptive attacker: a seeded black-box search over the composable attack space.

Knowledge levels (stated in every result):

- ``fixed``: a named recipe, no feedback;
- ``adaptive``: searches supplier x signal mix x pacing x start delay against the
  ranker's public behaviour (it sees the feed, not the code), choosing on *search
  seeds* by random search with successive halving on common random numbers, and
  is reported on held-out seeds (no winner's curse). The random pool is drawn per
  ranker (seeded by its name) and always holds the deep-engagement warm starts;
- ``defence_aware``: the adaptive space plus pacings and account splits placed just
  below the thresholds the defences declare (a velocity cap's rate, lockstep's
  ``min_items``), starting from the adaptive winner.

Sanity flags, as AutoAttack reports them: a random configuration beating the
search's choice, or a fixed recipe beating the adaptive attacker, on held-out seeds.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np

from .._core.params import check_choice, check_int, check_real
from .._core.units import HOUR
from ..plugins import SUPPLIERS as _SUPPLIER_REGISTRY
from .compose import Recipe, SignalMix
from .pacing import Burst, ColdStart, Even, Tasks, UnderCap

__all__ = ["SEARCH_SPACE", "Candidate", "SearchResult", "candidates", "search", "space",
           "known_thresholds", "knowledge_flags", "aware_variants", "warm_starts"]

# the search's suppliers, in the order its draws index them
SUPPLIERS = {name: _SUPPLIER_REGISTRY.get(name) for name in (
    "fresh_bots", "aged_bots", "paid_crowd", "ring_members", "api_client", "matched_users")}
MIXES = {
    "likes_short": SignalMix(view="short", short_seconds=(2.0, 6.0)),
    "likes_real": SignalMix(view="real"),
    "likes_blind": SignalMix(view="none"),
    "deep": SignalMix(view="complete", like=0.5, comment=0.6, share=0.4),
    "complete_only": SignalMix(view="complete", like=0.0),
    "shares": SignalMix(view="real", like=0.3, share=1.0),
}
PACINGS = {
    "burst": Burst(hours=2.0),
    "even": Even(),
    "cold_start": ColdStart(hours=1.0),
    "tasks": Tasks(),
}
DELAYS_HOURS = (0.0, 3.0)
SEARCH_SPACE = {"supplier": tuple(SUPPLIERS), "mix": tuple(MIXES), "pacing": tuple(PACINGS),
                "delay_hours": DELAYS_HOURS}


@dataclass(frozen=True)
class Candidate:
    """One point of the search space; ``recipe()`` makes it an attack.

    ``cap``/``cap_hours`` (an ``under_cap`` pacing below a known velocity cap) and
    ``targets_per_account`` (below a known lockstep ``min_items``) only appear in
    the ``defence_aware`` space.
    """

    supplier: str
    mix: str
    pacing: str
    delay_hours: float = 0.0
    targets_per_account: int = 0
    cap: int = 0
    cap_hours: float = 1.0
    knowledge: str = "adaptive"

    @property
    def label(self) -> str:
        d = f"+{self.delay_hours:g}h" if self.delay_hours else ""
        pacing = f"under_cap({self.cap}/{self.cap_hours:g}h)" if self.cap else self.pacing
        tpa = f"/{self.targets_per_account}per-acct" if self.targets_per_account else ""
        return f"{self.supplier}/{self.mix}/{pacing}{d}{tpa}"

    def recipe(self) -> Recipe:
        pacing = (UnderCap(cap=self.cap, cap_hours=self.cap_hours) if self.cap
                  else PACINGS[self.pacing])
        return _Delayed(f"{self.knowledge}:{self.label}", SUPPLIERS[self.supplier],
                        MIXES[self.mix], pacing, reciprocity=self.supplier == "ring_members",
                        knowledge=self.knowledge, delay_hours=self.delay_hours,
                        targets_per_account=self.targets_per_account)


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


def known_thresholds(defences) -> dict:
    """What a ``defence_aware`` attacker reads off the defences: caps and lockstep sizes.

    Returns ``{"cap": (max_actions, window_hours) or None, "targets_per_account":
    (0, min_items - 1) or (0,)}`` (duck-typed on the defences' public parameters).
    """
    cap, tpas = None, (0,)
    for d in defences:
        if hasattr(d, "max_actions") and hasattr(d, "window_hours"):
            cap = (int(d.max_actions), float(d.window_hours))
        if hasattr(d, "min_items") and hasattr(d, "min_group"):
            tpas = (0, max(1, int(d.min_items) - 1))
    return {"cap": cap, "targets_per_account": tpas}


def space(knowledge: str = "adaptive", defences=()) -> list[Candidate]:
    """Every valid candidate of a knowledge level, in a fixed order."""
    check_choice("knowledge", knowledge, ("adaptive", "defence_aware"), where="space")
    base = [Candidate(*x, knowledge=knowledge) for x in itertools.product(*SEARCH_SPACE.values())]
    if knowledge == "defence_aware":
        known = known_thresholds(defences)
        if known["cap"] is not None:
            cap, hours = known["cap"]
            base += [Candidate(s, m, "under_cap", d, cap=cap, cap_hours=hours,
                               knowledge=knowledge)
                     for s, m, d in itertools.product(SEARCH_SPACE["supplier"],
                                                      SEARCH_SPACE["mix"], DELAYS_HOURS)]
        base = [Candidate(c.supplier, c.mix, c.pacing, c.delay_hours, tpa, c.cap, c.cap_hours,
                          knowledge) for c in base for tpa in known["targets_per_account"]]
    return [c for c in base if _valid(c)]


def candidates(n: int, rng, knowledge: str = "adaptive", defences=()) -> list[Candidate]:
    """``n`` distinct valid candidates drawn without replacement (seeded)."""
    n = check_int("n", n, low=1, where="candidates")
    space_ = space(knowledge, defences)
    rng = np.random.default_rng(rng)
    idx = rng.permutation(len(space_))[: min(n, len(space_))]
    return [space_[i] for i in idx]


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


#: Suppliers that can deliver deep engagement (full views, comments, shares).
DEEP_SUPPLIERS = ("fresh_bots", "aged_bots", "paid_crowd", "matched_users")


def warm_starts(knowledge: str = "adaptive") -> list[Candidate]:
    """Points every search tries whatever its random draw: each deep-engagement seller
    buying the deep mix at an even pace. A rate-per-view ranker (``real_interaction``) is
    beaten by these or not at all; a random draw of a few candidates from ~200 can miss
    all of them, and then "not reached" would only say the draw was unlucky."""
    return [Candidate(s, "deep", "even", knowledge=knowledge) for s in DEEP_SUPPLIERS]


def aware_variants(c: Candidate, defences) -> list[Candidate]:
    """A weaker attacker's configuration as a ``defence_aware`` one would play it: as is, and
    split below the known lockstep size (a warm start, so knowing more cannot find less)."""
    return [Candidate(c.supplier, c.mix, c.pacing, c.delay_hours, tpa, c.cap, c.cap_hours,
                      "defence_aware")
            for tpa in known_thresholds(defences)["targets_per_account"]]


def search(evaluate_fn, *, budget: float, search_seeds, heldout_seeds, fixed: dict,
           n_candidates: int = 16, eta: int = 2, rng=0, ranker: str = "",
           knowledge: str = "adaptive", defences=(), include=(),
           warm: bool = True) -> SearchResult:
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
    knowledge : {"adaptive", "defence_aware"}
        ``defence_aware`` also searches pacings and account splits placed just
        below the ``defences``' thresholds (:func:`known_thresholds`).
    include : candidates added to the random pool (e.g. :func:`aware_variants` of the
        adaptive winner).
    warm : bool
        Add :func:`warm_starts` (the deep-engagement points) to the pool.
    """
    check_real("budget", budget, low=0.0, where="search")
    eta = check_int("eta", eta, low=2, where="search")
    search_seeds, heldout_seeds = tuple(search_seeds), tuple(heldout_seeds)
    rng = np.random.default_rng(rng)
    pool = candidates(n_candidates, rng, knowledge, defences)
    for c in [*(warm_starts(knowledge) if warm else ()), *include]:
        if c not in pool:
            pool.append(c)
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
    rand = candidates(1, rng.integers(2**32), knowledge, defences)[0]
    rand_score = float(np.mean([evaluate_fn(rand.recipe(), s) for s in heldout_seeds]))
    flags = []
    if rand_score > held:
        flags.append(f"a random configuration ({rand.label}) beat the search on held-out seeds")
    if best_fixed and fixed_scores[best_fixed] > held:
        flags.append(f"the fixed recipe {best_fixed} beat the adaptive attacker on held-out seeds")
    return SearchResult(ranker, knowledge, float(budget), best, search_seeds, heldout_seeds,
                        search_score, held, best_fixed, fixed_scores.get(best_fixed, float("nan")),
                        rand.label, rand_score, rungs, flags)


def knowledge_flags(results) -> list[str]:
    """AutoAttack-style sanity flag across knowledge levels of one ranker x budget:
    a weaker attacker (``adaptive``) scoring above a stronger one (``defence_aware``)
    on held-out seeds means the stronger search was too small or unlucky."""
    by = {r.knowledge: r for r in results}
    weak, strong = by.get("adaptive"), by.get("defence_aware")
    if weak is None or strong is None or weak.heldout_score <= strong.heldout_score:
        return []
    return [f"the adaptive attacker ({weak.best.label}) beat the defence-aware one "
            f"({strong.best.label}) on held-out seeds against {strong.ranker}"]
