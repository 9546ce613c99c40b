"""Event kinds and the columnar, append-only, time-sorted event log.

Every interaction in boostbench is one row of an :class:`EventLog`: a structure of
arrays (``t`` float64 seconds, ``account`` int32, ``item`` int32, ``kind`` int8,
``value`` float32). No per-event Python object exists on any hot path.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from .errors import InvalidParameter

__all__ = ["EventKind", "EventLog", "N_KINDS", "ENGAGEMENT", "kind_table", "append_grown",
           "merge_logs", "KeySet", "first_occurrence", "pair_keys", "distinct"]


class EventKind(IntEnum):
    """What an event records. Stored as int8; extend only at the end.

    ``VIEW.value`` is the completion fraction in [0, 1]; ``COMMENT.value`` the
    comment length in characters; other kinds carry value 0 (FOLLOW: the item
    whose creator was followed is in ``item``).
    """

    IMPRESSION = 0
    VIEW = 1
    LIKE = 2
    COMMENT = 3
    SHARE = 4
    REPORT = 5
    NOT_INTERESTED = 6
    FOLLOW = 7


N_KINDS = len(EventKind)
#: The engagement acts: what feeds count as engagement, attackers buy and defences weigh.
ENGAGEMENT = (EventKind.LIKE, EventKind.COMMENT, EventKind.SHARE)


def kind_table(kinds) -> np.ndarray:
    """bool[N_KINDS], True for ``kinds``: ``kind_table(kinds)[kind]`` masks a kind column."""
    table = np.zeros(N_KINDS, bool)
    table[[int(k) for k in kinds]] = True
    return table


def append_grown(buf: np.ndarray, n_old: int, new: np.ndarray) -> np.ndarray:
    """Write ``new`` after the first ``n_old`` entries of ``buf``, growing it by doubling.

    Only entries past ``n_old`` are written, so views of the prefix stay valid;
    returns the buffer (a new one when it grew).
    """
    n = n_old + len(new)
    if n > buf.size:
        grown = np.zeros(max(2 * n, 1024), buf.dtype)
        grown[:n_old] = buf[:n_old]
        buf = grown
    buf[n_old:n] = new
    return buf
_COLUMNS = (("t", np.float64), ("account", np.int32), ("item", np.int32),
            ("kind", np.int8), ("value", np.float32))


def is_sorted(x: np.ndarray) -> bool:
    """Whether a 1-d array is non-decreasing (one pass)."""
    return x.size < 2 or bool(np.all(x[1:] >= x[:-1]))


def stable_argsort(x: np.ndarray) -> np.ndarray:
    """``np.argsort(x, kind="stable")`` of a 1-d array without NaN, faster.

    numpy's stable sort of 64-bit values is a merge sort, several times slower
    than its (SIMD where the CPU has it) sort of plain int64 values. So each
    value becomes an order-preserving integer key (``x - min``, or for floats
    ``(x - min) * scale`` rounded down: monotone, so a smaller key means a
    smaller value), the key and the position are packed into one int64 and
    sorted: that is the stable order of the keys. Values that share a key but
    differ (floats closer than the key's resolution, rare) are then re-ordered by
    (value, position) within their runs. The result is the stable permutation,
    element for element. Already-sorted input costs one pass.
    """
    x = np.asarray(x)
    n = x.shape[0]
    if is_sorted(x):
        return np.arange(n)
    order = _packed_argsort(x)
    if order is not None:
        return order
    order = np.argsort(x)
    xs = x[order]
    tie = xs[1:] == xs[:-1]
    if tie.any():
        _reorder_runs(order, tie)  # equal values: by position
    return order


def _run_positions(dup: np.ndarray):
    """Sorted positions inside runs of equal neighbours (``dup[j]``: j+1 equals j), and
    the run of each."""
    in_run = np.zeros(dup.size + 1, bool)
    in_run[1:] |= dup
    in_run[:-1] |= dup
    pos = np.flatnonzero(in_run)
    # a run starts where the previous position is not its equal (O(runs), not O(n))
    start = np.ones(pos.size, bool)
    inner = pos > 0
    start[inner] = ~dup[pos[inner] - 1]
    return pos, np.cumsum(start)


def _reorder_runs(order: np.ndarray, dup: np.ndarray, values=None) -> None:
    """Within each run of ``order`` (runs from ``dup``), order by (value, position), in place."""
    pos, run = _run_positions(dup)
    sub = order[pos]
    keys = (sub,) if values is None else (sub, values[sub])
    order[pos] = sub[np.lexsort(keys + (run,))]


_KEY_BITS_MIN = 24  # fewer key bits than this: too coarse for floats, use the argsort


def _packed_argsort(x: np.ndarray):
    """Stable argsort through one int64 sort of ``key << bits | position`` (see
    :func:`stable_argsort`), or None where the keys do not pack."""
    n = x.shape[0]
    if n < 2 or x.dtype.kind not in "fiu":
        return None
    pos_bits = max(1, (n - 1).bit_length())
    key_bits = 62 - pos_bits
    if key_bits < _KEY_BITS_MIN:
        return None
    lo, hi = x.min(), x.max()
    top = (1 << key_bits) - 1
    if x.dtype.kind == "f":
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return None
        span = float(hi) - float(lo)
        if not np.isfinite(span):
            return None
        scale = top / span if span > 0 else 0.0
        key = np.subtract(x, lo, dtype=np.float64)
        key *= scale
        key = key.astype(np.int64)
        np.minimum(key, top, out=key)   # rounding may pass the top by one: still monotone
        exact = False
    else:
        if int(hi) - int(lo) > top or int(hi) >= 2**63:
            return None
        key = x.astype(np.int64)
        key -= np.int64(lo)
        exact = True
    key = _sort_with_positions(key, pos_bits)
    order = key & np.int64((1 << pos_bits) - 1)
    if not exact:
        key >>= pos_bits
        dup = key[1:] == key[:-1]
        if dup.any():  # a shared key may hide different values: (value, position) decides
            _reorder_runs(order, dup, x)
    return order


def _as_columns(t, account, item, kind, value):
    n = np.shape(t)[0] if np.ndim(t) else 0
    cols = []
    for (name, dtype), arr in zip(_COLUMNS, (t, account, item, kind, value)):
        a = np.asarray(arr)
        if a.ndim != 1 or a.shape[0] != n:
            raise InvalidParameter(
                f"The {name!r} column of an event batch must be 1-d with length {n}. "
                f"Got shape {a.shape} instead.", name=name)
        cols.append(a.astype(dtype, copy=False))
    t, account, item, kind, value = cols
    if n:
        if not np.all(np.isfinite(t)):
            raise InvalidParameter("The 't' column of an event batch must be finite.", name="t")
        if account.min() < 0 or item.min() < 0:
            raise InvalidParameter("The 'account' and 'item' columns must be >= 0.", name="account")
        if kind.min() < 0 or kind.max() >= N_KINDS:
            raise InvalidParameter(
                f"The 'kind' column must hold EventKind values in [0, {N_KINDS - 1}].", name="kind")
        if not np.all(np.isfinite(value)):
            raise InvalidParameter("The 'value' column of an event batch must be finite.",
                                   name="value")
    return t, account, item, kind, value


class EventLog:
    """Columnar, append-only event log kept sorted by time.

    Appends cost amortised O(new events) (capacity doubles). Column properties
    return read-only views of the first ``len(self)`` rows; a view taken earlier
    stays valid and unchanged after later appends, so observations can share it.

    Examples
    --------
    >>> log = EventLog()
    >>> log.append([0.0, 1.0], [3, 4], [0, 0], [EventKind.VIEW, EventKind.LIKE], [0.5, 0])
    >>> len(log), log.kind.tolist()
    (2, [1, 2])
    """

    def __init__(self, capacity: int = 1024):
        self._n = 0
        self._cols = {name: np.empty(max(int(capacity), 1), dtype) for name, dtype in _COLUMNS}

    @classmethod
    def from_arrays(cls, t, account, item, kind, value) -> "EventLog":
        """Build a log from unsorted columns (stable sort by time)."""
        cols = _as_columns(t, account, item, kind, value)
        if not is_sorted(cols[0]):
            order = stable_argsort(cols[0])
            cols = [c[order] for c in cols]
        log = cls(capacity=max(len(cols[0]), 1))
        log._write(cols)
        return log

    def __len__(self) -> int:
        return self._n

    def _write(self, cols) -> None:
        m = cols[0].shape[0]
        need = self._n + m
        cap = self._cols["t"].shape[0]
        if need > cap:
            new_cap = max(need, 2 * cap)
            for name, dtype in _COLUMNS:
                grown = np.empty(new_cap, dtype)
                grown[: self._n] = self._cols[name][: self._n]
                self._cols[name] = grown
        for (name, _), c in zip(_COLUMNS, cols):
            self._cols[name][self._n:need] = c
        self._n = need

    def append(self, t, account, item, kind, value) -> None:
        """Append a batch; it is sorted by time and must not start before the last event."""
        cols = _as_columns(t, account, item, kind, value)
        if cols[0].shape[0] == 0:
            return
        if not is_sorted(cols[0]):
            order = stable_argsort(cols[0])
            cols = [c[order] for c in cols]
        if self._n and cols[0][0] < self._cols["t"][self._n - 1]:
            raise InvalidParameter(
                f"An appended batch must not start before the last event "
                f"(t={self._cols['t'][self._n - 1]!r}); got t={cols[0][0]!r}.", name="t")
        self._write(cols)

    def _view(self, name: str, n: int | None = None) -> np.ndarray:
        v = self._cols[name][: self._n if n is None else n]
        v.flags.writeable = False
        return v

    t = property(lambda self: self._view("t"), doc="Event times, float64 seconds.")
    account = property(lambda self: self._view("account"), doc="Acting account, int32.")
    item = property(lambda self: self._view("item"), doc="Item acted on, int32.")
    kind = property(lambda self: self._view("kind"), doc="EventKind codes, int8.")
    value = property(lambda self: self._view("value"), doc="Completion / length, float32.")

    def columns(self, n: int | None = None) -> tuple[np.ndarray, ...]:
        """Read-only views ``(t, account, item, kind, value)`` of the first ``n`` rows."""
        if n is not None and not 0 <= n <= self._n:
            raise InvalidParameter(f"The 'n' parameter must be in [0, {self._n}]. Got {n}.", name="n")
        return tuple(self._view(name, n) for name, _ in _COLUMNS)

    def count_until(self, now: float) -> int:
        """Number of events with ``t <= now``."""
        return int(np.searchsorted(self._view("t"), now, side="right"))

    def copy(self) -> "EventLog":
        """An independent copy (its own buffers)."""
        log = EventLog(capacity=max(self._n, 1))
        log._write(list(self.columns()))
        return log


def merge_logs(a: EventLog, b: EventLog) -> tuple[EventLog, np.ndarray]:
    """Merge two logs by time (ties: ``a`` first). Returns the log and a mask of rows from ``b``.

    Merging an empty ``b`` returns an exact copy of ``a``.
    """
    ca, cb = a.columns(), b.columns()
    from_b = np.concatenate([np.zeros(len(a), bool), np.ones(len(b), bool)])
    cols = [np.concatenate([x, y]) for x, y in zip(ca, cb)]
    order = stable_argsort(cols[0])
    log = EventLog(capacity=max(len(order), 1))
    log._write([c[order] for c in cols])
    return log, from_b[order]


class KeySet:
    """A growing set of non-negative int64 keys with vectorised membership.

    With a known ``universe`` (keys in ``[0, universe)``) of at most 2**31 keys the
    set is a dense bitmap (one bit per key, O(1) per lookup); otherwise it keeps a
    few sorted runs (LSM-style: adding sorts only the batch, runs merge when there
    are more than ``max_runs``; a lookup is one binary search per run).
    """

    DENSE_LIMIT = 2**31

    def __init__(self, keys=None, *, universe: int | None = None, max_runs: int = 8):
        self._universe = universe
        self._bits = (np.zeros((universe + 7) // 8, np.uint8)
                      if universe is not None and universe <= self.DENSE_LIMIT else None)
        self._runs: list[np.ndarray] = []
        self._max_runs = max_runs
        if keys is not None:
            self.add(keys)

    def add(self, keys) -> None:
        keys = np.asarray(keys, np.int64)
        if keys.size == 0:
            return
        if self._bits is not None:
            need = int(keys.max() >> 3) + 1
            if need > self._bits.size:  # keys past the universe (e.g. new accounts): grow
                self._bits = np.concatenate([self._bits, np.zeros(max(need - self._bits.size,
                                                                      self._bits.size // 4), np.uint8)])
            _set_bits(self._bits, keys)
            return
        self._push_run(distinct(keys))

    def _push_run(self, run: np.ndarray) -> None:
        """Add a sorted run of distinct keys, merging runs of similar size (size tiers:
        a key is re-merged O(log n) times, and there are O(log n) runs)."""
        runs = self._runs
        runs.append(run)
        while len(runs) > 1 and (runs[-2].size <= 2 * runs[-1].size
                                 or len(runs) > self._max_runs):
            b, a = runs.pop(), runs.pop()
            merged = np.concatenate([a, b])
            merged.sort(kind="stable")  # two sorted runs: a linear merge
            runs.append(_drop_repeats(merged))

    def add_new(self, keys) -> np.ndarray:
        """Add the keys not in the set yet, each at its first occurrence; return their mask.

        The same as ``ok = ~contains(keys); ok[ok] = first_occurrence(keys[ok]);
        add(keys[ok])`` (what a feed does with the items it shows), in fewer passes.
        """
        keys = np.asarray(keys, np.int64)
        bits = self._bits
        if bits is None or keys.size == 0 or (keys.max() >> 3) >= bits.size:
            ok = ~self.contains(keys)
            ok[ok] = first_occurrence(keys[ok])
            self.add(keys[ok])
            return ok
        byte = keys >> 3
        bit = np.left_shift(1, (keys & 7).astype(np.uint8), dtype=np.uint8)
        ok = (bits[byte] & bit) == 0
        idx = np.flatnonzero(ok)
        if idx.size:
            first = first_occurrence(keys[idx])
            if not first.all():
                ok[idx[~first]] = False
                idx = idx[first]
            _set_located_bits(bits, byte[idx], bit[idx])
        return ok

    def copy(self) -> "KeySet":
        out = KeySet(universe=None, max_runs=self._max_runs)
        out._universe = self._universe
        out._bits = None if self._bits is None else self._bits.copy()
        out._runs = list(self._runs)  # runs are never modified in place
        return out

    def contains(self, keys) -> np.ndarray:
        keys = np.asarray(keys, np.int64)
        if self._bits is not None:
            byte = keys >> 3
            if byte.size and byte.max() < self._bits.size:  # the usual case: one gather
                hit = self._bits[byte] >> (keys & 7).astype(np.uint8)
                return (hit & 1).astype(bool)
            inside = byte < self._bits.size
            out = np.zeros(keys.shape, bool)
            out[inside] = (self._bits[byte[inside]] >> (keys[inside] & 7).astype(np.uint8)) & 1
            return out
        out = np.zeros(keys.shape, bool)
        if not self._runs or keys.size == 0:
            return out
        # binary searches of sorted queries walk each run in order (cache-friendly)
        flat = keys.reshape(-1)
        order = stable_argsort(flat)
        sk = flat[order]
        hit = np.zeros(sk.size, bool)
        for r in self._runs:
            j = np.searchsorted(r, sk)
            np.minimum(j, r.size - 1, out=j)
            hit |= r[j] == sk
        out.reshape(-1)[order] = hit
        return out


def _set_bits(bits: np.ndarray, keys: np.ndarray) -> None:
    """Set bit ``k`` of the byte array ``bits`` for every key (duplicates allowed).

    A plain fancy-indexed OR loses bits when two keys of one batch share a byte
    (only one write per byte survives), so the keys whose bit is still clear are
    written again until none is: each pass sets at least one bit of every byte
    it writes. For batches small next to the bitmap collisions are rare and this is
    about twice as fast as ``np.bitwise_or.at``; a batch dense in the bitmap (a whole
    history) has many, and goes to ``np.bitwise_or.at``.
    """
    byte = keys >> 3
    bit = np.left_shift(1, (keys & 7).astype(np.uint8), dtype=np.uint8)
    if 16 * keys.size > bits.size:
        np.bitwise_or.at(bits, byte, bit)
    else:
        _set_located_bits(bits, byte, bit)


def _set_located_bits(bits: np.ndarray, byte: np.ndarray, bit: np.ndarray) -> None:
    """:func:`_set_bits` with each key given as its byte and its bit mask."""
    while byte.size:
        bits[byte] |= bit
        miss = (bits[byte] & bit) == 0
        if not miss.any():
            return
        byte, bit = byte[miss], bit[miss]


def _packed_sort(keys: np.ndarray):
    """Keys sorted with ties in position order, as ``(sorted keys, their positions)``, or None.

    Non-negative integer keys and their positions pack into one int64 (``key <<
    bits | position``, ``bits`` just enough for the positions) when the keys fit
    the remaining bits (below 2**37 for 14M keys: 1M accounts x 100k items), so one
    unstable (SIMD) sort gives the stable order.
    """
    n = keys.size
    if n == 0 or keys.dtype.kind not in "iu":
        return None
    bits = max(1, (n - 1).bit_length())
    lo, hi = keys.min(), keys.max()
    if lo < 0 or int(hi) >= 1 << (63 - bits):
        return None
    packed = _sort_with_positions(keys.astype(np.int64), bits)
    return packed >> bits, packed & np.int64((1 << bits) - 1)


def _sort_with_positions(key: np.ndarray, bits: int) -> np.ndarray:
    """``key << bits | position``, sorted, in place of ``key`` (an int64 array the caller
    owns, whose values fit ``63 - bits`` bits): one unstable sort, the stable order."""
    key <<= bits
    key |= np.arange(key.size, dtype=np.int64)
    key.sort()
    return key


def distinct(values) -> np.ndarray:
    """The sorted distinct values of an integer array (flattened): ``np.unique(values)``.

    By one sort. numpy >= 2.3 answers a plain ``np.unique`` with a hash table
    (numpy/numpy#26018, #28375), which measured 30-60x slower than sorting on this
    project's keys (20M int64 pair keys: 26 s against 0.3 s; 1M: 0.9 s against
    14 ms), so no hot path here calls it.
    """
    return _drop_repeats(np.sort(np.asarray(values).reshape(-1)))


def _drop_repeats(s: np.ndarray) -> np.ndarray:
    """A sorted 1-d array without its repeated values."""
    if s.size < 2:
        return s
    keep = np.empty(s.size, bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s if keep.all() else s[keep]


def first_occurrence(keys: np.ndarray) -> np.ndarray:
    """bool mask: True where ``keys[i]`` has not appeared at an earlier position."""
    keys = np.asarray(keys)
    out = np.zeros(keys.shape, bool)
    if keys.size:
        ps = _packed_sort(keys.ravel()) if keys.ndim == 1 else None
        if ps is None:
            out[np.unique(keys, return_index=True)[1]] = True
        else:
            k, pos = ps
            first = np.empty(k.size, bool)
            first[0] = True
            np.not_equal(k[1:], k[:-1], out=first[1:])
            out[pos[first]] = True
    return out


def pair_keys(account: np.ndarray, item: np.ndarray, n_items: int) -> np.ndarray:
    """One int64 key per (account, item) pair."""
    return np.asarray(account, np.int64) * np.int64(n_items) + np.asarray(item, np.int64)
