"""``Pipeline(*defences, scorer)``: defences lower event weights, the scorer ranks.

The pipeline keeps state per event stream (see ``Observation.stream``) so a
closed-loop round costs its new events: inline defences are causal, so each
event's multiplier is computed once; weighted aggregates are updated with the
new events; batch detectors run only when their schedule says so, and only a
run that bans someone new triggers a full re-aggregation.

Semantics, in one place:

- an event's weight is ``obs.weight * product of inline multipliers * ban``;
- a ban made by a batch run at time ``R`` (on data up to ``R - lag``) zeroes
  the account's events from ``R`` on, or all of its events when the defence
  claws back;
- penalised items are ranked below every unpenalised eligible item;
- the first time a pipeline sees a stream it runs each batch detector once, at
  the latest scheduled time; from then on every scheduled run in between.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass, fields, is_dataclass, replace

import numpy as np

from ..errors import InvalidParameter
from ..events import EventKind
from .._core.arrays import append_grown
from .._core.units import HOUR
from ..observation import Aggregates, Observation
from ..plugins import DEFENCES, RANKERS

__all__ = ["Pipeline", "Audit", "build_ranker"]

_MAX_STREAMS = 2


@dataclass(frozen=True)
class Audit:
    """What a pipeline did to one stream: final event weights, bans and penalties.

    Attributes
    ----------
    weight : float32[n_events]
        Effective weight of every visible event (1 = untouched).
    banned_at : float64[n_accounts]
        Time of the first batch run that banned the account (inf: never).
    penalised : bool[n_items]
    """

    weight: np.ndarray
    banned_at: np.ndarray
    penalised: np.ndarray


def _union_kinds(defences) -> tuple:
    """The event kinds any of ``defences`` weighs or reads, in kind order.

    A defence that declares no ``kinds`` may touch any act: every kind but the
    impression (which no defence weighs)."""
    kinds = set()
    for d in defences:
        declared = getattr(d, "kinds", None)
        kinds |= {int(k) for k in (declared if declared is not None else EventKind)}
    kinds.discard(int(EventKind.IMPRESSION))
    return tuple(EventKind(k) for k in sorted(kinds))


class _Stream:
    """Per-stream state of a pipeline."""

    def __init__(self, pipeline, n_accounts, n_items):
        self.n = 0
        self.w_inline = np.ones(0, np.float32)
        self.w = np.ones(0, np.float32)
        self.banned_at = np.full(n_accounts, np.inf)
        self.claw = np.zeros(n_accounts, bool)
        self.penalised = np.zeros(n_items, bool)
        self.inline_state = [{} for _ in pipeline.inline]
        self.last_run: list[float | None] = [None] * len(pipeline.batch)
        self.aggs: Aggregates | None = None
        self.base: np.ndarray | None = None     # base weights seen so far (None: all 1)

    def grow_accounts(self, n):
        if n > self.banned_at.size:
            self.banned_at = np.concatenate([self.banned_at, np.full(n - self.banned_at.size,
                                                                     np.inf)])
            self.claw = np.concatenate([self.claw, np.zeros(n - self.claw.size, bool)])


class Pipeline:
    """Defences in front of a scorer; itself a ranker.

    Parameters
    ----------
    *parts : defences..., scorer
        Zero or more defences (registered in ``DEFENCES`` or any object with
        ``name``, ``schedule``, ``action`` and ``weights`` (inline) or ``detect``
        (batch)), then the scorer (a ranker).
    name : str, optional
        Defaults to ``"scorer+defence+..."``.

    Attributes
    ----------
    kinds : tuple of EventKind
        The kinds the defences weigh or read (their declared ``kinds``, united): the
        honest acts a defence can touch, which the collateral metrics count.

    Examples
    --------
    >>> from boostbench.rankers import RealInteraction
    >>> from boostbench.rankers.defences import VelocityCap, RequireView
    >>> Pipeline(VelocityCap(), RequireView(), RealInteraction()).name
    'real_interaction+velocity_cap+require_view'
    """

    def __init__(self, *parts, name: str | None = None):
        if not parts:
            raise InvalidParameter("Pipeline needs a scorer (its last argument).", name="parts")
        *defences, scorer = parts
        if not callable(scorer) or not hasattr(scorer, "name"):
            raise InvalidParameter("The last argument of Pipeline must be a ranker (a callable "
                                   f"with a name). Got {scorer!r} instead.", name="scorer")
        for d in defences:
            kind = getattr(getattr(d, "schedule", None), "kind", None)
            need = {"inline": "weights", "batch": "detect"}.get(kind)
            if need is None or not hasattr(d, need) or not hasattr(d, "name"):
                raise InvalidParameter(f"{d!r} is not a defence: it needs a name, a schedule "
                                       "(inline or batch) and weights() or detect().",
                                       name="defences")
            if kind == "batch" and getattr(d, "action", None) not in ("ban", "penalise"):
                raise InvalidParameter(f"Batch defence {d.name!r} must ban accounts or penalise "
                                       "items (action 'ban' or 'penalise'). Got "
                                       f"{getattr(d, 'action', None)!r} instead.", name="defences")
        self.defences = tuple(defences)
        self.scorer = scorer
        self.inline = tuple(d for d in defences if d.schedule.kind == "inline")
        self.batch = tuple(d for d in defences if d.schedule.kind == "batch")
        self.name = name or "+".join([scorer.name, *(d.name for d in defences)])
        self.oracle = any(getattr(d, "oracle", False) for d in (*defences, scorer))
        self.kinds = _union_kinds(self.defences)
        self._streams: OrderedDict = OrderedDict()

    def __repr__(self):
        return f"Pipeline({', '.join(map(repr, (*self.defences, self.scorer)))})"

    def __getstate__(self):
        return {**self.__dict__, "_streams": OrderedDict()}

    def bind(self, fake: np.ndarray, since: float | None = None, quality=None) -> "Pipeline":
        """A copy whose oracle parts know which accounts are fake (the simulator calls it),
        where the run's window starts (``since``) and the items' true ``quality``."""
        kw = {} if since is None else {"since": since}
        if quality is not None:
            kw["quality"] = quality
        parts = [d.bind(fake, **kw) if getattr(d, "oracle", False) else d
                 for d in (*self.defences, self.scorer)]
        return Pipeline(*parts, name=self.name)

    # --- the ranker -------------------------------------------------------------
    def __call__(self, obs: Observation) -> np.ndarray:
        st = self._advance(obs)
        wobs = self._weighted(st, obs)
        scores = np.array(self.scorer(wobs), dtype=np.float64)
        pen = st.penalised & obs.eligible
        if pen.any() and scores.shape == (obs.n_items,):
            elig = obs.eligible
            lo, hi = scores[elig].min(), scores[elig].max()
            # a gap on the scores' own scale: ``hi - lo + 1`` loses its ``+ 1`` to rounding
            # once scores pass 2**53, and a penalised item then ties the lowest one
            scores[pen] -= (hi - lo) + max(1.0, abs(lo), abs(hi))
        return scores

    @property
    def score_pairs(self):
        """The scorer's (account, item) pair scores on this pipeline's weighted view, its
        penalised items below every other; absent (AttributeError) when the scorer is a
        global ranker, so a pipeline is personalised exactly when its scorer is."""
        fn = getattr(self.scorer, "score_pairs", None)
        if fn is None:
            raise AttributeError(f"{self.name!r} has no score_pairs: its scorer is global")

        def pairs(obs: Observation, account, item) -> np.ndarray:
            st = self._advance(obs)
            s = np.array(fn(self._weighted(st, obs), account, item), dtype=np.float64)
            pen = st.penalised[item] & obs.eligible[item]
            if pen.any() and s.size:
                lo, hi = s.min(), s.max()
                s[pen] -= (hi - lo) + max(1.0, abs(lo), abs(hi))
            return s
        return pairs

    def weighted(self, obs: Observation) -> Observation:
        """``obs`` with this pipeline's event weights (what the scorer sees)."""
        return self._weighted(self._advance(obs), obs)

    def audit(self, obs: Observation) -> Audit:
        """Final weights, bans and penalties of the stream ``obs`` belongs to."""
        st = self._advance(obs)
        return Audit(st.w[: obs.n_events].copy(), st.banned_at[: obs.n_accounts].copy(),
                     st.penalised.copy())

    # --- state ------------------------------------------------------------------
    def _stream(self, obs) -> _Stream:
        key = id(obs.stream)
        hit = self._streams.get(key)
        if hit is not None and hit[0] is obs.stream:
            if hit[1].n <= obs.n_events:
                self._streams.move_to_end(key)
                return hit[1]
            return _Stream(self, obs.n_accounts, obs.n_items)  # an older prefix: not kept
        st = _Stream(self, obs.n_accounts, obs.n_items)
        self._streams[key] = (obs.stream, st)
        while len(self._streams) > _MAX_STREAMS:
            self._streams.popitem(last=False)
        return st

    def _advance(self, obs: Observation) -> _Stream:
        st = self._stream(obs)
        st.grow_accounts(obs.n_accounts)
        n0, n = st.n, obs.n_events
        if n > n0:
            m = np.ones(n - n0, np.float32)
            for d, state in zip(self.inline, st.inline_state):
                dw = np.asarray(d.weights(obs, n0, state), np.float32)
                if dw.shape != m.shape or (dw.size and (dw.min() < 0 or dw.max() > 1
                                                        or not np.isfinite(dw).all())):
                    raise InvalidParameter(f"Defence {d.name!r} must return weights in [0, 1] for "
                                           f"the {m.size} new events.", name="defence")
                m *= dw
            st.w_inline = append_grown(st.w_inline, n0, m)
        changed = self._run_batch(st, obs)
        changed |= self._base_changed(st, obs, n0)
        t, acc, *_ = obs.events
        base_w = obs.weight
        if changed or st.aggs is None:
            w = st.w_inline[:n] * base_w * self._ban_factor(st, t, acc)
            st.w = append_grown(np.empty(0, np.float32), 0, w.astype(np.float32))
            st.aggs = Aggregates(obs.n_items, start_columns=self._columns(obs, st, 0, n))
        elif n > n0:
            w = st.w_inline[n0:n] * base_w[n0:n] * self._ban_factor(st, t[n0:], acc[n0:])
            st.w = append_grown(st.w, n0, w.astype(np.float32))
            st.aggs.extend(*self._columns(obs, st, n0, n))
        st.n = n
        return st

    def _run_batch(self, st: _Stream, obs: Observation) -> bool:
        changed = False
        for j, d in enumerate(self.batch):
            every = d.schedule.every_hours * HOUR
            latest = np.floor(obs.now / every) * every
            last = st.last_run[j]
            runs = [latest] if last is None else np.arange(last + every, latest + every / 2, every)
            for r in runs:
                det = d.detect(obs.prefix(r - d.schedule.lag_hours * HOUR))
                if d.action == "penalise":
                    items = np.asarray(det.items, np.int64)
                    changed |= bool((~st.penalised[items]).any())
                    st.penalised[items] = True
                    continue
                a = np.asarray(det.accounts, np.int64)
                new = a[st.banned_at[a] > r]
                if new.size:
                    st.banned_at[new] = r
                    changed = True
                if getattr(d, "clawback", False) and a.size and not st.claw[a].all():
                    st.claw[a] = True
                    changed = True
            if len(runs):
                st.last_run[j] = float(latest)
        return changed

    @staticmethod
    def _base_changed(st: _Stream, obs: Observation, n0: int) -> bool:
        """Did the observation's own weights of the first ``n0`` events change since the last
        call (another view of the stream, or a pipeline nested in a pipeline whose bans
        lowered old events)? Free for unit weights (the simulator's case)."""
        w = obs._weight
        if w is None:
            changed = st.base is not None and not (st.base[:n0] == 1).all()
            st.base = None
            return bool(changed)
        old = st.base[:n0] if st.base is not None else np.ones(n0, np.float32)
        changed = not np.array_equal(w[:n0], old)
        st.base = np.array(w, np.float32)
        return changed

    @staticmethod
    def _ban_factor(st: _Stream, t, acc) -> np.ndarray:
        banned = st.claw[acc] | (t >= st.banned_at[acc])
        return np.where(banned, np.float32(0), np.float32(1))

    @staticmethod
    def _columns(obs, st: _Stream, lo: int, hi: int) -> tuple:
        """``(item, kind, value, viewed_before, weight)`` of events ``lo:hi`` (views)."""
        _, _, item, kind, value = (c[lo:hi] for c in obs.events)
        return item, kind, value, obs.viewed_before()[lo:hi], st.w[lo:hi]

    @staticmethod
    def _weighted(st: _Stream, obs: Observation) -> Observation:
        n = obs.n_events
        cache = {**st.aggs.snapshot(), "viewed_before": obs.viewed_before()}
        # st.w is a product of checked factors (the observation's weights, defence
        # multipliers checked in [0, 1], bans 0 or 1): checking all n again would make
        # every round cost the whole history
        return obs.reweighted(st.w[:n], cache)


