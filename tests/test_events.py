import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from boostbench.errors import InvalidParameter

from boostbench._core.params import check_int, check_real
from boostbench.events import N_KINDS, EventKind, EventLog, merge_logs
from boostbench._core.arrays import (KeySet, PairSet, distinct, first_occurrence, pair_set,
                                     stable_argsort)


def _cols(ts):
    n = len(ts)
    return (np.asarray(ts, float), np.arange(n), np.arange(n) % 3,
            np.full(n, EventKind.LIKE), np.zeros(n))


def test_eight_kinds_in_order():
    assert [k.name for k in EventKind] == ["IMPRESSION", "VIEW", "LIKE", "COMMENT", "SHARE",
                                          "REPORT", "NOT_INTERESTED", "FOLLOW"]
    assert EventLog().kind.dtype == np.int8


def test_append_sorts_batch_and_grows():
    log = EventLog(capacity=2)
    log.append(*_cols([3.0, 1.0, 2.0]))
    log.append(*_cols([5.0, 4.0]))
    assert log.t.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert log.account.tolist() == [1, 2, 0, 1, 0]
    assert log.t.dtype == np.float64 and log.account.dtype == np.int32
    assert log.value.dtype == np.float32


def test_append_before_last_event_is_rejected():
    log = EventLog()
    log.append(*_cols([5.0]))
    with pytest.raises(InvalidParameter, match="must not start before the last event"):
        log.append(*_cols([4.0]))


def test_views_are_read_only_and_survive_appends():
    log = EventLog(capacity=1)
    log.append(*_cols([1.0, 2.0]))
    old = log.t
    with pytest.raises(ValueError):
        old[0] = 9.0
    log.append(*_cols([3.0, 4.0, 5.0]))  # forces a reallocation
    assert old.tolist() == [1.0, 2.0]
    assert len(log) == 5


@pytest.mark.parametrize("bad, match", [
    ((np.array([np.nan]), [0], [0], [0], [0]), "finite"),
    (([0.0], [-1], [0], [0], [0]), ">= 0"),
    (([0.0], [0], [0], [8], [0]), "EventKind"),
    (([0.0, 1.0], [0], [0, 0], [0, 0], [0, 0]), "length 2"),
])
def test_bad_batches_name_the_column(bad, match):
    with pytest.raises(InvalidParameter, match=match):
        EventLog().append(*bad)


@given(st.lists(st.floats(0, 100), max_size=30), st.lists(st.floats(0, 100), max_size=30))
def test_merge_is_sorted_and_labels_sources(a, b):
    la, lb = EventLog.from_arrays(*_cols(a)), EventLog.from_arrays(*_cols(b))
    merged, from_b = merge_logs(la, lb)
    assert len(merged) == len(a) + len(b)
    assert np.all(np.diff(merged.t) >= 0)
    assert sorted(merged.t[from_b].tolist()) == sorted(b)


def test_merge_with_empty_is_exact_copy():
    la = EventLog.from_arrays(*_cols([1.0, 1.0, 2.0]))
    merged, from_b = merge_logs(la, EventLog())
    for x, y in zip(merged.columns(), la.columns()):
        np.testing.assert_array_equal(x, y)
    assert not from_b.any()


def test_count_until():
    log = EventLog.from_arrays(*_cols([1.0, 2.0, 2.0, 3.0]))
    assert log.count_until(2.0) == 3 and log.count_until(0.5) == 0


def test_checkers_name_parameter_and_range():
    with pytest.raises(InvalidParameter, match=r"The 'k' parameter of f must be an int in \[1, inf\)\. Got 0"):
        check_int("k", 0, low=1, where="f")
    with pytest.raises(InvalidParameter, match="an int"):
        check_int("k", True, low=1)
    with pytest.raises(InvalidParameter, match=r"\(0, 1\]"):
        check_real("p", 0.0, low=0.0, high=1.0, low_open=True)
    with pytest.raises(InvalidParameter, match="finite"):
        check_real("p", float("nan"))
    assert check_real("p", 1, low=0) == 1.0
    assert isinstance(InvalidParameter("x"), ValueError)


