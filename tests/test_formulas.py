import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest, norm

from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K
from boostbench.plugins import RANKERS
from boostbench.rankers import BayesianAverage, HackerNews, LikeVelocity, RedditHot, Wilson
from boostbench.rankers.formulas import (bayesian_average, hacker_news, reddit_hot,
                                         wilson_lower_bound)
from boostbench._core.units import HOUR
from helpers import make_obs

R = 1134028003          # Reddit's reference instant
Z80 = 1.281551565545    # Reddit's "best"


# --- reddit_hot -----------------------------------------------------------------------------

def test_reddit_hot_by_hand():
    assert reddit_hot(1, 0, R) == 0.0                    # log10(1) = 0, no time
    assert reddit_hot(10, 0, R + 45000) == 2.0           # one decade of votes + 45000 s
    assert reddit_hot(0, 0, R) == 0.0                    # no votes: sign 0
    assert reddit_hot(0, 10, R) == -1.0                  # more downs than ups: negative
    assert reddit_hot(0, 100, R + 90000) == 0.0          # -2 + 2
    assert reddit_hot(5, 5, R + 45000) == 1.0            # s = 0: time only
    assert reddit_hot(1000, 0, R - 45000) == 2.0         # older posts go below zero in time
    assert reddit_hot(0.5, 0, R) == 0.0                  # |s| < 1 counts as 1 (weighted votes)


def test_reddit_hot_rounds_to_seven_places_like_the_source():
    v = reddit_hot(2, 0, R)
    assert v == pytest.approx(0.30103, abs=1e-15) and v != math.log10(2)
    assert reddit_hot(0, 2, R) == pytest.approx(-0.30103, abs=1e-15)


def test_reddit_hot_broadcasts_and_returns_float64():
    out = reddit_hot(np.array([[1], [10]]), 0, np.array([R, R + 45000, R + 90000]))
    assert out.dtype == np.float64 and out.shape == (2, 3)
    np.testing.assert_array_equal(out, [[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]])
    assert isinstance(reddit_hot(1, 0, R), np.floating)
    assert reddit_hot([], [], []).shape == (0,)


# --- wilson_lower_bound ---------------------------------------------------------------------

def test_wilson_by_hand():
    assert wilson_lower_bound(0, 0, z=1.96) == 0.0                  # no ratings
    assert wilson_lower_bound(0, 7, z=1.96) == 0.0                  # no positives
    # k = n: (n + z²/2 - z*z/2) / (n + z²) = n / (n + z²)
    assert wilson_lower_bound(1, 1, z=1.96) == pytest.approx(1 / (1 + 1.96**2), rel=1e-12)
    assert wilson_lower_bound(4, 4, z=2.0) == pytest.approx(0.5, rel=1e-12)
    # k = 5, n = 10, z = 2: (5 + 2 - 2*sqrt(2.5 + 1)) / 14
    assert wilson_lower_bound(5, 10, z=2.0) == pytest.approx((7 - 2 * math.sqrt(3.5)) / 14,
                                                             rel=1e-12)


def _evan_miller(k, n, z):
    """The essay's form, term by term, as an independent reference."""
    p = k / n
    spread = z * math.sqrt((p * (1 - p) + z * z / (4 * n)) / n)
    return (p + z * z / (2 * n) - spread) / (1 + z * z / n)


@pytest.mark.parametrize("z", [Z80, 1.96, 3.0])
def test_wilson_matches_scipy_and_the_essay(z):
    ks, ns = [], []
    for n in (1, 2, 3, 7, 10, 50, 399, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            ks.append(k)
            ns.append(n)
    got = wilson_lower_bound(np.array(ks), np.array(ns), z=z)
    level = 2 * norm.cdf(z) - 1
    ref = [binomtest(k, n).proportion_ci(confidence_level=level, method="wilson").low
           for k, n in zip(ks, ns)]
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got, [_evan_miller(k, n, z) for k, n in zip(ks, ns)],
                               rtol=1e-9, atol=1e-12)


def test_wilson_weighted_counts_and_zero_totals_in_arrays():
    out = wilson_lower_bound([0.0, 1.5, 2.5], [0.0, 3.0, 2.5], z=1.96)
    assert out[0] == 0.0
    assert out[1] == pytest.approx(_evan_miller(1.5, 3.0, 1.96), rel=1e-12)
    assert out[2] == pytest.approx(2.5 / (2.5 + 1.96**2), rel=1e-12)


# --- hacker_news ----------------------------------------------------------------------------