def _named(ranker, name: str):
    """``ranker`` called by the name it is registered under (a plug-in registered as
    ``lpv_decay`` whose class says ``lpv`` is ``lpv_decay`` in every table and record): a
    copy renamed, or the ranker itself when it cannot be renamed (a read-only name)."""
    if getattr(ranker, "name", None) == name:
        return ranker
    if is_dataclass(ranker) and "name" in {f.name for f in fields(ranker)}:
        return replace(ranker, name=name)
    twin = copy.copy(ranker)
    try:
        twin.name = name
    except (AttributeError, TypeError):
        return ranker
    return twin


def build_ranker(spec: str):
    """A ranker from a spec: ``scorer`` or ``scorer+defence+defence``.

    Names are looked up in ``RANKERS`` and ``DEFENCES`` (defaults of each);
    unknown names raise :class:`~boostbench.errors.InvalidParameter` listing
    what exists. A registered scorer carries its registered name.
    """
    parts = [p.strip() for p in str(spec).split("+")]
    if not parts or any(not p for p in parts):
        raise InvalidParameter(f"A ranker spec is 'scorer' or 'scorer+defence+...'. Got {spec!r}.",
                               name="ranker")
    scorer = RANKERS.create(parts[0])
    if ":" not in parts[0]:
        scorer = _named(scorer, parts[0])
    if len(parts) == 1:
        return scorer
    if len(set(parts[1:])) != len(parts) - 1:
        raise InvalidParameter(f"Defences must not repeat in {spec!r}.", name="ranker")
    return Pipeline(*(DEFENCES.create(p) for p in parts[1:]), scorer)
