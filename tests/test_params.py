"""Declared parameter constraints, and the invalid-input tests generated from them.

Every component declares its parameters once (:mod:`boostbench._core.params`); the
same declaration validates the dataclass, parses the command-line option and, here,
generates the invalid-input tests: each invalid value of each declared parameter of
each component is refused with a message naming the parameter, and each invalid
text of each declared CLI option exits 2 with one line naming the option.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from boostbench import cli
from boostbench._core.params import (SEED, Boolean, InstanceOf, Interval, Options, OrNone,
                                     SeedList, SequenceOf, check_int, check_real, params_of)
from boostbench.attacks import CostModel, SignalMix
from boostbench.attacks.bots import FRESH_BOTS
from boostbench.behaviour import BehaviourParams
from boostbench.errors import InvalidParameter
from boostbench.feed import FeedConfig
from boostbench.plugins import ATTACKS, DEFENCES, PACINGS, RANKERS, SUPPLIERS
from boostbench.rankers.defences import Schedule
from boostbench.scenario import Scenario
from boostbench.world import WorldConfig


# --- the constraints themselves -----------------------------------------------------------

def test_interval_describes_and_checks_its_ends():
    c = Interval(int, 1, None)
    assert c.describe() == "an int in [1, inf)"
    assert c.ok(1) and c.ok(10**30) and not c.ok(0) and not c.ok(1.0) and not c.ok(True)
    r = Interval(float, 0.0, 1.0, closed="neither")
    assert r.describe() == "a finite real in (0, 1)"
    assert r.ok(0.5) and r.ok(0.999) and not r.ok(0.0) and not r.ok(1.0) and not r.ok(math.nan)
    assert not Interval(float).ok(math.inf) and Interval(float).describe() == \
        "a finite real in (-inf, inf)"


@pytest.mark.parametrize("c", [Interval(int, 1, None), Interval(int, 0, 7),
                               Interval(float, 0.0, 1.0, closed="neither"),
                               Interval(float, 0.25, None), Options("a", "b"), Boolean(),
                               OrNone(Interval(float, 0.0, None)), SEED,
                               SequenceOf(Interval(int, 0, 3), min_len=1, distinct=True),
                               SeedList(), SeedList(2)])
def test_every_listed_invalid_value_and_text_is_refused(c):
    for v in c.invalid_values():
        assert not c.ok(v), v
    for text in c.invalid_texts():
        with pytest.raises(InvalidParameter, match="must be"):
            c.parse(text)


def test_parse_reads_the_option_forms():
    assert Interval(int, 1, None).parse(" 12 ") == 12
    assert Interval(float, 0.0, None).parse("2.5") == 2.5
    assert SeedList().parse("3") == (0, 1, 2) and SeedList().parse("7,5,") == (7, 5)
    assert SequenceOf(Interval(float, 0, None), increasing=True).parse("0,1,4") == (0.0, 1.0, 4.0)
    assert OrNone(Interval(float)).parse("none") is None and Boolean().parse("false") is False
    with pytest.raises(InvalidParameter, match=r"must be a count in \[2, 10000\]"):
        SeedList(2).parse("1")


def test_the_plain_checkers_use_the_one_template():
    with pytest.raises(InvalidParameter, match=r"^The 'k' parameter of f must be an int in "
                                               r"\[1, inf\)\. Got 0 instead\.$"):
        check_int("k", 0, low=1, where="f")
    with pytest.raises(InvalidParameter, match=r"a finite real in \(0, 1\]"):
        check_real("p", 0.0, low=0.0, high=1.0, low_open=True)


# --- generated: every declared parameter of every component ----------------------------------

def _components():
    """(label, instance) of every component that declares parameters: the registries' built-ins
    made with their defaults, and the configuration dataclasses."""
    out = [("BehaviourParams", BehaviourParams()), ("WorldConfig", WorldConfig()),
           ("FeedConfig", FeedConfig()), ("Scenario", Scenario()), ("CostModel", CostModel()),
           ("SignalMix", SignalMix()), ("Schedule", Schedule())]
    for reg in (RANKERS, DEFENCES, ATTACKS):
        for name in reg.names():
            out.append((f"{reg.family}:{name}", reg.create(name)))
    for name in PACINGS.names():
        out.append((f"pacing:{name}", PACINGS.create(name)))
    for name in SUPPLIERS.names():
        out.append((f"supplier:{name}", SUPPLIERS.create(name)))
    recipe = ATTACKS.create("bot_farm")
    out.append(("recipe:bot_farm parts", recipe))
    return [(label, obj) for label, obj in out if params_of(obj)]


CASES = [(label, obj, name, bad) for label, obj in _components()
         for name, c in params_of(obj).items() for bad in c.invalid_values()]


def test_every_registered_component_declares_its_parameters():
    declared = {label for label, _ in _components()}
    for reg in (RANKERS, DEFENCES, ATTACKS, PACINGS, SUPPLIERS):
        for name in reg.names():
            obj = reg.create(name)
            if dataclasses.is_dataclass(obj) and dataclasses.fields(obj):
                assert f"{reg.family}:{name}" in declared, f"{reg.family} {name} declares nothing"


@pytest.mark.parametrize("label, obj, name, bad", CASES,
                         ids=[f"{lab}.{n}={b!r:.20}" for lab, _, n, b in CASES])
def test_an_invalid_value_is_refused_naming_the_parameter(label, obj, name, bad):
    with pytest.raises(InvalidParameter) as e:
        dataclasses.replace(obj, **{name: bad})
    assert f"'{name}'" in str(e.value) and e.value.name == name


def test_defaults_are_valid_and_stored_coerced():
    for label, obj in _components():
        dataclasses.replace(obj)        # re-validating a default never fails
    assert type(FeedConfig(cold_start_share=1).cold_start_share) is float
    assert type(Scenario(budget=5).budget) is float   # an int budget is stored as a float


# --- generated: every declared option of every subcommand ---------------------------------

def _declared_options():
    parser = cli._build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    out = []
    for cmd, p in sub.items():
        for act in p._actions:
            c = getattr(act.type, "constraint", None)
            if c is not None:
                for text in c.invalid_texts():
                    out.append((cmd, act.option_strings[0], text))
    return out


OPTION_CASES = _declared_options()
_REQUIRED = {"baseline": ["--out", "{out}"], "check": ["--baseline", "{out}"]}


def test_the_options_with_a_range_are_all_declared():
    opts = {(c, o) for c, o, _ in OPTION_CASES}
    for need in [("run", "--k"), ("run", "--budget"), ("run", "--seeds"), ("run", "--jobs"),
                 ("run", "--size"), ("run", "--mode"), ("cost", "--cap"),
                 ("cost", "--candidates"), ("sweep", "--budgets"), ("check", "--alpha"),
                 ("check", "--test"), ("check", "--seeds"), ("validate", "--seed")]:
        assert need in opts, need


@pytest.mark.parametrize("cmd, option, text", OPTION_CASES,
                         ids=[f"{c} {o} {t!r}" for c, o, t in OPTION_CASES])
def test_an_invalid_option_exits_2_with_one_line_naming_it(cmd, option, text, tmp_path, capsys):
    out = tmp_path / "x.json"
    extra = [x.replace("{out}", str(out)) for x in _REQUIRED.get(cmd, [])]
    assert cli.main([cmd, *extra, f"{option}={text}"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{option} must be" in err and "\n" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_scenario_world_settings_are_pairs_with_known_names():
    for bad in ((("fan_share",),), (("nope", 1),), (("fan_share", "x"),), (("fan_share", True),)):
        with pytest.raises(InvalidParameter) as e:
            Scenario(world=bad)
        assert e.value.name == "world", bad
    # pairs as lists (a manifest read back) are taken, stored sorted by name
    got = Scenario(world=(("fan_share", 0.1), ["circle_share", 0.2])).world
    assert got == (("circle_share", 0.2), ("fan_share", 0.1))
    assert Scenario(world=(("fan_share", 0.1),)).world_config().fan_share == 0.1
