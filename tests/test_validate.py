import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import spearmanr

from boostbench import cli, validate
from boostbench.behaviour import BehaviourParams
from boostbench.feed import examination_curve
from boostbench.validate import (EXPERIMENTS, HERDING_FINAL_BAND, MUSICLAB_LISTENS,
                                 MUSICLAB_PAGE_DECAY, MUSICLAB_PARAMS, _behaviour, gini, market,
                                 musiclab_page_curve, musiclab_summary, unpredictability)


@given(st.lists(st.floats(0, 100), min_size=1, max_size=30))
def test_gini_matches_the_pairwise_definition(x):
    x = np.asarray(x)
    if x.sum() == 0:
        assert gini(x) == 0.0
        return
    brute = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size ** 2 * x.mean())
    assert gini(x) == pytest.approx(brute, abs=1e-9)


def test_unpredictability_by_hand():
    shares = np.array([[0.5, 0.5], [0.7, 0.3], [0.4, 0.6]])
    # pairs (0,1), (0,2), (1,2): |diffs| item0 = .2, .1, .3; item1 = .2, .1, .3
    assert unpredictability(shares) == pytest.approx(0.2)
    assert np.isnan(unpredictability(shares[:1]))


def test_herding_quick_goes_the_published_way():
    e = EXPERIMENTS["herding"](quick=True)
    m = e.measured
    assert m["herding_x0"]["first_like_ratio"] == 1.0  # CRN: no herding, no difference
    assert 1.1 < m["herding_x1"]["first_like_ratio"] < 1.6
    assert m["herding_x2"]["first_like_ratio"] > m["herding_x1"]["first_like_ratio"]
    assert m["herding_x1"]["final_likes_ratio_random_display"] > 1.0
    assert e.direction_ok
    # the verdict reads the final ratio against the published band, not the fitted first ratio
    lo, hi = HERDING_FINAL_BAND
    assert e.band_ok == (lo <= m["herding_x1"]["final_likes_ratio_random_display"] <= hi)
    assert e.verdict == ("in band" if e.band_ok else "direction only")


def test_musiclab_page_curve_by_hand():
    # r^-1 over 4 positions: weights 1, 1/2, 1/3, 1/4 (sum 25/12), scaled to sum 1.25
    assert musiclab_page_curve(4, decay=1.0, examined=1.25) == pytest.approx([0.6, 0.3, 0.2, 0.15])
    assert musiclab_page_curve(2, decay=0.0, examined=3.0).tolist() == [1.0, 1.0]  # capped at 1
    page = musiclab_page_curve()
    assert page.sum() == pytest.approx(MUSICLAB_LISTENS / MUSICLAB_PARAMS.view_rate)
    assert page[0] / page[47] == pytest.approx(48 ** MUSICLAB_PAGE_DECAY)
    feed = examination_curve("ctr", 48)
    assert page[9] / page[0] > 3 * feed[9] / feed[0]  # far gentler than the feed curve


def _equal_items(n_items, n_users, herding=0.0):
    q = np.full(n_items, 0.5)
    params = replace(BehaviourParams(), herding=herding)
    return _behaviour(q, q.copy(), n_users, params, np.random.default_rng(0))


def test_market_takes_an_explicit_position_curve():
    beh = _equal_items(4, 4000)
    out = market(beh, 4000, display="random", social=False, key=3, batch=2000,
                 curve=[1.0, 0.5, 0.25, 0.0])
    views = out["views_by_slot"]
    assert views[3] == 0                                    # never examined, never viewed
    assert views[1:3] / views[0] == pytest.approx([0.5, 0.25], abs=0.03)


def test_market_without_a_curve_is_unchanged():
    """The default display is the feed curve over every item, exactly as before."""
    beh = _equal_items(12, 200, herding=0.4)
    for display in ("random", "sorted"):
        a = market(beh, 200, display=display, social=True, key=5)
        b = market(beh, 200, display=display, social=True, key=5,
                   curve=examination_curve("ctr", 12))
        for k in ("likes", "likes_by_slot", "views_by_slot", "views", "view_liked"):
            assert np.array_equal(a[k], b[k]), k


def test_musiclab_summary_by_hand():
    independent = np.array([[1, 2, 3], [1, 2, 3], [2, 4, 6], [0, 1, 2]])
    social = np.array([[1, 2, 3], [3, 2, 1], [5, 5, 1]])
    m = musiclab_summary(independent, social)
    big = np.array([[2, 4, 6], [2, 5, 8]]) / np.array([[12], [15]])  # worlds pooled in pairs
    soc = social / social.sum(axis=1, keepdims=True)
    rho = [spearmanr(i, s).statistic for i in big for s in soc]
    # rank orders: both independent worlds ascend; social: ascending, descending, tied
    assert rho[:2] == pytest.approx([1.0, -1.0]) and rho[3:5] == pytest.approx([1.0, -1.0])
    assert m["spearman_independent_social"] == pytest.approx(np.mean(rho))
    u_ind = unpredictability(independent / independent.sum(axis=1, keepdims=True))
    assert m["independent"]["unpredictability"] == pytest.approx(u_ind)
    assert m["social"]["unpredictability"] == pytest.approx(unpredictability(soc))
    assert m["u_ratio_social_independent"] == pytest.approx(unpredictability(soc) / u_ind)
    assert m["independent"]["gini_mean"] == pytest.approx((gini(big[0]) + gini(big[1])) / 2)
    assert m["independent"]["gini_pooled"] == pytest.approx(gini([4, 9, 14]))
    assert m["independent"]["likes_per_world"] == (6 + 6 + 12 + 3) / 4


