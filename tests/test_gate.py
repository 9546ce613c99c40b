"""The regression gate: `boostbench baseline` and `boostbench check` (issue 7, part 5)."""

import json
import textwrap
from dataclasses import dataclass

import numpy as np
import pytest

from boostbench import cli, gate
from boostbench.plugins import METRICS, RANKERS
from boostbench.rankers import LikeCount

# Tiny world, open loop, one attack: about a second per run on 2 cores.
SPEC = ["--scenario", "tiny", "--mode", "replay", "--attacks", "bot_farm", "--jobs", "1"]
REPLAY_GATED = list(gate.gated_metrics("replay"))


@dataclass(frozen=True)
class Undefended(LikeCount):
    """'real_interaction' with its defences removed: raw like count under the same name."""

    name: str = "real_interaction"


USER_MODULE = '''
"""A user's rankers, importable as module:attr (what --reference resolves)."""
from boostbench.rankers import RealInteraction


class DefendedLikeCount:
    """'like_count' as it was before the pull request: with the real-interaction defences."""

    name = "like_count"

    def __init__(self):
        self._inner = RealInteraction()

    def __call__(self, obs):
        return self._inner(obs)


def not_a_ranker():
    return None


READY = DefendedLikeCount()
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "gate_user_rankers.py").write_text(textwrap.dedent(USER_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "gate_user_rankers"


@pytest.fixture(scope="module")
def robust_baseline(tmp_path_factory):
    """Baseline of the defended ranker on seeds 0..3."""
    path = tmp_path_factory.mktemp("gate") / "baseline.json"
    assert cli.main(["baseline", "--out", str(path), "--rankers", "real_interaction",
                     "--seeds", "4", *SPEC]) == 0
    return path


def _check(capsys, *args):
    code = cli.main(["check", *args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_baseline_keeps_per_seed_values_manifest_and_directions(robust_baseline):
    data = json.loads(robust_baseline.read_text())
    assert data["format"] == gate.FORMAT and data["format_version"] == gate.FORMAT_VERSION
    assert data["manifest"]["numpy"] == np.__version__
    assert data["metrics"]["rank_lift"]["greater_is_better"] is False
    assert data["metrics"]["quality_ndcg_at_k"]["greater_is_better"] is True
    assert set(data["metrics"]) == set(METRICS.names())
    assert data["gate"]["metrics"]["replay"] == REPLAY_GATED
    (run,) = data["runs"]
    assert run["options"] == {"scenario": "tiny", "rankers": "real_interaction",
                              "attacks": "bot_farm", "budget": 2.0, "k": 10, "size": "tiny",
                              "mode": "replay"}
    assert run["manifest"]["seeds"] == [0, 1, 2, 3] and run["manifest"]["command"] == "baseline"
    recs = run["records"]
    assert sorted(r["seed"] for r in recs) == [0, 1, 2, 3]
    assert all(r["scenario"] == "tiny" and r["ranker"] == "real_interaction" for r in recs)
    assert len({r["rank_lift"] for r in recs}) > 1  # per seed, not only a mean


def test_unchanged_ranker_same_seeds_passes_and_prints_the_table(robust_baseline, capsys):
    code, out, _ = _check(capsys, "--baseline", str(robust_baseline))
    assert code == 0
    head = out.splitlines()[1].split()
    for col in ("metric", "ranker", "attack", "baseline", "current", "change", "margin",
                "adj.", "verdict"):
        assert col in head
    for m in REPLAY_GATED:
        assert m in out
    assert "paired by seed" in out and "PASS" in out
    assert [line.split()[-1] for line in out.splitlines() if "bot_farm" in line] == ["ok"] * len(REPLAY_GATED)


def test_unchanged_ranker_different_seeds_passes(robust_baseline, capsys):
    code, out, _ = _check(capsys, "--baseline", str(robust_baseline), "--seeds", "10,11,12,13")
    assert code == 0, out
    assert "unpaired" in out and "Welch" in out


def test_defence_removed_fails(robust_baseline, capsys, monkeypatch, tmp_path):
    # The pull request keeps the name but drops the defences: the registered
    # 'real_interaction' now scores by raw like count.
    monkeypatch.setitem(RANKERS._items, "real_interaction", Undefended)
    report = tmp_path / "check.json"
    code, out, _ = _check(capsys, "--baseline", str(robust_baseline), "--json", str(report))
    assert code == 1
    rows = {line.split()[0]: line for line in out.splitlines() if "bot_farm" in line}
    assert "REGRESSION" in rows["log_rank_lift"] and "REGRESSION" in rows["reached_top_k"]
    assert out.splitlines()[-1].startswith("FAIL:")
    data = json.loads(report.read_text())
    assert data["regressions"] >= 2 and data["manifest"]["paired"] is True
    t = next(x for x in data["tests"] if x["metric"] == "log_rank_lift")
    # several halvings of the rank: far beyond log_rank_lift's declared 0.1 absolute margin
    assert t["degradation"] > 10 * METRICS.get("log_rank_lift").margin.floor
    assert t["pvalue_adjusted"] < 0.05
    # the same change passes when the declared margins tolerate it
    generous = [f"{m}={x}" for m, x in [("rank_lift", 1e6), ("log_rank_lift", 100),
                                         ("reached_top_k", 1), ("low_quality_share_at_k", 1),
                                         ("quality_ndcg_at_k", 1)]]
    code, out, _ = _check(capsys, "--baseline", str(robust_baseline), "--margin", *generous)
    assert code == 0, out


def test_reference_rerun_is_paired_and_catches_the_regression(tmp_path, capsys, user_module):
    # Baseline of the gameable ranker as the PR leaves it; the reference is the defended
    # version of the same name, re-run on the same seeds instead of trusting stored numbers.
    path = tmp_path / "b.json"
    assert cli.main(["baseline", "--out", str(path), "--rankers", "like_count", "--seeds", "3",
                     *SPEC]) == 0
    capsys.readouterr()
    code, out, _ = _check(capsys, "--baseline", str(path), "--reference",
                          f"{user_module}:DefendedLikeCount", "--seeds", "5,6,7")
    assert code == 1
    assert "reference 'like_count'" in out and "REGRESSION" in out


def test_reference_identical_to_ranker_passes(robust_baseline, capsys):
    code, out, _ = _check(capsys, "--baseline", str(robust_baseline), "--reference",
                          "boostbench.rankers.real_interaction:RealInteraction", "--seeds", "4,5")
    assert code == 0, out
    for line in out.splitlines():
        if "bot_farm" in line:
            assert line.split()[-1] == "ok" and " +0 " in line  # bit-identical paired re-run


@pytest.fixture
def corrupt(tmp_path):
    p = tmp_path / "bad" / "corrupt.json"
    p.parent.mkdir()
    p.write_text('{"format": "boostbench-baseline", ')
    return p


@pytest.fixture
def foreign(tmp_path):
    p = tmp_path / "bad" / "foreign.json"
    p.parent.mkdir(exist_ok=True)
    p.write_text(json.dumps({"manifest": {}, "records": []}))
    return p


@pytest.mark.parametrize("args, needle", [
    (["--baseline", "{missing}"], "--baseline: file"),
    (["--baseline", "{corrupt}"], "is not valid JSON"),
    (["--baseline", "{foreign}"], "is not a boostbench baseline"),
    (["--margin", "nope=1"], "--margin: unknown metric 'nope'"),
    (["--margin", "rank_lift=-1"], "--margin rank_lift: the margin must be a number in [0, inf)"),
    (["--margin", "rank_lift=-5%"], "--margin rank_lift"),
    (["--margin", "rank_lift"], "--margin must be METRIC=VALUE"),
    (["--margin", "rank_lift=1", "rank_lift=2"], "given twice"),
    (["--alpha", "1.5"], "--alpha must be a finite real in (0, 1)"),
    (["--seeds", "1"], "--seeds must be a count in [2, 10000] or a comma list of at least 2"),
    (["--seeds", "0"], "--seeds must be a count in [2, 10000]"),
    (["--test", "z"], "--test must be one of 't', 'sign-flip'"),
    (["--test", "sign-flip"], f"--test sign-flip cannot fail with 4 seeds over {len(REPLAY_GATED)} tests"),
    (["--test", "sign-flip", "--seeds", "9,10"], "--test sign-flip needs paired seeds"),
    (["--reference", "__import__('os')"], "must be a ranker (a registered name, module:attr"),
    (["--reference", "no_such_module_xyz:R"], "importing module 'no_such_module_xyz' failed"),
    (["--reference", "boostbench.rankers:Nope"], "has no attribute 'Nope'"),
    (["--reference", "os:getcwd"], "must be a ranker"),
    (["--reference", "os:sep"], "must be a ranker"),
    (["--json", "/no/such/dir/c.json"], "--json: folder"),
])
def test_check_bad_input_one_line_exit_2_no_file(args, needle, robust_baseline, tmp_path,
                                                 corrupt, foreign, capsys, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("work started before validation finished")
    from boostbench import runner
    monkeypatch.setattr(cli, "run_matrix", boom)
    monkeypatch.setattr(runner, "run_matrix", boom)   # what gate.check runs
    subs = {"{missing}": str(tmp_path / "nope.json"), "{corrupt}": str(corrupt),
            "{foreign}": str(foreign)}
    args = [subs.get(x, x) for x in args]
    if "--baseline" not in args:
        args = ["--baseline", str(robust_baseline), *args]
    out = tmp_path / "out" / "c.json"
    out.parent.mkdir()
    extra = [] if "--json" in args else ["--json", str(out)]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, _, err = _check(capsys, *args, *extra)
    assert code == 2
    err = err.strip()
    assert needle in err and "\n" not in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before and not out.exists()


def test_changed_direction_declaration_exits_2(robust_baseline, tmp_path, capsys):
    data = json.loads(robust_baseline.read_text())
    data["metrics"]["log_rank_lift"]["greater_is_better"] = True
    p = tmp_path / "flipped.json"
    p.write_text(json.dumps(data))
    code, _, err = _check(capsys, "--baseline", str(p))
    assert code == 2 and "'log_rank_lift' was recorded as higher-is-better" in err


@pytest.mark.parametrize("args, needle", [
    (["--seeds", "1"], "--seeds: the gate compares across seeds and needs at least 2"),
    (["--scenario", "nope"], "--scenario must be one of"),
    (["--rankers", "nope"], "--rankers: 'nope': Unknown ranker 'nope'"),
    (["--budget", "-1"], "--budget must be a finite real in [0, 10000]"),
    (["--out", "/no/such/dir/b.json"], "--out: folder"),
])
def test_baseline_bad_input_one_line_exit_2_no_file(args, needle, tmp_path, capsys):
    out = tmp_path / "b.json"
    extra = [] if "--out" in args else ["--out", str(out)]
    assert cli.main(["baseline", "--scenario", "tiny", "--mode", "replay", *args, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_baseline_needs_out(capsys):
    assert cli.main(["baseline", "--scenario", "tiny"]) == 2
    assert "--out" in capsys.readouterr().err


def _recs(ranker, values_by_metric, seeds):
    return [{"scenario": "s", "ranker": ranker, "attack": "a", "seed": s,
             **{m: v[i] for m, v in values_by_metric.items()}} for i, s in enumerate(seeds)]


def test_compare_orients_by_declared_direction_and_applies_holm():
    seeds = [0, 1, 2, 3]
    before = _recs("r", {"rank_lift": [100, 110, 90, 105],
                         "quality_ndcg_at_k": [.8, .82, .79, .81]}, seeds)
    # rank_lift (lower is better) rose a lot; quality (higher is better) rose too: better
    after = _recs("r", {"rank_lift": [300, 330, 280, 310], "quality_ndcg_at_k": [.9, .93, .9, .92]},
                  seeds)
    rows = gate.compare(before, after, ["rank_lift", "quality_ndcg_at_k"], alpha=0.05)
    by = {r.metric: r for r in rows}
    assert by["rank_lift"].verdict == "REGRESSION"
    assert by["quality_ndcg_at_k"].verdict == "ok" and by["quality_ndcg_at_k"].test.pvalue > 0.99
    assert by["rank_lift"].pvalue_adjusted == pytest.approx(2 * by["rank_lift"].test.pvalue)
    assert by["rank_lift"].test.margin == pytest.approx(0.1 * 101.25)  # relative, above floor
    # a quality drop is a regression for a higher-is-better metric
    worse = _recs("r", {"rank_lift": [100, 110, 90, 105], "quality_ndcg_at_k": [.6, .62, .58, .6]},
                  seeds)
    by = {r.metric: r for r in gate.compare(before, worse, ["rank_lift", "quality_ndcg_at_k"])}
    assert by["quality_ndcg_at_k"].verdict == "REGRESSION" and by["rank_lift"].verdict == "ok"
    text = gate.format_check(rows, alpha=0.05)
    assert "rank_lift ↓" in text and "quality_ndcg_at_k ↑" in text
    assert "Holm over 2 tests" in text


def test_margins_declared_in_one_place_and_overridable():
    from boostbench.metrics.base import DEFAULT_MARGIN
    for mode in ("replay", "closed"):  # every metric the gate tests declares its own margin
        for m in gate.gated_metrics(mode):
            assert METRICS.get(m).margin != DEFAULT_MARGIN, m
    assert gate.margin_for("some_plugin_metric") == gate.Margin(0.10, 0)
    assert gate.margin_for("hit_rate_at_k").resolve(0.0) == 0.05  # floor when baseline is 0
    assert gate.margin_for("rank_lift").resolve(-600.0) == pytest.approx(60.0)
    o = gate.parse_margins(["rank_lift=25", "feed_quality=1%"])
    assert gate.margin_for("rank_lift", o).resolve(-600.0) == 25.0
    assert gate.margin_for("feed_quality", o).resolve(0.5) == pytest.approx(0.005)


def test_resolve_ranker(user_module):
    r = gate.resolve_ranker(f"{user_module}:DefendedLikeCount")
    assert r.name == "like_count" and callable(r)
    assert gate.resolve_ranker("wilson").name == "wilson"  # registered names work too
    with pytest.raises(gate.GateError, match="must be a ranker"):
        gate.resolve_ranker(f"{user_module}:not_a_ranker")  # a factory returning None
    ready = gate.resolve_ranker(f"{user_module}:READY")      # an instance is used as it is
    assert ready.name == "like_count"


def test_robustness_info_is_flat_and_json_ready():
    recs = _recs("r", {"rank_lift": [1.0, 3.0], "amplification": [float("nan")] * 2}, [0, 1])
    info = gate.robustness_info(recs, ["rank_lift", "amplification"])
    assert info == {"r/a/rank_lift": 2.0, "r/a/amplification": None}
    json.dumps(info)


def test_metric_missing_from_an_older_baseline_is_skipped_with_a_note(robust_baseline, tmp_path,
                                                                      capsys):
    data = json.loads(robust_baseline.read_text())
    del data["metrics"]["log_rank_lift"]
    p = tmp_path / "older.json"
    p.write_text(json.dumps(data))
    code, out, _ = _check(capsys, "--baseline", str(p))
    assert code == 0
    assert "not tested: log_rank_lift" in out
    assert not any(line.startswith("log_rank_lift") for line in out.splitlines())
    code, _, err = _check(capsys, "--baseline", str(p), "--margin", "log_rank_lift=1")
    assert code == 2 and "'log_rank_lift' was not recorded" in err


# --- a baseline is data ---------------------------------------------------------------

def _tampered(robust_baseline, tmp_path, edit, name="tampered.json"):
    data = json.loads(robust_baseline.read_text())
    edit(data)
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize("field, value", [
    ("rankers", "sys:exit"), ("rankers", "real_interaction+os:abort"),
    ("attacks", "bot_farm,os:abort"), ("scenario", "sys:exit")])
def test_a_baseline_cannot_choose_code_to_run(field, value, robust_baseline, tmp_path, capsys,
                                              monkeypatch):
    """A baseline naming sys:exit used to make the gate exit 0 with no output (a silent
    PASS): names from a baseline resolve only against the registries."""
    from boostbench import plugins, runner

    def boom(*a, **k):
        raise AssertionError("code named by the baseline was imported")
    monkeypatch.setattr(plugins, "resolve_spec", boom)
    monkeypatch.setattr(runner, "run_matrix", boom)
    p = _tampered(robust_baseline, tmp_path,
                  lambda d: d["runs"][0]["options"].__setitem__(field, value))
    code, out, err = _check(capsys, "--baseline", str(p))
    assert code == 2 and out == ""
    assert "names code to import" in err and value.split(",")[-1].split("+")[-1] in err
    assert "--allow-code" in err and "\n" not in err.strip()


def test_allow_code_lets_a_trusted_baseline_name_its_module(robust_baseline, tmp_path, capsys,
                                                            user_module):
    def edit(d):   # the module's ranker is real_interaction under the name 'like_count'
        d["runs"][0]["options"]["rankers"] = f"{user_module}:DefendedLikeCount"
        for r in d["runs"][0]["records"]:
            r["ranker"] = "like_count"
    p = _tampered(robust_baseline, tmp_path, edit)
    code, _, err = _check(capsys, "--baseline", str(p), "--seeds", "0,1")
    assert code == 2 and "names code to import" in err
    code, out, err = _check(capsys, "--baseline", str(p), "--seeds", "0,1", "--allow-code")
    assert code == 0 and "like_count" in out and "PASS" in out, err


def test_non_finite_and_deep_baselines_are_refused(robust_baseline, tmp_path, capsys):
    raw = robust_baseline.read_text()
    rec = json.loads(raw)["runs"][0]["records"][0]
    inf = tmp_path / "inf.json"
    inf.write_text(raw.replace(f'"log_rank_lift": {json.dumps(rec["log_rank_lift"])}',
                               '"log_rank_lift": Infinity', 1))
    assert "Infinity" in inf.read_text()
    code, _, err = _check(capsys, "--baseline", str(inf))
    assert code == 2 and "non-finite number Infinity" in err
    huge = _tampered(robust_baseline, tmp_path, lambda d: d["runs"][0]["records"][0].__setitem__(
        "log_rank_lift", 10 ** 400), "huge.json")
    code, _, err = _check(capsys, "--baseline", str(huge))
    assert code == 2 and "'log_rank_lift' must be a finite number or null" in err
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = _check(capsys, "--baseline", str(deep))
    assert code == 2 and "nested too deeply" in err


def test_a_metric_defined_on_one_side_only_fails_with_the_reason():
    rec = [{"scenario": "s", "ranker": "r", "attack": "a", "seed": s} for s in range(3)]
    before = [{**r, "detection_precision": v} for r, v in zip(rec, (1.0, 0.9, 1.0))]
    after = [{**r, "detection_precision": v} for r, v in zip(rec, (1.0, np.nan, 1.0))]
    (row,) = gate.compare(before, after, ["detection_precision"])
    assert row.verdict == "REGRESSION" and "1 of 3 seeds" in row.reason
    assert "defined on one side only" in gate.format_check([row], alpha=0.05)
    # NaN on both sides is undefined by definition: not tested, not a failure
    nan = [{**r, "detection_precision": np.nan} for r in rec]
    (row,) = gate.compare(nan, nan, ["detection_precision"])
    assert row.verdict == "not tested" and row.reason == ""
    # unpaired: defined in the baseline, in no current seed
    (row,) = gate.compare(before, [{**r, "seed": r["seed"] + 10} for r in nan],
                          ["detection_precision"], paired=False)
    assert row.verdict == "REGRESSION" and "the baseline only" in row.reason


def test_a_baseline_with_a_huge_budget_is_refused_before_any_work(robust_baseline, tmp_path,
                                                                  capsys, monkeypatch):
    from boostbench import runner

    def boom(*a, **k):
        raise AssertionError("work started before validation finished")
    monkeypatch.setattr(runner, "run_matrix", boom)
    p = _tampered(robust_baseline, tmp_path,
                  lambda d: d["runs"][0]["options"].__setitem__("budget", 1e9))
    code, _, err = _check(capsys, "--baseline", str(p))
    assert code == 2 and "budget" in err and "[0, 10000]" in err and "\n" not in err.strip()


# --- what a baseline can catch ----------------------------------------------------------------

def test_power_report_flags_a_noisy_metric_and_says_how_many_seeds_would_do():
    from boostbench.gate import power_report
    from boostbench.stats import detectable_degradation
    recs = [dict(scenario="s", ranker="r", attack="a", seed=i, log_rank_lift=x,
                 reached_top_k=0.0) for i, x in enumerate([0.1, 0.9, -0.4, 0.5, 0.2])]
    rows = {r["metric"]: r for r in power_report(recs, ["log_rank_lift", "reached_top_k"])}
    lift = rows["log_rank_lift"]
    sd = float(np.std([0.1, 0.9, -0.4, 0.5, 0.2], ddof=1))
    assert lift["sd"] == pytest.approx(sd) and lift["seeds"] == 5
    assert lift["detectable"] == pytest.approx(detectable_degradation(
        sd, 5, margin=lift["margin"], alpha=0.05, tests=2, paired=False))
    assert lift["underpowered"] and lift["seeds_needed"] > 5
    k = lift["seeds_needed"]
    assert detectable_degradation(sd, k, margin=lift["margin"], alpha=0.05, tests=2,
                                  paired=False) <= 2 * lift["margin"] + 1e-12
    assert detectable_degradation(sd, k - 1, margin=lift["margin"], alpha=0.05, tests=2,
                                  paired=False) > 2 * lift["margin"]
    assert not rows["reached_top_k"]["underpowered"]      # no spread: the margin itself


@pytest.mark.slow
def test_the_readme_recipe_catches_a_doubled_like_weight_on_fresh_seeds(tmp_path, monkeypatch,
                                                                         capsys):
    """The README's gate recipe (20 seeds) FAILs a real_interaction whose like weight is
    doubled and PASSes the unchanged one, both checked on seeds the baseline never saw."""
    import re
    from pathlib import Path
    from boostbench.plugins import RANKERS
    from boostbench.rankers import RealInteraction
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    recipe = re.search(r"boostbench baseline (.*?)# record once", readme, re.S).group(1)
    args = recipe.replace("\\\n", " ").split()
    out = tmp_path / "robustness.json"
    args[args.index("--out") + 1] = str(out)
    assert cli.main(["baseline", *args, "--quiet"]) == 0
    n = len(json.loads(out.read_text())["runs"][0]["manifest"]["seeds"])
    fresh = ",".join(str(1000 + i) for i in range(n))
    assert cli.main(["check", "--baseline", str(out), "--seeds", fresh, "--quiet"]) == 0
    monkeypatch.setitem(RANKERS._items, "real_interaction", lambda: RealInteraction(like=0.4))
    capsys.readouterr()
    assert cli.main(["check", "--baseline", str(out), "--seeds", fresh, "--quiet"]) == 1
    assert "FAIL" in capsys.readouterr().out
