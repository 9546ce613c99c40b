"""Pipeline(*defences, scorer): composition, schedules, bans, penalties, per-stream state,
and defended rankers in the closed loop."""

import dataclasses
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K, EventLog
from boostbench.observation import AGGREGATES, Observation
from boostbench.plugins import DEFENCES
from boostbench.rankers import LikeCount, Pipeline, RealInteraction, build_ranker, rank_items
from boostbench.rankers.defences import (AccountTrust, AudienceDiversity, CalibratedDetector,
                                         Detection, DeviceDedup, Lockstep, RequireView, Schedule,
                                         VelocityCap)
from boostbench.simulate import closed_loop, fake_accounts, replay
from boostbench.world import Accounts, Items
from boostbench._core.units import DAY, HOUR
from helpers import make_campaign


def build_obs(events, *, n_items=3, n_accounts=5, now=None, item_created=None, device=None):
    item_created = np.zeros(n_items) if item_created is None else np.asarray(item_created, float)
    items = Items(item_created, np.zeros(n_items, np.int32), np.zeros(n_items, np.int16),
                  np.full(n_items, 10.0, np.float32))
    device = np.arange(n_accounts) if device is None else np.asarray(device)
    accounts = Accounts(np.full(n_accounts, -100 * DAY), device.astype(np.int32),
                        np.zeros(n_accounts, np.int16))
    log = EventLog.from_arrays(*(np.asarray(c) for c in zip(*events))) if events else EventLog()
    now = (max(e[0] for e in events) + 1.0 if events else 0.0) if now is None else now
    return Observation(items, accounts, log, now)


def at(obs, n=None, now=None):
    """Another view of the same stream: its first ``n`` events, or the events up to ``now``."""
    if now is not None:
        return obs.prefix(now)
    return Observation(obs.items, obs.accounts, obs.stream, obs.now, n=n)


def like(t, a, i):
    return (t, a, i, K.LIKE, 0.0)


class Spy:
    """A batch defence that records its runs and flags fixed accounts / items."""

    name = "spy"

    def __init__(self, every=2.0, lag=0.0, accounts=(), items=(), action="ban", clawback=False,
                 when_seen=False):
        self.schedule = Schedule("batch", every_hours=every, lag_hours=lag)
        self.action, self.clawback = action, clawback
        self.accounts, self.items = np.asarray(accounts, np.int64), np.asarray(items, np.int64)
        self.when_seen = when_seen
        self.calls = []

    def detect(self, obs):
        self.calls.append((obs.now, obs.n_events))
        a = self.accounts
        if self.when_seen:  # flag an account only once one of its events is in the data
            a = a[np.isin(a, obs.events[1])]
        return Detection(accounts=a, items=self.items)


class Fixed:
    """A scorer with fixed scores."""

    name = "fixed"

    def __init__(self, scores):
        self.scores = np.asarray(scores, float)

    def __call__(self, obs):
        return self.scores.copy()


# --- construction ----------------------------------------------------------------------

def test_name_and_repr():
    p = Pipeline(VelocityCap(), RequireView(), RealInteraction())
    assert p.name == "real_interaction+velocity_cap+require_view"
    assert Pipeline(LikeCount()).name == "like_count"
    assert Pipeline(VelocityCap(), LikeCount(), name="mine").name == "mine"
    assert "VelocityCap" in repr(p)
    assert p.defences[0].name == "velocity_cap" and p.scorer.name == "real_interaction"


def test_bad_parts_raise():
    with pytest.raises(InvalidParameter, match="scorer"):
        Pipeline()
    with pytest.raises(InvalidParameter, match="ranker"):
        Pipeline(LikeCount(), VelocityCap())          # the scorer comes last
    with pytest.raises(InvalidParameter, match="not a defence"):
        Pipeline("velocity_cap", LikeCount())
    with pytest.raises(InvalidParameter, match="not a defence"):
        Pipeline(LikeCount(), LikeCount())            # a ranker is no defence

    class NoDetect:
        name, schedule, action = "x", Schedule("batch", every_hours=1.0), "ban"

    with pytest.raises(InvalidParameter, match="not a defence"):
        Pipeline(NoDetect(), LikeCount())
    with pytest.raises(InvalidParameter, match="ban accounts or penalise"):
        Pipeline(Spy(action="discount"), LikeCount())


