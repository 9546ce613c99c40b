"""Detection and collateral metrics (boostbench.metrics.defence) on hand-built records."""

import numpy as np
import pytest

from boostbench.events import EventKind as K
from boostbench.metrics.defence import (SEGMENTS, detection_time,
                                        segment_masks)
from boostbench.plugins import METRICS
from boostbench.simulate import DefenceRecord, Trajectory
from boostbench.world import Truth
from boostbench._core.units import DAY, HOUR

T0 = 100 * HOUR
WEIGHED = (K.LIKE, K.COMMENT, K.SHARE, K.REPORT, K.NOT_INTERESTED)   # the built-ins' default
INF = np.inf
DETECTION = ("detection_precision", "detection_recall", "fake_weight_removed",
             "removed_weight_precision", "time_to_detect_hours")
COLLATERAL = ("organic_weight_removed", "organic_accounts_banned") + tuple(
    f"fp_{s}" for s in SEGMENTS)
ALL = DETECTION + ("laundered_engagement",) + COLLATERAL
from boostbench.metrics import undefined_without_detection

UNDEFINED_WITHOUT_DETECTION = tuple(undefined_without_detection())


def record(events, banned_at, fake_account, *, created=None, device=None, item_created=None,
           item_creator=None, penalised=None, kinds=WEIGHED):
    """``events``: (hours after T0, account, item, kind, weight, fake); ``kinds``: what the
    defences weigh (the collateral's denominator)."""
    n_acc, n_items = len(banned_at), 3
    cols = list(zip(*events)) if events else [[]] * 6
    created = np.full(n_acc, T0 - 100 * DAY) if created is None else np.asarray(created, float)
    return DefenceRecord(
        t=T0 + np.asarray(cols[0], float) * HOUR, account=np.asarray(cols[1], np.int32),
        item=np.asarray(cols[2], np.int32), kind=np.asarray(cols[3], np.int8),
        weight=np.asarray(cols[4], np.float32),
        weighed=np.isin(np.asarray(cols[3], np.int8), [int(k) for k in kinds]),
        fake=np.asarray(cols[5], bool),
        banned_at=np.asarray(banned_at, float),
        penalised=np.zeros(n_items, bool) if penalised is None else np.asarray(penalised),
        fake_account=np.asarray(fake_account, bool), account_created_at=created,
        account_device=np.arange(n_acc, dtype=np.int32) if device is None
        else np.asarray(device, np.int32),
        item_created_at=np.full(n_items, T0 - DAY) if item_created is None
        else np.asarray(item_created, float),
        item_creator=np.zeros(n_items, np.int32) if item_creator is None
        else np.asarray(item_creator, np.int32),
        t0=T0)


def traj(defence=None, engagement=None, targets=(1, 2), fake_actions=3, n_rounds=6):
    """Rounds end at T0 + 1 h, ..., T0 + n_rounds h."""
    shape = (n_rounds, 3)
    eng = np.zeros(shape, np.float32) if engagement is None else np.asarray(engagement, np.float32)
    z = np.zeros(shape, np.float32)
    return Trajectory("r", "a", 0, 1.0, z, z, eng, T0 + HOUR * np.arange(1, n_rounds + 1),
                      np.asarray(targets, np.int64), 2, 2, 0.2, fake_actions=fake_actions,
                      defence=defence)


def truth(activity=(10.0, 1.0, 2.0, 20.0, 5.0, 5.0)):
    q = np.full(3, 0.5, np.float32)
    n = len(activity)
    return Truth(q, q, q.astype(float), np.asarray(activity, float), np.zeros(n, np.int8),
                 np.zeros(n, np.int32))


def m(name, att, clean=None, tr=None):
    return METRICS.get(name)(att, att if clean is None else clean, truth() if tr is None else tr)


