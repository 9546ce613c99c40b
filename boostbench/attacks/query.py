"""Query attackers: each round, ask the ranker what a purchase would do, then buy it.

Knowledge ``query_rank`` and ``query_score``, the black-box analogue of the Square
attack (Andriushchenko et al., ECCV 2020): the attacker sees the public observation
and may *query* the ranker under attack on what-if copies of it — the observation plus
a candidate bundle of actions (:func:`what_if`), never the real log and never the
ranker's own state (each query scores a fresh copy of the ranker). ``query_rank``
reads only its targets' ranks among the eligible items; ``query_score`` reads scores
(its targets' and the k-th best of the other items). Every answer is one query,
counted against ``queries``; the round's plain answer is the score the platform
already computed for the round (it is counted too). Once the queries are spent the
attacker repeats its last purchase blind while money lasts.

Each round of the attack window, for the targets outside the top k:

1. the option (supplier x signal mix) is chosen by one query per option, each spending
   the same money (``probe_share`` of what is left) on every such target: the largest
   share of the targets' gap to the top k closed (the first time, and every
   ``reprobe_every`` rounds);
2. the fewest bundles per target that put every such target in the top k, within what
   is left of the budget (doubling from 8, then bisection); if no affordable number
   does, a steady share (what is left over the rounds left);
3. those bundles are bought, one account per bundle and target (an account acts on a
   target once), spread over the round's first half.

Accounts are new ones from the suppliers (own farms pay per account at its first
use; aged accounts live their everyday camouflage life from the start of the visible
history, as the farm's stock does whether or not this campaign uses them).
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from .._core.arrays import stable_argsort
from .._core.params import Interval, Options, SequenceOf, declare
from ..errors import InvalidParameter
from ..events import EventKind as K, EventLog
from ..observation import AGGREGATES, Observation, aggregate, viewed_before
from ..plugins import ATTACKS, SUPPLIERS
from ..world import Origin
from .base import Campaign, CostModel, check_attack_args, empty_campaign
from .compose import bundle_acts, bundle_events, bundle_prices, camouflage, new_accounts
from .mimic import EverydayLife
from .adaptive import MIXES

__all__ = ["Query", "what_if", "QUERY_BUDGET"]

#: A query attacker's default query budget per run.
QUERY_BUDGET = 300


def what_if(obs: Observation, cols, viewed) -> Observation:
    """``obs`` with extra events, on a copy of its log (the real log is never touched).

    Parameters
    ----------
    obs : Observation
        The public view (unit weights).
    cols : (t, account, item, kind, value)
        The extra events, each at or before ``obs.now``.
    viewed : bool array
        Per extra event, whether its account viewed the item earlier (in ``obs`` or
        among the extra events).

    The additive aggregates already computed for ``obs`` are carried over plus the
    extra events' share, so a ranker that reads them pays for the extra events only.
    """
    if obs.weighted:
        raise InvalidParameter("what_if needs the public (unit-weight) observation.",
                               name="obs")
    extra = [np.asarray(c, b.dtype) for c, b in zip(cols, obs.events)]   # the log's dtypes
    if extra[0].size and extra[0].max() > obs.now:
        raise InvalidParameter("what_if events must be at or before the observation's now.",
                               name="cols")
    base = obs.events
    merged = [np.concatenate([b, e]) for b, e in zip(base, extra)]
    order = stable_argsort(merged[0])
    log = EventLog.from_arrays(*(c[order] for c in merged))
    vb_new = np.asarray(viewed, bool)
    cache = {"viewed_before": np.concatenate([obs.viewed_before(), vb_new])[order]}
    _, _, item, kind, value = extra
    for name in AGGREGATES:    # each computed when the ranker first asks for it
        cache[name] = partial(_plus_extra, obs, name, item, kind, value, vb_new)
    return Observation(obs.items, obs.accounts, log, obs.now, n=len(log),
                       eligibility_hours=obs.eligibility_hours, cache=cache)


def _plus_extra(obs, name, item, kind, value, vb) -> np.ndarray:
    """``obs``'s aggregate ``name`` plus the extra events' share."""
    return obs.aggregate(name) + aggregate(name, item, kind, value, vb, None, obs.n_items)


@dataclass(frozen=True)
@declare(feedback=Options("rank", "score"), queries=Interval(int, 1, None),
         k=Interval(int, 1, None), probe_share=Interval(float, 0.0, 1.0, closed="right"),
         reprobe_every=Interval(int, 1, None), max_accounts=Interval(int, 1, None),
         suppliers=SequenceOf(Options("fresh_bots", "aged_bots", "api_client"), min_len=1),
         mixes=SequenceOf(Options(*MIXES), min_len=1))
class Query:
    """A query attacker (see the module): buys, each round, what its queries say works.

    Parameters
    ----------
    feedback : {"rank", "score"}
        What a query returns: the targets' ranks (``query_rank``) or the scores
        (``query_score``).
    queries : int
        Query budget of the campaign (every ranker call on a what-if counts one).
    k : int
        The feed length the attacker aims at.
    probe_share : float in (0, 1]
        Share of the money left that each option's probe spends (in the what-if): options
        are compared at equal cost, so a cheap action that moves a little does not win
        over a dear one that reaches the top.
    reprobe_every : int
        Rounds between choices of the option.
    suppliers, mixes
        The options: new-account suppliers (``fresh_bots``, ``aged_bots``,
        ``api_client``, which only sends blind likes) x signal mixes of the search
        space (:data:`boostbench.attacks.adaptive.MIXES`; by default six: one short-dwell
        like, real-view and blind likes, deep engagement, complete views, shares — each
        option's probe costs queries, so the 2 s and 3–10 s dwell variants are left out).
    max_accounts : int
        Accounts per supplier at most (the farm's stock); a target gets at most this many
        bundles of one supplier.
    """

    feedback: str = "rank"
    queries: int = QUERY_BUDGET
    k: int = 10
    probe_share: float = 0.25
    reprobe_every: int = 12
    suppliers: tuple = ("fresh_bots", "aged_bots")
    mixes: tuple = ("likes_short", "likes_real", "likes_blind", "deep", "complete_only",
                    "shares")
    max_accounts: int = 20_000
    name: str = "query_rank"
    goal: str = "promote"
    closed_loop_only: bool = True

    @property
    def knowledge(self) -> str:
        return f"query_{self.feedback}"

    def options(self) -> list[tuple[str, str]]:
        """(supplier, mix) pairs the sellers can deliver (an API client sends no views)."""
        return [(s, m) for s, m in itertools.product(self.suppliers, self.mixes)
                if (s == "api_client") == (MIXES[m].view == "none")]

    def __call__(self, obs, targets, budget, window, rng, cost: CostModel = CostModel()
                 ) -> Campaign:
        targets, budget, (start, end) = check_attack_args(obs, targets, budget, window)
        opts = self.options()
        if not opts:
            raise InvalidParameter("The 'mixes' and 'suppliers' parameters of a query attacker "
                                   "must make a deliverable option: api_client with likes_blind, "
                                   "or bots with a viewing mix.", name="mixes")
        key = int(np.random.default_rng(rng).integers(0, 2**62))
        names = list(dict.fromkeys(s for s, _ in opts))
        sizes = [_pool_size(SUPPLIERS.get(s), [MIXES[m] for s_, m in opts if s_ == s], budget,
                            cost, self.max_accounts) for s in names]
        if budget <= 0 or sum(sizes) == 0:
            return empty_campaign(self.name, budget, targets)
        # supplier s's slot j is new account j * S + s: a larger budget adds accounts and
        # never renumbers the ones a smaller one has (nested campaigns)
        S, m = len(names), max(sizes)
        created, device, topic, origin = (np.empty((m, S), dt) for dt in (
            np.float64, np.int32, np.int16, np.int8))
        templates = np.full((m, S), -1, np.int64)
        out = {"t": [], "account": [], "item": [], "kind": [], "value": []}
        first, dev0, pools = obs.n_accounts, 0, {}   # new accounts: first, first + 1, ...
        for i, (s, n) in enumerate(zip(names, sizes)):
            sup = SUPPLIERS.get(s)
            sub = int(np.random.default_rng([key, i]).integers(0, 2**62))
            created[:, i], d, topic[:, i] = new_accounts(obs, sub, m, start, sup.age_days,
                                                         sup.accounts_per_device)
            device[:, i] = d + dev0
            dev0 += int(d.max()) + 1
            origin[:, i] = sup.origin
            pools[s] = (i, n)        # accounts past n stay idle (no campaign of this budget)
            if sup.camouflage and n:
                templates[:n, i], topic[:n, i] = camouflage(
                    obs, start, sub, first + i + S * np.arange(n), created[:n, i],
                    topic[:n, i], out)
        dtypes = {"t": np.float64, "account": np.int64, "item": np.int64, "kind": np.int8,
                  "value": np.float64}
        cols = {k_: (np.concatenate(v) if v else np.empty(0, dtypes[k_])) for k_, v in out.items()}
        policy = _QueryPolicy(self, targets, budget, start, end, key, first, pools, opts, cost)
        return Campaign(attack=self.name, budget=budget, targets=targets,
                        new_created_at=created.ravel(), new_device=device.ravel(),
                        new_topic=topic.ravel(), new_origin=origin.ravel(),
                        life=EverydayLife(templates.ravel()) if (templates >= 0).any() else None,
                        recruited_origin=int(Origin.BOT), policy=policy, goal=self.goal, **cols)


def _pool_size(supplier, mixes, budget, cost, cap) -> int:
    """Accounts one supplier could put to use within ``budget`` (at most ``cap``): budget over
    the price of an account (own farm) or of the cheapest bundle (a service)."""
    if supplier.own_farm:
        unit = getattr(cost, supplier.account_price) / supplier.uses
    else:
        must = [bundle_prices(supplier, m, np.array([[getattr(m, a) >= 1.0 for a in (
            "like", "comment", "share", "follow", "report", "not_interested")]]), cost)[0]
            for m in mixes]
        unit = max(min(must), 1e-9)
    return int(min(cap, np.floor(budget / unit * (1 + 1e-12))))


@dataclass
class _Stream:
    """What a query attacker has done on one run (one event stream)."""

    queries: int = 0
    spent: float = 0.0
    bundles: int = 0
    choice: int | None = None
    since_probe: int = 0
    last: tuple | None = None        # (option, targets, n) of the last purchase
    slots: dict = field(default_factory=dict)   # supplier -> next pool index per target
    paid: dict = field(default_factory=dict)    # supplier -> accounts paid for
    rounds: list = field(default_factory=list)
    prior: tuple = ()       # (events seen, the pool accounts' views of the targets in them)


class _OutOfQueries(Exception):
    pass


class _QueryPolicy:
    """The per-round decision of :class:`Query` (state per event stream, so one campaign
    simulated twice decides the same way twice)."""

    queries_ranker = True

    def __init__(self, attack, targets, budget, start, end, key, first, pools, opts, cost):
        self.attack, self.targets, self.budget = attack, targets, float(budget)
        self.start, self.end, self.key, self.first = float(start), float(end), key, first
        self.pools, self.opts, self.cost = pools, opts, cost
        self._streams: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    def __getstate__(self):
        return {**self.__dict__, "_streams": weakref.WeakKeyDictionary()}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def state(self, obs) -> _Stream:
        """The attacker's record on ``obs``'s run (queries spent, money spent, rounds)."""
        st = self._streams.get(obs.stream)
        if st is None:
            st = self._streams[obs.stream] = _Stream(
                slots={s: np.zeros(self.targets.size, np.int64) for s in self.pools},
                paid={s: 0 for s in self.pools})
        return st

    def state_of(self, stream) -> _Stream | None:
        """The record of the run on event log ``stream``, if the attacker has acted on it."""
        return self._streams.get(stream)

    def queries_used(self, obs) -> int:
        """What-if queries spent on ``obs``'s run so far."""
        return self.state(obs).queries

    # --- one purchase ---------------------------------------------------------------
    def _plan(self, st, opt, tgt_idx, n):
        """``n`` bundles on each target of ``tgt_idx`` with option ``opt``: (bundle ids,
        targets, local account rows, acts, dollars, (supplier, target index, pool slot));
        bundles the pool cannot staff are dropped."""
        s, m = self.opts[opt]
        sup, mix = SUPPLIERS.get(s), MIXES[m]
        col, size = self.pools[s]
        rep = np.repeat(np.arange(n), tgt_idx.size)
        ti = np.tile(tgt_idx, n)
        slot = st.slots[s][ti] + rep
        ok = slot < size
        rep, ti, slot = rep[ok], ti[ok], slot[ok]
        b = st.bundles + np.arange(rep.size)
        acts = bundle_acts(mix, self.key, b)
        dollars = float(bundle_prices(sup, mix, acts, self.cost).sum())
        if sup.own_farm and slot.size:
            new = max(0, int(slot.max()) + 1 - st.paid[s])
            dollars += new * getattr(self.cost, sup.account_price) / sup.uses
        return b, self.targets[ti], col + len(self.pools) * slot, acts, dollars, (s, ti, slot)

    def _room(self, st, opt, need) -> int:
        """Bundles per target of ``need`` the option's account pool can still staff."""
        s = self.opts[opt][0]
        return int(self.pools[s][1] - st.slots[s][need].min())

    def _events(self, obs, opt, plan, t0, span, rows, until):
        """Event columns of ``plan`` bought from ``t0`` on (spread over half a round, each
        event before ``until``), on the accounts' rows, and the itemised spend."""
        b, tgt, local, acts, dollars, _ = plan
        s, m = self.opts[opt]
        sup = SUPPLIERS.get(s)
        acc = self.first + local if rows is None else rows[local]
        t = t0 + 60.0 + span * 0.5 * np.arange(b.size) / max(b.size, 1)
        cols, spend = bundle_events(obs, sup, MIXES[m], self.key, b, t, acc, tgt, acts,
                                    self.cost)
        if sup.own_farm:
            spend = {f"{sup.account_price} (amortised)": dollars}
        out = [np.concatenate(cols[c]) for c in ("t", "account", "item", "kind", "value")]
        out[0] = np.minimum(out[0], until)      # a long dwell's acts stay in the round
        return out, spend

    # --- queries --------------------------------------------------------------------
    def _ask(self, st, query, obs, rows, plan=None, opt=None, span=3600.0, scores=None,
             signed=False):
        """One query: (gap to the top k, inside the top k) per target with ``plan`` bought
        (None: as things are). The gap is in ranks beyond k (``rank`` feedback) or in score
        below the k-th best other item (``score``); inf for a target not eligible; with
        ``signed`` a target inside the top k has a negative gap (how far inside)."""
        if st.queries >= self.attack.queries:
            raise _OutOfQueries
        st.queries += 1
        view = obs
        if plan is not None:   # as if bought in the round before: visible now
            cols, _ = self._events(obs, opt, plan, obs.now - span, span, rows, obs.now)
            view = what_if(obs, cols, self._viewed(st, obs, rows, cols))
            scores = query(view)
        elif scores is None:
            scores = query(view)
        ranks = _ranks(scores, view.eligible, self.targets)
        if self.attack.feedback == "rank":
            gap = np.nan_to_num(ranks, nan=np.inf) - self.attack.k
        else:
            other = np.ones(obs.n_items, bool)
            other[self.targets] = False
            other &= view.eligible
            top = np.sort(scores[other])[::-1]
            kth = top[min(self.attack.k, top.size) - 1] if top.size else -np.inf
            gap = kth - scores[self.targets]
            gap[~view.eligible[self.targets]] = np.inf
        inside = np.nan_to_num(ranks, nan=np.inf) <= self.attack.k
        return (gap if signed else np.maximum(gap, 0.0)), inside

    def _viewed(self, st, obs, rows, cols):
        """Per what-if event: did its account view the item earlier (in ``obs`` or before)?
        The pool's earlier views of the targets are read from the log once per round."""
        if not st.prior or st.prior[0] != obs.n_events:   # a stream's prefix: its length
            _, a0, i0, k0, _ = obs.events
            pool = (a0 >= self.first) if rows is None else np.isin(a0, rows)
            mine = (k0 == K.VIEW) & np.isin(i0, self.targets) & pool
            st.prior = (obs.n_events, a0[mine], i0[mine], k0[mine])
        _, a0, i0, k0 = st.prior
        t, acc, itm, kind, _ = cols
        a, i, k = (np.concatenate(x) for x in ((a0, acc), (i0, itm), (k0, kind)))
        order = np.argsort(np.concatenate([np.full(a0.size, -np.inf), t]), kind="stable")
        vb = np.empty(a.size, bool)
        vb[order] = viewed_before(a[order], i[order], k[order], obs.n_items)
        return vb[a0.size:]

    # --- the round ------------------------------------------------------------------
    def __call__(self, obs, start, end, accounts=None, query=None, scores=None):
        empty = (np.empty(0),) * 5, {}
        if query is None:
            raise InvalidParameter("A query attacker needs a ranker to query (the closed "
                                   "loop passes one).", name="query")
        if not (self.start <= start < self.end):
            return empty
        st = self.state(obs)
        rows = None if accounts is None else np.asarray(accounts, np.int64)
        span = end - start
        left = self.budget - st.spent
        rounds_left = max(1, int(np.ceil((self.end - start) / span)))
        note = {"round_start": start, "queries_before": st.queries}
        try:
            gap, inside = self._ask(st, query, obs, rows, scores=scores)
            need = np.flatnonzero(~inside & np.isfinite(gap))
            choice = None if need.size == 0 else self._choose(st, query, obs, rows, need, gap,
                                                              left, span)
            pick = None if choice is None else self._size(st, query, obs, rows, need, choice,
                                                          left, rounds_left, span)
        except _OutOfQueries:          # the last purchase again, as far as the money goes
            pick = st.last
            note["blind"] = True
        st.rounds.append({**note, "queries_after": st.queries,
                          "bought": None if pick is None else {
                              "option": "/".join(self.opts[pick[0]]), "per_target": pick[2]}})
        if pick is None:
            return empty
        opt, need, n = pick
        plan = self._plan(st, opt, need, n)
        _, _, _, _, dollars, (s, ti, slot) = plan
        if plan[0].size == 0 or dollars > left * (1 + 1e-12):
            return empty
        out, spend = self._events(obs, opt, plan, start, span, rows, end - 1.0)
        np.maximum.at(st.slots[s], ti, slot + 1)
        st.paid[s] = max(st.paid[s], int(slot.max()) + 1)
        st.bundles += plan[0].size
        st.spent += dollars
        st.last = (opt, need, n)
        return tuple(out), spend

    def _choose(self, st, query, obs, rows, need, gap, left, span):
        """The option that closes the most of the targets' gap to the top k for the same
        money (``probe_share`` of what is left, each option's own number of bundles),
        chosen anew every ``reprobe_every`` rounds; None when no option moves them."""
        if st.choice is not None and st.since_probe < self.attack.reprobe_every:
            st.since_probe += 1
            return st.choice
        money = self.attack.probe_share * left
        moved = np.full(len(self.opts), -np.inf)
        for o in range(len(self.opts)):
            n = _largest(lambda m: self._plan(st, o, need, m)[4], self._room(st, o, need), money)
            if n == 0:
                continue
            try:
                g, _ = self._ask(st, query, obs, rows, self._plan(st, o, need, n), o, span,
                                 signed=True)
            except _OutOfQueries:      # the best of the options it could still try
                break
            # share of each target's gap closed (a target tied at the k-th score: gap 0)
            moved[o] = float(np.sum((gap[need] - g[need]) / np.maximum(gap[need], 1e-12)))
        best = int(np.argmax(moved))
        if not moved[best] > 0:
            return None
        st.choice, st.since_probe = best, 0
        return best

    def _size(self, st, query, obs, rows, need, opt, left, rounds_left, span):
        """The fewest bundles per target putting every target of ``need`` in the top k, or a
        steady share of what is left when no affordable number does (None: nothing)."""
        def cost(n):
            return self._plan(st, opt, need, n)[4]

        def reaches(n):
            return bool(self._ask(st, query, obs, rows, self._plan(st, opt, need, n), opt,
                                  span)[1][need].all())

        top = _largest(cost, self._room(st, opt, need), left * (1 + 1e-12))
        if top == 0:
            return None
        lo, n, hi = 0, min(8, top), None
        try:
            while lo < top:            # doubling up to the largest affordable number
                if reaches(n):
                    hi = n
                    break
                lo, n = n, min(n * 2, top)
            while hi is not None and hi - lo > 1:   # then bisection: the fewest that reach
                mid = (lo + hi) // 2
                if reaches(mid):
                    hi = mid
                else:
                    lo = mid
        except _OutOfQueries:          # the fewest known to reach, if any
            pass
        if hi is None:                 # none reaches (or none known to): the steady share
            hi = _largest(cost, top, left / rounds_left)
        return None if hi == 0 else (opt, need, hi)


def _ranks(scores, eligible, idx) -> np.ndarray:
    """Mid-ranks (1 = best) of items ``idx`` among the eligible items by score; NaN for an
    ineligible one (as the feed ranks them)."""
    s = np.sort(scores[eligible])
    x = scores[idx]
    above = s.size - np.searchsorted(s, x, side="right")
    ties = np.searchsorted(s, x, side="right") - np.searchsorted(s, x, side="left")
    return np.where(eligible[idx], 1.0 + above + (ties - 1) / 2.0, np.nan)


def _largest(cost, top, limit) -> int:
    """The largest n in [0, top] with ``cost(n) <= limit`` (cost non-decreasing)."""
    lo, hi = 0, top
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if cost(mid) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


@ATTACKS.register("query_rank")
def query_rank() -> Query:
    """Query attacker: asks the ranker what a purchase would do (sees ranks), then buys."""
    return Query(feedback="rank", name="query_rank")


@ATTACKS.register("query_score")
def query_score() -> Query:
    """Query attacker: asks the ranker what a purchase would do (sees scores), then buys."""
    return Query(feedback="score", name="query_score")
