"""The adaptive attacker: a seeded black-box search over the composable attack space.

Knowledge levels (stated in every result):

- ``fixed``: a named recipe, no feedback;
- ``adaptive``: searches supplier x signal mix x pacing x start delay x account split x
  shilling filler against the ranker's public behaviour (it sees the feed, not the
  code), choosing on *search seeds* by random search with successive halving on common
  random numbers, and
  is reported on held-out seeds (no winner's curse). The random pool is drawn per
  ranker (seeded by its name) and always holds the deep-engagement warm starts;
- ``defence_aware``: the adaptive space plus pacings and account splits placed just
  below the thresholds the defences declare (a velocity cap's rate, lockstep's
  ``min_items``), starting from the adaptive winner.

With an evaluation budget (``search(..., evaluations=N)``) the pool is as large as half
the budget allows (the whole space when it fits), always holds the warm starts and each
fixed recipe's point of the space (:func:`nearest`; every built-in promoting recipe is
a point of the space exactly), and the halving winner is then refined by changing one
dimension at a time (:func:`neighbours`) until no such change improves it or the budget
is spent.

Sanity flags, as AutoAttack reports them: a random configuration beating the
search's choice, or a fixed recipe beating the adaptive attacker, on held-out seeds —
by a one-sided paired test on the per-seed differences (:func:`paired_test`), so one
lucky draw does not raise a flag.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
from scipy import stats as _stats

from .._core.params import check_choice, check_int, check_real
from .._core.units import HOUR
from ..errors import InvalidParameter
from ..plugins import SUPPLIERS as _SUPPLIER_REGISTRY
from ..stats import sign_flip_pvalue
from .compose import Recipe, SignalMix
from .pacing import Burst, ColdStart, Even, Tasks, UnderCap
from .shilling import FILLER_KINDS, Filler, Shilling

__all__ = ["SEARCH_SPACE", "OBJECTIVES", "FLAG_ALPHA", "Candidate", "SearchResult",
           "candidates", "search", "space", "known_thresholds", "knowledge_flags",
           "aware_variants", "warm_starts", "nearest", "neighbours", "halving_cost",
           "paired_test"]

# the search's suppliers, in the order its draws index them
SUPPLIERS = {name: _SUPPLIER_REGISTRY.get(name) for name in (
    "fresh_bots", "aged_bots", "paid_crowd", "ring_members", "api_client", "matched_users")}
# every built-in promoting recipe is a point of the space: its dwell (2 s: bot_farm and the
# shilling profiles; 3-10 s: task_crowd), its pacing (api_exploit's 10-minute burst), its
# account split and its filler items are values of these dimensions
MIXES = {
    "likes_short": SignalMix(view="short", short_seconds=(2.0, 6.0)),
    "likes_2s": SignalMix(view="short", short_seconds=(2.0, 2.0)),
    "likes_3_10s": SignalMix(view="short", short_seconds=(3.0, 10.0)),
    "likes_real": SignalMix(view="real"),
    "likes_blind": SignalMix(view="none"),
    "deep": SignalMix(view="complete", like=0.5, comment=0.6, share=0.4),
    "complete_only": SignalMix(view="complete", like=0.0),
    "shares": SignalMix(view="real", like=0.3, share=1.0),
}
PACINGS = {
    "burst": Burst(hours=2.0),
    "burst_10min": Burst(hours=1 / 6),
    "even": Even(),
    "cold_start": ColdStart(hours=1.0),
    "tasks": Tasks(),
}
DELAYS_HOURS = (0.0, 3.0)
#: Targets one account acts on: 0 = all of them, 1 = one (more accounts, fewer shared items)
TARGETS_PER_ACCOUNT = (0, 1)
#: Shilling profiles' filler items (:class:`~boostbench.attacks.shilling.Filler`), or none
FILLERS = ("none", *FILLER_KINDS)
SEARCH_SPACE = {"supplier": tuple(SUPPLIERS), "mix": tuple(MIXES), "pacing": tuple(PACINGS),
                "delay_hours": DELAYS_HOURS, "targets_per_account": TARGETS_PER_ACCOUNT,
                "filler": FILLERS}
#: Suppliers whose accounts can be dressed as shilling profiles (the attacker owns them) and
#: the mixes a profile likes its fillers with (a like after a view, or none).
_SHILLING_SUPPLIERS = ("fresh_bots", "aged_bots")
_SHILLING_MIXES = ("likes_short", "likes_2s", "likes_3_10s", "likes_real", "likes_blind")
#: What a search maximises: the targets' mean organic impressions over the horizon; their
#: mean expected hours in the top k (:func:`boostbench.metrics.rise.hours_in_top_k`, what
#: ``reached_top_k`` thresholds), ties broken by impressions; or ``-log2`` of the cheapest
#: budget at which half the targets reach the top k (what ``cost_to_top_k`` reports), ties
#: broken by hours in the top k, then impressions, at that budget.
OBJECTIVES = ("impressions", "hours_in_top_k", "cheapest_budget")
#: Level of the one-sided paired tests behind the held-out sanity flags.
FLAG_ALPHA = 0.05


@dataclass(frozen=True)
class Candidate:
    """One point of the search space; ``recipe()`` makes it an attack.

    ``cap``/``cap_hours`` (an ``under_cap`` pacing below a known velocity cap) and a
    ``targets_per_account`` just below a known lockstep ``min_items`` only appear in the
    ``defence_aware`` space. ``filler``: the accounts are shilling profiles that also like
    filler items (:class:`~boostbench.attacks.shilling.Filler` of that kind), or ``none``.
    """

    supplier: str
    mix: str
    pacing: str
    delay_hours: float = 0.0
    targets_per_account: int = 0
    cap: int = 0
    cap_hours: float = 1.0
    knowledge: str = "adaptive"
    filler: str = "none"

    @property
    def label(self) -> str:
        d = f"+{self.delay_hours:g}h" if self.delay_hours else ""
        pacing = f"under_cap({self.cap}/{self.cap_hours:g}h)" if self.cap else self.pacing
        tpa = f"/{self.targets_per_account}per-acct" if self.targets_per_account else ""
        filler = "" if self.filler == "none" else f"/{self.filler}_fillers"
        return f"{self.supplier}/{self.mix}/{pacing}{d}{tpa}{filler}"

    def recipe(self) -> Recipe:
        pacing = (UnderCap(cap=self.cap, cap_hours=self.cap_hours) if self.cap
                  else PACINGS[self.pacing])
        kw = dict(reciprocity=self.supplier == "ring_members", knowledge=self.knowledge,
                  delay_hours=self.delay_hours, targets_per_account=self.targets_per_account)
        args = (f"{self.knowledge}:{self.label}", SUPPLIERS[self.supplier], MIXES[self.mix],
                pacing)
        if self.filler != "none":
            return _DelayedShilling(*args, filler=Filler(self.filler), **kw)
        return _Delayed(*args, **kw)


class _DelayedCall:
    """Starts a recipe's campaign ``delay_hours`` into the window."""

    def __call__(self, obs, targets, budget, window, rng, cost=None):
        start, end = window
        start = min(start + self.delay_hours * HOUR, end - 1.0)
        kw = {} if cost is None else {"cost": cost}
        return super().__call__(obs, targets, budget, (start, end), rng, **kw)


