import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from boostbench import cli
from boostbench.validate import EXPERIMENTS, HERDING_FINAL_BAND, gini, unpredictability


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


def test_musiclab_quick_social_influence_raises_inequality_more_with_sorted_display():
    e = EXPERIMENTS["musiclab"](quick=True)
    e1, e2 = e.measured["experiment1"], e.measured["experiment2"]
    for m in ("gini_mean", "unpredictability"):
        assert e1["social"][m] > e1["independent"][m]
        assert e2["social"][m] > e1["social"][m]
    assert e.direction_ok


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
