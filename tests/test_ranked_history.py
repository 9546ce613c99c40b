"""The ranked history (``WorldConfig.history_feed = "ranked"``) and what it is calibrated on."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from boostbench.behaviour import Behaviour, BehaviourParams
from boostbench.cli import main
from boostbench.errors import InvalidParameter
from boostbench.events import EventKind
from boostbench.history import ELIGIBLE_HOURS, ranked_history
from boostbench.world import make_world, world_config, world_overrides
from boostbench._core.arrays import pair_keys
from boostbench._core.units import DAY, HOUR


@pytest.fixture(scope="module")
def ranked_world():
    return make_world(world_config("tiny", history_feed="ranked"), 5)


@pytest.fixture(scope="module")
def ranked_small():
    """The default world's size: a pool of live posts larger than anyone's day (the tiny
    world's few posts reach nearly every account whatever the ranking)."""
    return make_world(world_config("small", history_feed="ranked"), 0)


def test_history_is_drawn_the_chosen_way(ranked_world):
    """The same world drawn openly and ranked: same accounts and items, other histories."""
    open_ = make_world(world_config("tiny", history_feed="open"), 5)
    np.testing.assert_array_equal(open_.truth.quality, ranked_world.truth.quality)
    np.testing.assert_array_equal(open_.accounts.created_at, ranked_world.accounts.created_at)
    assert ranked_world.config.history_feed == "ranked"
    assert ranked_world.history.t.size != open_.history.t.size


def test_ranked_history_shape(ranked_world):
    w = ranked_world
    h = w.history
    t, acc, itm, kind = h.t, h.account, h.item, h.kind
    assert t.max() < w.t0 and np.all(np.diff(t) >= 0)
    assert np.all(t >= w.items.created_at[itm] - 1e-9)
    assert np.all(t >= w.accounts.created_at[acc])
    assert w.truth.organic[acc].all()
    imp = kind == EventKind.IMPRESSION
    keys = pair_keys(acc[imp], itm[imp], len(w.items))
    assert np.unique(keys).size == keys.size          # nobody is shown an item twice
    # every like follows a view of the same pair
    viewed = set(pair_keys(acc[kind == EventKind.VIEW], itm[kind == EventKind.VIEW],
                           len(w.items)).tolist())
    liked = pair_keys(acc[kind == EventKind.LIKE], itm[kind == EventKind.LIKE], len(w.items))
    unlogged = w.behaviour.params.unlogged_view_share
    assert np.mean([k in viewed for k in liked.tolist()]) > 1.0 - 3 * unlogged


def test_the_feed_shows_posts_up_before_its_hour_and_within_eligibility():
    """A history longer than the eligibility (tiny's own, 48 h, is not): every feed
    impression's post went up before the hour began and at most ELIGIBLE_HOURS before it
    (a session's positions run up to 90 s past its hour)."""
    w = make_world(world_config("tiny", history_hours=96, history_feed="ranked"), 0)
    _, (_, itm, t, _) = ranked_history(w, 0.0, w.t0)
    created = w.items.created_at[itm]
    assert np.all(created <= np.floor(t / HOUR) * HOUR)
    age = t - created
    assert age.max() < ELIGIBLE_HOURS * HOUR + HOUR + 90.0
    assert age.max() > (ELIGIBLE_HOURS - 1) * HOUR      # old posts are still shown


def test_a_ranked_history_with_nothing_shown_in_its_last_day_is_refused():
    with pytest.raises(InvalidParameter, match="history_hours"):
        make_world(world_config("tiny", history_hours=1, history_feed="ranked"), 0)


def test_ranked_history_is_seeded_and_counter_based(ranked_world):
    a = ranked_history(ranked_world, 0.0, ranked_world.t0)[0]
    for x, y in zip(a.columns(), ranked_world.history.columns()):
        np.testing.assert_array_equal(x, y)
    b = make_world(world_config("tiny", history_feed="ranked"), 6).history
    assert b.t.size != a.t.size


def _top_tenth_ratio(world) -> float:
    """Mean impressions of the most liked tenth of the shown posts over the rest's."""
    h, n = world.history, len(world.items)
    imp = np.bincount(h.item[h.kind == EventKind.IMPRESSION], minlength=n)
    likes = np.bincount(h.item[h.kind == EventKind.LIKE], minlength=n)
    shown = np.flatnonzero(imp > 0)
    by_likes = shown[np.argsort(-likes[shown], kind="stable")]
    top, rest = np.split(by_likes, [by_likes.size // 10])
    return imp[top].mean() / imp[rest].mean()


@pytest.mark.slow          # default-size worlds (10 s): the default run's five-minute budget
def test_exposure_follows_the_like_ranking(ranked_small):
    """Likes follow impressions in any feed (the open history's most liked tenth gets ~8x
    the rest's impressions); ranking by likes concentrates exposure on them far more (~24x
    on default seeds 0-1): at least twice the open history's ratio, same world."""
    open_ = make_world(world_config("small", history_feed="open"), 0)
    assert _top_tenth_ratio(ranked_small) > 2 * _top_tenth_ratio(open_)


@pytest.mark.slow
def test_ranked_history_rates_near_calibration(ranked_small):
    """The intercepts are refitted on the ranked history's last day (twice: each refit moves
    what the incumbent ranks up), so that day's rates come back near the inputs; not
    exactly: each draw of the history is noisy, and one refit left likes 15% under."""
    w = ranked_small
    last = w.history.t >= w.t0 - DAY
    k = np.bincount(w.history.kind[last], minlength=8).astype(float)
    per_imp = k / k[EventKind.IMPRESSION]
    p = BehaviourParams()
    for kind, target in [(EventKind.VIEW, p.view_rate), (EventKind.LIKE, p.like_rate),
                         (EventKind.COMMENT, p.comment_rate), (EventKind.SHARE, p.share_rate)]:
        assert per_imp[kind] == pytest.approx(target, rel=0.08), kind.name


def test_fit_with_herding_shifts_only_the_like_intercept(tiny_world):
    """A constant displayed-likes term h is absorbed by the like intercept exactly:
    c_like(h) = c_like(0) - herding x h; nothing else moves."""
    w = tiny_world
    b = w.behaviour
    acc = np.arange(200) % 50
    itm = np.arange(200) % len(w.items)

    def fit(herd):
        return Behaviour.fit(b.params, b.quality, b.appeal, b.duration, b.item_topic,
                             b.account_topic, (acc, itm), np.random.default_rng(1), herd=herd)
    plain, shifted = fit(None), fit(np.full(acc.size, 1.5))
    for name, c in plain.intercepts.items():
        want = c - b.params.herding * 1.5 if name == "like" else c
        assert shifted.intercepts[name] == pytest.approx(want, abs=1e-6), name


def test_history_feed_setting_is_checked():
    assert world_overrides([("history_feed", "ranked")]) == {"history_feed": "ranked"}
    with pytest.raises(InvalidParameter, match="names a setting twice"):
        world_overrides([("history_feed", "ranked"), ("history_feed", 2.0)])
    from boostbench.scenario import get_scenario
    with pytest.raises(InvalidParameter, match="names a setting twice"):
        get_scenario("tiny").with_(world=(("fan_share", 0.1), ("fan_share", 0.2)))
    with pytest.raises(InvalidParameter, match="history_feed"):
        world_config("tiny", history_feed="sorted")
    with pytest.raises(InvalidParameter, match="'history_feed' must be a name"):
        world_overrides([("history_feed", 1)])
    with pytest.raises(InvalidParameter, match="'fan_share' must be a number"):
        world_overrides([("fan_share", "lots")])


def test_cli_world_takes_a_choice(capsys):
    assert main(["run", "--scenario", "tiny", "--rankers", "like_count", "--attacks",
                 "bot_farm", "--seeds", "1", "--world", "history_feed=ranked", "--quiet"]) == 0
    assert "history_feed=ranked" in capsys.readouterr().out


def test_validate_runs_the_rates_on_a_ranked_history(tmp_path, capsys):
    out = tmp_path / "v.json"
    assert main(["validate", "--quick", "--experiments", "engagement_rates", "--world",
                 "history_feed=ranked", "--json", str(out), "--quiet"]) == 0
    import json
    data = json.loads(out.read_text())
    assert data["manifest"]["world"] == {"history_feed": "ranked"}
    assert data["experiments"][0]["params"]["history_feed"] == "ranked"
    assert "ranked history" in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["--experiments", "herding", "--world", "history_feed=ranked"],
     "--world applies to exposure_inequality, engagement_rates"),
    (["--world", "history_feed=sorted"], "--world: The 'history_feed' parameter of WorldConfig"),
])
def test_validate_refuses_world_settings_it_cannot_use(args, needle, capsys):
    assert main(["validate", "--quick", *args]) == 2
    assert needle in capsys.readouterr().err


