"""Registries: module:attr specs, entry-point plug-ins, duplicates, broken plug-ins."""

import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest

from boostbench.errors import InvalidParameter
from boostbench.plugins import ATTACKS, DEFENCES, METRICS, RANKERS, Registry, resolve_spec
from boostbench.rankers import LikeCount

FAKE_MODULES = ("bb_fakeplug", "bb_brokenplug", "bb_selfreg", "bb_reexport", "bb_reexport.impl")


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """An installed-looking distribution with ranker plug-ins, good and broken."""
    (tmp_path / "bb_fakeplug.py").write_text(textwrap.dedent("""
        import numpy as np

        CONSTANT = 3

        class FakeRanker:
            name = "fake"

            def __call__(self, obs):
                return np.zeros(obs.n_items)
    """))
    (tmp_path / "bb_brokenplug.py").write_text("import a_module_that_does_not_exist\n")
    (tmp_path / "bb_selfreg.py").write_text(textwrap.dedent("""
        from boostbench.plugins import RANKERS

        @RANKERS.register("bb_selfreg")
        class SelfRegistered:
            name = "bb_selfreg"
    """))
    (tmp_path / "bb_reexport").mkdir()
    (tmp_path / "bb_reexport" / "__init__.py").write_text("from .impl import Thing\n")
    (tmp_path / "bb_reexport" / "impl.py").write_text(textwrap.dedent("""
        from boostbench.plugins import RANKERS

        @RANKERS.register("bb_reexport")
        class Thing:
            name = "bb_reexport"
    """))
    info = tmp_path / "bb_fakeplug-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bb-fakeplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [boostbench.rankers]
        bb_fake = bb_fakeplug:FakeRanker
        bb_broken = bb_brokenplug:Thing
        bb_missing_attr = bb_fakeplug:Nope
        bb_not_callable = bb_fakeplug:CONSTANT
        bb_selfreg = bb_selfreg:SelfRegistered
        bb_reexport = bb_reexport:Thing
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    # plug-ins that register themselves on import must not outlive the test
    monkeypatch.setattr(RANKERS, "_items", dict(RANKERS._items))
    RANKERS.refresh()
    yield tmp_path
    RANKERS.refresh()
    for m in FAKE_MODULES:
        sys.modules.pop(m, None)


def fake_eps(*pairs, group="boostbench.rankers", calls=None):
    """An ``entry_points`` stand-in returning EntryPoint(name, value) pairs."""
    def find(g):
        if calls is not None:
            calls.append(g)
        return [EntryPoint(n, v, g) for n, v in pairs] if g == group else []
    return find


# --- module:attr ---------------------------------------------------------------------------

def test_module_attr_resolves_without_registration():
    assert RANKERS.get("boostbench.rankers.likes:LikeCount") is LikeCount
    assert RANKERS.get(" boostbench.rankers.likes:LikeCount ")().name == "like_count"
    assert resolve_spec("boostbench.plugins:Registry.get") is Registry.get  # dotted attribute
    assert "boostbench.rankers.likes:LikeCount" in RANKERS


@pytest.mark.parametrize("spec, match", [
    ("bb_no_such_module.sub:Thing", r"importing module 'bb_no_such_module.sub' failed with "
                                    r"ModuleNotFoundError"),
    ("boostbench.rankers.likes:Nope", r"'boostbench.rankers.likes' has no attribute 'Nope'"),
    ("boostbench.plugins:Registry.nope", r"'boostbench.plugins:Registry' has no attribute 'nope'"),
    ("boostbench.world:HOUR", r"ranker 'boostbench.world:HOUR' must be callable .* Got float"),
    ("boostbench.world:", r"must look like 'package.module:attribute'"),
    ("a:b:c", r"must look like 'package.module:attribute'"),
    ("os; import x:y", r"dotted Python identifiers"),
    ("__import__('os').system('true'):x", r"dotted Python identifiers"),
])
def test_bad_specs_raise_clear_errors(spec, match):
    with pytest.raises(InvalidParameter, match=match):
        RANKERS.get(spec)
    assert spec not in RANKERS


def test_unknown_name_lists_what_exists():
    with pytest.raises(InvalidParameter, match=r"Unknown ranker 'nope'; registered: .*like_count"
                                               r".*'package.module:attribute'"):
        RANKERS.get("nope")
    assert "nope" not in RANKERS and 42 not in RANKERS


