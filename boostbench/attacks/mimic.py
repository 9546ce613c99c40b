"""Aged bots' everyday life (养号): each farm account mirrors an established organic account.

A farm that raises accounts to pass as users has its phones scroll the feed the way a
person does. Here each such account copies the activity of one *template*, an established
account of the public table (created at least :data:`ESTABLISHED_DAYS` before the window).
Whenever the template acts, the bot does the same thing at the same moment — an impression,
a view with the same completion, a like, a comment of the same length, ... — on a
*substitute* post: one the feed showed another account of the template's topic in the
:data:`CANDIDATE_HOURS` before the template first met its own post, while as old as that
post was then (:data:`AGE_BANDS_HOURS`). So the bot's activity days, counts, rates, gaps,
post ages and history are an honest account's, its posts are of the kind the feed serves at
that moment, and it never acts on its template's post (no post-and-minute in common by
construction).

Before the window the attacker writes the history from the public log at buy time
(:func:`mirror` over ``obs.events``); inside the window the simulator plays the campaign's
:class:`EverydayLife`, mirroring the organic events as they happen (the farm's phones are
live: they see what the feed shows then, not what the attacker could foresee). A farm's
phone is on when it has work: on a day a bot has a paid act it mirrors an established
account active that day (:func:`day_templates`), so no bot comes online only for its job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._core.arrays import KeySet, first_occurrence, is_sorted, pair_keys, stable_argsort
from .._core.random import STREAMS, hash_uniforms
from .._core.units import DAY, HOUR
from ..events import EventKind as K

__all__ = ["ESTABLISHED_DAYS", "CANDIDATE_HOURS", "TRIES", "AGE_BANDS_HOURS", "Candidates",
           "age_band", "choose_templates",
           "mirror", "day_templates", "EverydayLife"]

#: A template is at least this old at the window's start (an established account).
ESTABLISHED_DAYS = 30.0
#: A substitute post was shown to someone of the template's topic this long before.
CANDIDATE_HOURS = 1.0

_S_TEMPLATE, _S_SUBSTITUTE, _S_DAY_TEMPLATE = STREAMS.claim_block(
    "campaign", "mirror", 80, ("template", "substitute", "day_template"))
#: Draws per pair before it is left out (a draw is refused when it is the template's own
#: post or a post the bot already meets: impressions are drawn, so popular posts come up
#: again and again, and the feed shows nobody a post twice).
TRIES = 32
#: Of these, the first match the post's age band; the rest take a post of any age (a ranked
#: feed shows a topic few distinct posts of one age in an hour, and the bot may have met
#: them all: 6% of pairs found no substitute on tiny with band-only draws).
TRIES_IN_BAND = 16


def choose_templates(obs, key: int, n: int, start: float) -> np.ndarray:
    """Template account ids for ``n`` farm accounts, int64[n] (-1: no account qualifies).

    Distinct accounts of the public table created at least :data:`ESTABLISHED_DAYS` before
    ``start`` (busy, quiet or silent of late, as established accounts are), in an order keyed
    by ``key`` (so a smaller campaign's templates are a prefix of a larger one's); they
    repeat only when ``n`` exceeds them.
    """
    cand = np.flatnonzero(obs.accounts.created_at <= start - ESTABLISHED_DAYS * DAY)
    if cand.size == 0:
        return np.full(n, -1, np.int64)
    cand = cand[np.argsort(hash_uniforms(key, _S_TEMPLATE, cand), kind="stable")]
    return cand[np.arange(n) % cand.size].astype(np.int64)


@dataclass(frozen=True)
class Candidates:
    """Impressions substitutes are drawn from: each with its item, ordered by (viewer topic,
    time) and by (viewer topic, age band of the post when shown, time)."""

    key: np.ndarray       # topic * _SPAN + t, sorted
    item: np.ndarray
    key_band: np.ndarray  # (topic * n_bands + band) * _SPAN + t, sorted
    item_band: np.ndarray

    @classmethod
    def of(cls, t, account, item, kind, account_topic, item_created) -> "Candidates":
        """The impressions among events ``(t, account, item, kind)``; ``account_topic``:
        each account row's topic; ``item_created``: each post's time."""
        m = np.asarray(kind) == K.IMPRESSION
        t, account, item = np.asarray(t)[m], np.asarray(account)[m], np.asarray(item)[m]
        topic = np.asarray(account_topic)[account].astype(np.int64)
        band = age_band(t - np.asarray(item_created)[item])
        k, kb = _key(topic, t), _key(topic * _N_BANDS + band, t)
        o, ob = stable_argsort(k), stable_argsort(kb)
        item = item.astype(np.int64)
        return cls(k[o], item[o], kb[ob], item[ob])

    def draw(self, topic, t, age, u, any_age: bool = False) -> np.ndarray:
        """Per query, the item of the impression at fraction ``u`` of those shown to
        ``topic`` in ``[t - CANDIDATE_HOURS, t)`` while as old as ``age`` (its
        :func:`age_band`), or of any age where none was (or with ``any_age``); -1 where
        there is none at all."""
        topic, t = np.asarray(topic, np.int64), np.asarray(t, np.float64)
        u = np.asarray(u, np.float64)
        if any_age:
            return _pick(self.key, self.item, topic, t, u)
        band = topic * _N_BANDS + age_band(np.asarray(age, np.float64))
        out = _pick(self.key_band, self.item_band, band, t, u)
        loose = out < 0
        if loose.any():
            out[loose] = _pick(self.key, self.item, topic[loose], t[loose], u[loose])
        return out


#: Upper edges (hours) of the age bands a substitute's post matches: a post met an hour
#: after it went up is replaced by one as fresh, a three-day-old one by an old one [?].
AGE_BANDS_HOURS = (1.0, 3.0, 6.0, 12.0, 24.0, 48.0, 72.0)
_EDGES = np.asarray(AGE_BANDS_HOURS) * HOUR
_N_BANDS = len(AGE_BANDS_HOURS) + 1


def age_band(age) -> np.ndarray:
    """Band of a post's age in seconds (0 below the first edge, ..., the last above all)."""
    return np.searchsorted(_EDGES, np.asarray(age, np.float64), side="right").astype(np.int64)


