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


@pytest.fixture(scope="session")
def tiny_scenario():
    return get_scenario("tiny")


@pytest.fixture(scope="session")
def tiny_world(tiny_scenario):
    return make_world(tiny_scenario.world_config(), np.random.default_rng(7))


@pytest.fixture(scope="session")
def tiny_base(tiny_world, tiny_scenario):
    return tiny_scenario.run_base(tiny_world, np.random.default_rng(8))