def test_existing_api_still_works():
    assert RANKERS.get("like_count") is LikeCount and "like_count" in RANKERS
    assert "bot_farm" in ATTACKS.names() and dict(METRICS.items())["rank_lift"].name == "rank_lift"
    assert RANKERS.family == "ranker" and DEFENCES.family == "defence"
    assert [r.group for r in (RANKERS, DEFENCES, ATTACKS, METRICS)] == [
        "boostbench.rankers", "boostbench.defences", "boostbench.attacks", "boostbench.metrics"]
    reg = Registry("widget")
    reg.register("a")(len)
    with pytest.raises(InvalidParameter, match="widget named 'a' is already registered"):
        reg.register("a")(max)
    with pytest.raises(InvalidParameter, match="without ':'"):
        reg.register("x:y")
    assert reg.names() == ["a"] and reg.items() == [("a", len)] and reg.get("a") is len
    assert reg.source("a") == "built-in builtins:len"


def test_builtins_are_imported_on_first_lookup():
    reg = Registry("thing", builtins="bb_lazy_builtins_missing", entry_points=fake_eps())
    with pytest.raises(ModuleNotFoundError):  # the import is attempted by the look-up only
        reg.names()


# --- entry points ------------------------------------------------------------------------------

def test_entry_points_of_an_installed_distribution(fake_dist):
    names = RANKERS.names()  # lists every plug-in, imports none
    assert {"bb_fake", "bb_broken", "bb_missing_attr", "bb_not_callable",
            "like_count"} <= set(names)
    assert "bb_fake" in RANKERS and "bb_broken" in RANKERS
    assert not any(m in sys.modules for m in FAKE_MODULES)
    ranker = RANKERS.get("bb_fake")()
    assert ranker.name == "fake" and "bb_fakeplug" in sys.modules
    assert "bb-fakeplug 1.0" in RANKERS.source("bb_fake")
    assert RANKERS.source("like_count").startswith("built-in boostbench.rankers.likes")


def test_a_broken_plugin_does_not_break_the_others(fake_dist):
    with pytest.raises(InvalidParameter, match=r"ranker plug-in 'bb_broken' \(entry point "
                                               r"'bb_broken = bb_brokenplug:Thing' in group "
                                               r"'boostbench.rankers' of distribution bb-fakeplug "
                                               r"1.0\) failed to load: ModuleNotFoundError"):
        RANKERS.get("bb_broken")
    with pytest.raises(InvalidParameter, match=r"'bb_missing_attr' .* failed to load: "
                                               r"AttributeError"):
        RANKERS.get("bb_missing_attr")
    with pytest.raises(InvalidParameter, match=r"'bb_not_callable' .* must name something "
                                               r"callable .* Got int"):
        RANKERS.get("bb_not_callable")
    # the others still load and list; the broken ones are reported, and stay explained
    items = dict(RANKERS.items())
    assert "bb_fake" in items and "like_count" in items and "bb_broken" not in items
    assert set(RANKERS.broken()) == {"bb_broken", "bb_missing_attr", "bb_not_callable"}
    assert "bb_broken" in RANKERS.names() and "bb_broken" in RANKERS
    with pytest.raises(InvalidParameter, match="failed to load"):
        RANKERS.get("bb_broken")
    assert RANKERS.get("like_count") is LikeCount


def test_a_plugin_may_also_register_itself(fake_dist):
    cls = RANKERS.get("bb_selfreg")
    assert cls.__name__ == "SelfRegistered" and RANKERS.get("bb_selfreg") is cls
    thing = RANKERS.get("bb_reexport")  # entry point names a re-export of the registered class
    assert thing.__module__ == "bb_reexport.impl" and "bb_reexport" not in RANKERS.broken()


def test_a_plugin_imported_before_the_group_is_read(fake_dist):
    import bb_reexport  # registers itself like a built-in would
    RANKERS.refresh()
    assert "bb_reexport" in RANKERS.names()  # the entry point names the same object: no clash
    assert RANKERS.get("bb_reexport") is bb_reexport.Thing


def test_entry_points_are_read_lazily_and_once():
    calls = []
    reg = Registry("ranker", "boostbench.rankers",
                   entry_points=fake_eps(("plug", "boostbench.rankers.likes:LikeCount"),
                                         calls=calls))
    reg.register("builtin")(LikeCount)
    assert reg.get("builtin") is LikeCount and calls == []  # a built-in needs no look-up
    assert reg.get("plug") is LikeCount and calls == ["boostbench.rankers"]
    reg.names(), reg.items(), reg.get("plug")
    assert calls == ["boostbench.rankers"]
    reg.refresh()
    assert reg.names() == ["builtin", "plug"] and len(calls) == 2


