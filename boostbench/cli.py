"""The ``boostbench`` command.

``boostbench run`` compares rankers against attacks on a scenario and prints one
table; ``boostbench list`` shows what is registered; ``boostbench baseline`` and
``boostbench check`` are the regression gate (:mod:`boostbench.gate`). Bad option
values print one line naming the option and its allowed range and exit with
status 2, before any work starts and without writing a file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import attacks as _attacks  # noqa: F401  (registers built-ins)
from . import metrics as _metrics  # noqa: F401
from . import rankers as _rankers  # noqa: F401
from .attacks.base import CostModel
from .errors import BoostbenchError, UsageError
from .plugins import ATTACKS, DEFENCES, METRICS, RANKERS
from .report import format_table, manifest, summarize, write_csv_atomic, write_json_atomic
from .metrics.base import table_columns
from .runner import RunSpec, describe, run_matrix
from .simulate import MODES
from .scenario import SCENARIOS
from .world import SIZES

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2
        raise UsageError(f"{self.prog}: error: {message}")


def _names(option: str, value: str, registry) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise UsageError(f"{option} needs at least one name; one of: {', '.join(registry.names())}.")
    for n in names:
        if n not in registry:
            raise UsageError(f"{option}: unknown {registry.family} {n!r}; allowed: "
                             f"{', '.join(registry.names())}.")
    if len(set(names)) != len(names):
        raise UsageError(f"{option}: names must not repeat. Got {value!r}.")
    return names


def _ranker_specs(option: str, value: str) -> list:
    """Rankers from a comma list of specs: ``name``, ``module:attr`` or ``scorer+defence+...``."""
    from .rankers.pipeline import build_ranker
    specs = [v.strip() for v in value.split(",") if v.strip()]
    if not specs:
        raise UsageError(f"{option} needs at least one ranker; one of: {', '.join(RANKERS.names())}"
                         f" (defences to add with '+': {', '.join(DEFENCES.names())}).")
    if len(set(specs)) != len(specs):
        raise UsageError(f"{option}: names must not repeat. Got {value!r}.")
    out = []
    for spec in specs:
        try:
            out.append(build_ranker(spec))
        except BoostbenchError as e:
            raise UsageError(f"{option}: {spec!r}: {e}") from None
    return out


def _seeds(value: str) -> tuple[int, ...]:
    try:
        if "," in value:
            seeds = tuple(int(v) for v in value.split(","))
        else:
            n = int(value)
            if not 1 <= n <= 10_000:
                raise ValueError
            return tuple(range(n))
    except ValueError:
        raise UsageError("--seeds must be a count in [1, 10000] or a comma list of seeds in "
                         f"[0, 2**63-1]. Got {value!r}.") from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds must be distinct integers in [0, 2**63-1]. Got {value!r}.")
    return seeds


def _number(option: str, value: str, kind, low, high=None):
    rng = f"[{low}, {'inf' if high is None else high}]"
    what = "an int" if kind is int else "a number"
    try:
        x = kind(value)
    except ValueError:
        raise UsageError(f"{option} must be {what} in {rng}. Got {value!r}.") from None
    if x != x or x < low or (high is not None and x > high) or x in (float("inf"),):
        raise UsageError(f"{option} must be {what} in {rng}. Got {value!r}.")
    return x


def _out_path(option: str, value: str | None) -> Path | None:
    if value is None:
        return None
    p = Path(value)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{option}: folder {str(parent)!r} does not exist.")
    if p.is_dir():
        raise UsageError(f"{option}: {value!r} is a folder, not a file path.")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{option}: folder {str(parent)!r} is not writable.")
    return p


# one undefended and one defended pipeline per family (DESIGN §4: what a defence buys and costs)
DEFAULT_RANKERS = ("like_count", "like_count+require_view+lockstep",
                   "engagement_depth", "engagement_depth+account_trust+lockstep",
                   "real_interaction", "real_interaction+device_dedup+lockstep")
DEFAULT_ATTACKS = ("bot_farm", "mutual_like_ring", "task_crowd")


def _common(p, *, seeds: str, attacks_default: str, with_json: bool = True):
    p.add_argument("--scenario", default="default", help=f"one of {', '.join(SCENARIOS)}")
    p.add_argument("--rankers", default=None, help="comma list of rankers, each a name, "
                   "module:attr or scorer+defence+defence; or 'all' (default: "
                   f"{', '.join(DEFAULT_RANKERS)})")
    p.add_argument("--attacks", default=None, help=f"comma list or 'all' (default: "
                   f"{attacks_default})")
    p.add_argument("--seeds", default=seeds, help="number of seeds (0..N-1) or a comma list")
    p.add_argument("--k", default=None, help="feed length for top-k metrics (default: scenario's)")
    p.add_argument("--size", default=None, help=f"world size: {', '.join(SIZES)} "
                   "(default: the scenario's)")
    p.add_argument("--mode", default="closed", help="closed (feed loop, default) or replay "
                   "(open loop)")
    p.add_argument("--jobs", default=None, help="parallel processes (default: min(seeds, cores))")
    if with_json:
        p.add_argument("--json", default=None, help="write manifest + per-seed records here")


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="boostbench", description="How far does bought engagement lift "
                "low-quality content in your feed ranking?")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    r = sub.add_parser("run", help="compare rankers against attacks (the default comparison)")
    _common(r, seeds="5", attacks_default=", ".join(DEFAULT_ATTACKS))
    r.add_argument("--budget", default=None, help="USD per campaign, split across targets "
                   "(default: the scenario's)")
    r.add_argument("--trace", default=None, help="write per-round trajectories (CSV) here")
    c = sub.add_parser("cost", help="what it costs to get a low-quality post into the top k")
    _common(c, seeds="3", attacks_default="all")
    c.add_argument("--cap", default="16", help="largest budget of the log-spaced grid (USD)")
    c.add_argument("--adaptive", action="store_true", help="also search the attack space per "
                   "ranker (chosen on search seeds, reported on the held-out --seeds)")
    c.add_argument("--candidates", default="16", help="configurations the search starts from")
    c.add_argument("--search-seeds", default="3", help="number of search seeds (10000, 10001, ...)")
    w = sub.add_parser("sweep", help="rise and success probability against budget")
    _common(w, seeds="3", attacks_default=", ".join(DEFAULT_ATTACKS))
    w.add_argument("--budgets", default="0,1,4,16,64", help="comma list of budgets (USD)")
    v = sub.add_parser("validate", help="compare the world model with published experiments")
    v.add_argument("--quick", action="store_true", help="small versions (seconds, noisier)")
    v.add_argument("--experiments", default=None, help="comma list (default: all): "
                   "herding, musiclab, position_bias, exposure_inequality")
    v.add_argument("--seed", default="0", help="seed (default 0)")
    v.add_argument("--json", default=None, help="write published and measured values here")
    sub.add_parser("list", help="show registered rankers, attacks, pacings and metrics")
    b = sub.add_parser("baseline", help="record robustness metrics per seed for `check`")
    _common(b, seeds="5", attacks_default=", ".join(DEFAULT_ATTACKS), with_json=False)
    b.add_argument("--out", required=True, help="baseline file to write (JSON)")
    b.add_argument("--budget", default=None, help="USD per campaign, split across targets "
                   "(default: the scenario's)")
    k = sub.add_parser("check", help="re-run a baseline; exit 1 on a regression beyond a margin")
    k.add_argument("--baseline", required=True, help="file written by `boostbench baseline`")
    k.add_argument("--seeds", default=None, help="number of seeds (0..N-1) or a comma list "
                   "(default: the baseline's; others are compared unpaired unless --reference)")
    k.add_argument("--margin", action="extend", nargs="+", default=[], metavar="METRIC=VALUE",
                   help="tolerated degradation: absolute (rank_lift=25) or relative to the "
                   "baseline mean (rank_lift=5%%); default: each metric's declared margin "
                   "(boostbench list)")
    k.add_argument("--reference", default=None, help="registered ranker or module:attr re-run on "
                   "the same seeds as the 'before' side instead of the stored numbers")
    k.add_argument("--alpha", default="0.05", help="family-wise error rate, Holm-corrected "
                   "(default 0.05)")
    k.add_argument("--test", default="t", help="t (t-test, default) or sign-flip (exact, paired; "
                   "can only fail when 2**seeds > tests / alpha)")
    k.add_argument("--jobs", default=None, help="parallel processes (default: min(seeds, cores))")
    k.add_argument("--json", default=None, help="write the comparison here")
    return p


def _cmd_list(out) -> int:
    for title, reg in (("rankers", RANKERS), ("defences (compose as scorer+defence+...)",
                                               DEFENCES), ("attacks", ATTACKS)):
        print(f"{title}:", file=out)
        for name, obj in reg.items():
            doc = (obj.__doc__ or "").strip().splitlines()[0] if obj.__doc__ else ""
            if reg is DEFENCES:
                d = obj()
                doc = f"[{d.schedule.describe()}; {d.action}] {doc}"
            print(f"  {name:<28} {doc}", file=out)
        for name, message in reg.broken().items():
            print(f"  {name:<28} BROKEN plug-in: {message}", file=out)
    from .plugins import PACINGS, SUPPLIERS
    print(f"pacings (usable with any supplier): {', '.join(PACINGS.names())}", file=out)
    print(f"suppliers: {', '.join(SUPPLIERS.names())}", file=out)
    print("metrics:", file=out)
    for name, m in METRICS.items():
        arrow = "higher is better" if m.greater_is_better else "lower is better"
        print(f"  {name:<24} ({arrow}) {m.definition}", file=out)
    return 0


def _spec(a, *, budget_opt: str | None, default_attacks):
    """Validate the shared options (before any work) and build the RunSpec."""
    if a.scenario not in SCENARIOS:
        raise UsageError(f"--scenario must be one of {', '.join(SCENARIOS)}. Got {a.scenario!r}.")
    sc = SCENARIOS[a.scenario]
    pick = lambda opt, val, reg, dflt: (reg.names() if val == "all" else  # noqa: E731
                                        _names(opt, val, reg) if val else list(dflt))
    rankers = (_ranker_specs("--rankers", ",".join(RANKERS.names()) if a.rankers == "all"
                        else a.rankers or ",".join(DEFAULT_RANKERS)))
    attacks = pick("--attacks", a.attacks, ATTACKS, default_attacks or ATTACKS.names())
    loop_only = [n for n in attacks if getattr(ATTACKS.get(n), "closed_loop_only", False)]
    if loop_only and a.mode == "replay":
        if a.attacks not in ("all", None):
            raise UsageError(f"--attacks: {', '.join(loop_only)} react to the feed and need "
                             "--mode closed.")
        attacks = [n for n in attacks if n not in loop_only]
        print(f"note: {', '.join(loop_only)} react to the feed (closed loop only): left out in "
              "replay mode.", file=sys.stderr)
    budget = sc.budget if budget_opt is None else _number("--budget", budget_opt, float, 0.0)
    k = sc.k if a.k is None else _number("--k", a.k, int, 1)
    if a.size is not None and a.size not in SIZES:
        raise UsageError(f"--size must be one of {', '.join(SIZES)}. Got {a.size!r}.")
    if a.mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}. Got {a.mode!r}.")
    seeds = _seeds(a.seeds)
    cores = os.cpu_count() or 1
    jobs = min(len(seeds), cores) if a.jobs is None else _number("--jobs", a.jobs, int, 1, 64)
    sc = sc.with_(k=k, budget=budget, **({"size": a.size} if a.size else {}))
    spec = RunSpec(sc, tuple(rankers),
                   tuple(ATTACKS.get(n)() for n in attacks), seeds, budget, CostModel(), a.mode)
    return spec, jobs


def _manifest(a, spec, **extra):
    sc = spec.scenario
    return manifest(command=a.command, mode=spec.mode, scenario=sc.to_dict(),
                    world=sc.world_config().to_dict(), cost_model=spec.cost.to_dict(),
                    rankers=[describe(x) for x in spec.rankers],
                    attacks=[describe(x) for x in spec.attacks],
                    feed=describe(spec.feed)["params"], seeds=list(spec.seeds), k=sc.k, **extra)


def _cmd_run(a, out) -> int:
    spec, jobs = _spec(a, budget_opt=a.budget, default_attacks=DEFAULT_ATTACKS)
    path = _out_path("--json", a.json)
    trace_path = _out_path("--trace", a.trace)
    if path is not None and trace_path is not None and path.resolve() == trace_path.resolve():
        raise UsageError("--json and --trace must be different files.")
    sc, seeds, budget, k = spec.scenario, spec.seeds, spec.budget, spec.scenario.k
    started = time.perf_counter()
    records, trace = run_matrix(spec, jobs=jobs, trace=trace_path is not None)
    elapsed = time.perf_counter() - started
    columns = table_columns(a.mode)
    rows = summarize(records, tuple(METRICS.names()))
    print(f"boostbench run: scenario {sc.name!r} v{sc.version}, size {sc.size}, budget "
          f"${budget:g} per campaign over {sc.n_targets} low-quality targets, k={k}, "
          f"mode {a.mode}, {len(seeds)} seeds ({elapsed:.1f} s)", file=out)
    print(format_table(rows, columns), file=out)
    if any(r["defences"] for r in records):
        print("\nWhat the defences catch and what they cost honest content (collateral from the "
              "clean twins; NaN: nothing was detected):", file=out)
        defence = table_columns("defence")
        print(format_table(summarize(records, defence), defence), file=out)
    if any(r["shadow_priced"] for r in records):
        print("mutual_like_ring pays in reciprocity: its spend is a shadow price (its likes at "
              "the crowd-task price).", file=out)
    if path is not None:
        payload = {"manifest": _manifest(a, spec, budget=budget),
                   "records": records, "summary": rows}
        write_json_atomic(path, payload)
        print(f"wrote {path}", file=out)
    if trace_path is not None:
        write_csv_atomic(trace_path, trace)
        print(f"wrote {trace_path}", file=out)
    return 0


def _grid_run(a, out, budgets, *, fmt) -> int:
    from dataclasses import replace

    from .report import summarize_cost
    from .runner import adaptive_search, run_sweep
    default = None if a.command == "cost" else DEFAULT_ATTACKS
    spec, jobs = _spec(a, budget_opt=None, default_attacks=default)
    adaptive = getattr(a, "adaptive", False)
    if adaptive:
        n_cand = _number("--candidates", a.candidates, int, 1, 200)
        n_search = _number("--search-seeds", a.search_seeds, int, 1, 100)
    path = _out_path("--json", a.json)
    started = time.perf_counter()
    records = run_sweep(spec, budgets, jobs=jobs)
    searches, flags = [], []
    if adaptive:
        from .attacks.adaptive import aware_variants, knowledge_flags
        search_seeds = tuple(range(10_000, 10_000 + n_search))
        for ranker in spec.rankers:
            levels = ("adaptive", "defence_aware") if getattr(ranker, "defences", ()) else (
                "adaptive",)
            found = []
            for knowledge in levels:   # the defence-aware search starts from the adaptive best
                warm = (aware_variants(found[0].best, ranker.defences)
                        if knowledge == "defence_aware" else ())
                res = adaptive_search(spec, ranker, budget=budgets[-1],
                                      search_seeds=search_seeds, n_candidates=n_cand,
                                      knowledge=knowledge, include=warm)
                found.append(res)
                one = replace(spec, rankers=(ranker,), attacks=(res.best.recipe(),))
                records += run_sweep(one, budgets, jobs=jobs)
            searches += found
            flags += knowledge_flags(found)
    rows = summarize_cost(records)
    sc = spec.scenario
    print(f"boostbench {a.command}: scenario {sc.name!r} v{sc.version}, size {sc.size}, "
          f"k={sc.k}, mode {spec.mode}, budgets {', '.join(f'${b:g}' for b in budgets)}, "
          f"{len(spec.seeds)} seeds, attacker knowledge: {_knowledge(spec, adaptive)} "
          f"({time.perf_counter() - started:.1f} s)", file=out)
    print(fmt(rows), file=out)
    for res in searches:
        print(f"{res.knowledge} search vs {res.ranker}: best {res.best.label} — target impressions "
              f"{res.heldout_score:.1f} on held-out seeds (search {res.search_score:.1f}); best "
              f"fixed {res.best_fixed} {res.best_fixed_score:.1f}; random {res.random_label} "
              f"{res.random_score:.1f}", file=out)
        for flag in res.flags:
            print(f"  SANITY FLAG: {flag}", file=out)
    for flag in flags:
        print(f"SANITY FLAG: {flag}", file=out)
    if path is not None:
        write_json_atomic(path, {"manifest": _manifest(a, spec, budgets=list(budgets)),
                                 "records": rows, "runs": records,
                                 "searches": [r.to_dict() for r in searches]})
        print(f"wrote {path}", file=out)
    return 0


def _knowledge(spec, adaptive: bool) -> str:
    """The attacker knowledge levels a grid run covers, for its header line."""
    levels = {getattr(x, "knowledge", "fixed") for x in spec.attacks}
    if adaptive:
        levels.add("adaptive")
        if any(getattr(r, "defences", ()) for r in spec.rankers):
            levels.add("defence_aware")
    order = ("fixed", "adaptive", "defence_aware")
    return " + ".join(k for k in order if k in levels)


def _cmd_cost(a, out) -> int:
    from .metrics.cost import budget_grid
    from .report import format_cost_table
    cap = _number("--cap", a.cap, float, 0.25)
    return _grid_run(a, out, budget_grid(cap), fmt=format_cost_table)


def _cmd_sweep(a, out) -> int:
    from .report import format_sweep_table
    try:
        budgets = [float(x) for x in a.budgets.split(",")]
    except ValueError:
        budgets = None
    if (not budgets or any(not (b >= 0) or b == float("inf") for b in budgets)
            or budgets != sorted(set(budgets))):
        raise UsageError("--budgets must be a strictly increasing comma list of numbers in "
                         f"[0, inf). Got {a.budgets!r}.")
    return _grid_run(a, out, budgets, fmt=format_sweep_table)


def _tokens(value: str | None, registry, default) -> str:
    """The names an option stands for, as a comma list ('all' frozen to what is registered)."""
    if value == "all":
        return ",".join(registry.names())
    if not value:
        return ",".join(default)
    return ",".join(v.strip() for v in value.split(",") if v.strip())


def _gate_seeds(option: str, value: str) -> tuple[int, ...]:
    seeds = _seeds(value)
    if len(seeds) < 2:
        raise UsageError(f"{option}: the gate compares across seeds and needs at least 2. "
                         f"Got {value!r}.")
    return seeds


def _cmd_baseline(a, out) -> int:
    from argparse import Namespace

    from .gate import baseline_payload, gated_metrics
    names = [v.strip() for v in a.scenario.split(",") if v.strip()]
    if not names or len(set(names)) != len(names):
        raise UsageError(f"--scenario must be a comma list of distinct names from "
                         f"{', '.join(SCENARIOS)}. Got {a.scenario!r}.")
    _gate_seeds("--seeds", a.seeds)
    plans = []
    for name in names:
        ns = Namespace(**{**vars(a), "scenario": name})
        spec, jobs = _spec(ns, budget_opt=a.budget, default_attacks=DEFAULT_ATTACKS)
        plans.append((ns, spec, jobs))
    path = _out_path("--out", a.out)
    rankers = _tokens(a.rankers, RANKERS, DEFAULT_RANKERS)
    attacks = _tokens(a.attacks, ATTACKS, DEFAULT_ATTACKS)
    runs = []
    for ns, spec, jobs in plans:
        sc = spec.scenario
        started = time.perf_counter()
        records, _ = run_matrix(spec, jobs=jobs)
        for r in records:
            r["scenario"] = sc.name
        gated = gated_metrics(spec.mode)
        print(f"boostbench baseline: scenario {sc.name!r} v{sc.version}, size {sc.size}, budget "
              f"${spec.budget:g}, k={sc.k}, mode {spec.mode}, {len(spec.seeds)} seeds "
              f"({time.perf_counter() - started:.1f} s)", file=out)
        print(format_table(summarize(records, gated), gated), file=out)
        runs.append({"options": {"scenario": sc.name, "rankers": rankers, "attacks": attacks,
                                 "budget": spec.budget, "k": sc.k, "size": sc.size,
                                 "mode": spec.mode},
                     "manifest": _manifest(ns, spec, budget=spec.budget), "records": records})
    write_json_atomic(path, baseline_payload(runs, manifest(command="baseline")))
    print(f"wrote {path}", file=out)
    return 0


def _cmd_check(a, out) -> int:
    from argparse import Namespace
    from dataclasses import replace

    from . import gate
    from .report import _clean, _default
    from .stats import REGRESSION_TESTS
    base = gate.load_baseline(a.baseline)
    try:
        alpha = float(a.alpha)
    except ValueError:
        alpha = float("nan")
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must be a number in (0, 1). Got {a.alpha!r}.")
    if a.test not in REGRESSION_TESTS:
        raise UsageError(f"--test must be one of {', '.join(REGRESSION_TESTS)}. Got {a.test!r}.")
    margins = gate.parse_margins(a.margin)
    seeds = None if a.seeds is None else _gate_seeds("--seeds", a.seeds)
    path = _out_path("--json", a.json)
    reference = None if a.reference is None else gate.resolve_ranker(a.reference)
    plans = []
    for run in base["runs"]:
        o, man = run["options"], run["manifest"]
        run_seeds = seeds or tuple(man["seeds"])
        ns = Namespace(command="check", scenario=o["scenario"], rankers=o["rankers"],
                       attacks=o["attacks"], seeds=",".join(map(str, run_seeds)), k=str(o["k"]),
                       size=o["size"], mode=o["mode"], jobs=a.jobs)
        try:
            spec, jobs = _spec(ns, budget_opt=repr(float(o["budget"])), default_attacks=None)
        except UsageError as e:
            raise UsageError(f"--baseline {a.baseline}: cannot rebuild its run here "
                             f"({e})") from None
        now = spec.scenario.to_dict()
        diff = sorted(k for k in set(now) | set(man["scenario"])
                      if now.get(k) != man["scenario"].get(k))
        if diff:
            raise UsageError(f"--baseline {a.baseline}: scenario {o['scenario']!r} differs from "
                             f"this boostbench's in {', '.join(diff)}; re-record the baseline.")
        metrics, skipped = gate.select_metrics(base, spec.mode, margins)
        plans.append((run, spec, jobs, metrics))
    paired = reference is not None or all(
        set(spec.seeds) <= set(run["manifest"]["seeds"]) for run, spec, _, _ in plans)
    if a.test == "sign-flip":
        if not paired:
            raise UsageError("--test sign-flip needs paired seeds: the baseline's seeds (or a "
                             "subset) or --reference.")
        m = sum(len(ms) * len(sp.rankers) * len(sp.attacks) for _, sp, _, ms in plans)
        n = min(len(sp.seeds) for _, sp, _, _ in plans)
        if m / 2 ** n >= alpha:  # the smallest Holm-adjusted p-value the test can reach
            need = next(k for k in range(n, 64) if m / 2 ** k < alpha)
            raise UsageError(f"--test sign-flip cannot fail with {n} seeds over {m} tests (its "
                             f"smallest Holm-adjusted p is {m}/2^{n} = {m / 2 ** n:.3g} >= alpha "
                             f"{alpha:g}); use --seeds {need} or more, or --test t.")

    started = time.perf_counter()
    before, after = [], []
    notes = [f"note: not in the baseline, so not tested: {', '.join(skipped)} (re-record to "
             "gate on them)."] if skipped else []
    for run, spec, jobs, _ in plans:
        sc = spec.scenario
        records, _ = run_matrix(spec, jobs=jobs)
        if reference is None:
            before += [r for r in run["records"] if not paired or r["seed"] in spec.seeds]
        else:  # a run of its own: it may share a ranker's name, never its clean twin
            ref, _ = run_matrix(replace(spec, rankers=(reference,)), jobs=jobs)
            for r in ref:
                r["scenario"] = sc.name
            before += [{**r, "ranker": name} for name in dict.fromkeys(x["ranker"] for x in records)
                       for r in ref]
        for r in records:
            r["scenario"] = sc.name
        after += records
        world_now = json.loads(json.dumps(_clean(sc.world_config().to_dict()), default=_default))
        if reference is None and world_now != run["manifest"].get("world"):
            notes.append(f"note: the world model of scenario {sc.name!r} differs from the "
                         "baseline's; stored numbers may not be comparable (re-record the "
                         "baseline, or pass --reference).")
    rows = gate.compare(before, after, plans[0][3], margins=margins, paired=paired,
                        method=a.test, alpha=alpha)
    elapsed = time.perf_counter() - started
    if not any(r.verdict != "not tested" for r in rows):
        raise UsageError(f"--baseline {a.baseline}: nothing to compare (no ranker x attack of "
                         "the re-run matches the baseline's).")
    bman = base["manifest"]
    seeds_txt = ",".join(map(str, plans[0][1].seeds))
    against = (f"reference {getattr(reference, 'name', a.reference)!r} ({a.reference}) re-run "
               "on the same seeds" if reference is not None else
               "the baseline's stored values, paired by seed" if paired else
               "the baseline's stored values on other seeds (unpaired)")
    if reference is None and bman.get("numpy") != np.__version__:
        notes.append(f"note: the baseline was recorded with numpy {bman.get('numpy')}, this is "
                     f"{np.__version__}; random streams may differ, pass --reference for a "
                     "paired re-run.")
    modes = ", ".join(dict.fromkeys(spec.mode for _, spec, _, _ in plans))
    print(f"boostbench check: baseline {a.baseline} (boostbench {bman.get('version')}, numpy "
          f"{bman.get('numpy')}), scenario{'s' if len(plans) > 1 else ''} "
          f"{', '.join(repr(p[1].scenario.name) for p in plans)}, mode {modes}, seeds "
          f"{seeds_txt}, against {against}, alpha {alpha:g} ({elapsed:.1f} s)", file=out)
    print(gate.format_check(rows, alpha=alpha), file=out)
    for n in notes:
        print(n, file=out)
    bad = [r for r in rows if r.verdict == "REGRESSION"]
    n = sum(1 for r in rows if r.verdict != "not tested")
    if path is not None:
        write_json_atomic(path, {"manifest": manifest(command="check", baseline=str(a.baseline),
                                                      seeds=list(plans[0][1].seeds),
                                                      reference=a.reference, alpha=alpha,
                                                      test=a.test, paired=paired),
                                 "tests": [r.to_dict() for r in rows],
                                 "regressions": len(bad)})
        print(f"wrote {path}", file=out)
    if bad:
        which = "; ".join(f"{r.metric} ({r.ranker} x {r.attack}"
                          f"{', ' + r.scenario if len(plans) > 1 else ''})" for r in bad)
        print(f"FAIL: {len(bad)} of {n} tests show a regression beyond the margin: {which}.",
              file=out)
        return 1
    print(f"PASS: none of {n} tests shows a regression beyond its margin.", file=out)
    return 0


def _cmd_validate(a, out) -> int:
    from .validate import EXPERIMENTS, run_experiments
    names = list(EXPERIMENTS)
    if a.experiments:
        names = [n.strip() for n in a.experiments.split(",") if n.strip()]
        bad = [n for n in names if n not in EXPERIMENTS]
        if bad or not names:
            raise UsageError(f"--experiments must name some of {', '.join(EXPERIMENTS)}. "
                             f"Got {a.experiments!r}.")
    seed = _number("--seed", a.seed, int, 0)
    path = _out_path("--json", a.json)
    exps = run_experiments(names, quick=a.quick, seed=seed)
    for e in exps:
        status = "as published" if e.direction_ok else "DIFFERS from published"
        print(f"{e.name}: {status} — {e.source}", file=out)
        print(f"  published: {_short(e.published)}", file=out)
        print(f"  measured:  {_short(e.measured)}", file=out)
        if e.notes:
            print(f"  note: {e.notes}", file=out)
    if path is not None:
        write_json_atomic(path, {"manifest": manifest(command="validate", quick=a.quick,
                                                      seed=seed),
                                 "experiments": [e.to_dict() for e in exps]})
        print(f"wrote {path}", file=out)
    return 0


def _short(d) -> str:
    """A compact one-line rendering of nested results (3 significant digits)."""
    if isinstance(d, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in d.items()) + "}"
    if isinstance(d, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in d) + "]"
    if isinstance(d, float):
        return f"{d:.3g}"
    return str(d)


def main(argv=None, out=None) -> int:
    """Entry point; returns the exit status."""
    out = out or sys.stdout
    parser = _build_parser()
    try:
        a = parser.parse_args(argv)
        if a.command == "list":
            return _cmd_list(out)
        commands = {"run": _cmd_run, "validate": _cmd_validate, "cost": _cmd_cost,
                    "sweep": _cmd_sweep, "baseline": _cmd_baseline, "check": _cmd_check}
        if a.command in commands:
            return commands[a.command](a, out)
        parser.print_help(out)
        return 2
    except UsageError as e:
        print(str(e) if str(e).startswith("boostbench") else f"boostbench: error: {e}",
              file=sys.stderr)
        return 2
    except BoostbenchError as e:
        print(f"boostbench: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
