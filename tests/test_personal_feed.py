"""Personalised feeds: each viewer's own candidates in the ranker's pair order, and HR@k."""

from dataclasses import dataclass

import numpy as np
import pytest

from boostbench.events import EventKind as K
from boostbench.feed import FeedConfig, Sessions, global_hits, personal_pools
from boostbench.metrics.rise import hit_ratio
from boostbench.simulate import closed_loop_rounds


def _plan(n_viewers, key=7, r=3):
    acc = np.arange(n_viewers, dtype=np.int64)
    z = np.zeros(n_viewers)
    return Sessions(key, r, acc, z.astype(np.int64), z.astype(np.int8), z, z, z, n_viewers)


@pytest.mark.parametrize("L, C, k, ahead", [(50, 10, 3, 0), (50, 10, 3, 7), (200, 40, 10, 30),
                                            (30, 30, 5, 12)])
def test_global_hits_is_the_expectation_of_the_realised_pools(L, C, k, ahead):
    rng = np.random.default_rng(L + C + ahead)
    scores = rng.permutation(L).astype(float)
    eligible = np.ones(L, bool)
    target = int(np.flatnonzero(scores == L - 1 - ahead)[0])   # `ahead` items score higher
    n = 40_000
    pools = personal_pools(FeedConfig(candidates=C), _plan(n), eligible, lambda a, i: scores[i])
    realised = pools.hits([target], k)[0]
    expected = global_hits(scores, eligible, [target], k, C)[0]
    se = np.sqrt(max(expected * (1 - expected), 1e-4) / n)
    assert abs(realised - expected) < 4 * se, (realised, expected)


def test_global_hits_by_hand():
    # L = 2, C = 1: a viewer draws one item; the top item hits at k = 1 with probability 1/2
    assert global_hits(np.array([2.0, 1.0]), np.ones(2, bool), [0, 1], 1, 1) == \
        pytest.approx([0.5, 0.5])
    # ties go by item id; an ineligible target never hits
    el = np.array([True, True, False])
    out = global_hits(np.array([1.0, 1.0, 9.0]), el, [0, 1, 2], 1, 2)
    assert out[0] == pytest.approx(1 - 0.25) and out[1] == pytest.approx(0.25) and out[2] == 0


def test_personal_pools_order_each_viewer_by_its_pair_scores():
    L, C = 40, 15
    pools = personal_pools(FeedConfig(candidates=C), _plan(50), np.ones(L, bool),
                           lambda a, i: -np.abs((i % 5) - (a % 5)) + 0.001 * i)
    assert pools.items.shape == (50, C)
    for j, a in enumerate(pools.accounts):
        row = pools.items[j][pools.items[j] >= 0]
        s = -np.abs((row % 5) - (a % 5)) + 0.001 * row
        assert np.all(np.diff(s) <= 0)
        assert len(set(row.tolist())) == row.size       # a repeat is a blank, not an item
    # counter-based: the same plan retrieves the same candidates
    again = personal_pools(FeedConfig(candidates=C), _plan(50), np.ones(L, bool),
                           lambda a, i: -np.abs((i % 5) - (a % 5)) + 0.001 * i)
    np.testing.assert_array_equal(again.items, pools.items)


@dataclass(frozen=True)
class _Parity:
    """A personalised ranker: every viewer prefers the items whose parity is its own."""

    name: str = "parity"

    def __call__(self, obs):
        return np.zeros(obs.n_items)

    def score_pairs(self, obs, account, item):
        return ((account % 2) == (item % 2)).astype(float)


@dataclass(frozen=True)
class _Flat:
    name: str = "flat"

    def __call__(self, obs):
        return np.zeros(obs.n_items)


def _same_parity_share(base, ranker):
    rounds = closed_loop_rounds(base, ranker)
    log = None
    while True:
        try:
            log = next(rounds).log
        except StopIteration as done:
            traj = done.value
            break
    t, acc, itm, kind, _ = log.columns()
    m = (kind == K.IMPRESSION) & (t >= base.world.t0)
    return float(np.mean(acc[m] % 2 == itm[m] % 2)), traj


def test_the_feed_walks_each_viewers_own_order(tiny_base):
    personal, traj = _same_parity_share(tiny_base, _Parity())
    flat, flat_traj = _same_parity_share(tiny_base, _Flat())
    # topic positions (half the ranked ones, ~45% of all) follow the viewer's preference;
    # the rest do not. Not +0.22: on tiny's small topic pools viewers run out of unseen
    # posts of their parity (measured +0.0998 on scenario v4, tiny, run seed 8; the
    # binomial standard error of either share is ~0.002)
    assert flat == pytest.approx(0.5, abs=0.03)
    assert personal > flat + 0.08
    assert traj.personal_hits.shape == (traj.n_rounds, traj.targets.size)
    assert 0.0 <= hit_ratio(traj, flat_traj, None) <= 1.0
