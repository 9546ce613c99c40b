"""Shilling attacks (random, average, bandwagon profiles): filler choice, money, determinism."""

import numpy as np
import pytest
from scipy import stats

from boostbench.attacks import CostModel, SignalMix
from boostbench.attacks.bots import AGED_BOTS, FRESH_BOTS
from boostbench.attacks.pacing import Burst, UnderCap
from boostbench.attacks.shilling import Filler, Shilling, _draw_without_replacement
from boostbench.events import EventKind as K
from boostbench.observation import viewed_before
from boostbench.plugins import ATTACKS
from boostbench.simulate.state import _n_actions
from boostbench.testing.checks import check_attack
from boostbench.world import Origin
from boostbench._core.units import HOUR

from helpers import make_obs

NAMES = ("random_shilling", "average_shilling", "bandwagon")
KIND = {"random_shilling": "random", "average_shilling": "average", "bandwagon": "bandwagon"}
N_DRAW = 40_000


def _run(attack, base, budget, seed=0, hours=12, cost=CostModel()):
    obs = base.observation_at_start()
    t0 = base.world.t0
    return attack(obs, base.targets, budget, (t0, t0 + hours * HOUR), np.random.default_rng(seed),
                  cost)


def _likes_by_account(c):
    likes = c.kind == K.LIKE
    out = {}
    for a, i in zip(c.account[likes].tolist(), c.item[likes].tolist()):
        out.setdefault(a, []).append(i)
    return out


@pytest.fixture(scope="module")
def hand_obs():
    """200 candidate items (item i has i % 10 likes), two targets, and items no profile may use:
    one posted after the start, one older than the eligibility window."""
    n = 204
    created = np.zeros(n)
    created[202] = 20 * HOUR                 # not yet posted at now = 10 h
    created[203] = -100 * HOUR               # older than the 72 h eligibility window
    ev = sorted((1.0 + i + a / 100, a, i, int(K.LIKE), 0.0)
                for i in range(n) for a in range(i % 10))
    obs = make_obs(ev, n_items=n, n_accounts=10, created=created)
    return obs, np.array([200, 201])


def _weights(obs):
    return np.rint(obs.count(K.LIKE)[:200]).astype(np.int64) + 1


# --- the filler choice follows its definition ------------------------------------------------

@pytest.mark.parametrize("kind", ["random", "average", "bandwagon"])
def test_fillers_are_distinct_eligible_and_never_targets(kind, hand_obs):
    obs, targets = hand_obs
    x = Filler(kind).choose(obs, targets, obs.now, 5, np.arange(5000))
    assert x.shape == (5000, 10 + 5 * (kind == "bandwagon"))
    assert not np.isin(x, targets).any()
    assert obs.eligible[x].all() and x.max() < 200     # 202 (future) and 203 (old) never
    s = np.sort(x, axis=1)
    assert (np.diff(s, axis=1) > 0).all()              # no repeat within a profile


def test_the_draw_is_exact_sampling_without_replacement():
    # ordered pairs (i, j): P = w_i / W * w_j / (W - w_i); chi-square on 40k draws
    w = np.array([1, 2, 3, 4])
    u = np.random.default_rng(0).random((N_DRAW, 2))
    pos = _draw_without_replacement(w, u)
    W = w.sum()
    pairs = [(i, j) for i in range(4) for j in range(4) if i != j]
    expected = np.array([w[i] / W * w[j] / (W - w[i]) for i, j in pairs]) * N_DRAW
    got = np.array([np.count_nonzero((pos[:, 0] == i) & (pos[:, 1] == j)) for i, j in pairs])
    assert got.sum() == N_DRAW
    assert stats.chisquare(got, expected).pvalue > 1e-3


def test_random_fillers_are_uniform_over_the_eligible_items(hand_obs):
    obs, targets = hand_obs
    x = Filler("random").choose(obs, targets, obs.now, 11, np.arange(N_DRAW))
    freq = np.bincount(x.ravel(), minlength=200)[:200]
    # each of the 200 candidates is in a profile with probability 10/200: chi-square on 400k
    # draws, and every frequency within 10% of the mean (±4.5 sd)
    assert stats.chisquare(freq).pvalue > 1e-3
    assert np.abs(freq / freq.mean() - 1).max() < 0.1
    w = _weights(obs)                   # popularity plays no part: most- vs least-liked, ±5%
    assert abs(freq[w == 10].mean() / freq[w == 1].mean() - 1) < 0.05


