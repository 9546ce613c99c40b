"""Aged bots' everyday life: templates, substitutes and mirrored events, by hand; and the
closed loop and replay making the window's copies as the organic events happen."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from boostbench._core.units import DAY, HOUR
from boostbench.attacks.mimic import Candidates, choose_templates, mirror
from boostbench.events import EventKind as K, EventLog
from boostbench.observation import Observation
from boostbench.plugins import ATTACKS
from boostbench.rankers import build_ranker
from boostbench.simulate import closed_loop_rounds, fake_accounts
from boostbench.world import Accounts, Items

H = HOUR
TOPIC = np.array([0, 0, 1, 0, 1])          # account rows' topics
POSTED = np.zeros(40)                        # every post up at time 0 (one age band)


def _cand(rows):
    """Candidates from (t, account, item) impressions."""
    t, a, i = (np.array(c) for c in zip(*rows))
    return Candidates.of(t, a, i, np.full(t.size, K.IMPRESSION), TOPIC, POSTED)


def test_candidates_draw_in_the_topic_and_the_hour_before():
    # topic 0: accounts 0, 1, 3; topic 1: accounts 2, 4
    c = _cand([(10 * H, 0, 5), (10.5 * H, 1, 6), (10.9 * H, 3, 7), (11 * H, 0, 8),
               (10.6 * H, 2, 9), (12 * H, 4, 3)])
    t = np.full(4, 11 * H)
    age = np.full(4, 10.5 * H)                 # the 6-12 h band, like every post shown here
    # [10 h, 11 h) of topic 0 holds items 5, 6, 7 in time order; 11 h itself is excluded
    assert c.draw([0, 0, 0, 0], t, age, np.array([0.0, 0.34, 0.67, 0.999])).tolist() == \
        [5, 6, 7, 7]
    assert c.draw([1], [11 * H], [9 * H], [0.5]).tolist() == [9]
    assert c.draw([1], [13.5 * H], [9 * H], [0.5]).tolist() == [-1]   # the hour before: none
    assert c.draw([2], [11 * H], [9 * H], [0.5]).tolist() == [-1]     # no one of the topic
    assert c.draw([1], [10.6 * H], [9 * H], [0.0]).tolist() == [-1]   # the same moment


def test_candidates_match_the_age_of_the_post():
    posted = np.zeros(40)
    posted[[3, 4]] = 10 * H                   # items 3 and 4 went up at 10 h
    t, a, i = np.array([10.2 * H, 10.3 * H, 10.4 * H]), np.array([0, 1, 3]), np.array([5, 3, 6])
    c = Candidates.of(t, a, i, np.full(3, K.IMPRESSION), TOPIC, posted)
    # a post met 20 minutes after it went up: the fresh one shown in the hour before
    assert c.draw([0, 0], [10.5 * H] * 2, [0.3 * H] * 2, [0.0, 0.99]).tolist() == [3, 3]
    # a 10-hour-old one: 5 or 6 (shown 10.2 and 10.4 h after they went up)
    assert c.draw([0, 0], [10.5 * H] * 2, [10 * H] * 2, [0.0, 0.99]).tolist() == [5, 6]
    # a 30-hour-old one: none of that age, so any age
    assert c.draw([0], [10.5 * H], [30 * H], [0.5]).tolist() == [3]


def _cols(rows):
    t, a, i, k, v = (np.array(c) for c in zip(*rows))
    return t.astype(float), a, i, k.astype(np.int8), v.astype(float)


# template account 0 (topic 0) meets item 1 at 10 h: impression, view 0.7, like; then item 2
EVENTS = [(10 * H, 0, 1, K.IMPRESSION, 0), (10 * H + 5, 0, 1, K.VIEW, 0.7),
          (10 * H + 20, 0, 1, K.LIKE, 0), (10.5 * H, 0, 2, K.IMPRESSION, 0),
          (10.5 * H + 3, 1, 4, K.IMPRESSION, 0)]


def test_mirror_copies_kind_time_and_value_on_a_substitute():
    cand = _cand([(9.5 * H, 1, 7), (10.2 * H, 3, 8), (10 * H, 2, 9)])   # 9: other topic
    t, a, i, k, v = mirror(_cols(EVENTS), [50], [0], [0.0], TOPIC, POSTED, cand, key=1)
    # item 1's events move to item 7 (the only topic-0 impression in [9 h, 10 h)), item 2's
    # to 8: the bot already meets 7, so a draw of 7 is drawn again
    assert a.tolist() == [50] * len(t)
    first = i[:3]
    assert first.tolist() == [7, 7, 7]
    assert t[:3].tolist() == [10 * H, 10 * H + 5, 10 * H + 20]
    assert k[:3].tolist() == [K.IMPRESSION, K.VIEW, K.LIKE] and v[1] == 0.7
    assert i[3:].tolist() == [8]
    assert 1 not in i and 2 not in i                   # never the template's own post


def test_mirror_drops_what_came_before_the_bot_and_pairs_without_substitute():
    cand = _cand([(9.4 * H, 1, 7)])
    # bot created at 10.1 h: only item 2's events (10.5 h) could be copied, and the hour
    # before 10.5 h has no topic-0 impression (item 1's hour before has item 7)
    out = mirror(_cols(EVENTS), [50], [0], [10.1 * H], TOPIC, POSTED, cand, key=1)
    assert out[0].size == 0
    assert mirror(_cols(EVENTS), [50], [0], [0.0], TOPIC, POSTED, cand, 1)[2].tolist() == [7] * 3
    # an account mirroring no one copies nothing
    assert mirror(_cols(EVENTS), [50], [-1], [0.0], TOPIC, POSTED, cand, 1)[0].size == 0


def test_mirror_never_picks_the_templates_own_post():
    # the only candidate is the template's own post: the pair is left out
    cand = _cand([(9.5 * H, 1, 1)])
    out = mirror(_cols(EVENTS[:3]), [50], [0], [0.0], TOPIC, POSTED, cand, key=3)
    assert out[0].size == 0


def test_two_bots_of_one_template_and_input_order():
    cand = _cand([(9.5 * H, 1, 7), (9.6 * H, 3, 8), (9.7 * H, 1, 10), (10.2 * H, 3, 11)])
    cols = _cols(EVENTS)
    out = mirror(cols, [50, 51], [0, 0], [0.0, 0.0], TOPIC, POSTED, cand, key=5)
    assert sorted(set(out[1].tolist())) == [50, 51]
    for b in (50, 51):
        m = out[1] == b
        assert out[3][m].tolist() == [K.IMPRESSION, K.VIEW, K.LIKE, K.IMPRESSION][:m.sum()]
    rev = tuple(c[::-1] for c in cols)                       # any order in, the same out
    out2 = mirror(rev, [50, 51], [0, 0], [0.0, 0.0], TOPIC, POSTED, cand, key=5)
    for x, y in zip(out, out2):
        np.testing.assert_array_equal(x, y)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(1, 6))
def test_a_pairs_events_share_one_substitute_and_each_post_is_met_once(seed, n_bots):
    rng = np.random.default_rng(seed)
    n = 300
    acc = rng.integers(0, 5, n)
    item = rng.integers(0, 30, n)
    t0 = rng.random(n) * 20 * H
    # each (account, item) pair: an impression then a like 10 s later, at the pair's time
    key = acc * 30 + item
    first = {}
    for j, k in enumerate(key):
        first.setdefault(k, t0[j])
    tt = np.array([first[k] for k in key])
    rows = [(tt[j], acc[j], item[j], K.IMPRESSION, 0) for j in range(n)] + \
        [(tt[j] + 10, acc[j], item[j], K.LIKE, 0) for j in range(n)]
    cols = _cols(sorted(set(rows)))
    cand = Candidates.of(cols[0], cols[1], cols[2], cols[3], TOPIC, POSTED)
    bots = 100 + np.arange(n_bots)
    tpl = rng.integers(0, 5, n_bots)
    t, a, i, k, _ = mirror(cols, bots, tpl, np.zeros(n_bots), TOPIC, POSTED[:30], cand,
                           key=seed)
    assert np.all(np.diff(t) >= 0)
    imp = k == K.IMPRESSION
    # each bot meets a post once, and every like follows its impression by 10 s
    assert np.unique(a[imp] * 30 + i[imp]).size == imp.sum()
    like_at = {(x, y): s for x, y, s, kk in zip(a, i, t, k) if kk == K.LIKE}
    imp_at = {(x, y): s for x, y, s, kk in zip(a, i, t, k) if kk == K.IMPRESSION}
    assert all(imp_at[p] + 10 == s for p, s in like_at.items())
    # every copy is on a post someone of the template's topic was shown in the hour before
    for x, y, s in zip(a[imp], i[imp], t[imp]):
        q = TOPIC[tpl[x - 100]]
        m = (cols[3] == K.IMPRESSION) & (cols[2] == y) & (TOPIC[cols[1]] == q) & \
            (cols[0] < s) & (cols[0] >= s - H)
        assert m.any()


def _obs():
    items = Items(np.zeros(4), np.zeros(4, np.int32), np.zeros(4, np.int16),
                  np.full(4, 10.0, np.float32))
    created = np.array([-100 * DAY, -100 * DAY, -10 * DAY, -100 * DAY, -40 * DAY])
    accounts = Accounts(created, np.arange(5, dtype=np.int32), TOPIC.astype(np.int16))
    ev = [(0.5 * DAY, a, 0, K.IMPRESSION, 0) for a in (0, 2, 4)] + \
        [(0.1 * DAY, 1, 0, K.IMPRESSION, 0)]                    # account 3: no events
    log = EventLog.from_arrays(*(np.array(c) for c in zip(*ev)))
    return Observation(items, accounts, log, 1.2 * DAY)


def test_templates_are_established_accounts():
    obs = _obs()
    # established (>= 30 days at start): 0, 1, 3 (silent), 4
    t = choose_templates(obs, key=7, n=5, start=1.2 * DAY)
    assert set(t.tolist()) == {0, 1, 3, 4}
    assert choose_templates(obs, key=7, n=2, start=1.2 * DAY).tolist() == t[:2].tolist()
    assert sorted(t[:4].tolist()) == [0, 1, 3, 4]          # distinct before any repeat
    assert choose_templates(obs, 7, 3, start=-80 * DAY).tolist() == [-1, -1, -1]  # none old


# --- in the runs -----------------------------------------------------------------------------

def test_aged_bots_take_their_templates_topic_and_history(tiny_base):
    w = tiny_base.world
    obs = tiny_base.observation_at_start()
    c = ATTACKS.get("aged_bots")()(obs, tiny_base.targets, 4.0, (w.t0, w.t0 + 24 * H), 3)
    assert c.life.templates.size == c.n_new_accounts > 0 and np.all(c.life.templates >= 0)
    np.testing.assert_array_equal(c.new_topic, w.accounts.topic[c.life.templates])
    assert np.all(w.t0 - w.accounts.created_at[c.life.templates] >= 30 * DAY)
    # before the window, each bot's events are its template's, moment for moment
    t, acc, _, kind, _ = obs.events
    copied, of = 0, 0
    for j in range(c.n_new_accounts):
        mine = (c.account == obs.n_accounts + j) & (c.t < w.t0)
        theirs = (acc == c.life.templates[j]) & (t < w.t0)
        assert set(c.t[mine].tolist()) <= set(t[theirs].tolist())
        assert mine.sum() >= 0.85 * theirs.sum()       # few pairs without a substitute
        copied, of = copied + mine.sum(), of + theirs.sum()
    assert copied > 1000 and copied >= 0.95 * of


@pytest.mark.parametrize("mode", ["closed", "replay"])
def test_bots_live_their_templates_lives_inside_the_window(tiny_base, mode):
    from boostbench.simulate.state import Mirroring, with_mirrored
    w = tiny_base.world
    c = tiny_base.place(ATTACKS.get("aged_bots")()(
        tiny_base.observation_at_start(), tiny_base.targets, 4.0,
        (w.t0, w.t0 + 24 * H), 3))
    if mode == "closed":
        for info in closed_loop_rounds(tiny_base, build_ranker("like_count"), c):
            log = info.log
        t, acc, item, _, _ = log.columns()
    else:
        m = with_mirrored(tiny_base, c)
        t, acc, item = m.t, m.account, m.item
        log = tiny_base.window
    mirroring = Mirroring(w, c, w.seed)
    ot, oa, _, _, _ = log.columns()
    fake = fake_accounts(max(len(w.accounts), int(acc.max()) + 1), c)
    live = (t >= w.t0) & fake[acc] & ~np.isin(item, c.targets)
    assert live.sum() > 100                                 # everyday life in the window
    organic = (ot >= w.t0) & ~fake[oa]
    days = range(int(w.t0 // DAY), int(t.max() // DAY) + 1)
    per_day = np.stack([mirroring.templates(d) for d in days], axis=1)
    paid = np.isin(item, c.targets) & fake[acc]
    busy_day = 0
    for j in range(c.n_new_accounts):
        mine = live & (acc == c.new_rows[j])
        # the bot acts when one of its templates does (their copies, less pairs without
        # a substitute), and on a day with paid work it mirrors someone active that day
        theirs = organic & np.isin(oa, per_day[j])
        assert set(t[mine].tolist()) <= set(ot[theirs].tolist())
        for k, d in enumerate(days):
            if (paid & (acc == c.new_rows[j]) & (t // DAY == d)).any():
                busy_day += 1
                assert (organic & (oa == per_day[j, k]) & (ot // DAY == d)).any()
    assert busy_day > 0


@pytest.mark.parametrize("mode", ["closed", "replay"])
def test_the_campaigns_items_include_the_posts_its_bots_met_inside_the_window(tiny_base, mode):
    """``campaign_items`` (and with it ``side_items``) counts the substitutes the bots met in
    the window in both modes: the closed loop's copies are made as it runs, replay's before."""
    from boostbench.simulate import simulate
    from boostbench.simulate.state import with_mirrored
    w = tiny_base.world
    c = tiny_base.place(ATTACKS.get("aged_bots")()(
        tiny_base.observation_at_start(), tiny_base.targets, 4.0,
        (w.t0, w.t0 + 24 * H), 3))
    if mode == "closed":           # one run: its log says what the bots met, its end the rest
        rounds = closed_loop_rounds(tiny_base, build_ranker("like_count"), c, seed=3)
        try:
            while True:
                log = next(rounds).log
        except StopIteration as done:
            tr = done.value
        t, acc, item, _, _ = log.columns()
        fake = fake_accounts(max(len(w.accounts), int(acc.max()) + 1), c)
        met = set(item[(t >= w.t0) & fake[acc]].tolist())
    else:
        tr = simulate(mode, tiny_base, build_ranker("like_count"), c, seed=3)
        met = set(with_mirrored(tiny_base, c).item.tolist())
    placed = set(c.item.tolist())
    got = set(tr.campaign_items.tolist())
    assert placed < got                                   # more than the bought events' posts
    assert got == placed | met
