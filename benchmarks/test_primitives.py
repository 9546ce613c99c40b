"""The columnar primitives under the loop, next to the numpy call each replaces.

Each benchmark times boostbench's primitive on a round-sized input and records, in
``extra_info["numpy_s"]`` and ``extra_info["speedup"]`` (numpy time / ours, both the
fastest of a few calls), what the numpy call with the same answer costs on this
machine, so a numpy upgrade that changes the picture shows up here:

* ``stable_argsort`` vs ``np.argsort(kind="stable")``: 2.2M event times (a round of
  the 100k-account world) and 200k (the 10k-account world);
* ``distinct`` vs ``np.unique`` (hash-based since numpy 2.3): 2M pair keys;
* ``KeySet.contains`` without a dense bitmap (pair universe > 2**31, as for 1M
  accounts x 100k items): 2M queries against 20M keys in size-tiered runs;
* the radix sort under the packed sorts vs ``np.sort``: 30k packed keys (a round's
  ranked order on the default world) and 1M.
"""

from __future__ import annotations

import timeit

import numpy as np
import pytest

from boostbench._core.arrays import KeySet, distinct, stable_argsort
from boostbench._core.kernels import radix_sort

REPEATS = 3


def _fastest(fn) -> float:
    return min(timeit.repeat(fn, number=1, repeat=REPEATS))


def _record(benchmark, numpy_fn, n: int) -> None:
    benchmark.extra_info["n"] = n
    if benchmark.stats is None:  # not timing (--benchmark-disable): skip the comparison too
        return
    numpy_s = _fastest(numpy_fn)
    benchmark.extra_info.update(numpy_s=numpy_s, speedup=numpy_s / benchmark.stats.stats.min)


@pytest.mark.parametrize("n", [200_000, 2_200_000])
def test_stable_argsort_event_times(benchmark, n):
    t = 3.6e5 + np.random.default_rng(0).random(n) * 3600.0
    t[::1000] = t[1]  # a few exact ties
    order = benchmark.pedantic(stable_argsort, args=(t,), rounds=REPEATS, iterations=1)
    np.testing.assert_array_equal(order, np.argsort(t, kind="stable"))
    _record(benchmark, lambda: np.argsort(t, kind="stable"), n)


def test_distinct_pair_keys(benchmark):
    keys = np.random.default_rng(1).integers(0, 10**11, 2_000_000)
    out = benchmark.pedantic(distinct, args=(keys,), rounds=REPEATS, iterations=1)
    assert out.size == np.unique(keys).size
    _record(benchmark, lambda: np.unique(keys), keys.size)


def test_keyset_contains_sorted_runs(benchmark):
    rng = np.random.default_rng(2)
    ks = KeySet(universe=10**11)  # too large for a bitmap: sorted runs
    for _ in range(10):
        ks.add(rng.integers(0, 10**11, 2_000_000))
    queries = rng.integers(0, 10**11, 2_000_000)
    hit = benchmark.pedantic(ks.contains, args=(queries,), rounds=REPEATS, iterations=1)
    everything = np.concatenate(ks._runs)
    np.testing.assert_array_equal(hit, np.isin(queries, everything))

    def unsorted_queries():  # what contains() did before: every run, queries as they come
        out = np.zeros(queries.size, bool)
        for r in ks._runs:
            out |= r[np.minimum(np.searchsorted(r, queries), r.size - 1)] == queries
        return out
    _record(benchmark, unsorted_queries, queries.size)
    benchmark.extra_info["n_runs"] = len(ks._runs)


@pytest.mark.parametrize("n", [30_000, 1_000_000])
def test_radix_sort_packed_keys(benchmark, n):
    keys = np.random.default_rng(3).integers(0, 2**47, n)
    radix_sort(keys[:10], 47)                        # compiled before timing
    out = benchmark.pedantic(radix_sort, args=(keys, 47), rounds=REPEATS, iterations=1)
    np.testing.assert_array_equal(out, np.sort(keys))
    _record(benchmark, lambda: np.sort(keys), n)
