"""Defences (boostbench.rankers.defences): hand-computed weights and properties.

Properties, for every defence: multipliers lie in [0, 1] and a pipeline never raises a
weight; inline defences are causal (incremental = one fresh pass); velocity_cap,
device_dedup and require_view are idempotent, audience_diversity and account_trust
are not (they compound: twice = once squared); relabelling accounts or items
(consistently with their public columns) does not change any event's weight.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boostbench.errors import InvalidParameter
from boostbench.events import N_KINDS, EventKind as K, EventLog
from boostbench.observation import Observation
from boostbench.rankers import LikeCount, Pipeline
from boostbench.rankers.defences import (AccountTrust, AudienceDiversity, CalibratedDetector,
                                         DenseBlock, Detection, DeviceDedup, Lockstep,
                                         RequireView, Schedule, VelocityCap)
from boostbench.world import Accounts, Items
from boostbench._core.units import DAY, HOUR

M = 60.0  # a minute


def build_obs(events, *, n_items=3, n_accounts=5, now=None, acc_created=None, device=None,
              topic=None, item_created=None, n=None):
    """An observation of hand-made ``(t, account, item, kind, value)`` events."""
    acc_created = (np.full(n_accounts, -100 * DAY) if acc_created is None
                   else np.asarray(acc_created, float))
    device = np.arange(n_accounts) if device is None else np.asarray(device)
    topic = np.zeros(n_accounts) if topic is None else np.asarray(topic)
    item_created = np.zeros(n_items) if item_created is None else np.asarray(item_created, float)
    items = Items(item_created, np.zeros(n_items, np.int32), np.zeros(n_items, np.int16),
                  np.full(n_items, 10.0, np.float32))
    accounts = Accounts(acc_created, device.astype(np.int32), topic.astype(np.int16))
    if len(events):
        log = EventLog.from_arrays(*(np.asarray(c) for c in zip(*events)))
    else:
        log = EventLog()
    if now is None:
        now = (max(e[0] for e in events) if len(events) else 0.0) + 1.0
    return Observation(items, accounts, log, now, n=n)


def inline_weights(defence, obs):
    """One fresh pass of an inline defence over the whole observation."""
    w = np.asarray(defence.weights(obs, 0, {}))
    assert w.shape == (obs.n_events,)
    return w


def like(t, a, i):
    return (t, a, i, K.LIKE, 0.0)


def view(t, a, i):
    return (t, a, i, K.VIEW, 1.0)


# --- hand-computed values ---------------------------------------------------------------

def test_velocity_cap_by_hand_blocked_attempts_count():
    cap = VelocityCap(max_actions=2, window_hours=1.0)
    ev = [like(0 * M, 0, 0), like(10 * M, 0, 1), like(20 * M, 0, 2), like(30 * M, 0, 0),
          # 70 min: (10, 70] holds 20, 30 (both blocked) and itself -> 3 > 2: blocked
          like(70 * M, 0, 1),
          like(75 * M, 0, 2),
          # 200 min: the window is empty again
          like(200 * M, 0, 0),
          # account 1: the act exactly one window earlier is outside (t - window, t]
          like(0 * M, 1, 0), like(30 * M, 1, 1), like(60 * M, 1, 2),
          # views, impressions and reports are not capped kinds and are not counted
          view(21 * M, 0, 1), (22 * M, 0, 1, K.IMPRESSION, 0.0), (23 * M, 0, 1, K.REPORT, 0.0)]
    obs = build_obs(ev)
    w = inline_weights(cap, obs)
    t, acc, *_ = obs.events
    got = {(float(tt) / M, int(a)): float(x) for tt, a, x in zip(t, acc, w)}
    assert got == {(0, 0): 1, (10, 0): 1, (20, 0): 0, (21, 0): 1, (22, 0): 1, (23, 0): 1,
                   (30, 0): 0, (70, 0): 0, (75, 0): 0, (200, 0): 1,
                   (0, 1): 1, (30, 1): 1, (60, 1): 1}


def _velocity_cap_reference(t, acc, kind, cap):
    """Brute force: an act weighs 0 when its account made more than max_actions acts
    (blocked ones included) in (t - window, t], itself included, in log order."""
    acts = np.isin(kind, cap.kinds)
    out = np.ones(t.size, np.float32)
    for i in np.flatnonzero(acts):
        m = acts[: i + 1] & (acc[: i + 1] == acc[i]) & (t[: i + 1] > t[i] - cap.window_hours * HOUR)
        out[i] = 0.0 if m.sum() > cap.max_actions else 1.0
    return out


def test_velocity_cap_matches_brute_force_at_large_ids_and_long_spans():
    """Acts exactly one window apart, on accounts with large ids over two months: a float
    key ``account * span + t`` rounded these (the weights then also depended on where an
    incremental batch started)."""
    rng = np.random.default_rng(1)
    n_acc = 200_000
    cap = VelocityCap(max_actions=1, window_hours=1.0)
    for _ in range(60):
        ev = []
        for b in rng.uniform(0, 60 * DAY, 20):
            a, t = int(rng.integers(n_acc - 50, n_acc)), b + 0.3 * rng.random()
            ev += [like(t + k * HOUR * rng.choice([1.0, 0.5]), a, 0) for k in range(4)]
        obs = build_obs(sorted(ev), n_items=1, n_accounts=n_acc)
        t, acc, _, kind, _ = obs.events
        ref = _velocity_cap_reference(t, acc, kind, cap)
        np.testing.assert_array_equal(inline_weights(cap, obs), ref)
        p = Pipeline(cap, LikeCount())
        for k in (7, 30, 61):
            p(Observation(obs.items, obs.accounts, obs.stream, obs.now, n=k))
        np.testing.assert_array_equal(p.audit(obs).weight, ref)


@settings(max_examples=30)
@given(world=st.deferred(lambda: worlds(max_events=60, n_accounts=3)))
def test_velocity_cap_matches_brute_force(world):
    obs = build_obs(**world)
    t, acc, _, kind, _ = obs.events
    for cap in (VelocityCap(max_actions=1, window_hours=1.0), VelocityCap(max_actions=3)):
        np.testing.assert_array_equal(inline_weights(cap, obs),
                                      _velocity_cap_reference(t, acc, kind, cap))


def test_velocity_cap_counts_comments_and_shares_and_respects_kinds():
    ev = [like(0, 0, 0), (1, 0, 0, K.COMMENT, 5.0), (2, 0, 0, K.SHARE, 0.0), like(3, 0, 1)]
    assert inline_weights(VelocityCap(max_actions=3), build_obs(ev)).tolist() == [1, 1, 1, 0]
    only_likes = VelocityCap(max_actions=1, kinds=(K.LIKE,))
    assert inline_weights(only_likes, build_obs(ev)).tolist() == [1, 1, 1, 0]


def test_account_trust_by_hand():
    d = AccountTrust(full_trust_days=10.0, full_trust_views=4)
    t0 = 20 * DAY
    created = [t0 - 5 * DAY, t0 - 30 * DAY, t0 + 1 * DAY, t0 - 2.5 * DAY]
    ev = [view(t0 - 2 * HOUR, 0, 0),           # account 0: one view before its like
          like(t0, 0, 1),                       # age 0.5, views (1+1)/4 -> 0.25
          view(t0 + 1, 0, 1), view(t0 + 2, 0, 2), view(t0 + 3, 0, 0),
          like(t0 + 4, 0, 2),                   # age ~0.5, views 4 -> 1 -> ~0.5
          like(t0 + 5, 1, 0),                   # old account, no views: 1 * 1/4
          (t0 + 6, 2, 0, K.REPORT, 0.0),        # created in the future: age 0 -> 0
          view(t0 + 7, 3, 0),                   # views themselves are never discounted
          (t0 + 8, 3, 0, K.COMMENT, 12.0),      # age 0.25, views (1+1)/4 -> 0.125
          (t0 + 9, 3, 0, K.IMPRESSION, 0.0)]
    obs = build_obs(ev, n_accounts=4, acc_created=created)
    w = inline_weights(d, obs)
    age0 = lambda t: (t - created[0]) / (10 * DAY)  # noqa: E731
    age3 = (t0 + 8 - created[3]) / (10 * DAY)
    expected = [1, 0.5 * 0.5, 1, 1, 1, age0(t0 + 4) * 1.0, 1.0 * 0.25, 0.0, 1, age3 * 0.5, 1]
    np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_device_dedup_by_hand():
    # accounts 0 and 1 share device 7; account 2 has its own
    ev = [like(1, 0, 0),                    # first like on item 0 from device 7
          like(2, 1, 0),                    # same device, item, kind: 0
          (3, 1, 0, K.COMMENT, 4.0),        # same device and item, another kind: 1
          like(4, 2, 0),                    # another device: 1
          like(5, 1, 1),                    # device 7's first like on item 1
          like(6, 0, 1),                    # 0
          view(7, 0, 1),                    # views are not deduplicated
          view(8, 1, 1),
          (9, 0, 0, K.REPORT, 0.0), (10, 1, 0, K.REPORT, 0.0)]
    obs = build_obs(ev, n_accounts=3, device=[7, 7, 3], n_items=2)
    assert inline_weights(DeviceDedup(), obs).tolist() == [1, 0, 1, 1, 1, 0, 1, 1, 1, 0]


def test_require_view_by_hand():
    ev = [like(1, 0, 0),                        # no view yet: 0
          (2, 0, 0, K.IMPRESSION, 0.0),         # impressions untouched; not a view
          like(3, 0, 0),                        # 0
          view(4, 0, 0),
          like(5, 0, 0),                        # 1
          (6, 0, 0, K.COMMENT, 3.0),            # 1
          view(7, 1, 1), like(8, 1, 0),         # a view of another item does not count: 0
          (9, 1, 0, K.REPORT, 0.0),             # reports are not in the default kinds: 1
          (10, 2, 1, K.SHARE, 0.0)]             # 0
    obs = build_obs(ev)
    assert inline_weights(RequireView(), obs).tolist() == [0, 1, 0, 1, 1, 1, 1, 0, 1, 0]


def test_audience_diversity_by_hand():
    # topics: accounts 0, 1, 2 in topic 0, account 3 in topic 1
    ev = [like(1, 0, 0), like(2, 1, 0), (3, 1, 0, K.COMMENT, 2.0), like(4, 3, 0),
          like(5, 2, 0), like(6, 2, 1), view(7, 2, 0)]
    obs = build_obs(ev, n_accounts=4, topic=[0, 0, 0, 1])
    w = inline_weights(AudienceDiversity(exponent=0.5), obs)
    r = np.sqrt
    np.testing.assert_allclose(w, [1, r(2) - 1, 1, 1, r(3) - r(2), 1, 1], rtol=1e-6)
    # exponent 1: plain counting; exponent 0: one act per cluster, item and kind
    assert inline_weights(AudienceDiversity(exponent=1.0), obs).tolist() == [1] * 7
    assert inline_weights(AudienceDiversity(exponent=0.0), obs).tolist() == [1, 0, 1, 1, 0, 1, 1]


@pytest.mark.parametrize("cluster", ["topic", "device", "cohort"])
@settings(max_examples=30)
@given(data=st.data())
def test_audience_diversity_sums_to_n_power_a(cluster, data):
    a = data.draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))
    world = data.draw(worlds())
    obs = build_obs(**world)
    d = AudienceDiversity(cluster=cluster, exponent=a)
    w = inline_weights(d, obs)
    _, acc, item, kind, _ = obs.events
    acts = np.isin(kind, [K.LIKE, K.COMMENT, K.SHARE])
    assert (w[~acts] == 1).all()
    cl = d._cluster(obs, acc)
    for key in set(zip(cl[acts].tolist(), item[acts].tolist(), kind[acts].tolist())):
        m = acts & (cl == key[0]) & (item == key[1]) & (kind == key[2])
        assert w[m].sum() == pytest.approx(m.sum() ** a, rel=1e-5)


def _lockstep_world(group_size, n_items_group, seed=0):
    """``group_size`` accounts liking items 0..n_items_group-1 inside one 2-hour bucket, and
    200 organic accounts with 3 random likes each over 3 days on 300 items."""
    rng = np.random.default_rng(seed)
    n_org, n_items = 200, 300
    ev = []
    bucket0 = 20 * 2 * HOUR                   # the start of a 2-hour bucket
    for a in range(group_size):
        for i in range(n_items_group):
            ev.append(like(bucket0 + rng.uniform(0, 1.9 * HOUR), n_org + a, i))
    for a in range(n_org):
        for i in rng.choice(np.arange(10, n_items), 3, replace=False):
            ev.append(like(rng.uniform(0, 72 * HOUR), a, int(i)))
    return build_obs(ev, n_items=n_items, n_accounts=n_org + group_size, now=72 * HOUR)


def test_lockstep_bans_an_injected_group_and_no_sparse_organic_account():
    d = Lockstep(window_hours=2.0, min_items=3, min_group=8)
    det = d.detect(_lockstep_world(10, 4))
    assert sorted(det.accounts.tolist()) == list(range(200, 210))
    assert det.items.size == 0
    # a group smaller than min_group, or sharing fewer than min_items items, is not banned
    assert d.detect(_lockstep_world(7, 4)).accounts.size == 0
    assert d.detect(_lockstep_world(10, 2)).accounts.size == 0
    # outside the lookback, nothing is seen
    assert Lockstep(lookback_hours=1.0).detect(_lockstep_world(10, 4)).accounts.size == 0


def test_lockstep_needs_one_bucket():
    # the same accounts and items, but each account acts in its own 2-hour bucket
    ev = [like(a * 2 * HOUR + i, a, i) for a in range(10) for i in range(4)]
    obs = build_obs(ev, n_items=4, n_accounts=10, now=30 * HOUR)
    assert Lockstep(min_group=8).detect(obs).accounts.size == 0
    ev = [like(HOUR + a + 10 * i, a, i) for a in range(10) for i in range(4)]
    obs = build_obs(ev, n_items=4, n_accounts=10, now=30 * HOUR)
    assert sorted(Lockstep(min_group=8).detect(obs).accounts.tolist()) == list(range(10))


def test_calibrated_detector_needs_bind():
    obs = build_obs([like(1, 0, 0)])
    with pytest.raises(InvalidParameter, match="bind"):
        CalibratedDetector().detect(obs)
    p = Pipeline(CalibratedDetector(), LikeCount())
    assert p.oracle
    with pytest.raises(InvalidParameter, match="bind"):
        p(obs)
    assert not Pipeline(VelocityCap(), LikeCount()).oracle


def test_calibrated_detector_perfect_operating_point_catches_fakes_after_latency():
    fake = np.array([True, False, True, False, False])
    d = CalibratedDetector(tpr=1.0, fpr=0.0, latency_hours=2.0).bind(fake)
    ev = [view(0.5 * HOUR, 0, 0), like(1 * HOUR, 0, 0), like(1.5 * HOUR, 1, 0),
          like(2 * HOUR, 2, 1), like(2.5 * HOUR, 0, 2), view(0.1 * HOUR, 4, 0)]
    log_obs = build_obs(ev, now=10 * HOUR)
    caught = lambda now: d.detect(log_obs.prefix(now)).accounts.tolist()  # noqa: E731
    assert caught(2.9 * HOUR) == []
    assert caught(3.0 * HOUR) == [0]          # first act at 1 h, latency 2 h (a view is no act)
    assert caught(3.9 * HOUR) == [0]
    assert caught(4.0 * HOUR) == [0, 2]
    assert caught(10 * HOUR) == [0, 2]        # account 3 never acts, 1 and 4 are organic


def test_calibrated_detector_clock_starts_at_the_window():
    """A recruited account's history (acts before ``since``) does not start the clock: it is
    caught ``latency`` after its first act in the window, not at the first run."""
    fake = np.array([True, False, True])
    ev = [like(1 * HOUR, 0, 0), like(1.5 * HOUR, 1, 0), like(2 * HOUR, 2, 0),   # history
          like(10 * HOUR, 0, 1), like(11 * HOUR, 1, 1), like(30 * HOUR, 2, 2)]  # window from 10 h
    obs = build_obs(ev, n_accounts=3, now=40 * HOUR)
    d = CalibratedDetector(tpr=1.0, fpr=1.0, latency_hours=2.0)
    caught = lambda x, now: x.detect(obs.prefix(now)).accounts.tolist()  # noqa: E731
    # without a window start, history makes the recruited accounts due at once
    assert caught(d.bind(fake), 10 * HOUR) == [0, 1, 2]
    w = d.bind(fake, since=10 * HOUR)
    assert w.since == 10 * HOUR
    assert caught(w, 10 * HOUR) == []
    assert caught(w, 11 * HOUR) == [1]            # organic: flagged at its first act (fpr = 1)
    assert caught(w, 12 * HOUR) == [0, 1]
    assert caught(w, 31 * HOUR) == [0, 1]
    assert caught(w, 32 * HOUR) == [0, 1, 2]
    # binding new labels keeps a window start given at construction; Pipeline passes it on
    assert CalibratedDetector(since=5.0).bind(fake).since == 5.0
    p = Pipeline(d, LikeCount()).bind(fake, since=10 * HOUR)
    assert p.defences[0].since == 10 * HOUR and p.defences[0].fake.tolist() == fake.tolist()
    with pytest.raises(InvalidParameter, match="since"):
        CalibratedDetector(since=np.nan)


def test_calibrated_detector_hits_its_operating_point():
    n = 20_000
    rng = np.random.default_rng(3)
    fake = rng.random(n) < 0.3
    acc = np.arange(n)
    log = EventLog.from_arrays(np.sort(rng.uniform(0, HOUR, n)), acc, np.zeros(n, int),
                               np.full(n, int(K.LIKE)), np.zeros(n))
    items = Items(np.zeros(1), np.zeros(1, np.int32), np.zeros(1, np.int16), np.ones(1, np.float32))
    accounts = Accounts(np.zeros(n), np.arange(n, dtype=np.int32), np.zeros(n, np.int16))
    obs = Observation(items, accounts, log, 2 * HOUR)
    d = CalibratedDetector(tpr=0.7, fpr=0.05, latency_hours=0.0, seed=4).bind(fake)
    flagged = np.zeros(n, bool)
    flagged[d.detect(obs).accounts] = True
    assert flagged[fake].mean() == pytest.approx(0.7, abs=0.02)
    assert flagged[~fake].mean() == pytest.approx(0.05, abs=0.01)
    # the seed changes who is caught, not how many
    other = np.zeros(n, bool)
    other[CalibratedDetector(tpr=0.7, fpr=0.05, latency_hours=0.0, seed=5).bind(fake)
          .detect(obs).accounts] = True
    assert (other != flagged).any()


def test_dense_block_detects_a_dense_group():
    rng = np.random.default_rng(0)
    ev = [like(rng.uniform(0, 70 * HOUR), a, int(rng.integers(30, 300))) for a in range(300)]
    ev += [like(HOUR + a * 11 + i, 300 + a, i) for a in range(15) for i in range(8)]
    obs = build_obs(ev, n_items=300, n_accounts=315, now=72 * HOUR)
    det = DenseBlock(min_density=1.0, min_accounts=5).detect(obs)
    assert set(range(300, 315)) <= set(det.accounts.tolist())
    assert set(range(8)) <= set(det.items.tolist())
    assert DenseBlock(min_density=100.0).detect(obs).accounts.size == 0


def test_constructor_checks():
    for bad in (lambda: VelocityCap(max_actions=0), lambda: VelocityCap(window_hours=0),
                lambda: AccountTrust(full_trust_days=0), lambda: AccountTrust(full_trust_views=0),
                lambda: DeviceDedup(kinds=()), lambda: RequireView(kinds=(N_KINDS,)),
                lambda: AudienceDiversity(cluster="planet"),
                lambda: AudienceDiversity(exponent=1.5), lambda: Lockstep(min_group=1),
                lambda: Lockstep(action="penalise"), lambda: DenseBlock(action="discount"),
                # a batch run flags accounts: "discount" used to be accepted and then banned
                lambda: Lockstep(action="discount"),
                lambda: CalibratedDetector(tpr=1.5), lambda: Schedule("sometimes"),
                lambda: Schedule("batch", every_hours=0.0)):
        with pytest.raises(InvalidParameter):
            bad()


# --- properties -----------------------------------------------------------------------

_FRACTIONS = (0.0, 0.1, 1 / 3, 0.7)


@st.composite
def worlds(draw, max_events=40, n_accounts=None, n_items=None):
    """Keyword arguments of :func:`build_obs`: a small random world and its event log.

    Times are minutes plus a fraction, so many pairs are exactly a window apart."""
    n_acc = draw(st.integers(1, 6)) if n_accounts is None else n_accounts
    n_items = draw(st.integers(1, 4)) if n_items is None else n_items
    n = draw(st.integers(0, max_events))
    minutes = sorted(draw(st.lists(st.integers(0, 600), min_size=n, max_size=n)))
    frac = draw(st.sampled_from(_FRACTIONS))
    t = [m * M + frac * (j % 3) for j, m in enumerate(minutes)]
    t.sort()
    acc = draw(st.lists(st.integers(0, n_acc - 1), min_size=n, max_size=n))
    item = draw(st.lists(st.integers(0, n_items - 1), min_size=n, max_size=n))
    kind = draw(st.lists(st.sampled_from([0, 1, 1, 2, 2, 2, 3, 4, 5, 6, 7]), min_size=n,
                         max_size=n))
    ev = [(t[j], acc[j], item[j], kind[j], 1.0) for j in range(n)]
    # accounts exist before they act (a later one would be hidden from the observation)
    created = [d * DAY + f for d, f in zip(
        draw(st.lists(st.integers(-60, -1), min_size=n_acc, max_size=n_acc)),
        draw(st.lists(st.floats(0, DAY), min_size=n_acc, max_size=n_acc)))]
    device = draw(st.lists(st.integers(0, 2), min_size=n_acc, max_size=n_acc))
    topic = draw(st.lists(st.integers(0, 2), min_size=n_acc, max_size=n_acc))
    return dict(events=ev, n_items=n_items, n_accounts=n_acc, acc_created=created, device=device,
                topic=topic, now=(t[-1] if t else 0.0) + M)


INLINE = [VelocityCap(), VelocityCap(max_actions=2, window_hours=1.0),
          VelocityCap(max_actions=1, window_hours=0.5, kinds=(K.LIKE, K.VIEW)),
          AccountTrust(), AccountTrust(full_trust_days=20.0, full_trust_views=3),
          DeviceDedup(), RequireView(), RequireView(kinds=(K.LIKE, K.REPORT)),
          AudienceDiversity(), AudienceDiversity(cluster="device", exponent=0.3),
          AudienceDiversity(cluster="cohort", exponent=0.0)]
_HOURLY = Schedule("batch", every_hours=1.0, lag_hours=0.0)
BATCH = [Lockstep(window_hours=1.0, min_items=1, min_group=2, lookback_hours=24.0,
                  schedule=_HOURLY),
         Lockstep(window_hours=1.0, min_items=2, min_group=2, clawback=False,
                  schedule=Schedule("batch", every_hours=2.0, lag_hours=0.5)),
         DenseBlock(min_density=0.2, min_accounts=1, schedule=_HOURLY),
         DenseBlock(min_density=0.2, min_accounts=1, action="penalise", schedule=_HOURLY)]


def _ids(ds):
    return [f"{d.name}{j}" for j, d in enumerate(ds)]


@pytest.mark.parametrize("d", INLINE, ids=_ids(INLINE))
@settings(max_examples=25)
@given(world=worlds())
def test_inline_multipliers_lie_in_unit_interval(d, world):
    w = inline_weights(d, build_obs(**world))
    assert w.dtype == np.float32 and np.isfinite(w).all()
    assert ((w >= 0) & (w <= 1)).all()


@settings(max_examples=40)
@given(world=worlds(), data=st.data())
def test_defences_never_raise_a_weight(world, data):
    obs = build_obs(**world)
    fake = np.asarray(data.draw(st.lists(st.booleans(), min_size=obs.n_accounts,
                                         max_size=obs.n_accounts)), bool)
    oracle = CalibratedDetector(tpr=0.5, fpr=0.5, latency_hours=0.5, schedule=_HOURLY)
    parts = data.draw(st.lists(st.sampled_from(INLINE + BATCH + [oracle]), max_size=4))
    base = np.asarray(data.draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]),
                                         min_size=obs.n_events, max_size=obs.n_events)),
                      np.float32)
    for o in (obs, obs.with_weights(base)):
        p = Pipeline(*parts, LikeCount()).bind(fake)
        # score a few growing prefixes, then the whole stream
        for now in np.linspace(0, o.now, 4):
            p(Observation(o.items, o.accounts, o.stream, o.now, n=o.prefix(now).n_events,
                          weight=o.weight[: o.prefix(now).n_events]))
        audit = p.audit(o)
        assert audit.weight.shape == (o.n_events,)
        assert ((audit.weight >= 0) & (audit.weight <= o.weight)).all()
        wobs = p.weighted(o)
        assert (wobs.weight <= o.weight).all()
        assert (wobs.count(K.LIKE) <= o.count(K.LIKE) + 1e-9).all()


def _incremental(parts, obs, cuts, by="n"):
    p = Pipeline(*parts, LikeCount())
    for k in cuts:
        if by == "n":
            sub = Observation(obs.items, obs.accounts, obs.stream, obs.now, n=k)
        else:
            sub = obs.prefix(k)
        p(sub)
        np.testing.assert_array_equal(p.audit(sub).weight,
                                      Pipeline(*parts, LikeCount()).audit(sub).weight)
    return p.audit(obs).weight


@pytest.mark.parametrize("d", INLINE + [None], ids=_ids(INLINE) + ["all_inline"])
@settings(max_examples=25)
@given(world=worlds(), data=st.data())
def test_inline_defences_are_causal(d, world, data):
    """Weights computed incrementally over growing prefixes = one fresh pass."""
    obs = build_obs(**world)
    parts = INLINE if d is None else [d]
    fresh = Pipeline(*parts, LikeCount()).audit(obs).weight
    cuts = sorted(data.draw(st.lists(st.integers(0, obs.n_events), max_size=6)))
    np.testing.assert_array_equal(_incremental(parts, obs, cuts, "n"), fresh)
    t = obs.events[0]
    times = sorted(data.draw(st.lists(st.sampled_from(t.tolist()), max_size=4))) if t.size else []
    np.testing.assert_array_equal(_incremental(parts, obs, times, "now"), fresh)
    # and the pipeline's weights are the product of each defence's own fresh pass
    expected = np.ones(obs.n_events, np.float32)
    for x in parts:
        expected *= inline_weights(x, obs)
    np.testing.assert_array_equal(fresh, expected)


IDEMPOTENT = [VelocityCap(max_actions=2), RequireView(), DeviceDedup(),
              Lockstep(window_hours=1.0, min_items=1, min_group=2, schedule=_HOURLY)]


@pytest.mark.parametrize("d", IDEMPOTENT, ids=_ids(IDEMPOTENT))
@settings(max_examples=25)
@given(world=worlds())
def test_idempotent_defences(d, world):
    obs = build_obs(**world)
    once = Pipeline(d, LikeCount()).audit(obs).weight
    twice = Pipeline(d, d, LikeCount()).audit(obs).weight
    np.testing.assert_array_equal(once, twice)


COMPOUNDING = [AudienceDiversity(), AudienceDiversity(cluster="device", exponent=0.3),
               AccountTrust(), AccountTrust(full_trust_days=20.0, full_trust_views=3)]


@pytest.mark.parametrize("d", COMPOUNDING, ids=_ids(COMPOUNDING))
@settings(max_examples=20)
@given(world=worlds())
def test_compounding_defences_square_when_applied_twice(d, world):
    """audience_diversity and account_trust are NOT idempotent: twice = once squared."""
    obs = build_obs(**world)
    once = Pipeline(d, LikeCount()).audit(obs).weight
    twice = Pipeline(d, d, LikeCount()).audit(obs).weight
    np.testing.assert_array_equal(twice, once * once)


def test_compounding_defences_are_not_idempotent_by_hand():
    ev = [like(1, 0, 0), like(2, 1, 0)]
    obs = build_obs(ev, n_accounts=2, acc_created=[-100 * DAY, -100 * DAY])
    for d in (AudienceDiversity(), AccountTrust()):
        once = Pipeline(d, LikeCount()).audit(obs).weight
        twice = Pipeline(d, d, LikeCount()).audit(obs).weight
        assert (twice < once).any(), d.name


def _relabel(world, pa, pi):
    """The same world with account a renamed pa[a] and item i renamed pi[i]."""
    inv_a, inv_i = np.argsort(pa), np.argsort(pi)
    ev = [(t, int(pa[a]), int(pi[i]), k, v) for t, a, i, k, v in world["events"]]
    out = dict(world, events=ev)
    for col in ("acc_created", "device", "topic"):
        out[col] = np.asarray(world[col])[inv_a]
    return out, inv_i


@settings(max_examples=40)
@given(world=worlds(), data=st.data())
def test_weights_are_invariant_to_relabelling(world, data):
    n_acc, n_items = world["n_accounts"], world["n_items"]
    pa = np.asarray(data.draw(st.permutations(range(n_acc))))
    pi = np.asarray(data.draw(st.permutations(range(n_items))))
    rw, _ = _relabel(world, pa, pi)
    obs = build_obs(**world)
    # items differ only in their ids here (same creation time), so no column to permute
    robs = build_obs(**rw)
    fake = np.asarray(data.draw(st.lists(st.booleans(), min_size=n_acc, max_size=n_acc)))
    rfake = np.zeros(n_acc, bool)
    rfake[pa] = fake
    oracle = CalibratedDetector(tpr=1.0, fpr=0.0, latency_hours=0.5, schedule=_HOURLY)
    for d in INLINE:
        np.testing.assert_array_equal(inline_weights(d, obs), inline_weights(d, robs),
                                      err_msg=d.name)
    for d in BATCH + [oracle]:
        a = Pipeline(d, LikeCount()).bind(fake).audit(obs)
        b = Pipeline(d, LikeCount()).bind(rfake).audit(robs)
        np.testing.assert_array_equal(a.weight, b.weight, err_msg=d.name)
        np.testing.assert_array_equal(a.banned_at, b.banned_at[pa], err_msg=d.name)
        np.testing.assert_array_equal(a.penalised, b.penalised[pi], err_msg=d.name)


def test_relabelling_items_with_their_creation_times():
    """Items relabelled together with their public columns (creation time) keep their weights."""
    ev = [like(HOUR + j, j % 3, j % 4) for j in range(12)] + [view(2 * HOUR, 1, 2)]
    created = np.array([0.0, 10.0, 20.0, 30.0])
    pi = np.array([2, 0, 3, 1])
    obs = build_obs(ev, n_items=4, n_accounts=3, item_created=created)
    rev = [(t, a, int(pi[i]), k, v) for t, a, i, k, v in ev]
    robs = build_obs(rev, n_items=4, n_accounts=3, item_created=created[np.argsort(pi)])
    for d in INLINE:
        np.testing.assert_array_equal(inline_weights(d, obs), inline_weights(d, robs))
    s, rs = Pipeline(*INLINE, LikeCount())(obs), Pipeline(*INLINE, LikeCount())(robs)
    np.testing.assert_array_equal(s, rs[pi])


def test_detection_defaults_are_empty():
    d = Detection()
    assert d.accounts.size == 0 and d.items.size == 0
    obs = build_obs([])
    for b in BATCH:
        assert b.detect(obs).accounts.size == 0
