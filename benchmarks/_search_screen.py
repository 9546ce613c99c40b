"""Candidates per minute of the attacker search, without and with the screening rung.

    python benchmarks/_search_screen.py RANKER SCREENS     (e.g. real_interaction 0,400)

One ``adaptive_search`` per screen size against ``RANKER`` on the ``default`` scenario, as
the README's worst-case table runs it (60 evaluations, search seeds 10000 and 10001,
``cheapest_budget`` on the $0.25-$16 grid, held out on seeds 0-2, one process), one after
another in this process so both are timed on the same machine in one run. Prints one JSON
line per search: its wall time, the distinct points it scored (the halving pool plus the
screened points it did not pass on), candidates per minute, the winner and its scores.
Takes 10-20 minutes a search on 2 cores.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

#: The fixed recipes the table's searches are checked against (every promoting attack).
FIXED = ("aged_bots", "api_exploit", "average_shilling", "bandwagon", "bot_farm",
         "engagement_service", "mutual_like_ring", "random_shilling", "task_crowd", "top_up")


def main(argv=None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else argv
    ranker_name, screens = argv[0], [int(x) for x in argv[1].split(",")]
    root = str(Path(__file__).resolve().parents[1])  # this checkout's boostbench first
    if root not in sys.path:
        sys.path.insert(0, root)
    import boostbench  # noqa: F401  (registers the built-ins)
    from boostbench.metrics.cost import budget_grid
    from boostbench.plugins import ATTACKS
    from boostbench.rankers import build_ranker
    from boostbench.runner import RunSpec, adaptive_search
    from boostbench.scenario import get_scenario

    ranker = build_ranker(ranker_name)
    spec = RunSpec(scenario=get_scenario("default"), rankers=(ranker,),
                   attacks=tuple(ATTACKS.create(n) for n in FIXED), seeds=(0, 1, 2), budget=16.0)
    rows = []
    for screen in screens:
        t = time.perf_counter()
        r = adaptive_search(spec, ranker, budget=16.0, search_seeds=(10_000, 10_001),
                            evaluations=60, objective="cheapest_budget",
                            grid=budget_grid(16.0), screen=screen, jobs=1)
        dt = time.perf_counter() - t
        passed = r.screen.get("passed", [])
        row = dict(ranker=ranker_name, screen=screen, seconds=dt, pool=r.pool_size,
                   screened=r.screened, evaluations=r.evaluations, best=r.best.label,
                   search_usd=2 ** -r.search_score, heldout_usd=2 ** -r.heldout_score,
                   candidates=r.pool_size + r.screened - len(passed), passed=passed)
        row["candidates_per_min"] = row["candidates"] / (dt / 60)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
