import json

import pytest

from boostbench import cli
from boostbench.errors import InvalidParameter
from boostbench.metrics.cost import budget_grid, cost_to_top_k, fraud_cpm, success_curve
from boostbench.plugins import ATTACKS, RANKERS
from boostbench.runner import RunSpec, run_sweep


def test_budget_grid_is_log_spaced_up_to_the_cap():
    assert budget_grid(4.0) == [0.25, 0.5, 1.0, 2.0, 4.0]
    assert budget_grid(3.0) == [0.25, 0.5, 1.0, 2.0, 3.0]
    with pytest.raises(InvalidParameter, match="cap"):
        budget_grid(0.0)


def test_cost_to_top_k_reads_the_curve_and_censors():
    curve = success_curve([1, 2, 4, 8], [[0.0, 0.5, 0.25, 1.0], [0.0, 0.75, 0.25, 1.0]])
    cost, lo, hi = cost_to_top_k(curve)
    assert cost == 2  # first budget with mean success >= 1/2 (the curve need not be monotone)
    assert lo == 2 and hi == 8  # upper bound crosses at 2; lower bound only at 8
    never = success_curve([1, 2], [[0.0, 0.1], [0.0, 0.1]])
    assert cost_to_top_k(never) == (None, None, None)


def test_fraud_cpm():
    assert fraud_cpm(5.0, 2500.0) == pytest.approx(2.0)
    assert fraud_cpm(5.0, 0.0) is None and fraud_cpm(5.0, -3.0) is None


def test_sweep_nested_budgets_and_censoring(tiny_scenario):
    spec = RunSpec(tiny_scenario, (RANKERS.get("like_count")(),),
                   (ATTACKS.get("bot_farm")(), ATTACKS.get("mass_report")()), (0,), 1.0)
    recs = run_sweep(spec, [0.0, 0.5, 2.0])
    by = {(r["attack"], r["budget"]): r for r in recs}
    assert by["bot_farm", 0.0]["success"] == 0.0 and by["bot_farm", 0.0]["spend"] == 0.0
    assert by["bot_farm", 2.0]["success"] == 1.0
    assert by["bot_farm", 2.0]["fake_actions"] >= by["bot_farm", 0.5]["fake_actions"]
    # reports do not move a like count: sabotage fails against like_count
    assert by["mass_report", 2.0]["goal"] == "demote" and by["mass_report", 2.0]["success"] == 0.0
    assert all(r["knowledge"] == "fixed" for r in recs)
    with pytest.raises(InvalidParameter, match="strictly increasing"):
        run_sweep(spec, [1.0, 0.5])


def test_cost_cli_table_and_json(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert cli.main(["cost", "--scenario", "tiny", "--seeds", "2", "--cap", "1", "--rankers",
                     "like_count,real_interaction", "--attacks", "bot_farm,task_crowd",
                     "--json", str(out), "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    assert "cheapest attack to the top k (the worst case" in text and "fraud_cpm" in text
    rows = json.loads(out.read_text())["records"]
    assert len(rows) == 4
    for r in rows:
        for f in ("ranker", "attack", "knowledge", "k", "cap", "cost_to_top_k", "ci_low",
                  "ci_high", "fraud_cpm"):
            assert f in r
        assert r["cap"] == 1.0 and r["k"] == 10
    bot = next(r for r in rows if r["ranker"] == "like_count" and r["attack"] == "bot_farm")
    assert bot["cost_to_top_k"] == 0.25 and bot["fraud_cpm"] > 0
    # the tiny world saturates: the CPM at that budget is flagged as an upper bound
    runs = json.loads(out.read_text())["runs"]
    reach = [r["target_reach"] for r in runs if r["ranker"] == "like_count"
             and r["attack"] == "bot_farm" and r["budget"] == bot["cpm_budget"]]
    assert bot["cpm_target_reach"] == pytest.approx(sum(reach) / len(reach))
    assert bot["cpm_saturated"] == (bot["cpm_target_reach"] >= 0.5) and bot["cpm_saturated"]
    line = next(x for x in text.splitlines() if x.startswith("like_count") and "bot_farm" in x)
    assert " sat." in line and "sat.: the targets reached half the active accounts" in text


def test_sweep_cli(capsys):
    assert cli.main(["sweep", "--scenario", "tiny", "--seeds", "1", "--budgets", "0,1",
                     "--rankers", "like_count", "--attacks", "bot_farm"]) == 0
    text = capsys.readouterr().out
    assert "$0" in text and "$1" in text and "1.00 /" in text


@pytest.mark.parametrize("args, needle", [
    (["sweep", "--budgets", "5,1"], "--budgets must be a non-empty sequence of values each a finite real in [0, 10000] (strictly increasing)"),
    (["sweep", "--budgets", "a,b"], "--budgets must be"),
    (["cost", "--cap", "0"], "--cap must be a finite real in [0.25, 10000]"),
])
def test_cost_and_sweep_bad_options(args, needle, capsys):
    assert cli.main(args) == 2
    assert needle in capsys.readouterr().err


def test_cost_table_sets_defended_pipelines_beside_their_bare_scorer(tmp_path, capsys):
    assert cli.main(["cost", "--scenario", "tiny", "--seeds", "2", "--cap", "1", "--rankers",
                     "like_count,like_count+account_trust", "--attacks", "bot_farm",
                     "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    line = [x for x in text.splitlines() if x.startswith("  like_count+account_trust:")][0]
    assert "(bare like_count:" in line and "collateral: organic weight removed" in line
    assert "honest top-k demoted" in line and "clean NDCG drop" in line
