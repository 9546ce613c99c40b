"""Counter-based random numbers and the one registry of their stream ids.

:func:`hash_uniforms` gives uniforms that depend only on ``(key, stream,
*coords)``: the same account, item and round give the same draw in every world
that shares the key, which is what common random numbers (paired clean twins)
need. A *stream* id separates the decisions drawn under one key; two features
that picked the same id under the same key would silently share their draws, so
every id is claimed once, by name, in :data:`STREAMS` (claiming a taken id
raises at import time).
"""

from __future__ import annotations

import numpy as np

from ..errors import BoostbenchError

__all__ = ["hash_uniforms", "hash_words", "derive", "CounterUniforms", "ImpressionUniforms",
           "STREAMS", "StreamRegistry", "splitmix"]


class StreamRegistry:
    """Stream ids claimed per *key domain* (the key a feature hashes with).

    Domains: ``world`` (the world's seed: organic sessions, feeds and decisions),
    ``campaign`` (an attack's key), ``detector`` (an oracle detector's seed),
    ``validate`` (the validation experiments' key). The same id in two domains
    is harmless: their keys differ.

    Examples
    --------
    >>> r = StreamRegistry()
    >>> r.claim("world", "feed.sessions", 201)
    201
    >>> r.claim("world", "feed.other", 201)
    Traceback (most recent call last):
    ...
    boostbench.errors.BoostbenchError: Stream id 201 of domain 'world' is claimed twice: by 'feed.sessions' and 'feed.other'.
    """

    def __init__(self):
        self._ids: dict[str, dict[int, str]] = {}

    def claim(self, domain: str, name: str, stream: int) -> int:
        """Claim ``stream`` for ``name`` in ``domain``; returns it. Re-claiming the same
        (id, name) pair (a module imported twice) is allowed."""
        ids = self._ids.setdefault(domain, {})
        owner = ids.get(int(stream))
        if owner is not None and owner != name:
            raise BoostbenchError(f"Stream id {int(stream)} of domain {domain!r} is claimed twice: "
                                  f"by {owner!r} and {name!r}.")
        ids[int(stream)] = name
        return int(stream)

    def claim_block(self, domain: str, name: str, first: int, names) -> tuple[int, ...]:
        """Claim consecutive ids ``first, first+1, ...`` for ``name.<each of names>``."""
        return tuple(self.claim(domain, f"{name}.{n}", first + i) for i, n in enumerate(names))

    def table(self) -> dict[str, dict[int, str]]:
        """``{domain: {id: name}}`` of every claim so far (sorted by id)."""
        return {d: dict(sorted(ids.items())) for d, ids in sorted(self._ids.items())}


#: The registry every module claims its stream ids in.
STREAMS = StreamRegistry()

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (Steele, Lea & Flood, OOPSLA 2014), vectorised over uint64."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


_C0, _C1, _C2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), \
    np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0
_TABLE_MIN = 4096  # a first coordinate at least this long may go through a lookup table


def _splitmix_inplace(x: np.ndarray) -> np.ndarray:
    """:func:`splitmix` on an array the caller owns, in place (same bits, fewer temporaries)."""
    x += _C0
    t = x >> _S30
    x ^= t
    x *= _C1
    np.right_shift(x, _S27, out=t)
    x ^= t
    x *= _C2
    np.right_shift(x, _S31, out=t)
    x ^= t
    return x


def _as_u64(c) -> np.ndarray:
    c = np.asarray(c)
    return c.view(np.uint64) if c.dtype == np.int64 else c.astype(np.int64).view(np.uint64)


def _seed_state(key: int, stream: int) -> np.ndarray:
    """The hash state before any coordinate: a 0-d uint64 array."""
    return splitmix(np.full((), (key * 1_000_003 + stream) & 0xFFFFFFFFFFFFFFFF,
                             dtype=np.uint64))


def _id_table(h0: np.ndarray, c: np.ndarray):
    """``splitmix(h0 ^ id)`` for every id up to ``c.max()`` if ``c`` is a long array of
    few small non-negative ids (accounts, say): mixing each distinct id once and
    gathering gives the same bits with less work. None otherwise."""
    if c.ndim and c.size >= _TABLE_MIN and c.dtype.kind in "iu":
        lo, hi = int(c.min()), int(c.max())
        if lo >= 0 and 4 * (hi + 1) <= c.size:
            return _splitmix_inplace(np.arange(hi + 1, dtype=np.int64).view(np.uint64) ^ h0)
    return None


def _mix(h: np.ndarray, c) -> np.ndarray:
    """``splitmix(h ^ c)``; in place when ``h`` is an owned array that keeps its shape."""
    cu = _as_u64(c)
    if h.ndim and np.broadcast_shapes(h.shape, cu.shape) == h.shape:
        h ^= cu
        return _splitmix_inplace(h)
    if h.ndim or cu.ndim:
        return _splitmix_inplace(h ^ cu)
    return splitmix(h ^ cu)


_BLOCK = 1 << 16  # output elements hashed per block: the temporaries stay in cache


