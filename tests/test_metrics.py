import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from boostbench.errors import InvalidParameter
from boostbench.metrics import quality_ndcg_at_k, topk_membership
from boostbench.metrics.feed import topk_membership_of
from boostbench.plugins import METRICS
from boostbench.simulate import Trajectory
from boostbench.stats import t_interval
from boostbench.world import Truth
from boostbench._core.units import HOUR


def _traj(ranks, targets, k=2, eval_round=0, exposure=None, engagement=None, fake=0,
          aimed=None):
    ranks = np.atleast_2d(np.asarray(ranks, np.float32))
    z = np.zeros_like(ranks)
    exposure = z if exposure is None else np.atleast_2d(np.asarray(exposure, np.float32))
    engagement = z if engagement is None else np.atleast_2d(np.asarray(engagement, np.float32))
    return Trajectory("r", "a", 0, 1.0, ranks, exposure, engagement,
                      HOUR * np.arange(1, ranks.shape[0] + 1),
                      np.asarray(targets), eval_round, k, 0.2, fake_actions=fake,
                      aimed_actions=fake if aimed is None else aimed)


def _truth(quality):
    q = np.asarray(quality, np.float32)
    z = np.zeros(1)
    return Truth(q, q, q.astype(float), z, z.astype(np.int8), z.astype(np.int32))


@given(st.lists(st.lists(st.sampled_from([1.0, 2.0, 2.5, 3.0, 4.0, np.nan]), min_size=6,
                         max_size=6), min_size=1, max_size=5),
       st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True), st.integers(1, 6))
def test_topk_membership_of_targets_equals_the_full_membership(rows, items, k):
    ranks = np.array(rows)
    want = np.stack([topk_membership(r, k)[items] for r in ranks])
    np.testing.assert_array_equal(topk_membership_of(ranks, items, k), want)


def test_topk_membership_by_hand():
    r = np.array([1.0, 2.5, 2.5, 4.0, np.nan])
    assert topk_membership(r, 2).tolist() == [1.0, 0.5, 0.5, 0.0, 0.0]
    assert topk_membership(r, 3).tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert topk_membership(np.array([2.0, 2.0, 2.0]), 1).tolist() == pytest.approx([1 / 3] * 3)
    with pytest.raises(InvalidParameter, match="'k'"):
        topk_membership(r, 0)


@given(arrays(np.int8, st.integers(1, 12), elements=st.integers(0, 4)), st.integers(1, 15))
def test_topk_membership_sums_to_min_k_n(scores, k):
    from scipy.stats import rankdata
    r = rankdata(-scores.astype(float), method="average")
    assert topk_membership(r, k).sum() == pytest.approx(min(k, scores.size))


def test_ndcg_by_hand():
    q, s = [1.0, 0.5, 0.2, 0.9], [4, 3, 2, 1]
    dcg = 1 + 0.5 / np.log2(3) + 0.2 / np.log2(4)
    idcg = 1 + 0.9 / np.log2(3) + 0.5 / np.log2(4)
    assert quality_ndcg_at_k(q, s, k=3) == pytest.approx(dcg / idcg)
    assert quality_ndcg_at_k(q, q, k=3) == pytest.approx(1.0)
    assert quality_ndcg_at_k([0, 0], [1, 2], k=1) == 0.0


def _brute_tie_averaged(q, s, k):
    """Average DCG over every ordering consistent with the scores (ties broken all ways)."""
    q, s = np.asarray(q, float), np.asarray(s, float)
    disc = np.array([1 / np.log2(i + 2) if i < k else 0.0 for i in range(q.size)])
    vals = [np.dot(q[list(p)], disc) for p in itertools.permutations(range(q.size))
            if all(s[p[i]] >= s[p[i + 1]] for i in range(q.size - 1))]
    ideal = np.dot(np.sort(q)[::-1], disc)
    return np.mean(vals) / ideal if ideal > 0 else 0.0


@settings(max_examples=60)
@given(st.lists(st.tuples(st.floats(0, 1, width=32), st.integers(0, 3)), min_size=1, max_size=6),
       st.integers(1, 6))
