"""Engagement-depth presets (X/Twitter heavy ranker) and the real-interaction variants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K
from boostbench.plugins import RANKERS
from boostbench.rankers import (EngagementDepth, RealInteraction, RealInteractionCompletion,
                                RealInteractionDepth, RealInteractionDistinct, TwitterHeavy)
from boostbench.rankers.depth import TWITTER_HEAVY_WEIGHTS, half_views
from boostbench.rankers.real_interaction import view_completion
from boostbench._core.units import HOUR
from helpers import make_obs

ONLY = dict(completion=0.0, comment=0.0, share=0.0, like=0.0, negative=0.0, volume=0.0)
VARIANTS = (RealInteraction, RealInteractionCompletion, RealInteractionDepth,
            RealInteractionDistinct)


def twitter_only(**weights):
    """A TwitterHeavy with every head weight 0 except those given."""
    base = dict(fav=0.0, retweet=0.0, reply=0.0, video_playback50=0.0, negative_feedback=0.0,
                report=0.0)
    return TwitterHeavy(**{**base, **weights})


def impressions(item, n, t0=0.0):
    return [(t0 + j, 0, item, K.IMPRESSION, 0) for j in range(n)]


# --- twitter_heavy -----------------------------------------------------------------------

def test_twitter_defaults_are_the_published_weights():
    r = TwitterHeavy()
    W = TWITTER_HEAVY_WEIGHTS
    assert (r.fav, r.retweet, r.reply, r.video_playback50, r.negative_feedback, r.report) == (
        W["fav"], W["retweet"], W["reply"], W["video_playback50"], W["negative_feedback_v2"],
        W["report"]) == (0.5, 1.0, 13.5, 0.005, -74.0, -369.0)
    assert {k: W[k] for k in ("good_profile_click", "good_click", "good_click_v2",
                              "reply_engaged_by_author")} == {
        "good_profile_click": 12.0, "good_click": 11.0, "good_click_v2": 10.0,
        "reply_engaged_by_author": 75.0}
    assert RANKERS.get("twitter_heavy") is TwitterHeavy and r.name == "twitter_heavy"


TWITTER_EVENTS = (
    impressions(0, 4) + impressions(1, 2, 10.0) + impressions(2, 2, 20.0) + [
        (30.0, 0, 0, K.VIEW, 1.0), (30.5, 1, 0, K.VIEW, 0.4), (31.0, 0, 0, K.LIKE, 0),
        (32.0, 0, 0, K.COMMENT, 12), (33.0, 1, 0, K.SHARE, 0),
        (34.0, 3, 1, K.VIEW, 0.5),                  # exactly half: a playback50
        (35.0, 4, 1, K.REPORT, 0), (36.0, 4, 1, K.NOT_INTERESTED, 0),
        (37.0, 2, 2, K.FOLLOW, 0)])                 # no head: ignored


def test_twitter_heavy_by_hand():
    # impressions [4, 2, 2] (8); like, share, comment [1, 0, 0] -> g = 1/8 each;
    # views >= 0.5: [1, 1, 0] -> g = 2/8; not-interested, report [0, 1, 0] -> g = 1/8.
    # With m = 2: rate = (x + 2 g) / (impressions + 2).
    s = TwitterHeavy(prior_impressions=2.0)(make_obs(TWITTER_EVENTS))
    expect = [(15 * 1.25 + 0.005 * 1.5 - 443 * 0.25) / 6,    # 15 = 0.5 + 1 + 13.5; 443 = 74 + 369
              (15 * 0.25 + 0.005 * 1.5 - 443 * 1.25) / 4,
              (15 * 0.25 + 0.005 * 0.5 - 443 * 0.25) / 4]
    np.testing.assert_allclose(s, expect, rtol=1e-12)


def test_twitter_global_rate_uses_eligible_items_only():
    obs = make_obs(TWITTER_EVENTS, n_items=3)
    extra = TWITTER_EVENTS + impressions(3, 5, 40.0) + [(50.0, 0, 3, K.LIKE, 0),
                                                       (51.0, 0, 3, K.REPORT, 0)]
    stale = make_obs(extra, n_items=4, created=[0, 0, 0, -100 * HOUR])  # item 3 is ineligible
    r = TwitterHeavy(prior_impressions=2.0)
    np.testing.assert_array_equal(r(stale)[:3], r(obs))


def test_twitter_shrinks_a_small_sample_toward_the_global_rate():
    # item 0: one like in 3 impressions; item 1: 100 likes in 10 000 impressions
    events = (impressions(0, 3) + [(5.0, 1, 0, K.LIKE, 0)] + impressions(1, 10_000, 10.0)
              + [(20_000.0 + j, 2, 1, K.LIKE, 0) for j in range(100)])
    m = 100.0
    rate = twitter_only(fav=1.0, prior_impressions=m)(make_obs(events, n_items=2))
    g = 101 / 10_003
    # the small item keeps only n / (n + m) = 3 / 103 of its distance from g
    assert g < rate[0] < 1 / 3
    assert (rate[0] - g) / (1 / 3 - g) == pytest.approx(3 / 103, rel=1e-12)
    # the large one keeps 10 000 / 10 100 of it: within 0.01% of its raw rate 0.01
    assert rate[1] == pytest.approx(0.01, rel=1e-4)
    assert rate[1] - g == pytest.approx((0.01 - g) * 10_000 / 10_100, rel=1e-9)


@pytest.mark.parametrize("kind, value, weight", [
    (K.LIKE, 0, 0.5), (K.SHARE, 0, 1.0), (K.COMMENT, 40, 13.5), (K.VIEW, 0.5, 0.005),
    (K.VIEW, 0.49, 0.0), (K.NOT_INTERESTED, 0, -74.0), (K.REPORT, 0, -369.0),
    (K.FOLLOW, 0, 0.0)])
def test_twitter_head_mapping(kind, value, weight):
    # two items with 10 impressions each and nothing else; add one event to item 0.
    # Its rate goes from 0 to (1 + m / 20) / (10 + m), so its score moves by weight times that.
    base = impressions(0, 10) + impressions(1, 10, 10.0)
    m = 4.0
    r = TwitterHeavy(prior_impressions=m)
    before = r(make_obs(base, n_items=2))
    after = r(make_obs(base + [(30.0, 3, 0, kind, value)], n_items=2))
    assert after[0] - before[0] == pytest.approx(weight * (1 + m / 20) / (10 + m), abs=1e-12)


def test_half_views_is_weighted_and_inclusive():
    obs = make_obs([(1.0, 0, 0, K.VIEW, 0.5), (2.0, 1, 0, K.VIEW, 0.49), (3.0, 2, 1, K.VIEW, 1.0),
                    (4.0, 2, 1, K.LIKE, 0)], n_items=3)
    assert half_views(obs).tolist() == [1.0, 1.0, 0.0]
    assert half_views(obs.with_weights(np.float32([0.25, 1, 0.5, 1]))).tolist() == [0.25, 0.5, 0.0]


def test_twitter_raw_count_preset():
    r = EngagementDepth.preset("twitter_heavy")
    assert r.name == "twitter_heavy_counts"
    assert (r.like, r.share, r.comment, r.completion, r.not_interested, r.report) == (
        0.5, 1.0, 13.5, 0.0, 74.0, 369.0)
    # item 0: 1 like, 1 comment, 1 share; item 1: 1 report, 1 not-interested
    assert r(make_obs(TWITTER_EVENTS)).tolist() == [0.5 + 13.5 + 1.0, -443.0, 0.0]
    assert EngagementDepth.preset("inverse_frequency") == EngagementDepth()
    assert EngagementDepth.preset("twitter_heavy", report=0.0).report == 0.0


# --- real-interaction variants -----------------------------------------------------------

def test_view_completion_join():
    obs = make_obs([(1.0, 0, 0, K.VIEW, 0.2), (2.0, 0, 0, K.VIEW, 0.7), (3.0, 0, 0, K.VIEW, 0.4),
                    (4.0, 1, 1, K.LIKE, 0), (5.0, 1, 1, K.VIEW, 0.9), (6.0, 2, 0, K.VIEW, 1.0)])
    account, item = np.array([0, 1, 2, 2, 4]), np.array([0, 1, 0, 1, 2])
    # max over views; a view after the act counts; no view -> 0
    np.testing.assert_allclose(view_completion(obs, account, item), [0.7, 0.9, 1.0, 0.0, 0.0],
                               rtol=1e-7)
    w = np.float32([1, 0.5, 1, 1, 1, 0.25])        # a discounted view vouches for less
    np.testing.assert_allclose(view_completion(obs.with_weights(w), account, item),
                               [0.4, 0.9, 0.25, 0.0, 0.0], rtol=1e-7)


def test_completion_credits_a_like_by_the_likers_completion():
    events = [(1.0, 1, 0, K.VIEW, 0.2), (2.0, 1, 0, K.LIKE, 0),   # counts 0.2
              (3.0, 2, 1, K.VIEW, 1.0), (4.0, 2, 1, K.LIKE, 0),   # counts 1
              (5.0, 3, 2, K.LIKE, 0)]                             # never viewed: counts 0
    s = RealInteractionCompletion(**{**ONLY, "like": 1.0, "prior_views": 1.0})(make_obs(events))
    # likes [0.2, 1, 0] over views [1, 1, 0]: g = 0.6; rate = (x + 0.6) / (views + 1)
    np.testing.assert_allclose(s, np.log([0.4 / 0.6, 0.8 / 0.6, 1.0]), rtol=1e-7, atol=1e-9)


def test_completion_matches_real_interaction_when_every_actor_completed():
    events = [(1.0, 0, 0, K.IMPRESSION, 0), (2.0, 0, 0, K.VIEW, 1.0), (3.0, 0, 0, K.LIKE, 0),
              (4.0, 0, 0, K.COMMENT, 30), (5.0, 1, 1, K.VIEW, 1.0), (6.0, 1, 1, K.SHARE, 0),
              (7.0, 2, 1, K.IMPRESSION, 0), (8.0, 2, 1, K.REPORT, 0), (9.0, 3, 2, K.VIEW, 0.3)]
    obs = make_obs(events)
    np.testing.assert_array_equal(RealInteractionCompletion()(obs), RealInteraction()(obs))


def test_distinct_counts_an_account_once_per_item_and_kind():
    events = ([(1.0, 0, 0, K.VIEW, 0.5)] + [(2.0 + j, 0, 0, K.LIKE, 0) for j in range(5)]
              + [(10.0, 1, 1, K.VIEW, 0.5), (11.0, 1, 1, K.LIKE, 0)])
    obs = make_obs(events, n_items=2)
    like = {**ONLY, "like": 1.0, "prior_views": 1.0}
    s = RealInteractionDistinct(**like)(obs)
    assert s[0] == s[1] == 0.0                      # 5 likes from one account count as 1
    base = RealInteraction(**like)(obs)
    assert base[0] > base[1]                        # the plain proxy counts all five
    # only the first like counts, with its own weight: likes [0.3, 1], g = 0.65
    w = np.ones(obs.n_events, np.float32)
    w[1] = 0.3
    s = RealInteractionDistinct(**like)(obs.with_weights(w))
    np.testing.assert_allclose(s, np.log([0.475 / 0.65, 0.825 / 0.65]), rtol=1e-7)


def test_distinct_counts_only_the_first_view():
    events = [(1.0, 0, 0, K.VIEW, 0.5), (2.0, 0, 0, K.VIEW, 1.0), (3.0, 1, 1, K.VIEW, 0.5)]
    obs = make_obs(events, n_items=2)
    s = RealInteractionDistinct(**{**ONLY, "completion": 1.0, "volume": 1.0})(obs)
    assert s[0] == s[1]                             # one view of 0.5 each
    assert RealInteraction(**{**ONLY, "volume": 1.0})(obs)[0] > s[0]


def test_depth_by_hand():
    events = [(1.0, 0, 0, K.COMMENT, 500),           # before the view: unverified, ignored
              (2.0, 0, 0, K.VIEW, 1.0), (3.0, 0, 0, K.COMMENT, 9),
              (4.0, 1, 1, K.VIEW, 1.0), (5.0, 1, 1, K.COMMENT, 99)]
    s = RealInteractionDepth(**{**ONLY, "comment": 1.0, "prior_views": 1.0})(make_obs(events,
                                                                                    n_items=2))
    # depth [log 10, log 100] over 1 view each: g = 1.5 log 10; rate = (x + g) / 2
    np.testing.assert_allclose(s, np.log([1.25 / 1.5, 1.75 / 1.5]), rtol=1e-7)


def test_depth_comment_term_dominates():
    r = RealInteractionDepth()
    assert r.comment > r.completion + r.share + r.like
    obs = make_obs(TWITTER_EVENTS + [(40.0, 2, 2, K.VIEW, 1.0), (41.0, 2, 2, K.LIKE, 0),
                                     (42.0, 2, 2, K.SHARE, 0)])
    same = RealInteraction(completion=0.4, comment=1.2, share=0.2, like=0.1)
    np.testing.assert_array_equal(r(obs), same(obs))


@pytest.mark.parametrize("cls", VARIANTS)
def test_variants_are_registered_proxies(cls):
    r = cls()
    assert RANKERS.get(r.name) is cls
    assert "proxy" in cls.__doc__.lower()


# --- validation --------------------------------------------------------------------------

@pytest.mark.parametrize("cls, kw, message", [
    (TwitterHeavy, {"fav": -1.0}, r"'fav' parameter of TwitterHeavy .* \[0, inf\)"),
    (TwitterHeavy, {"report": 369.0}, r"'report' parameter of TwitterHeavy .* \(-inf, 0\]"),
    (TwitterHeavy, {"negative_feedback": float("nan")}, r"'negative_feedback'"),
    (TwitterHeavy, {"prior_impressions": 0.0}, r"'prior_impressions' .* \(0, inf\)"),
    (RealInteractionCompletion, {"like": "1"}, r"'like' parameter of RealInteractionCompletion"),
    (RealInteractionDepth, {"comment": -0.5}, r"'comment' parameter of RealInteractionDepth"),
    (RealInteractionDistinct, {"prior_views": 0.0}, r"'prior_views' .* \(0, inf\)"),
])
def test_parameters_are_validated(cls, kw, message):
    with pytest.raises(InvalidParameter, match=message) as e:
        cls(**kw)
    assert e.value.name == next(iter(kw))


def test_unknown_preset_lists_the_presets():
    with pytest.raises(InvalidParameter, match="'preset'.*'inverse_frequency', 'twitter_heavy'"):
        EngagementDepth.preset("tiktok")


# --- lowering event weights --------------------------------------------------------------
# Defences only lower weights. Which scores can that raise?
# * like_count, like_velocity: none; lowering any weight never raises a score.
# * engagement_depth (any preset) and twitter_heavy: lowering weights of positive signals
#   (LIKE, COMMENT, SHARE, VIEW, and FOLLOW, which no ranker here reads) never raises a
#   score; lowering REPORT / NOT_INTERESTED weights never lowers one. twitter_heavy's rates
#   are per impression, so lowering IMPRESSION weights can raise its scores.
# * the real_interaction family: neither. Scores are log ratios to the global rate, and
#   discounting one item's likes lowers that rate, raising every other item's score.

POSITIVE = (K.LIKE, K.COMMENT, K.SHARE, K.VIEW, K.FOLLOW)
NEGATIVE = (K.REPORT, K.NOT_INTERESTED)
LINEAR = (EngagementDepth(), EngagementDepth.preset("twitter_heavy"), TwitterHeavy(),
          TwitterHeavy(prior_impressions=0.5))


@st.composite
def weighted_events(draw):
    """A small event list (items 0-2 eligible, item 3 not) and a weight factor per event."""
    rows = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(list(K)),
                                   st.floats(0, 1)), min_size=1, max_size=30))
    events = [(float(j), a, i, k, v * 200 if k == K.COMMENT else (v if k == K.VIEW else 0.0))
              for j, (a, i, k, v) in enumerate(rows)]
    factors = draw(st.lists(st.floats(0, 1, width=32), min_size=len(events),
                            max_size=len(events)))
    return make_obs(events, n_items=4, created=[0, 0, 0, -100 * HOUR]), np.float32(factors)


def _lowered(obs, factors, kinds):
    kind = obs.events[3]
    return obs.with_weights(np.where(np.isin(kind, kinds), factors, np.float32(1)))


@settings(max_examples=60)
@given(weighted_events())
def test_lowering_weights_never_raises_like_counts(case):
    obs, factors = case
    low = obs.with_weights(factors)
    for name in ("like_count", "like_velocity"):
        r = RANKERS.get(name)()
        assert np.all(r(low) <= r(obs))


@settings(max_examples=60)
@given(weighted_events())
def test_lowering_positive_weights_never_raises_linear_scores(case):
    obs, factors = case
    low = _lowered(obs, factors, POSITIVE)
    for r in LINEAR:
        assert np.all(r(low) <= r(obs)), r.name


@settings(max_examples=60)
@given(weighted_events())
def test_lowering_negative_weights_never_lowers_linear_scores(case):
    obs, factors = case
    low = _lowered(obs, factors, NEGATIVE)
    for r in LINEAR:
        assert np.all(r(low) >= r(obs)), r.name


@pytest.mark.parametrize("cls", VARIANTS)
def test_real_interaction_family_is_not_monotone_in_weights(cls):
    events = [(1.0, 0, 0, K.VIEW, 1.0), (2.0, 0, 0, K.LIKE, 0),
              (3.0, 1, 1, K.VIEW, 1.0), (4.0, 1, 1, K.LIKE, 0)]
    obs = make_obs(events, n_items=2)
    low = obs.with_weights(np.float32([1, 1, 1, 0]))   # discount item 1's like
    assert cls()(low)[0] > cls()(obs)[0]


def test_twitter_discounted_impressions_raise_rates():
    obs = make_obs(impressions(0, 4) + [(10.0, 1, 0, K.LIKE, 0)], n_items=1)
    low = obs.with_weights(np.float32([0.5, 0.5, 0.5, 0.5, 1]))
    assert TwitterHeavy()(low)[0] > TwitterHeavy()(obs)[0]
