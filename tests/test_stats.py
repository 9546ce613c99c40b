import itertools

import numpy as np
import pytest
from scipy import stats

from boostbench.errors import InvalidParameter
from boostbench.stats import holm, regression_test, sign_flip_pvalue, t_interval


# Holm by hand (what statsmodels' multipletests(p, method="holm")[1] returns):
# sort ascending, multiply the i-th smallest by (m - i + 1), running maximum, cap at 1.
@pytest.mark.parametrize("p, expected", [
    ([0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]),
    ([0.001, 0.002, 0.003], [0.003, 0.004, 0.004]),  # the running max lifts the last one
    ([0.5, 0.5, 0.9], [1.0, 1.0, 1.0]),                # capped at 1
    ([0.02], [0.02]),                                   # one test: unchanged
    ([0.01, 0.01, 0.2], [0.03, 0.03, 0.2]),             # ties keep their order
    ([], []),
])
def test_holm_hand_values(p, expected):
    np.testing.assert_allclose(holm(p), expected, rtol=0, atol=1e-12)


def test_holm_skips_nan_and_does_not_count_it():
    out = holm([0.01, float("nan"), 0.02])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.02])


def test_holm_properties():
    rng = np.random.default_rng(3)
    p = rng.uniform(size=50) ** 3
    adj = holm(p)
    assert np.all(adj >= p) and np.all(adj <= 1)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0)  # keeps the order of the raw p-values
    # never more lenient than Bonferroni's min(1, m p) for the smallest, never stricter after
    assert adj[order[0]] == pytest.approx(min(1.0, 50 * p[order[0]]))


def test_holm_rejects_values_outside_unit_interval():
    with pytest.raises(InvalidParameter, match="'pvalues' parameter of holm"):
        holm([0.1, 1.5])


def _flip_bruteforce(x):
    x = np.asarray(x, float)
    obs = x.sum()
    sums = [np.dot(s, x) for s in itertools.product([-1, 1], repeat=x.size)]
    return np.mean(np.array(sums) >= obs - 1e-12)


@pytest.mark.parametrize("x, expected", [
    ([1.0, 2.0, 3.0], 1 / 8),   # only the identity reaches the observed sum
    ([1.0, -1.0], 3 / 4),       # sums 0, 2, -2, 0 against 0
    ([-1.0, -2.0], 1.0),
    ([0.0, 0.0, 0.0], 1.0),
])
def test_sign_flip_hand_values(x, expected):
    assert sign_flip_pvalue(x) == pytest.approx(expected)


def test_sign_flip_matches_bruteforce():
    rng = np.random.default_rng(1)
    for n in (3, 5, 8):
        x = rng.normal(0.3, 1.0, n)
        assert sign_flip_pvalue(x) == pytest.approx(_flip_bruteforce(x))


def test_sign_flip_monte_carlo_close_to_exact():
    x = np.random.default_rng(2).normal(0.4, 1.0, 17)
    exact = _flip_bruteforce(x)  # 2**17 sign vectors; the function samples above 16
    assert sign_flip_pvalue(x, n_resamples=40_000, rng=5) == pytest.approx(exact, abs=0.01)


def test_paired_t_is_scipy_ttest_rel_with_the_margin():
    before = np.array([10.0, 12.0, 9.0, 11.0, 10.5])
    after = np.array([12.0, 13.5, 11.0, 12.0, 13.0])
    r = regression_test(before, after, margin=1.0, greater_is_better=False)
    ref = stats.ttest_rel(after, before + 1.0, alternative="greater")
    assert r.pvalue == pytest.approx(ref.pvalue) and r.statistic == pytest.approx(ref.statistic)
    assert r.change == pytest.approx(after.mean() - before.mean())
    assert r.degradation == pytest.approx(r.change) and r.paired and r.method == "t"
    # same numbers, higher is better: a rise is an improvement, the test cannot reject
    up = regression_test(before, after, margin=1.0, greater_is_better=True)
    assert up.degradation == pytest.approx(-r.change)
    ref_up = stats.ttest_rel(before, after + 1.0, alternative="greater")
    assert up.pvalue == pytest.approx(ref_up.pvalue) and up.pvalue > 0.99


def test_paired_t_hand_value():
    # degradations minus margin: [0.9, 1.4, 0.9]; mean 16/15, sd sqrt(1/12), t = 6.4, df = 2
    r = regression_test([1.0, 2.0, 3.0], [2.0, 3.5, 4.0], margin=0.1, greater_is_better=False)
    assert r.statistic == pytest.approx(6.4)
    assert r.pvalue == pytest.approx(stats.t.sf(6.4, 2))


def test_welch_when_unpaired():
    before, after = [1.0, 2.0, 1.5, 1.8], [2.5, 3.1, 2.2]
    r = regression_test(before, after, margin=0.2, greater_is_better=False, paired=False)
    ref = stats.ttest_ind(np.array(after), np.array(before) + 0.2, equal_var=False,
                          alternative="greater")
    assert r.pvalue == pytest.approx(ref.pvalue) and not r.paired
    assert (r.n_before, r.n_after) == (4, 3)


