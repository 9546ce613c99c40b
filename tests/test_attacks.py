import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostbench.attacks import BotFarm, CostModel, MutualLikeRing, TaskCrowd
from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K
from boostbench.plugins import ATTACKS
from boostbench.world import HOUR, Origin


def _run(attack, base, budget, seed=0, cost=CostModel()):
    obs = base.observation_at_start()
    t0 = base.world.t0
    return attack(obs, base.targets, budget, (t0, t0 + 12 * HOUR), np.random.default_rng(seed),
                  cost)


@pytest.mark.parametrize("name", ATTACKS.names())
def test_zero_budget_emits_nothing(name, tiny_base):
    c = _run(ATTACKS.get(name)(), tiny_base, 0.0)
    assert c.n_events == 0 and c.n_new_accounts == 0 and c.spend_total == 0.0


@pytest.mark.parametrize("name", ATTACKS.names())
@settings(max_examples=15)
@given(budget=st.floats(0, 60), seed=st.integers(0, 1000))
def test_spend_never_exceeds_budget_and_is_itemised(name, budget, seed, tiny_base):
    c = _run(ATTACKS.get(name)(), tiny_base, budget, seed)
    assert 0 <= c.spend_total <= budget + 1e-9
    assert all(v >= 0 for v in c.spend.values())
    # acts only on its targets' window and after each target was posted
    items = tiny_base.world.items
    assert np.all(c.t >= tiny_base.world.t0)
    assert np.all(c.t >= items.created_at[c.item] - 1e-9)


@pytest.mark.parametrize("name", ATTACKS.names())
@settings(max_examples=10)
@given(b1=st.floats(0, 30), extra=st.floats(0, 30))
def test_more_budget_never_fewer_fake_likes(name, b1, extra, tiny_base):
    small = _run(ATTACKS.get(name)(), tiny_base, b1)
    large = _run(ATTACKS.get(name)(), tiny_base, b1 + extra)
    assert large.n_actions(K.LIKE) >= small.n_actions(K.LIKE)


@pytest.mark.parametrize("name", ATTACKS.names())
def test_every_like_is_preceded_by_a_view(name, tiny_base):
    """All three skeleton attacks view before liking (the API exploit will not)."""
    from boostbench.observation import viewed_before
    c = _run(ATTACKS.get(name)(), tiny_base, 20.0)
    order = np.argsort(c.t, kind="stable")
    vb = viewed_before(c.account[order], c.item[order], c.kind[order], 10**6)
    assert vb[c.kind[order] == K.LIKE].all()


def test_attacks_do_not_mutate_the_observation(tiny_base):
    obs = tiny_base.observation_at_start()
    before = [c.copy() for c in obs.events]
    for name in ATTACKS.names():
        ATTACKS.get(name)()(obs, tiny_base.targets, 20.0, (obs.now, obs.now + HOUR), 0)
    for a, b in zip(before, obs.events):
        np.testing.assert_array_equal(a, b)


def test_bot_farm_signature(tiny_base):
    c = _run(BotFarm(accounts_per_device=10), tiny_base, 10.0)
    cost = CostModel()
    per_target = int(10.0 / 3 / (cost.like_bot + cost.view_bot))
    assert c.n_actions(K.LIKE) == 3 * per_target == c.n_actions(K.VIEW)
    assert c.n_new_accounts == per_target
    assert np.all(c.new_origin == Origin.BOT)
    t0 = tiny_base.world.t0
    assert np.all(c.new_created_at < t0) and np.all(c.new_created_at > t0 - 3.01 * 24 * HOUR)
    assert len(np.unique(c.new_device)) == int(np.ceil(per_target / 10))
    assert c.new_device.min() > tiny_base.world.accounts.device.max()  # fresh fingerprints
    views = c.value[c.kind == K.VIEW]
    dur = tiny_base.world.items.duration[c.item[c.kind == K.VIEW]]
    np.testing.assert_allclose(views, np.minimum(2.0 / dur, 1.0), rtol=1e-6)  # short views
    # burst: everything within the first two hours after each target is posted
    posted = np.maximum(t0, tiny_base.world.items.created_at[c.item])
    assert np.all(c.t - posted <= 2 * HOUR + 60)
    # one like per bot per target
    likes = c.kind == K.LIKE
    pairs = c.account[likes].astype(np.int64) * 10**6 + c.item[likes]
    assert np.unique(pairs).size == pairs.size
    assert c.spend == pytest.approx({"like_bot": c.n_actions(K.LIKE) * cost.like_bot,
                                     "view_bot": c.n_actions(K.LIKE) * cost.view_bot})


def test_ring_members_are_real_creators_around_the_targets(tiny_base):
    c = _run(MutualLikeRing(), tiny_base, 3.0)
    items = tiny_base.world.items
    assert c.n_new_accounts == 0 and c.shadow_priced
    assert set(items.creator[tiny_base.targets]) <= set(c.recruited.tolist())
    assert np.all(c.recruited < len(tiny_base.world.accounts))
    on_target = np.isin(c.item, tiny_base.targets) & (c.kind == K.LIKE)
    assert not np.any(c.account[on_target] == items.creator[c.item[on_target]])  # no self-likes
    assert c.spend_total == pytest.approx(on_target.sum() * CostModel().crowd_task)
    assert (np.isin(c.item, tiny_base.targets, invert=True) & (c.kind == K.LIKE)).any()  # reciprocity


def test_task_crowd_uses_recruited_organic_workers_in_task_bursts(tiny_base):
    c = _run(TaskCrowd(n_tasks=2, task_interval_hours=5.0), tiny_base, 6.0)
    assert c.n_new_accounts == 0 and np.all(c.recruited < len(tiny_base.world.accounts))
    assert set(np.unique(c.account)) <= set(c.recruited.tolist())
    posted = np.maximum(tiny_base.world.t0, tiny_base.world.items.created_at[c.item])
    since = (c.t - posted) / HOUR
    # two bursts: right after each task release
    assert np.mean((since < 2) | ((since >= 5) & (since < 7))) > 0.9
    assert c.spend == pytest.approx({"crowd_task": c.n_actions(K.LIKE) * CostModel().crowd_task})


@pytest.mark.parametrize("kw, match", [(dict(targets=[]), "targets"), (dict(budget=-1.0), "budget"),
                                       (dict(targets=[10**6]), "targets"),
                                       (dict(window=(5.0, 5.0)), "window")])
def test_attack_arguments_validated(kw, match, tiny_base):
    obs = tiny_base.observation_at_start()
    args = dict(targets=tiny_base.targets, budget=1.0, window=(obs.now, obs.now + 1))
    args.update(kw)
    with pytest.raises(InvalidParameter, match=match):
        BotFarm()(obs, args["targets"], args["budget"], args["window"], 0)


def test_cost_model_validation():
    with pytest.raises(InvalidParameter, match="like_bot"):
        CostModel(like_bot=0.0)
