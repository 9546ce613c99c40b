import numpy as np
import pytest

from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K
from boostbench.plugins import ATTACKS, METRICS, RANKERS
from boostbench.simulate import closed_loop, replay
from boostbench._core.units import HOUR


def _buy(base, budget, **kw):
    attack = ATTACKS.get("top_up")(**kw) if kw else ATTACKS.get("top_up")()
    w = base.world
    window = base.plan.attack_window
    return attack(base.observation_at_start(), base.targets, budget, window, 11)


def test_zero_budget_is_the_clean_run(tiny_base):
    ranker = RANKERS.get("like_count")()
    c = _buy(tiny_base, 0.0)
    assert c.policy is None and c.n_events == 0
    a, b = closed_loop(tiny_base, ranker), closed_loop(tiny_base, ranker, c)
    assert np.array_equal(a.ranks, b.ranks, equal_nan=True)
    assert np.array_equal(a.exposure, b.exposure)


def test_tops_up_to_the_visible_top_k_cheaply_and_within_budget(tiny_base):
    ranker = RANKERS.get("like_count")()
    clean = closed_loop(tiny_base, ranker)
    tr = closed_loop(tiny_base, ranker, _buy(tiny_base, 2.0))
    truth = tiny_base.world.truth
    assert METRICS.get("hit_rate_at_k")(tr, clean, truth) == 1.0
    assert 0 < tr.spend <= 2.0
    assert tr.spend < 0.5          # it buys what the public counts say is needed, not the budget
    assert set(tr.spend_items) == {"view_bot", "like_bot"}
    assert tr.spend_items["like_bot"] == pytest.approx(tr.fake_actions * 0.0015)


def test_a_smaller_budget_buys_a_prefix_and_stops(tiny_base):
    ranker = RANKERS.get("like_count")()
    small, big = (closed_loop(tiny_base, ranker, _buy(tiny_base, b)) for b in (0.01, 2.0))
    assert small.spend <= 0.01 + 1e-12 and small.fake_actions <= big.fake_actions
    assert small.fake_actions == int(0.01 // 0.002)   # view + like bundles it could afford


def test_only_acts_in_the_attack_window_and_never_likes_twice(tiny_base):
    from boostbench.simulate import closed_loop_rounds
    ranker = RANKERS.get("like_count")()
    c = _buy(tiny_base, 2.0)
    run = closed_loop_rounds(tiny_base, ranker, c)
    log = None
    for info in run:
        log = info.log
    t, acc, item, kind, _ = log.columns()
    mine = np.isin(acc, tiny_base.place(c).new_rows)   # the pool's accounts, as placed
    w = tiny_base.world
    assert t[mine].min() >= w.t0
    assert t[mine].max() < tiny_base.plan.attack_window[1]
    likes = mine & (kind == K.LIKE)
    pairs = acc[likes].astype(np.int64) * len(w.items) + item[likes]
    assert np.unique(pairs).size == pairs.size
    assert np.isin(item[mine], tiny_base.targets).all()


def test_needs_the_closed_loop_and_checks_its_parameters(tiny_base):
    with pytest.raises(InvalidParameter, match="closed loop"):
        replay(tiny_base, RANKERS.get("like_count")(), _buy(tiny_base, 1.0))
    with pytest.raises(InvalidParameter, match="'margin' parameter of TopUp"):
        ATTACKS.get("top_up")(margin=0.5)


def test_an_own_farm_pays_to_replace_banned_accounts(tiny_base):
    from boostbench.attacks import CostModel
    from boostbench.rankers import build_ranker
    metric = METRICS.get("ban_replacement_cost")
    aged = ATTACKS.get("aged_bots")()
    window = tiny_base.plan.attack_window
    c = aged(tiny_base.observation_at_start(), tiny_base.targets, 2.0, window, 3)
    cost = CostModel()
    oracle = build_ranker("like_count+calibrated_detector")   # tpr 0.8, fpr 0.001
    tr = closed_loop(tiny_base, oracle, c)
    banned = int(np.isfinite(tr.defence.banned_at[tiny_base.place(c).new_rows]).sum())
    assert banned > 0
    per = cost.account_aged * (1 - 1 / aged.supplier.uses)
    assert metric(tr, None, None) == pytest.approx(banned * per)
    bare = closed_loop(tiny_base, RANKERS.get("like_count")(), c)
    assert metric(bare, None, None) == 0.0          # no bans, nothing to replace
    farm = ATTACKS.get("bot_farm")()                # a service replaces its own accounts
    cf = farm(tiny_base.observation_at_start(), tiny_base.targets, 2.0, window, 3)
    tf = closed_loop(tiny_base, oracle, cf)
    assert np.isfinite(tf.defence.banned_at[tiny_base.place(cf).new_rows]).any()
    assert metric(tf, None, None) == 0.0
