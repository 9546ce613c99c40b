import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K
from boostbench.rankers import EngagementDepth, LikeCount, RealInteraction, rank_items, score_items
from helpers import make_obs

EVENTS = [
    (1.0, 0, 0, K.IMPRESSION, 0), (1.5, 0, 0, K.VIEW, 1.0), (2.0, 0, 0, K.LIKE, 0),
    (3.0, 1, 0, K.LIKE, 0),                       # a like with no view before it
    (4.0, 2, 0, K.COMMENT, 20), (4.5, 2, 0, K.VIEW, 0.5),   # comment before the view: unverified
    (5.0, 0, 0, K.COMMENT, 9),                    # verified comment, depth log(10)
    (6.0, 3, 1, K.IMPRESSION, 0), (6.5, 3, 1, K.VIEW, 0.2), (7.0, 3, 1, K.SHARE, 0),
    (8.0, 4, 1, K.REPORT, 0), (8.5, 4, 1, K.NOT_INTERESTED, 0), (9.0, 4, 2, K.IMPRESSION, 0),
]


def test_like_count_by_hand():
    assert LikeCount()(make_obs(EVENTS)).tolist() == [2.0, 0.0, 0.0]


def test_engagement_depth_by_hand():
    r = EngagementDepth(like=1, comment=2, share=3, completion=4, not_interested=5, report=6)
    s = r(make_obs(EVENTS))
    assert s[0] == pytest.approx(1 * 2 + 2 * 2 + 4 * 1.5)
    assert s[1] == pytest.approx(3 * 1 + 4 * 0.2 - 5 - 6)
    assert s[2] == 0.0


def test_real_interaction_by_hand():
    r = RealInteraction(completion=1, comment=0.5, share=0.25, like=0.125, negative=2,
                        volume=0.1, prior_views=2.0)
    s = r(make_obs(EVENTS))
    views = np.array([2.0, 1.0, 0.0])
    X = {"completion": (np.array([1.5, 0.2, 0.0]), views),
         "like": (np.array([1.0, 0, 0]), views),            # only account 0's like was viewed first
         "share": (np.array([0.0, 1, 0]), views),
         "comment": (np.array([np.log(10), 0, 0]), views),  # the comment before a view is ignored
         "negative": (np.array([0.0, 2, 0]), np.array([1.0, 1, 1]))}
    expect = 0.1 * np.log1p(views)
    for name, (x, d) in X.items():
        g = x.sum() / d.sum()
        term = getattr(r, name) * np.log((x + 2 * g) / (d + 2) / g)
        expect = expect - term if name == "negative" else expect + term
    np.testing.assert_allclose(s, expect, rtol=1e-7)  # the ranker adds 1e-9 inside its logs


def test_real_interaction_ignores_likes_without_view():
    base = [(1.0, 0, 0, K.VIEW, 0.5), (1.0, 0, 1, K.VIEW, 0.5)]
    viewed = make_obs(base + [(2.0, 1, 0, K.VIEW, 0.5), (3.0, 1, 0, K.LIKE, 0)], n_items=2)
    blind = make_obs(base + [(2.0, 1, 1, K.VIEW, 0.5), (3.0, 1, 0, K.LIKE, 0)], n_items=2)
    r = RealInteraction()
    assert r(viewed)[0] > r(viewed)[1]        # a verified like helps
    assert r(blind)[0] <= r(blind)[1] + 1e-12  # an API-style like with no view does not


@pytest.mark.parametrize("cls, kw", [(EngagementDepth, {"like": -1.0}),
                                     (RealInteraction, {"prior_views": 0.0}),
                                     (RealInteraction, {"completion": float("nan")})])
def test_ranker_parameters_are_validated(cls, kw):
    with pytest.raises(InvalidParameter, match=next(iter(kw))):
        cls(**kw)


def test_rank_items_midranks_and_ineligible():
    r = rank_items(np.array([3.0, 1.0, 3.0, 9.0]), np.array([True, True, True, False]))
    assert r[:3].tolist() == [1.5, 3.0, 1.5] and np.isnan(r[3])


@given(st.lists(st.sampled_from([-2.0, -0.0, 0.0, 0.5, 1e-300, 3.0, 1e300]), max_size=40),
       st.data())
def test_ranks_from_the_feeds_order_are_scipys_and_the_order_is_the_lexsort(values, data):
    """The closed loop sorts once per round (:func:`boostbench.feed.ranked_order`) for both
    its feed and its ranks: the order is eligible ids by (score descending, id), and the
    ranks read off it are scipy's mid-ranks, the same floats as without it."""
    from scipy.stats import rankdata

    from boostbench.feed import ranked_order
    scores = np.array(values, np.float64)
    eligible = np.array(data.draw(st.lists(st.booleans(), min_size=scores.size,
                                           max_size=scores.size)), bool)
    elig = np.flatnonzero(eligible)
    order = ranked_order(scores, eligible)
    np.testing.assert_array_equal(order, elig[np.lexsort((elig, -scores[elig]))])
    with_order = rank_items(scores, eligible, order=order)
    np.testing.assert_array_equal(with_order, rank_items(scores, eligible))
    np.testing.assert_array_equal(with_order[elig], rankdata(-scores[elig], method="average"))
    assert np.isnan(with_order[~eligible]).all()


def test_score_items_checks_shape(tiny_base):
    obs = tiny_base.observation_at_start()

    class Bad:
        name = "bad"

        def __call__(self, o):
            return np.zeros(3)
    with pytest.raises(InvalidParameter, match="shape"):
        score_items(Bad(), obs)


# every registered ranker's output and invariance to relabelling: tests/test_conformance.py
# (boostbench.testing.checks.check_ranker)


@settings(max_examples=30)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), min_size=1, max_size=20),
       st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), max_size=10))
def test_more_organic_likes_never_lower_like_count(base, extra):
    ev = [(float(j), a, i, K.LIKE, 0) for j, (a, i) in enumerate(base)]
    more = ev + [(100.0 + j, a, i, K.LIKE, 0) for j, (a, i) in enumerate(extra)]
    assert np.all(LikeCount()(make_obs(more, now=1e6)) >= LikeCount()(make_obs(ev, now=1e6)))
