"""The README's promises: its two commands come first, and its tour's ranker runs as shown."""

import re
from pathlib import Path

import numpy as np

from boostbench.observation import Observation
from boostbench.rankers import Pipeline, score_items
from boostbench.rankers.defences import AccountTrust, Lockstep
from boostbench.testing import build_world

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), re.S)


def test_the_readme_opens_with_the_two_commands():
    first = _blocks("bash")[0].strip().splitlines()
    assert first[0].endswith("pip install . && .venv/bin/boostbench run")
    assert first[1].endswith('pip install ".[test]" && .venv/bin/python -m pytest -n auto '
                             '--dist loadfile')


def test_the_tour_ranker_scores_an_observation_alone_and_behind_defences():
    (code,) = [b for b in _blocks("python") if "class CompletionRate" in b]
    ns = {}
    exec(code, ns)
    ranker = ns["CompletionRate"]()
    world = build_world("tiny", 0)
    obs = Observation(world.items, world.accounts, world.history, world.t0)
    s = score_items(ranker, obs)
    assert s.shape == (obs.n_items,) and np.isfinite(s[obs.eligible]).all()
    assert len(np.unique(s[obs.eligible])) > 10            # it tells posts apart
    defended = score_items(Pipeline(AccountTrust(), Lockstep(), ranker), obs)
    assert defended.shape == s.shape


def test_the_tour_model_ranker_trains_and_scores():
    (code,) = [b for b in _blocks("python") if "ModelRanker(" in b]
    ns = {}
    exec(code, ns)
    ranker = ns["my_gbdt"]
    world = build_world("tiny", 0)
    obs = Observation(world.items, world.accounts, world.history, world.t0)
    s = score_items(ranker, obs)
    assert s.shape == (obs.n_items,) and np.isfinite(s[obs.eligible]).all()
    assert len(np.unique(s[obs.eligible])) > 10
