"""The conformance suite (boostbench.testing.checks): every registered component through its
family's checks, and the checks themselves failing on deliberately broken components."""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib.metadata import EntryPoint

import numpy as np
import pytest

from boostbench.attacks import Recipe
from boostbench.attacks.base import Campaign, empty_campaign
from boostbench.events import EventKind as K
from boostbench.metrics import Metric
from boostbench.plugins import ATTACKS, METRICS, Registry
from boostbench.rankers.defences import BatchDefence, Detection, InlineDefence
from boostbench.testing import checks
from boostbench.testing.checks import (all_checks, check_attack, check_defence, check_metric,
                                       check_ranker, parametrize_with_checks)

# --- every registered component ---------------------------------------------------------------

#: The built-ins that declare exemptions, and the only ones allowed to.
DECLARED = {"random": {"relabelling"}, "oracle_quality": {"relabelling"}, "wrmf": {"relabelling"},
            "wrmf_frozen": {"relabelling"}}


@parametrize_with_checks()
def test_registered_components_conform(component, check):
    report = check(component)
    exempt = {k for k, v in report.items() if v != "ok"}
    assert report and exempt == DECLARED.get(getattr(component, "name", ""), set()), report


# defended rankers (pipelines) are rankers too
@parametrize_with_checks(rankers=["like_count+velocity_cap+lockstep",
                                  "real_interaction+device_dedup+account_trust+dense_block"])
def test_defended_rankers_conform(component, check):
    assert set(check(component).values()) == {"ok"}


ORACLE_DRAWS = ("calibrated_detector draws who is caught from hashed account ids (a seeded "
                "operating point, tpr 0.8 / fpr 0.001): renaming accounts changes who is caught")


def test_an_oracle_pipeline_is_bound_and_random_like():
    """The check binds the oracle's labels (it would raise unbound); its seeded draws per
    account id make the pipeline random-like: not invariant to relabelling, by design."""
    spec = "real_interaction+require_view+calibrated_detector"
    with pytest.raises(AssertionError, match=r"\[relabelling\]"):
        check_ranker(spec)
    report = check_ranker(spec, exempt={"relabelling": ORACLE_DRAWS})
    assert report.pop("relabelling") == f"exempt: {ORACLE_DRAWS}"
    assert set(report.values()) == {"ok"}
    # an operating point without draws (tpr 1, fpr 0) is invariant
    from boostbench.rankers import Pipeline, RealInteraction
    from boostbench.rankers.defences import CalibratedDetector
    sure = Pipeline(CalibratedDetector(tpr=1.0, fpr=0.0), RealInteraction())
    assert set(check_ranker(sure).values()) == {"ok"}


def test_the_rings_like_backs_land_inside_the_window():
    """The ring's unpaid reciprocity is scheduled one to two hours after each bundle, and no
    later than the window's end (it used to spill past it)."""
    assert set(check_attack("mutual_like_ring").values()) == {"ok"}


def test_ids_are_readable_and_cover_every_family():
    got = {(c, n) for c, n, _ in all_checks()}
    assert ("ranker:like_count", "check_ranker") in got
    assert ("defence:lockstep", "check_defence") in got
    assert ("attack:top_up", "check_attack") in got
    assert ("metric:rank_lift", "check_metric") in got
    assert len(got) == sum(len(r.names()) for r in (checks.RANKERS, checks.DEFENCES, ATTACKS,
                                                    METRICS))
    mark = parametrize_with_checks(rankers=["like_count"], metrics=["rank_lift"])
    ids = [p.id for p in mark.args[1]]
    assert ids == ["ranker:like_count-check_ranker", "metric:rank_lift-check_metric"]
    with pytest.raises(checks.InvalidParameter, match="no_such_case"):
        parametrize_with_checks(rankers=["like_count"], expected_failures={"no_such_case": "x"})