def test_ndcg_matches_brute_force_over_tie_orderings(rows, k):
    q, s = [r[0] for r in rows], [r[1] for r in rows]
    assert quality_ndcg_at_k(q, s, k=k) == pytest.approx(_brute_tie_averaged(q, s, k), abs=1e-9)


@settings(max_examples=60)
# subnormal gains underflow in sklearn (it returns NDCG 1.5 for gains of 5e-324)
@given(st.lists(st.tuples(st.floats(0, 1, allow_subnormal=False), st.integers(0, 5)),
                min_size=2, max_size=30),
       st.integers(1, 30))
def test_ndcg_matches_sklearn(rows, k):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    q = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows], float)
    if q.sum() == 0:
        return
    ref = sklearn_metrics.ndcg_score(q[None, :], s[None, :], k=k)
    assert quality_ndcg_at_k(q, s, k=k) == pytest.approx(ref, abs=1e-9)


def test_ndcg_rejects_bad_input():
    with pytest.raises(InvalidParameter, match="equal length"):
        quality_ndcg_at_k([1, 2], [1], k=1)
    with pytest.raises(InvalidParameter, match="quality >= 0"):
        quality_ndcg_at_k([-1, 2], [1, 2], k=1)


def test_rise_metrics_by_hand():
    clean = _traj([[8, 1, 2, 4, 16]], targets=[0, 3])
    att = _traj([[2, 3, 4, 1, 5]], targets=[0, 3])
    truth = _truth([0.1, 0.9, 0.8, 0.05, 0.5])
    m = {n: METRICS.get(n)(att, clean, truth) for n in METRICS.names()}
    assert m["rank_lift"] == pytest.approx(((8 - 2) + (4 - 1)) / 2)
    assert m["log_rank_lift"] == pytest.approx((np.log2(8 / 2) + np.log2(4 / 1)) / 2)
    assert m["hit_rate_at_k"] == pytest.approx(1.0)  # targets ranked 2 and 1, k = 2
    assert m["target_rank"] == pytest.approx(1.5)
    # bottom 20% of quality: item 3 only (0.05); top 2 = items 3 and 0
    assert m["low_quality_share_at_k"] == pytest.approx(0.5)


def test_ineligible_target_counts_below_the_last():
    clean = _traj([[1, np.nan, 2]], targets=[1])
    att = _traj([[2, 1, 3]], targets=[1])
    assert METRICS.get("rank_lift")(att, clean, _truth([0.5, 0.1, 0.5])) == pytest.approx(2.0)


def test_loop_metrics_by_hand():
    # two rounds, three items; targets 0 and 2; eval round 0 (round 1 is after the campaign)
    clean = _traj([[3, 1, 2], [3, 1, 2]], [0, 2], k=1, exposure=[[1, 5, 2], [0, 6, 1]],
                  engagement=[[0, 1, 0], [0, 1, 0]])
    att = _traj([[1, 2, 3], [2, 1, 3]], [0, 2], k=1, exposure=[[4, 3, 2], [3, 4, 2]],
                engagement=[[1, 0, 0], [2, 1, 1]], fake=8, aimed=5)
    truth = _truth([0.1, 0.9, 0.5])
    m = {n: METRICS.get(n)(att, clean, truth) for n in METRICS.names()}
    assert m["extra_organic_impressions"] == pytest.approx(((4 + 3 - 1) + (2 + 2 - 2 - 1)) / 2)
    assert m["extra_organic_impressions_after"] == pytest.approx(((3 - 0) + (2 - 1)) / 2)
    # per action aimed at the targets (5 of the 8; 3 were camouflage)
    assert m["amplification"] == pytest.approx((3 + 1) / 5)
    assert m["off_target_actions"] == 3
    assert m["log_rank_lift"] == pytest.approx((np.log2(3 / 1) + np.log2(2 / 3)) / 2)
    assert m["peak_rank"] == pytest.approx((1 + 3) / 2)
    assert m["rounds_in_top_k"] == pytest.approx((1 + 0) / 2)
    fq = [(4 * .1 + 3 * .9 + 2 * .5) / 9, (3 * .1 + 4 * .9 + 2 * .5) / 9]
    assert m["feed_quality"] == pytest.approx(np.mean(fq))
    # bottom 20% of [0.1, 0.9, 0.5]: item 0 only
    assert m["low_quality_exposure_share"] == pytest.approx(7 / 18)
    assert np.isnan(METRICS.get("amplification")(clean, clean, truth))