def test_musiclab_quick_sorted_page_raises_inequality_and_unpredictability_more(monkeypatch):
    calls = []

    def recording_market(*args, **kw):
        calls.append(kw)
        return market(*args, **kw)

    monkeypatch.setattr(validate, "market", recording_market)
    e = EXPERIMENTS["musiclab"](quick=True)
    # every world shows the one page, with its gentle position curve; only the social
    # worlds of experiment 2 sort it
    page = musiclab_page_curve()
    assert len(calls) == 24 and all(np.array_equal(c["curve"], page) for c in calls)
    assert [c["display"] == "sorted" for c in calls] == [False] * 16 + [True] * 8
    assert all(c["social"] for c in calls[8:]) and not any(c["social"] for c in calls[:8])

    e1, e2 = e.measured["experiment1"], e.measured["experiment2"]
    assert e1["independent"] == e2["independent"]          # shared independent worlds
    assert e1["social"]["gini_mean"] > e1["independent"]["gini_mean"]
    assert e2["social"]["gini_mean"] > e1["social"]["gini_mean"]
    for m in (e1, e2):
        assert m["u_ratio_social_independent"] == pytest.approx(
            m["social"]["unpredictability"] / m["independent"]["unpredictability"])
    assert 1.0 < e1["u_ratio_social_independent"] < e2["u_ratio_social_independent"]
    # independent shares still predict social ones, less so on the sorted page
    assert 0.0 < e2["spearman_independent_social"] < e1["spearman_independent_social"] < 1.0
    assert e.direction_ok and e.band_ok is None and e.verdict == "direction only"


@pytest.mark.parametrize("kind", ["ctr", "dcg"])
def test_position_bias_is_a_self_check_of_slot_handling(kind):
    """The examination curve is the model's input: views by slot coming back on it checks
    the simulator's slot bookkeeping, not the model, and the verdict says so."""
    e = EXPERIMENTS["position_bias"](quick=True, examination=kind)
    assert e.direction_ok, e.measured
    assert e.self_check and e.verdict == "self-check"


def test_validate_cli_writes_both_published_and_measured(tmp_path, capsys):
    out = tmp_path / "v.json"
    assert cli.main(["validate", "--quick", "--experiments", "position_bias,exposure_inequality",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "position_bias: SELF-CHECK" in text and "exposure_inequality: " in text
    data = json.loads(out.read_text())
    names = [e["name"] for e in data["experiments"]]
    assert names == ["position_bias", "exposure_inequality"]
    for e in data["experiments"]:
        assert e["published"] and e["measured"]
        assert e["verdict"] in ("in band", "direction only", "self-check", "differs")


def test_a_verdict_says_how_far_a_check_goes():
    from boostbench.validate import Experiment
    e = Experiment("x", "src", {}, {}, direction_ok=True)
    assert e.verdict == "direction only"
    assert Experiment("x", "s", {}, {}, True, band_ok=True).verdict == "in band"
    assert Experiment("x", "s", {}, {}, False, band_ok=False).verdict == "differs"
    assert Experiment("x", "s", {}, {}, True, self_check=True).verdict == "self-check"
    assert Experiment("x", "s", {}, {}, False, self_check=True).verdict == "differs"


def test_exposure_inequality_verdict_reads_the_tenrec_band():
    e = EXPERIMENTS["exposure_inequality"](quick=True)
    m = e.measured
    assert 0 <= m["gini"] <= 1 and m["items"] > 0
    assert m["design_bound"] == pytest.approx(1 - m["cold_start_quota"] / m["mean_exposure"])
    assert e.verdict == ("in band" if 0.93 <= m["gini"] <= 0.95 else "differs")


def test_validate_cli_rejects_unknown_experiment(tmp_path, capsys):
    assert cli.main(["validate", "--experiments", "astrology"]) == 2
    assert "--experiments must name some of" in capsys.readouterr().err


def test_rates_count_each_kind_per_impression_inside_the_span():
    from boostbench.events import EventKind as K
    from boostbench.validate import _rates
    t = np.array([0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 9.0])
    kind = np.array([K.IMPRESSION, K.IMPRESSION, K.LIKE, K.IMPRESSION, K.VIEW, K.SHARE,
                     K.IMPRESSION])
    r = _rates(t, kind, 1.0, 9.0)            # [1, 9): impressions at 1 and 2
    assert r["impressions"] == 2
    assert r == {"impressions": 2, "view": 0.5, "like": 0.5, "comment": 0.0, "share": 0.5,
                 "not_interested": 0.0}
    assert _rates(t, kind, 4.0, 5.0)["like"] == 0.0   # no impression: no division by zero


def test_engagement_rates_history_returns_the_calibration_and_the_verdict_reads_the_band():
    e = EXPERIMENTS["engagement_rates"](quick=True)
    m, p = e.measured, BehaviourParams()
    # the history is the fitting regime: its rates are the inputs (a few % of sampling noise)
    assert m["history"]["like"] == pytest.approx(p.like_rate, rel=0.1)
    assert m["history"]["view"] == pytest.approx(p.view_rate, rel=0.05)
    # the ranker families are judged; random (no production feed is uniform) is not
    assert validate.RATE_JUDGED == ("like_count", "engagement_depth", "real_interaction")
    inside = [lo <= m[n][r] <= hi for n in validate.RATE_JUDGED for r in ("like", "share")
              for lo, hi in [validate.FEED_RATES[r]]]
    assert e.band_ok == all(inside)
    assert e.verdict == ("in band" if all(inside) else "differs")
    for n in validate.RATE_RANKERS:
        assert m[n]["impressions"] > 0 and 0 < m[n]["like"] < m[n]["view"] < 1
        assert m["like_ratio_to_kuairand"][n] == pytest.approx(m[n]["like"] / 0.0156)
