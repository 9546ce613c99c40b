"""Validation: does the world model reproduce what careful experiments measured about people?

Each experiment returns a :class:`Experiment` holding the published figures next to
the measured ones and a verdict: ``in band`` (inside the published band), ``direction
only`` (the effect goes the published way, magnitude outside or no band), ``self-check``
(holds by construction) or ``differs``.
``quick=True`` runs a small version for the test suite.

Experiments
-----------
herding
    Muchnik, Aral & Taylor, Science 341:647 (2013): items with one fake like at
    publication vs the same items without it (common random numbers), at herding
    0, 1/2, 1 and 2 times its default strength.
musiclab
    Salganik, Dodds & Watts, Science 311:854 (2006): 48 items on one page,
    independent and social worlds, in random order (experiment 1) or sorted by likes
    (experiment 2); Gini of like shares, unpredictability across worlds and the rank
    correlation of independent and social shares.
position_bias
    Equal-quality items, herding off: likes by slot against the examination curve.
exposure_inequality
    The closed loop on the ``platform`` world: Gini of exposure across the items posted
    in the window and the top 1% share of views, next to the cold-start quota's bound,
    against Tenrec QK-video (Yuan et al., NeurIPS 2022 Datasets: Gini 0.93–0.95, top 1%
    ≈ 66%).
engagement_rates
    Organic views, likes, comments, shares and hides per impression in the window of
    each ranker family's clean closed loop, against KuaiRand (Gao et al., CIKM 2022)
    and Tenrec QK-video: the datasets log a ranked feed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.stats import spearmanr

from ._core.random import STREAMS, CounterUniforms, hash_uniforms
from ._core.units import DAY
from .behaviour import Behaviour, BehaviourParams
from ._core.params import check_choice
from .errors import InvalidParameter
from .events import N_KINDS, EventKind
from .feed import examination_curve

__all__ = ["Experiment", "gini", "unpredictability", "EXPERIMENTS", "run_experiments",
           "market", "musiclab_page_curve", "musiclab_summary"]


@dataclass(frozen=True)
class Experiment:
    """Published and measured figures of one validation experiment.

    ``direction_ok``: the effect goes the published way. ``band_ok``: the measured value
    lies in the published band (None: the source gives no band to compare with).
    ``self_check``: the figure holds by construction (the model's input comes back out),
    so it checks the code, not the model.
    """

    name: str
    source: str
    published: dict
    measured: dict
    direction_ok: bool
    notes: str = ""
    params: dict = field(default_factory=dict)
    band_ok: bool | None = None
    self_check: bool = False

    @property
    def verdict(self) -> str:
        """``in band``, ``direction only``, ``self-check`` or ``differs``."""
        if self.self_check:
            return "self-check" if self.direction_ok else "differs"
        if self.band_ok:
            return "in band"
        return "direction only" if self.direction_ok else "differs"

    def to_dict(self) -> dict:
        return {**asdict(self), "verdict": self.verdict}


def gini(x) -> float:
    """Gini coefficient of non-negative values: sum_ij |x_i - x_j| / (2 n^2 mean).

    Examples
    --------
    >>> gini([1, 1, 1, 1]), gini([0, 0, 0, 4])
    (0.0, 0.75)
    """
    x = np.sort(np.asarray(x, np.float64))
    n = x.size
    if n == 0 or x.sum() == 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(np.sum((2 * i - n - 1) * x) / (n * x.sum()))


def unpredictability(shares) -> float:
    """Salganik et al.'s U: mean over items of the mean |share difference| over pairs of worlds.

    ``shares`` has shape (n_worlds, n_items).
    """
    s = np.asarray(shares, np.float64)
    w = s.shape[0]
    if w < 2:
        return float("nan")
    i, j = np.triu_indices(w, 1)
    return float(np.mean(np.abs(s[i] - s[j])))


def _behaviour(quality, appeal, n_users, params, rng) -> Behaviour:
    n = quality.size
    dur = np.full(n, 14.0, np.float32)
    zeros_i, zeros_u = np.zeros(n, np.int16), np.zeros(n_users, np.int16)
    sample = (rng.integers(0, n_users, 20_000), rng.integers(0, n, 20_000))
    return Behaviour.fit(params, quality.astype(np.float32), appeal.astype(np.float32), dur,
                         zeros_i, zeros_u, sample, rng)


# the markets' own draws, keyed by the experiment's key (decisions: behaviour's streams)
_S_ORDER, _S_EXAMINED = STREAMS.claim_block("validate", "market", 1, ("order", "examined"))


def market(beh: Behaviour, n_users: int, *, display: str, social: bool, key: int,
           seed_likes=None, examination: str = "ctr", slots: int | None = None,
           batch: int = 10, herding_ref: float | None = 0.0, curve=None):
    """A Music-Lab style market: users arrive in batches and each sees every item once.

    Parameters
    ----------
    display : {"random", "sorted"}
        Random order per user, or sorted by displayed like count (ties at random).
    social : bool
        Whether displayed counts are shown (herding acts) — False is the
        independent condition.
    seed_likes : array or None
        Fake likes present from the start (shown, never counted as organic).
    slots : int or None
        Length of the display (default: every item); slot j is examined with
        probability ``examination_curve(examination)[j]``.
    herding_ref : float or None
        ``log1p`` of the displayed count at which herding is neutral; None: the
        market's current mean, so herding moves attention between items instead
        of lifting every like rate (as the platform loop centres it on a typical
        count). Paired treatment/control markets need a fixed value.
    curve : array or None
        Examination probability of each slot, given outright (e.g.
        :func:`musiclab_page_curve`); it replaces ``examination`` and ``slots``
        (the display is ``len(curve)`` slots long).

    Returns
    -------
    dict with ``likes`` (organic likes per item), ``likes_by_slot``,
    ``views_by_slot``, ``views`` (user, item) in arrival order and
    ``view_liked`` (bool per view).
    """
    check_choice("display", display, ("random", "sorted"))
    n = beh.quality.size
    if curve is None:
        slots = n if slots is None else slots
        curve = examination_curve(examination, slots)
    else:
        curve = np.asarray(curve, np.float64)
        slots = curve.size
    seed = np.zeros(n) if seed_likes is None else np.asarray(seed_likes, np.float64)
    likes = np.zeros(n)
    by_slot = np.zeros(slots)
    views_by_slot = np.zeros(slots)
    views, view_liked = [], []
    for b0 in range(0, n_users, batch):
        users = np.arange(b0, min(b0 + batch, n_users))
        noise = hash_uniforms(key, _S_ORDER, users[:, None], np.arange(n)[None, :])
        shown = likes + seed
        sort_key = noise if display == "random" else noise - shown[None, :]
        order = np.argsort(sort_key, axis=1)[:, :slots]        # (users, slots) item ids
        exam = hash_uniforms(key, _S_EXAMINED, users[:, None], np.arange(slots)[None, :]) < curve
        rows, cols = np.nonzero(exam)
        u, itm = users[rows], order[rows, cols]
        r = beh.respond(u, itm, np.zeros(u.size),
                        CounterUniforms(key, u, itm),
                        displayed_likes=shown[itm] if social else None,
                        herding_ref=(float(np.log1p(shown).mean()) if herding_ref is None
                                     else herding_ref))
        liked = r.kind == EventKind.LIKE
        likes += np.bincount(r.item[liked], minlength=n)
        slot_of = np.empty((users.size, n), np.int64)
        np.put_along_axis(slot_of, order, np.arange(slots)[None, :], axis=1)
        by_slot += np.bincount(slot_of[r.account[liked] - b0, r.item[liked]], minlength=slots)
        v = r.kind == EventKind.VIEW
        views_by_slot += np.bincount(slot_of[r.account[v] - b0, r.item[v]], minlength=slots)
        vu, vi = r.account[v], r.item[v]
        lk = set(zip(r.account[liked].tolist(), r.item[liked].tolist())) if liked.any() else set()
        views.append(np.stack([vu, vi], 1))
        view_liked.append(np.array([(a, i) in lk for a, i in zip(vu.tolist(), vi.tolist())],
                                   bool))
    return {"likes": likes, "likes_by_slot": by_slot, "views_by_slot": views_by_slot,
            "views": np.concatenate(views),
            "view_liked": np.concatenate(view_liked)}


def _first_viewers_like_rate(out, items, first: int) -> float:
    """Share of the first ``first`` organic viewers of ``items`` who liked."""
    v, liked = out["views"], out["view_liked"]
    m = np.isin(v[:, 1], items)
    v, liked = v[m], liked[m]
    order = np.lexsort((v[:, 0], v[:, 1]))                   # by item, then arrival
    itm = v[order, 1]
    start = np.searchsorted(itm, itm, side="left")
    rank = np.arange(itm.size) - start
    keep = rank < first
    return float(liked[order][keep].mean()) if keep.any() else float("nan")


#: Final-score ratio of items given one early positive vote over controls, as published:
#: +11% (posts; Glenski & Weninger 2017, arXiv:1606.06140) to +25% (comments; Muchnik,
#: Aral & Taylor 2013).
HERDING_FINAL_BAND = (1.11, 1.25)


def herding(quick: bool = False, seed: int = 0) -> Experiment:
    """Muchnik et al. 2013: one fake like at publication, seeded vs control items.

    Each market runs twice on the same uniforms (common random numbers), with and
    without one fake like on half its items. ``first_like_ratio`` compares the like
    rate of the first 10 organic viewers of the seeded items (random-order display,
    so only the displayed count differs); ``final_likes_ratio`` compares their
    organic likes at the end, in a random-order display (herding alone) and in a
    display sorted by likes (herding plus the better slot the seeded like buys).
    """
    rng = np.random.default_rng(seed)
    n_markets, n_users = (8, 300) if quick else (40, 700)
    base = BehaviourParams()
    measured = {}
    for mult in (0.0, 0.5, 1.0, 2.0):
        params = replace(base, herding=base.herding * mult)
        first = {"t": [], "c": []}
        final = {d: {"t": 0.0, "c": 0.0} for d in ("random", "sorted")}
        for m in range(n_markets):
            q, a = rng.beta(2, 2, 48), rng.beta(2, 2, 48)
            beh = _behaviour(q, a, n_users, params, np.random.default_rng([seed, m]))
            treated = np.arange(48)[m % 2::2]                 # half the items, alternating
            fake = np.zeros(48)
            fake[treated] = 1
            key = seed * 1000 + m
            for display in ("random", "sorted"):
                ctl = market(beh, n_users, display=display, social=True, key=key)
                trt = market(beh, n_users, display=display, social=True, key=key, seed_likes=fake)
                final[display]["t"] += trt["likes"][treated].sum()
                final[display]["c"] += ctl["likes"][treated].sum()
                if display == "random":
                    first["t"].append(_first_viewers_like_rate(trt, treated, 10))
                    first["c"].append(_first_viewers_like_rate(ctl, treated, 10))
        measured[f"herding_x{mult:g}"] = {
            "herding": params.herding,
            "first_like_ratio": float(np.nanmean(first["t"]) / np.nanmean(first["c"])),
            "final_likes_ratio_random_display": final["random"]["t"] / final["random"]["c"],
            "final_likes_ratio_sorted_display": final["sorted"]["t"] / final["sorted"]["c"],
        }
    on, off = measured["herding_x1"], measured["herding_x0"]
    ok = (on["first_like_ratio"] > 1.1 and abs(off["first_like_ratio"] - 1) < 1e-9
          and measured["herding_x2"]["first_like_ratio"] > on["first_like_ratio"]
          and on["final_likes_ratio_random_display"] > 1.0)
    final = on["final_likes_ratio_random_display"]
    return Experiment(
        "herding", "Muchnik, Aral & Taylor, Science 341:647 (2013); Glenski & Weninger, "
        "\"Rating effects on social news posts and comments\" (arXiv:1606.06140)",
        {"first_vote_positive_ratio": 1.32, "final_score_ratio": 1.25,
         "final_score_ratio_band": list(HERDING_FINAL_BAND)},
        measured, ok, band_ok=HERDING_FINAL_BAND[0] <= final <= HERDING_FINAL_BAND[1],
        notes="Validated on the final ratio at the calibrated strength (herding_x1, random "
              "display: herding alone), an outcome the model was not fitted to. The first-like "
              "ratio is the calibration input coming back out (0.4 ln 2 = ln 1.32): a "
              "self-check. Band: one early positive vote raised the final score by 25% on "
              "comments (Muchnik) and by 11% on posts (Glenski & Weninger's replication, where "
              "comments showed no positive effect). Herding 0 reproduces the control exactly "
              "(common random numbers). Muchnik's final score includes the seeded vote; ours "
              "counts organic likes only.",
        params={"markets": n_markets, "users_per_market": n_users, "items": 48})


# Music Lab participants listened to a few songs each and downloaded a large share of
# them: a listen is a view and a download a like, at rates far above a short-video feed's
# [?] (approximate). With the listens per participant they set the downloads per world,
# hence the sampling noise: all of the independent condition's U and part of every Gini.
MUSICLAB_PARAMS = BehaviourParams(view_rate=0.8, like_rate=0.3, comment_rate=0.01,
                                  share_rate=0.01, follow_rate=0.01)

#: Songs a Music Lab participant listened to, on average [?]: no published figure at hand.
#: 3.5 is view_rate 0.8 times the 4.4 slots the feed's CTR curve examines over 48 slots, the
#: display an earlier version of this check used; kept so the downloads per world, and with
#: them the sampling noise, did not move with the display. Cross-check: the independent
#: condition's U, sampling noise alone, comes out about 0.0051 against the published 0.0045,
#: as if the paper's worlds had about (0.0051 / 0.0045)^2 ≈ 1.3 times as many downloads.
MUSICLAB_LISTENS = 3.5

#: Experiment 2's page: the song at position r is listened to with probability
#: proportional to r ** -0.5 [?] (position 1 ≈ 3.2x position 10 and 6.9x position 48,
#: against 11x and 55x on the feed CTR curve). Listening fell with position on Music Lab's
#: sorted page, far less steeply than down a feed: all 48 songs were on one page and
#: participants listened to several. The paper's per-position curve was not at hand, so
#: the exponent is an assumption, chosen before its result was seen and not fitted.
#: Experiment 2's social figures depend on it strongly (``musiclab(page_decay=...)``;
#: ``docs/validation.md`` lists them for 0 to 1).
MUSICLAB_PAGE_DECAY = 0.5


def musiclab_page_curve(n_items: int = 48, decay: float = MUSICLAB_PAGE_DECAY,
                        examined: float | None = None) -> np.ndarray:
    """Probability of examining each position of Music Lab's one page of songs.

    Parameters
    ----------
    n_items : int
        Songs on the page (all of them, one column).
    decay : float
        The curve falls as ``r ** -decay`` over positions r = 1..n_items.
    examined : float or None
        Songs examined per participant (the curve's sum before capping at 1);
        None: ``MUSICLAB_LISTENS / MUSICLAB_PARAMS.view_rate``, so a participant
        listens to ``MUSICLAB_LISTENS`` songs on average.

    Examples
    --------
    >>> musiclab_page_curve(4, decay=1.0, examined=1.25).round(3).tolist()
    [0.6, 0.3, 0.2, 0.15]
    """
    if examined is None:
        examined = MUSICLAB_LISTENS / MUSICLAB_PARAMS.view_rate
    w = np.arange(1, n_items + 1, dtype=np.float64) ** -float(decay)
    return np.minimum(examined * w / w.sum(), 1.0)


def _shares(likes) -> np.ndarray:
    likes = np.asarray(likes, np.float64)
    return likes / np.maximum(likes.sum(axis=-1, keepdims=True), 1.0)


def musiclab_summary(independent, social) -> dict:
    """Inequality and unpredictability of one Music Lab experiment from like counts.

    Parameters
    ----------
    independent : array, shape (2 k, n_items)
        Likes per item in independent worlds of a social world's size. Pooled in
        pairs they make k worlds of the paper's independent world's size (about
        twice a social world's: 1,400 participants against 700, supporting online
        material), which give ``gini_mean`` and the Spearman correlations; U is
        over the unpooled worlds, each of a social world's size, as the paper's
        allocation suggests (its exact split was not at hand [?]).
    social : array, shape (w, n_items)
        Likes per item in the social worlds.

    Returns
    -------
    dict
        ``independent``: ``gini_mean``, ``gini_pooled`` (every independent world
        pooled: mostly the items' own spread, little noise), ``unpredictability``,
        ``likes_per_world``; ``social``: ``gini_mean``, ``unpredictability``;
        ``spearman_independent_social``: Spearman correlation of an independent
        world's shares with a social world's, mean over all such pairs;
        ``u_ratio_social_independent``: U(social) / U(independent).
    """
    ind = np.asarray(independent, np.float64)
    soc = _shares(social)
    big = _shares(ind[0::2] + ind[1::2])
    u_ind, u_soc = unpredictability(_shares(ind)), unpredictability(soc)
    return {
        "independent": {"gini_mean": float(np.mean([gini(s) for s in big])),
                        "gini_pooled": gini(ind.sum(axis=0)),
                        "unpredictability": u_ind,
                        "likes_per_world": float(ind.sum(axis=1).mean())},
        "social": {"gini_mean": float(np.mean([gini(s) for s in soc])),
                   "unpredictability": u_soc},
        "spearman_independent_social": float(np.mean(
            [spearmanr(i, s).statistic for i in big for s in soc])),
        "u_ratio_social_independent": u_soc / u_ind,
    }


def musiclab(quick: bool = False, seed: int = 0,
             page_decay: float = MUSICLAB_PAGE_DECAY) -> Experiment:
    """Salganik et al. 2006: inequality and unpredictability with and without social influence.

    48 songs; 8 independent worlds and 8 social worlds of ``users_per_world``
    participants. Every participant sees every song on one page and examines
    position r with probability ``musiclab_page_curve(decay=page_decay)[r]``.
    Experiment 1 (a grid in random order in the paper) shows the songs in random
    order; experiment 2 sorts them by displayed downloads (ties at random). The
    independent worlds show no counts, so their order is random in both
    experiments, and both experiments share them.

    Parameters
    ----------
    quick : bool
        300 participants per world instead of 700 (the paper's social worlds).
    seed : int
    page_decay : float
        Exponent of the page's listening curve (:data:`MUSICLAB_PAGE_DECAY`).

    Returns
    -------
    Experiment
        ``measured[experiment]`` is :func:`musiclab_summary` of that experiment.
    """
    rng = np.random.default_rng(seed)
    n_users = 300 if quick else 700
    n_worlds = 8
    q, a = rng.beta(2, 2, 48), rng.beta(2, 2, 48)
    beh = _behaviour(q, a, n_users, MUSICLAB_PARAMS, rng)
    curve = musiclab_page_curve(48, page_decay)

    def likes(display, social):
        return np.array([market(beh, n_users, display=display, social=social, curve=curve,
                                key=seed * 100 + w + (50 if social else 0),
                                herding_ref=None)["likes"] for w in range(n_worlds)])

    ind = likes("random", False)
    measured = {exp: musiclab_summary(ind, likes(display, True))
                for exp, display in (("experiment1", "random"), ("experiment2", "sorted"))}
    e1, e2 = measured["experiment1"], measured["experiment2"]
    ok = (e1["social"]["gini_mean"] > e1["independent"]["gini_mean"]
          and e2["social"]["gini_mean"] > e1["social"]["gini_mean"]
          and 1.0 < e1["u_ratio_social_independent"] < e2["u_ratio_social_independent"])
    published = {  # approximate, read from Figs. 2 and 3 of the paper; gini_data: from the
        # experiment's public download data (Princeton archive); the ratios follow from U
        "experiment1": {"independent": {"gini": 0.26, "gini_data": 0.24,
                                        "unpredictability": 0.0045},
                        "social": {"gini": 0.34, "unpredictability": 0.0050},
                        "u_ratio_social_independent": round(0.0050 / 0.0045, 2)},
        "experiment2": {"independent": {"gini": 0.20, "gini_data": 0.19,
                                        "unpredictability": 0.0045},
                        "social": {"gini": 0.50, "unpredictability": 0.0084},
                        "u_ratio_social_independent": round(0.0084 / 0.0045, 2)},
    }
    return Experiment(
        "musiclab", "Salganik, Dodds & Watts, Science 311:854 (2006)", published, measured, ok,
        notes="Experiment 2 runs on Music Lab's one page: all 48 songs sorted by downloads, "
              "position r listened to with probability proportional to r^-0.5 (an assumption "
              "[?], not fitted), not the feed's CTR curve; experiment 1 and the independent "
              "worlds show the same page in random order. Published values are approximate "
              "(read from the paper's figures). Shares are of likes (their downloads). The "
              "independent Gini is over worlds of the paper's independent size (two "
              "700-participant worlds pooled), U over 700-participant worlds. The independent "
              "condition is more unequal than the paper's (full run: 0.29 against 0.24-0.26 "
              "and 0.19-0.20), and not from noise: pooled over all eight independent worlds it "
              "is still 0.29. The quality-to-like slopes (short-video assumptions [?]) spread "
              "these songs more than Music Lab's were spread. The spread is left as it is: no "
              "figure it was not fitted to would check a narrower one (at 0.8 times the spread "
              "the independent Gini is 0.25 but U(independent) rises from 0.0051 to 0.0054, "
              "further from 0.0045). The social worlds go the published way and too far in "
              "experiment 2 (Gini 0.57 against 0.50, U ratio 2.6 against 1.9); how far depends "
              "on the page curve's exponent (0.25: 0.46 and 1.7). U(independent) is sampling "
              "noise alone, and above 0.0045 as if a world had fewer downloads than the "
              "paper's ([?] listens per participant). No band: the spread over the paper's "
              "eight worlds was not at hand.",
        params={"users_per_world": n_users, "worlds": n_worlds, "items": 48,
                "independent_world_users": 2 * n_users, "page_decay": page_decay,
                "listens_per_participant": MUSICLAB_LISTENS})


def position_bias(quick: bool = False, seed: int = 0, examination: str = "ctr") -> Experiment:
    """Equal items, herding off: likes by slot follow the examination curve."""
    n_users = 20_000 if quick else 200_000
    q = np.full(48, 0.5)
    params = replace(BehaviourParams(), herding=0.0)
    beh = _behaviour(q, q.copy(), n_users, params, np.random.default_rng(seed))
    out = market(beh, n_users, display="random", social=False, key=seed, slots=10,
                 examination=examination, batch=2000)
    by_slot = out["views_by_slot"] / out["views_by_slot"][0]
    likes = out["likes_by_slot"] / out["likes_by_slot"][0]
    curve = examination_curve(examination, 10)
    dev = float(np.max(np.abs(by_slot - curve)))
    return Experiment(
        "position_bias", "Sistrix 2020 CTR by position [I]; DCG 1/log2(1+r)",
        {"curve": curve.round(4).tolist()},
        {"views_by_slot_relative": by_slot.round(4).tolist(),
         "likes_by_slot_relative": likes.round(4).tolist(), "max_abs_deviation_views": dev},
        dev < (0.05 if quick else 0.02), params={"users": n_users, "examination": examination},
        self_check=True,
        notes="A self-check: the examination curve is the model's input, so this checks the "
              "simulator's slot handling, not the model. Engagement relative to slot 1; views "
              "are the engagement measured against the curve (likes follow it too, with more "
              "noise).")


#: Item exposure concentration of a real short-video feed: Tenrec QK-video (Yuan et al.,
#: NeurIPS 2022 Datasets and Benchmarks) [D]; TikTok ≈ 0.93 on ~20k videos [I].
TENREC_GINI = (0.93, 0.95)


def exposure_inequality(quick: bool = False, seed: int = 0, world: tuple = ()) -> Experiment:
    """Gini of organic exposure over the items posted in the window (clean closed loop,
    ``like_count``) on the ``platform`` world, next to the bound the feed design puts on
    it and the Tenrec band.

    A cold-start quota of q feed impressions per new item, with mean exposure mu, caps
    the Gini at about 1 - q/mu (every item holds at least q/mu of the mean); items
    posted late in the window have not had their quota yet, so the cap is approximate.
    """
    from .rankers.likes import LikeCount
    from .scenario import get_scenario
    from .simulate import closed_loop
    from .feed import FeedConfig, feed_for
    from .world import make_world
    sc = get_scenario("tiny" if quick else "platform").with_(world=world)
    world = make_world(sc.world_config(), np.random.default_rng(seed))
    base = sc.run_base(world, seed)
    tr = closed_loop(base, LikeCount())
    created = world.items.created_at
    posted = (created >= world.t0) & (created < base.end)
    e = np.sort(tr.exposure.sum(axis=0)[posted])[::-1]
    top = max(1, int(round(0.01 * e.size)))
    quota, _ = feed_for(FeedConfig(), world)
    mu = float(e.mean()) if e.size else 0.0
    g = gini(e)
    measured = {"gini": g, "top1pct_share": float(e[:top].sum() / max(e.sum(), 1)),
                "design_bound": 1.0 - quota / mu if mu > 0 else float("nan"),
                "cold_start_quota": quota, "mean_exposure": mu,
                "items": int(e.size), "accounts": len(world.accounts)}
    band_ok = TENREC_GINI[0] <= g <= TENREC_GINI[1]
    return Experiment(
        "exposure_inequality",
        "Tenrec QK-video (Yuan et al., NeurIPS 2022 Datasets and Benchmarks) [D]",
        {"gini": list(TENREC_GINI), "top1pct_share": 0.66}, measured, band_ok,
        band_ok=band_ok,
        notes="An outcome of the loop, not a parameter: items posted in the window, organic "
              "impressions over the horizon. design_bound = 1 - quota / mean exposure is the "
              "most the cold-start quota lets the Gini be. Tenrec counts exposure over "
              "items' whole lives on a platform of millions; a world of this size caps an "
              "item's exposure at its number of active accounts.",
        params={"scenario": sc.name, "size": sc.size, "ranker": "like_count"})


#: Per-impression rates of a ranked short-video feed, with the datasets' own figures:
#: KuaiRand (Gao et al., CIKM 2022) [D] and Tenrec QK-video (Yuan et al., NeurIPS 2022
#: Datasets and Benchmarks) [D]. A (low, high) pair is the two datasets; a single figure
#: is KuaiRand's alone, and has no band.
FEED_RATES = {"view": 0.38, "like": (0.0156, 0.0206), "comment": 0.0027,
              "share": (0.0008, 0.0023), "not_interested": 0.0009}
_RATE_KINDS = {"view": EventKind.VIEW, "like": EventKind.LIKE, "comment": EventKind.COMMENT,
               "share": EventKind.SHARE, "not_interested": EventKind.NOT_INTERESTED}
#: The feeds compared: the three ranker families and the uniform reference.
RATE_RANKERS = ("random", "like_count", "engagement_depth", "real_interaction")
#: The feeds judged against the datasets (production feeds rank by engagement; ``random``
#: is reported beside them as what no ranking gives).
RATE_JUDGED = RATE_RANKERS[1:]


def _rates(t, kind, lo: float, hi: float) -> dict:
    """Events of each rated kind per impression over ``lo <= t < hi``."""
    k = kind[(t >= lo) & (t < hi)]
    n = np.bincount(k, minlength=N_KINDS)
    imp = max(int(n[EventKind.IMPRESSION]), 1)
    return {"impressions": int(n[EventKind.IMPRESSION]),
            **{name: float(n[x] / imp) for name, x in _RATE_KINDS.items()}}


def engagement_rates(quick: bool = False, seed: int = 0, world: tuple = ()) -> Experiment:
    """Per-impression rates of organic views, likes, comments, shares and hides in the
    clean closed loop of each ranker family (and ``random``), against the rates of
    KuaiRand's and Tenrec's ranked feeds.

    The behaviour's intercepts are fitted on the history's impressions
    (:meth:`~boostbench.behaviour.Behaviour.fit`; an open history's, or a ranked history's
    last day, by the world's ``history_feed``), so those rates are the calibration input
    coming back (reported, a self-check). The window's are an outcome: a ranked feed shows what
    engages and displays counts that herd, and the datasets are logs of a ranked feed,
    so the window is what must match. In band when every ranker family's like and share
    rates lie between the two datasets' figures (``random`` is reported, not judged: no
    production feed is uniform).
    """
    from .rankers import build_ranker
    from .scenario import get_scenario
    from .simulate import closed_loop_rounds
    from .world import make_world
    sc = get_scenario("tiny" if quick else "default").with_(world=world)
    world = make_world(sc.world_config(), np.random.default_rng(seed))
    base = sc.run_base(world, seed)
    t, _, _, kind, _ = world.history.columns()
    measured = {"history": _rates(t, kind, 0.0, world.t0),
                "history_last_day": _rates(t, kind, max(0.0, world.t0 - DAY), world.t0)}
    for name in RATE_RANKERS:
        rounds = closed_loop_rounds(base, build_ranker(name))
        for info in rounds:
            pass
        t, _, _, kind, _ = info.log.columns()
        measured[name] = _rates(t, kind, world.t0, base.end)

    def inside(name, x):
        lo, hi = FEED_RATES[name]
        return lo <= x <= hi
    band_ok = all(inside(r, measured[n][r]) for n in RATE_JUDGED for r in ("like", "share"))
    like = [measured[n]["like"] for n in RATE_JUDGED]
    feeds = ("history", "history_last_day") + RATE_RANKERS
    measured["like_ratio_to_kuairand"] = {n: measured[n]["like"] / FEED_RATES["like"][0]
                                          for n in feeds}
    return Experiment(
        "engagement_rates",
        "KuaiRand (Gao et al., CIKM 2022) [D]; Tenrec QK-video (Yuan et al., NeurIPS 2022) [D]",
        {k: list(v) if isinstance(v, tuple) else v for k, v in FEED_RATES.items()},
        measured, band_ok, band_ok=band_ok,
        notes=f"Organic events per impression in the window of each ranker family's clean "
              f"closed loop (likes {min(like):.4f}-{max(like):.4f}; random, reported and not "
              f"judged, {measured['random']['like']:.4f}) and in the "
              f"{world.config.history_feed} history, whose impressions the intercepts are "
              "fitted on (all of an open history's, a ranked history's last day: those rates "
              "are the input coming back, a self-check). The datasets "
              "log a ranked feed, so the window must "
              "match; a like rate above the band means the loop's selection and herding "
              "add engagement the calibration does not account for.",
        params={"scenario": sc.name, "size": sc.size, "rankers": list(RATE_RANKERS),
                "history_feed": world.config.history_feed})


EXPERIMENTS = {"herding": herding, "musiclab": musiclab, "position_bias": position_bias,
               "exposure_inequality": exposure_inequality, "engagement_rates": engagement_rates}


#: Experiments run on a drawn world (the others simulate a market of their own).
WORLD_EXPERIMENTS = ("exposure_inequality", "engagement_rates")


def run_experiments(names=None, *, quick: bool = False, seed: int = 0,
                    tick=None, world: tuple = ()) -> list[Experiment]:
    """Run the named experiments (default: all) in order; ``tick`` (progress), if given, is
    called after each. ``world``: settings that differ from the world's size preset
    (:func:`boostbench.world.world_overrides` pairs), for the :data:`WORLD_EXPERIMENTS`."""
    names = list(EXPERIMENTS) if names is None else list(names)
    for n in names:
        check_choice("experiment", n, tuple(EXPERIMENTS))
    from .world import world_config, world_overrides
    world = tuple(world)
    world_config(**world_overrides(world))       # unknown names and bad values fail here
    if world and not set(names) & set(WORLD_EXPERIMENTS):
        raise InvalidParameter("run_experiments: world settings apply only to "
                               f"{', '.join(WORLD_EXPERIMENTS)}; none of them is selected.",
                               name="world")
    out = []
    for n in names:
        kw = {"world": world} if n in WORLD_EXPERIMENTS else {}
        out.append(EXPERIMENTS[n](quick=quick, seed=seed, **kw))
        if tick is not None:
            tick(1)
    return out
