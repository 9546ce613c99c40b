"""The leak probe: account features by hand, and whether a classifier can tell bought
accounts from organic ones by what the public view shows."""

import numpy as np
import pytest

from boostbench._core.units import HOUR
from boostbench.events import EventKind as K, EventLog
from boostbench.observation import Observation
from boostbench.testing.leak import FEATURES, account_features
from boostbench.world import NOT_CREATED, Accounts, Items

T0, NOW = 4 * HOUR, 10 * HOUR
COL = {name: j for j, name in enumerate(FEATURES)}


@pytest.fixture(scope="module")
def obs():
    # items 1 and 2 are posted after t0; accounts 0 and 1 share device 7; account 3
    # is a reserved row (not created)
    items = Items(np.array([0.0, 5 * HOUR, 7 * HOUR]), np.zeros(3, np.int32),
                  np.zeros(3, np.int16), np.full(3, 10.0, np.float32))
    accounts = Accounts(np.array([-10 * HOUR, 1 * HOUR, 2 * HOUR, NOT_CREATED]),
                        np.array([7, 7, 3, -1], np.int32), np.array([1, 2, 1, -1], np.int16))
    h = HOUR
    events = [  # (t, account, item, kind, value)
        (2 * h, 0, 0, K.IMPRESSION, 0), (2 * h + 1, 0, 0, K.VIEW, 0.5),
        (2 * h + 2, 0, 0, K.LIKE, 0),                       # before t0: 2 acts
        (5 * h, 0, 0, K.IMPRESSION, 0), (5 * h + 10, 0, 0, K.VIEW, 0.4),
        (5 * h + 20, 0, 0, K.LIKE, 0),
        (6 * h, 0, 1, K.IMPRESSION, 0), (6 * h + 10, 0, 1, K.VIEW, 0.8),
        (8 * h, 0, 2, K.IMPRESSION, 0), (8 * h + 5, 0, 2, K.SHARE, 0),
        (6 * h, 1, 1, K.IMPRESSION, 0),
        (NOW, 0, 1, K.LIKE, 0),                             # at now: outside [t0, now)
    ]
    log = EventLog.from_arrays(*(np.asarray(c) for c in zip(*events)))
    return Observation(items, accounts, log, NOW)


def test_shape_and_order(obs):
    X = account_features(obs, [2, 0, 3, 0], T0)
    assert X.shape == (4, len(FEATURES)) and X.dtype == np.float64
    np.testing.assert_array_equal(X[1], X[3])
    np.testing.assert_array_equal(account_features(obs, [0], T0)[0], X[1])
    assert X[:, COL["account_id"]].tolist() == [2, 0, 3, 0]


def test_public_columns(obs):
    X = account_features(obs, [0, 1, 2, 3], T0)
    age = X[:, COL["age"]]
    np.testing.assert_allclose(age[:3], [20 * HOUR, 9 * HOUR, 8 * HOUR])
    assert np.isnan(age[3])                          # not created: no age
    assert X[:, COL["device_id"]].tolist() == [7, 7, 3, -1]
    assert X[:, COL["device_accounts"]].tolist() == [2, 2, 1, 0]
    assert X[:, COL["topic"]].tolist() == [1, 2, 1, -1]


def test_window_counts_and_rates(obs):
    x = dict(zip(FEATURES, account_features(obs, [0], T0)[0]))
    assert [x[f"n_{k.name.lower()}"] for k in K] == [3, 2, 1, 0, 1, 0, 0, 0]
    assert x["view_per_impression"] == pytest.approx(2 / 3)
    assert x["like_per_impression"] == pytest.approx(1 / 3)
    assert x["share_per_impression"] == pytest.approx(1 / 3)
    assert x["comment_per_impression"] == 0 and x["report_per_impression"] == 0
    assert x["acts_before_t0"] == 2


