import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import boostbench  # noqa: F401  (registers built-ins)
from boostbench.scenario import get_scenario
from boostbench.simulate import RunBase
from boostbench.world import make_world

# Simulations are slow per example: no deadline; CI picks Hypothesis' built-in "ci" profile.
_parent = settings.get_profile("ci") if os.environ.get("CI") else settings.get_profile("default")
settings.register_profile("boostbench", parent=_parent, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
settings.load_profile("boostbench")


def pytest_configure(config):
    """Worlds drawn by one test (or one of its `boostbench` subprocesses) are read back by the
    others (boostbench.world_store): a ranked history takes three draws. A folder of the
    session's own unless the environment already names one."""
    if not os.environ.get("BOOSTBENCH_WORLD_CACHE"):
        import tempfile
        config._boostbench_worlds = tempfile.mkdtemp(prefix="boostbench-worlds-")
        os.environ["BOOSTBENCH_WORLD_CACHE"] = config._boostbench_worlds


def pytest_unconfigure(config):
    folder = getattr(config, "_boostbench_worlds", None)
    if folder:
        import shutil
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("BOOSTBENCH_WORLD_CACHE", None)


@pytest.fixture(scope="session")
def tiny_scenario():
    return get_scenario("tiny")


@pytest.fixture(scope="session")
def tiny_world(tiny_scenario):
    return make_world(tiny_scenario.world_config(), np.random.default_rng(7))


@pytest.fixture(scope="session")
def tiny_base(tiny_world, tiny_scenario):
    return tiny_scenario.run_base(tiny_world, np.random.default_rng(8))
