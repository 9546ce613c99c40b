"""The array toolkit: sorted runs, packed sorts, distinct values, pair keys, key sets.

Each job has one helper here (where does each run of a sorted array start, a
stable argsort, the distinct values, the first occurrence of each key, ...);
every module that needs one calls it rather than coding it again. Everything is
vectorised numpy over 1-d arrays (sorts of non-negative int64 keys go to a compiled
radix sort, :mod:`~boostbench._core.kernels`); nothing here knows about events or worlds.
"""

from __future__ import annotations

import numpy as np

from .kernels import bucket_search, radix_sort

__all__ = ["run_starts", "rank_within_runs", "is_sorted", "stable_argsort", "distinct",
           "distinct_inverse", "first_occurrence", "pair_keys", "packed_sort", "KeySet",
           "PairSet", "pair_set", "append_grown", "SortedSearch"]


def run_starts(s: np.ndarray) -> np.ndarray:
    """bool mask over a sorted 1-d array: True where a run of equal values starts.

    Examples
    --------
    >>> run_starts(np.array([1, 1, 2, 5, 5, 5])).tolist()
    [True, False, True, True, False, False]
    """
    out = np.empty(s.size, bool)
    if s.size:
        out[0] = True
        np.not_equal(s[1:], s[:-1], out=out[1:])
    return out