def test_build_ranker():
    p = build_ranker("like_count+velocity_cap")
    assert isinstance(p, Pipeline) and p.name == "like_count+velocity_cap"
    assert isinstance(p.defences[0], VelocityCap) and isinstance(p.scorer, LikeCount)
    assert isinstance(build_ranker(" like_count "), LikeCount)
    p = build_ranker("real_interaction + device_dedup + lockstep")
    assert p.name == "real_interaction+device_dedup+lockstep"
    for name in DEFENCES.names():
        assert build_ranker(f"like_count+{name}").name == f"like_count+{name}"
    with pytest.raises(InvalidParameter) as e:
        build_ranker("no_such_scorer+velocity_cap")
    assert "like_count" in str(e.value) and "no_such_scorer" in str(e.value)
    with pytest.raises(InvalidParameter) as e:
        build_ranker("like_count+no_such_defence")
    for name in DEFENCES.names():
        assert name in str(e.value)
    for bad in ("", "like_count+", "like_count++velocity_cap",
                "like_count+velocity_cap+velocity_cap"):
        with pytest.raises(InvalidParameter):
            build_ranker(bad)


# --- weights and aggregates ------------------------------------------------------------------

def _stream(seed=0, n=400, n_acc=12, n_items=6, hours=30.0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, hours * HOUR, n))
    ev = [(float(t[j]), int(rng.integers(n_acc)), int(rng.integers(n_items)),
           int(rng.choice([0, 1, 1, 2, 2, 3, 4, 5])), 0.5) for j in range(n)]
    return build_obs(ev, n_items=n_items, n_accounts=n_acc, now=hours * HOUR,
                     device=np.arange(n_acc) // 2)


def test_weighted_aggregates_match_a_fresh_computation():
    obs = _stream()
    parts = (VelocityCap(max_actions=2), RequireView(), AccountTrust(), DeviceDedup(),
             Spy(every=4.0, lag=1.0, accounts=[3], clawback=True, when_seen=True),
             Spy(every=5.0, accounts=[5], when_seen=True))
    p = Pipeline(*parts, LikeCount())
    for now in np.arange(1, 31) * HOUR:
        sub = at(obs, now=now)
        wobs = p.weighted(sub)
        direct = sub.with_weights(p.audit(sub).weight)
        for name in AGGREGATES:
            np.testing.assert_allclose(wobs.aggregate(name), direct.aggregate(name), atol=1e-9)
        np.testing.assert_array_equal(p(sub), LikeCount()(direct))


def test_base_weights_are_kept():
    obs = _stream(1, n=60)
    base = np.where(np.arange(obs.n_events) % 3 == 0, 0.5, 1.0).astype(np.float32)
    o = obs.with_weights(base)
    p = Pipeline(RequireView(), LikeCount())
    w = p.audit(o).weight
    np.testing.assert_array_equal(w, base * Pipeline(RequireView(), LikeCount()).audit(obs).weight)


def test_base_weights_that_change_are_not_stale():
    """The same stream seen with other weights (or a pipeline nested in one whose clawback
    lowers old events) recomputes; the incremental state used to keep the old weights."""
    ev = [like(h * HOUR, 1, 0) for h in range(1, 12)] + [like(h * HOUR + 1, 2, 1)
                                                         for h in range(1, 12)]
    obs = build_obs(ev, now=12 * HOUR)
    q = Pipeline(VelocityCap(), LikeCount())
    assert q(obs).tolist() == [11, 11, 0]
    assert q(obs.with_weights(np.zeros(obs.n_events))).tolist() == [0, 0, 0]
    assert q(obs).tolist() == [11, 11, 0]
    half = np.full(obs.n_events, 0.5, np.float32)
    assert q(at(obs, n=10).with_weights(half[:10])).tolist() == [5 * 0.5, 5 * 0.5, 0]
    assert q(obs.with_weights(half)).tolist() == [5.5, 5.5, 0]

    def nested():
        return Pipeline(Spy(every=6.0, accounts=[1], clawback=True, when_seen=True),
                        Pipeline(VelocityCap(max_actions=5), LikeCount()))

    p = nested()
    for h in range(1, 13):
        s = p(at(obs, now=h * HOUR))
        np.testing.assert_array_equal(s, nested()(at(obs, now=h * HOUR)))
    assert s.tolist() == [0, 11, 0]


# --- penalties -------------------------------------------------------------------------------

def test_penalised_items_rank_below_every_unpenalised_eligible_item():
    created = [0, 0, 0, 0, 0, -200 * HOUR]   # item 5 is not eligible
    obs = build_obs([like(1.0, 0, 0)], n_items=6, now=10 * HOUR, item_created=created)
    p = Pipeline(Spy(items=[0, 2, 5], action="penalise"), Fixed([5, 4, 3, 2, 1, 10]))
    s = p(obs)
    assert rank_items(s, obs.eligible).tolist()[:5] == [4, 1, 5, 2, 3]
    assert s[5] == 10
    assert p.audit(obs).penalised.tolist() == [True, False, True, False, False, True]
    assert (p.audit(obs).weight == 1).all()  # penalising items leaves event weights alone


@settings(max_examples=60)
@given(scores=st.lists(st.floats(-1e18, 1e18), min_size=2, max_size=8), data=st.data())
def test_penalties_rank_below_and_keep_order_within_each_group(scores, data):
    """Strictly below, at any scale (scores past 2**53 used to tie the lowest unpenalised
    item); within each group the order is kept (ties may appear only by rounding)."""
    n = len(scores)
    pen = sorted(data.draw(st.sets(st.integers(0, n - 1))))
    obs = build_obs([like(1.0, 0, 0)], n_items=n, now=10 * HOUR)
    s = Pipeline(Spy(items=pen, action="penalise"), Fixed(scores))(obs)
    assert np.isfinite(s).all()
    m = np.isin(np.arange(n), pen)
    if m.any() and (~m).any():
        assert s[m].max() < s[~m].min()
    x = np.asarray(scores)
    for g in (m, ~m):
        xs, ss = x[g], s[g]
        assert (ss[:, None] <= ss[None, :])[xs[:, None] < xs[None, :]].all()
    assert (s[~m] == x[~m]).all()


def test_penalty_at_large_scale_by_hand():
    obs = build_obs([like(1.0, 0, 0)], n_items=3, now=10 * HOUR)
    s = Pipeline(Spy(items=[0], action="penalise"), Fixed([1e17, 0.0, 5.0]))(obs)
    assert rank_items(s, obs.eligible).tolist() == [3, 2, 1]


# --- batch schedules and bans ----------------------------------------------------------------

def test_batch_detector_runs_only_at_scheduled_times():
    ev = [like(h * HOUR, 0, 0) for h in range(13)]
    obs = build_obs(ev, now=12 * HOUR)
    spy = Spy(every=2.0, lag=1.0)
    p = Pipeline(spy, LikeCount())
    p(at(obs, now=5 * HOUR))            # first sight: one run, at the latest time (4 h)
    assert spy.calls == [(3 * HOUR, 4)]
    p(at(obs, now=5.5 * HOUR))          # no scheduled time passed
    assert len(spy.calls) == 1
    p(at(obs, now=9 * HOUR))            # runs at 6 h and 8 h, on data 1 h old
    assert spy.calls[1:] == [(5 * HOUR, 6), (7 * HOUR, 8)]
    p(at(obs, now=9.9 * HOUR))
    p(at(obs, now=10 * HOUR))
    assert spy.calls[3:] == [(9 * HOUR, 10)]
    p.audit(at(obs, now=10 * HOUR))     # looking again runs nothing
    assert len(spy.calls) == 4


@pytest.mark.parametrize("clawback", [False, True])
def test_bans_apply_from_the_run_on_or_to_everything_with_clawback(clawback):
    ev = [like(h * HOUR, 1, h % 3) for h in (1, 3, 5, 7)] + [like(h * HOUR, 2, 0) for h in (2, 6)]
    obs = build_obs(ev, now=8 * HOUR)
    spy = Spy(every=4.0, accounts=[1], clawback=clawback, when_seen=True)
    p = Pipeline(spy, LikeCount())
    # at 2 h the only run (at 0 h) sees no event of account 1: nothing is banned
    a = p.audit(at(obs, now=2 * HOUR))
    assert np.isinf(a.banned_at).all() and (a.weight == 1).all()
    a = p.audit(obs)                    # the run at 4 h bans account 1
    assert a.banned_at.tolist() == [np.inf, 4 * HOUR, np.inf, np.inf, np.inf]
    t, acc, *_ = obs.events
    expected = np.where((acc == 1) & ((t >= 4 * HOUR) | clawback), 0.0, 1.0)
    np.testing.assert_array_equal(a.weight, expected)
    assert p(obs).tolist() == [2.0, 0.0, 0.0] if clawback else [2.0, 1.0, 0.0]
    # a fresh pipeline seeing the whole stream at once runs only at 8 h
    b = Pipeline(Spy(every=4.0, accounts=[1], clawback=clawback, when_seen=True),
                 LikeCount()).audit(obs)
    assert b.banned_at[1] == 8 * HOUR


def test_events_after_a_ban_arrive_already_banned():
    ev = [like(h * HOUR, 1, 0) for h in range(1, 12)]
    obs = build_obs(ev, now=12 * HOUR)
    p = Pipeline(Spy(every=3.0, accounts=[1], when_seen=True), LikeCount())
    for h in range(1, 13):
        p(at(obs, now=h * HOUR))
    t = obs.events[0]
    np.testing.assert_array_equal(p.audit(obs).weight, np.where(t >= 3 * HOUR, 0.0, 1.0))


def test_earliest_ban_wins_across_detectors():
    ev = [like(h * HOUR, 1, 0) for h in range(1, 12)]
    obs = build_obs(ev, now=12 * HOUR)
    late, early = Spy(every=6.0, accounts=[1], when_seen=True), Spy(every=4.0, accounts=[1],
                                                                     when_seen=True)
    p = Pipeline(late, early, LikeCount())
    for h in range(1, 13):
        p(at(obs, now=h * HOUR))
    assert p.audit(obs).banned_at[1] == 4 * HOUR


# --- per-stream state ---------------------------------------------------------------------------

def _parts():
    return (VelocityCap(max_actions=2), DeviceDedup(), AudienceDiversity(), AccountTrust(),
            Lockstep(window_hours=1.0, min_items=2, min_group=2,
                     schedule=Schedule("batch", every_hours=3.0, lag_hours=1.0)))


def test_state_does_not_leak_between_streams():
    a, b, c = _stream(0), _stream(1, n=300), _stream(2, n=200)
    shared = Pipeline(*_parts(), LikeCount())
    own = {id(s.stream): Pipeline(*_parts(), LikeCount()) for s in (a, b, c)}
    # interleaved growing views of A and B (two streams fit in the pipeline's memory)
    for h in (5, 10, 15, 20, 25, 30):
        for s in (a, b):
            v = at(s, now=h * HOUR)
            np.testing.assert_array_equal(shared(v), own[id(s.stream)](v))
            np.testing.assert_array_equal(shared.audit(v).weight, own[id(s.stream)].audit(v).weight)
    # a third stream pushes A out; A seen again starts from scratch like a fresh pipeline
    shared(c)
    v = at(a, now=30 * HOUR)
    np.testing.assert_array_equal(shared(v), Pipeline(*_parts(), LikeCount())(v))
    np.testing.assert_array_equal(shared.audit(v).banned_at,
                                  Pipeline(*_parts(), LikeCount()).audit(v).banned_at)


def test_an_older_prefix_does_not_disturb_the_state():
    obs = _stream(3)
    p = Pipeline(*_parts(), LikeCount())
    full = p(obs)
    early = at(obs, n=100)
    np.testing.assert_array_equal(p(early), Pipeline(*_parts(), LikeCount())(early))
    np.testing.assert_array_equal(p(obs), full)


def test_pickling_drops_state():
    obs = _stream(4)
    spy = Spy(every=3.0, accounts=[2], when_seen=True, clawback=True)
    p = Pipeline(VelocityCap(max_actions=1), spy, LikeCount())
    before = p(at(obs, now=10 * HOUR))
    assert p._streams
    q = pickle.loads(pickle.dumps(p))
    assert not q._streams and p._streams        # the original keeps its own
    assert q.name == p.name and len(q.defences) == 2
    np.testing.assert_array_equal(q(at(obs, now=10 * HOUR)), before)
    # the copy's state is its own: it starts again from the latest scheduled run
    fresh = Pipeline(VelocityCap(max_actions=1), Spy(every=3.0, accounts=[2], when_seen=True,
                                                     clawback=True), LikeCount())
    np.testing.assert_array_equal(q(obs), fresh(obs))


# --- closed loop -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,attack", [
    ("like_count+velocity_cap", "bot_farm"),
    ("real_interaction+require_view+device_dedup+account_trust", "api_exploit"),
    ("like_count+lockstep+dense_block", "task_crowd"),
    ("like_count+audience_diversity+calibrated_detector", "mutual_like_ring"),
])
def test_zero_budget_with_defences_reproduces_the_clean_loop(spec, attack, tiny_base):
    clean = closed_loop(tiny_base, build_ranker(spec))
    att = closed_loop(tiny_base, build_ranker(spec), make_campaign(tiny_base, attack, 0.0))
    for f in ("ranks", "exposure", "engagement"):
        np.testing.assert_array_equal(getattr(att, f), getattr(clean, f))
    for f in ("weight", "banned_at", "penalised", "account", "t"):
        np.testing.assert_array_equal(getattr(att.defence, f), getattr(clean.defence, f))
    assert not att.defence.fake.any() and not clean.defence.fake.any()