# accounts 0, 1, 2, 5 organic (5 never acts), 3 and 4 campaign accounts
ATTACKED = [
    (1, 0, 0, K.LIKE, 1.0, False),
    (1, 3, 1, K.LIKE, 0.0, True),
    (2, 3, 1, K.VIEW, 1.0, True),       # a view: no act weight, but the account acted
    (3, 4, 1, K.LIKE, 0.5, True),
    (4, 1, 2, K.COMMENT, 0.0, False),
    (5, 4, 2, K.SHARE, 1.0, True),
    (6, 2, 0, K.LIKE, 0.25, False),
    (7, 0, 1, K.REPORT, 0.0, False),    # not an act (likes, comments, shares)
]
FAKE_ACCOUNT = [False, False, False, True, True, False]


def attacked_record(banned=(INF, T0 + 10 * HOUR, INF, T0 + 4 * HOUR, T0 + 10 * HOUR, INF)):
    return record(ATTACKED, banned, FAKE_ACCOUNT)


def test_detection_metrics_by_hand():
    att = traj(attacked_record())
    # banned: 1 (organic), 3 and 4 (campaign)
    assert m("detection_precision", att) == pytest.approx(2 / 3)
    assert m("detection_recall", att) == 1.0
    # campaign acts e1, e3, e5 keep 0, 0.5, 1 -> half their weight removed
    assert m("fake_weight_removed", att) == pytest.approx(0.5)
    # removed act weight: e0 0, e1 1, e3 0.5, e4 1, e5 0, e6 0.75 -> 1.5 of 3.25 is campaign
    assert m("removed_weight_precision", att) == pytest.approx(1.5 / 3.25)
    # account 3: first fake act at 1 h, banned at 4 h; account 4: 3 h -> 10 h; median 5 h
    assert m("time_to_detect_hours", att) == pytest.approx(5.0)
    assert detection_time(att.defence) == T0 + 4 * HOUR
    assert detection_time(None) == INF


def test_detection_metrics_partial_detection():
    att = traj(attacked_record((INF, INF, INF, T0 + 4 * HOUR, INF, T0 - HOUR)))
    # banned: 3 (campaign) and 5 (organic, never acted)
    assert m("detection_precision", att) == 0.5
    assert m("detection_recall", att) == 0.5       # 3 of {3, 4}
    assert m("time_to_detect_hours", att) == 3.0
    # banned before the first act counts as 0 hours, never negative
    att = traj(attacked_record((INF, INF, INF, T0, INF, INF)))
    assert m("time_to_detect_hours", att) == 0.0
    assert m("detection_precision", att) == 1.0 and m("detection_recall", att) == 0.5


def test_undefined_exactly_without_detection():
    """Nothing banned, nothing removed: the ratios over detections are NaN; the rest are
    numbers (0 removed, 0 recall, nothing collateral)."""
    ev = [e[:4] + (1.0,) + e[5:] for e in ATTACKED]
    att = traj(record(ev, [INF] * 6, FAKE_ACCOUNT))
    clean_ev = [e[:4] + (1.0, False) for e in ATTACKED]
    # every segment holds some act (see CLEAN below for the columns)
    cols = dict(created=[T0 - 100 * DAY, T0 - DAY, T0 - 100 * DAY, T0 - DAY, T0 - 100 * DAY,
                         T0 - 100 * DAY], device=[0, 1, 0, 2, 3, 4],
                item_created=[T0 - DAY, T0 + HOUR, T0], item_creator=[0, 3, 2])
    clean = traj(record(clean_ev, [INF] * 6, [False] * 6, **cols))
    for name in ALL:
        v = m(name, att, clean)
        assert np.isnan(v) == (name in UNDEFINED_WITHOUT_DETECTION), name
    assert m("detection_recall", att) == 0.0 and m("fake_weight_removed", att) == 0.0
    for name in COLLATERAL:
        assert m(name, att, clean) == 0.0
    assert set(UNDEFINED_WITHOUT_DETECTION) <= set(METRICS.names())


def test_without_a_defended_ranker():
    """A ranker without defences: nothing detected (NaN ratios), nothing removed, no
    collateral; recall and event recall are 0 against a campaign, NaN without one."""
    att, clean = traj(None, fake_actions=3), traj(None, fake_actions=0)
    for name in UNDEFINED_WITHOUT_DETECTION:
        assert np.isnan(m(name, att, clean))
    assert m("detection_recall", att, clean) == 0.0
    assert m("fake_weight_removed", att, clean) == 0.0
    assert np.isnan(m("detection_recall", clean, clean))
    assert np.isnan(m("fake_weight_removed", clean, clean))
    for name in COLLATERAL:
        assert m(name, att, clean) == 0.0


