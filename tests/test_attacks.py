import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostbench.attacks import Burst, ColdStart, CostModel, Recipe, SignalMix, Supplier, UnderCap
from boostbench.attacks.bots import FRESH_BOTS
from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K
from boostbench.observation import viewed_before
from boostbench.plugins import ATTACKS, PACINGS
from boostbench.world import Origin
from boostbench._core.units import DAY, HOUR

ALL = ATTACKS.names()


def _run(attack, base, budget, seed=0, cost=CostModel(), hours=12):
    obs = base.observation_at_start()
    t0 = base.world.t0
    targets = base.targets_for(attack.goal)
    return attack(obs, targets, budget, (t0, t0 + hours * HOUR), np.random.default_rng(seed), cost)


def _rows(c):
    return set(zip(c.t.round(6).tolist(), c.account.tolist(), c.item.tolist(), c.kind.tolist()))


def test_every_form_is_registered():
    assert set(ALL) >= {"bot_farm", "mutual_like_ring", "task_crowd", "aged_bots", "api_exploit",
                        "engagement_service", "mass_report"}


@pytest.mark.parametrize("name", ALL)
def test_zero_budget_emits_nothing(name, tiny_base):
    c = _run(ATTACKS.get(name)(), tiny_base, 0.0)
    assert c.n_events == 0 and c.n_new_accounts == 0 and c.spend_total == 0.0


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=10)
@given(budget=st.floats(0, 40), seed=st.integers(0, 1000))
def test_spend_never_exceeds_budget_and_is_itemised(name, budget, seed, tiny_base):
    c = _run(ATTACKS.get(name)(), tiny_base, budget, seed)
    assert 0 <= c.spend_total <= budget + 1e-9
    assert all(v > 0 for v in c.spend.values())
    items = tiny_base.world.items
    on_targets = np.isin(c.item, c.targets)
    assert np.all(c.t[on_targets] >= tiny_base.world.t0)   # the paid actions: in the window
    assert np.all(c.t >= items.created_at[c.item] - 1e-9)
    assert np.all(c.t >= tiny_base.world.history.t[0])     # camouflage: in the visible history


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=8)
@given(b1=st.floats(0, 20), extra=st.floats(0, 20), seed=st.integers(0, 50))
def test_nested_budgets_are_prefixes(name, b1, extra, seed, tiny_base):
    small = _run(ATTACKS.get(name)(), tiny_base, b1, seed)
    large = _run(ATTACKS.get(name)(), tiny_base, b1 + extra, seed)
    assert _rows(small) <= _rows(large)
    fake = lambda c: int(np.count_nonzero(c.kind != K.VIEW))  # noqa: E731
    assert fake(large) >= fake(small)
    assert large.spend_total >= small.spend_total - 1e-12


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_campaign(name, tiny_base):
    a, b = _run(ATTACKS.get(name)(), tiny_base, 5.0, 3), _run(ATTACKS.get(name)(), tiny_base, 5.0, 3)
    assert _rows(a) == _rows(b) and a.spend == b.spend


def test_attacks_do_not_mutate_the_observation(tiny_base):
    obs = tiny_base.observation_at_start()
    before = [c.copy() for c in obs.events]
    for name in ALL:
        ATTACKS.get(name)()(obs, tiny_base.targets, 20.0, (obs.now, obs.now + HOUR), 0)
    for a, b in zip(before, obs.events):
        np.testing.assert_array_equal(a, b)


def _vb(c):
    order = np.argsort(c.t, kind="stable")
    return viewed_before(c.account[order], c.item[order], c.kind[order], 10**6), order


def test_bot_farm_signature(tiny_base):
    c = _run(ATTACKS.get("bot_farm")(), tiny_base, 10.0)
    cost = CostModel()
    assert c.n_actions(K.LIKE) == c.n_actions(K.VIEW) > 0
    assert np.all(c.new_origin == Origin.BOT)
    t0 = tiny_base.world.t0
    assert np.all(c.new_created_at < t0) and np.all(c.new_created_at >= t0 - 3 * DAY)
    assert len(np.unique(c.new_device)) == int(np.ceil(c.n_new_accounts / 20))
    placed = tiny_base.place(c).new_device                 # fresh fingerprints, ids among
    assert not np.isin(placed, tiny_base.world.accounts.device).any()   # the organic ones
    assert placed.min() < tiny_base.world.accounts.device.max()
    views = c.value[c.kind == K.VIEW]
    dur = tiny_base.world.items.duration[c.item[c.kind == K.VIEW]]
    np.testing.assert_allclose(views, np.minimum(2.0 / dur, 1.0), rtol=1e-6)  # short views
    vb, order = _vb(c)
    assert vb[c.kind[order] == K.LIKE].all()  # each like follows the bot's view
    posted = np.maximum(t0, tiny_base.world.items.created_at[c.item])
    assert np.all(c.t - posted <= 2 * HOUR + 10)
    likes = c.kind == K.LIKE
    pairs = c.account[likes].astype(np.int64) * 10**6 + c.item[likes]
    assert np.unique(pairs).size == pairs.size  # one like per account per target
    n = c.n_actions(K.LIKE)
    assert c.spend == pytest.approx({"like_bot": n * cost.like_bot, "view_bot": n * cost.view_bot})


