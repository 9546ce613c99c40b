"""pytest plug-in: seeded worlds, the registered rankers, ``--boost-*`` options, markers.

Installed with boostbench (entry point ``pytest11``), so every test run can use:

Fixtures
    ``boost_world``
        A seeded :class:`~boostbench.world.World` of the configured size (session
        scope, built once per seed). Tests that use it run once per seed of
        ``--boost-seeds``.
    ``boost_seed``
        The seed of the current ``boost_world``.
    ``boost_size``
        The configured size name.
    ``boost_rankers``
        ``{name: ranker}`` for every registered ranker (built-ins and plug-ins
        that load).

Options (command line, or ``boost_size`` / ``boost_seeds`` in the ini file)
    ``--boost-size SIZE``
        ``micro``, ``tiny`` (default), ``small``, ``medium`` or ``platform``.
    ``--boost-seeds SEEDS``
        A count ``N`` (seeds 0..N-1, default 1) or a comma list ``3,7``.

Markers
    ``boost_attack``: an attack (property) test of a ranker; select or deselect
    with ``-m boost_attack``.

The module imports only pytest at import time; numpy and boostbench's
internals are imported inside the fixtures, so the plug-in costs nothing in
runs that do not use it.
"""

from __future__ import annotations

import warnings

import pytest

__all__ = ["DEFAULT_SIZE", "parse_seeds"]

DEFAULT_SIZE = "tiny"
DEFAULT_SEEDS = "1"
_SEEDS = pytest.StashKey[tuple]()
MARKERS = (
    "boost_attack: an attack (property) test of a ranker, from boostbench; select or deselect "
    "with -m boost_attack",
)


def parse_seeds(value: str, option: str = "--boost-seeds") -> tuple[int, ...]:
    """``"N"`` -> seeds ``0..N-1`` (N in [1, 10000]); ``"3,7"`` -> (3, 7): the seeds of the
    command line and the Python API (:func:`boostbench._core.params.parse_seeds`).

    Raises
    ------
    pytest.UsageError
        Naming the option and the allowed forms.
    """
    from ._core.params import parse_seeds as _parse
    from .errors import InvalidParameter
    try:
        return _parse(value, option)
    except InvalidParameter as e:
        raise pytest.UsageError(str(e)) from None


def pytest_addoption(parser):
    group = parser.getgroup("boostbench", "boostbench: attack tests of feed rankers")
    group.addoption("--boost-size", dest="boost_size", default=None, metavar="SIZE",
                    help=f"world size of the boost_world fixture: micro, tiny, small, medium or platform "
                         f"(default: ini boost_size, else {DEFAULT_SIZE})")
    group.addoption("--boost-seeds", dest="boost_seeds", default=None, metavar="SEEDS",
                    help="seeds of boost_world: a count N (seeds 0..N-1) or a comma list "
                         f"'3,7' (default: ini boost_seeds, else {DEFAULT_SEEDS})")
    parser.addini("boost_size", f"boostbench world size for boost_world (default {DEFAULT_SIZE})",
                  default=DEFAULT_SIZE)
    parser.addini("boost_seeds", "boostbench seeds for boost_world: a count or a comma list "
                  f"(default {DEFAULT_SEEDS})", default=DEFAULT_SEEDS)


def _option(config, name: str, default: str) -> tuple[str, str]:
    """(value, where it came from) of a ``--boost-*`` option, falling back to the ini."""
    value = config.getoption(name)
    if value is not None:
        return value, "--" + name.replace("_", "-")
    return (config.getini(name) or default), f"ini option {name}"


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    value, where = _option(config, "boost_seeds", DEFAULT_SEEDS)
    config.stash[_SEEDS] = parse_seeds(value, where)  # fail early, before collection


def pytest_generate_tests(metafunc):
    if "boost_seed" in metafunc.fixturenames:
        seeds = metafunc.config.stash.get(_SEEDS, None) or parse_seeds(DEFAULT_SEEDS)
        metafunc.parametrize("boost_seed", seeds, ids=[f"seed{s}" for s in seeds],
                             scope="session")


@pytest.fixture(scope="session")
def boost_size(pytestconfig) -> str:
    """The world size name (``--boost-size``, ini ``boost_size``, default ``tiny``)."""
    value, where = _option(pytestconfig, "boost_size", DEFAULT_SIZE)
    from boostbench._core.params import Options
    from boostbench.errors import InvalidParameter
    from boostbench.testing import WORLD_SIZES
    try:
        return Options(*WORLD_SIZES).parse(value)
    except InvalidParameter as e:
        raise pytest.UsageError(f"{where} {e}") from None


@pytest.fixture(scope="session")
def boost_seed() -> int:
    """The seed of ``boost_world`` (parametrised over ``--boost-seeds``)."""
    return 0  # replaced by the parametrisation in pytest_generate_tests


@pytest.fixture(scope="session")
def boost_world(boost_size, boost_seed):
    """A seeded world of the configured size, built once per (size, seed)."""
    from boostbench.testing import build_world
    return build_world(boost_size, boost_seed)


@pytest.fixture(scope="session")
def boost_rankers() -> dict:
    """``{name: ranker}`` of every registered ranker that loads (built-ins and plug-ins).

    Broken plug-ins are left out with a warning that names them.
    """
    from boostbench.plugins import RANKERS
    rankers = {name: factory() for name, factory in RANKERS.items()}
    broken = RANKERS.broken()
    if broken:
        warnings.warn("boostbench: broken ranker plug-ins left out of boost_rankers: "
                      + "; ".join(broken.values()), pytest.PytestWarning, stacklevel=2)
    return rankers