def test_average_fillers_follow_popularity(hand_obs):
    obs, targets = hand_obs
    w = _weights(obs)
    # one filler: drawn exactly in proportion to likes + 1
    one = Filler("average", fillers=1).choose(obs, targets, obs.now, 3, np.arange(N_DRAW))
    freq = np.bincount(one.ravel(), minlength=200)[:200]
    assert stats.chisquare(freq, w / w.sum() * N_DRAW).pvalue > 1e-3
    # ten fillers (without replacement, so a little flatter): the 9-like items are in ~10x
    # as many profiles as the unliked ones (weights 10 : 1), within 10%
    ten = Filler("average").choose(obs, targets, obs.now, 3, np.arange(N_DRAW))
    freq = np.bincount(ten.ravel(), minlength=200)[:200]
    ratio = freq[w == 10].mean() / freq[w == 1].mean()
    assert 9.0 < ratio < 11.0, ratio
    assert np.corrcoef(freq, w)[0, 1] > 0.99


def test_bandwagon_profiles_all_hold_the_most_liked_items(hand_obs):
    obs, targets = hand_obs
    x = Filler("bandwagon", fillers=10, selected=5).choose(obs, targets, obs.now, 9,
                                                         np.arange(N_DRAW))
    # the five 9-like items with the lowest ids (ties by id), then ten uniform fillers
    top = np.array([9, 19, 29, 39, 49])
    np.testing.assert_array_equal(x[:, :5], np.broadcast_to(top, (N_DRAW, 5)))
    rest = x[:, 5:]
    assert not np.isin(rest, top).any()
    freq = np.bincount(rest.ravel(), minlength=200)[np.setdiff1d(np.arange(200), top)]
    assert stats.chisquare(freq).pvalue > 1e-3


def test_too_few_candidates_means_fewer_fillers_never_repeats():
    ev = [(1.0, 0, 0, int(K.LIKE), 0.0)]
    obs = make_obs(ev, n_items=4, n_accounts=2)
    x = Filler("bandwagon", fillers=10, selected=2).choose(obs, np.array([3]), obs.now, 1,
                                                         np.arange(50))
    assert x.shape == (50, 3) and (x[:, 0] == 0).all()
    assert (np.sort(x, axis=1) == [0, 1, 2]).all()
    none = Filler("random").choose(obs, np.arange(4), obs.now, 1, np.arange(5))
    assert none.shape == (5, 0)


@pytest.mark.parametrize("name", NAMES)
def test_campaign_profiles_are_one_target_plus_their_fillers(name, tiny_base):
    c = _run(ATTACKS.get(name)(), tiny_base, 3.0)
    obs = tiny_base.observation_at_start()
    profiles = _likes_by_account(c)
    m = 10 + 5 * (name == "bandwagon")
    assert len(profiles) == c.n_new_accounts > 0 and np.all(c.new_origin == Origin.BOT)
    likes = obs.count(K.LIKE)
    cand = obs.eligible.copy()
    cand[c.targets] = False
    target_of = {}
    for a, items in profiles.items():
        assert len(items) == 1 + m == len(set(items))            # one target, distinct fillers
        on = np.isin(items, c.targets)
        assert on.sum() == 1
        target_of[a] = items[int(np.flatnonzero(on)[0])]
        assert cand[np.array(items)[~on]].all()                   # eligible, never a target
    if name == "bandwagon":       # every profile holds the five most-liked candidates
        shared = set.intersection(*(set(v) for v in profiles.values())) - set(c.targets.tolist())
        assert len(shared) == 5
        np.testing.assert_array_equal(np.sort(likes[list(shared)]), np.sort(likes[cand])[-5:])
    # each like follows the account's 2 s view of the item, which follows its impression
    order = np.argsort(c.t, kind="stable")
    vb = viewed_before(c.account[order], c.item[order], c.kind[order], 10**6)
    assert vb[c.kind[order] == K.LIKE].all()
    views = c.kind == K.VIEW
    dur = tiny_base.world.items.duration[c.item[views]]
    np.testing.assert_allclose(c.value[views], np.minimum(2.0 / dur, 1.0), rtol=1e-6)
    assert c.n_actions(K.IMPRESSION) == c.n_actions(K.VIEW) == c.n_actions(K.LIKE)
    # a profile's fillers come in the same 2 h burst as its target like
    t0 = tiny_base.world.t0
    target = np.array([target_of[a] for a in c.account.tolist()])
    base = np.maximum(t0, tiny_base.world.items.created_at[target])
    assert np.all(c.t >= base) and np.all(c.t <= base + 2 * HOUR + 10)


def test_filler_likes_are_off_target_actions(tiny_base):
    c = _run(ATTACKS.get("random_shilling")(), tiny_base, 2.0)
    fake, aimed = _n_actions(c.kind, c.t, np.inf, c.item, c.targets)
    assert fake == c.n_actions(K.LIKE) == 11 * c.n_new_accounts
    assert aimed == c.n_new_accounts


