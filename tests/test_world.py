import numpy as np
import pytest
from scipy import stats

from boostbench.behaviour import BehaviourParams

from boostbench._core.random import hash_uniforms
from boostbench.errors import InvalidParameter
from boostbench.events import EventKind
from boostbench.history import organic_events
from boostbench.world import WorldConfig, make_world, world_config
from boostbench._core.units import DAY


def test_tiny_world_shape(tiny_world):
    w = tiny_world
    c = w.config
    organic = w.truth.organic
    assert len(w.items) == c.n_items
    # the config's accounts exist when the history starts; others sign up later; the rest of
    # the table is the reserve for campaigns' accounts (not created: inf)
    created = w.accounts.created_at
    assert (organic & (created <= 0)).sum() == c.n_accounts
    assert (organic & (created > 0)).sum() > 0
    assert np.isinf(created[~organic]).all() and (~organic).sum() > 0
    assert np.all(np.diff(w.items.created_at) >= 0)
    q, a = w.truth.quality, w.truth.appeal
    assert q.min() >= 0 and q.max() <= 1 and a.min() >= 0 and a.max() <= 1
    # ages spread over months, and some accounts are days old
    assert np.median(w.t0 - created[organic]) > 30 * DAY
    assert ((w.t0 - created[organic]) < 30 * DAY).sum() > 0
    t = w.history.t
    assert t.max() < w.t0 and np.all(np.diff(t) >= 0)
    # nobody acts on an item before it is posted, nor before their account exists
    assert np.all(t >= w.items.created_at[w.history.item] - 1e-9)
    assert np.all(t >= created[w.history.account])


def test_devices_mostly_single_account(tiny_world):
    dev = tiny_world.accounts.device[tiny_world.truth.organic]
    per_device = np.bincount(np.bincount(dev))[1:]
    assert per_device[0] / per_device.sum() > 0.75  # 90% single-account devices by default


def test_make_world_is_seeded():
    c = world_config("tiny")
    a, b = make_world(c, 3), make_world(c, 3)
    for x, y in zip(a.history.columns(), b.history.columns()):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(make_world(c, 4).truth.quality, a.truth.quality)


@pytest.fixture(scope="module")
def small_world():
    """A default-size world (its pool of live posts is larger than anyone's day)."""
    return make_world(world_config("small"), 0)


def test_organic_rates_match_calibration(small_world):
    """Per-impression rates of the organic history are the CALIBRATION.md inputs (±25%)."""
    w = small_world
    k = np.bincount(w.history.kind, minlength=8).astype(float)
    per_imp = k / k[EventKind.IMPRESSION]
    p = BehaviourParams()
    for kind, target in [(EventKind.VIEW, p.view_rate), (EventKind.LIKE, p.like_rate),
                         (EventKind.COMMENT, p.comment_rate), (EventKind.SHARE, p.share_rate),
                         (EventKind.NOT_INTERESTED, p.not_interested_rate)]:
        assert per_imp[kind] == pytest.approx(target, rel=0.25), kind.name
    views = w.history.value[w.history.kind == EventKind.VIEW]
    assert views.mean() == pytest.approx(p.mean_completion, abs=0.05)
    assert views.min() >= 0 and views.max() <= 1
    comments = w.history.value[w.history.kind == EventKind.COMMENT]
    assert np.median(comments) == pytest.approx(p.comment_median, rel=0.2)
    # heavy-tailed activity: impressions per account far from uniform
    imp = np.bincount(w.history.account[w.history.kind == EventKind.IMPRESSION])
    assert np.percentile(imp, 90) > 3 * np.percentile(imp, 10)


def test_quality_and_clickbait_drive_behaviour(small_world):
    """Likes rise with quality; reports and not-interested rise with appeal above quality."""
    w = small_world
    h = w.history
    imp = np.bincount(h.item[h.kind == EventKind.IMPRESSION], minlength=len(w.items))
    like = np.bincount(h.item[h.kind == EventKind.LIKE], minlength=len(w.items))
    neg = np.bincount(h.item[(h.kind == EventKind.NOT_INTERESTED) | (h.kind == EventKind.REPORT)],
                      minlength=len(w.items))
    ok = imp > 200
    q, a = w.truth.quality[ok], w.truth.appeal[ok]
    assert stats.spearmanr(q, like[ok] / imp[ok]).statistic > 0.5
    assert stats.spearmanr(a - q, neg[ok] / imp[ok]).statistic > 0.3


def test_organic_events_window(tiny_world):
    log = organic_events(tiny_world, tiny_world.t0, tiny_world.t0 + 3600, 1)
    assert len(log) > 0 and log.t.min() >= tiny_world.t0 and log.t.max() < tiny_world.t0 + 3600