def _check_record(tr, campaign, base):
    d = tr.defence
    assert d is not None
    c = base.place(campaign)          # the campaign's accounts on the world's reserved rows
    np.testing.assert_array_equal(d.fake_account, fake_accounts(d.fake_account.size, c))
    # the record's fake acts are exactly the campaign's acts delivered within the horizon
    keep = (c.kind != K.IMPRESSION) & (c.t >= base.world.t0) & (c.t < base.end)
    want = sorted(zip(c.t[keep].tolist(), c.account[keep].tolist(), c.item[keep].tolist(),
                      c.kind[keep].tolist()))
    got = sorted(zip(d.t[d.fake].tolist(), d.account[d.fake].tolist(), d.item[d.fake].tolist(),
                     d.kind[d.fake].tolist()))
    assert got == want
    assert d.fake_account[d.account[d.fake]].all()
    assert (d.kind != K.IMPRESSION).all() and (d.t >= d.t0).all()
    assert ((d.weight >= 0) & (d.weight <= 1)).all()
    # the collateral's denominator: the acts of the kinds the pipeline's defences weigh
    np.testing.assert_array_equal(d.weighed, np.isin(d.kind, [int(k) for k in tr_kinds(tr)]))
    return d


def tr_kinds(tr):
    return build_ranker(tr.ranker).kinds