def rank_within_runs(s: np.ndarray) -> np.ndarray:
    """For a sorted 1-d array: each element's position inside its run of equal values.

    Examples
    --------
    >>> rank_within_runs(np.array([1, 1, 2, 5, 5, 5])).tolist()
    [0, 1, 0, 0, 1, 2]
    """
    start = run_starts(s)
    idx = np.arange(s.size)
    first = np.maximum.accumulate(np.where(start, idx, 0)) if s.size else idx
    return idx - first


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
    (value, position) within their runs. Integers spanning fewer than 2**16 values
    (account ids of a small world, topics) go to numpy's stable sort of uint16 keys, a
    radix sort. The result is the stable permutation, element for element.
    Already-sorted input costs one pass.
    """
    x = np.asarray(x)
    n = x.shape[0]
    if is_sorted(x):
        return np.arange(n)
    if x.dtype.kind in "iu" and n > 1 and int(x.max()) - int(x.min()) < 1 << 16:
        return np.argsort((x - x.min()).astype(np.uint16), kind="stable")
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
        scale = top / span if 0 < span < np.inf else 0.0 if span == 0 else np.inf
        if not np.isfinite(scale):   # an infinite span, or one so small its scale overflows
            return None
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
            xs = x[order]
            if (dup & (xs[1:] != xs[:-1])).any():   # equal values are in position order
                _reorder_runs(order, dup, x)
    return order


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
        return _add_new_located(bits, keys, *_locate(keys))

    def arrays(self):
        """``(bits, row_bytes, runs, starts)`` for compiled code (as
        :meth:`PairSet.arrays`): no bitmap, and the sorted runs laid end to end with their
        start offsets. A dense KeySet is row-major, which the walk does not read: a feed's
        set of shown pairs is a :func:`pair_set`."""
        if self._bits is not None:
            raise TypeError("a dense KeySet has no compiled-code layout; use pair_set()")
        runs = np.concatenate(self._runs) if self._runs else np.zeros(0, np.int64)
        starts = np.concatenate([[0], np.cumsum([r.size for r in self._runs])]).astype(np.int64)
        return np.zeros(0, np.uint8), 0, runs, starts

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


class PairSet:
    """A growing set of (row, item) pairs given as pair keys ``row * n_items + item``
    (:func:`pair_keys`), kept as an item-major bitmap: item ``i``'s rows are the bits of
    bytes ``[i * row_bytes, (i + 1) * row_bytes)``.

    The same answers as a :class:`KeySet` of the keys; the layout is for the feed walk
    (:func:`boostbench._core.kernels.walk_pools`), whose viewers come in row order and
    try the same top-ranked items one after another: consecutive rows asking about one
    item read one cache line, where a row-major bitmap reads one line per (row, item).
    Rows past the table (new accounts) widen every item's run of bytes. For a table too
    large for a dense bitmap use :func:`pair_set`, which then gives a sparse KeySet.
    """

    def __init__(self, keys=None, *, n_rows: int, n_items: int):
        self.n_items = int(n_items)
        self.row_bytes = max(1, (int(n_rows) + 7) // 8)
        self.bits = np.zeros(self.n_items * self.row_bytes, np.uint8)
        if keys is not None:
            self.add(keys)

    def _located(self, keys):
        """``(byte, bit)`` of each key, widening the rows first if a key needs it."""
        keys = np.asarray(keys, np.int64)
        row, item = np.divmod(keys, self.n_items)
        if row.size and int(row.max()) >= 8 * self.row_bytes:
            self._widen(int(row.max()) + 1)
        byte = item * self.row_bytes + (row >> 3)
        return byte, np.left_shift(1, (row & 7).astype(np.uint8), dtype=np.uint8)

    def _widen(self, n_rows: int) -> None:
        wide = max((n_rows + 7) // 8, self.row_bytes + self.row_bytes // 4)
        grid = np.zeros((self.n_items, wide), np.uint8)
        grid[:, :self.row_bytes] = self.bits.reshape(self.n_items, self.row_bytes)
        self.bits, self.row_bytes = grid.reshape(-1), wide

    def add(self, keys) -> None:
        byte, bit = self._located(keys)
        _or_located(self.bits, byte, bit)

    def contains(self, keys) -> np.ndarray:
        keys = np.asarray(keys, np.int64)
        row, item = np.divmod(keys, self.n_items)
        out = np.zeros(keys.shape, bool)
        inside = row < 8 * self.row_bytes
        byte = item[inside] * self.row_bytes + (row[inside] >> 3)
        out[inside] = (self.bits[byte] >> (row[inside] & 7).astype(np.uint8)) & 1
        return out

    def add_new(self, keys) -> np.ndarray:
        """:meth:`KeySet.add_new`: add the keys not in the set yet, each at its first
        occurrence, and return their mask."""
        keys = np.asarray(keys, np.int64)
        byte, bit = self._located(keys)
        return _add_new_located(self.bits, keys, byte, bit)

    def arrays(self):
        """``(bits, row_bytes, runs, starts)`` for compiled code: the item-major bitmap
        and no runs."""
        return self.bits, self.row_bytes, np.zeros(0, np.int64), np.zeros(1, np.int64)

    def copy(self) -> "PairSet":
        out = PairSet(n_rows=0, n_items=self.n_items)
        out.bits, out.row_bytes = self.bits.copy(), self.row_bytes
        return out


def pair_set(keys, *, n_rows: int, n_items: int):
    """A set of pair keys: a :class:`PairSet` when its bitmap fits
    :attr:`KeySet.DENSE_LIMIT` bits, else a sparse :class:`KeySet`."""
    if n_rows * n_items <= KeySet.DENSE_LIMIT:
        return PairSet(keys, n_rows=n_rows, n_items=n_items)
    return KeySet(keys)


def _set_bits(bits: np.ndarray, keys: np.ndarray) -> None:
    """Set bit ``k`` of the byte array ``bits`` for every key (duplicates allowed).

    A plain fancy-indexed OR loses bits when two keys of one batch share a byte
    (only one write per byte survives), so the keys whose bit is still clear are
    written again until none is: each pass sets at least one bit of every byte
    it writes. For batches small next to the bitmap collisions are rare and this is
    about twice as fast as ``np.bitwise_or.at``; a batch dense in the bitmap (a whole
    history) has many, and goes to ``np.bitwise_or.at``.
    """
    _or_located(bits, *_locate(keys))


def _locate(keys: np.ndarray):
    """``(byte, bit mask)`` of each key in a row-major bitmap."""
    return keys >> 3, np.left_shift(1, (keys & 7).astype(np.uint8), dtype=np.uint8)


def _or_located(bits: np.ndarray, byte: np.ndarray, bit: np.ndarray) -> None:
    """:func:`_set_bits` with each key given as its byte and bit mask: ``np.bitwise_or.at``
    for a batch dense in the bitmap, else :func:`_set_located_bits`."""
    if 16 * byte.size > bits.size:
        np.bitwise_or.at(bits, byte, bit)
    else:
        _set_located_bits(bits, byte, bit)


def _add_new_located(bits: np.ndarray, keys: np.ndarray, byte: np.ndarray, bit: np.ndarray
                     ) -> np.ndarray:
    """:meth:`KeySet.add_new` on a bitmap, each key given as its byte and bit mask: set the
    keys not set yet, each at its first occurrence, and return their mask."""
    ok = (bits[byte] & bit) == 0
    idx = np.flatnonzero(ok)
    if idx.size:
        first = first_occurrence(keys[idx])
        if not first.all():
            ok[idx[~first]] = False
            idx = idx[first]
        _set_located_bits(bits, byte[idx], bit[idx])
    return ok


def _set_located_bits(bits: np.ndarray, byte: np.ndarray, bit: np.ndarray) -> None:
    """:func:`_set_bits` with each key given as its byte and its bit mask."""
    while byte.size:
        bits[byte] |= bit
        miss = (bits[byte] & bit) == 0
        if not miss.any():
            return
        byte, bit = byte[miss], bit[miss]


def packed_sort(keys: np.ndarray):
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
    """``key << bits | position``, sorted (``key``: a non-negative int64 array the caller
    owns, whose values fit ``63 - bits`` bits, overwritten): one sort, the stable order."""
    key <<= bits
    key |= np.arange(key.size, dtype=np.int64)
    return sort_nonnegative(key)


#: Below this many values numpy's sort is as fast as the radix sort.
_RADIX_MIN = 2048


def sort_nonnegative(a: np.ndarray) -> np.ndarray:
    """``np.sort`` of a 1-d array of non-negative int64 values (may sort ``a`` itself, in
    place, and return it): a radix sort (:func:`~boostbench._core.kernels.radix_sort`)
    from 2,048 values up, numpy's sort below."""
    if a.size < _RADIX_MIN:
        a.sort()
        return a
    return radix_sort(a, int(a.max()).bit_length())