@pytest.mark.parametrize("kw, match", [
    (dict(n_accounts=5), "n_accounts"),
    (dict(accounts_per_new_item=0.0), "accounts_per_new_item"),
    (dict(retention=(0.3, 0.4, 0.2)), "retention"),
    (dict(retention=(0.9, 0.8, 0.7)), "retention"),
    (dict(device_shares=(0.5, 0.2)), "device_shares"),
    (dict(decay_hours=-1.0), "decay_hours"),
    (dict(topic_pool_share=1.5), "topic_pool_share"),
])
def test_world_config_validation(kw, match):
    with pytest.raises(InvalidParameter, match=match):
        WorldConfig(**kw)


def test_behaviour_params_validation():
    with pytest.raises(InvalidParameter, match="like_rate"):
        BehaviourParams(like_rate=1.5)
    with pytest.raises(InvalidParameter, match="like_rate < view_rate"):
        BehaviourParams(like_rate=0.5, view_rate=0.4)


def test_hash_uniforms_deterministic_and_uniform():
    a = np.arange(20000)
    u = hash_uniforms(42, 3, a, a % 7)
    np.testing.assert_array_equal(u, hash_uniforms(42, 3, a, a % 7))
    assert u.min() >= 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert not np.array_equal(u, hash_uniforms(42, 4, a, a % 7))
    assert not np.array_equal(u, hash_uniforms(43, 3, a, a % 7))
    assert abs(np.corrcoef(u, hash_uniforms(42, 3, a + 1, a % 7))[0, 1]) < 0.05


def _splitmix_ref(x: int) -> int:
    m = 0xFFFFFFFFFFFFFFFF
    x = (x + 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    return x ^ (x >> 31)


def _hash_uniform_ref(key: int, stream: int, *coords: int) -> float:
    """The documented definition of hash_uniforms, one element in plain integers."""
    h = _splitmix_ref((key * 1_000_003 + stream) & 0xFFFFFFFFFFFFFFFF)
    for c in coords:
        h = _splitmix_ref(h ^ (int(c) & 0xFFFFFFFFFFFFFFFF))
    return (h >> 11) / 2.0**53


@pytest.mark.parametrize("shapes", [
    ((1, 6000), (), (12, 6000)),      # leading coordinates hoisted out of the row blocks
    ((1, 6000), (1, 1), (1, 6000)),   # nothing varies along axis 0
    ((6000,), (6000,), ()),           # 1-d, id table for the first coordinate
    ((3, 1), (1, 40000), (3, 40000)),  # several rows per block, no hoisting
    ((1,), (7, 1), ()),
])
def test_hash_uniforms_match_the_definition_on_every_path(shapes):
    rng = np.random.default_rng(5)
    coords = [rng.integers(-3, 1500, size=s) if s else 17 for s in shapes]
    u = hash_uniforms(9, 201, *coords)
    b = np.broadcast_arrays(*(np.asarray(c) for c in coords))
    flat = [x.reshape(-1) for x in b]
    pick = rng.choice(flat[0].size, size=min(400, flat[0].size), replace=False)
    want = [_hash_uniform_ref(9, 201, *(f[j] for f in flat)) for j in pick]
    np.testing.assert_array_equal(u.reshape(-1)[pick], want)


def test_drawn_worlds_are_kept_within_their_byte_budget(monkeypatch):
    """A run's world is the one make_world draws from the seed's world stream; a second ask
    gets the same (read-only) object, and worlds past the byte budget are let go."""
    from boostbench import runner
    monkeypatch.setattr(runner, "_WORLDS", type(runner._WORLDS)())
    c = world_config("tiny")
    a = runner.drawn_world(c, 3)
    fresh = make_world(c, runner.seed_streams(3)[0])
    for x, y in zip(a.history.columns(), fresh.history.columns()):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.truth.quality, fresh.truth.quality)
    assert runner.drawn_world(c, 3) is a
    assert runner.drawn_world(c, 4) is not a
    one = runner._world_bytes(a)
    monkeypatch.setattr(runner, "WORLD_CACHE_BYTES", int(1.5 * one))
    b = runner.drawn_world(c, 5)                    # 3 and 4 go, oldest first
    assert list(runner._WORLDS) == [(c, 5)] and runner.drawn_world(c, 5) is b
    monkeypatch.setattr(runner, "WORLD_CACHE_BYTES", one // 2)
    assert runner.drawn_world(c, 5) is b            # larger than the budget: given, not kept
    assert not runner._WORLDS