def test_broken_plugins_are_failing_cases_not_skipped(monkeypatch):
    def eps(group):
        return [EntryPoint("good_one", "boostbench.rankers.likes:LikeCount", group),
                EntryPoint("broken_one", "bb_no_such_module_xyz:Thing", group),
                EntryPoint("an_instance", f"{__name__}:LIKES", group)]
    monkeypatch.setitem(checks._REGISTRIES, "rankers",
                        Registry("ranker", "boostbench.rankers", entry_points=eps))
    cases = {c: run for c, _, run in all_checks(families=("rankers",))}
    assert set(cases) == {"ranker:good_one", "ranker:broken_one", "ranker:an_instance"}
    with pytest.raises(AssertionError, match=r"ranker 'broken_one' cannot be built.*"
                                             r"bb_no_such_module_xyz"):
        cases["ranker:broken_one"]()
    assert cases["ranker:good_one"]()["relabelling"] == "ok"
    assert cases["ranker:an_instance"]()["fresh_instance"] == "ok"  # registered as an object
    mark = parametrize_with_checks(families=("rankers",))
    assert [p.id for p in mark.args[1]] == ["ranker:an_instance-check_ranker",
                                            "ranker:broken_one-check_ranker",
                                            "ranker:good_one-check_ranker"]


# --- rankers -----------------------------------------------------------------------------------

class Likes:
    """A conforming ranker: the like count."""

    name = "likes"

    def __call__(self, obs):
        return obs.count(K.LIKE).copy()


LIKES = Likes()


class WrongShape(Likes):
    def __call__(self, obs):
        return obs.count(K.LIKE)[:-1].copy()


class NaNScores(Likes):
    def __call__(self, obs):
        s = obs.count(K.LIKE).copy()
        s[obs.eligible] = np.nan
        return s


class Noisy(Likes):
    def __call__(self, obs):
        return obs.count(K.LIKE) + np.random.default_rng().random(obs.n_items)


class ByItemId(Likes):
    """Breaks ties by item id: not invariant to relabelling."""

    def __call__(self, obs):
        return obs.count(K.LIKE) + 1e-3 * np.arange(obs.n_items)


class ByItemIdDeclared(ByItemId):
    conformance_exempt = {"relabelling": "ties are broken by item id on purpose"}


class Mutates(Likes):
    """Turns the cached counts writeable and adds a like to every item."""

    def __call__(self, obs):
        c = obs.counts()
        c.flags.writeable = True
        c[:, K.LIKE] += 1
        return c[:, K.LIKE].copy()


class WritesReadOnly(Likes):
    def __call__(self, obs):
        s = obs.count(K.LIKE)
        s[0] = 0.0
        return s.copy()


class Counter(Likes):
    """Each new instance scores differently (a hidden global)."""

    made = 0

    def __init__(self):
        Counter.made += 1
        self.k = Counter.made

    def __call__(self, obs):
        return obs.count(K.LIKE) + self.k


class Personal(Likes):
    def score_pairs(self, obs, account, item):
        return obs.count(K.LIKE)[item] + 0.01 * (np.asarray(account) % 3)


class BadPairs(Likes):
    def score_pairs(self, obs, account, item):
        return np.zeros(len(item) + 1)


def test_a_conforming_ranker_passes():
    assert check_ranker(Likes()) == {p: "ok" for p in checks.RANKER_CHECKS}
    assert check_ranker(Personal())["score_pairs"] == "ok"


@pytest.mark.parametrize("ranker, match", [
    (WrongShape(), r"'likes' fails check_ranker\[output\]: .*shape \(\d+,\) instead of \(\d+,\)"),
    (NaNScores(), r"\[output\]: .* eligible items get non-finite scores"),
    (Noisy(), r"\[deterministic\]: a second call .* gave other scores"),
    (ByItemId(), r"\[relabelling\]: scores do not follow a consistent relabelling"),
    (Mutates(), r"\[no_mutation\]: scoring the observation .* changed cached aggregate 'counts'"),
    (WritesReadOnly(), r"\[output\]: raised ValueError: .*read-only"),
    (BadPairs(), r"\[score_pairs\]: raised InvalidParameter: .*score_pairs must return"),
], ids=["wrong_shape", "nan_scores", "noisy", "by_item_id", "mutates", "writes_read_only",
        "bad_pairs"])
def test_check_ranker_fails_on_broken_rankers(ranker, match):
    with pytest.raises(AssertionError, match=match):
        check_ranker(ranker)


