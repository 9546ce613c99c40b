"""The ``boostbench`` command: it parses options, calls the harness and prints.

``boostbench run`` compares rankers against attacks on a scenario and prints
tables; ``cost`` and ``sweep`` read budgets; ``validate`` compares the world model
with published experiments; ``list`` shows what is registered; ``baseline`` and
``check`` are the regression gate (:mod:`boostbench.gate`). Option values are
parsed with the same declared constraints the Python API validates with
(:mod:`boostbench._core.params`), so a bad value prints one line naming the option
and its real range and exits with status 2, before any work starts and without
writing a file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from . import attacks as _attacks  # noqa: F401  (registers built-ins)
from . import metrics as _metrics  # noqa: F401
from . import progress
from . import rankers as _rankers  # noqa: F401
from ._core.params import MAX_BUDGET, SEED, Constraint, Interval, Options, SeedList
from .attacks.query import QUERY_BUDGET
from .errors import BoostbenchError, InvalidParameter, PluginFailure, UsageError
from .gate import ALPHA
from .metrics.base import available, table_columns
from .plugins import ATTACKS, DEFENCES, METRICS, PACINGS, RANKERS, SUPPLIERS
from .rankers.pipeline import build_ranker
from .report import (_clean, check_target, csv_writer, format_rows, format_table,
                     json_writer, manifest, summarize, summary_csv, write_json_atomic,
                     write_together)
from .runner import BUDGETS, JOBS, build_spec, describe, run_matrix
from .scenario import SCENARIOS, Scenario
from .simulate import MODES

__all__ = ["main"]

# one undefended and one defended pipeline per family (DESIGN §4: what a defence buys and costs)
#: The default comparison: three ranking families, bare and defended, bracketed by the
#: reference rankers (what ranking can do in this world: nothing, and everything).
DEFAULT_RANKERS = ("random", "like_count", "like_count+require_view+lockstep",
                   "engagement_depth", "engagement_depth+account_trust+lockstep",
                   "real_interaction", "real_interaction+device_dedup+lockstep",
                   "oracle_quality")
DEFAULT_ATTACKS = ("bot_farm", "mutual_like_ring", "task_crowd")

_SC = Scenario.PARAMS
CAP = Interval(float, 0.25, MAX_BUDGET)
MAX_MEMORY = Interval(float, 0.1, 1e6)
CANDIDATES = Interval(int, 1, 200)
SEARCH_SEEDS = Interval(int, 1, 100)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2; "argument --k: must be" -> "--k must be"
        message = re.sub(r"^argument (-[-\w]+)(?:/[-\w]+)?: (must be)", r"\1 \2", message)
        raise UsageError(f"{self.prog}: error: {message}")


def _typed(constraint: Constraint):
    """An argparse ``type`` parsing with a declared constraint (the message states its range)."""
    def parse(text):
        try:
            return constraint.parse(text)
        except InvalidParameter as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = type(constraint).__name__
    parse.constraint = constraint   # so the generated invalid-input tests can read it
    return parse


def _opt(p, option: str, constraint: Constraint | None, default, help_: str,
         shown: str | None = None):
    """Add an option whose help states its allowed values and its default (``shown``: the
    default in words, when it is not a plain value)."""
    allowed = f"{constraint.describe()}; " if constraint is not None else ""
    if shown is None:
        shown = ("none" if default is None else ",".join(f"{x:g}" for x in default)
                 if isinstance(default, tuple) else str(default))
    p.add_argument(option, default=default, help=f"{help_} ({allowed}default: {shown})",
                   **({"type": _typed(constraint)} if constraint is not None else {}))


def _names(option: str, value: str | None, registry, default, *, all_ok: bool = True) -> list:
    """Names from a comma list (or 'all'): each registered, none repeated, at least one."""
    if value is None:
        return list(default)
    if value.strip() == "all" and all_ok:
        names = [n for n, _ in registry.items()]          # loads every plug-in
        _note_broken(registry, f"left out of {option} all")
        return names
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise UsageError(f"{option} needs at least one name; one of: "
                         f"{', '.join(registry.names())}.")
    if len(set(names)) != len(names):
        raise UsageError(f"{option}: names must not repeat. Got {value!r}.")
    return names


def _can_create_in(folder: Path) -> bool:
    """Whether a file can really be created in ``folder`` (``os.access`` says yes to root
    for /proc and to read-only mounts): a probe file is made and removed."""
    import tempfile
    try:
        fd, probe = tempfile.mkstemp(prefix=".boostbench-probe.", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def _export_dir(value: str | None) -> Path | None:
    """The --export-traffic folder, checked before any work."""
    if value is None:
        return None
    d = Path(value)
    if not d.is_dir():
        raise UsageError(f"--export-traffic: {value!r} is not an existing folder.")
    if not os.access(d, os.W_OK) or not _can_create_in(d):
        raise UsageError(f"--export-traffic: folder {value!r} is not writable.")
    return d


def _note_broken(registry, what: str) -> None:
    """One line on stderr per plug-in of ``registry`` that failed to load (``what`` says
    what that means here)."""
    for name, message in registry.broken().items():
        print(f"boostbench: note: {registry.family} plug-in {name!r} is broken and {what}: "
              f"{message}", file=sys.stderr)


def _world_note(sc) -> str:
    """`` (world fan_share=0.05, ...)`` for a scenario with world settings, else ''."""
    return (" (world " + ",".join(f"{k}={v}" if isinstance(v, str) else f"{k}={v:g}"
                                  for k, v in sc.world) + ")") if sc.world else ""


def _world_settings(text: str | None):
    """``--world NAME=VALUE,...`` as ``(name, number or name)`` pairs (None: not given)."""
    if text is None:
        return None
    pairs = []
    for part in (p.strip() for p in text.split(",")):
        name, eq, value = part.partition("=")
        value = value.strip()
        try:
            number = float(value)
        except ValueError:
            number = None
        if not eq or not name.strip() or not value:
            raise UsageError(f"--world must be NAME=VALUE,... (fan_share=0.05, "
                             f"history_feed=ranked). Got {part!r}.")
        if number is None:            # a choice (history_feed=ranked); the config checks it
            pairs.append((name.strip(), value))
            continue
        pairs.append((name.strip(), int(number) if number.is_integer() and "." not in value
                      and "e" not in value.lower() else number))
    if len({n for n, _ in pairs}) != len(pairs):
        raise UsageError(f"--world names a setting twice: {text!r}.")
    return tuple(pairs)


def _out_path(option: str, value: str | None) -> Path | None:
    if value is None:
        return None
    p = Path(value)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{option}: folder {str(parent)!r} does not exist.")
    if p.is_dir():
        raise UsageError(f"{option}: {value!r} is a folder, not a file path.")
    if not os.access(parent, os.W_OK) or not _can_create_in(parent):
        raise UsageError(f"{option}: folder {str(parent)!r} is not writable.")
    try:
        check_target(p)
    except InvalidParameter as e:
        raise UsageError(f"{option}: {e}") from None
    return p


def _common(p, *, seeds: str, attacks_default: str, with_json: bool = True):
    _opt(p, "--scenario", None, "default", f"scenario: one of {', '.join(SCENARIOS)}")
    _opt(p, "--rankers", None, None, "comma list of rankers, each a registered name, "
         "module:attr or scorer+defence+defence, or 'all'", shown=", ".join(DEFAULT_RANKERS))
    _opt(p, "--attacks", None, None, "comma list of attacks or 'all'", shown=attacks_default)
    _opt(p, "--seeds", SeedList(), seeds, "number of seeds (0..N-1) or a comma list")
    _opt(p, "--k", _SC["k"], None, "feed length of the top-k metrics", shown="the scenario's")
    _opt(p, "--size", _SC["size"], None, "world size", shown="the scenario's")
    _opt(p, "--world", None, None, "world settings that differ from the size preset, "
         "NAME=VALUE,... (fan_share=0.05,behaviour.beta_fan=4; see boostbench.world."
         "world_overrides)", shown="none")
    _opt(p, "--mode", Options(*MODES), None, "closed: the feed loop; replay: open loop",
         shown="closed; replay with --log")
    _opt(p, "--jobs", JOBS, None, "parallel processes", shown="min(seeds, cores)")
    _opt(p, "--max-memory", MAX_MEMORY, None, "refuse a run estimated to need more memory "
         "than this many GB (before any world is built)", shown="80%% of this machine's")
    _scheduler(p)
    _quiet(p)
    if with_json:
        _opt(p, "--json", None, None, "write the manifest and per-seed records here")


def _scheduler(p):
    _opt(p, "--scheduler", None, None, "run the seeds as tasks on this Dask scheduler "
         "(tcp://host:8786; needs the [dask] extra) instead of local processes")


def _client(a):
    """The Dask client of ``--scheduler`` (connected before any work; closed by ``main``),
    or None."""
    if getattr(a, "scheduler", None) is None:
        return None
    if getattr(a, "_client", None) is None:
        from .executors import dask_client
        cm = dask_client(a.scheduler)
        a._client = cm.__enter__()
        a._client_cm = cm
    return a._client


def _executor(a, jobs) -> dict:
    """What ran the seeds, for the manifest (the workers' versions on Dask)."""
    client = _client(a)
    if client is None:
        return {"kind": "local", "jobs": jobs}
    from .executors import dask_versions
    return {"kind": "dask", "scheduler": a.scheduler, **dask_versions(client)}


def _plot_opt(p, extra: str = ""):
    _opt(p, "--plot", None, None, f"draw the figures into this folder (needs --json{extra}; "
         "the [plot] extra)")


def _quiet(p):
    p.add_argument("--quiet", action="store_true", help="no progress on standard error (it is "
                   "drawn only when standard error is a terminal)")


def _progress(a) -> bool:
    return progress.wanted(getattr(a, "quiet", False))


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="boostbench", description="How far does bought engagement lift "
                "low-quality content in your feed ranking?",
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show the traceback when a plug-in "
                   "fails (boostbench --debug run ...)")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    def cmd(name, help_, example):
        return sub.add_parser(name, help=help_, description=help_,
                              epilog=f"example:\n  {example}",
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    r = cmd("run", "compare rankers against attacks (the default comparison)",
            "boostbench run --rankers like_count,real_interaction --attacks bot_farm --seeds 3")
    _common(r, seeds="5", attacks_default=", ".join(DEFAULT_ATTACKS))
    _opt(r, "--budget", _SC["budget"], None, "USD per campaign, split across targets",
         shown="the scenario's")
    _opt(r, "--trace", None, None, "write per-round trajectories (CSV) here")
    _opt(r, "--metrics", None, None, "comma list of registered metrics to show (see `boostbench "
         "list`)", shown="the mode's table, and the defence table when defences run")
    _opt(r, "--format", Options("table", "md", "csv", "json"), "table", "how to print the "
         "summary: aligned text, a Markdown table, or CSV / JSON on stdout (the header line "
         "then goes to stderr)")
    _plot_opt(r, "; trajectories with --trace")
    _opt(r, "--export-traffic", None, None, "existing folder: write every attacked run's "
         "events, campaign and organic, labelled (CSV; see boostbench.traffic) for testing "
         "your own detectors")
    _opt(r, "--log", None, None, "your own recorded engagement log as the world (CSV, or "
         ".parquet with the [parquet] extra): the campaigns are merged in and replayed; see "
         "docs/own-log.md")
    _opt(r, "--columns", None, None, "with --log: role=COLUMN pairs, roles time, account, "
         "item, kind, value and optional quality, creator, duration, created, device",
         shown="each log role's own name")
    _opt(r, "--targets", None, None, "with --log: comma list of the item ids to boost",
         shown="new items the log's audience liked least")
    _opt(r, "--window-start", None, None, "with --log: when the attack window starts, in the "
         "log's time unit (seconds or ISO 8601)", shown="the log's last horizon_hours")
    c = cmd("cost", "what it costs to get a low-quality post into the top k",
            "boostbench cost --rankers like_count --cap 4 --adaptive")
    _common(c, seeds="3", attacks_default="all")
    _opt(c, "--cap", CAP, 16.0, "largest budget of the log-spaced grid (USD)")
    _plot_opt(c)
    c.add_argument("--adaptive", action="store_true", help="also search the attack space per "
                   "ranker (chosen on search seeds, reported on the held-out --seeds)")
    _opt(c, "--candidates", CANDIDATES, 16, "configurations the search starts from")
    _opt(c, "--search-seeds", SEARCH_SEEDS, 3, "number of search seeds (10000, 10001, ...)")
    _opt(c, "--evaluations", Interval(int, 1, 1_000_000), None, "with --adaptive: search-seed "
         "simulations each search may spend (at least --search-seeds): a pool as large as half "
         "of them halves (the whole space when it fits; --candidates is then unused), then "
         "one dimension at a time is changed while that improves",
         shown="none: the halving of --candidates alone")
    _opt(c, "--screen", Interval(int, 0, 1_000_000), 0, "with --evaluations: first screen this "
         "many random points of the space, one simulation of the attack window each on the "
         "first search seed, and halve the best of them (not counted in --evaluations)")
    _opt(c, "--objective", Options("impressions", "hours_in_top_k", "cheapest_budget"),
         "impressions", "with --adaptive: what the search maximises, the targets' mean organic "
         "impressions, their mean expected hours in the top k at --cap (ties broken by "
         "impressions), or the cheapest grid budget at which half of them reach the top k "
         "(bisection over the grid: up to 3 simulations an evaluation for $0.25-$16)")
    _opt(c, "--queries", Interval(int, 0, 100_000), QUERY_BUDGET, "with --adaptive: the query "
         "levels (query_rank, then query_score: an attacker that asks the ranker what a purchase "
         "would do, against the best level below) with this query budget per run; 0 leaves them "
         "out")
    w = cmd("sweep", "rise and success probability against budget",
            "boostbench sweep --rankers like_count --attacks bot_farm --budgets 0,1,4")
    _common(w, seeds="3", attacks_default=", ".join(DEFAULT_ATTACKS))
    _opt(w, "--budgets", BUDGETS, (0.0, 1.0, 4.0, 16.0, 64.0), "comma list of budgets (USD)")
    _plot_opt(w)
    v = cmd("validate", "compare the world model with published experiments",
            "boostbench validate --quick")
    v.add_argument("--quick", action="store_true", help="small versions (seconds, noisier)")
    _opt(v, "--experiments", None, None, "comma list of herding, musiclab, position_bias, "
         "exposure_inequality, engagement_rates", shown="all")
    _opt(v, "--seed", SEED, 0, "seed")
    _opt(v, "--world", None, None, "world settings for exposure_inequality and "
         "engagement_rates, NAME=VALUE,... (history_feed=ranked)", shown="none")
    _opt(v, "--json", None, None, "write published and measured values here")
    _quiet(v)
    rp = cmd("report", "one shareable page: leaderboard, full table, figures and manifest, "
             "from result files (HTML or Markdown)",
             "boostbench report run.json cost.json --trace t.csv --out report.html")
    rp.add_argument("results", nargs="+", help="JSON written by run or cost (and sweep, for "
                    "its figures) with --json")
    rp.add_argument("--out", required=True, help="report.html (self-contained) or report.md "
                    "(figures in report_figures/ beside it) (required)")
    _opt(rp, "--trace", None, None, "the --trace CSV of the run (adds its trajectories)")
    g = cmd("merge", "join result shards (the same run, sweep or cost on disjoint seeds) into "
            "one result", "boostbench merge part0.json part1.json --out all.json")
    g.add_argument("shards", nargs="+", help="JSON files written with --json by run, sweep or "
                   "cost, on disjoint seeds")
    g.add_argument("--out", required=True, help="the merged JSON to write (required)")
    m = cmd("models", "held-out predictive quality of learned rankers on the clean history",
            "boostbench models --rankers learned_pxtr,wrmf --seeds 3")
    _opt(m, "--scenario", None, "default", f"scenario: one of {', '.join(SCENARIOS)}")
    _opt(m, "--rankers", None, None, "comma list of learned rankers (with a quality method)",
         shown="learned_pxtr, wrmf")
    _opt(m, "--seeds", SeedList(), "3", "number of seeds (0..N-1) or a comma list")
    _opt(m, "--json", None, None, "write the per-seed values here")
    _quiet(m)
    pl = cmd("plot", "draw the figures of a run, sweep or cost result file (needs the [plot] "
             "extra)", "boostbench run --json r.json --trace t.csv && boostbench plot r.json "
             "--trace t.csv --out figs")
    pl.add_argument("results", help="JSON written by run, sweep or cost with --json")
    pl.add_argument("--out", required=True, help="existing folder for the PNG files (required)")
    _opt(pl, "--trace", None, None, "the --trace CSV of the same run (adds trajectories.png)")
    cmd("list", "show registered rankers, defences, attacks, suppliers, pacings and metrics",
        "boostbench list")
    b = cmd("baseline", "record robustness metrics per seed for `check`",
            "boostbench baseline --scenario tiny --seeds 10 --out baseline.json")
    _common(b, seeds="5", attacks_default=", ".join(DEFAULT_ATTACKS), with_json=False)
    b.add_argument("--out", required=True, help="baseline file to write (JSON; required)")
    _opt(b, "--budget", _SC["budget"], None, "USD per campaign, split across targets",
         shown="the scenario's")
    k = cmd("check", "re-run a baseline; exit 1 on a regression beyond a margin",
            "boostbench check --baseline baseline.json")
    k.add_argument("--baseline", required=True, help="file written by `boostbench baseline` "
                   "(required)")
    _opt(k, "--seeds", SeedList(2), None, "seeds to re-run; seeds the baseline lacks are "
         "compared unpaired unless --reference", shown="the baseline's")
    k.add_argument("--margin", action="extend", nargs="+", default=[], metavar="METRIC=VALUE",
                   help="tolerated degradation: absolute (log_rank_lift=0.5) or relative to the "
                   "baseline mean (log_rank_lift=5%%) (default: each metric's declared margin, "
                   "see `boostbench list`)")
    _opt(k, "--reference", None, None, "registered ranker or module:attr re-run on the same "
         "seeds as the 'before' side instead of the stored numbers")
    from .stats import REGRESSION_TESTS
    _opt(k, "--alpha", ALPHA, 0.05, "family-wise error rate, Holm-corrected")
    _opt(k, "--test", Options(*REGRESSION_TESTS), "t", "t: t-test; sign-flip: exact, paired "
         "(can only fail when 2**seeds > tests / alpha)")
    _opt(k, "--jobs", JOBS, None, "parallel processes", shown="min(seeds, cores)")
    _opt(k, "--json", None, None, "write the comparison here")
    _scheduler(k)
    _quiet(k)
    k.add_argument("--allow-code", action="store_true",
                   help="let the baseline name module:attr code to import and run (off: a "
                   "baseline is data; its names resolve only against the registries)")
    return p


def _cmd_list(a, out) -> int:
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
    print(f"pacings (usable with any supplier): {', '.join(PACINGS.names())}", file=out)
    print(f"suppliers: {', '.join(SUPPLIERS.names())}", file=out)
    print("metrics:", file=out)
    for name, m in METRICS.items():
        arrow = "higher is better" if m.greater_is_better else "lower is better"
        print(f"  {name:<24} ({arrow}) {m.definition}", file=out)
    for name, message in METRICS.broken().items():
        print(f"  {name:<24} BROKEN plug-in: {message}", file=out)
    return 0


def _spec(a, *, budget=None, default_attacks, scenario: str | None = None):
    """Check the shared options (before any work) and build the RunSpec; returns (spec, jobs)."""
    name = a.scenario if scenario is None else scenario
    if name not in SCENARIOS:
        raise UsageError(f"--scenario must be one of {', '.join(SCENARIOS)}. Got {name!r}.")
    log_path = _log_options(a)
    if a.mode is None:
        a.mode = "replay" if log_path is not None else "closed"
    rankers = _names("--rankers", a.rankers, RANKERS, DEFAULT_RANKERS)
    attacks = _names("--attacks", a.attacks, ATTACKS,
                     default_attacks or [n for n, _ in ATTACKS.items()])
    dict(METRICS.items())                 # loads the metric plug-ins: a broken one is left out
    _note_broken(METRICS, "left out of the tables and records")
    for n in attacks:
        if n not in ATTACKS:
            raise UsageError(f"--attacks: unknown attack {n!r}; allowed: "
                             f"{', '.join(ATTACKS.names())}.")
    loop_only = [n for n in attacks if getattr(ATTACKS.get(n), "closed_loop_only", False)]
    if loop_only and a.mode == "replay":
        if a.attacks not in ("all", None):
            raise UsageError(f"--attacks: {', '.join(loop_only)} react to the feed and need "
                             "--mode closed.")
        attacks = [n for n in attacks if n not in loop_only]
        print(f"note: {', '.join(loop_only)} react to the feed (closed loop only): left out in "
              "replay mode.", file=sys.stderr)
    with _cwd_importable():
        for spec in rankers:   # name the failing spec (build_spec names only the parameter)
            try:
                build_ranker(spec)
            except BoostbenchError as e:
                raise UsageError(f"--rankers: {spec!r}: {e}") from None
            except (Exception, SystemExit) as e:     # the user's factory itself failed
                raise UsageError(f"--rankers: {spec!r}: building it failed: "
                                 f"{type(e).__name__}: {e}") from None
        try:
            spec = build_spec(scenario=name, rankers=rankers, attacks=attacks, seeds=a.seeds,
                              budget=budget, k=a.k, size=a.size, mode=a.mode,
                              world=_world_settings(getattr(a, "world", None)))
        except InvalidParameter as e:
            raise UsageError(f"--world: {e}" if e.name == "world" else str(e)) from None
    jobs = min(len(spec.seeds), os.cpu_count() or 1) if a.jobs is None else a.jobs
    _client(a)            # a bad --scheduler fails here, before any work
    if log_path is None:  # a recorded log is read, and its run's memory checked, by the command
        _check_memory(a, spec, jobs)
    return spec, jobs


def _memory_limit(a) -> float:
    from .resources import default_limit_gb
    return default_limit_gb() if a.max_memory is None else a.max_memory


def _check_memory(a, spec, jobs) -> None:
    """Refuse a run estimated to need more memory than ``--max-memory`` (local runs only: on
    Dask the memory is the workers')."""
    if getattr(a, "scheduler", None) is not None:
        return
    from .executors import seed_parts
    from .resources import check_fits, estimate
    most = {"cost": getattr(a, "cap", None),
            "sweep": max(getattr(a, "budgets", None) or (0.0,))}.get(a.command)
    # a search's workers keep every search and held-out seed's world for the whole search
    kept = (getattr(a, "search_seeds", 0) + len(spec.seeds) - 1
            if getattr(a, "adaptive", False) else 0)
    # a run splits its last seeds over the workers (executors.seed_parts)
    tasks = len(seed_parts(spec.seeds, spec.rankers, jobs)) if a.command == "run" else None
    try:
        check_fits(estimate(spec, jobs, budget=most, cached_seeds=kept, tasks=tasks),
                   _memory_limit(a))
    except InvalidParameter as e:
        raise UsageError(f"--max-memory: {e}") from None


def _log_options(a):
    """``--log`` and the options that go with it, checked before any work; the path or None."""
    path = getattr(a, "log", None)
    if path is None:
        for opt in ("columns", "targets", "window_start"):
            if getattr(a, opt, None) is not None:
                raise UsageError(f"--{opt.replace('_', '-')} goes with --log.")
        return None
    if a.mode == "closed":
        raise UsageError("--log runs in replay (--mode replay): the closed loop needs a "
                         "behaviour model fitted to known item quality, which a recorded log "
                         "does not have.")
    if a.size is not None or getattr(a, "world", None) is not None:
        raise UsageError(f"{'--size' if a.size is not None else '--world'} does not go with "
                         "--log: the log is the world.")
    if not Path(path).is_file():
        raise UsageError(f"--log: {path!r} is not a readable file.")
    from .recorded import parse_columns, reading_bytes
    try:
        parse_columns(a.columns)
        need = reading_bytes(path)
    except InvalidParameter as e:
        raise UsageError(f"--{e.name}: {e}") from None
    if need > _memory_limit(a) * 1e9:
        raise UsageError(f"--max-memory: reading {path!r} needs about {need / 1e9:.1f} GB, more "
                         f"than the limit of {_memory_limit(a):.1f} GB; convert a CSV to Parquet "
                         "(pip install \"boostbench[parquet]\") or raise --max-memory.")
    return path


def _with_log(a, spec):
    """The spec with the recorded log of ``--log`` (read and checked here, before any
    simulation); default and ``all`` ranker and attack lists leave out what the log cannot
    serve."""
    from .recorded import live_posts, needs, read_log, recorded_world
    from .scenario import choose_targets
    option = {"log": "--log", "columns": "--columns", "targets": "--targets",
              "window_start": "--window-start", "n_targets": "--targets", "k": "--k"}
    try:
        log = read_log(a.log, a.columns).with_window(
            a.window_start, None if a.targets is None else
            [x.strip() for x in a.targets.split(",") if x.strip()])
        sc = spec.scenario
        if log.targets is not None:             # the budget is split over the named items
            sc = sc.with_(n_targets=len(log.targets))
        world = recorded_world(log, horizon_hours=sc.horizon_hours)     # checks the window
        live = live_posts(world, sc)
        if sc.k > live:
            raise InvalidParameter(f"The 'k' parameter must be at most {live} (the posts of this "
                                   f"log ranked at the window's start); got {sc.k}.", name="k")
        goals = {"promote"} | {getattr(x, "goal", "promote") for x in spec.attacks}
        chosen = {g: choose_targets(world, sc, g) for g in sorted(goals)}  # can be chosen
        log = replace(log, source={**log.source, "targets_chosen": [
            str(x) for x in world.recorded.item_ids[chosen["promote"]].tolist()],
            "window_start_hours": round(log.start_hours(sc.horizon_hours), 6)})
        spec = replace(spec, scenario=sc)
        for family in ("rankers", "attacks"):     # default and 'all' lists: what it serves
            objs = getattr(spec, family)
            kept = tuple(x for x in objs if not needs(x) & log.unknown)
            if getattr(a, family) in (None, "all") and kept and len(kept) < len(objs):
                print(f"note: {', '.join(x.name for x in objs if x not in kept)} need(s) what "
                      f"this log does not record ({', '.join(sorted(log.unknown))}): left out.",
                      file=sys.stderr)
                spec = replace(spec, **{family: kept})
        return replace(spec, log=log)
    except InvalidParameter as e:
        raise UsageError(f"{option.get(e.name, '--' + str(e.name))}: {e}") from None


@contextmanager
def _cwd_importable():
    """``module:attr`` typed on the command line also finds a module in the current folder,
    as pytest and uvicorn users expect — searched after the installed packages, and only
    for what the user typed (never for names read from a file such as a baseline)."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        yield
    finally:
        if added:
            sys.path.remove(cwd)


def _metric_list(value):
    """``--metrics a,b``: registered metric names, checked before any work (None: default)."""
    if value is None:
        return None
    names = _names("--metrics", value, METRICS, (), all_ok=False)
    bad = [n for n in names if n not in METRICS]
    if bad:
        raise UsageError(f"--metrics must be a comma list of distinct registered metrics (see "
                         f"`boostbench list`); unknown: {', '.join(bad)}.")
    return names


def _manifest(a, spec, **extra):
    sc = spec.scenario
    world = ({"recorded_log": spec.log.describe()} if getattr(spec, "log", None) is not None
             else sc.world_config().to_dict())
    return manifest(command=a.command, mode=spec.mode, scenario=sc.to_dict(),
                    world=world, cost_model=spec.cost.to_dict(),
                    rankers=[describe(x) for x in spec.rankers],
                    attacks=[describe(x) for x in spec.attacks],
                    feed=describe(spec.feed)["params"], seeds=list(spec.seeds), k=sc.k, **extra)


def _cmd_run(a, out) -> int:
    spec, jobs = _spec(a, budget=a.budget, default_attacks=DEFAULT_ATTACKS)
    path = _out_path("--json", a.json)
    trace_path = _out_path("--trace", a.trace)
    if path is not None and trace_path is not None and path.resolve() == trace_path.resolve():
        raise UsageError("--json and --trace must be different files.")
    plot_dir = _plot_dir(a, path)
    chosen = _metric_list(a.metrics)
    export = _export_dir(a.export_traffic)
    if a.log is not None:           # read the log once every other option has been checked
        spec = _with_log(a, spec)
        _check_memory(a, spec, jobs)
    names, left = available(spec.log.unknown if spec.log is not None else ())
    if chosen is not None and set(chosen) & set(left):
        bad = [n for n in chosen if n in left]
        from .recorded import lacking
        raise UsageError(f"--metrics: {', '.join(bad)} need(s) {lacking(left[bad[0]][0])} "
                         "(see docs/own-log.md).")
    sc, seeds = spec.scenario, spec.seeds
    started = time.perf_counter()
    records, trace = run_matrix(spec, jobs=jobs, trace=trace_path is not None,
                                progress=_progress(a), scheduler=_client(a), export=export)
    if export is not None:
        write_json_atomic(export / "recipes.json", {
            "manifest": _manifest(a, spec, budget=spec.budget, t0=_t0(spec)),
            "recipes": {x.name: describe(x) for x in spec.attacks}})
    elapsed = time.perf_counter() - started
    rows = summarize(records, tuple(names))
    machine = a.format in ("csv", "json")      # stdout is the data alone; the header to stderr
    head = out if not machine else sys.stderr
    if spec.log is not None:
        log = spec.log
        print(f"boostbench run: your log {log.source['path']!r} ({log.source['events']:,} events, "
              f"{log.account_ids.size:,} accounts, {log.item_ids.size:,} items), attack window "
              f"from {log.start_hours(sc.horizon_hours):.1f} h after its first event "
              f"(scenario {sc.name!r}: {sc.attack_hours} h attack, {sc.horizon_hours} h "
              f"horizon), budget ${spec.budget:g} per campaign over {sc.n_targets} targets "
              f"({_target_rule(log)}: {', '.join(log.source['targets_chosen'])}), k={sc.k}, mode "
              f"replay, {len(seeds)} seeds ({elapsed:.1f} s)", file=head)
        if left:
            print(f"not available on this log (it does not record "
                  f"{', '.join(sorted(log.unknown))}): {', '.join(left)}", file=head)
    else:
        print(f"boostbench run: scenario {sc.name!r} v{sc.version}, size {sc.size}"
              f"{_world_note(sc)}, budget ${spec.budget:g} per campaign over {sc.n_targets} "
              f"low-quality targets, k={sc.k}, mode {spec.mode}, {len(seeds)} seeds "
              f"({elapsed:.1f} s)", file=head)
    cols = chosen or [c for c in table_columns(spec.mode) if c not in left]
    if a.format == "csv":
        print(summary_csv(rows, cols), file=out)
    elif a.format == "json":
        print(json.dumps(_clean([{k: r[k] for k in ("ranker", "attack", "n_seeds", "spend",
                                                     *cols)} for r in rows]), indent=1), file=out)
    else:
        print(format_table(rows, cols, style=a.format), file=out)
        if chosen is None and any(r["defences"] for r in records):
            print("\nWhat the defences catch and what they cost honest content (collateral from "
                  "the clean twins; NaN: nothing was detected):", file=out)
            defence = [c for c in table_columns("defence") if c not in left]
            print(format_table(summarize(records, defence), defence, style=a.format), file=out)
        if any(r["shadow_priced"] for r in records):
            print("mutual_like_ring pays in reciprocity: its spend is a shadow price (its likes "
                  "at the crowd-task price).", file=out)
    files = []            # the JSON and the trace land together or not at all
    if path is not None:
        files.append((path, json_writer({"manifest": _manifest(a, spec, budget=spec.budget,
                                                               executor=_executor(a, jobs)),
                                         "records": records, "summary": rows})))
    if trace_path is not None:
        files.append((trace_path, csv_writer(trace)))
    write_together(*files)
    for p, _ in files:
        print(f"wrote {p}", file=out)
    _draw(plot_dir, path, out, trace=trace_path)
    return 0


def _target_rule(log) -> str:
    if log.targets:
        return "given"
    return ("the public-signal rule" if "quality" in log.unknown
            else "low-quality by your quality column")


def _t0(spec) -> float:
    """The window's start in the exported traffic's time (seconds from the world's epoch)."""
    if spec.log is not None:
        return float(spec.log.history_hours(spec.scenario.horizon_hours) * 3600)
    return spec.scenario.world_config().t0


def _plot_dir(a, json_path):
    """``--plot DIR``, checked before any work: an existing folder, --json given, matplotlib."""
    if getattr(a, "plot", None) is None:
        return None
    from .plot import _pyplot
    d = Path(a.plot)
    if not d.is_dir():
        raise UsageError(f"--plot: {a.plot!r} is not an existing folder.")
    if json_path is None:
        raise UsageError("--plot draws from the result file: give --json too.")
    _pyplot()          # PlotError (exit 2) without matplotlib
    return d


def _draw(plot_dir, json_path, out, trace=None) -> None:
    if plot_dir is None:
        return
    from .plot import plot_file
    for p in plot_file(json_path, plot_dir, trace=trace):
        print(f"wrote {p}", file=out)


def _knowledge(spec, adaptive: bool, queries: int = 0) -> str:
    """The attacker knowledge levels a grid run covers, for its header line."""
    from .attacks.adaptive import LEVELS
    from .attacks.levels import QUERY_LEVELS
    levels = {getattr(x, "knowledge", "fixed") for x in spec.attacks}
    if adaptive:
        levels.add("adaptive")
        if any(getattr(r, "defences", ()) for r in spec.rankers):
            levels.add("defence_aware")
        if queries:
            levels.update(QUERY_LEVELS)
    return " + ".join(k for k in ("fixed", *LEVELS) if k in levels)


def _grid_run(a, out, budgets, *, fmt) -> int:
    from .report import summarize_cost
    from .runner import run_cost
    spec, jobs = _spec(a, default_attacks=None if a.command == "cost" else DEFAULT_ATTACKS)
    adaptive = getattr(a, "adaptive", False)
    path = _out_path("--json", a.json)
    plot_dir = _plot_dir(a, path)
    started = time.perf_counter()
    records, searches, flags = run_cost(
        spec, budgets, jobs=jobs, adaptive=adaptive,
        n_candidates=getattr(a, "candidates", 16), n_search_seeds=getattr(a, "search_seeds", 3),
        progress=_progress(a), scheduler=_client(a), evaluations=getattr(a, "evaluations", None),
        objective=getattr(a, "objective", "impressions"),
        queries=getattr(a, "queries", 0) if adaptive else 0,
        screen=getattr(a, "screen", 0) if adaptive else 0)
    rows = summarize_cost(records)
    sc = spec.scenario
    print(f"boostbench {a.command}: scenario {sc.name!r} v{sc.version}, size {sc.size}"
          f"{_world_note(sc)}, k={sc.k}, mode {spec.mode}, "
          f"budgets {', '.join(f'${b:g}' for b in budgets)}, "
          f"{len(spec.seeds)} seeds, attacker knowledge: "
          f"{_knowledge(spec, adaptive, getattr(a, 'queries', 0))} "
          f"({time.perf_counter() - started:.1f} s)", file=out)
    print(fmt(rows), file=out)
    for res in searches:
        show = _objective_units(res.objective)
        print(f"{res.knowledge} search vs {res.ranker}: best {res.best.label} after "
              f"{res.evaluations} evaluations"
              + (f" and {res.screened} screened" if res.screened else "")
              + f" — {show[0]} {show[1](res.heldout_score)} on "
              f"held-out seeds (search {show[1](res.search_score)}); best fixed "
              f"{res.best_fixed} {show[1](res.best_fixed_score)}"
              + (f"; random {res.random_label} {show[1](res.random_score)}"
                 if res.random_label else ""), file=out)
        for flag in res.flags:
            print(f"  SANITY FLAG: {flag}", file=out)
    for flag in flags:
        print(f"SANITY FLAG: {flag}", file=out)
    if path is not None:
        write_json_atomic(path, {"manifest": _manifest(a, spec, budgets=list(budgets),
                                                       executor=_executor(a, jobs)),
                                 "records": rows, "runs": records,
                                 "searches": [r.to_dict() for r in searches]})
        print(f"wrote {path}", file=out)
    _draw(plot_dir, path, out)
    return 0


def _objective_units(objective: str):
    """``(what, format)`` of a search's scores in ``objective``'s units: the cheapest budget
    as the geometric mean over seeds of the dollars (2 x cap where the cap does not reach)."""
    if objective == "cheapest_budget":
        return ("cheapest budget to the top k (geometric mean over seeds)",
                lambda x: f"${2.0 ** -x:,.2f}")
    return ("target impressions" if objective == "impressions" else "target hours in the top k",
            lambda x: f"{x:.1f}")


def _cmd_cost(a, out) -> int:
    from .metrics.cost import budget_grid
    from .report import format_cost_table
    if not a.adaptive and (a.evaluations is not None or a.objective != "impressions"
                           or a.queries != QUERY_BUDGET or a.screen):
        raise UsageError("--evaluations, --objective, --queries and --screen set how the "
                         "adaptive search runs: give --adaptive too.")
    if a.screen and a.evaluations is None:
        raise UsageError(f"--screen fills the pool --evaluations sizes: give --evaluations "
                         f"with --screen {a.screen}.")
    if a.evaluations is not None and a.evaluations < a.search_seeds:
        raise UsageError(f"--evaluations must be at least --search-seeds ({a.search_seeds}): "
                         f"the winner is scored on every search seed. Got {a.evaluations}.")
    return _grid_run(a, out, budget_grid(a.cap), fmt=format_cost_table)


def _cmd_sweep(a, out) -> int:
    from .report import format_sweep_table
    return _grid_run(a, out, list(a.budgets), fmt=format_sweep_table)


def _cmd_baseline(a, out) -> int:
    from argparse import Namespace

    from .gate import baseline_payload, format_power, gated_metrics, power_report
    names = [v.strip() for v in a.scenario.split(",") if v.strip()]
    if not names or len(set(names)) != len(names):
        raise UsageError(f"--scenario must be a comma list of distinct names from "
                         f"{', '.join(SCENARIOS)}. Got {a.scenario!r}.")
    if len(a.seeds) < 2:
        raise UsageError(f"--seeds: the gate compares across seeds and needs at least 2. "
                         f"Got {len(a.seeds)}.")
    plans = [(name, *_spec(a, budget=a.budget, default_attacks=DEFAULT_ATTACKS, scenario=name))
             for name in names]
    path = _out_path("--out", a.out)
    runs = []
    for name, spec, jobs in plans:
        sc = spec.scenario
        started = time.perf_counter()
        records, _ = run_matrix(spec, jobs=jobs, progress=_progress(a), scheduler=_client(a))
        for r in records:
            r["scenario"] = sc.name
        gated = gated_metrics(spec.mode)
        print(f"boostbench baseline: scenario {sc.name!r} v{sc.version}, size {sc.size}"
              f"{_world_note(sc)}, budget ${spec.budget:g}, k={sc.k}, mode {spec.mode}, "
              f"{len(spec.seeds)} seeds ({time.perf_counter() - started:.1f} s)", file=out)
        print(format_table(summarize(records, gated), gated), file=out)
        power = power_report(records, gated)
        print("What a check can catch:", file=out)
        print(format_power(power), file=out)
        ranker_specs = _names("--rankers", a.rankers, RANKERS, DEFAULT_RANKERS)
        runs.append({"options": {"scenario": sc.name, "rankers": ",".join(ranker_specs),
                                 "attacks": ",".join(x.name for x in spec.attacks),
                                 "budget": spec.budget, "k": sc.k, "size": sc.size,
                                 "mode": spec.mode,
                                 **({"world": [list(p) for p in sc.world]} if sc.world
                                    else {})},
                     "manifest": _manifest(Namespace(command="baseline"), spec,
                                           budget=spec.budget),
                     "records": records, "power": power})
    write_json_atomic(path, baseline_payload(runs, manifest(command="baseline")))
    print(f"wrote {path}", file=out)
    return 0


def _cmd_check(a, out) -> int:
    import numpy as np

    from . import gate
    margins = gate.parse_margins(a.margin)
    path = _out_path("--json", a.json)
    res = gate.check(a.baseline, seeds=a.seeds, margins=margins, reference=a.reference,
                     alpha=a.alpha, test=a.test, jobs=a.jobs, allow_code=a.allow_code,
                     progress=_progress(a), scheduler=_client(a))
    bman = res.baseline_manifest
    many = len(res.scenarios) > 1
    print(f"boostbench check: baseline {a.baseline} (boostbench {bman.get('version')}, numpy "
          f"{bman.get('numpy')}), scenario{'s' if many else ''} "
          f"{', '.join(repr(s) for s in res.scenarios)}, mode {', '.join(res.modes)}, seeds "
          f"{','.join(map(str, res.seeds))}, against {res.against}, alpha {res.alpha:g} "
          f"({res.elapsed:.1f} s)", file=out)
    print(gate.format_check(res.rows, alpha=res.alpha), file=out)
    for n in res.notes:
        print(n, file=out)
    if path is not None:
        write_json_atomic(path, {"manifest": manifest(command="check", baseline=str(a.baseline),
                                                      seeds=list(res.seeds),
                                                      reference=a.reference, alpha=res.alpha,
                                                      test=res.test, paired=res.paired,
                                                      numpy_now=np.__version__),
                                 **res.to_dict()})
        print(f"wrote {path}", file=out)
    if not res.passed:
        which = "; ".join(f"{r.metric} ({r.ranker} x {r.attack}"
                          f"{', ' + r.scenario if many else ''})" for r in res.regressions)
        print(f"FAIL: {len(res.regressions)} of {res.n_tested} tests show a regression beyond "
              f"the margin: {which}.", file=out)
        return 1
    print(f"PASS: none of {res.n_tested} tests shows a regression beyond its margin.", file=out)
    return 0


def _cmd_validate(a, out) -> int:
    from .validate import EXPERIMENTS, WORLD_EXPERIMENTS, run_experiments
    from .world import world_config, world_overrides
    names = list(EXPERIMENTS)
    if a.experiments:
        names = [n.strip() for n in a.experiments.split(",") if n.strip()]
        bad = [n for n in names if n not in EXPERIMENTS]
        if bad or not names or len(set(names)) != len(names):
            raise UsageError(f"--experiments must name some of {', '.join(EXPERIMENTS)}, each "
                             f"once. Got {a.experiments!r}.")
    path = _out_path("--json", a.json)
    world = _world_settings(a.world) or ()
    try:
        world_config(**world_overrides(world))           # checked before any work
    except InvalidParameter as e:
        raise UsageError(f"--world: {e}") from None
    if world and not set(names) & set(WORLD_EXPERIMENTS):
        raise UsageError(f"--world applies to {', '.join(WORLD_EXPERIMENTS)}; --experiments "
                         "selects neither.")
    with progress.bar(len(names), "experiments", enabled=_progress(a)) as tick:
        exps = run_experiments(names, quick=a.quick, seed=a.seed, tick=tick, world=world)
    for e in exps:
        print(f"{e.name}: {e.verdict.upper()} — {e.source}", file=out)
        print(f"  published: {_short(e.published)}", file=out)
        print(f"  measured:  {_short(e.measured)}", file=out)
        if e.notes:
            print(f"  note: {e.notes}", file=out)
    if path is not None:
        write_json_atomic(path, {"manifest": manifest(command="validate", quick=a.quick,
                                                      seed=a.seed, world=dict(world)),
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


def _cmd_report(a, out) -> int:
    from .page import write_report
    path = _out_path("--out", a.out)
    try:
        written = write_report(a.results, path, trace=a.trace)
    except InvalidParameter as e:
        raise UsageError(str(e)) from None
    print(f"wrote {written}", file=out)
    return 0


def _cmd_merge(a, out) -> int:
    from .merge import merge_results
    path = _out_path("--out", a.out)
    if any(Path(x).resolve() == path.resolve() for x in a.shards):
        raise UsageError("--out must not be one of the shards.")
    try:
        merged = merge_results(a.shards)
    except InvalidParameter as e:
        raise UsageError(str(e)) from None
    write_json_atomic(path, merged)
    seeds = merged["manifest"]["seeds"]
    print(f"boostbench merge: {len(a.shards)} {merged['manifest']['command']} shards, "
          f"{len(seeds)} seeds ({', '.join(map(str, seeds))}); wrote {path}", file=out)
    return 0


def _cmd_models(a, out) -> int:
    from .quality import model_quality, summarise_quality
    from .report import _fmt
    if a.scenario not in SCENARIOS:
        raise UsageError(f"--scenario must be one of {', '.join(SCENARIOS)}. Got {a.scenario!r}.")
    specs = _names("--rankers", a.rankers, RANKERS, ("learned_pxtr", "wrmf"), all_ok=False)
    rankers = []
    with _cwd_importable():
        for spec in specs:
            try:
                r = build_ranker(spec)
            except BoostbenchError as e:
                raise UsageError(f"--rankers: {spec!r}: {e}") from None
            if not callable(getattr(r, "quality", None)):
                raise UsageError(f"--rankers: {spec!r} is not a learned ranker (it has no "
                                 "quality method); try learned_pxtr, wrmf or a ModelRanker.")
            rankers.append(r)
    path = _out_path("--json", a.json)
    sc = SCENARIOS[a.scenario]
    t = time.time()
    with progress.bar(len(a.seeds) * len(rankers), "models", enabled=_progress(a)) as tick:
        rows = model_quality(rankers, sc, a.seeds, tick=tick)
    summary = summarise_quality(rows)
    print(f"boostbench models: scenario {sc.name!r} v{sc.version}, clean history at the start "
          f"of the window, {len(a.seeds)} seeds ({time.time() - t:.1f} s)", file=out)
    metrics = list(dict.fromkeys(r["metric"] for r in summary))
    cells = {}
    for r in summary:
        half = (r["high"] - r["low"]) / 2
        cells[(r["ranker"], r["head"], r["metric"])] = (
            f"{_fmt(r['mean'])} (1 seed)" if r["n"] == 1 else f"{_fmt(r['mean'])} ±{_fmt(half)}")
    heads = list(dict.fromkeys((r["ranker"], r["head"]) for r in summary))
    body = [[rk, hd, *(cells.get((rk, hd, m), "") for m in metrics)] for rk, hd in heads]
    print(format_rows(["ranker", "head", *metrics], body, [
        "auc: ROC AUC of the held-out outcome (impression-level for pXtr heads); gain: 1 - "
        "held-out log loss / log loss of the base rate; mean ±half-width of the 95% t "
        "interval over seeds."]), file=out)
    if path is not None:
        write_json_atomic(path, {"manifest": manifest(command="models", scenario=sc.name,
                                                      seeds=list(a.seeds)),
                                 "records": rows, "summary": summary})
        print(f"wrote {path}", file=out)
    return 0


def _cmd_plot(a, out) -> int:
    from .plot import plot_file
    for path in plot_file(a.results, a.out, trace=a.trace):
        print(f"wrote {path}", file=out)
    return 0


COMMANDS = {"run": _cmd_run, "validate": _cmd_validate, "cost": _cmd_cost, "sweep": _cmd_sweep,
            "baseline": _cmd_baseline, "check": _cmd_check, "list": _cmd_list,
            "plot": _cmd_plot, "models": _cmd_models, "merge": _cmd_merge,
            "report": _cmd_report}


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so every ``finally`` (temp files, workers) runs."""


def _on_sigterm(signum, frame):
    raise _Terminated()


#: Exit statuses: 0 success, 1 a regression found by ``check``, 2 bad input (a plug-in that
#: cannot be loaded, a file that cannot be written), 3 a plug-in that failed while running,
#: 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
EXIT_PLUGIN, EXIT_INTERRUPTED, EXIT_TERMINATED = 3, 130, 143


def main(argv=None, out=None) -> int:
    """Entry point; returns the exit status (see ``EXIT_*``)."""
    out = out or sys.stdout
    parser = _build_parser()
    old, a = None, None
    try:
        old = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:          # not the main thread: leave signals alone
        pass
    try:
        a = parser.parse_args(argv)
        if a.command in COMMANDS:
            from .world_store import directory
            directory()         # a BOOSTBENCH_WORLD_CACHE that cannot be used: before any work
            return COMMANDS[a.command](a, out)
        parser.print_help(out)
        return 2
    except KeyboardInterrupt:
        print("boostbench: interrupted (Ctrl-C).", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PluginFailure as e:
        if a is not None and a.debug:
            traceback.print_exc()
        print(f"boostbench: error: {e}", file=sys.stderr)
        return EXIT_PLUGIN
    except _Terminated:
        print("boostbench: terminated (SIGTERM).", file=sys.stderr)
        return EXIT_TERMINATED
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
    finally:
        if getattr(a, "_client_cm", None) is not None:
            a._client_cm.__exit__(None, None, None)
        if old is not None:
            signal.signal(signal.SIGTERM, old)


if __name__ == "__main__":
    sys.exit(main())
