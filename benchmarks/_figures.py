"""Re-measure every figure the README and docs/ quote, with the commands that produced them.

A scenario version bump changes every number; this runs each documented command in turn,
writes its output (stdout, and JSON where the command writes one) to ``OUT/NAME.*`` and
prints how long each took, so a contributor rewrites the docs from one folder (scenario v4,
2026-12-02: 73 minutes for all but the default run, the gate recipe and the two cost tables, on
a loaded 2-core machine; the default run 3.5 minutes, the gate recipe 1). Run from the
project's root::

    python benchmarks/_figures.py OUT                # everything (about 3 h on 2 cores)
    python benchmarks/_figures.py OUT default_run validate      # some, by name
    python benchmarks/_figures.py --list             # the names, their docs and commands

Not a test: nothing here is asserted. Speed figures (docs/speed.md) are measured apart, on a
quiet machine (``farm-bench``, ``benchmarks/_scaling_run.py``, ``pytest benchmarks``), and the
example package's ``baseline.json`` is re-recorded where the package is installed (its
README: ``cd examples/custom_ranker && pip install -e . && boostbench baseline --out
baseline.json --scenario tiny --rankers my_defended --attacks bot_farm,task_crowd --seeds 4``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

DEFENDED = ("like_count,like_count+require_view+lockstep,engagement_depth,"
            "engagement_depth+account_trust+lockstep,real_interaction,"
            "real_interaction+device_dedup+lockstep")
FIXED = ("aged_bots,api_exploit,average_shilling,bandwagon,bot_farm,engagement_service,"
         "mass_report,mutual_like_ring,random_shilling,task_crowd,top_up")
FAN_SETTINGS = (
    None, "fan_share=0.05", "fan_share=0.1", "fan_share=0.3", "fan_share=0.1,fan_group_size=50",
    "fan_share=0.1,fan_open=0.9,behaviour.beta_fan=6",
    "fan_share=0.1,fan_group_size=50,fan_open=0.9,behaviour.beta_fan=6",
    "fan_share=0.3,fan_group_size=50,fan_open=0.9,behaviour.beta_fan=6")
LEAK_RECIPES = ("bot_farm", "api_exploit", "top_up", "mass_report", "engagement_service",
                "aged_bots", "task_crowd", "mutual_like_ring")
BB = ["-m", "boostbench"]


def _leak_code(scenario: str, recipes) -> str:
    return ("import numpy as np\n"
            "from boostbench.testing.leak import probe_auc\n"
            f"for name in {tuple(recipes)!r}:\n"
            f"    a = [probe_auc(name, {scenario!r}, seed=s).auc for s in (0, 1, 2)]\n"
            "    print(name, np.round(a, 3), round(float(np.mean(a)), 3), flush=True)\n")


def _gate_code(out: str) -> str:
    """The README's gate recipe: baselines of 5 and 20 seeds, checked on fresh seeds against
    a real_interaction whose like weight is doubled, and (20 seeds) against the unchanged one
    (what ``tests/test_gate.py::test_the_readme_recipe_...`` asserts, with the tables)."""
    return ("from boostbench import cli\n"
            "from boostbench.plugins import RANKERS\n"
            "from boostbench.rankers import RealInteraction\n"
            "orig = RANKERS._items['real_interaction']\n"
            "for n in (5, 20):\n"
            f"    out = {out!r} + f'/gate_recipe_{{n}}.json'\n"
            "    cli.main(['baseline', '--out', out, '--scenario', 'tiny', '--rankers',\n"
            "              'real_interaction', '--attacks', 'bot_farm,task_crowd', '--seeds',\n"
            "              str(n), '--quiet'])\n"
            "    fresh = ','.join(str(1000 + i) for i in range(n))\n"
            "    if n == 20:\n"
            "        print('unchanged ranker,', n, 'seeds:', flush=True)\n"
            "        cli.main(['check', '--baseline', out, '--seeds', fresh, '--quiet'])\n"
            "    RANKERS._items['real_interaction'] = lambda: RealInteraction(like=0.4)\n"
            "    print('like weight doubled,', n, 'seeds:', flush=True)\n"
            "    cli.main(['check', '--baseline', out, '--seeds', fresh, '--quiet'])\n"
            "    RANKERS._items['real_interaction'] = orig\n")


def figures(out: Path) -> dict:
    """``{name: (where it is quoted, argv after the interpreter)}``, in the order to run."""
    o = str(out)
    return {
        "default_run": ("README table, docs/results.md tables and figures",
                        BB + ["run", "--json", f"{o}/default_run.json", "--trace",
                              f"{o}/default_run_trace.csv", "--plot", f"{o}/figures"]),
        "validate": ("docs/validation.md, docs/calibration.md, docs/results.md (exposure)",
                     BB + ["validate", "--json", f"{o}/validate.json"]),
        "engagement_rates_seed1": ("docs/validation.md (engagement in the ranked feed)",
                                   BB + ["validate", "--experiments", "engagement_rates",
                                         "--seed", "1", "--json",
                                         f"{o}/engagement_rates_seed1.json"]),
        "models": ("README, docs/learned.md (held-out quality)",
                   BB + ["models", "--seeds", "3", "--json", f"{o}/models.json"]),
        "learned_table": ("README, docs/learned.md (learned rankers under attack)",
                          BB + ["run", "--rankers", "learned_pxtr,learned_pxtr_frozen,wrmf,"
                                "wrmf_frozen,like_count,real_interaction", "--attacks",
                                "bot_farm,bandwagon,aged_bots", "--seeds", "3", "--metrics",
                                "log_rank_lift,reached_top_k,hit_ratio,"
                                "extra_organic_impressions,extra_organic_impressions_after,"
                                "target_reach,feed_quality", "--json",
                                f"{o}/learned_table.json"]),
        **{f"fans_{i}": ("docs/results.md (honest fans and lockstep)",
                         BB + ["run", "--rankers", "like_count+lockstep", "--attacks",
                               "bot_farm", "--seeds", "3", "--json", f"{o}/fans_{i}.json"]
                         + (["--world", s] if s else []))
           for i, s in enumerate(FAN_SETTINGS)},
        "leak_table": ("docs/results.md (the leak probe; default, seeds 0-2)",
                       ["-c", _leak_code("default", LEAK_RECIPES)]),
        "leak_tiny": ("tests/test_leak_probe.py (GIVEN_AWAY reasons; tiny, seeds 0-2)",
                      ["-c", _leak_code("tiny", ("aged_bots", "task_crowd", "engagement_service",
                                                 "mutual_like_ring", "bot_farm"))]),
        "gate_recipe": ("README (know what your gate can catch)", ["-c", _gate_code(o)]),
        "worst_case": ("README, docs/results.md (what it costs an attacker)",
                       BB + ["cost", "--rankers", DEFENDED, "--attacks", FIXED, "--adaptive",
                             "--queries", "0", "--seeds", "3", "--cap", "16", "--search-seeds",
                             "2", "--evaluations", "60", "--objective", "cheapest_budget",
                             "--json", f"{o}/worst_case.json"]),
        "query_table": ("docs/results.md (query attackers)",
                        BB + ["cost", "--rankers", DEFENDED, "--attacks", "query_rank,query_score",
                              "--seeds", "3", "--cap", "2", "--jobs", "2", "--json",
                              f"{o}/query_table.json"]),
    }


def main(argv) -> int:
    if argv[:1] == ["--list"]:
        for name, (where, args) in figures(Path("OUT")).items():
            print(f"{name}: {where}\n    python {' '.join(args)[:200]}")
        return 0
    if not argv:
        print(__doc__)
        return 2
    out = Path(argv[0])
    table = figures(out)
    names = argv[1:] or list(table)
    bad = [n for n in names if n not in table]
    if bad:
        print(f"unknown figure(s) {bad}; --list shows them", file=sys.stderr)
        return 2
    (out / "figures").mkdir(parents=True, exist_ok=True)     # default_run's --plot folder
    times = {}
    for name in names:
        where, args = table[name]
        t = time.perf_counter()
        with open(out / f"{name}.txt", "w") as log:
            code = subprocess.call([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT)
        times[name] = time.perf_counter() - t
        print(f"{name}: exit {code}, {times[name]:.0f} s -> {out / name}.txt ({where})",
              flush=True)
    print(f"total {sum(times.values()) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