def test_hacker_news_by_hand():
    # zero age: the denominator is 2**gravity
    assert hacker_news(11, 0) == pytest.approx(10**0.8 / 2**1.8, rel=1e-12)
    assert hacker_news(11, 0, form="simple") == pytest.approx(10 / 2**1.8, rel=1e-12)
    assert hacker_news(5, 0, gravity=1.0, form="simple") == 2.0
    assert hacker_news(2, 2, gravity=2.0) == pytest.approx(1 / 16, rel=1e-12)   # 1**0.8 / 4**2
    assert hacker_news(33, 8, gravity=1.0) == pytest.approx(32**0.8 / 10, rel=1e-12)  # = 16/10
    assert hacker_news(1, 5) == 0.0                                  # only the submitter's vote
    assert hacker_news(7, 3, gravity=0.0, form="simple") == 6.0      # no gravity: no decay


def test_hacker_news_arc_is_linear_below_one_and_differs_from_simple_above():
    # base = points - 1 <= 0: both forms are linear
    assert hacker_news(0, 0, gravity=1.0) == -0.5
    assert hacker_news(0, 0, gravity=1.0) == hacker_news(0, 0, gravity=1.0, form="simple")
    # 0 < base < 1: base**0.8 > base;  base > 1: base**0.8 < base
    assert hacker_news(1.5, 0, gravity=0.0) == pytest.approx(0.5**0.8) and 0.5**0.8 > 0.5
    assert hacker_news(1.5, 0, gravity=0.0, form="simple") == 0.5
    assert hacker_news(101, 0, gravity=0.0) == pytest.approx(100**0.8)
    assert hacker_news(101, 0, gravity=0.0, form="simple") == 100.0


# --- bayesian_average -----------------------------------------------------------------------

def test_bayesian_average_by_hand():
    assert bayesian_average(3, 10, prior_mean=0.5, prior_weight=10) == pytest.approx(0.4)
    assert bayesian_average(0, 0, prior_mean=0.3, prior_weight=2) == pytest.approx(0.3)
    assert bayesian_average(100, 100, prior_mean=0.0, prior_weight=100) == pytest.approx(0.5)
    np.testing.assert_allclose(bayesian_average([0, 1, 2], 2, prior_mean=0.25, prior_weight=2),
                               [0.125, 0.375, 0.625])


# --- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: reddit_hot(-1, 0, R), "'ups' parameter of reddit_hot .*\\[0, inf\\)"),
    (lambda: reddit_hot(1, np.nan, R), "'downs' parameter of reddit_hot"),
    (lambda: reddit_hot(1, 0, np.inf), "'created_at' parameter of reddit_hot"),
    (lambda: reddit_hot([1, 2], [1, 2, 3], R), "must broadcast.*ups=\\(2,\\), downs=\\(3,\\)"),
    (lambda: reddit_hot("1", 0, R), "'ups' parameter of reddit_hot .* dtype"),
    (lambda: reddit_hot(True, 0, R), "'ups' parameter of reddit_hot .* dtype bool"),
    (lambda: wilson_lower_bound(3, 2, z=1.96), "'positives' .* must not exceed 'totals'.*3.0 > "),
    (lambda: wilson_lower_bound(1, 2, z=0.0), "'z' parameter of wilson_lower_bound .*\\(0, inf\\)"),
    (lambda: wilson_lower_bound(1, 2, z=float("nan")), "'z' parameter"),
    (lambda: wilson_lower_bound(-1, 2, z=1.0), "'positives' parameter"),
    (lambda: wilson_lower_bound(1, [2, -2], z=1.0), "'totals' parameter.*-2.0"),
    (lambda: hacker_news(3, 1, gravity=-0.1), "'gravity' parameter of hacker_news .*\\[0, inf\\)"),
    (lambda: hacker_news(3, 1, form="log"), "'form' parameter of hacker_news .*'arc', 'simple'"),
    (lambda: hacker_news(3, -1), "'age_hours' parameter"),
    (lambda: hacker_news(-3, 1), "'points' parameter"),
    (lambda: bayesian_average(1, 2, prior_mean=1.5, prior_weight=1),
     "'prior_mean' .*\\[0, 1\\]"),
    (lambda: bayesian_average(1, 2, prior_mean=0.5, prior_weight=0),
     "'prior_weight' .*\\(0, inf\\)"),
    (lambda: bayesian_average([1, 3], 2, prior_mean=0.5, prior_weight=1),
     "must not exceed 'totals'"),
])
def test_formulas_validate_arguments(call, match):
    with pytest.raises(InvalidParameter, match=match):
        call()


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        wilson_lower_bound(1, 2, 1.96)
    with pytest.raises(TypeError):
        hacker_news(3, 1, 1.8)


