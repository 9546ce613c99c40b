"""Composable attacks: a supplier, a signal mix and a pacing make a recipe.

Suppliers are in :mod:`.supply`, pacings in :mod:`.pacing`; this module holds the
signal mix and the recipe that turns the three into a campaign.

A recipe turns (public view, targets, window, seed) into an ordered *plan* of
bundles: bundle j is one account engaging with target ``j % n_targets`` with the
recipe's signal mix, at the time its pacing gives. A budget buys the longest
prefix of the plan it can pay for, so with the same seed a smaller budget's
actions are a prefix of a larger one's (nested campaigns, never a bisection).
Every random choice is a counter-based uniform keyed by (seed, bundle), so the
plan does not depend on how far it is unrolled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._core.arrays import distinct, first_occurrence, rank_within_runs
from .._core.params import Boolean, InstanceOf, Interval, Options, SequenceOf, declare
from .._core.random import STREAMS, hash_uniforms
from .._core.units import DAY
from ..errors import InvalidParameter
from ..events import EventKind as K
from ..observation import Observation
from .base import Campaign, CostModel, check_attack_args, empty_campaign
from .mimic import EverydayLife, choose_templates
from .pacing import Burst, Pacing
from .supply import Supplier

__all__ = ["SignalMix", "Recipe", "VIEW_STYLES", "GOALS", "KNOWLEDGE", "new_accounts", "camouflage",
           "bundle_acts", "bundle_prices", "bundle_events"]

VIEW_STYLES = ("none", "short", "real", "complete")
GOALS = ("promote", "demote")
#: Attacker knowledge levels, weakest first.
KNOWLEDGE = ("fixed", "adaptive", "defence_aware")
_ACTIONS = (("like", K.LIKE), ("comment", K.COMMENT), ("share", K.SHARE), ("follow", K.FOLLOW),
            ("report", K.REPORT), ("not_interested", K.NOT_INTERESTED))
# Stream ids of the per-bundle draws, keyed by the campaign's key.
_C = "campaign"
_S_TIME, _S_TASK, _S_ACCOUNT_CLOCK = STREAMS.claim_block(_C, "pacing", 21, ("time", "task",
                                                                             "account_clock"))
_S_DWELL = STREAMS.claim(_C, "dwell", 31)
_S_ACTS = STREAMS.claim_block(_C, "acts", 40, [name for name, _ in _ACTIONS])
_S_COMMENT_LENGTH = STREAMS.claim(_C, "comment_length", 50)
_S_NEW_AGE, _S_NEW_TOPIC = STREAMS.claim_block(_C, "new_account", 60, ("age", "topic"))
_S_RECIPROCITY = STREAMS.claim(_C, "reciprocity_delay", 70)
# a bundle starts at least this long before the window ends (its view and actions fit)
_LAST_SECONDS = 600.0
# seconds after the view at which each action happens (plus the dwell)
_DELAY = {K.LIKE: 1.0, K.COMMENT: 8.0, K.SHARE: 3.0, K.FOLLOW: 4.0, K.REPORT: 2.0,
          K.NOT_INTERESTED: 1.5}


@dataclass(frozen=True)
@declare(view=Options(*VIEW_STYLES), **{name: Interval(float, 0.0, 1.0) for name, _ in _ACTIONS},
         short_seconds=SequenceOf(Interval(float, 0.0, None, closed="neither"), min_len=2,
                                  max_len=2, increasing=True))
class SignalMix:
    """What each bundle does to its target.

    Parameters
    ----------
    view : {"none", "short", "real", "complete"}
        The view before the other actions: none (API calls), a short dwell
        (``short_seconds``, uniform), a real person's watch (completion
        ~ Beta(5, 2) [?]) or a full completion.
    like, comment, share, follow, report, not_interested : float in [0, 1]
        Probability that a bundle includes each action. Comment lengths are drawn
        from the public organic comments (the attacker can read them).
    short_seconds : (float, float)
    """

    view: str = "short"
    like: float = 1.0
    comment: float = 0.0
    share: float = 0.0
    follow: float = 0.0
    report: float = 0.0
    not_interested: float = 0.0
    short_seconds: tuple = (2.0, 2.0)

    def dwell(self, u, duration) -> np.ndarray:
        """Seconds of each bundle's view from its uniforms ``u``: the short dwell (uniform in
        ``short_seconds``), a real watch (Beta(5, 2) of the ``duration``), or the whole
        ``duration``; zeros without a view."""
        u = np.asarray(u, np.float64)
        if self.view == "none":
            return np.zeros(u.shape)
        if self.view == "short":
            lo, hi = self.short_seconds
            return lo + u * (hi - lo)
        duration = np.asarray(duration, np.float64)
        if self.view == "real":
            from scipy.special import betaincinv
            return betaincinv(5.0, 2.0, u) * duration
        return duration.copy()

    def __post_init__(self):
        if self.view == "none" and not any(getattr(self, n) for n, _ in _ACTIONS):
            raise InvalidParameter("A SignalMix must do something: a view or some action.",
                                   name="view")


@dataclass(frozen=True)
class _Plan:
    """The first n bundles of a recipe's plan (columns per bundle)."""

    bundle: np.ndarray       # plan position (the key of every per-bundle draw)
    target: np.ndarray
    account: np.ndarray      # global id (new accounts: n_accounts + index)
    new_index: np.ndarray    # index among new accounts, -1 for recruited ones
    t: np.ndarray
    acts: np.ndarray         # bool (n, len(_ACTIONS)): which actions each bundle includes
    cost: np.ndarray         # per bundle, including a first use's account cost
    exhausted: bool = False  # no longer plan would add a bundle (pools ran dry)


