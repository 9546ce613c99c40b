"""WRMF: the implicit-ALS solver against its objective, and the scheduled, folded-in ranker."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K
from boostbench.events import EventLog
from boostbench.observation import Observation
from boostbench.plugins import RANKERS
from boostbench.rankers.training import Schedule
from boostbench.rankers.wrmf import (INIT_SCALE, WRMF, fold_in_items, implicit_als, wrmf_frozen,
                                     wrmf_loss)
from boostbench.testing.checks import RANKER_CHECKS, check_ranker
from boostbench.world import Accounts, Items

H = 3600.0


# --- the solver -------------------------------------------------------------------------------

def _planted(n_users=200, n_items=150, clusters=4, p_in=0.8, p_out=0.01, seed=1):
    """A planted rank-``clusters`` structure: each user belongs to a community and interacts
    with each of its community's items with probability ``p_in``, with any other item with
    probability ``p_out``; strengths in (0.5, 2]. Returns (user, item, strength, rng, prob)."""
    rng = np.random.default_rng(seed)
    uc = rng.integers(0, clusters, n_users)
    ic = np.arange(n_items) % clusters
    prob = np.where(uc[:, None] == ic[None, :], p_in, p_out)
    u, i = np.nonzero(rng.random((n_users, n_items)) < prob)
    return u, i, rng.uniform(0.5, 2.0, u.size), rng, prob


def _auc(pos, neg):
    """P(a positive outscores a negative), ties counting half."""
    d = pos[:, None] - neg[None, :]
    return float((d > 0).mean() + 0.5 * (d == 0).mean())


def test_planted_communities_are_recovered_held_out_positives_rank_high():
    u, i, r, rng, prob = _planted()
    test = rng.random(u.size) < 0.2
    X, Y = implicit_als(u[~test], i[~test], 10.0 * r[~test], 200, 150, factors=8, reg=0.1,
                        iterations=10, seed=0)
    positive = np.zeros((200, 150), bool)
    positive[u, i] = True
    nu, ni = rng.integers(0, 200, 3000), rng.integers(0, 150, 3000)
    keep = ~positive[nu, ni]
    nu, ni = nu[keep], ni[keep]
    auc = _auc(np.einsum("nk,nk->n", X[u[test]], Y[i[test]]),
               np.einsum("nk,nk->n", X[nu], Y[ni]))
    best = _auc(prob[u[test], i[test]], prob[nu, ni])   # the planted probabilities themselves
    assert auc > 0.9 and auc > best - 0.03, (auc, best)


def _dense_als(u, i, a, n_users, n_items, k, reg, iterations, seed):
    """The same objective solved by plain dense ALS: one numpy.linalg.solve per row."""
    C = np.ones((n_users, n_items))
    P = np.zeros((n_users, n_items))
    np.add.at(C, (u, i), a)
    P[u, i] = 1.0
    rng = np.random.default_rng(seed)
    X = INIT_SCALE * rng.standard_normal((n_users, k))
    Y = INIT_SCALE * rng.standard_normal((n_items, k))

    def half(G, C, P):
        return np.array([np.linalg.solve(G.T @ (c[:, None] * G) + reg * np.eye(k),
                                         G.T @ (c * p)) for c, p in zip(C, P)])
    for _ in range(iterations):
        X = half(Y, C, P)
        Y = half(X, C.T, P.T)
    return X, Y


def test_many_cg_steps_match_the_dense_closed_form_als():
    rng = np.random.default_rng(3)
    u = rng.integers(0, 9, 40)
    i = rng.integers(0, 7, 40)
    a = rng.uniform(0, 5, 40)          # duplicates among the 40 entries are summed by both
    X, Y = implicit_als(u, i, a, 10, 8, factors=3, reg=0.3, iterations=4, seed=5, cg_steps=40)
    Xd, Yd = _dense_als(u, i, a, 10, 8, 3, 0.3, 4, 5)
    np.testing.assert_allclose(X, Xd, atol=1e-6)
    np.testing.assert_allclose(Y, Yd, atol=1e-6)
    assert not X[9].any() and not Y[7].any()   # no pairs: exactly 0 (as the dense solve)


def test_the_loss_never_rises_over_iterations():
    u, i, r, *_ = _planted(n_users=60, n_items=40, p_in=0.5, p_out=0.05)
    losses = [wrmf_loss(*implicit_als(u, i, 10 * r, 60, 40, factors=4, reg=0.1, iterations=n,
                                      seed=0), u, i, 10 * r, 0.1) for n in range(0, 7)]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]


def test_fold_in_is_the_exact_item_half_step():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 3))
    X[5] = 0
    u, i, a = rng.integers(0, 6, 30), rng.integers(0, 5, 30), rng.uniform(0, 4, 30)
    Y = fold_in_items(X, u, i, a, 7, 0.2)
    C = np.ones((7, 6))
    np.add.at(C, (i, u), a)
    P = np.zeros((7, 6))
    P[i, u] = 1
    for item in range(7):
        want = np.linalg.solve(X.T @ (C[item][:, None] * X) + 0.2 * np.eye(3),
                               X.T @ (C[item] * P[item])) if P[item].any() else np.zeros(3)
        np.testing.assert_allclose(Y[item], want, atol=1e-10)


def test_same_seed_same_factors_and_duplicates_are_summed():
    u, i, r, *_ = _planted(n_users=30, n_items=20, p_in=0.5, p_out=0.05)
    kw = dict(factors=4, reg=0.1, iterations=3, seed=7)
    X1, Y1 = implicit_als(u, i, r, 30, 20, **kw)
    X2, Y2 = implicit_als(u, i, r, 30, 20, **kw)
    assert np.array_equal(X1, X2) and np.array_equal(Y1, Y2)
    assert not np.array_equal(X1, implicit_als(u, i, r, 30, 20, **{**kw, "seed": 8})[0])
    # each entry split into two halves (exact in binary): the same pairs, the same factors
    split = implicit_als(np.r_[u, u], np.r_[i, i], np.r_[r / 2, r / 2], 30, 20, **kw)
    assert np.array_equal(split[0], X1) and np.array_equal(split[1], Y1)
    fold = fold_in_items(X1, np.r_[u, u], np.r_[i, i], np.r_[r / 2, r / 2], 20, 0.1)
    np.testing.assert_allclose(fold, fold_in_items(X1, u, i, r, 20, 0.1), rtol=1e-12)


@settings(max_examples=30)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 5), st.floats(0, 50)),
                max_size=40), st.integers(1, 4), st.integers(0, 3))
def test_accounts_and_items_without_pairs_get_zero_factors(pairs, k, seed):
    u, i, a = (np.array(c) for c in zip(*pairs)) if pairs else ([], [], [])
    X, Y = implicit_als(u, i, a, 8, 6, factors=k, reg=0.1, iterations=2, seed=seed)
    assert np.isfinite(X).all() and np.isfinite(Y).all()
    assert not X[np.setdiff1d(np.arange(8), u)].any()
    assert not Y[np.setdiff1d(np.arange(6), i)].any()


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(InvalidParameter, match="confidence"):
        implicit_als([0], [0], [-1.0], 1, 1, factors=2, reg=0.1, iterations=1, seed=0)
    with pytest.raises(InvalidParameter, match="item ids"):
        implicit_als([0], [3], [1.0], 1, 2, factors=2, reg=0.1, iterations=1, seed=0)
    with pytest.raises(InvalidParameter, match="'reg'"):
        implicit_als([0], [0], [1.0], 1, 1, factors=2, reg=0.0, iterations=1, seed=0)


# --- the ranker -------------------------------------------------------------------------------

N_ACC, N_ITEMS = 12, 8


def _log(extra=()):
    """Two days of history before T = 96 h: accounts 0-5 like and watch items 0-3, accounts
    6-9 items 4-7 (two communities); accounts 10 and 11 never act before T."""
    ev = []
    for a in range(10):
        own = range(4) if a < 6 else range(4, 8)
        for j, item in enumerate(own):
            if (a + j) % 4 == 3:
                continue          # each account misses one item of its community
            t = 50 * H + a * H + j * 60.0
            ev.append((t, a, item, K.IMPRESSION, 0.0))
            ev.append((t + 1, a, item, K.VIEW, 0.3 + 0.1 * j))
            if j % 2 == 0:
                ev.append((t + 2, a, item, K.LIKE, 0.0))
    ev += list(extra)
    return EventLog.from_arrays(*[np.asarray(c) for c in zip(*ev)])


def _obs(log, now):
    items = Items(np.zeros(N_ITEMS), np.zeros(N_ITEMS, np.int32), np.zeros(N_ITEMS, np.int16),
                  np.full(N_ITEMS, 10.0, np.float32))
    accounts = Accounts(np.full(N_ACC, -100 * H), np.arange(N_ACC, dtype=np.int32),
                        np.zeros(N_ACC, np.int16))
    return Observation(items, accounts, log, now)


#: Likes bought after T = 96 h for item 5 from accounts 0-3 (known to the model, other community).
BOUGHT = [(97 * H + s, a, 5, K.LIKE, 0.0) for s, a in enumerate(range(4))]
SMALL = dict(factors=3, iterations=6)


def test_events_after_training_leave_the_model_but_move_todays_items():
    r = WRMF(**SMALL)
    clean, bought = _obs(_log(), 100 * H), _obs(_log(BOUGHT), 100 * H)
    m_clean, m_bought = r.model(clean), r.model(bought)
    assert m_clean.T == m_bought.T == 96 * H
    assert np.array_equal(m_clean.X, m_bought.X)          # no poisoning before the retraining
    y_clean, y_bought = r.item_factors(clean), r.item_factors(bought)
    assert not np.allclose(y_clean[5], y_bought[5])        # the fold-in sees today's likes
    np.testing.assert_array_equal(np.delete(y_clean, 5, 0), np.delete(y_bought, 5, 0))
    # the buyers now prefer item 5 more
    a, item = np.arange(4), np.full(4, 5)
    assert (r.score_pairs(bought, a, item) > r.score_pairs(clean, a, item)).all()


def test_retraining_learns_from_the_new_log_and_the_frozen_model_does_not():
    log = _log(BOUGHT)
    r, frozen = WRMF(**SMALL), WRMF(**SMALL, schedule=Schedule(retrain_every=None))
    first, later = _obs(log, 100 * H), _obs(log, 130 * H)   # the window drops accounts 0-2
    assert r.model(first).T == 96 * H and r.model(later).T == 120 * H
    assert not np.array_equal(r.model(first).X, r.model(later).X)   # poisoned by the retraining
    f0 = frozen.model(first)
    assert frozen.model(later) is f0 and f0.T == 96 * H     # the first day's model
    # a frozen model still folds today's engagement into the items
    assert not np.array_equal(frozen.item_factors(first), frozen.item_factors(later))


def test_accounts_unseen_in_training_score_zero_and_pull_no_item():
    fresh = [(97 * H + s, 10 + s % 2, 2, K.LIKE, 0.0) for s in range(6)]   # accounts 10, 11
    r = WRMF(**SMALL)
    clean, obs = _obs(_log(), 100 * H), _obs(_log(fresh), 100 * H)
    m = r.model(obs)
    assert not m.X[10:].any()
    assert (r.score_pairs(obs, np.array([10, 11, 10]), np.array([0, 2, 5])) == 0).all()
    np.testing.assert_array_equal(r.item_factors(obs), r.item_factors(clean))


def test_global_score_is_the_average_active_viewers_preference():
    r = WRMF(**SMALL)
    obs = _obs(_log(BOUGHT), 100 * H)
    s = r(obs)
    assert s.shape == (N_ITEMS,) and s.dtype == np.float64 and np.isfinite(s).all()
    active = np.arange(10)                    # the accounts with interactions before T
    a, i = np.repeat(active, N_ITEMS), np.tile(np.arange(N_ITEMS), active.size)
    pairs = r.score_pairs(obs, a, i).reshape(active.size, N_ITEMS)
    np.testing.assert_allclose(s, pairs.mean(axis=0), rtol=1e-12, atol=1e-15)
    # the communities are learnt: an account prefers its own community's items
    assert pairs[0, :4].mean() > pairs[0, 4:].mean() and pairs[8, 4:].mean() > pairs[8, :4].mean()


def test_weights_and_kinds_set_the_interaction_strength():
    log = _log(BOUGHT)
    obs = _obs(log, 100 * H)
    zero_bought = np.ones(obs.n_events, np.float32)
    t = obs.events[0]
    zero_bought[t > 96 * H] = 0.0                 # a defence that discounts every bought like
    r = WRMF(**SMALL)
    np.testing.assert_array_equal(r.item_factors(obs.with_weights(zero_bought)),
                                  r.item_factors(_obs(_log(), 100 * H)))
    # likes ignored: the bought likes move nothing
    no_likes = WRMF(**SMALL, like_weight=0.0)
    np.testing.assert_array_equal(no_likes.item_factors(obs),
                                  no_likes.item_factors(_obs(_log(), 100 * H)))


def test_registered_names_and_parameters():
    assert RANKERS.create("wrmf") == WRMF()
    frozen = RANKERS.create("wrmf_frozen")
    assert frozen == wrmf_frozen() and frozen.name == "wrmf_frozen"
    assert frozen.schedule.retrain_every is None
    with pytest.raises(InvalidParameter, match="'factors'"):
        WRMF(factors=0)
    with pytest.raises(InvalidParameter, match="'schedule'"):
        WRMF(schedule=24.0)


@pytest.mark.parametrize("name", ["wrmf", "wrmf_frozen"])
def test_conformance(name):
    report = check_ranker(name)
    assert set(report) == set(RANKER_CHECKS)
    assert report["relabelling"].startswith("exempt: ALS starts from random factors")
    assert all(v == "ok" for k, v in report.items() if k != "relabelling")