def test_closed_loop_record_marks_the_campaign(tiny_base):
    c = make_campaign(tiny_base, "bot_farm", 2.0)
    tr = closed_loop(tiny_base, build_ranker("like_count+velocity_cap+lockstep"), c)
    d = _check_record(tr, c, tiny_base)
    assert d.fake.sum() > 0
    assert closed_loop(tiny_base, LikeCount()).defence is None
    # an oracle with a perfect operating point bans exactly the campaign's acting accounts
    tr = closed_loop(tiny_base, Pipeline(CalibratedDetector(tpr=1.0, fpr=0.0, latency_hours=1.0),
                                         LikeCount()), c)
    d = _check_record(tr, c, tiny_base)
    acting = np.unique(d.account[np.isin(d.kind, [K.LIKE, K.COMMENT, K.SHARE])])
    banned = np.flatnonzero(np.isfinite(d.banned_at))
    assert set(banned.tolist()) == set(acting[d.fake_account[acting]].tolist())


def test_oracle_latency_counts_from_the_first_act_in_the_window(tiny_base):
    """With the window start bound, recruited ring members are caught latency after their
    first campaign act, not at the first run because of their organic history."""
    from boostbench.plugins import METRICS
    c = make_campaign(tiny_base, "mutual_like_ring", 2.0)
    assert len(c.recruited)
    det = CalibratedDetector(tpr=1.0, fpr=0.0, latency_hours=6.0, since=tiny_base.world.t0)
    tr = closed_loop(tiny_base, Pipeline(det, LikeCount()), c)
    d = tr.defence
    # the clock starts at an account's first act in the window (recruited members keep
    # acting organically too, so that may come before their first campaign act)
    acts = np.isin(d.kind, [K.LIKE, K.COMMENT, K.SHARE, K.REPORT, K.NOT_INTERESTED])
    first = np.full(d.banned_at.size, np.inf)
    np.minimum.at(first, d.account[acts], d.t[acts])
    caught = np.isfinite(d.banned_at)
    assert caught.any() and np.isfinite(first[caught]).all()
    assert (d.banned_at[caught] >= first[caught] + 6 * HOUR).all()
    assert (d.banned_at[caught] < first[caught] + 7 * HOUR).all()   # hourly runs
    assert METRICS.get("time_to_detect_hours")(tr, tr, tiny_base.world.truth) > 3.0