@dataclass(frozen=True)
class _Delayed(_DelayedCall, Recipe):
    """A recipe whose campaign starts ``delay_hours`` into the window."""

    delay_hours: float = 0.0


@dataclass(frozen=True)
class _DelayedShilling(_DelayedCall, Shilling):
    """Shilling profiles whose campaign starts ``delay_hours`` into the window."""

    delay_hours: float = 0.0


def _valid(c: Candidate) -> bool:
    """Combinations a seller can actually deliver."""
    if c.filler != "none" and (c.supplier not in _SHILLING_SUPPLIERS
                               or c.mix not in _SHILLING_MIXES):
        return False
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
    dims = {**SEARCH_SPACE}
    capped: dict = {}
    if knowledge == "defence_aware":
        known = known_thresholds(defences)
        dims["targets_per_account"] = tuple(dict.fromkeys(
            (*TARGETS_PER_ACCOUNT, *known["targets_per_account"])))
        if known["cap"] is not None:
            capped = dict(zip(("cap", "cap_hours"), known["cap"]), pacing="under_cap")

    def product(dims):
        return [dict(zip(dims, x)) for x in itertools.product(*dims.values())]
    base = [Candidate(**p, knowledge=knowledge) for p in product(dims)]
    if capped:    # one more pacing, placed under the known cap
        rest = {k: v for k, v in dims.items() if k != "pacing"}
        base += [Candidate(**p, **capped, knowledge=knowledge) for p in product(rest)]
    return [c for c in base if _valid(c)]