@given(st.lists(st.floats(-8, 8), min_size=1, max_size=300),
       st.floats(1e-5, 0.95), st.integers(0, 2**32 - 1), st.floats(0.0, 0.5))
@settings(max_examples=200, deadline=None)
def test_the_intercept_solver_gives_the_full_bisections_answer(eta, share, seed, zeros):
    """Newton's bracket, the remembered sides and the early stop give exactly the answer of
    80 plain bisection steps (weights of zero included)."""
    from scipy.special import expit
    from boostbench.behaviour import _solve_intercept
    eta = np.asarray(eta)
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.0, 1.0, eta.size)
    w[rng.random(eta.size) < zeros] = 0.0
    if not w.any():
        w[0] = 1.0
    target = share * float(w.mean())
    lo, hi = -40.0, 40.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.mean(w * expit(mid + eta)) < target else (lo, mid)
    assert _solve_intercept(target, eta, w) == 0.5 * (lo + hi)


def test_a_worlds_history_refuses_appends(ranked_world):
    """Worlds are shared by every run that draws them (runner.drawn_world): frozen."""
    h = ranked_world.history
    with pytest.raises(InvalidParameter, match="frozen"):
        h.append([h.t[-1] + 1.0], [0], [0], [EventKind.LIKE], [0.0])
    with pytest.raises(ValueError):
        h.columns()[0][:1] = 0.0
    assert not ranked_world.truth.reserved_devices.flags.writeable
    copy = h.copy()                                   # a copy is the caller's to extend
    copy.append([h.t[-1] + 1.0], [0], [0], [EventKind.LIKE], [0.0])
    assert len(copy) == len(h) + 1


def test_drawn_worlds_are_shared_safely_across_threads(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor
    from boostbench import runner
    monkeypatch.setattr(runner, "_WORLDS", type(runner._WORLDS)())
    c = world_config("tiny")
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda s: runner.drawn_world(c, s % 3), range(12)))
    for s in range(3):          # threads that drew one world at once all get the kept one
        kept = runner.drawn_world(c, s)
        assert all(g is kept for g in got[s::3])
