"""Query attackers (``query_rank``, ``query_score``): what-if copies, query budget, seeding."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from boostbench.attacks.query import Query, _ranks, what_if
from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K
from boostbench.metrics.rise import hours_in_top_k
from boostbench.observation import AGGREGATES, Observation
from boostbench.plugins import ATTACKS, RANKERS
from boostbench.rankers.base import rank_items
from boostbench.rankers.pipeline import build_ranker
from boostbench.simulate import closed_loop, replay
from boostbench.simulate.closed_loop import closed_loop_rounds


def _buy(base, attack, budget, seed=11):
    return attack(base.observation_at_start(), base.targets, budget, base.plan.attack_window,
                  seed)


class CountingLikes:
    """A plain callable ranker (as a user's ``module:attr`` would be) that records every
    observation it scores, in this instance and in a list shared by its copies."""

    name = "counting_likes"
    shared: list = []

    def __init__(self):
        self.mine = []

    def __call__(self, obs):
        self.mine.append(obs.stream)
        CountingLikes.shared.append(obs.stream)
        return obs.count(K.LIKE).astype(np.float64)


def test_registered_with_their_knowledge_level():
    assert ATTACKS.get("query_rank")().knowledge == "query_rank"
    assert ATTACKS.get("query_score")().knowledge == "query_score"
    assert ATTACKS.get("query_rank")().closed_loop_only


def test_what_if_is_a_copy_and_matches_a_fresh_observation(tiny_base):
    obs = tiny_base.observation_at_start()
    before = [c.copy() for c in obs.events]
    n = obs.n_events
    target = int(tiny_base.targets[0])
    acc = np.array([3, 3, 3, 4], np.int64)
    cols = (np.array([obs.now - 50, obs.now - 49, obs.now - 40, obs.now - 30]), acc,
            np.full(4, target), np.array([K.VIEW, K.LIKE, K.COMMENT, K.LIKE], np.int8),
            np.array([0.9, 0.0, 25.0, 0.0]))
    for name in AGGREGATES:            # carried over from the real observation's cache
        obs.aggregate(name)
    view = what_if(obs, cols, np.array([False, True, True, False]))
    assert view.stream is not obs.stream and view.n_events == n + 4
    assert obs.n_events == n and all(np.array_equal(a, b) for a, b in zip(obs.events, before))
    fresh = Observation(obs.items, obs.accounts, view.stream, obs.now,
                        eligibility_hours=obs.eligibility_hours)
    assert np.array_equal(fresh.viewed_before(), view.viewed_before())
    for name in AGGREGATES:
        assert np.allclose(fresh.aggregate(name), view.aggregate(name), rtol=1e-12, atol=1e-9)
    with pytest.raises(InvalidParameter, match="now"):
        what_if(obs, (cols[0] + 100, *cols[1:]), np.zeros(4, bool))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=40), st.data())
def test_ranks_are_the_feeds_mid_ranks(values, data):
    scores = np.array(values, np.float64)
    eligible = np.array(data.draw(st.lists(st.booleans(), min_size=len(values),
                                           max_size=len(values))))
    idx = np.arange(len(values))
    expect = rank_items(scores, eligible)
    assert np.array_equal(_ranks(scores, eligible, idx), expect, equal_nan=True)


@pytest.mark.parametrize("name", ["query_rank", "query_score"])
def test_the_real_ranker_never_sees_a_what_if_and_the_budget_holds(name, tiny_base):
    CountingLikes.shared.clear()
    ranker = CountingLikes()
    attack = ATTACKS.get(name)()
    tr = closed_loop(tiny_base, ranker, _buy(tiny_base, attack, 2.0))
    real = {id(s) for s in ranker.mine}
    assert len(real) == 1                               # only the run's own stream
    asked = [s for s in CountingLikes.shared if id(s) not in real]
    assert 0 < len(asked) <= tr.queries <= attack.queries   # what-ifs: on copies, counted
    assert 0 < tr.spend <= 2.0 + 1e-9
    clean = closed_loop(tiny_base, ranker)
    assert np.mean(hours_in_top_k(tr)) > np.mean(hours_in_top_k(clean))


def _rounds(base, ranker, campaign):
    """The attacker's per-round notes (read while the run's log is alive)."""
    gen, notes = closed_loop_rounds(base, ranker, campaign), None
    try:
        while True:
            info = next(gen)
            notes = campaign.policy.state_of(info.log) or notes
    except StopIteration as stop:
        return stop.value, notes.rounds


def test_the_query_budget_is_respected_then_it_buys_blind(tiny_base):
    ranker = RANKERS.get("like_count")()
    for q in (1, 3, 7):
        tr = closed_loop(tiny_base, ranker, _buy(tiny_base, Query(queries=q), 2.0))
        assert tr.queries == q
    tr, rounds = _rounds(tiny_base, ranker, _buy(tiny_base, Query(queries=20), 20.0))
    assert tr.queries == 20 and rounds[-1]["queries_after"] == 20
    blind = [r for r in rounds if r.get("blind")]
    assert blind and all(r["bought"] == blind[0]["bought"] for r in blind)
    assert blind[0]["bought"] is not None       # out of queries: its last purchase again


@pytest.mark.parametrize("name", ["query_rank", "query_score"])
def test_deterministic_per_seed(name, tiny_base):
    ranker = build_ranker("real_interaction+device_dedup+lockstep")
    attack = ATTACKS.get(name)()
    a = closed_loop(tiny_base, ranker, _buy(tiny_base, attack, 1.0, seed=3))
    b = closed_loop(tiny_base, ranker, _buy(tiny_base, attack, 1.0, seed=3))
    assert np.array_equal(a.ranks, b.ranks, equal_nan=True)
    assert np.array_equal(a.exposure, b.exposure)
    assert a.queries == b.queries and a.spend_items == b.spend_items


def test_zero_budget_is_the_clean_run_and_replay_is_refused(tiny_base):
    ranker = build_ranker("real_interaction+device_dedup+lockstep")
    c = _buy(tiny_base, ATTACKS.get("query_score")(), 0.0)
    assert c.policy is None and c.n_events == 0 and c.n_new_accounts == 0
    a, b = closed_loop(tiny_base, ranker), closed_loop(tiny_base, ranker, c)
    assert np.array_equal(a.ranks, b.ranks, equal_nan=True) and b.queries == 0
    with pytest.raises(InvalidParameter, match="closed loop"):
        replay(tiny_base, ranker, _buy(tiny_base, ATTACKS.get("query_rank")(), 1.0))


def test_finds_the_deep_mix_a_rate_ranker_falls_to(tiny_base):
    """Against real_interaction (a rate per view) cheap likes do not reach the top k; the
    equal-money probe finds deep engagement from aged accounts, which does."""
    ranker = RANKERS.get("real_interaction")()
    tr = closed_loop(tiny_base, ranker, _buy(tiny_base, Query(feedback="rank"), 2.0))
    assert np.mean(hours_in_top_k(tr)) > 1.0
    assert any(k.startswith("account_aged") for k in tr.spend_items)


@pytest.mark.parametrize("kw, needle", [
    ({"queries": 0}, "queries"), ({"feedback": "gradient"}, "feedback"),
    ({"probe_share": 0.0}, "probe_share"), ({"suppliers": ("api_client",),
                                             "mixes": ("deep",)}, "mixes"),
    ({"suppliers": ("paid_crowd",)}, "suppliers")])
def test_bad_parameters_name_themselves(kw, needle, tiny_base):
    with pytest.raises(InvalidParameter, match=needle):
        _buy(tiny_base, Query(**kw), 1.0)


def test_a_policy_without_a_query_refuses(tiny_base):
    c = _buy(tiny_base, Query(), 1.0)
    obs = tiny_base.observation_at_start()
    with pytest.raises(InvalidParameter, match="query"):
        c.policy(obs, *tiny_base.plan.attack_window)