def test_api_exploit_likes_without_any_view_at_a_high_rate(tiny_base):
    c = _run(ATTACKS.get("api_exploit")(), tiny_base, 5.0)
    assert c.n_actions(K.VIEW) == 0 and c.n_actions(K.IMPRESSION) == 0
    assert c.n_actions(K.LIKE) == c.n_events > 0
    posted = np.maximum(tiny_base.world.t0, tiny_base.world.items.created_at[c.item])
    assert np.all(c.t - posted <= 10 * 60 + 2)
    assert np.all(c.new_origin == Origin.API)


def test_aged_bots_are_old_with_camouflage_and_own_farm_prices(tiny_base):
    c = _run(ATTACKS.get("aged_bots")(), tiny_base, 4.0)
    t0 = tiny_base.world.t0
    assert c.n_new_accounts > 0 and np.all(t0 - c.new_created_at >= 90 * DAY)
    on_targets = np.isin(c.item, tiny_base.targets)
    camo = ~on_targets & (c.kind == K.LIKE)
    assert camo.sum() >= c.n_new_accounts  # camouflage likes on other items
    # ... before the window: an account arrives with the viewing history of the established
    # account it mirrors (none if that one was silent)
    before = c.t < t0
    assert before.any() and not on_targets[before].any()
    first = tiny_base.observation_at_start().n_accounts
    h = tiny_base.world.history
    with_past = np.isin(c.life.templates, h.account[h.kind == K.VIEW])
    viewed = np.isin(first + np.arange(c.n_new_accounts), c.account[before & (c.kind == K.VIEW)])
    np.testing.assert_array_equal(viewed, with_past)
    assert with_past.mean() > 0.5
    views = c.value[c.kind == K.VIEW]
    assert views.mean() > 0.3  # realistic completion, not 2 s
    assert list(c.spend) == ["account_aged (amortised)"]  # per account, never per action too
    assert c.spend_total == pytest.approx(c.n_new_accounts * CostModel().account_aged / 50)


def test_ring_members_are_real_creators_around_the_targets(tiny_base):
    c = _run(ATTACKS.get("mutual_like_ring")(), tiny_base, 3.0)
    items = tiny_base.world.items
    assert c.n_new_accounts == 0 and c.shadow_priced
    assert set(items.creator[tiny_base.targets]) <= set(c.recruited.tolist())
    assert np.all(c.recruited < len(tiny_base.world.accounts))
    on_target = np.isin(c.item, tiny_base.targets) & (c.kind == K.LIKE)
    assert not np.any(c.account[on_target] == items.creator[c.item[on_target]])  # no self-likes
    assert c.spend_total == pytest.approx(on_target.sum() * CostModel().crowd_task)
    assert (~np.isin(c.item, tiny_base.targets) & (c.kind == K.LIKE)).any()  # reciprocity


def test_task_crowd_uses_recruited_workers_in_task_bursts(tiny_base):
    c = _run(ATTACKS.get("task_crowd")(), tiny_base, 3.0)
    assert c.n_new_accounts == 0 and np.all(c.recruited < len(tiny_base.world.accounts))
    assert set(np.unique(c.account)) <= set(c.recruited.tolist())
    posted = np.maximum(tiny_base.world.t0, tiny_base.world.items.created_at[c.item])
    since = (c.t - posted) / HOUR
    in_burst = np.zeros(since.size, bool)
    for k in range(4):
        in_burst |= (since >= 3 * k) & (since < 3 * k + 1.5)
    assert in_burst.mean() > 0.9
    assert c.spend == pytest.approx({"crowd_task": c.n_actions(K.LIKE) * CostModel().crowd_task})


def test_engagement_service_is_deep_and_interest_matched(tiny_base):
    c = _run(ATTACKS.get("engagement_service")(), tiny_base, 30.0)
    w = tiny_base.world
    assert c.n_actions(K.COMMENT) > 0 and c.n_actions(K.SHARE) > 0
    assert np.all(c.value[c.kind == K.VIEW] == 1.0)  # full completion
    assert np.all(w.accounts.topic[c.account] == w.items.topic[c.item])
    organic = w.history.value[w.history.kind == K.COMMENT]
    assert set(c.value[c.kind == K.COMMENT].tolist()) <= set(organic.tolist())


