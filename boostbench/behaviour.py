"""Organic behaviour: what a person does with an item once it is in front of them.

One impression leads, through a chain of inverse-CDF draws, to at most one each of
NOT_INTERESTED, VIEW (with completion), LIKE, COMMENT (with length), SHARE, FOLLOW
and REPORT. Every probability is a logistic model ``sigmoid(c + eta)`` whose slope
terms ``eta`` encode the direction of an effect (quality raises likes, appeal raises
views, appeal above quality raises reports) and whose intercept ``c`` is solved at
world creation so that the mean rate per impression over uniformly random
(account, item) pairs equals the calibrated base rate. The slopes are assumptions
[?] (documented on :class:`BehaviourParams`); the base rates come from released
datasets (KuaiRand 2022, Tenrec 2022; see ``docs/calibration.md``).

Uniforms come from a caller-supplied source, so the same code serves the open loop
(a numpy Generator) and common random numbers (a counter-based hash,
:func:`~boostbench._core.random.hash_uniforms`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, ndtri

from ._core.arrays import KeySet, first_occurrence, pair_keys, stable_argsort
from ._core.random import STREAMS
from .errors import InvalidParameter
from ._core.params import Interval, declare
from .events import EventKind

__all__ = ["BehaviourParams", "Behaviour", "Response", "concat_responses", "drop_repeat_likes"]

_SHARE = Interval(float, 0.0, 1.0, closed="neither")
_POSITIVE = Interval(float, 0.0, None, closed="neither")
_REAL = Interval(float)


@dataclass(frozen=True)
@declare(**{name: _SHARE for name in (
    "view_rate", "like_rate", "comment_rate", "share_rate", "not_interested_rate",
    "report_rate", "follow_rate", "mean_completion")},
    unlogged_view_share=Interval(float, 0.0, 1.0, closed="left"),
    **{name: _POSITIVE for name in ("skip_seconds", "hazard", "comment_median", "comment_sigma")},
    **{name: _REAL for name in (
        "beta_view_appeal", "beta_topic", "beta_skip_quality", "beta_skip_clickbait",
        "beta_hazard_quality", "beta_like_quality", "beta_like_completion",
        "beta_comment_quality", "beta_share_quality", "beta_negative_clickbait", "herding",
        "beta_friend", "beta_fan")})
class BehaviourParams:
    """Calibrated organic behaviour (short-video defaults).

    Base rates are per impression (sources in ``docs/calibration.md``):
    view 0.38, like 0.018, comment 0.0027, share 0.0015, not-interested 0.0009
    (KuaiRand 2022 [D], Tenrec [D]); report 0.0001 ([?] about 1/10 of hides);
    follow 0.0005 ([?] no public figure; a third of the comment rate).
    Watch model ([drv] KuaiRand): a viewer skips before ``skip_seconds`` = 7 s
    (watching a uniform part of them), otherwise watches with constant hazard
    ``hazard`` = 0.033 / s, capped at the duration. The skip probability's
    intercept is fitted so that the mean completion of views is
    ``mean_completion`` = 0.45; the skip share then comes out near KuaiRand's 62%
    (an outcome, reported by validation).
    Comment length: lognormal, median 30 characters ([?], Thelwall 2012 gives 58
    for text), ``comment_sigma`` = 1.0 [?].

    Intercepts are fitted on impressions drawn the way the platform exposes items
    (see :meth:`Behaviour.fit`), so these rates are what a run reproduces on average.
    Herding (closed loop only, where displayed counts react): the like logit gains
    ``herding * log1p(displayed likes)``. The functional form is an assumption [?];
    the strength 0.40 is calibrated to Muchnik, Aral & Taylor (Science 2013): one
    early up-vote made the next viewer 32% more likely to up-vote, and going
    from 0 to 1 displayed like adds 0.40 * log(2) = log(1.32) to the logit, an
    odds ratio of 1.32 (≈ the probability ratio at these small rates). 0 turns it off.

    The ``beta_*`` slopes are assumptions [?] that only fix the direction and a
    plausible size of each effect: ``beta_like_quality`` = 3 means a like is
    about e^3 ≈ 20x likelier on the best item than on the worst.

    Honest acts without a logged view: a viewed impression's VIEW goes unlogged with
    probability ``unlogged_view_share`` (0.015; the acts after it stay). In
    KuaiRand-Pure (CIKM'22) [D] 1.18% of likes have play_time 0, comments 0.82%,
    follows 2.18%, forwards 1.60%; sweep 0-0.2 (16% of interactions there have
    is_click = 0). A profile grid, a notification, a second device or logging loss
    are what it stands for.
    ``beta_friend`` [?]: an item a friend shared (a circle link) adds 1.0 to the view
    and like logits (the friend's endorsement). ``beta_fan`` [?]: a fan opening a post of
    the creator it follows (a notification, :func:`boostbench.population.fan_impressions`)
    adds 3.0 more to the like logit — devoted fans like what their creator posts (about
    20x the odds; no published figure, swept with the fan groups).
    """

    view_rate: float = 0.38
    like_rate: float = 0.018
    comment_rate: float = 0.0027
    share_rate: float = 0.0015
    not_interested_rate: float = 0.0009
    report_rate: float = 0.0001
    follow_rate: float = 0.0005
    mean_completion: float = 0.45
    skip_seconds: float = 7.0
    hazard: float = 0.033
    comment_median: float = 30.0
    comment_sigma: float = 1.0
    beta_view_appeal: float = 2.0
    beta_topic: float = 0.7
    beta_skip_quality: float = 3.0
    beta_skip_clickbait: float = 2.0
    beta_hazard_quality: float = 1.5
    beta_like_quality: float = 3.0
    beta_like_completion: float = 2.0
    beta_comment_quality: float = 2.5
    beta_share_quality: float = 3.0
    beta_negative_clickbait: float = 5.0
    herding: float = 0.40
    unlogged_view_share: float = 0.015
    beta_friend: float = 1.0
    beta_fan: float = 3.0

    def __post_init__(self):
        if self.like_rate >= self.view_rate:
            raise InvalidParameter("BehaviourParams needs like_rate < view_rate "
                                   f"(likes follow views). Got {self.like_rate} >= {self.view_rate}.",
                                   name="like_rate")


@dataclass(frozen=True)
class Response:
    """Columns of the events one batch of impressions produced (unsorted)."""

    t: np.ndarray
    account: np.ndarray
    item: np.ndarray
    kind: np.ndarray
    value: np.ndarray


# respond() emits one block per kind, in this order
_RESPONSE_KINDS = (EventKind.IMPRESSION, EventKind.NOT_INTERESTED, EventKind.REPORT,
                   EventKind.VIEW, EventKind.LIKE, EventKind.COMMENT, EventKind.SHARE,
                   EventKind.FOLLOW)
_RESPONSE_FIELDS = ("t", "account", "item", "kind", "value")


def concat_responses(responses) -> Response:
    """The response to consecutive batches of impressions, from each batch's response.

    :meth:`Behaviour.respond` decides every impression on its own and lays its
    output out as one block per kind, so responding to ``a ++ b`` gives, kind
    by kind, the block of ``a`` then the block of ``b``: that is what this
    returns (the same arrays as responding to the whole batch at once).
    """
    responses = list(responses)
    bounds = []
    for r in responses:
        counts = np.bincount(r.kind, minlength=len(EventKind))[list(_RESPONSE_KINDS)]
        ends = np.cumsum(counts)
        bounds.append((ends - counts, ends))
    cols = []
    for f in _RESPONSE_FIELDS:
        cols.append(np.concatenate([getattr(r, f)[lo[k]:hi[k]]
                                    for k in range(len(_RESPONSE_KINDS))
                                    for r, (lo, hi) in zip(responses, bounds)]))
    return Response(*cols)


class _InOrder:
    """``take(stream, idx)`` for a plain uniform source (e.g. one drawing from a Generator):
    each stream is drawn in full, once, in :data:`_STREAM_ORDER`, and only then indexed, so
    a stateful source sees the same calls whoever asks for which positions."""

    def __init__(self, uniform):
        self._uniform, self._next = uniform, 0

    def __call__(self, stream: int, idx) -> np.ndarray:
        if self._next >= len(_STREAM_ORDER) or _STREAM_ORDER[self._next] != stream:
            raise RuntimeError(f"uniform stream {stream} drawn out of order")  # a bug here
        self._next += 1
        return self._uniform(stream)[idx]


def _below_expit(u: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``u < expit(z)`` elementwise, evaluating ``expit`` only where it can matter.

    Rare decisions (reports, likes, ...) have small probabilities: a uniform at or
    above an upper bound of ``expit`` over the batch — ``expit(max z)`` with a
    relative margin of 1e-9, far above the rounding error of ``exp`` — is False
    whatever its own ``z``; ``expit`` runs only for the uniforms below the bound.
    """
    if z.size < 1024:
        return u < expit(z)
    bound = float(expit(z.max()))
    bound += bound * 1e-9
    cand = np.flatnonzero(u < bound)
    if 2 * cand.size > z.size:
        return u < expit(z)
    out = np.zeros(u.shape, bool)
    out[cand] = u[cand] < expit(z[cand])
    return out


def _solve_intercept(target: float, eta: np.ndarray, weight: np.ndarray) -> float:
    """Intercept c with mean(weight * sigmoid(c + eta)) == target (bisection, monotone in c).

    The answer is exactly that of 80 bisection steps on [-40, 40], computed with fewer
    evaluations: a few Newton steps first locate the root, and every evaluation's side
    (below the target or not) is remembered, so a later midpoint beyond a point known to
    be below (or at or above) takes that side without an evaluation (the computed mean is
    non-decreasing in c: ``weight >= 0``; only sides clear of the target by more than
    rounding are remembered). The loop stops once ``lo`` and ``hi`` are neighbouring
    floats: ``mid`` is then one of them, and every later step leaves it unchanged."""
    buf = np.empty(np.shape(eta), np.float64)
    below_at, above_at = -np.inf, np.inf      # evaluated points known below / at or above

    def mean_at(c: float) -> float:
        np.add(eta, c, out=buf)
        expit(buf, out=buf)
        np.multiply(weight, buf, out=buf)
        return float(buf.mean())

    def side(c: float, f: float) -> None:
        nonlocal below_at, above_at
        if abs(f - target) > 1e-12 * abs(target):         # clear of rounding noise
            if f < target:
                below_at = max(below_at, c)
            else:
                above_at = min(above_at, c)

    w_mean = float(np.mean(weight))
    share = target / w_mean if w_mean > 0 else np.nan
    if 0.0 < share < 1.0:
        c = float(np.log(share / (1.0 - share)) - np.average(eta, weights=weight))
        for _ in range(4):                                 # Newton
            c = min(max(c, -40.0), 40.0)
            f = mean_at(c)
            side(c, f)
            slope = float(np.mean(buf * (1.0 - buf / np.where(weight > 0, weight, 1.0))))
            if not slope > 0.0:
                break
            c -= (f - target) / slope
        if np.isfinite(c):
            for x in (c - 1e-9 * max(1.0, abs(c)), c + 1e-9 * max(1.0, abs(c))):
                if -40.0 < x < 40.0:
                    side(x, mean_at(x))
    lo, hi = -40.0, 40.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if mid == lo or mid == hi:
            return mid
        if mid <= below_at or (mid < above_at and mean_at(mid) < target):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# Uniform streams, one per decision, so adding a decision never shifts the others
# (keyed by the world's seed in the closed loop).
_S_NI, _S_VIEW, _S_SKIP, _S_WATCH, _S_LIKE, _S_COMMENT, _S_LEN, _S_SHARE, _S_FOLLOW, \
    _S_REPORT, _S_UNLOGGED = STREAMS.claim_block("world", "decision", 100, (
        "not_interested", "view", "skip", "watch", "like", "comment", "length", "share",
        "follow", "report", "unlogged_view"))
# The order in which respond() draws its streams: a stateful source (a Generator in the
# open loop) must always see the same order, or the open-loop worlds change.
_STREAM_ORDER = (_S_NI, _S_REPORT, _S_VIEW, _S_SKIP, _S_WATCH, _S_LIKE, _S_COMMENT, _S_LEN,
                 _S_SHARE, _S_FOLLOW, _S_UNLOGGED)


@dataclass(frozen=True)
class Behaviour:
    """Behaviour with intercepts fitted to a world's items and accounts.

    Build with :meth:`fit`; then :meth:`respond` turns impressions into events.
    """

    params: BehaviourParams
    quality: np.ndarray
    appeal: np.ndarray
    duration: np.ndarray
    item_topic: np.ndarray
    account_topic: np.ndarray
    intercepts: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, params, quality, appeal, duration, item_topic, account_topic, sample, rng,
            herd=None) -> "Behaviour":
        """Solve the intercepts on a sample of impressions.

        Parameters
        ----------
        sample : (account, item) int arrays
            Impressions distributed the way the platform distributes them (e.g. the
            first organic impressions), so the calibrated rates hold for what people
            are actually shown rather than for a uniform draw of items.
        rng : numpy.random.Generator
            Uniforms for the watch model of the sample.
        herd : float array, optional
            ``log1p(displayed likes) - reference`` each sampled impression was answered
            at (:meth:`respond`'s herding term); None: no counts displayed.
        """
        b = cls(params, quality, appeal, duration, item_topic, account_topic, {})
        acc, itm = (np.asarray(x, np.int64) for x in sample)
        n = acc.size
        if n == 0:
            raise InvalidParameter("Behaviour.fit needs a non-empty impression sample.",
                                   name="sample")
        u = rng.random((2, n))
        c = b.intercepts
        ones = np.ones(n)
        eta_ni = b._eta_negative(itm)
        c["not_interested"] = _solve_intercept(params.not_interested_rate, eta_ni, ones)
        c["report"] = _solve_intercept(params.report_rate, eta_ni, ones)
        p_ni = expit(c["not_interested"] + eta_ni)
        eta_view = b._eta_view(acc, itm)
        # the calibrated view rate is of *logged* views: the true rate is a little higher
        true_view = params.view_rate / (1.0 - params.unlogged_view_share)
        if true_view >= 1.0:
            raise InvalidParameter("BehaviourParams needs view_rate / (1 - unlogged_view_share) "
                                   f"< 1. Got {true_view:g}.", name="unlogged_view_share")
        c["view"] = _solve_intercept(true_view, eta_view, 1.0 - p_ni)
        p_view = (1.0 - p_ni) * expit(c["view"] + eta_view)
        lo, hi = -20.0, 20.0  # skip intercept: mean completion over views hits its target
        parts = b._watch(itm, u[1])                 # all but the skip draw, computed once
        for _ in range(60):
            c["skip"] = 0.5 * (lo + hi)
            comp = b._completion(itm, u[0], u[1], parts)
            mean = np.average(comp, weights=p_view)
            lo, hi = (c["skip"], hi) if mean > params.mean_completion else (lo, c["skip"])
        comp = b._completion(itm, u[0], u[1], parts)
        for name, rate, eta in (
            ("like", params.like_rate, b._eta_like(acc, itm, comp) + (
                0.0 if herd is None else params.herding * np.asarray(herd, np.float64))),
            ("comment", params.comment_rate, b._eta_comment(acc, itm, comp)),
            ("share", params.share_rate, b._eta_share(itm, comp)),
            ("follow", params.follow_rate, b._eta_comment(acc, itm, comp)),
        ):
            if rate >= params.view_rate:
                raise InvalidParameter(f"The '{name}_rate' parameter of BehaviourParams must be "
                                       f"below view_rate={params.view_rate}. Got {rate}.",
                                       name=f"{name}_rate")
            c[name] = _solve_intercept(rate, eta, p_view)
        return b

    # --- linear predictors -------------------------------------------------
    def _match(self, acc, itm):
        return (self.account_topic[acc] == self.item_topic[itm]).astype(np.float64) - 0.5

    def _eta_negative(self, itm):
        p = self.params
        return p.beta_negative_clickbait * (self.appeal[itm] - self.quality[itm]).astype(np.float64)

    def _eta_view(self, acc, itm):
        p = self.params
        return p.beta_view_appeal * (self.appeal[itm] - 0.5) + p.beta_topic * self._match(acc, itm)

    def _eta_like(self, acc, itm, comp):
        p = self.params
        return (p.beta_like_quality * (self.quality[itm] - 0.5)
                + p.beta_like_completion * (comp - 0.45) + p.beta_topic * self._match(acc, itm))

    def _eta_comment(self, acc, itm, comp):
        p = self.params
        return (p.beta_comment_quality * (self.quality[itm] - 0.5)
                + p.beta_like_completion * (comp - 0.45) + p.beta_topic * self._match(acc, itm))

    def _eta_share(self, itm, comp):
        p = self.params
        return p.beta_share_quality * (self.quality[itm] - 0.5) + p.beta_like_completion * (comp - 0.45)

    def _completion(self, itm, u_skip, u_watch, parts=None):
        """Watch model: early skip or constant-hazard watching, capped at the duration
        (``parts``: :meth:`_watch` of the same ``itm`` and ``u_watch``, if at hand)."""
        quality, clickbait, skipped, watched = parts or self._watch(itm, u_watch)
        skip = u_skip < expit(self.intercepts["skip"] - quality + clickbait)
        return np.where(skip, skipped, watched)

    def _watch(self, itm, u_watch):
        """The watch model's parts that do not depend on the skip intercept: the skip
        logit's quality and clickbait terms, and the completion of a skip and of a watch."""
        p = self.params
        q = self.quality[itm].astype(np.float64)
        a = self.appeal[itm].astype(np.float64)
        dur = self.duration[itm].astype(np.float64)
        lam = p.hazard * np.exp(-p.beta_hazard_quality * (q - 0.5))
        return (p.beta_skip_quality * (q - 0.5), p.beta_skip_clickbait * (a - q),
                np.minimum(p.skip_seconds * u_watch, dur) / dur,
                np.minimum(p.skip_seconds - np.log1p(-u_watch) / lam, dur) / dur)

    # --- the decision chain ------------------------------------------------
    def respond(self, account, item, t, uniform, displayed_likes=None,
                herding_ref: float = 0.0, social=False, fan: bool = False) -> Response:
        """Events caused by impressions ``(account[j], item[j], t[j])``.

        Parameters
        ----------
        account, item : int arrays of equal length
        t : float64 array, impression times (seconds)
        uniform : callable ``stream -> float64[n]`` of uniforms in [0, 1)
        displayed_likes : float array or None
            Like counts shown with each impression (herding); None disables herding.
        herding_ref : float
            ``log1p`` of a typical displayed count: herding adds
            ``herding * (log1p(displayed) - herding_ref)`` to the like logit, so the
            calibrated like rate holds at typical counts.
        social : bool or bool array
            The impression is a friend's shared link: ``beta_friend`` joins the view
            and like logits.
        fan : bool
            Every impression is a fan opening its creator's post: ``beta_fan`` joins
            the like logit (with ``social``).

        Returns
        -------
        Response
            Impressions and everything they led to; each follow-up event is a
            fraction of a second to a minute after its impression.
        """
        p, c = self.params, self.intercepts
        acc = np.asarray(account, np.int64)
        itm = np.asarray(item, np.int64)
        t = np.asarray(t, np.float64)
        take = getattr(uniform, "take", None)
        if take is None:
            take = _InOrder(uniform)
        everyone = slice(None)
        # The linear predictors are those of _eta_negative, _eta_view, _eta_like,
        # _eta_comment and _eta_share, written out so that shared terms (gathers of
        # item attributes, the topic match, the completion term) are computed once;
        # every expression keeps its operands, dtypes and order of operations.
        appeal = self.appeal[itm]
        eta_neg = p.beta_negative_clickbait * (appeal - self.quality[itm]).astype(np.float64)
        match = self._match(acc, itm)
        eta_view = p.beta_view_appeal * (appeal - 0.5) + p.beta_topic * match
        friend = p.beta_friend * np.broadcast_to(np.asarray(social, np.float64), acc.shape)
        if p.beta_friend and np.any(social):
            eta_view = eta_view + friend
        ni = _below_expit(take(_S_NI, everyone), c["not_interested"] + eta_neg)
        report = _below_expit(take(_S_REPORT, everyone), c["report"] + eta_neg)
        view = (~ni) & (take(_S_VIEW, everyone) < expit(c["view"] + eta_view))
        # everything after a view is decided for the viewed impressions only (same uniforms,
        # same arithmetic per impression: the result does not depend on who else is in the batch)
        v = np.flatnonzero(view)
        itm_v = itm[v]
        comp = self._completion(itm_v, take(_S_SKIP, v), take(_S_WATCH, v))
        watch_s = comp * self.duration[itm_v]
        quality_v = self.quality[itm_v] - 0.5
        completion_term = p.beta_like_completion * (comp - 0.45)
        topic_term = p.beta_topic * match[v]
        eta_like = p.beta_like_quality * quality_v + completion_term + topic_term
        if displayed_likes is not None and p.herding:
            shown = np.asarray(displayed_likes, np.float64)
            shown = shown[v] if shown.ndim else np.broadcast_to(shown, v.shape)
            eta_like = eta_like + p.herding * (np.log1p(shown) - herding_ref)
        if p.beta_friend and np.any(social):
            eta_like = eta_like + friend[v]
        if fan and p.beta_fan:
            eta_like = eta_like + p.beta_fan
        like = _below_expit(take(_S_LIKE, v), c["like"] + eta_like)
        eta_c = p.beta_comment_quality * quality_v + completion_term + topic_term
        comment = _below_expit(take(_S_COMMENT, v), c["comment"] + eta_c)
        cm = np.flatnonzero(comment)
        u_len = take(_S_LEN, v[cm])
        length = np.maximum(1.0, np.round(p.comment_median * np.exp(
            p.comment_sigma * ndtri(np.clip(u_len, 1e-12, 1 - 1e-12)))))
        eta_share = p.beta_share_quality * quality_v + completion_term
        share = _below_expit(take(_S_SHARE, v), c["share"] + eta_share)
        follow = _below_expit(take(_S_FOLLOW, v), c["follow"] + eta_c)
        logged = v[take(_S_UNLOGGED, v) >= p.unlogged_view_share]   # views the log keeps

        # (positions, delay after the impression, kind, value); positions ascend
        lk, sh, fo = (np.flatnonzero(m) for m in (like, share, follow))
        parts = [
            (None, 0.0, EventKind.IMPRESSION, 0.0),
            (np.flatnonzero(ni), 1.0, EventKind.NOT_INTERESTED, 0.0),
            (np.flatnonzero(report), 2.0, EventKind.REPORT, 0.0),
            (logged, 0.5, EventKind.VIEW, comp[np.searchsorted(v, logged)]),
            (v[lk], 1.0 + watch_s[lk], EventKind.LIKE, 0.0),
            (v[cm], 5.0 + watch_s[cm] + length, EventKind.COMMENT, length),
            (v[sh], 3.0 + watch_s[sh], EventKind.SHARE, 0.0),
            (v[fo], 4.0 + watch_s[fo], EventKind.FOLLOW, 0.0),
        ]
        n_out = sum(acc.size if idx is None else idx.size for idx, *_ in parts)
        out_t = np.empty(n_out)
        out_acc = np.empty(n_out, acc.dtype)
        out_itm = np.empty(n_out, itm.dtype)
        out_kind = np.empty(n_out, np.int8)
        out_val = np.empty(n_out)
        lo = 0
        for idx, delay, kind, value in parts:
            m = acc.size if idx is None else idx.size
            sl = slice(lo, lo + m)
            if idx is None:
                out_t[sl] = t + delay
                out_acc[sl], out_itm[sl] = acc, itm
            else:
                np.add(t[idx], delay, out=out_t[sl])
                np.take(acc, idx, out=out_acc[sl])
                np.take(itm, idx, out=out_itm[sl])
            out_kind[sl] = kind
            out_val[sl] = value
            lo += m
        return Response(out_t, out_acc, out_itm, out_kind, out_val)


def drop_repeat_likes(r: Response, n_items: int, prior: KeySet | None = None) -> Response:
    """Drop LIKEs of a pair (account, item) that already liked: a like is a toggle, counted once.

    ``prior`` holds the pairs that liked before this batch; within the batch the
    earliest like of a pair is kept.
    """
    like = np.flatnonzero(r.kind == EventKind.LIKE)
    if like.size == 0:
        return r
    like = like[stable_argsort(r.t[like])]
    keys = pair_keys(r.account[like], r.item[like], n_items)
    ok = first_occurrence(keys)
    if prior is not None:
        ok &= ~prior.contains(keys)
    if ok.all():
        return r
    keep = np.ones(r.t.size, bool)
    keep[like[~ok]] = False
    return Response(*(getattr(r, f)[keep] for f in ("t", "account", "item", "kind", "value")))