def candidates(n: int, rng, knowledge: str = "adaptive", defences=()) -> list[Candidate]:
    """``n`` distinct valid candidates drawn without replacement (seeded)."""
    n = check_int("n", n, low=1, where="candidates")
    space_ = space(knowledge, defences)
    rng = np.random.default_rng(rng)
    idx = rng.permutation(len(space_))[: min(n, len(space_))]
    return [space_[i] for i in idx]


_ACTION_NAMES = ("like", "comment", "share", "follow", "report", "not_interested")


def _pacing_distance(p, q) -> float:
    """Sum of absolute parameter differences of two pacings of one type (0 across types:
    the type mismatch is compared first)."""
    if type(p) is not type(q):
        return 0.0
    return float(sum(abs(float(getattr(p, f.name)) - float(getattr(q, f.name)))
                     for f in fields(p)))


def nearest(attack, knowledge: str = "adaptive", defences=()) -> Candidate | None:
    """The point of :func:`space` closest to a fixed recipe, or None for an attack that is
    not a :class:`~boostbench.attacks.compose.Recipe` (a reactive one such as ``top_up``
    has no point in the space).

    Closest lexicographically: same supplier first, then the same view style, the
    smallest L1 distance of the action probabilities, of the short dwell range, the same
    pacing type, its parameters, the start delay, the account split and the filler kind;
    ties go to the earlier point of the space. Every built-in promoting recipe is a point
    of the space (distance 0: its recipe is the attack, but for its name); a user's recipe
    may be only near one (a filler count or a pacing the space does not hold).
    """
    if not isinstance(attack, Recipe):
        return None
    sup, mix, pacing = getattr(attack.supplier, "name", None), attack.mix, attack.pacing
    delay, tpa = float(getattr(attack, "delay_hours", 0.0)), attack.targets_per_account
    filler = getattr(getattr(attack, "filler", None), "kind", "none")

    def distance(c: Candidate):
        m = MIXES[c.mix]
        p = UnderCap(cap=c.cap, cap_hours=c.cap_hours) if c.cap else PACINGS[c.pacing]
        return (c.supplier != sup, m.view != mix.view,
                sum(abs(getattr(m, n) - getattr(mix, n)) for n in _ACTION_NAMES),
                sum(abs(a - b) for a, b in zip(m.short_seconds, mix.short_seconds)),
                type(p) is not type(pacing), _pacing_distance(p, pacing),
                abs(c.delay_hours - delay), c.targets_per_account != tpa, c.filler != filler)
    return min(space(knowledge, defences), key=distance)


#: The dimensions local refinement changes one at a time. A pacing placed under a known
#: velocity cap (``under_cap`` with its cap) is one more value of the pacing dimension.
_DIMENSIONS = (("supplier", lambda c: c.supplier), ("mix", lambda c: c.mix),
               ("pacing", lambda c: (c.pacing, c.cap, c.cap_hours)),
               ("delay_hours", lambda c: c.delay_hours),
               ("targets_per_account", lambda c: c.targets_per_account),
               ("filler", lambda c: c.filler))


def neighbours(c: Candidate, space_) -> list[Candidate]:
    """The points of ``space_`` (of ``c``'s knowledge level) that differ from ``c`` in exactly
    one dimension — supplier, mix, pacing (an ``under_cap`` pacing with its cap included),
    delay, account split, filler — dimension by dimension in that order, each in the
    space's order."""
    mine = [get(c) for _, get in _DIMENSIONS]
    groups: list[list] = [[] for _ in _DIMENSIONS]
    for p in space_:
        if p.knowledge != c.knowledge:
            continue
        diff = [i for i, (_, get) in enumerate(_DIMENSIONS) if get(p) != mine[i]]
        if len(diff) == 1:
            groups[diff[0]].append(p)
    return [p for g in groups for p in g]


