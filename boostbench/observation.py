"""The public view of the platform at one moment, the only thing a ranker sees.

An :class:`Observation` holds public items and accounts, the events up to ``now``
and an event ``weight`` column (1.0 unless a defence lowered it). Aggregates that
many rankers need (weighted counts and value sums per item and kind, and whether
an event's account had viewed the item before) are computed once and cached.
There is no Truth here: no quality, no fake-account labels, no targets.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from .errors import InvalidParameter

from ._core.params import check_real
from ._core.arrays import distinct_inverse, packed_sort, run_starts
from ._core.units import HOUR
from .events import N_KINDS, EventKind, EventLog
from .world import Accounts, Items

__all__ = ["Observation", "viewed_before", "aggregate", "aggregate_index", "accumulate",
           "Aggregates", "AGGREGATES"]

_ONE = np.ones(1, np.float32)
_ONE.flags.writeable = False


def viewed_before(account: np.ndarray, item: np.ndarray, kind: np.ndarray, n_items: int
                  ) -> np.ndarray:
    """For each event, whether the same account had a VIEW of the same item earlier in the log.

    One sort of the VIEW keys and one binary search per event (O(n log n)); the
    answer for an event depends only on events before it, so it is valid for
    every prefix of a time-sorted log.
    """
    keys = account.astype(np.int64) * np.int64(n_items) + item
    is_view = kind == EventKind.VIEW
    if not is_view.any():
        return np.zeros(keys.size, bool)
    ps = packed_sort(keys)
    if ps is not None:
        # one sort by (key, position); within a key's run, an event is viewed-before iff
        # the run has a VIEW before it: the running count of VIEWs exceeds the count at
        # the run's start
        k, pos = ps
        v = is_view[pos]
        seen_views = np.cumsum(v, dtype=np.int64)
        seen_views -= v                      # VIEWs strictly before, in sorted order
        start = run_starts(k)
        run = np.cumsum(start) - 1
        out = np.empty(keys.size, bool)
        out[pos] = seen_views > seen_views[start][run]
        return out
    vpos = np.flatnonzero(is_view)
    uk, first = np.unique(keys[vpos], return_index=True)
    first_pos = vpos[first]
    j = np.minimum(np.searchsorted(uk, keys), uk.size - 1)
    return (uk[j] == keys) & (first_pos[j] < np.arange(keys.size))


def _mask_items(items: Items, now: float, reveal=None) -> Items:
    """``items`` with those not posted by ``now`` hidden (created_at inf, creator and topic -1,
    duration NaN): the future is not public — except the ``reveal`` ids (an attacker's own
    posts, which it knows before it posts them)."""
    hide = items.created_at > now
    if not hide.any():
        return items
    cols = [np.array(x) for x in (items.created_at, items.creator, items.topic, items.duration)]
    if reveal is not None:
        hide[np.asarray(reveal, np.int64)] = False
    for col, blank in zip(cols, (np.inf, -1, -1, np.nan)):
        col[hide] = blank
    return Items(*cols)


def _mask_accounts(accounts: Accounts, now: float) -> Accounts:
    """``accounts`` with rows not created by ``now`` (future sign-ups, reserved rows) hidden."""
    future = accounts.created_at > now
    if not future.any():
        return accounts
    c, d, tp = (np.array(x) for x in (accounts.created_at, accounts.device, accounts.topic))
    c[future], d[future], tp[future] = np.inf, -1, -1
    return Accounts(c, d, tp)


class Observation:
    """Immutable public view: items, accounts and events with ``t <= now``.

    Items not posted by ``now`` and accounts not created by ``now`` keep their rows
    (ids stay fixed) but show nothing: ``created_at`` inf, other columns -1 (NaN).

    Parameters
    ----------
    items : Items
    accounts : Accounts
    log : EventLog
        Time-sorted log; only its first ``n`` rows are visible.
    now : float
        Seconds from the epoch.
    n : int, optional
        Visible prefix length; defaults to the events with ``t <= now``.
    weight : float32 array of length n, optional
        Event weights in [0, 1]; None means all 1.
    eligibility_hours : float
        Items posted in ``(now - eligibility_hours, now]`` are eligible for ranking.
    cache : dict, optional
        Pre-computed aggregates of these weights, or zero-argument callables giving them
        (the simulator passes incremental ones for unit weights,
        :class:`~boostbench.rankers.Pipeline` for its own; see :class:`Aggregates`).
    reveal : int array, optional
        Future items shown anyway (an attacker's view of its own posts at the start).
    """

    __slots__ = ("_items", "_accounts", "now", "eligibility_hours", "_log", "_n", "_weight",
                 "_masked", "_cache")

    def __init__(self, items: Items, accounts: Accounts, log: EventLog, now: float, *,
                 n: int | None = None, weight=None, eligibility_hours: float = 72.0, cache=None,
                 reveal=None, _checked: bool = False):
        self._items = items
        self._accounts = accounts
        self._masked = {} if reveal is None else {
            "items": _mask_items(items, float(now), reveal)}
        self.now = float(now)
        self.eligibility_hours = check_real("eligibility_hours", eligibility_hours, low=0.0,
                                            low_open=True, where="Observation")
        self._log = log
        self._n = log.count_until(now) if n is None else int(n)
        if weight is not None and _checked:  # a Pipeline's product of checked factors
            weight = np.asarray(weight, np.float32)
            weight.flags.writeable = False
        elif weight is not None:
            weight = np.asarray(weight, np.float32)
            if weight.shape != (self._n,):
                raise InvalidParameter(f"The 'weight' parameter of Observation must have shape "
                                       f"({self._n},). Got {weight.shape} instead.", name="weight")
            if weight.size and (not np.all(np.isfinite(weight)) or weight.min() < 0
                                or weight.max() > 1):
                raise InvalidParameter("The 'weight' parameter of Observation must be in [0, 1].",
                                       name="weight")
            weight.flags.writeable = False
        self._weight = weight
        # a cache passed with weights must hold aggregates of those weights (Pipeline does)
        # (an aggregate may come as a zero-argument callable, called when first asked for)
        self._cache = dict(cache) if cache else {}
        for a in self._cache.values():
            if not callable(a):
                a.flags.writeable = False

    def __setattr__(self, name, value):
        if hasattr(self, "_cache"):
            raise AttributeError("Observation is immutable")
        object.__setattr__(self, name, value)

    # --- shapes and columns -------------------------------------------------
    @property
    def items(self) -> Items:
        """Public item columns; items not posted by ``now`` are hidden (see the class)."""
        if "items" not in self._masked:
            self._masked["items"] = _mask_items(self._items, self.now)
        return self._masked["items"]

    @property
    def accounts(self) -> Accounts:
        """Public account columns; rows not created by ``now`` are hidden (see the class)."""
        if "accounts" not in self._masked:
            self._masked["accounts"] = _mask_accounts(self._accounts, self.now)
        return self._masked["accounts"]

    @property
    def n_items(self) -> int:
        return len(self._items)

    @property
    def n_accounts(self) -> int:
        return len(self._accounts)

    @property
    def n_events(self) -> int:
        return self._n

    def __repr__(self):
        return (f"Observation(now={self.now:.0f}, n_events={self._n}, n_items={self.n_items}, "
                f"n_accounts={self.n_accounts}, weighted={self._weight is not None})")

    @property
    def events(self) -> tuple[np.ndarray, ...]:
        """Read-only ``(t, account, item, kind, value)`` of the visible events."""
        return self._log.columns(self._n)

    @property
    def weight(self) -> np.ndarray:
        """Event weights (float32, read-only; unit weights are a broadcast 1, O(1) to get)."""
        if self._weight is None:
            return np.broadcast_to(_ONE, (self._n,))
        return self._weight

    @property
    def weighted(self) -> bool:
        """Whether some event weight may be below 1 (a defence's view); False: unit weights."""
        return self._weight is not None

    @property
    def eligible(self) -> np.ndarray:
        """Items that may be ranked now: posted within the last ``eligibility_hours``."""
        c = self._items.created_at
        return (c <= self.now) & (c > self.now - self.eligibility_hours * HOUR)

    def with_weights(self, weight) -> "Observation":
        """A new observation with new event weights; weights may only go down."""
        w = np.asarray(weight, np.float32)
        if w.shape == (self._n,) and w.size and np.any(w > self.weight):
            raise InvalidParameter("with_weights may only lower event weights (defences never "
                                   "raise a weight).", name="weight")
        return Observation(self._items, self._accounts, self._log, self.now, n=self._n, weight=w,
                           eligibility_hours=self.eligibility_hours, cache=self._unweighted())

    def reweighted(self, weight: np.ndarray, cache: dict) -> "Observation":
        """The same view with ``weight`` and the aggregates of those weights (``cache``),
        trusted unchecked: for a :class:`~boostbench.rankers.Pipeline`, whose weights are
        products of checked factors (checking them again would make a round cost the
        whole history). The masked item and account tables are shared."""
        out = Observation(self._items, self._accounts, self._log, self.now, n=self._n,
                          weight=weight, eligibility_hours=self.eligibility_hours, cache=cache,
                          _checked=True)
        out._masked.update(self._masked)
        return out

    def prefix(self, now: float) -> "Observation":
        """The same stream as seen at an earlier ``now`` (unit weights; for batch detectors)."""
        now = min(float(now), self.now)
        t = self._log.columns(self._n)[0]
        n = int(np.searchsorted(t, now, side="right"))
        cache = self._unweighted()
        if "viewed_before" in cache:
            cache["viewed_before"] = cache["viewed_before"][:n]
        return Observation(self._items, self._accounts, self._log, now, n=n,
                           eligibility_hours=self.eligibility_hours, cache=cache)

    @property
    def stream(self):
        """The append-only event stream this view is a prefix of (identity only).

        Two observations with the same ``stream`` share their first
        ``min(n_events)`` events, so a stateful ranker may keep per-stream state
        and process only the new events (DESIGN §3, ``update(new_events)``).
        """
        return self._log

    def _unweighted(self) -> dict:
        """Cache entries that do not depend on the weights."""
        return {k: v for k, v in self._cache.items() if k == "viewed_before"}

    # --- cached aggregates --------------------------------------------------
    def aggregate(self, name: str) -> np.ndarray:
        """A named per-item, per-kind aggregate, float64[n_items, N_KINDS] (cached, read-only).

        Names (see :data:`AGGREGATES`): ``counts`` (weighted event counts), ``sums``
        (weighted sums of ``value``), ``verified_counts`` (counts of events whose
        account viewed the item before), ``verified_log_sums`` (sums of
        ``log1p(value)`` over such events: comment depth).
        """
        hit = self._cache.get(name)
        if callable(hit):
            out = hit()
            out.flags.writeable = False
            self._cache[name] = out
        elif hit is None:
            if name not in AGGREGATES:
                raise InvalidParameter(f"Unknown aggregate {name!r}; one of {sorted(AGGREGATES)}.",
                                       name="name")
            _, _, item, kind, value = self.events
            vb = self.viewed_before() if name.startswith("verified") else None
            out = aggregate(name, item, kind, value, vb, self._weight, self.n_items)
            out.flags.writeable = False
            self._cache[name] = out
        return self._cache[name]

    def counts(self) -> np.ndarray:
        """Weighted event counts, float64[n_items, N_KINDS] (column = EventKind)."""
        return self.aggregate("counts")

    def sums(self) -> np.ndarray:
        """Weighted sums of ``value`` (completion, comment length), float64[n_items, N_KINDS]."""
        return self.aggregate("sums")

    def count(self, kind: EventKind) -> np.ndarray:
        """Weighted count of one kind per item."""
        return self.counts()[:, int(kind)]

    def viewed_before(self) -> np.ndarray:
        """bool per visible event: its account viewed the same item earlier (see :func:`viewed_before`)."""
        if "viewed_before" not in self._cache:
            _, account, item, kind, _ = self.events
            vb = viewed_before(account, item, kind, self.n_items)
            vb.flags.writeable = False
            self._cache["viewed_before"] = vb
        return self._cache["viewed_before"][: self._n]


def _weights(name, value, vb):
    if name == "counts":
        return None
    if name == "sums":
        return value.astype(np.float64)
    if name == "verified_counts":
        return vb.astype(np.float64)
    return vb * np.log1p(value.astype(np.float64))


AGGREGATES = ("counts", "sums", "verified_counts", "verified_log_sums")


def aggregate_index(item, kind) -> np.ndarray:
    """The bincount bin of each event in an aggregate (item-major, one column per kind)."""
    return item.astype(np.int64) * N_KINDS + kind


def aggregate(name, item, kind, value, vb, weight, n_items, index=None) -> np.ndarray:
    """One bincount pass: the aggregate ``name`` of the given events (additive over events).

    ``index`` may pass :func:`aggregate_index` of the events when it is already known.
    """
    w = _event_weights(name, value, vb, weight)
    flat = np.bincount(aggregate_index(item, kind) if index is None else index, weights=w,
                       minlength=n_items * N_KINDS)
    return flat.reshape(n_items, N_KINDS).astype(np.float64, copy=False)


def _event_weights(name, value, vb, weight):
    """Per-event bincount weights of the aggregate ``name`` (None: unit)."""
    w = _weights(name, value, vb)
    if weight is not None:
        w = weight.astype(np.float64) if w is None else w * weight
    return w


def accumulate(aggs: dict, item, kind, value, vb, weight=None) -> dict:
    """``{name: aggs[name] + aggregate(name, events...)}`` for every aggregate of ``aggs``,
    new arrays (the old ones may be held by earlier observations), the same floats.

    A round's events touch few of the (item, kind) bins: their sums come from one
    bincount over the touched bins only (each bin still adds its events in log order,
    as :func:`aggregate` does) and go onto a copy, instead of a dense pass over every
    bin per aggregate. The touched bins are found by marking them in a dense mask and
    numbering the marks (:func:`~boostbench._core.arrays.distinct_inverse` with a
    universe: O(events + bins), no sort).
    """
    if not aggs:
        return {}
    bins = distinct_inverse(aggregate_index(item, kind), next(iter(aggs.values())).size)
    out = {}
    for name, old in aggs.items():
        new = old.copy()
        _add_chunk(new, bins, _event_weights(name, value, vb, weight))
        out[name] = new
    return out


def _add_chunk(agg: np.ndarray, bins: tuple, w) -> None:
    """Add a chunk's events (their ``(touched, slot)`` bins and weights) to ``agg`` in place."""
    touched, slot = bins
    agg.reshape(-1)[touched] += np.bincount(slot, weights=w, minlength=touched.size)


class Aggregates:
    """The :data:`AGGREGATES` of a growing event stream, brought up to date when asked.

    It starts from the aggregates of the stream's first events (``start``; a name missing
    there is computed from ``start_columns`` when first asked) and takes the later events
    in chunks (:meth:`extend`, one per round). ``get(name, c)`` is the aggregate after
    the first ``c`` chunks with the floats :func:`accumulate` gives when applied chunk by
    chunk as they came — asking late, or never, changes no number — and costs the chunks
    since the name was last asked for: a ranker that reads only like counts no longer
    pays a round's update of every other aggregate. Arrays handed out are read-only and
    never modified; chunks hold views of the caller's columns, which must not change.
    """

    def __init__(self, n_items: int, start: dict | None = None, start_columns=None):
        self.n_items = int(n_items)
        self._start = dict(start or {})
        for a in self._start.values():
            a.flags.writeable = False
        self._start_columns = start_columns   # (item, kind, value, vb, weight) or None
        self._chunks: list[list] = []          # [item, kind, value, vb, weight, bins]
        self._have: dict = {}                  # name -> (array, number of chunks in it)

    def __deepcopy__(self, memo):
        # every array held is read-only and never modified: a copy shares them
        out = Aggregates(self.n_items, self._start, self._start_columns)
        out._chunks = [list(c) for c in self._chunks]
        out._have = dict(self._have)
        return out

    @property
    def n_chunks(self) -> int:
        return len(self._chunks)

    def extend(self, item, kind, value, vb, weight=None) -> None:
        """Take the next chunk of events (its columns are kept as given)."""
        self._chunks.append([item, kind, value, vb, weight, None])

    def snapshot(self) -> dict:
        """``{name: zero-argument callable}`` giving each aggregate as of now, for an
        :class:`Observation`'s cache."""
        return {name: partial(self.get, name, self.n_chunks) for name in AGGREGATES}

    def get(self, name: str, c: int) -> np.ndarray:
        """The aggregate ``name`` after the first ``c`` chunks (read-only)."""
        arr, at = self._have.get(name, (None, 0))
        if arr is None or at > c:
            arr, at = self._initial(name), 0
        if at < c:
            arr = arr.copy()
            size = arr.size
            for chunk in self._chunks[at:c]:
                item, kind, value, vb, weight, bins = chunk
                if bins is None:
                    bins = chunk[5] = distinct_inverse(aggregate_index(item, kind), size)
                _add_chunk(arr, bins, _event_weights(name, value, vb, weight))
            arr.flags.writeable = False
        if c >= self._have.get(name, (None, -1))[1]:
            self._have[name] = (arr, c)
        return arr

    def _initial(self, name: str) -> np.ndarray:
        if name not in self._start:
            item, kind, value, vb, weight = self._start_columns
            out = aggregate(name, item, kind, value, vb, weight, self.n_items)
            out.flags.writeable = False
            self._start[name] = out
        return self._start[name]
