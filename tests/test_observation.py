import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from boostbench.errors import InvalidParameter
from boostbench.events import N_KINDS, EventKind as K
from boostbench.observation import AGGREGATES, Observation, viewed_before
from helpers import make_obs

TRUTH_WORDS = ("quality", "appeal", "origin", "campaign", "truth", "target", "reach", "activity")


def test_observation_exposes_no_truth(tiny_base):
    obs = tiny_base.observation_at_start()
    public = [n for n in dir(obs) if not n.startswith("__")]
    for thing in (obs, obs.items, obs.accounts):
        names = [n.lower() for n in dir(thing) if not n.startswith("__")]
        assert not [n for n in names for w in TRUTH_WORDS if w in n], type(thing)
    assert "world" not in public


def test_observation_is_immutable(tiny_base):
    obs = tiny_base.observation_at_start()
    with pytest.raises(AttributeError):
        obs.now = 0.0
    with pytest.raises(ValueError):
        obs.counts()[0, 0] = 5


def test_only_events_up_to_now_are_visible():
    obs = make_obs([(1.0, 0, 0, K.LIKE, 0), (5.0, 1, 0, K.LIKE, 0)], now=3.0)
    assert obs.n_events == 1 and obs.count(K.LIKE)[0] == 1


def test_eligibility_window():
    H = 3600.0
    obs = make_obs([], n_items=4, now=100 * H, created=[10 * H, 28 * H, 29 * H, 101 * H])
    assert obs.eligible.tolist() == [False, False, True, False]


def test_with_weights_lowers_only_and_recomputes():
    obs = make_obs([(1.0, 0, 0, K.LIKE, 0), (2.0, 1, 0, K.LIKE, 0), (3.0, 1, 1, K.LIKE, 0)])
    assert obs.count(K.LIKE).tolist() == [2, 1, 0]
    w = obs.with_weights([0.5, 1.0, 0.0])
    assert w.count(K.LIKE).tolist() == [1.5, 0, 0]
    assert obs.count(K.LIKE).tolist() == [2, 1, 0]  # the original keeps its own cache
    with pytest.raises(InvalidParameter, match="only lower"):
        w.with_weights([1.0, 1.0, 0.0])
    with pytest.raises(InvalidParameter, match="shape"):
        obs.with_weights([1.0])


def test_unit_weights_are_read_only_ones_of_the_visible_length():
    obs = make_obs([(1.0, 0, 0, K.LIKE, 0), (2.0, 1, 0, K.VIEW, 0.5), (9.0, 1, 1, K.LIKE, 0)],
                   now=5.0)
    w = obs.weight
    assert w.shape == (2,) and w.dtype == np.float32 and (w == 1).all()
    with pytest.raises(ValueError):
        w[0] = 0.5
    with pytest.raises(InvalidParameter, match=r"\[0, 1\]"):
        Observation(obs.items, obs.accounts, obs.stream, obs.now, n=2, weight=[0.5, 1.5])


def test_aggregates_match_a_direct_count(tiny_base):
    obs = tiny_base.observation_at_start()
    _, acc, item, kind, value = obs.events
    counts, sums = obs.counts(), obs.sums()
    for i in (0, 5, 17):
        for k in range(N_KINDS):
            m = (item == i) & (kind == k)
            assert counts[i, k] == m.sum()
            assert sums[i, k] == pytest.approx(value[m].astype(float).sum())
    # the cache passed in by the replay equals the aggregate computed from scratch
    fresh = Observation(obs.items, obs.accounts, tiny_base.world.history, obs.now)
    for name in ("counts", "sums", "verified_counts", "verified_log_sums"):
        np.testing.assert_allclose(fresh.aggregate(name), obs.aggregate(name))


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, N_KINDS - 1),
                          st.floats(0.0, 1e6, allow_subnormal=False), st.booleans(),
                          st.floats(0.0, 1.0, width=32)), max_size=60),
       st.integers(0, 2**32 - 1), st.booleans())