def test_no_spread_gives_the_limit_of_the_t_test():
    # a bounded metric at its ceiling in every seed: certainly worse by more than the margin
    r = regression_test([0, 0, 0], [1, 1, 1], margin=0.05, greater_is_better=False)
    assert r.pvalue == 0.0 and r.statistic == float("inf")
    same = regression_test([0.3, 0.5], [0.3, 0.5], margin=0.0, greater_is_better=False)
    assert same.pvalue == 1.0  # bit-identical re-run: degradation 0 <= margin 0
    within = regression_test([0, 0], [0.04, 0.04], margin=0.05, greater_is_better=False)
    assert within.pvalue == 1.0


def test_nan_pairs_are_dropped_and_too_few_give_nan():
    r = regression_test([1.0, np.nan, 2.0, 3.0], [1.5, 2.0, np.nan, 3.2], margin=0.0,
                        greater_is_better=False)
    assert r.n_before == r.n_after == 2
    one = regression_test([1.0, np.nan], [2.0, 3.0], margin=0.0, greater_is_better=False)
    assert np.isnan(one.pvalue)


def test_sign_flip_method():
    before, after = np.zeros(6), np.array([1.0, 2.0, 1.5, 1.2, 0.9, 1.1])
    r = regression_test(before, after, margin=0.5, greater_is_better=False, method="sign-flip")
    assert r.pvalue == pytest.approx(_flip_bruteforce(after - 0.5))
    with pytest.raises(InvalidParameter, match="'method' parameter"):
        regression_test(before, after, margin=0.5, greater_is_better=False, paired=False,
                        method="sign-flip")


def test_the_t_test_holds_its_level_at_the_margin():
    # true degradation exactly at the margin: H0 holds, rejections ~ alpha
    rng = np.random.default_rng(11)
    rejections = 0
    reps = 600
    for _ in range(reps):
        before = rng.normal(0, 1, 5)
        after = before + 0.3 + rng.normal(0, 0.5, 5)
        rejections += regression_test(before, after, margin=0.3,
                                      greater_is_better=False).pvalue < 0.05
    assert stats.binomtest(rejections, reps, 0.05).pvalue > 0.001


@pytest.mark.parametrize("kw, needle", [
    ({"margin": -1.0}, "'margin' parameter of regression_test"),
    ({"margin": 0.1, "method": "z"}, "'method' parameter of regression_test"),
])
def test_regression_test_bad_parameters(kw, needle):
    with pytest.raises(InvalidParameter, match=needle):
        regression_test([1, 2], [1, 2], greater_is_better=True, **kw)
    with pytest.raises(InvalidParameter, match="same length"):
        regression_test([1, 2, 3], [1, 2], margin=0, greater_is_better=True)


def test_t_interval_unchanged():
    iv = t_interval([1.0, 2.0, 3.0])
    assert (round(iv.low, 4), round(iv.high, 4)) == (-0.4841, 4.4841)


# --- power: what the gate can catch --------------------------------------------------------

def test_detectable_degradation_by_hand():
    from scipy import stats as st
    from boostbench.stats import detectable_degradation
    # paired, 10 seeds, sd 2, margin 0.5, alpha 0.05 over 4 tests
    t = st.t.ppf(1 - 0.05 / 4, 9) + st.t.ppf(0.8, 9)
    assert detectable_degradation(2.0, 10, margin=0.5, alpha=0.05, tests=4) == \
        pytest.approx(0.5 + t * 2 / np.sqrt(10))
    # two groups of 10: twice the variance of a difference of means, 18 degrees of freedom
    t = st.t.ppf(0.95, 18) + st.t.ppf(0.8, 18)
    assert detectable_degradation(2.0, 10, margin=0.0, alpha=0.05, paired=False) == \
        pytest.approx(t * 2 * np.sqrt(2 / 10))
    assert np.isnan(detectable_degradation(1.0, 1, margin=0.0, alpha=0.05))


@pytest.mark.parametrize("paired", [True, False])
def test_a_degradation_of_the_detectable_size_is_caught_about_80_percent_of_the_time(paired):
    from boostbench.stats import detectable_degradation, regression_test
    rng = np.random.default_rng(5)
    n, sd, margin = 12, 1.0, 0.3
    d = detectable_degradation(sd, n, margin=margin, alpha=0.05, paired=paired)
    hits = 0
    trials = 2000
    for _ in range(trials):
        if paired:   # per-seed differences with spread sd
            b = rng.normal(0, 5, n)
            a = b + rng.normal(d, sd, n)
        else:        # two independent groups with between-seed spread sd
            b, a = rng.normal(0, sd, n), rng.normal(d, sd, n)
        t = regression_test(b, a, margin=margin, greater_is_better=False, paired=paired)
        hits += t.pvalue < 0.05
    assert abs(hits / trials - 0.8) < 0.04      # the t-quantile approximation of the power


def test_nearly_identical_values_raise_no_library_warning():
    import warnings
    from boostbench.stats import regression_test
    b = np.full(5, 0.3)
    a = b + np.array([0, 1e-17, 0, 0, 5e-17])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        regression_test(b, a, margin=0.0, greater_is_better=False)
        regression_test(b, a, margin=0.0, greater_is_better=False, paired=False)