_SORTABLE = st.one_of(
    arrays(np.float64, st.integers(0, 60), elements=st.floats(allow_nan=False,
                                                              allow_infinity=False)),
    arrays(np.float64, st.integers(0, 60),
           elements=st.sampled_from([0.0, -0.0, 1.0, 1.0 + 2**-40, 1.0 + 2**-39, 3.5, -2.0])),
    arrays(np.float32, st.integers(0, 60), elements=st.floats(-1e6, 1e6, width=32)),
    arrays(np.int64, st.integers(0, 60), elements=st.integers(-2**62, 2**62)),
    arrays(np.int64, st.integers(0, 60), elements=st.integers(0, 5)),
    arrays(np.int16, st.integers(0, 60)),
    arrays(np.uint64, st.integers(0, 60)),
)


@given(_SORTABLE)
def test_stable_argsort_is_numpys_stable_argsort(x):
    np.testing.assert_array_equal(stable_argsort(x), np.argsort(x, kind="stable"))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("x", [[5e-324, 0.0, 5e-324, 0.0, 1e-323], [1e-310, 0.0, 2e-310, -1e-310],
                               [1e308, -1e308, 0.0]])
def test_stable_argsort_takes_no_overflowing_scale(x):
    # a span so small (subnormal) that the key scale overflows to inf: the plain argsort,
    # not NaN keys cast to int64 and rescued by the tie fix-up
    x = np.array(x)
    np.testing.assert_array_equal(stable_argsort(x), np.argsort(x, kind="stable"))


@given(arrays(np.int64, st.integers(0, 300), elements=st.integers(0, 2**62)),
       st.integers(0, 3))
def test_the_radix_sort_is_numpys_sort(a, spare_bits):
    from boostbench._core.kernels import radix_sort
    bits = int(a.max()).bit_length() + spare_bits if a.size else spare_bits
    before = a.copy()
    np.testing.assert_array_equal(radix_sort(a, bits), np.sort(a))
    np.testing.assert_array_equal(a, before)        # the input is left as it was


@given(st.one_of(arrays(np.int64, st.integers(0, 80), elements=st.integers(-2**40, 2**40)),
                 arrays(np.int64, st.integers(0, 80), elements=st.integers(0, 4))))
def test_distinct_inverse_is_numpys_unique_with_inverse(x):
    from boostbench._core.arrays import distinct_inverse
    values, inverse = distinct_inverse(x)
    want_values, want_inverse = np.unique(x, return_inverse=True)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(inverse, want_inverse.reshape(-1))
    if x.size and x.min() >= 0 and x.max() < 10_000:   # the dense path, in [0, universe)
        values, inverse = distinct_inverse(x, int(x.max()) + 3)
        np.testing.assert_array_equal(values, want_values)
        np.testing.assert_array_equal(inverse, want_inverse.reshape(-1))


@given(arrays(np.int8, st.integers(0, 100), elements=st.integers(0, N_KINDS - 1)),
       st.sets(st.integers(0, N_KINDS - 1)))
def test_kind_mask_is_the_kind_tables_gather(kind, kinds):
    from boostbench.events import kind_mask, kind_table
    table = kind_table(sorted(kinds))
    np.testing.assert_array_equal(kind_mask(kind, sorted(kinds)), table[kind])
    np.testing.assert_array_equal(kind_mask(kind, table), table[kind])


@given(arrays(np.float64, st.integers(0, 60), elements=st.floats(-1e6, 1e6)),
       arrays(np.float64, st.integers(0, 60), elements=st.floats(allow_nan=False)))