@dataclass(frozen=True)
@declare(name=InstanceOf(str, "a string"), supplier=InstanceOf(Supplier),
         mix=InstanceOf(SignalMix), pacing=InstanceOf(Pacing), goal=Options(*GOALS),
         reciprocity=Boolean(), knowledge=Options(*KNOWLEDGE),
         targets_per_account=Interval(int, 0, None))
class Recipe:
    """A named attack: supplier x signal mix x pacing. Callable as an Attack.

    ``goal`` is ``promote`` (targets are low-quality posts to lift) or ``demote``
    (targets are a rival's good posts to sink: mass-report sabotage).
    ``targets_per_account`` (0 = all) caps how many of the targets one account
    acts on: an attacker who knows a lockstep detector's ``min_items`` uses more
    accounts, each on fewer targets, so no two share enough items.
    """

    name: str
    supplier: Supplier
    mix: SignalMix = field(default_factory=SignalMix)
    pacing: Pacing = field(default_factory=Burst)
    goal: str = "promote"
    reciprocity: bool = False
    knowledge: str = "fixed"
    targets_per_account: int = 0

    def _bundles(self, obs, targets, window, key, n, cost) -> _Plan:
        s, T = self.supplier, targets.size
        start, end = window
        j = np.arange(n)
        k = j % T
        # account index: with targets_per_account = tpa, the targets split into G groups
        # and the slot-th account of group g acts on that group's targets only
        tpa = self.targets_per_account if 0 < self.targets_per_account < T else T
        groups = -(-T // tpa)
        slot = (j // T) * groups + k // tpa
        pools = s.pools(obs, targets, start, key)
        exhausted = False
        if pools is None:
            new_index = slot
            account = obs.n_accounts + slot
        else:  # the i-th bundle of a target uses the i-th account of its pool
            sizes = np.array([p.size for p in pools])
            exhausted = bool(slot.size == 0 or slot[-1] >= sizes.max())  # slot never decreases
            ok = slot < sizes[k]
            j, k, slot = j[ok], k[ok], slot[ok]
            account = np.empty(j.size, np.int64)
            for x, pool in enumerate(pools):  # a handful of targets
                m = k == x
                account[m] = pool[slot[m]]
            new_index = np.full(j.size, -1)
        tgt = targets[k]
        u1 = hash_uniforms(key, _S_TIME, j)
        u2 = hash_uniforms(key, _S_TASK, j)
        base = np.maximum(start, obs.items.created_at[tgt])
        if self.pacing.per_account_clock:  # one clock per account, once every target is up
            base = np.full(j.size, max(start, float(obs.items.created_at[targets].max())))
        order = np.argsort(account, kind="stable")            # plan order within an account
        rank = np.empty(j.size, np.int64)
        rank[order] = rank_within_runs(account[order])
        t = self.pacing.times(base, end, rank, u1, u2, hash_uniforms(key, _S_ACCOUNT_CLOCK, account))
        acts = bundle_acts(self.mix, key, j)
        # the campaign runs in its window: a bundle its pacing puts too late is not bought
        fits = t <= end - _LAST_SECONDS
        j, tgt, account, new_index, t, acts = (x[fits] for x in (j, tgt, account, new_index,
                                                                  t, acts))
        c = bundle_prices(s, self.mix, acts, cost)
        if s.own_farm:  # an account's price comes with its first bundle
            c = c + first_occurrence(account) * getattr(cost, s.account_price) / s.uses
        # a pacing that puts no bundle of a large draw in the window never will
        exhausted = exhausted or (j.size == 0 and n >= 4096)
        return _Plan(j, tgt, account.astype(np.int64), new_index.astype(np.int64), t, acts, c,
                     exhausted)

    def plan(self, obs, targets, window, key, budget, cost) -> _Plan:
        """The longest plan prefix whose cumulative cost fits ``budget``."""
        n = 64
        while True:
            p = self._bundles(obs, targets, window, key, n, cost)
            cum = np.cumsum(p.cost)
            if p.exhausted or (cum.size and cum[-1] > budget) or n > 50_000_000:
                m = int(np.searchsorted(cum, budget * (1 + 1e-12), side="right"))
                return _Plan(*(getattr(p, f)[:m] for f in ("bundle", "target", "account", "new_index",
                                                           "t", "acts", "cost")))
            n *= 4

    # --- the attack ----------------------------------------------------------------
    def __call__(self, obs: Observation, targets, budget, window, rng,
                 cost: CostModel = CostModel()) -> Campaign:
        targets, budget, window = check_attack_args(obs, targets, budget, window)
        key = int(np.random.default_rng(rng).integers(0, 2**62))
        p = self.plan(obs, targets, window, key, budget, cost)
        if p.target.size == 0:
            return empty_campaign(self.name, budget, targets)
        return self._campaign(obs, targets, budget, window, key, p, cost)

    def _campaign(self, obs, targets, budget, window, key, p: _Plan, cost) -> Campaign:
        s = self.supplier
        cols, spend = bundle_events(obs, s, self.mix, key, p.bundle, p.t, p.account, p.target,
                                    p.acts, cost)
        if s.own_farm:
            spend = {f"{s.account_price} (amortised)": float(p.cost.sum())}
        new_ids = distinct(p.new_index[p.new_index >= 0])
        n_new = int(new_ids.max()) + 1 if new_ids.size else 0
        created, device, topic = new_accounts(obs, key, n_new, window[0], s.age_days,
                                              s.accounts_per_device)
        life = None
        if s.camouflage and n_new:
            templates, topic = camouflage(obs, window[0], key, obs.n_accounts + np.arange(n_new),
                                          created, topic, cols)
            life = EverydayLife(templates)
        if self.reciprocity:
            _reciprocity(obs, window, key, p, cols)
        recruited = distinct(p.account[p.new_index < 0]) if not s.source.new else \
            np.empty(0, np.int64)
        if s.source.recruits_creators:
            recruited = np.union1d(recruited, distinct(obs.items.creator[targets]))
        return Campaign(attack=self.name, budget=budget, targets=targets, new_created_at=created,
                        new_device=device, new_topic=topic,
                        new_origin=np.full(n_new, s.origin, np.int8), life=life,
                        recruited=recruited.astype(np.int64), recruited_origin=int(s.origin),
                        **{c: np.concatenate(cols[c]) for c in ("t", "account", "item", "kind",
                                                                 "value")},
                        spend=spend, shadow_priced=s.shadow_priced, goal=self.goal,
                        **(dict(account_price=getattr(cost, s.account_price), account_uses=s.uses)
                           if s.own_farm else {}))


def _reciprocity(obs, window, key: int, p: _Plan, out) -> None:
    """Ring reciprocity (unpaid): each target's creator likes back the recruited member's
    newest post one to two hours later, inside the window."""
    items = obs.items
    start, end = window
    posted = np.flatnonzero(items.created_at <= start)
    newest = np.full(obs.n_accounts, -1, np.int64)
    newest[items.creator[posted]] = posted  # items are time-sorted: last is newest
    back_item = newest[p.account]
    ok = back_item >= 0
    delay = 3600.0 * (1 + hash_uniforms(key, _S_RECIPROCITY, np.flatnonzero(ok)))
    t = np.minimum(p.t[ok] + delay, np.maximum(p.t[ok], end - 60.0))
    acc = items.creator[p.target[ok]].astype(np.int64)
    _push(out, t, acc, back_item[ok], K.IMPRESSION, 0.0)
    _push(out, t + 1.0, acc, back_item[ok], K.VIEW, 0.8)
    _push(out, t + 20.0, acc, back_item[ok], K.LIKE, 0.0)


def bundle_acts(mix: SignalMix, key: int, bundle) -> np.ndarray:
    """Which actions each bundle includes, bool ``(n, 6)`` (like, comment, share, follow,
    report, not interested): a counter-based draw keyed by ``(key, bundle id)`` below the
    mix's probability, so a bundle's actions do not depend on how many are drawn."""
    bundle = np.asarray(bundle, np.int64)
    return np.stack([hash_uniforms(key, _S_ACTS[i], bundle) < getattr(mix, name)
                     for i, (name, _) in enumerate(_ACTIONS)], axis=1).reshape(bundle.size,
                                                                                len(_ACTIONS))


def bundle_prices(supplier: Supplier, mix: SignalMix, acts, cost: CostModel) -> np.ndarray:
    """Per-action price of each bundle: its view and the actions ``acts`` says it includes
    (an own farm's actions are free; its accounts are paid for apart)."""
    prices = np.array([supplier.unit(kind, mix.view, cost)[1] for _, kind in _ACTIONS])
    c = np.asarray(acts, np.float64) @ prices
    if mix.view != "none":
        c = c + supplier.unit(K.VIEW, mix.view, cost)[1]
    return c


def bundle_events(obs, supplier: Supplier, mix: SignalMix, key: int, bundle, t, account, target,
                  acts, cost: CostModel) -> tuple[dict, dict]:
    """The events of bundles (one account engaging one target at time ``t`` each) and their
    itemised per-action spend.

    Returns ``(cols, spend)``: lists of column pieces ``{"t", "account", "item", "kind",
    "value"}`` (opening the post logs an impression, then the view with its completion, then
    each included action after the dwell) and ``{spend item: dollars}``.
    """
    n = len(target)
    dur = obs.items.duration[target].astype(np.float64)
    cols: dict = {"t": [], "account": [], "item": [], "kind": [], "value": []}
    spend: dict[str, float] = {}

    def emit(mask, t_, kind, value):
        cols["t"].append(t_[mask])
        cols["account"].append(account[mask])
        cols["item"].append(target[mask])
        cols["kind"].append(np.full(int(mask.sum()), kind, np.int8))
        cols["value"].append(np.broadcast_to(value, t_.shape)[mask].astype(np.float64))
        unit, price = supplier.unit(kind, mix.view, cost)
        if price:
            spend[unit] = spend.get(unit, 0.0) + price * int(mask.sum())

    dwell = np.zeros(n)
    if mix.view != "none":
        dwell = mix.dwell(hash_uniforms(key, _S_DWELL, bundle), dur)
        _push(cols, t, account, target, K.IMPRESSION, 0.0)   # opening it shows it
        emit(np.ones(n, bool), t, K.VIEW, np.minimum(dwell / dur, 1.0))
    lengths = _organic_comment_lengths(obs)
    for i, (name, kind) in enumerate(_ACTIONS):
        m = acts[:, i]
        if not m.any():
            continue
        value = 0.0
        if kind == K.COMMENT:
            pick = (hash_uniforms(key, _S_COMMENT_LENGTH, bundle) * lengths.size).astype(np.int64)
            value = lengths[np.minimum(pick, lengths.size - 1)]
        emit(m, t + dwell + _DELAY[kind], kind, value)
    return cols, spend



def camouflage(obs, start: float, key: int, accounts, created, topic, out):
    """Aged bots' (养号) everyday life before the window: each of ``accounts`` (created at
    ``created``, drawn with ``topic``) mirrors an established account's public events since
    the visible history began (:mod:`.mimic`). Appends the events to ``out``'s column lists
    and returns ``(templates, topics)``: the mirrored accounts and the topics the new
    accounts take (their template's; ``topic`` where none qualifies)."""
    templates = choose_templates(obs, key, len(accounts), start)
    t, acc, item, kind, value = obs.events
    before = t < start
    cols = tuple(c[before] for c in (t, acc, item, kind, value))
    topics, posted = obs.accounts.topic, obs.items.created_at
    mt, ma, mi, mk, mv = EverydayLife(templates).copies(cols, None, accounts, created, templates,
                                                        topics, posted, key, day0=0)
    for c, v in zip(("t", "account", "item", "kind", "value"), (mt, ma, mi, mk, mv)):
        out[c].append(v)
    return templates, np.where(templates >= 0, topics[np.maximum(templates, 0)],
                               topic).astype(np.int16)


def new_accounts(obs, key: int, n: int, start: float, age_days, accounts_per_device: int):
    """``(created_at, device, topic)`` of ``n`` new accounts an attacker brings.

    Ages uniform in ``age_days`` at ``start``; local device indices, ``accounts_per_device``
    accounts to a device (the simulator places them on device ids, see
    :class:`~boostbench.attacks.base.Campaign`); topics drawn like the public accounts'
    (the topic of a random visible account: hash-keyed by ``key``), so a campaign
    account's interests look like anyone's.
    """
    idx = np.arange(n)
    lo, hi = age_days
    created = start - (lo + hash_uniforms(key, _S_NEW_AGE, idx) * (hi - lo)) * DAY
    device = (idx // accounts_per_device).astype(np.int32)
    topics = obs.accounts.topic[obs.accounts.topic >= 0]
    if topics.size == 0:
        topics = np.zeros(1, np.int16)
    pick = (hash_uniforms(key, _S_NEW_TOPIC, idx) * topics.size).astype(np.int64)
    topic = topics[np.minimum(pick, topics.size - 1)].astype(np.int16)
    return created, device, topic


def _push(out, t, acc, itm, kind, value):
    out["t"].append(np.asarray(t, np.float64))
    out["account"].append(np.asarray(acc, np.int64))
    out["item"].append(np.asarray(itm, np.int64))
    out["kind"].append(np.full(np.size(t), kind, np.int8))
    out["value"].append(np.broadcast_to(np.asarray(value, np.float64), np.shape(t)).copy())


def _organic_comment_lengths(obs) -> np.ndarray:
    """Lengths of public comments (what a seller imitates); 30 characters if there are none."""
    _, _, _, kind, value = obs.events
    lengths = value[kind == K.COMMENT].astype(np.float64)
    return lengths if lengths.size else np.array([30.0])