def halving_cost(n: int, n_seeds: int, eta: int = 2) -> int:
    """Simulations successive halving of ``n`` candidates spends on ``n_seeds`` search seeds,
    each (candidate, seed) counted once, the winner completed on every seed: rung r scores
    the survivors on the first ``min(2**r, n_seeds)`` seeds and keeps the best 1/eta, until
    one is left or every seed is used and at most ``eta`` are."""
    alive, used, k, cost = int(n), 0, 1, 0
    while True:
        s = min(k, n_seeds)
        cost += alive * (s - used)
        used = s
        if alive == 1 or (s == n_seeds and alive <= eta):
            break
        alive, k = max(1, alive // eta), k * 2
    return cost + (n_seeds - used)


#: Relative size below which two scores count as equal: the simulator's exposure is
#: float32, so equal outcomes reached by different paths differ in the last bits.
_RESOLUTION = 1e-6


def _improves(new, old) -> bool:
    """``new`` beats ``old`` (score tuples, compared in order) by more than float32 noise."""
    for a, b in zip(new, old):
        tol = _RESOLUTION * max(1.0, abs(a), abs(b))
        if a > b + tol:
            return True
        if a < b - tol:
            return False
    return False


def paired_test(winner, other, alpha: float = FLAG_ALPHA) -> dict:
    """Is ``other`` better than ``winner`` on the same held-out seeds? (one-sided, paired)

    ``winner`` and ``other`` hold one row per held-out seed (the objective, then its
    tie-break). The test is on the per-seed differences ``other - winner`` of the
    objective — of the tie-break when the objective ties on every seed — against H1
    "centred above 0": a one-sided one-sample t-test (``scipy.stats.ttest_1samp``) when it
    is defined, else (fewer than 2 seeds, or differences without spread) the exact
    sign-flip test (:func:`boostbench.stats.sign_flip_pvalue`), whose smallest p-value is
    ``2**-n``: with 4 held-out seeds or fewer, identical differences never flag.
    Differences within ``1e-6`` of the scores' magnitude count as 0 and a spread within
    it as none: the simulator's exposure is float32, so two seeds' "equal" differences
    (a saturated world's 2/3 of an impression on each) differ in the last bits, and a
    t-test on that would call a rounding error certain. ``significant``: ``pvalue < alpha``.
    """
    w, o = np.asarray(winner, np.float64), np.asarray(other, np.float64)
    w, o = (x.reshape(len(x), -1) if x.size else x.reshape(0, 1) for x in (w, o))

    def diff(i):
        d = o[:, i] - w[:, i]
        d = d[np.isfinite(d)]
        scale = np.abs(np.concatenate([w[:, i], o[:, i]]))
        tol = _RESOLUTION * max(1.0, float(np.max(scale[np.isfinite(scale)], initial=0.0)))
        return np.where(np.abs(d) <= tol, 0.0, d), tol
    on = 0
    d, tol = diff(0)
    if w.shape[1] > 1 and d.size and np.all(d == 0):
        on, (d, tol) = 1, diff(1)
    n, method, stat, p = int(d.size), "sign-flip", float(d.sum()), float("nan")
    if n >= 2 and np.ptp(d) > tol:
        with warnings.catch_warnings():   # near-identical values: the p-value stands
            warnings.simplefilter("ignore", RuntimeWarning)
            res = _stats.ttest_1samp(d, 0.0, alternative="greater")
        if np.isfinite(res.pvalue):
            method, stat, p = "t", float(res.statistic), float(res.pvalue)
    if method == "sign-flip" and n:
        p = sign_flip_pvalue(d)
    return {"method": method, "on": "objective" if on == 0 else "tie-break", "n": n,
            "mean_difference": float(d.mean()) if n else float("nan"), "statistic": stat,
            "pvalue": p, "alpha": float(alpha), "significant": bool(p < alpha)}


def mean_row(rows) -> tuple:
    """Per-seed score rows averaged column by column (objective, then its tie-break)."""
    return tuple(float(np.mean([r[i] for r in rows])) for i in range(len(rows[0])))


def score_row(v, objective: str) -> tuple:
    """One seed's score from an objective function's value ``v``: ``(objective,)``, or
    ``(objective, tie-breaks...)`` when ``v`` is a mapping holding them (impressions; for
    ``cheapest_budget`` hours in the top k, then impressions)."""
    if isinstance(v, Mapping):
        ties = (("hours_in_top_k", "impressions") if objective == "cheapest_budget"
                else ("impressions",) if objective != "impressions" else ())
        return (float(v[objective]), *(float(v[t]) for t in ties if t in v))
    return (float(v),)


@dataclass(frozen=True)
class SearchResult:
    """Outcome of one search against one ranker.

    Scores are in the ``objective``'s units (mean target organic impressions, or mean
    expected hours in the top k). ``evaluations``: (candidate, search seed) simulations
    spent, each counted once (the held-out scoring — winner, fixed recipes, random
    configuration on every held-out seed — comes on top); ``evaluation_budget``: the
    budget asked for (None: the halving of ``n_candidates`` alone). ``convergence``:
    ``[evaluations spent, best search score so far]`` pairs, from the halving winner
    (scored on every search seed) through each refinement move to the end (each rung's
    scores are in ``rungs``). ``heldout_scores``, ``fixed_heldout`` and ``random_scores``
    are per held-out seed; ``tests`` holds the paired tests behind the flags.
    ``screened``: points scored by the cheap screening rung before the halving (not
    counted in ``evaluations``); ``screen`` its seed and the pool it passed on.
    """

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
    objective: str = "impressions"
    evaluation_budget: int | None = None
    evaluations: int = 0
    convergence: list = field(default_factory=list)
    pool_size: int = 0
    fixed_points: dict = field(default_factory=dict)
    refinement: dict = field(default_factory=dict)
    heldout_scores: list = field(default_factory=list)
    fixed_heldout: dict = field(default_factory=dict)
    random_scores: list = field(default_factory=list)
    tests: dict = field(default_factory=dict)
    screened: int = 0
    screen: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["best"] = self.best.label
        return d


#: Suppliers that can deliver deep engagement (full views, comments, shares).
DEEP_SUPPLIERS = ("fresh_bots", "aged_bots", "paid_crowd", "matched_users")


def warm_starts(knowledge: str = "adaptive") -> list[Candidate]:
    """Points every search tries whatever its random draw: each deep-engagement seller
    buying the deep mix at an even pace. A rate-per-view ranker (``real_interaction``) is
    beaten by these or not at all; a random draw of a few candidates from ~1,300 can miss
    all of them, and then "not reached" would only say the draw was unlucky."""
    return [Candidate(s, "deep", "even", knowledge=knowledge) for s in DEEP_SUPPLIERS]


def aware_variants(c: Candidate, defences) -> list[Candidate]:
    """A weaker attacker's configuration as a ``defence_aware`` one would play it: as is, and
    split below the known lockstep size (a warm start, so knowing more cannot find less)."""
    tpas = (c.targets_per_account, *known_thresholds(defences)["targets_per_account"][1:])
    return [replace(c, targets_per_account=tpa, knowledge="defence_aware")
            for tpa in dict.fromkeys(tpas)]


def search(evaluate_fn, *, budget: float, search_seeds, heldout_seeds, fixed: dict,
           n_candidates: int = 16, eta: int = 2, rng=0, ranker: str = "",
           knowledge: str = "adaptive", defences=(), include=(),
           warm: bool = True, evaluations: int | None = None,
           objective: str = "impressions", evaluate_many=None, screen: int = 0,
           screen_many=None) -> SearchResult:
    """Random search with successive halving, chosen on search seeds, reported on held-out ones.

    Parameters
    ----------
    evaluate_fn : callable ``(attack, seed) -> float or mapping``
        The attacker's objective for one seed (higher is better for the attacker),
        e.g. the targets' organic impressions in the closed loop: a number, or a
        mapping holding the ``objective`` (and ``"impressions"``, its tie-break). Every
        candidate is scored on the same seeds (common random numbers).
    fixed : dict name -> attack
        The fixed recipes the adaptive attacker must beat (sanity flag).
    n_candidates, eta : int
        Rung r keeps the best 1/eta of the candidates and doubles the seeds used.
        ``n_candidates`` is the random pool without ``evaluations`` (ignored with it).
    knowledge : {"adaptive", "defence_aware"}
        ``defence_aware`` also searches pacings and account splits placed just
        below the ``defences``' thresholds (:func:`known_thresholds`).
    include : candidates added to the random pool (e.g. :func:`aware_variants` of the
        adaptive winner).
    warm : bool
        Add :func:`warm_starts` (the deep-engagement points) to the pool.
    evaluations : int or None
        The budget of (candidate, search seed) simulations, each counted once (at least
        the number of search seeds). None: ``n_candidates`` random points plus the warm
        starts and ``include``, halved, nothing more. A number: the largest pool whose
        halving (:func:`halving_cost`) spends at most half the budget — the whole space
        when it fits — holding ``include``, the warm starts and each fixed recipe's
        :func:`nearest` point (when half the budget cannot halve them all, as many of
        them, in that order, as the whole budget can);
        then local refinement: from the halving winner, each single-dimension change
        (:func:`neighbours`), scored on every search seed, in order; the first that
        improves (by more than float32 resolution, a relative 1e-6) is taken and the
        scan restarts from it, until none improves (a local optimum) or none that is
        left fits the budget. A function of the budget, the seeds and ``rng`` only.
    objective : {"impressions", "hours_in_top_k"}
        What a mapping-valued ``evaluate_fn`` is read for; with ``hours_in_top_k``
        ties (e.g. no candidate reaching the top k) are broken by impressions.
    evaluate_many : callable ``(list of (attack, seed)) -> list``, optional
        ``evaluate_fn`` over a batch of independent simulations, results in the batch's
        order — in parallel processes, say. Default: one after another. Batches are each
        halving rung's unscored (candidate, seed) pairs, one refinement move's search seeds
        (moves are tried one at a time) and the whole held-out scoring; the result is the
        same whatever runs them, given ``evaluate_fn``'s results.
    screen : int
        With ``evaluations``: first score this many points of the random draw (after the
        must-haves) with ``screen_many`` — a cheaper, lower-fidelity objective (one search
        seed, say, a shorter horizon and one budget), higher is better, a number or a
        tuple compared in order — and fill the halving pool's random part with the best
        of them (ties in draw order) instead of the first drawn. Multi-fidelity racing,
        as Hyperband's low rungs: the pool's size and everything after it are unchanged,
        and screening simulations are reported apart (``screened``), not counted in
        ``evaluations``. 0: no screening.
    screen_many : callable ``(list of (attack, seed)) -> list``
        The screening objective over a batch (required when ``screen`` > 0).

    The sanity flags compare the winner with the best fixed recipe and with one random
    configuration on the held-out seeds by :func:`paired_test` (one-sided, alpha
    :data:`FLAG_ALPHA`): a flag means the other was significantly better.
    """
    check_real("budget", budget, low=0.0, where="search")
    eta = check_int("eta", eta, low=2, where="search")
    objective = check_choice("objective", objective, OBJECTIVES, where="search")
    search_seeds, heldout_seeds = tuple(search_seeds), tuple(heldout_seeds)
    if evaluations is not None:
        evaluations = check_int("evaluations", evaluations, low=max(1, len(search_seeds)),
                                where="search")
    screen = check_int("screen", screen, low=0, where="search")
    if screen and (evaluations is None or screen_many is None or not search_seeds):
        raise InvalidParameter("search: screen > 0 needs evaluations, screen_many and a "
                               f"search seed. Got screen={screen}, evaluations={evaluations}.",
                               name="screen")
    rng = np.random.default_rng(rng)
    screen_info: dict = {}
    fixed_points: dict = {}
    if evaluations is None:
        pool = candidates(n_candidates, rng, knowledge, defences)
        for c in [*(warm_starts(knowledge) if warm else ()), *include]:
            if c not in pool:
                pool.append(c)
    else:
        fixed_points = {name: nearest(a, knowledge, defences) for name, a in fixed.items()}
        must: list = []
        for c in [*include, *(warm_starts(knowledge) if warm else ()),
                  *(p for p in fixed_points.values() if p is not None)]:
            if c not in must:
                must.append(c)
        space_ = space(knowledge, defences)
        drawn = [space_[i] for i in rng.permutation(len(space_))]   # as candidates() draws
        rest = [c for c in drawn if c not in must]
        if screen:
            rest, screen_info = _screened(rest, screen, screen_many, search_seeds[0])
            head = set(rest[:screen])
        sizes = range(1, len(rest) + len(must) + 1)
        n = max((m for m in sizes if halving_cost(m, len(search_seeds), eta) <= evaluations / 2),
                default=0)
        if n < max(1, len(must)):   # the must-haves alone overrun half the budget: as many
            n = max(m for m in range(1, max(1, len(must)) + 1)      # as the whole of it holds
                    if halving_cost(m, len(search_seeds), eta) <= evaluations)
            pool = (must or rest)[:n]
        else:
            pool = rest[: n - len(must)] + must
    cache: dict = {}
    if evaluate_many is None:
        def evaluate_many(calls):
            return [evaluate_fn(attack, seed) for attack, seed in calls]

    def values(v) -> tuple:
        return score_row(v, objective)

    def fill(cands, seeds) -> None:
        """Evaluate the (candidate, seed) pairs not yet cached, as one batch."""
        todo = [(c, s) for c in cands for s in seeds if (c, s) not in cache]
        if not todo:
            return
        for key, v in zip(todo, evaluate_many([(c.recipe(), s) for c, s in todo])):
            cache[key] = values(v)

    def score(c: Candidate, seeds) -> tuple:
        fill([c], seeds)
        return mean_row([cache[c, s] for s in seeds])

    alive, n_seeds, rungs = pool, 1, []
    while True:
        seeds = search_seeds[: min(n_seeds, len(search_seeds))]
        fill(alive, seeds)
        scored = sorted(alive, key=lambda c: tuple(-x for x in score(c, seeds)))
        rungs.append({"seeds": list(seeds),
                      "scores": {c.label: score(c, seeds)[0] for c in scored}})
        if len(alive) == 1 or (len(seeds) == len(search_seeds) and len(alive) <= eta):
            break
        alive = scored[: max(1, len(alive) // eta)]
        n_seeds *= 2
    best = scored[0]
    best_score = score(best, search_seeds)
    convergence = [[len(cache), best_score[0]]]
    refinement: dict = {}
    if evaluations is not None:
        space_ = space(knowledge, defences)
        moves, start, short = [], best.label, False
        moved = True
        while moved:
            moved = short = False
            for c in neighbours(best, space_):
                if sum((c, s) not in cache for s in search_seeds) > evaluations - len(cache):
                    short = True          # does not fit what is left; a cheaper one may
                    continue
                sc = score(c, search_seeds)
                if _improves(sc, best_score):
                    best, best_score, moved = c, sc, True
                    moves.append(c.label)
                    convergence.append([len(cache), best_score[0]])
                    break
        if convergence[-1][0] != len(cache):
            convergence.append([len(cache), best_score[0]])
        refinement = {"start": start, "moves": moves,
                      "stopped": "budget" if short else "local optimum"}
    spent = len(cache)
    if evaluations is not None and spent > evaluations:   # by construction; never silently
        raise AssertionError(f"search spent {spent} of {evaluations} evaluations")

    # winner, fixed recipes and a random configuration on every held-out seed: one batch
    rand = candidates(1, rng.integers(2**32), knowledge, defences)[0]
    attacks = [best.recipe(), *fixed.values(), rand.recipe()]
    done = iter(evaluate_many([(a, s) for a in attacks for s in heldout_seeds]))
    held_rows, *fixed_list, rand_rows = [[values(next(done)) for _ in heldout_seeds]
                                         for _ in attacks]
    held = float(np.mean([r[0] for r in held_rows]))
    fixed_rows = dict(zip(fixed, fixed_list))
    fixed_means = ({name: mean_row(rows) for name, rows in fixed_rows.items()}
                   if heldout_seeds else {})
    best_fixed = max(fixed_means, key=fixed_means.get) if fixed_means else ""
    rand_score = float(np.mean([r[0] for r in rand_rows]))
    tests = {"random": {"against": rand.label, **paired_test(held_rows, rand_rows)}}
    if best_fixed:
        tests["fixed"] = {"against": best_fixed, **paired_test(held_rows, fixed_rows[best_fixed])}
    flags = []
    for what, t in tests.items():
        if t["significant"]:
            flags.append(f"a random configuration ({rand.label}) beat the search on held-out "
                         f"seeds ({_why(t)})" if what == "random" else
                         f"the fixed recipe {best_fixed} beat the adaptive attacker on held-out "
                         f"seeds ({_why(t)})")
    return SearchResult(
        ranker, knowledge, float(budget), best, search_seeds, heldout_seeds, best_score[0],
        held, best_fixed,
        float(np.mean([r[0] for r in fixed_rows[best_fixed]])) if best_fixed else float("nan"),
        rand.label, rand_score, rungs, flags, objective=objective,
        evaluation_budget=evaluations, evaluations=spent, convergence=convergence,
        pool_size=len(pool),
        fixed_points={k: (v.label if v is not None else None) for k, v in fixed_points.items()},
        refinement=refinement, heldout_scores=[r[0] for r in held_rows],
        fixed_heldout={k: [r[0] for r in rows] for k, rows in fixed_rows.items()},
        random_scores=[r[0] for r in rand_rows], tests=tests,
        screened=screen_info.get("screened", 0),
        screen={**screen_info, "passed": [c.label for c in pool if c in head]}
        if screen_info else {})


def _screened(rest: list, n: int, screen_many, seed) -> tuple[list, dict]:
    """``rest`` with its first ``n`` points reordered best first by the screening objective
    on ``seed`` (ties in draw order), and what the screen did."""
    head = rest[:n]
    values = screen_many([(c.recipe(), seed) for c in head])
    keys = [tuple(float(x) for x in (v if isinstance(v, (tuple, list)) else (v,)))
            for v in values]
    order = sorted(range(len(head)), key=lambda i: tuple(-x for x in keys[i]))
    best = [head[i] for i in order]
    return best + rest[n:], {"screened": len(head), "seed": int(seed),
                             "best": [[c.label, list(keys[i])] for c, i in
                                      zip(best[:5], order[:5])]}


def _why(t: dict) -> str:
    """A :func:`paired_test` result in a flag's words."""
    return (f"one-sided paired {t['method']} test on {t['n']} seeds, p={t['pvalue']:.3g}"
            f"{', on its tie-break (the objective tied)' if t['on'] == 'tie-break' else ''}")


#: Knowledge levels a search or a query level reports, weakest first (``fixed`` recipes are
#: the searches' own baseline, flagged inside :func:`search`).
LEVELS = ("adaptive", "defence_aware", "query_rank", "query_score")


def knowledge_flags(results) -> list[str]:
    """AutoAttack-style sanity flags across the knowledge levels of one ranker x budget: a
    weaker level (:data:`LEVELS` order) significantly above a stronger one on held-out
    seeds means the stronger search was too small or unlucky.

    Every pair of levels present is compared; all are scored on the same held-out seeds,
    so the test is :func:`paired_test` on their per-seed ``heldout_scores`` (one-sided,
    alpha :data:`FLAG_ALPHA`): one lucky seed does not flag.
    """
    by = {r.knowledge: r for r in results}
    present = [by[k] for k in LEVELS if k in by]
    flags = []
    for j, strong in enumerate(present):
        for weak in present[:j]:
            if tuple(weak.heldout_seeds) != tuple(strong.heldout_seeds):
                raise InvalidParameter(
                    f"knowledge_flags pairs the levels seed by seed: the {weak.knowledge} "
                    f"search was held out on seeds {list(weak.heldout_seeds)}, the "
                    f"{strong.knowledge} one on {list(strong.heldout_seeds)}.", name="results")
            t = paired_test(strong.heldout_scores, weak.heldout_scores)
            if t["significant"]:
                flags.append(f"the {weak.knowledge} attacker ({weak.best.label}) beat the "
                             f"{strong.knowledge} one ({strong.best.label}) on held-out seeds "
                             f"against {strong.ranker} ({_why(t)})")
    return flags