def _pick(keys, items, group, t, u) -> np.ndarray:
    """The item at fraction ``u`` of the rows of ``group`` with times in
    ``[t - CANDIDATE_HOURS, t)``; -1 where there is none."""
    lo = np.searchsorted(keys, _key(group, t - CANDIDATE_HOURS * HOUR), side="left")
    hi = np.searchsorted(keys, _key(group, t), side="left")
    n = hi - lo
    pick = lo + np.minimum((u * n).astype(np.int64), np.maximum(n - 1, 0))
    out = np.full(t.size, -1, np.int64)
    ok = n > 0
    out[ok] = items[pick[ok]]
    return out


# groups apart by far more than any time (2**32 s); times are >= 0 and the hour before the
# first lands at the start of the group's block
_SPAN = float(2**32)


def _key(group, t) -> np.ndarray:
    return np.asarray(group, np.float64) * _SPAN + np.asarray(t, np.float64)


def mirror(cols, bots, templates, bots_created, account_topic, item_created,
           candidates: Candidates, key: int, day0: int = 0):
    """The farm accounts' copies of their templates' events among ``cols``.

    Parameters
    ----------
    cols : (t, account, item, kind, value)
        Organic events (in any order); every (account, post) pair's events are all here
        (an impression with the view and acts it led to).
    bots, bots_created : arrays of one length
        Farm account ids and creation times (nothing is copied from before a bot existed).
    templates : int array, (bots,) or (bots, days)
        The account each bot mirrors (-1: no one); with a column per day, on day
        ``day0 + k`` (days since the epoch; later days take the last column) column ``k``.
        A pair's events follow the template of the day the pair began.
    account_topic, item_created : arrays
        Topic of every account row and time of every post: a substitute was shown to
        someone of the template's topic while as old as the template's post was when the
        template met it.
    candidates : Candidates
        The impressions substitutes come from (they must cover the hour before ``cols``).
    key : int
        Key of the substitute draws (keyed by bot, template post and try).
    day0 : int
        The day (whole days since the epoch) of ``templates``' first column.

    Returns
    -------
    tuple of arrays
        ``(t, account, item, kind, value)``, time-sorted. A pair is left out when
        :data:`TRIES` draws find no post other than the template's that the bot does not
        already meet among these copies (a post met in an earlier call may come again).
    """
    t, acc, item, kind, value = (np.asarray(c) for c in cols)
    created = np.asarray(item_created, np.float64)
    n_items = created.size
    if not is_sorted(t):
        order = stable_argsort(t)
        t, acc, item, kind, value = (c[order] for c in (t, acc, item, kind, value))
    empty = (np.empty(0), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int8),
             np.empty(0))
    bots, born = np.asarray(bots, np.int64), np.asarray(bots_created, np.float64)
    templates = np.asarray(templates, np.int64).reshape(bots.size, -1)
    n_days = templates.shape[1]
    jb, kb = np.nonzero(templates >= 0)               # (bot, day column) that mirror someone
    if jb.size == 0 or t.size == 0:
        return empty
    # only the events of accounts someone mirrors
    mine = np.zeros(max(int(acc.max()), int(templates.max())) + 1, bool)
    mine[templates[jb, kb]] = True
    m = mine[acc]
    t, acc, item, kind, value = (c[m] for c in (t, acc, item, kind, value))
    # each event's day column: the day its (account, post) pair began
    day = np.zeros(t.size, np.int64)
    if n_days > 1:
        _, pair_in, first_t = _pairs(acc, item, t, n_items)
        day = np.clip(np.floor(first_t[pair_in] / DAY).astype(np.int64) - day0, 0, n_days - 1)
    # events of a template account on a day it is mirrored, one copy per bot mirroring it
    tk = templates[jb, kb] * n_days + kb
    order = stable_argsort(tk)
    tk = tk[order]
    ek = acc.astype(np.int64) * n_days + day
    lo = np.searchsorted(tk, ek, side="left")
    reps = np.searchsorted(tk, ek, side="right") - lo
    ev = np.repeat(np.arange(t.size), reps)
    if ev.size == 0:
        return empty
    j = jb[order[np.repeat(lo, reps) + (np.arange(ev.size) - np.repeat(np.cumsum(reps) - reps,
                                                                         reps))]]
    keep = t[ev] >= born[j]
    ev, j = ev[keep], j[keep]
    # one substitute per (bot, template post) pair, drawn at the pair's first event
    head_mask, pair, _ = _pairs(j, item[ev], t[ev], n_items)
    head = np.flatnonzero(head_mask)                  # in time order
    hb, hi_ = j[head], item[ev[head]].astype(np.int64)
    ht, hq = t[ev[head]], np.asarray(account_topic)[acc[ev[head]]]
    sub = _substitutes(candidates, key, bots[hb], hb, bots.size, hi_, hq, ht, ht - created[hi_],
                       n_items)
    sub_of_pair = np.full(head.size, -1, np.int64)
    sub_of_pair[pair[head]] = sub
    s = sub_of_pair[pair]
    m = s >= 0
    ev, j, s = ev[m], j[m], s[m]
    return (t[ev].astype(np.float64), bots[j], s, kind[ev].astype(np.int8),
            value[ev].astype(np.float64))