def test_act_statistics(obs):
    x = dict(zip(FEATURES, account_features(obs, [0], T0)[0]))
    # acts in the window: view/like of item 0, view of item 1, share of item 2
    assert x["distinct_items"] == 3
    gaps = [10.0, HOUR - 10.0, 2 * HOUR - 5.0]
    assert x["gap_mean"] == pytest.approx(np.mean(gaps))
    assert x["gap_std"] == pytest.approx(np.std(gaps))
    assert x["new_item_share"] == pytest.approx(2 / 4)
    ages = [5 * HOUR + 10, 5 * HOUR + 20, HOUR + 10, HOUR + 5]
    assert x["item_age_mean"] == pytest.approx(np.mean(ages))
    assert x["view_completion_mean"] == pytest.approx(0.6)


def test_inactive_accounts(obs):
    X = account_features(obs, [1, 2], T0)
    x1, x2 = (dict(zip(FEATURES, row)) for row in X)
    assert x1["n_impression"] == 1 and x1["view_per_impression"] == 0
    assert x2["n_impression"] == 0 and x2["like_per_impression"] == 0   # no 0/0
    for x in (x1, x2):
        assert x["distinct_items"] == 0 and x["acts_before_t0"] == 0
        for f in ("gap_mean", "gap_std", "new_item_share", "item_age_mean",
                  "view_completion_mean"):
            assert np.isnan(x[f])


# --- the probe ------------------------------------------------------------------------------
# The tiny scenario (about 1 s a run). A mimic's AUC is the mean over seeds 0-2: one seed's
# AUC on ~200 accounts moves by a few hundredths. Measured with
# probe_auc(name, "tiny", seed=s) and feature_ranking (single-feature AUC, mean over seeds).
SEEDS = (0, 1, 2)
MIMICS = ("aged_bots", "task_crowd", "engagement_service", "mutual_like_ring")
GIVEN_AWAY = {
    "engagement_service": "AUC 0.942 (tiny seeds 0-2: 0.906/0.951/0.968, re-measured "
                          "2026-12-02 on scenario v4; default: 0.950). "
                          "Recruits (single-feature AUCs, measured on v3) are users active "
                          "the day before t0 and act on fresh "
                          "targets: new_item_share 0.83, item_age_mean 0.81, "
                          "view_per_impression 0.77, comment_per_impression 0.76; on small "
                          "also topic 0.90 (all recruits share the targets' topics).",
    "task_crowd": "AUC 0.946 (tiny seeds 0-2: 0.929/0.940/0.968 on scenario v4; default: "
                  "0.876 in docs/results.md). Crowd workers come for the task: they act on "
                  "fresh posts (v3's single-feature AUCs: new_item_share 0.83-0.85, "
                  "item_age_mean 0.73-0.84) and like more of what they see "
                  "(like_per_impression 0.75-0.79). Found failing on 2026-12-01 at the "
                  "commit that started the day, so not a regression of it.",
}


def _probe(name, seed=0):
    pytest.importorskip("sklearn")
    from boostbench.testing.leak import probe_auc
    r = probe_auc(name, "tiny", seed=seed)
    assert r.n_campaign >= 25 and r.n_organic >= 100, r
    return r


def test_probe_detects_fresh_bots():
    """The probe has power: fresh bots 20 to a device with 2 s views are found."""
    r = _probe("bot_farm")
    assert r.auc > 0.9, f"bot_farm: AUC {r.auc:.3f} (n_campaign {r.n_campaign}, n_organic {r.n_organic})"


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(m, marks=pytest.mark.xfail(strict=True, reason=GIVEN_AWAY[m]))
    if m in GIVEN_AWAY else m for m in MIMICS])
def test_mimicking_recipes_pass_as_users(name):
    """Recipes that claim to mimic real users: a generic classifier on the public view
    cannot separate their accounts from active organic ones (mean AUC <= 0.9)."""
    aucs = [_probe(name, s).auc for s in SEEDS]
    assert np.mean(aucs) <= 0.9, f"{name}: AUC {np.round(aucs, 3)} over seeds {SEEDS}"
