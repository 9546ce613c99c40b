"""Robustness next to speed: a tiny comparison whose metrics go into ``extra_info``.

pytest-benchmark compares and gates on time only, so the robustness numbers ride
along in ``extra_info`` (kept by ``--benchmark-json`` / ``--benchmark-autosave``)
and a saved run shows both; the gate on them is ``boostbench check`` (see the
README's "Regression gate"). Same metrics and naming as the gate:
``extra_info["<ranker>/<attack>/<metric>"]`` is the mean over seeds of each metric
``boostbench check`` tests in replay mode.
"""

from __future__ import annotations

import boostbench  # noqa: F401  (registers the built-ins)
from boostbench.attacks.base import CostModel
from boostbench.gate import gated_metrics, robustness_info
from boostbench.plugins import ATTACKS, RANKERS
from boostbench.runner import RunSpec, run_matrix
from boostbench.scenario import get_scenario

RANKER_NAMES = ("like_count", "real_interaction")  # gameable vs defended
ATTACK = "bot_farm"
SEEDS = (0, 1, 2)
MODE = "replay"


def test_robustness_tiny_replay(benchmark):
    sc = get_scenario("tiny")
    spec = RunSpec(sc, tuple(RANKERS.get(n)() for n in RANKER_NAMES),
                   (ATTACKS.get(ATTACK)(),), SEEDS, sc.budget, CostModel(), MODE)
    records, _ = benchmark.pedantic(run_matrix, args=(spec,), rounds=1, warmup_rounds=0,
                                    iterations=1)
    assert len(records) == len(RANKER_NAMES) * len(SEEDS)
    metrics = gated_metrics(MODE)
    info = benchmark.extra_info
    info.update(robustness_info(records, metrics))
    info.update(scenario=sc.name, mode=MODE, seeds=list(SEEDS), budget=sc.budget,
                n_runs=len(records))
    # the comparison means something: the raw like count is the easier one to game
    assert (info[f"like_count/{ATTACK}/rank_lift"]
            > info[f"real_interaction/{ATTACK}/rank_lift"])