def _pairs(account, item, t, n_items):
    """Of time-sorted events: whether each is its (account, post) pair's first, each
    event's pair number and each pair's first time."""
    pk = pair_keys(account, item, n_items)
    first = first_occurrence(pk)
    _, pair = np.unique(pk, return_inverse=True)
    first_t = np.empty(int(first.sum()))
    first_t[pair[first]] = t[first]
    return first, pair, first_t


def day_templates(standing, busy, active, account_topic, key: int, day: int) -> np.ndarray:
    """Whom each farm account mirrors on ``day``: a farm's phone is on when it has work.

    On a day a bot has paid work (``busy``) it mirrors one of the ``active`` accounts (the
    established accounts active that day) of its ``standing`` template's topic, keyed by
    bot position and day (any topic if none is active); on other days its standing
    template, who may or may not be active. So no bot comes online only to do its job.
    """
    standing = np.asarray(standing, np.int64)
    out = standing.copy()
    busy = np.asarray(busy, bool) & (standing >= 0)
    active = np.asarray(active, np.int64)
    if not busy.any() or active.size == 0:
        return out
    topic = np.asarray(account_topic)
    order = np.argsort(topic[active], kind="stable")
    active, at = active[order], topic[active[order]]
    idx = np.flatnonzero(busy)
    q = topic[standing[idx]]
    lo, hi = np.searchsorted(at, q, side="left"), np.searchsorted(at, q, side="right")
    none = hi == lo
    lo[none], hi[none] = 0, active.size
    u = hash_uniforms(key, _S_DAY_TEMPLATE, idx, np.full(idx.size, day))
    out[idx] = active[lo + np.minimum((u * (hi - lo)).astype(np.int64), hi - lo - 1)]
    return out