def distinct(values) -> np.ndarray:
    """The sorted distinct values of an integer array (flattened): ``np.unique(values)``.

    By one sort. numpy >= 2.3 answers a plain ``np.unique`` with a hash table
    (numpy/numpy#26018, #28375), which measured 30-60x slower than sorting on this
    project's keys (20M int64 pair keys: 26 s against 0.3 s; 1M: 0.9 s against
    14 ms), so no hot path here calls it.
    """
    v = np.asarray(values).reshape(-1)
    if v.dtype == np.int64 and v.size >= _RADIX_MIN and v.min() >= 0:
        return _drop_repeats(radix_sort(v, int(v.max()).bit_length()))
    return _drop_repeats(np.sort(v))


def distinct_inverse(values, universe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of a 1-d integer array: the sorted distinct
    values and each value's index among them (an int array), by one stable sort (a radix
    sort for large arrays) instead of numpy's comparison sort — or, with ``universe`` (all
    values in ``[0, universe)``), by marking them in a dense mask and numbering the marks
    (O(values + universe), no sort: a round's few thousand (item, kind) bins)."""
    v = np.asarray(values).reshape(-1)
    if universe is not None:
        mark = np.zeros(universe, bool)
        mark[v] = True
        out = np.flatnonzero(mark)
        number = np.empty(universe, np.int32 if out.size < 2**31 else np.int64)
        number[out] = np.arange(out.size, dtype=number.dtype)
        return out, number[v]
    if v.size == 0:
        return v.copy(), np.zeros(0, np.intp)
    order = stable_argsort(v)
    s = v[order]
    start = run_starts(s)
    inverse = np.empty(v.size, np.intp)
    inverse[order] = np.cumsum(start) - 1
    return s[start], inverse


def _drop_repeats(s: np.ndarray) -> np.ndarray:
    """A sorted 1-d array without its repeated values."""
    if s.size < 2:
        return s
    keep = run_starts(s)
    return s if keep.all() else s[keep]


def first_occurrence(keys: np.ndarray) -> np.ndarray:
    """bool mask: True where ``keys[i]`` has not appeared at an earlier position."""
    keys = np.asarray(keys)
    out = np.zeros(keys.shape, bool)
    if keys.size:
        ps = packed_sort(keys.ravel()) if keys.ndim == 1 else None
        if ps is None:
            out[np.unique(keys, return_index=True)[1]] = True
        else:
            k, pos = ps
            out[pos[run_starts(k)]] = True
    return out


def pair_keys(account: np.ndarray, item: np.ndarray, n_items: int) -> np.ndarray:
    """One int64 key per (account, item) pair."""
    return np.asarray(account, np.int64) * np.int64(n_items) + np.asarray(item, np.int64)


class SortedSearch:
    """``np.searchsorted(a, x, side="right")`` over one sorted float array, many times.

    A table of where each of ``len(a)`` equal-width value buckets starts turns each query
    into one or two steps (:func:`~boostbench._core.kernels.bucket_search`); exact for
    any queries (NaN excepted), so the answers are numpy's. For the world generator's
    weighted draws: millions of random queries into the items' cumulative weights, where
    numpy's binary search costs ~30 ns a query.
    """

    def __init__(self, a: np.ndarray):
        self.a = np.ascontiguousarray(a, np.float64)
        n = max(self.a.size, 1)
        self.lo = float(self.a[0]) if self.a.size else 0.0
        span = float(self.a[-1]) - self.lo if self.a.size else 0.0
        self.scale = n / span if span > 0 and np.isfinite(span) else 0.0
        edges = self.lo + np.arange(n + 1) / self.scale if self.scale else np.full(n + 1, self.lo)
        self.start_of = np.searchsorted(self.a, edges, side="right").astype(np.int64)

    def right(self, x) -> np.ndarray:
        """``np.searchsorted(a, x, side="right")`` (int64, the shape of ``x``)."""
        x = np.asarray(x, np.float64)
        return bucket_search(self.a, self.start_of, self.lo, self.scale,
                             x.reshape(-1)).reshape(x.shape)