def test_fresh_instances_must_agree():
    check_ranker(Counter())  # a deep copy keeps the counter: no way to tell
    with pytest.raises(AssertionError, match=r"\[fresh_instance\]: a fresh instance scores"):
        check_ranker(Counter(), factory=Counter)


def test_a_pipeline_inherits_the_exemptions_its_parts_declare():
    from boostbench.rankers import Pipeline
    p = Pipeline(ByItemIdDeclared())
    assert check_ranker(p)["relabelling"] == ("exempt: ties are broken by item id on purpose "
                                              "(declared by likes)")


def test_exemptions_are_declared_and_reported_never_silent():
    report = check_ranker(ByItemIdDeclared())
    assert report["relabelling"] == "exempt: ties are broken by item id on purpose"
    assert {v for k, v in report.items() if k != "relabelling"} == {"ok"}
    # the caller may exempt a component it cannot change; it is reported the same way
    assert check_ranker(ByItemId(), exempt={"relabelling": "legacy"})["relabelling"] == \
        "exempt: legacy"
    with pytest.raises(AssertionError, match=r"\[contract\]: an exemption names 'relabeling'"):
        check_ranker(Likes(), exempt={"relabeling": "typo"})
    with pytest.raises(AssertionError, match="must give a reason"):
        check_ranker(Likes(), exempt={"relabelling": ""})
    with pytest.raises(AssertionError, match="not an exemptable property"):
        check_ranker(Likes(), exempt={"output": "the basic contract is never exempt"})


# --- defences ---------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Raises(InlineDefence):
    """Multiplies every event by 1.5: raises weights."""

    name: str = "raises"

    def weights(self, obs, start, state):
        return np.full(obs.n_events - start, 1.5, np.float32)


@dataclass(frozen=True, kw_only=True)
class NonCausal(InlineDefence):
    """Discounts an account by all of its visible events, later ones included."""

    name: str = "non_causal"

    def weights(self, obs, start, state):
        acc = obs.events[1]
        n = np.bincount(acc, minlength=obs.n_accounts)
        return (1.0 / np.sqrt(n[acc[start:]])).astype(np.float32)


@dataclass(frozen=True, kw_only=True)
class InlineBan(InlineDefence):
    name: str = "inline_ban"
    action: str = "ban"

    def weights(self, obs, start, state):
        return np.ones(obs.n_events - start, np.float32)


@dataclass(frozen=True, kw_only=True)
class OutOfRange(BatchDefence):
    name: str = "out_of_range"

    def detect(self, obs):
        return Detection(accounts=np.array([obs.n_accounts + 5]))


@pytest.mark.parametrize("defence, match", [
    (Raises(), r"'raises' fails check_defence\[weights\]: weights must lie in \[0, 1\]"),
    (NonCausal(), r"\[causal\]: multipliers computed incrementally .*\(not causal\)"),
    (InlineBan(), r"\[contract\]: an inline defence discounts events"),
    (OutOfRange(), r"\[detect\]: Detection.accounts must hold ids in"),
], ids=["raises", "non_causal", "inline_ban", "out_of_range"])
def test_check_defence_fails_on_broken_defences(defence, match):
    with pytest.raises(AssertionError, match=match):
        check_defence(defence)


def test_an_oracle_is_bound_before_it_runs():
    report = check_defence("calibrated_detector")
    assert report == {"contract": "ok", "detect": "ok", "pipeline": "ok"}


# --- attacks ----------------------------------------------------------------------------------

class Wraps:
    """An attack built on bot_farm."""

    name = "wraps"
    goal = "promote"

    def __call__(self, obs, targets, budget, window, rng, cost=None):
        return ATTACKS.get("bot_farm")()(obs, targets, budget, window, rng)


class Overspends(Wraps):
    def __call__(self, obs, targets, budget, window, rng, cost=None):
        c = super().__call__(obs, targets, budget, window, rng)
        object.__setattr__(c, "spend", {"like_bot": 2.0 * budget})  # past Campaign's own check
        return c