def _substitutes(candidates, key, bots, pos, n_bots, own, topic, t, age, n_items) -> np.ndarray:
    """One substitute per pair (bot ``bots[i]``, at position ``pos[i]`` of ``n_bots``,
    meeting template post ``own[i]`` of ``topic``, then ``age`` seconds old, at ``t``; pairs in
    time order), -1 where :data:`TRIES` draws found none: a draw is taken unless it is the
    template's own post or one the bot already met (in an earlier try, or earlier in this
    one)."""
    sub = np.full(own.size, -1, np.int64)
    taken = KeySet(universe=n_bots * n_items)      # (bot position, post) pairs met
    todo = np.arange(own.size)
    for r in range(TRIES):
        if todo.size == 0:
            break
        d = candidates.draw(topic[todo], t[todo], age[todo], hash_uniforms(
            key, _S_SUBSTITUTE, bots[todo], own[todo], np.full(todo.size, r)),
            any_age=r >= TRIES_IN_BAND)
        k = pair_keys(pos[todo], np.maximum(d, 0), n_items)
        ok = (d >= 0) & (d != own[todo]) & ~taken.contains(k)
        ok[ok] = first_occurrence(k[ok])
        sub[todo[ok]] = d[ok]
        taken.add(k[ok])
        todo = todo[~ok & (d >= 0)]     # no candidate at all: another try finds none either
    return sub


@dataclass(frozen=True)
class EverydayLife:
    """What a campaign asks the simulator to play inside the window
    (:attr:`~boostbench.attacks.base.Campaign.life`): its new accounts living the lives of
    ``templates`` (one per new account, -1 for none) as these unfold. The simulator reads
    the module's :data:`ESTABLISHED_DAYS` and :data:`CANDIDATE_HOURS` through it (class
    constants: the draws use them too, so no instance may differ)."""

    templates: np.ndarray
    established_days: ClassVar[float] = ESTABLISHED_DAYS
    candidate_hours: ClassVar[float] = CANDIDATE_HOURS

    def on_day(self, busy, active, account_topic, key: int, day: int) -> np.ndarray:
        """Whom each new account mirrors on ``day`` (:func:`day_templates`)."""
        return day_templates(self.templates, busy, active, account_topic, key, day)

    def copies(self, cols, before, bots, bots_created, templates, account_topic, item_created,
               key: int, day0: int):
        """:func:`mirror` of organic events ``cols`` by the accounts ``bots``, with
        substitutes from the impressions among ``before`` (the hour before) and ``cols``."""
        cand = cols if before is None else [np.concatenate(x) for x in zip(before, cols)]
        return mirror(cols, bots, templates, bots_created, account_topic, item_created,
                      Candidates.of(cand[0], cand[1], cand[2], cand[3], account_topic,
                                    item_created), key, day0=day0)