def test_mass_report_targets_good_posts_with_negative_feedback(tiny_base):
    r = ATTACKS.get("mass_report")()
    assert r.goal == "demote"
    c = _run(r, tiny_base, 3.0)
    q = tiny_base.world.truth.quality
    assert np.all(q[c.targets] >= np.quantile(q, 0.8))
    assert c.n_actions(K.LIKE) == 0 and c.n_actions(K.NOT_INTERESTED) > 0
    assert c.n_actions(K.REPORT) > 0


def test_under_cap_pacing_stays_below_the_cap(tiny_base):
    r = Recipe("capped", FRESH_BOTS, SignalMix(), UnderCap(cap=2, cap_hours=1.0))
    c = _run(r, tiny_base, 5.0)
    likes = c.kind == K.LIKE
    for a in np.unique(c.account[likes])[:50]:
        t = np.sort(c.t[likes & (c.account == a)])
        # no window of an hour holds more than 2 of this account's likes
        assert np.all(np.searchsorted(t, t + HOUR, side="left") - np.arange(t.size) <= 2)


def test_cold_start_pacing_concentrates_in_the_first_hours(tiny_base):
    r = Recipe("ignite", FRESH_BOTS, SignalMix(), ColdStart(hours=1.0))
    c = _run(r, tiny_base, 5.0)
    posted = np.maximum(tiny_base.world.t0, tiny_base.world.items.created_at[c.item])
    assert np.median(c.t - posted) < HOUR and np.all(c.t < tiny_base.world.t0 + 12 * HOUR + 60)


@pytest.mark.parametrize("kw, match", [(dict(targets=[]), "targets"), (dict(budget=-1.0), "budget"),
                                       (dict(targets=[10**6]), "targets"),
                                       (dict(window=(5.0, 5.0)), "window")])
def test_attack_arguments_validated(kw, match, tiny_base):
    obs = tiny_base.observation_at_start()
    args = dict(targets=tiny_base.targets, budget=1.0, window=(obs.now, obs.now + 1))
    args.update(kw)
    with pytest.raises(InvalidParameter, match=match):
        ATTACKS.get("bot_farm")()(obs, args["targets"], args["budget"], args["window"], 0)


@pytest.mark.parametrize("make, match", [
    (lambda: CostModel(like_bot=0.0), "like_bot"),
    (lambda: SignalMix(view="stare"), "view"),
    (lambda: SignalMix(like=1.5), "like"),
    (lambda: SignalMix(view="none", like=0.0), "must do something"),
    (lambda: Burst(hours=0.0), "hours"),
    (lambda: PACINGS.get("sometimes"), "Unknown pacing 'sometimes'"),
    (lambda: Supplier("x", Origin.CROWD, accounts="crowd", pricing="own_farm"), "own farm"),
])
def test_parts_validate(make, match):
    with pytest.raises(InvalidParameter, match=match):
        make()


@pytest.mark.parametrize("tpa", [1, 2, 3])
def test_targets_per_account_splits_accounts_and_keeps_nesting(tiny_base, tpa):
    import dataclasses
    obs = tiny_base.observation_at_start()
    targets = tiny_base.targets
    w = tiny_base.world
    window = (w.t0, w.t0 + 12 * 3600.0)
    attack = dataclasses.replace(ATTACKS.get("bot_farm")(), targets_per_account=tpa)
    big = attack(obs, targets, 2.0, window, 5)
    small = attack(obs, targets, 0.5, window, 5)
    likes = big.kind == K.LIKE
    per_account = np.bincount(big.account[likes])[big.account[likes]]
    assert per_account.max() <= min(tpa, targets.size)
    assert big.spend_total <= 2.0 + 1e-9
    # nested budgets: the smaller campaign's actions are among the larger one's
    rows = lambda c: set(zip(c.t.tolist(), c.account.tolist(), c.item.tolist(),  # noqa: E731
                             c.kind.tolist()))
    assert 0 < small.n_events < big.n_events and rows(small) <= rows(big)
    plain = ATTACKS.get("bot_farm")()(obs, targets, 2.0, window, 5)
    if tpa >= targets.size:   # no split: bit-identical to the plain recipe
        assert np.array_equal(plain.account, big.account) and np.array_equal(plain.t, big.t)
    else:
        assert np.unique(big.account).size > np.unique(plain.account).size