def test_every_family_reads_its_own_group():
    for family, group in (("defence", "boostbench.defences"), ("attack", "boostbench.attacks"),
                          ("metric", "boostbench.metrics")):
        reg = Registry(family, group, entry_points=fake_eps(
            ("mine", "boostbench.rankers.likes:LikeCount"), group=group))
        assert reg.get("mine") is LikeCount and reg.names() == ["mine"]


# --- duplicates -------------------------------------------------------------------------------

def test_plugin_named_like_a_builtin_is_rejected():
    reg = Registry("ranker", "boostbench.rankers",
                   entry_points=fake_eps(("like_count", "bb_userpkg.rank:MyLikes")))
    reg.register("like_count")(LikeCount)
    assert reg.get("like_count") is LikeCount  # asking for the built-in reads no group
    msg = (r"entry point 'like_count = bb_userpkg.rank:MyLikes' in group 'boostbench.rankers' "
           r".* collides with the built-in ranker 'like_count' "
           r"\(boostbench.rankers.likes:LikeCount\)")
    with pytest.raises(InvalidParameter, match=msg):
        reg.names()
    with pytest.raises(InvalidParameter, match=msg):
        reg.get("other")


def test_two_plugins_with_one_name_are_rejected():
    reg = Registry("ranker", "boostbench.rankers", entry_points=fake_eps(
        ("dup", "pkg_a.mod:A"), ("dup", "pkg_b.mod:B")))
    with pytest.raises(InvalidParameter, match=r"Two ranker plug-ins are named 'dup': .*"
                                               r"'dup = pkg_a.mod:A'.*'dup = pkg_b.mod:B'"):
        reg.items()


def test_the_same_entry_point_seen_twice_is_fine():
    reg = Registry("ranker", "boostbench.rankers", entry_points=fake_eps(
        ("same", "boostbench.rankers.likes:LikeCount"),
        ("same", "boostbench.rankers.likes:LikeCount")))
    assert reg.get("same") is LikeCount


def test_registering_a_name_a_plugin_uses_is_rejected():
    reg = Registry("ranker", "boostbench.rankers",
                   entry_points=fake_eps(("taken", "bb_userpkg.rank:Mine")))
    reg.names()
    with pytest.raises(InvalidParameter, match=r"Cannot register ranker 'taken' .* the entry "
                                               r"point 'taken = bb_userpkg.rank:Mine'"):
        reg.register("taken")(LikeCount)


@pytest.fixture
def broken_metric_and_ranker(monkeypatch):
    """A metric plug-in and a ranker plug-in whose modules do not exist."""
    from boostbench.plugins import METRICS
    for reg, group, ep in ((METRICS, "boostbench.metrics", ("bb_broken_metric", "bb_nomod:m")),
                           (RANKERS, "boostbench.rankers", ("bb_broken_ranker", "bb_nomod:R"))):
        monkeypatch.setattr(reg, "_items", dict(reg._items))
        monkeypatch.setattr(reg, "_find_entry_points", fake_eps(ep, group=group))
        reg.refresh()
    yield
    monkeypatch.undo()
    METRICS.refresh()
    RANKERS.refresh()


def test_broken_plugins_are_marked_and_left_out_with_a_note(broken_metric_and_ranker, capsys):
    from boostbench import cli
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "bb_broken_metric" in out and out.count("BROKEN plug-in") == 2
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "1", "--rankers", "like_count",
                     "--attacks", "bot_farm", "--quiet", "--format", "json"]) == 0
    cap = capsys.readouterr()
    assert "metric plug-in 'bb_broken_metric' is broken and left out" in cap.err
    assert "bb_broken_metric" not in cap.out and '"like_count"' in cap.out
    # 'all' is every working ranker, and says which it left out (running them all is
    # test_cli's test_all_means_every_registered_plugin)
    names = cli._names("--rankers", "all", RANKERS, ())
    assert "bb_broken_ranker" not in names and "like_count" in names and "wrmf" in names
    assert "ranker plug-in 'bb_broken_ranker' is broken and left out of --rankers all" in \
        capsys.readouterr().err
