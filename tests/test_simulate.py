import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostbench.attacks.bots import bot_farm as BotFarm
from boostbench.plugins import ATTACKS, RANKERS
from boostbench.report import _clean, _default
from boostbench.runner import RunSpec, run_seed
from boostbench.simulate import replay
from boostbench._core.units import HOUR


def _campaign(base, name, budget, seed=0):
    obs = base.observation_at_start()
    t0 = base.world.t0
    return ATTACKS.get(name)()(obs, base.targets, budget, base.plan.attack_window,
                               np.random.default_rng(seed))


@settings(max_examples=12)
@given(ranker=st.sampled_from(RANKERS.names()), attack=st.sampled_from(ATTACKS.names()),
       budget=st.sampled_from([0.0, 1e-6, 0.001]), seed=st.integers(0, 100))
def test_zero_budget_attack_reproduces_clean_twin_exactly(ranker, attack, budget, seed, tiny_base):
    r = RANKERS.get(ranker)()
    clean = replay(tiny_base, r)
    c = _campaign(tiny_base, attack, budget, seed)
    assert c.n_events == 0
    att = replay(tiny_base, r, c)
    np.testing.assert_array_equal(att.ranks, clean.ranks)
    np.testing.assert_array_equal(att.exposure, clean.exposure)
    assert att.spend == 0.0


def test_attack_changes_the_ranking_and_leaves_organic_exposure_alone(tiny_base):
    r = RANKERS.get("like_count")()
    clean = replay(tiny_base, r)
    att = replay(tiny_base, r, _campaign(tiny_base, "bot_farm", 10.0))
    ev = tiny_base.plan.eval_round
    assert np.all(att.ranks[ev, tiny_base.targets] < clean.ranks[ev, tiny_base.targets])
    np.testing.assert_array_equal(att.exposure, clean.exposure)  # replay: organic is fixed
    assert att.spend > 0 and att.fake_actions > 0


def test_trajectory_shape_and_eligibility(tiny_base):
    sc = tiny_base.plan
    tr = replay(tiny_base, RANKERS.get("like_count")())
    assert tr.ranks.shape == (sc.n_rounds, len(tiny_base.world.items))
    created = tiny_base.world.items.created_at
    for r, now in enumerate(tr.round_times):
        elig = (created <= now) & (created > now - sc.eligibility_hours * HOUR)
        assert np.array_equal(np.isfinite(tr.ranks[r]), elig)
        n = elig.sum()
        assert np.sort(tr.ranks[r][elig]).sum() == pytest.approx(n * (n + 1) / 2)


def test_rankers_never_receive_truth(tiny_base):
    seen = []

    class Spy:
        name = "spy"

        def __call__(self, obs):
            seen.append(obs)
            return np.zeros(obs.n_items)
    replay(tiny_base, Spy(), _campaign(tiny_base, "bot_farm", 5.0))
    from boostbench.observation import Observation
    assert seen and all(type(o) is Observation for o in seen)
    # campaign accounts are visible as accounts (the platform sees them), not as fakes
    assert seen[-1].n_accounts > len(tiny_base.world.accounts)


def test_same_seed_same_records(tiny_scenario):
    spec = RunSpec(tiny_scenario, (RANKERS.get("like_count")(), RANKERS.get("real_interaction")()),
                   (BotFarm(), ATTACKS.get("task_crowd")()), (3,), 5.0)
    dump = lambda recs: json.dumps(_clean(recs), default=_default, sort_keys=True)  # noqa: E731
    a, b = run_seed(spec, 3)[0], run_seed(spec, 3)[0]
    assert dump(a) == dump(b)
    assert dump(a) != dump(run_seed(spec, 4)[0])
    assert {r["attack"] for r in a} == {"bot_farm", "task_crowd"} and len(a) == 4


def test_ring_lifts_the_other_members_posts_too(tiny_scenario):
    spec = RunSpec(tiny_scenario, (RANKERS.get("like_count")(),),
                   (ATTACKS.get("mutual_like_ring")(), ATTACKS.get("bot_farm")()), (0,), 2.0)
    recs = {r["attack"]: r for r in run_seed(spec, 0)[0]}
    ring = recs["mutual_like_ring"]
    assert ring["side_items"] > 0 and ring["side_rank_lift"] > 0
    assert recs["bot_farm"]["side_items"] == 0  # bots touch only the targets