def test_pipeline_kinds_unite_the_defences_kinds():
    p = build_ranker("like_count+require_view+lockstep")
    assert set(p.kinds) == set(RequireView().kinds) | set(Lockstep().kinds) == {
        K.LIKE, K.COMMENT, K.SHARE}
    assert set(build_ranker("like_count+velocity_cap+device_dedup").kinds) == {
        K.LIKE, K.COMMENT, K.SHARE, K.REPORT, K.NOT_INTERESTED}

    class NoKinds:                    # a user's defence that does not say what it weighs
        name, action = "mine", "discount"
        schedule = Schedule("inline")

        def weights(self, obs, start, state):
            return np.ones(obs.n_events - start, np.float32)

    assert set(Pipeline(NoKinds(), LikeCount()).kinds) == set(K) - {K.IMPRESSION}
    assert Pipeline(LikeCount()).kinds == ()


def test_replay_record_marks_the_campaign(tiny_base):
    c = make_campaign(tiny_base, "api_exploit", 2.0)
    tr = replay(tiny_base, build_ranker("like_count+require_view"), c)
    d = _check_record(tr, c, tiny_base)
    # API-exploit likes come without views: require_view removes them
    fake_likes = d.fake & (d.kind == K.LIKE)
    assert fake_likes.any() and (d.weight[fake_likes] == 0).mean() > 0.9


def test_a_registered_ranker_carries_its_registered_name(monkeypatch):
    from boostbench.plugins import RANKERS

    class Inner:
        name = "inner"

        def __call__(self, obs):
            return np.zeros(obs.n_items)

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        name: str = "frozen_inner"

        def __call__(self, obs):
            return np.zeros(obs.n_items)

    monkeypatch.setattr(RANKERS, "_items", dict(RANKERS._items))
    RANKERS.register("outer_name")(Inner)
    RANKERS.register("frozen_outer")(Frozen)
    assert build_ranker("outer_name").name == "outer_name"
    assert build_ranker("frozen_outer").name == "frozen_outer"
    assert build_ranker("outer_name+account_trust").name == "outer_name+account_trust"
    assert build_ranker("like_count").name == "like_count"
    assert Inner.name == "inner"                       # the class itself is left alone