def test_without_campaign_acts_recall_is_undefined():
    ev = [e[:5] + (False,) for e in ATTACKED]
    d = record(ev, [INF, T0, INF, INF, INF, INF], [False] * 6)
    att = traj(d, fake_actions=0)
    assert np.isnan(m("detection_recall", att))
    assert np.isnan(m("fake_weight_removed", att))
    assert np.isnan(m("time_to_detect_hours", att))
    assert m("detection_precision", att) == 0.0       # someone was banned, none of them fake
    assert m("removed_weight_precision", att) == 0.0  # weight was removed, none of it fake


def test_laundered_engagement_counts_rounds_up_to_the_first_ban():
    att_eng = np.array([[0, 1, 2], [0, 2, 0], [5, 3, 1], [0, 0, 4], [0, 9, 9], [0, 7, 7]])
    clean_eng = np.array([[0, 1, 1], [0, 0, 0], [0, 1, 1], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    clean = traj(None, clean_eng)
    # first ban of a campaign account at 4 h (account 3); an organic ban earlier does not count
    banned = (T0 + 2 * HOUR, INF, INF, T0 + 4 * HOUR, T0 + 10 * HOUR, INF)
    att = traj(attacked_record(banned), att_eng)
    # rounds ending at 1..4 h: target 1 gets (1+2+3+0) - (1+0+1+0) = 4, target 2 7 - 3 = 4
    assert m("laundered_engagement", att, clean) == pytest.approx(4.0)
    # a ban in the middle of a round leaves that round out
    att = traj(attacked_record((INF, INF, INF, T0 + 3.5 * HOUR, INF, INF)), att_eng)
    # rounds 1..3: target 1 6 - 2 = 4, target 2 3 - 2 = 1
    assert m("laundered_engagement", att, clean) == pytest.approx(2.5)
    # no detection (or no defence): every round counts
    for d in (None, attacked_record((T0, INF, INF, INF, INF, INF))):
        att = traj(d, att_eng)
        assert m("laundered_engagement", att, clean) == pytest.approx(((22 - 2) + (23 - 3)) / 2)
    # caught before the first round ends: nothing launders
    att = traj(attacked_record((INF, INF, INF, T0 + 0.5 * HOUR, INF, INF)), att_eng)
    assert m("laundered_engagement", att, clean) == 0.0
    assert np.isnan(m("laundered_engagement", traj(None, att_eng, targets=()), clean))


# clean twin: accounts 0..3 organic
#   created: 0 and 2 old, 1 (10 days) and 3 (5 days) new      -> new_accounts: 1, 3
#   devices: 0 and 2 share device 0                           -> shared_devices: 0, 2
#   activity 10, 1, 2, 20 (median 6)                          -> light_users: 1, 2
#   item 1 posted 1 h after t0 by account 3 (5 days old)      -> new_creators: item 1
CLEAN = [
    (1, 0, 0, K.LIKE, 1.0, False),
    (2, 1, 1, K.LIKE, 0.0, False),
    (3, 2, 2, K.VIEW, 1.0, False),
    (4, 2, 1, K.COMMENT, 0.5, False),
    (5, 3, 0, K.LIKE, 0.0, False),
    (6, 0, 2, K.SHARE, 1.0, False),
]


def clean_record(banned=(INF, T0 + HOUR, INF, INF)):
    return record(CLEAN, banned, [False] * 4,
                  created=[T0 - 100 * DAY, T0 - 10 * DAY, T0 - 100 * DAY, T0 - 5 * DAY],
                  device=[0, 1, 0, 2], item_created=[T0 - DAY, T0 + HOUR, T0],
                  item_creator=[0, 3, 2])


def test_collateral_by_hand():
    clean = traj(clean_record(), fake_actions=0)
    att = traj(attacked_record())
    tr = truth((10.0, 1.0, 2.0, 20.0))
    # the view (c2) is not weighed: five acts of weights 1, 0, 0.5, 0, 1
    assert m("organic_weight_removed", att, clean, tr) == pytest.approx(1 - 2.5 / 5)
    assert m("organic_accounts_banned", att, clean, tr) == pytest.approx(1 / 4)
    # events: new accounts c1, c4; shared devices c0, c2, c3, c5; light users c1, c2, c3;
    # new creators c1, c3 (c2, the view, counts in none)
    assert m("fp_new_accounts", att, clean, tr) == pytest.approx(1.0)
    assert m("fp_shared_devices", att, clean, tr) == pytest.approx(1 - 2.5 / 3)
    assert m("fp_light_users", att, clean, tr) == pytest.approx(1 - 0.5 / 2)
    assert m("fp_new_creators", att, clean, tr) == pytest.approx(1 - 0.5 / 2)
    masks = segment_masks(clean.defence, tr.activity)
    assert set(masks) == set(SEGMENTS)
    assert masks["new_accounts"].tolist() == [False, True, False, False, True, False]
    assert masks["shared_devices"].tolist() == [True, False, True, True, False, True]
    assert masks["light_users"].tolist() == [False, True, True, True, False, False]
    assert masks["new_creators"].tolist() == [False, True, False, True, False, False]
    # collateral reads the clean twin only
    assert m("organic_weight_removed", traj(None), clean, tr) == pytest.approx(1 - 2.5 / 5)


def test_collateral_counts_acts_not_views():
    """One honest like removed among nine untouched views is all the collateral there is:
    the views are no defence's to touch (over every event it would read 0.1)."""
    ev = [(1, 0, 0, K.LIKE, 0.0, False)] + [(1 + h, 0, 1, K.VIEW, 1.0, False) for h in range(9)]
    d = record(ev, [INF] * 4, [False] * 4, created=[T0 - DAY] + [T0 - 100 * DAY] * 3)
    clean = traj(d, fake_actions=0)
    tr = truth((10.0, 1.0, 2.0, 20.0))
    assert m("organic_weight_removed", clean, clean, tr) == 1.0
    assert m("fp_new_accounts", clean, clean, tr) == 1.0
    # a pipeline that weighs comments only is judged on comments (a ban's removal of other
    # kinds shows in organic_accounts_banned): here it has none to judge
    d = record(ev, [INF] * 4, [False] * 4, kinds=(K.COMMENT,),
               created=[T0 - DAY] + [T0 - 100 * DAY] * 3)
    clean = traj(d, fake_actions=0)
    assert m("organic_weight_removed", clean, clean, tr) == 0.0
    assert np.isnan(m("fp_new_accounts", clean, clean, tr))


def test_light_users_are_read_against_the_organic_median():
    # account 2's row is reserved (no expected activity): it is neither organic nor light,
    # and it does not pull the median down (organic median 10, not 5.5)
    d = clean_record()
    light = segment_masks(d, np.array([10.0, 1.0, 0.0, 20.0]))["light_users"]
    assert light.tolist() == [a == 1 for a in d.account.tolist()]


def test_an_empty_segment_is_undefined():
    d = record(CLEAN[:1], [INF] * 4, [False] * 4)   # one act, by an old account, old creator
    clean = traj(d, fake_actions=0)
    tr = truth((10.0, 1.0, 2.0, 20.0))
    assert np.isnan(m("fp_new_accounts", clean, clean, tr))
    assert np.isnan(m("fp_new_creators", clean, clean, tr))
    assert m("organic_weight_removed", clean, clean, tr) == 0.0
    assert m("organic_accounts_banned", clean, clean, tr) == 0.0


def test_metric_directions_and_definitions():
    better = {"detection_precision", "detection_recall", "fake_weight_removed",
              "removed_weight_precision"}
    for name in ALL:
        met = METRICS.get(name)
        assert met.greater_is_better == (name in better), name
        assert met.definition
    # every metric that can be NaN says when
    for name in UNDEFINED_WITHOUT_DETECTION + ("detection_recall", "fake_weight_removed") + tuple(
            f"fp_{s}" for s in SEGMENTS):
        assert "NaN" in METRICS.get(name).definition, name
