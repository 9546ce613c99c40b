"""The pytest plug-in (entry point pytest11): fixtures, --boost-* options, markers, laziness."""

import subprocess
import sys

import pytest

from boostbench.pytest_plugin import parse_seeds

pytest_plugins = ["pytester"]


def run(pytester, *args):
    """Run pytest in-process on the test files written to ``pytester``'s directory."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def test_fixtures_options_and_markers(pytester):
    pytester.makepyfile(test_user="""
        import pytest
        from boostbench.world import World

        @pytest.mark.boost_attack
        def test_world(boost_world, boost_seed, boost_size):
            assert isinstance(boost_world, World)
            assert repr(boost_world) == f"world(size='micro', seed={boost_seed})"
            assert boost_size == "micro" and boost_seed in (0, 1)

        def test_rankers(boost_rankers):
            assert boost_rankers["like_count"].name == "like_count"
            assert all(callable(r) for r in boost_rankers.values())
    """)
    result = run(pytester, "--strict-markers", "--boost-size", "micro", "--boost-seeds", "2", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_world?seed0? PASSED*", "*test_world?seed1? PASSED*"])
    marked = run(pytester, "--strict-markers", "--boost-size", "micro", "-m", "boost_attack")
    marked.assert_outcomes(passed=1, deselected=1)


def test_ini_options_and_defaults(pytester):
    pytester.makeini("[pytest]\nboost_size = micro\nboost_seeds = 4,9\n")
    pytester.makepyfile(test_user="""
        def test_seed(boost_world, boost_seed):
            assert boost_seed in (4, 9) and boost_world.size == "micro"
    """)
    run(pytester).assert_outcomes(passed=2)
    run(pytester, "--boost-seeds", "5,").assert_outcomes(passed=0, failed=1)  # the option wins


def test_the_world_is_built_once_per_seed(pytester):
    pytester.makepyfile(test_user="""
        seen = []

        def test_a(boost_world):
            seen.append(boost_world)

        def test_b(boost_world):
            assert seen and boost_world is seen[0]
    """)
    run(pytester, "--boost-size", "micro").assert_outcomes(passed=2)


def test_bad_options_name_themselves(pytester):
    pytester.makepyfile(test_user="def test_w(boost_world): pass\n")
    bad_seeds = run(pytester, "--boost-seeds", "zero")
    assert bad_seeds.ret == pytest.ExitCode.USAGE_ERROR
    bad_seeds.stderr.fnmatch_lines(["*--boost-seeds must be a count in [[]1, 10000] or a comma "
                                    "list*Got 'zero'*"])
    bad_size = run(pytester, "--boost-size", "huge")
    bad_size.assert_outcomes(errors=1)
    bad_size.stdout.fnmatch_lines(["*--boost-size must be one of 'micro', 'tiny', 'small', "
                                   "'medium', 'platform'. Got 'huge'*"])


def test_help_lists_the_options(pytester):
    result = run(pytester, "--help")
    result.stdout.fnmatch_lines(["*boostbench: attack tests of feed rankers*",
                                 "*--boost-size=SIZE*", "*--boost-seeds=SEEDS*"])
    markers = run(pytester, "--markers")
    markers.stdout.fnmatch_lines(["*@pytest.mark.boost_attack:*"])


def test_parse_seeds():
    assert parse_seeds("3") == (0, 1, 2) and parse_seeds("7,2") == (7, 2)
    assert parse_seeds(" 5, ") == (5,)
    for bad in ("0", "10001", "-1,2", "1,1", "x", ""):
        with pytest.raises(pytest.UsageError, match="--boost-seeds must be"):
            parse_seeds(bad)


def _imports(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


# load the boostbench package object without running its __init__ (which imports everything)
_BARE_PACKAGE = ("import importlib.util, sys, types; "
                 "spec = importlib.util.find_spec('boostbench'); "
                 "pkg = types.ModuleType('boostbench'); "
                 "pkg.__path__ = list(spec.submodule_search_locations); "
                 "sys.modules['boostbench'] = pkg; ")
_HEAVY = "['numpy', 'scipy', 'hypothesis', 'boostbench.world', 'boostbench.plugins']"


def test_the_plugin_and_the_testing_package_import_nothing_heavy():
    code = (_BARE_PACKAGE + "import boostbench.pytest_plugin, boostbench.testing; "
            f"print(*[m for m in {_HEAVY} if m in sys.modules] or ['none'])")
    assert _imports(code) == ["none"]


def test_importing_the_plugin_does_not_import_numpy():
    assert _imports("import boostbench, sys; print('numpy' in sys.modules)") == ["False"]
    assert _imports("import boostbench.pytest_plugin, sys; print('numpy' in sys.modules)") == [
        "False"]