def hash_uniforms(key: int, stream: int, *coords: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1) that depend only on ``(key, stream, *coords)``: the top 53 bits of
    :func:`hash_words`, as float64."""
    return _hash(key, stream, coords, words=False)


def hash_words(key: int, stream: int, *coords: np.ndarray) -> np.ndarray:
    """64-bit hash words (uint64) that depend only on ``(key, stream, *coords)``.

    The state from which :func:`hash_uniforms` takes its uniforms; several uniforms
    can be derived from one word (:func:`derive`)."""
    return _hash(key, stream, coords, words=True)


def _hash(key: int, stream: int, coords, *, words: bool) -> np.ndarray:
    """Hash words or uniforms in [0, 1) that depend only on ``(key, stream, *coords)``.

    A counter-based generator: the same account, item and round give the same
    draw in every world that shares ``key``, which is what common random numbers need.

    The state starts as SplitMix64 of ``key * 1_000_003 + stream``; each
    coordinate (as int64 bits) is XOR-ed in and mixed with SplitMix64 again; the
    top 53 bits give the uniform. Coordinates broadcast against each other.
    Large outputs are computed in blocks of rows (same bits, less memory traffic).
    """
    h0 = _seed_state(key, stream)
    if not coords:
        return h0.copy() if words else (h0 >> _S11).astype(np.float64) * _TO_UNIT
    arrs = [np.asarray(c) for c in coords]
    shape = np.broadcast_shapes(*(a.shape for a in arrs))
    with np.errstate(over="ignore"):
        if not shape or shape[0] == 0:
            h = h0
            for a in arrs:
                h = _mix(h if h.ndim else h.copy(), a)
            h = np.broadcast_to(h, shape).copy() if h.shape != shape else h
            return h if words else (h >> _S11).astype(np.float64) * _TO_UNIT
        nd, n0 = len(shape), shape[0]
        arrs = [a.reshape((1,) * (nd - a.ndim) + a.shape) for a in arrs]
        # leading coordinates constant along the first axis (length 1 there) are mixed
        # once, not once per row: the state after them is the same for every row
        n_pre = 0
        if n0 > 1:
            while n_pre < len(arrs) and arrs[n_pre].shape[0] == 1:
                n_pre += 1
        table = _id_table(h0, arrs[0])
        pre = None
        if n_pre:
            pre = table[arrs[0]] if table is not None else _splitmix_inplace(_as_u64(arrs[0]) ^ h0)
            for a in arrs[1:n_pre]:
                pre = _mix(pre, a)
        per_row = max(1, int(np.prod(shape[1:], dtype=np.int64)))
        step = max(1, _BLOCK // per_row)
        out = np.empty(shape, np.uint64 if words else np.float64)
        for lo in range(0, n0, step):
            hi = min(n0, lo + step)
            blk = [a if a.shape[0] == 1 else a[lo:hi] for a in arrs]
            if pre is not None:  # (a coordinate past the prefix varies along axis 0)
                h = _splitmix_inplace(pre ^ _as_u64(blk[n_pre]))  # never in place: shared
                rest = blk[n_pre + 1:]
            else:
                h = table[blk[0]] if table is not None else \
                    _splitmix_inplace(_as_u64(blk[0]) ^ h0)
                rest = blk[1:]
            for a in rest:
                h = _mix(h, a)
            o = out[lo:hi]
            if words:
                o[...] = h
                continue
            h >>= _S11
            o[...] = h
            o *= _TO_UNIT
        return out


def _salt(stream: int) -> np.uint64:
    """The constant a decision's stream id contributes to :func:`derive`."""
    return splitmix(np.uint64(stream & 0xFFFFFFFFFFFFFFFF) * _C0)[()]


def derive(words: np.ndarray, stream: int) -> np.ndarray:
    """Uniforms in [0, 1) for one decision from per-event hash words: the top 53 bits of
    one SplitMix64 round of ``word ^ salt(stream)``. Different streams give independent
    uniforms from the same word; each keeps the full 53-bit resolution."""
    with np.errstate(over="ignore"):
        h = np.bitwise_xor(words, _salt(stream))
        _splitmix_inplace(h)
        h >>= _S11
        out = h.astype(np.float64)
        out *= _TO_UNIT
        return out


class CounterUniforms:
    """The uniform source ``stream -> hash_uniforms(key, stream, *coords)`` of a batch.

    ``coords`` are arrays of the batch's length or scalars. Besides being called
    with a stream (the whole batch), it answers :meth:`take` — the same uniforms
    at some positions only, computed for those alone — which
    :meth:`~boostbench.behaviour.Behaviour.respond` uses for decisions that only
    matter after a view.
    """

    def __init__(self, key: int, *coords):
        self.key = key
        self.coords = tuple(c if np.ndim(c) == 0 else np.asarray(c) for c in coords)

    def __call__(self, stream: int) -> np.ndarray:
        return hash_uniforms(self.key, stream, *self.coords)

    def take(self, stream: int, idx: np.ndarray) -> np.ndarray:
        return hash_uniforms(self.key, stream,
                             *(c if np.ndim(c) == 0 else c[idx] for c in self.coords))


class ImpressionUniforms:
    """The uniform source of a batch of impressions: one counter-based hash per impression.

    ``words = hash_words(key, stream, *coords)`` once per impression (account, item,
    round); a decision's uniforms are :func:`derive` (words, its stream id). Called
    with a stream it answers for the whole batch; :meth:`take` answers for some
    positions only. Counter-based, so a clean twin and an attacked run that show
    the same account the same item in the same round decide the same way.
    """

    def __init__(self, key: int, stream: int, *coords):
        self.words = hash_words(key, stream, *coords)

    def __call__(self, stream: int) -> np.ndarray:
        return derive(self.words, stream)

    def take(self, stream: int, idx: np.ndarray) -> np.ndarray:
        return derive(self.words[idx], stream)