# --- money -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_every_filler_like_is_paid_and_the_budget_holds(name, tiny_base):
    cost = CostModel()
    per = (11 + 5 * (name == "bandwagon")) * (cost.like_bot + cost.view_bot)  # one profile
    for budget in (0.7, 3.0, 11.0):
        c = _run(ATTACKS.get(name)(), tiny_base, budget, cost=cost)
        n_like, n_view = c.n_actions(K.LIKE), c.n_actions(K.VIEW)
        assert c.spend == pytest.approx({"like_bot": n_like * cost.like_bot,
                                         "view_bot": n_view * cost.view_bot})
        assert c.spend_total <= budget
        assert budget - c.spend_total < per + 1e-9                # stops at the budget
        assert c.spend_total == pytest.approx(c.n_new_accounts * per)


@pytest.mark.parametrize("name", NAMES)
def test_doubling_the_budget_doubles_the_profiles(name, tiny_base):
    one = _run(ATTACKS.get(name)(), tiny_base, 4.0, seed=2).n_new_accounts
    two = _run(ATTACKS.get(name)(), tiny_base, 8.0, seed=2).n_new_accounts
    assert one > 20 and abs(two - 2 * one) <= 1


@pytest.mark.parametrize("name", NAMES)
def test_zero_budget_is_an_empty_campaign(name, tiny_base):
    c = _run(ATTACKS.get(name)(), tiny_base, 0.0)
    assert c.n_events == 0 and c.n_new_accounts == 0 and c.spend_total == 0.0
    cheap = _run(ATTACKS.get(name)(), tiny_base, 0.01)       # less than one whole profile
    assert cheap.n_events == 0 and cheap.spend_total == 0.0


def test_an_own_farm_pays_for_accounts_not_for_filler_likes(tiny_base):
    cost = CostModel()
    r = Shilling("aged_shill", AGED_BOTS, SignalMix(view="real"), Burst(), targets_per_account=1,
                 filler=Filler("average"))
    c = _run(r, tiny_base, 1.0, cost=cost)
    assert c.n_new_accounts > 0 and c.n_actions(K.LIKE) >= 11 * c.n_new_accounts
    assert c.spend == pytest.approx(
        {"account_aged (amortised)": c.n_new_accounts * cost.account_aged / AGED_BOTS.uses})


def test_an_account_on_several_targets_is_one_profile(tiny_base):
    # targets_per_account = 0: one account acts on every target, with one set of fillers
    cost = CostModel()
    r = Shilling("multi", FRESH_BOTS, SignalMix(view="short"), Burst(), filler=Filler("random"))
    c = _run(r, tiny_base, 2.0, cost=cost)
    T = c.targets.size
    for items in _likes_by_account(c).values():
        assert len(items) == len(set(items))          # no account likes an item twice
        assert len(items) in (10 + k for k in range(1, T + 1))
    assert c.spend_total == pytest.approx(c.n_actions(K.LIKE) * (cost.like_bot + cost.view_bot))


def test_a_per_account_clock_puts_the_fillers_after_the_target(tiny_base):
    r = Shilling("capped", FRESH_BOTS, SignalMix(view="short"), UnderCap(cap=10, cap_hours=1.0),
                 targets_per_account=1, filler=Filler("random", fillers=4))
    c = _run(r, tiny_base, 0.5, hours=24)
    likes = c.kind == K.LIKE
    for a in np.unique(c.account[likes]):
        m = likes & (c.account == a)
        t = np.sort(c.t[m])
        assert np.isin(c.item[m][np.argmin(c.t[m])], c.targets)
        assert (np.diff(t) >= 360.0 * 0.999).all()    # at most 10 an hour


# --- determinism and the contract --------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_campaign_another_seed_other_fillers(name, tiny_base):
    a, b = (_run(ATTACKS.get(name)(), tiny_base, 2.0, seed=4) for _ in range(2))
    for f in ("t", "account", "item", "kind", "value", "new_created_at", "new_device"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.spend == b.spend
    other = _run(ATTACKS.get(name)(), tiny_base, 2.0, seed=5)
    assert not np.array_equal(np.sort(a.item), np.sort(other.item))


def test_nested_budgets_are_prefixes(tiny_base):
    rows = lambda c: set(zip(c.t.round(6).tolist(), c.account.tolist(),  # noqa: E731
                             c.item.tolist(), c.kind.tolist()))
    for name in NAMES:
        small = _run(ATTACKS.get(name)(), tiny_base, 1.0, seed=7)
        large = _run(ATTACKS.get(name)(), tiny_base, 3.0, seed=7)
        assert rows(small) < rows(large)


@pytest.mark.parametrize("name", NAMES)
def test_conformance(name):
    assert set(check_attack(name).values()) == {"ok"}


def test_registered_as_fresh_bot_recipes():
    for name in NAMES:
        r = ATTACKS.get(name)()
        assert isinstance(r, Shilling) and r.name == name and r.supplier is FRESH_BOTS
        assert r.filler == Filler(KIND[name]) and r.targets_per_account == 1
        assert r.mix == SignalMix(view="short", short_seconds=(2.0, 2.0)) and r.pacing == Burst()