def test_sorted_search_is_numpys_searchsorted_right(a, x):
    from boostbench._core.arrays import SortedSearch
    a = np.sort(a)
    x = np.concatenate([x, a, a + 1e-9, a - 1e-9])      # on and around every value
    np.testing.assert_array_equal(SortedSearch(a).right(x), np.searchsorted(a, x, side="right"))


@pytest.mark.parametrize("high", [1, 2**11, 2**40, 2**62])
def test_large_sorts_take_the_radix_path_and_agree_with_numpy(high):
    from boostbench._core.arrays import _RADIX_MIN, distinct
    rng = np.random.default_rng(high % 97)
    keys = rng.integers(0, high, 5 * _RADIX_MIN)
    np.testing.assert_array_equal(distinct(keys), np.unique(keys))
    x = rng.integers(0, high, 3 * _RADIX_MIN) * 0.5        # floats with ties
    np.testing.assert_array_equal(stable_argsort(x), np.argsort(x, kind="stable"))


def test_stable_argsort_orders_values_closer_than_the_key_resolution():
    # a wide span with a cluster far below its key resolution: every path of the fix-up
    rng = np.random.default_rng(3)
    x = np.concatenate([[0.0, 1e6], 1e5 + rng.random(5000) * 1e-9, np.full(50, 1e5)])
    rng.shuffle(x)
    np.testing.assert_array_equal(stable_argsort(x), np.argsort(x, kind="stable"))
    big = 1e5 + rng.random(300_000) * 3600.0
    big[::7] = big[3]   # exact ties
    np.testing.assert_array_equal(stable_argsort(big), np.argsort(big, kind="stable"))


@given(st.lists(st.tuples(st.sampled_from(["add", "add_new", "contains"]),
                          st.lists(st.integers(0, 300), max_size=40)), max_size=25),
       st.sampled_from(["dense", "runs", "pairs"]))
def test_keyset_behaves_like_a_python_set(ops, layout):
    """Every layout against a set: a dense bitmap with a universe, sorted runs without, and
    the item-major PairSet of 7 items (keys are ``row * 7 + item``; it starts with 4 rows,
    so most keys widen it)."""
    ks = {"dense": lambda: KeySet(universe=301, max_runs=3),
          "runs": lambda: KeySet(max_runs=3),
          "pairs": lambda: PairSet(n_rows=4, n_items=7)}[layout]()
    ref = set()
    for op, keys in ops:
        k = np.array(keys, np.int64)
        if op == "add":
            ks.add(k)
            ref.update(keys)
        elif op == "add_new":
            want = []
            for x in keys:
                want.append(x not in ref)
                ref.add(x)
            np.testing.assert_array_equal(ks.add_new(k), np.array(want, bool))
        np.testing.assert_array_equal(ks.contains(k), np.array([x in ref for x in keys], bool))
    everything = np.arange(301)
    np.testing.assert_array_equal(ks.contains(everything), np.isin(everything, list(ref)))
    np.testing.assert_array_equal(ks.copy().contains(everything), ks.contains(everything))


def test_pair_set_is_dense_only_where_the_bitmap_fits():
    assert isinstance(pair_set(np.array([5]), n_rows=1000, n_items=1000), PairSet)
    big = pair_set(np.array([5, 10**10]), n_rows=10**6, n_items=10**5)
    assert isinstance(big, KeySet) and big.contains(np.array([5, 6, 10**10])).tolist() == [
        True, False, True]


@given(arrays(np.int64, st.integers(0, 80), elements=st.integers(-5, 2**40)))
def test_distinct_is_np_unique(x):
    np.testing.assert_array_equal(distinct(x), np.unique(x))
    assert distinct(x).dtype == x.dtype


@given(arrays(np.int64, st.integers(0, 60), elements=st.sampled_from([0, 7, 2**36, 2**36 + 1, 2**61])))
def test_first_occurrence_marks_the_first_of_each_key(keys):
    want = np.zeros(keys.size, bool)
    want[np.unique(keys, return_index=True)[1]] = True
    np.testing.assert_array_equal(first_occurrence(keys), want)