class BuysAtZero(Wraps):
    def __call__(self, obs, targets, budget, window, rng, cost=None):
        if budget > 0:
            return super().__call__(obs, targets, budget, window, rng)
        return Campaign(attack=self.name, budget=0.0, targets=np.asarray(targets),
                        t=np.array([window[0]]), account=np.array([0]),
                        item=np.asarray(targets[:1]), kind=np.array([K.LIKE], np.int8),
                        value=np.zeros(1))


class Unseeded(Wraps):
    def __call__(self, obs, targets, budget, window, rng, cost=None):
        return super().__call__(obs, targets, budget, window, np.random.default_rng())


class Late(Wraps):
    def __call__(self, obs, targets, budget, window, rng, cost=None):
        c = super().__call__(obs, targets, budget, window, rng)
        object.__setattr__(c, "t", c.t + 12 * 3600.0)
        return c


@dataclass(frozen=True)
class NotNested(Recipe):
    """A recipe whose plan depends on the budget: smaller budgets are not prefixes."""

    def __call__(self, obs, targets, budget, window, rng, cost=None):
        return Recipe.__call__(self, obs, targets, budget, window, int(budget * 1000) + 1)


@dataclass(frozen=True)
class _Overspending:
    budget: float

    def __call__(self, obs, start, end, accounts=None):
        return (np.empty(0),) * 5, {"like_bot": self.budget}


class ReactiveOverspends(Wraps):
    """Closed-loop only; its policy pays the whole budget every round."""

    closed_loop_only = True

    def __call__(self, obs, targets, budget, window, rng, cost=None):
        if budget == 0:
            return empty_campaign(self.name, budget, targets)
        return Campaign(attack=self.name, budget=budget, targets=np.asarray(targets),
                        policy=_Overspending(budget))


def _not_nested():
    farm = ATTACKS.get("bot_farm")()
    return NotNested(**{f.name: getattr(farm, f.name) for f in fields(farm)})


@pytest.mark.parametrize("attack, match", [
    (Overspends(), r"'wraps' fails check_attack\[budget\]: spent \$1 of a \$0.5 budget"),
    (BuysAtZero(), r"\[zero_budget\]: a zero budget bought 1 events"),
    (Unseeded(), r"\[deterministic\]: the same seed bought another campaign"),
    (Late(), r"\[times\]: .* after the window's end"),
    (_not_nested(), r"'bot_farm' fails check_attack\[nested\]"),
    (ReactiveOverspends(), r"\[closed_loop\]: raised InvalidParameter: .*overspent"),
], ids=["overspends", "buys_at_zero", "unseeded", "late", "not_nested", "reactive_overspends"])
def test_check_attack_fails_on_broken_attacks(attack, match):
    with pytest.raises(AssertionError, match=match):
        check_attack(attack)


def test_a_conforming_attack_passes():
    assert set(check_attack(Wraps()).values()) == {"ok"}


# --- metrics ----------------------------------------------------------------------------------

def _always_nan(att, clean, truth):
    return float("nan")


def _mutates(att, clean, truth):
    att.ranks[0, 0] = -1.0
    return 0.0


def _noisy(att, clean, truth):
    return float(np.random.default_rng().random())


@pytest.mark.parametrize("metric, match", [
    (Metric("nan_metric", _always_nan, True, "always NaN"),
     r"'nan_metric' fails check_metric\[nan_policy\]: it is nan on .* declares no nan_when"),
    (Metric("int_direction", lambda a, c, t: 0.0, 1, "zero"),
     r"\[contract\]: greater_is_better must be a bool. Got 1 \(int\)"),
    (Metric("no_definition", lambda a, c, t: 0.0, True, " "), r"\[contract\]: definition"),
    (Metric("mutating", _mutates, True, "writes"), r"\[pure\]: .*modified attacked.ranks"),
    (Metric("noisy", _noisy, True, "random"), r"\[pure\]: two calls on .* gave"),
], ids=["nan_metric", "int_direction", "no_definition", "mutating", "noisy"])
def test_check_metric_fails_on_broken_metrics(metric, match):
    with pytest.raises(AssertionError, match=match):
        check_metric(metric)


def test_nan_is_fine_where_declared():
    m = Metric("declared_nan", _always_nan, False, "always NaN", nan_when="always")
    assert check_metric(m) == {"contract": "ok", "pure": "ok", "nan_policy": "ok"}