@pytest.mark.parametrize("cls, kw", [(LikeVelocity, {"window_hours": 0.0}),
                                     (HackerNews, {"gravity": -1.0}),
                                     (HackerNews, {"form": "log"}),
                                     (RedditHot, {"epoch_offset": float("nan")}),
                                     (Wilson, {"z": -1.0}),
                                     (BayesianAverage, {"prior_weight": 0.0}),
                                     (BayesianAverage, {"prior_mean": 2.0})])
def test_ranker_parameters_are_validated(cls, kw):
    with pytest.raises(InvalidParameter, match=f"'{next(iter(kw))}' parameter of {cls.__name__}"):
        cls(**kw)


# --- properties -----------------------------------------------------------------------------

counts = st.floats(0, 1e6, allow_nan=False, allow_infinity=False)
fractions = st.floats(0, 1)
zs = st.floats(0.01, 5)


@given(counts, counts, counts, st.floats(-1e9, 1e9))
def test_reddit_hot_monotone_in_ups_and_antitone_in_downs(a, b, downs, created):
    lo, hi = min(a, b), max(a, b)
    t = R + created
    assert reddit_hot(hi, downs, t) >= reddit_hot(lo, downs, t)
    assert reddit_hot(downs, hi, t) <= reddit_hot(downs, lo, t)


@given(counts, fractions, fractions, zs)
def test_wilson_monotone_in_positives_and_in_unit_interval(n, a, b, z):
    lo, hi = wilson_lower_bound(np.array([min(a, b) * n, max(a, b) * n]), n, z=z)
    assert 0.0 <= lo <= 1.0 and 0.0 <= hi <= 1.0
    # monotone up to round-off: positives one ulp apart can swap by ~1e-16 (the subtraction
    # under the square root is not monotone in floating point)
    assert hi >= lo - 1e-14


@given(counts, counts, st.floats(0, 1e3), st.floats(0, 10), st.sampled_from(["arc", "simple"]))
def test_hacker_news_monotone_in_points(a, b, age, gravity, form):
    lo, hi = hacker_news(np.array([min(a, b), max(a, b)]), age, gravity=gravity, form=form)
    assert lo <= hi


@given(counts, fractions, fractions, fractions, st.floats(1e-3, 1e4))
def test_bayesian_average_monotone_in_positives_and_in_unit_interval(n, a, b, m, w):
    lo, hi = bayesian_average(np.array([min(a, b) * n, max(a, b) * n]), n, prior_mean=m,
                              prior_weight=w)
    assert 0.0 <= lo <= hi <= 1.0


# --- rankers on hand-made observations ------------------------------------------------------

def test_rankers_are_registered_under_their_names():
    for cls in (LikeVelocity, HackerNews, RedditHot, Wilson, BayesianAverage):
        assert RANKERS.get(cls().name) is cls


def test_like_velocity_by_hand():
    h = HOUR
    events = [(7.9 * h, 0, 0, K.LIKE, 0),      # before the window
              (8.0 * h, 1, 0, K.LIKE, 0),      # at now - window: excluded, the window is open there
              (8.5 * h, 2, 0, K.LIKE, 0),
              (8.6 * h, 2, 1, K.VIEW, 1.0),    # not a like
              (9.0 * h, 3, 1, K.LIKE, 0),
              (9.5 * h, 4, 1, K.LIKE, 0),
              (10.0 * h, 0, 2, K.LIKE, 0)]     # at now: included
    obs = make_obs(events, now=10 * h)
    assert LikeVelocity(window_hours=2.0)(obs).tolist() == [1.0, 2.0, 1.0]
    assert LikeVelocity(window_hours=3.0)(obs).tolist() == [3.0, 2.0, 1.0]
    w = np.array([1, 1, 0.5, 1, 0.25, 1, 0], np.float32)
    assert LikeVelocity(window_hours=2.0)(obs.with_weights(w)).tolist() == [0.5, 1.25, 0.0]
    assert LikeVelocity()(make_obs([])).tolist() == [0.0, 0.0, 0.0]


def test_hacker_news_ranker_by_hand():
    h = HOUR
    likes = [(1.0 * h, a, 0, K.LIKE, 0) for a in range(3)] + [(6.0 * h, 0, 1, K.LIKE, 0)]
    obs = make_obs(likes, n_items=4, now=10 * h, created=[0.0, 5 * h, 9 * h, 11 * h])
    # points = likes + 1 -> base = likes; ages 10, 5, 1 h and the unposted item clipped to 0
    expect_arc = [3**0.8 / 12**1.8, 1 / 7**1.8, 0.0, 0.0]
    np.testing.assert_allclose(HackerNews()(obs), expect_arc, rtol=1e-12)
    np.testing.assert_allclose(HackerNews(form="simple")(obs), [3 / 12**1.8, 1 / 7**1.8, 0, 0],
                               rtol=1e-12)
    np.testing.assert_allclose(HackerNews(gravity=1.0)(obs), [3**0.8 / 12, 1 / 7, 0, 0],
                               rtol=1e-12)