def test_accumulate_is_the_dense_sum_bit_for_bit(events, seed, weighted):
    """A round's aggregates added over the touched bins only are the floats of adding the
    dense aggregate, and the old arrays are left as they were."""
    from boostbench.observation import AGGREGATES, accumulate, aggregate
    n_items = 7
    rng = np.random.default_rng(seed)
    old = {name: rng.random((n_items, N_KINDS)) * 100 for name in AGGREGATES}
    frozen = {k: v.copy() for k, v in old.items()}
    item = np.array([e[0] for e in events], np.int64)
    kind = np.array([e[1] for e in events], np.int8)
    value = np.array([e[2] for e in events], np.float64)
    vb = np.array([e[3] for e in events], bool)
    w = np.array([e[4] for e in events], np.float32) if weighted else None
    got = accumulate(old, item, kind, value, vb, w)
    for name in AGGREGATES:
        want = old[name] + aggregate(name, item, kind, value, vb, w, n_items)
        np.testing.assert_array_equal(got[name], want)
        np.testing.assert_array_equal(old[name], frozen[name])


@given(st.lists(st.lists(st.tuples(st.integers(0, 6), st.integers(0, N_KINDS - 1),
                                   st.floats(0.0, 1e6, allow_subnormal=False), st.booleans(),
                                   st.floats(0.0, 1.0, width=32)), max_size=20), max_size=6),
       st.lists(st.tuples(st.sampled_from(AGGREGATES), st.integers(0, 6)), max_size=12),
       st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_lazy_aggregates_are_the_chunk_by_chunk_floats_whenever_asked(chunks, asks, seed,
                                                                        weighted, from_columns):
    """Asked in any order (late, early, again, never), an aggregate after c chunks is the
    array accumulate gives chunk by chunk, and nothing handed out changes afterwards."""
    import copy
    from boostbench.observation import Aggregates, accumulate, aggregate
    n_items = 7
    rng = np.random.default_rng(seed)
    cols = []
    for ev in chunks:
        cols.append((np.array([e[0] for e in ev], np.int64), np.array([e[1] for e in ev], np.int8),
                     np.array([e[2] for e in ev], np.float64), np.array([e[3] for e in ev], bool),
                     np.array([e[4] for e in ev], np.float32) if weighted else None))
    if from_columns:      # the start is computed from columns when first asked
        first = (rng.integers(0, n_items, 30), rng.integers(0, N_KINDS, 30).astype(np.int8),
                 rng.random(30) * 10, rng.random(30) < 0.5,
                 rng.random(30).astype(np.float32) if weighted else None)
        start = {n: aggregate(n, *first[:4], first[4], n_items) for n in AGGREGATES}
        lazy = Aggregates(n_items, start_columns=first)
    else:
        start = {n: rng.random((n_items, N_KINDS)) * 100 for n in AGGREGATES}
        lazy = Aggregates(n_items, start)
    want = [start]
    for c in cols:
        want.append(accumulate(want[-1], *c[:4], c[4]))
        lazy.extend(*c)
    handed = []
    for name, c in asks:
        c = min(c, len(cols))
        got = lazy.get(name, c)
        assert not got.flags.writeable
        np.testing.assert_array_equal(got, want[c][name])
        handed.append((got, got.copy()))
    twin = copy.deepcopy(lazy)
    for name in AGGREGATES:
        np.testing.assert_array_equal(twin.get(name, len(cols)), want[-1][name])
        snap = lazy.snapshot()[name]()
        np.testing.assert_array_equal(snap, want[-1][name])
    for got, was in handed:
        np.testing.assert_array_equal(got, was)


def test_an_observation_calls_a_lazy_aggregate_once_and_freezes_it(tiny_base):
    obs = tiny_base.observation_at_start()
    calls = []

    def counts():
        calls.append(1)
        return np.array(obs.counts())

    lazy = Observation(obs.items, obs.accounts, tiny_base.world.history, obs.now,
                       cache={"counts": counts})
    a, b = lazy.counts(), lazy.counts()
    assert a is b and len(calls) == 1 and not a.flags.writeable
    np.testing.assert_array_equal(a, obs.counts())


def _brute_viewed_before(acc, item, kind):
    seen, out = set(), []
    for a, i, k in zip(acc, item, kind):
        out.append((a, i) in seen)
        if k == K.VIEW:
            seen.add((a, i))
    return np.array(out, bool)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2), st.sampled_from([K.VIEW, K.LIKE,
                                                                                   K.COMMENT])),
                max_size=40),
       st.sampled_from([3, 10**9, 2**58]))  # pair keys packed with positions; too wide to pack
def test_viewed_before_matches_brute_force(rows, n_items):
    acc = np.array([r[0] for r in rows], np.int32)
    item = np.array([r[1] for r in rows], np.int32)
    kind = np.array([r[2] for r in rows], np.int8)
    np.testing.assert_array_equal(viewed_before(acc, item, kind, n_items),
                                  _brute_viewed_before(acc, item, kind))