@pytest.mark.parametrize("name", METRICS.names())
def test_conformance_zero_attack_gives_no_rise(name):
    t = _traj([[3, 1, 2, np.nan]], targets=[0, 2], exposure=[[1, 2, 3, 0]], fake=1)
    v = METRICS.get(name)(t, t, _truth([0.1, 0.9, 0.5, 0.3]))
    # NaN only where the metric declares when it is undefined (ratios over detections, ...)
    assert np.isfinite(v) or METRICS.get(name).nan_when, name
    if name in ("rank_lift", "log_rank_lift", "extra_organic_impressions",
                "extra_organic_impressions_after", "amplification"):
        assert v == 0.0
    assert isinstance(METRICS.get(name).greater_is_better, bool)
    assert METRICS.get(name).definition


@settings(max_examples=50)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=20), st.floats(0.5, 0.99))
def test_t_interval_matches_scipy(values, conf):
    iv = t_interval(values, conf)
    v = np.asarray(values)
    if v.std() == 0:
        assert iv.low == pytest.approx(iv.mean) and iv.high == pytest.approx(iv.mean)
        return
    lo, hi = stats.t.interval(conf, v.size - 1, loc=v.mean(), scale=stats.sem(v))
    assert iv.low == pytest.approx(lo, rel=1e-9, abs=1e-9)
    assert iv.high == pytest.approx(hi, rel=1e-9, abs=1e-9)


def test_t_interval_single_value_has_no_interval():
    iv = t_interval([3.0])
    assert iv.mean == 3.0 and np.isnan(iv.low) and np.isnan(iv.high)
    with pytest.raises(InvalidParameter, match="confidence"):
        t_interval([1.0, 2.0], 1.0)


def test_success_is_judged_over_the_horizon_not_at_the_end_of_the_window():
    """A target in the top 1 for rounds 1-2, then banned back down by the evaluation round:
    the end-of-window snapshot says 0, the horizon says it reached the top k (2 h >= 1 h).
    The other target held half a top-1 slot (a tie) for one round: 0.5 h, not a success."""
    ranks = [[1.0, 5.0, 1.5, 1.5], [1.0, 5.0, 3.0, 2.0], [4.0, 1.0, 3.0, 2.0]]
    att = _traj(ranks, [0, 2], k=1, eval_round=2, fake=3)
    m = {n: METRICS.get(n)(att, att, _truth([0.1, 0.9, 0.2, 0.5])) for n in
         ("hit_rate_at_k", "reached_top_k", "rounds_in_top_k")}
    assert m["hit_rate_at_k"] == 0.0
    assert m["reached_top_k"] == 0.5
    assert m["rounds_in_top_k"] == pytest.approx((2 + 0.5) / 2)
    # hours are round lengths: with 30-minute rounds two rounds are exactly the hour
    half = Trajectory("r", "a", 0, 1.0, np.asarray(ranks, np.float32), np.zeros((3, 4)),
                      np.zeros((3, 4)), HOUR / 2 * np.arange(1, 4), np.array([0, 2]), 2, 1, 0.2)
    assert METRICS.get("reached_top_k")(half, half, None) == 0.5
    half = Trajectory("r", "a", 0, 1.0, np.asarray(ranks, np.float32), np.zeros((3, 4)),
                      np.zeros((3, 4)), HOUR / 4 * np.arange(1, 4), np.array([0, 2]), 2, 1, 0.2)
    assert METRICS.get("reached_top_k")(half, half, None) == 0.0