def test_reddit_hot_ranker_by_hand():
    h = HOUR
    ev = [(0.5 * h, a, 0, K.LIKE, 0) for a in range(10)]                       # s = +10
    ev += [(1.5 * h, 0, 1, K.LIKE, 0), (1.6 * h, 1, 1, K.REPORT, 0),
           (1.7 * h, 2, 1, K.NOT_INTERESTED, 0)]                                # s = -1
    ev += [(2.5 * h, a % 5, 2, K.REPORT if a < 6 else K.NOT_INTERESTED, 0) for a in range(10)]
    ev += [(2.6 * h, 0, 2, K.VIEW, 1.0), (2.7 * h, 0, 2, K.COMMENT, 5)]         # ignored
    obs = make_obs(ev, n_items=3, n_accounts=5, now=10 * h, created=[0.0, h, 2 * h])
    # epoch_offset = Reddit's reference instant: the time term is created_at / 45000
    s = RedditHot(epoch_offset=R)(obs)
    np.testing.assert_allclose(s, [1.0, 0.08, -1.0 + 0.16], rtol=0, atol=1e-12)
    default = RedditHot()(obs)
    shift = (1_700_000_000 - R) / 45000
    np.testing.assert_allclose(default, np.round(np.array([1.0, 0.08, -0.84]) + shift, 7),
                               rtol=0, atol=1e-9)


def _wilson_obs():
    h = HOUR
    ev = [(1.0 * h, a, 0, K.VIEW, 0.5) for a in range(4)]
    ev += [(1.5 * h, 0, 0, K.LIKE, 0), (1.6 * h, 1, 0, K.LIKE, 0)]              # 2 of 4
    ev += [(2.0 * h, 0, 1, K.VIEW, 1.0)]
    ev += [(2.5 * h, a, 1, K.LIKE, 0) for a in (0, 1, 2)]                       # 3 likes, 1 view
    ev += [(3.0 * h, 3, 2, K.LIKE, 0)]                                          # like, no view
    return make_obs(ev)


def test_wilson_ranker_by_hand():
    z = 1.96
    s = Wilson(z=z)(_wilson_obs())
    # item 1's three likes are capped at its one view; item 2 has no views
    expect = [(2 + z * z / 2 - z * math.sqrt(2 * 2 / 4 + z * z / 4)) / (4 + z * z),
              1 / (1 + z * z), 0.0]
    np.testing.assert_allclose(s, expect, rtol=1e-12)
    assert Wilson()(_wilson_obs())[0] == pytest.approx(_evan_miller(2, 4, Z80), rel=1e-12)


def test_bayesian_average_ranker_by_hand():
    obs = _wilson_obs()
    # capped likes [2, 1, 0] over views [4, 1, 0]: global prior mean 3 / 5
    np.testing.assert_allclose(BayesianAverage(prior_weight=5)(obs),
                               [(2 + 3) / 9, (1 + 3) / 6, 0.6], rtol=1e-12)
    np.testing.assert_allclose(BayesianAverage(prior_weight=5, prior_mean=0.2)(obs),
                               [3 / 9, 2 / 6, 0.2], rtol=1e-12)


def test_bayesian_average_prior_uses_eligible_items_only():
    h = HOUR
    ev = [(-90 * h, a, 0, K.VIEW, 1.0) for a in range(5)]
    ev += [(-89 * h, a, 0, K.LIKE, 0) for a in range(5)]            # old item: 5 of 5
    ev += [(1.0 * h, a, 1, K.VIEW, 1.0) for a in range(4)]
    ev += [(2.0 * h, 0, 1, K.LIKE, 0)]                               # eligible: 1 of 4
    obs = make_obs(ev, n_items=3, created=[-100 * h, 0.0, 0.0])
    assert obs.eligible.tolist() == [False, True, True]
    np.testing.assert_allclose(BayesianAverage(prior_weight=4)(obs),
                               [(5 + 1) / 9, (1 + 1) / 8, 0.25], rtol=1e-12)
    assert BayesianAverage()(make_obs([])).tolist() == [0.0, 0.0, 0.0]   # no views anywhere
