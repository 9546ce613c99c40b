"""FRAUDAR's greedy peeling (boostbench.rankers.defences.fraudar) and the dense_block defence."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostbench.events import EventKind as K, EventLog
from boostbench.observation import Observation
from boostbench.rankers.defences import DenseBlock
from boostbench.rankers.defences.fraudar import block_density, column_weights, densest_block
from boostbench.world import Accounts, Items
from boostbench._core.units import HOUR


def _optimum(account, item, weight):
    """max over every non-empty node subset S of f(S)/|S| (brute force over bitmasks)."""
    ua, ai = np.unique(account, return_inverse=True)
    ui, ii = np.unique(item, return_inverse=True)
    n = ua.size + ui.size
    assert n <= 14
    s = np.arange(1, 2 ** n, dtype=np.int64)[:, None]
    inside = ((s >> ai) & 1) & ((s >> (ua.size + ii)) & 1)
    f = inside @ weight
    size = np.array([bin(x).count("1") for x in s[:, 0]])
    return float((f / size).max())


@st.composite
def small_graphs(draw):
    na, ni = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    cells = draw(st.sets(st.tuples(st.integers(0, na - 1), st.integers(0, ni - 1)), min_size=1))
    cells = sorted(cells)
    # ids need not be contiguous: accounts 3, 10, 17, ...; items 100, 105, ...
    account = np.array([3 + 7 * a for a, _ in cells], np.int64)
    item = np.array([100 + 5 * i for _, i in cells], np.int64)
    return account, item


@settings(max_examples=60)
@given(graph=small_graphs())
def test_greedy_density_is_at_least_half_the_optimum(graph):
    account, item = graph
    w = column_weights(item)
    rows, cols, density = densest_block(account, item)
    opt = _optimum(account, item, w)
    assert density >= opt / 2 - 1e-12
    assert density <= opt + 1e-12
    assert set(rows.tolist()) <= set(account.tolist())
    assert set(cols.tolist()) <= set(item.tolist())
    assert rows.size + cols.size >= 1
    # the returned density is the block's own g(S), with the same column weights
    assert block_density(account, item, w, rows, cols) == pytest.approx(density, rel=1e-9)


@settings(max_examples=40)
@given(graph=small_graphs(), data=st.data())
def test_greedy_half_optimum_with_given_weights(graph, data):
    account, item = graph
    w = np.asarray(data.draw(st.lists(st.floats(0.01, 10.0), min_size=account.size,
                                      max_size=account.size)))
    rows, cols, density = densest_block(account, item, w)
    opt = _optimum(account, item, w)
    assert opt / 2 - 1e-9 <= density <= opt + 1e-9
    assert block_density(account, item, w, rows, cols) == pytest.approx(density, rel=1e-9)


def test_column_weights_and_density_by_hand():
    item = np.array([0, 0, 1])
    np.testing.assert_allclose(column_weights(item), [1 / np.log(7), 1 / np.log(7), 1 / np.log(6)])
    # one edge: the block is both nodes, g = w / 2
    rows, cols, d = densest_block([4], [9])
    assert rows.tolist() == [4] and cols.tolist() == [9]
    assert d == pytest.approx(1 / np.log(6) / 2)
    # a complete 2 x 2 block and a lighter pendant edge (account 2 - item 1): g = 4.5 / 5
    # for the whole graph, 4 / 4 for the block, which wins
    w = np.array([1, 1, 1, 1, 0.5])
    rows, cols, d = densest_block([0, 0, 1, 1, 2], [0, 1, 0, 1, 1], w)
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1] and d == pytest.approx(1.0)
    assert block_density([0, 0, 1, 1, 2], [0, 1, 0, 1, 1], np.ones(5), [0, 1], [0, 1]) == 1.0
    assert block_density([0], [0], np.ones(1), [], []) == 0.0
    rows, cols, d = densest_block([], [])
    assert rows.size == 0 and cols.size == 0 and d == 0.0


def _injected(seed, camouflage=0, popular=True, n_honest=2000, n_items=1000, n_fraud=20,
              n_targets=10):
    """A sparse honest graph (3 likes per account, Zipf-like popularity) plus a complete
    n_fraud x n_targets block on new items; each fraud account also likes ``camouflage``
    honest items (among the 50 most popular, or any)."""
    rng = np.random.default_rng(seed)
    pop = 1 / np.arange(1, n_items + 1) ** 0.8
    pop /= pop.sum()
    a, i = [], []
    for acc in range(n_honest):
        a += [acc] * 3
        i += rng.choice(n_items, 3, replace=False, p=pop).tolist()
    fraud = np.arange(n_honest, n_honest + n_fraud)
    targets = np.arange(n_items, n_items + n_targets)
    for f in fraud:
        a += [f] * n_targets
        i += targets.tolist()
        if camouflage:
            pool = 50 if popular else n_items
            a += [f] * camouflage
            i += rng.choice(pool, camouflage, replace=False).tolist()
    pairs = np.unique(np.array(a, np.int64) * 10**6 + np.array(i))
    return pairs // 10**6, pairs % 10**6, fraud, targets


@pytest.mark.parametrize("seed", [0, 1])
def test_an_injected_dense_block_is_found(seed):
    account, item, fraud, targets = _injected(seed)
    rows, cols, d = densest_block(account, item)
    assert set(rows.tolist()) == set(fraud.tolist())
    assert set(cols.tolist()) == set(targets.tolist())
    assert d == pytest.approx(block_density(account, item, column_weights(item), rows, cols))


@pytest.mark.parametrize("camouflage,popular", [(10, True), (30, True), (45, True), (10, False),
                                                (100, False)])
def test_camouflage_does_not_hide_the_block(camouflage, popular):
    """Fraud accounts also liking popular (or random) honest items stay in the block."""
    account, item, fraud, targets = _injected(3, camouflage, popular)
    rows, cols, _ = densest_block(account, item)
    assert np.isin(fraud, rows).mean() >= 0.9
    assert np.isin(targets, cols).all()
    assert np.isin(rows, fraud).mean() >= 0.9        # and few honest accounts come along


def test_dense_block_defence_bans_a_camouflaged_block():
    account, item, fraud, targets = _injected(4, camouflage=20)
    n_acc, n_items = int(account.max()) + 1, int(item.max()) + 1
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 70 * HOUR, account.size))
    order = rng.permutation(account.size)
    log = EventLog.from_arrays(t, account[order], item[order], np.full(account.size, int(K.LIKE)),
                               np.zeros(account.size))
    items = Items(np.zeros(n_items), np.zeros(n_items, np.int32), np.zeros(n_items, np.int16),
                  np.ones(n_items, np.float32))
    accounts = Accounts(np.zeros(n_acc), np.arange(n_acc, dtype=np.int32),
                        np.zeros(n_acc, np.int16))
    obs = Observation(items, accounts, log, 72 * HOUR)
    det = DenseBlock(min_density=1.5, min_accounts=5).detect(obs)
    flagged = det.accounts
    assert np.isin(fraud, flagged).mean() >= 0.9
    assert np.isin(flagged, fraud).mean() >= 0.9
    assert np.isin(targets, det.items).all()
    # the honest core is sparser than the threshold: no further block is banned
    assert flagged.size <= 1.2 * fraud.size
