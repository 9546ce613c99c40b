"""The regression gate: fail CI when a change makes a ranker easier to game.

``boostbench baseline`` records every metric per ranker x attack (x scenario) and
*per seed*, with the manifest and each metric's declared direction;
``boostbench check`` re-runs the same spec and compares, metric by metric, with a
one-sided test of H0 "worse by at most the margin" against H1 "worse by more than
the margin", Holm-corrected across all tests. The gate fails only on evidence of
a regression beyond a declared margin, so seed noise alone does not fail it.

Margins are declared with each metric (:attr:`boostbench.metrics.Metric.margin`): a
relative part (of the baseline mean's magnitude) with an absolute floor in the
metric's units, so a metric whose baseline sits at 0 (a robust ranker's hit rate)
still has a margin.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .errors import BoostbenchError, InvalidParameter
from .plugins import METRICS
from .rankers.pipeline import build_ranker
from ._core.params import Interval, Options
from .report import _clean, _default, format_rows, group_by
from .metrics.base import DEFAULT_MARGIN, Margin, table_columns
from .stats import (REGRESSION_TESTS, RegressionTest, detectable_degradation, holm,
                    regression_test)

__all__ = ["GateError", "Margin", "margin_for",
           "parse_margins", "gated_metrics", "resolve_ranker", "baseline_payload",
           "code_in_baseline",
           "load_baseline", "select_metrics", "GateRow", "compare", "format_check",
           "robustness_info", "FORMAT", "FORMAT_VERSION", "check", "CheckResult",
           "power_report", "format_power", "POWER"]

#: The power the gate's detectable changes are quoted at.
POWER = 0.8

FORMAT = "boostbench-baseline"
FORMAT_VERSION = 1


class GateError(BoostbenchError):
    """A bad baseline file or gate option; the message is one line naming the input."""


def margin_for(metric: str, overrides: dict | None = None) -> Margin:
    """The margin of ``metric``: an override, else its declaration (:class:`Metric.margin`),
    else :data:`~boostbench.metrics.base.DEFAULT_MARGIN` (10%, no floor)."""
    if overrides and metric in overrides:
        return overrides[metric]
    declared = dict(METRICS.items()).get(metric)     # a broken plug-in declares nothing
    return DEFAULT_MARGIN if declared is None else getattr(declared, "margin", DEFAULT_MARGIN)


def parse_margins(items) -> dict[str, Margin]:
    """``["rank_lift=25", "feed_quality=1%"]`` -> overrides (absolute, or % of the baseline mean).

    An override replaces the declared rule entirely (no floor). Raises GateError
    naming ``--margin`` for an unknown metric, a negative or non-numeric value, or
    a metric given twice.
    """
    out: dict[str, Margin] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise GateError(f"--margin must be METRIC=VALUE (absolute) or METRIC=VALUE% (of the "
                            f"baseline mean). Got {item!r}.")
        if name not in METRICS:
            raise GateError(f"--margin: unknown metric {name!r}; allowed: "
                            f"{', '.join(METRICS.names())}.")
        if name in out:
            raise GateError(f"--margin: metric {name!r} is given twice.")
        pct = value.endswith("%")
        try:
            x = float(value[:-1] if pct else value)
        except ValueError:
            x = float("nan")
        if not (math.isfinite(x) and x >= 0):
            raise GateError(f"--margin {name}: the margin must be a number in [0, inf) (in the "
                            f"metric's units) or a percentage in [0, inf)%. Got {value!r}.")
        out[name] = Margin(relative=x / 100) if pct else Margin(floor=x)
    return out


def gated_metrics(mode: str, extra=()) -> list[str]:
    """Metrics the gate tests in ``mode``: the ``run`` table's columns, plus ``extra``."""
    names = [m for m in table_columns(mode) if m in METRICS]
    return names + [m for m in extra if m not in names]


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


def _is_ranker(obj) -> bool:
    return callable(obj) and not isinstance(obj, type) and isinstance(getattr(obj, "name", None),
                                                                      str)


def resolve_ranker(spec: str, *, option: str = "--reference"):
    """A ranker from a registered name, ``module:attr`` or ``scorer+defence+...``.

    Resolved as everywhere else (:func:`boostbench.rankers.build_ranker`: the
    registries, :func:`importlib.import_module` for ``module:attr``, never
    ``eval``); a factory is called without arguments, an object that already is
    a ranker is used as it is.

    Raises
    ------
    GateError
        One line naming ``option`` when the spec does not resolve or the result is
        not a ranker (a callable with a string ``name``).
    """
    what = (f"{option} {spec!r} must be a ranker (a registered name, module:attr or "
            "scorer+defence+...)")
    try:
        obj = build_ranker(spec)
    except InvalidParameter as e:
        raise GateError(f"{what}: {_one_line(e)}") from None
    if not _is_ranker(obj):
        raise GateError(f"{what}; it gave {type(obj).__name__} {obj!r:.40}.")
    return obj


def baseline_payload(runs: list[dict], top_manifest: dict) -> dict:
    """The baseline file: manifest, every metric's direction, runs with per-seed records.

    ``runs``: one dict per scenario with ``options`` (what ``check`` feeds back to
    the spec builder), ``manifest`` (the full configuration) and ``records``.
    """
    metrics = {n: {"greater_is_better": bool(m.greater_is_better), "definition": m.definition}
               for n, m in METRICS.items()}
    modes = sorted({r["options"]["mode"] for r in runs})
    gate = {"metrics": {mode: gated_metrics(mode) for mode in modes},
            "margins": {n: asdict(margin_for(n)) for n, _ in METRICS.items()}}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "manifest": top_manifest,
            "metrics": metrics, "gate": gate, "runs": runs}


#: Largest baseline file ``check`` reads (a 10,000-seed matrix of the default is ~60 MiB).
MAX_BASELINE_BYTES = 256 * 2**20


def _no_constant(token: str):
    """json's hook for NaN, Infinity and -Infinity: a baseline stores undefined values as
    null and never an infinity."""
    raise ValueError(f"holds the non-finite number {token}; a baseline stores undefined "
                     "values as null and no infinities.")


#: A stored metric value is a finite number (or null: undefined).
_FINITE = Interval(float)


_OPTION_TYPES = {"scenario": str, "rankers": str, "attacks": str, "budget": (int, float),
                 "k": int, "size": str, "mode": str}


def load_baseline(path) -> dict:
    """Read and validate a baseline file; NaN metric values come back as NaN.

    Raises
    ------
    GateError
        One line naming ``--baseline`` when the file is missing, not JSON, or not a
        boostbench baseline this version can read.
    """
    p = Path(path)
    if not p.exists():
        raise GateError(f"--baseline: file {str(path)!r} does not exist; record one with "
                        f"`boostbench baseline --out {path}`.")
    if not p.is_file():
        raise GateError(f"--baseline: {str(path)!r} is not a file.")
    size = p.stat().st_size
    if size > MAX_BASELINE_BYTES:
        raise GateError(f"--baseline: {str(path)!r} is {size / 2**20:.0f} MiB; a baseline may "
                        f"be at most {MAX_BASELINE_BYTES / 2**20:.0f} MiB.")
    try:
        data = json.loads(p.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise GateError(f"--baseline: {str(path)!r} is not valid JSON ({e.msg} at line "
                        f"{e.lineno}).") from None
    except ValueError as e:          # Infinity / NaN tokens (_no_constant)
        raise GateError(f"--baseline: {str(path)!r} {e}") from None
    except RecursionError:
        raise GateError(f"--baseline: {str(path)!r} is nested too deeply to be a "
                        "baseline.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise GateError(f"--baseline: cannot read {str(path)!r} ({_one_line(e)}).") from None

    def need(cond, what):
        if not cond:
            raise GateError(f"--baseline: {str(path)!r} is not a boostbench baseline ({what}).")

    need(isinstance(data, dict) and data.get("format") == FORMAT,
         f"no 'format': {FORMAT!r}")
    ver = data.get("format_version")
    need(isinstance(ver, int), "no 'format_version'")
    if ver != FORMAT_VERSION:
        raise GateError(f"--baseline: {str(path)!r} has format version {ver}; this boostbench "
                        f"reads version {FORMAT_VERSION}. Re-record it with `boostbench baseline`.")
    need(isinstance(data.get("manifest"), dict), "no 'manifest'")
    metrics = data.get("metrics")
    need(isinstance(metrics, dict) and all(
        isinstance(v, dict) and isinstance(v.get("greater_is_better"), bool)
        for v in metrics.values()), "'metrics' must map names to their direction")
    runs = data.get("runs")
    need(isinstance(runs, list) and runs, "no 'runs'")
    for i, run in enumerate(runs):
        need(isinstance(run, dict), f"run {i} is not an object")
        opts, man, recs = run.get("options"), run.get("manifest"), run.get("records")
        need(isinstance(opts, dict) and all(isinstance(opts.get(k), t) and not isinstance(
            opts.get(k), bool) for k, t in _OPTION_TYPES.items()),
            f"run {i}: 'options' needs {', '.join(_OPTION_TYPES)}")
        world = opts.get("world", [])
        need(isinstance(world, list) and all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
            and isinstance(p[1], (int, float, str)) and not isinstance(p[1], bool)
            for p in world),
            f"run {i}: option 'world' must be a list of [name, number or name] pairs")
        need(isinstance(man, dict) and isinstance(man.get("scenario"), dict), f"run {i}: no "
             "'manifest' with its scenario")
        seeds = man.get("seeds")
        need(isinstance(seeds, list) and len(seeds) >= 2 and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
            and len(set(seeds)) == len(seeds), f"run {i}: 'seeds' must be >= 2 distinct "
             "non-negative ints")
        need(isinstance(recs, list) and recs and all(
            isinstance(r, dict) and isinstance(r.get("ranker"), str)
            and isinstance(r.get("attack"), str) and r.get("seed") in seeds for r in recs),
            f"run {i}: 'records' need ranker, attack and one of the seeds")
        for r in recs:
            for m in metrics:
                v = r.get(m)
                need(v is None or _FINITE.ok(v),
                     f"run {i}: metric {m!r} must be a finite number or null")
                r[m] = float("nan") if v is None else float(v)
            r.setdefault("scenario", opts["scenario"])
    return data


def select_metrics(baseline: dict, mode: str, margins=()) -> tuple[list[str], list[str]]:
    """The metrics ``check`` tests, and the default ones the baseline lacks (skipped).

    Default-gated metrics missing from an older baseline are skipped; a metric named
    in ``--margin`` must have been recorded. Every tested metric must still be
    declared with the direction it was recorded with.

    Raises
    ------
    GateError
        A ``--margin`` metric not in the baseline, or a changed direction.
    """
    recorded = baseline["metrics"]
    default = gated_metrics(mode)
    skipped = [m for m in default if m not in recorded]
    chosen = [m for m in default if m in recorded]
    for m in margins:
        if m not in recorded:
            raise GateError(f"--margin: metric {m!r} was not recorded in this baseline; "
                            "re-record it or leave it out.")
        if m not in chosen:
            chosen.append(m)
    for m in chosen:
        now = METRICS.get(m).greater_is_better
        if recorded[m]["greater_is_better"] != now:
            was = "higher" if recorded[m]["greater_is_better"] else "lower"
            raise GateError(f"--baseline: metric {m!r} was recorded as {was}-is-better but is now "
                            f"declared {'higher' if now else 'lower'}-is-better; re-record the "
                            "baseline.")
    return chosen, skipped


@dataclass(frozen=True)
class GateRow:
    """One test of the gate: a metric for one scenario x ranker x attack."""

    metric: str
    scenario: str
    ranker: str
    attack: str
    greater_is_better: bool
    margin_rule: str
    test: RegressionTest
    pvalue_adjusted: float
    verdict: str  # "ok", "REGRESSION" or "not tested"
    reason: str = ""
    detectable: float = float("nan")   # smallest degradation detected with power POWER

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(d.pop("test"))
        return d


def compare(before: list[dict], after: list[dict], metrics, *, margins: dict | None = None,
            paired: bool = True, method: str = "t", alpha: float = 0.05) -> list[GateRow]:
    """Test every metric of every scenario x ranker x attack cell of ``after``.

    Parameters
    ----------
    before, after : list of dict
        Per-seed records (``scenario``, ``ranker``, ``attack``, ``seed`` and metric
        values); ``before`` is the baseline (stored, or a reference ranker re-run
        under the same ranker label).
    metrics : sequence of str
        Gated metrics; directions come from their declarations in ``METRICS``.
    margins : dict, optional
        ``--margin`` overrides (see :func:`parse_margins`).
    paired : bool
        Pair by seed (only seeds present on both sides are used); otherwise Welch.
    method : {"t", "sign-flip"}
    alpha : float
        Family-wise error rate; Holm's correction runs over every test performed.

    Returns
    -------
    list of GateRow
        In the order of ``after``'s cells, metric by metric.
    """
    keys = ("scenario", "ranker", "attack")
    groups_b = {k: {r["seed"]: r for r in v} for k, v in group_by(before, *keys).items()}
    groups_a = {k: {r["seed"]: r for r in v} for k, v in group_by(after, *keys).items()}
    pending = []
    for key, recs_a in groups_a.items():
        recs_b = groups_b.get(key, {})
        if paired:
            seeds = [s for s in recs_a if s in recs_b]
            sb, sa = seeds, seeds
        else:
            sb, sa = list(recs_b), list(recs_a)
        for m in metrics:
            gib = METRICS.get(m).greater_is_better
            vb = np.array([recs_b[s].get(m, np.nan) for s in sb], np.float64)
            va = np.array([recs_a[s].get(m, np.nan) for s in sa], np.float64)
            rule = margin_for(m, margins)
            fin = vb[np.isfinite(vb)]
            margin = rule.resolve(float(fin.mean()) if fin.size else float("nan"))
            t = regression_test(vb, va, margin=margin, greater_is_better=gib, paired=paired,
                                method=method)
            pending.append((m, key, gib, rule.describe(), t, _one_sided(vb, va, paired),
                            _spread(vb, va, paired)))
    adj = holm([p[4].pvalue for p in pending])
    n_tests = int(np.count_nonzero(np.isfinite(adj)))
    rows = []
    for (m, (sc, ranker, attack), gib, rule, t, why, sd), pa in zip(pending, adj):
        verdict = ("REGRESSION" if why else "not tested" if np.isnan(pa)
                   else "REGRESSION" if pa < alpha else "ok")
        n = min(t.n_before, t.n_after)
        mdd = detectable_degradation(sd, n, margin=t.margin, alpha=alpha, tests=n_tests,
                                     paired=paired, power=POWER)
        rows.append(GateRow(m, sc, ranker, attack, gib, rule, t, float(pa), verdict, why, mdd))
    return rows


def _spread(vb: np.ndarray, va: np.ndarray, paired: bool) -> float:
    """The standard deviation the test's power rests on: of the per-seed differences when
    paired, else the pooled between-seed spread of the two sides."""
    if paired:
        keep = np.isfinite(vb) & np.isfinite(va)
        d = va[keep] - vb[keep]
        return float(d.std(ddof=1)) if d.size >= 2 else float("nan")
    sds = [x[np.isfinite(x)].std(ddof=1) for x in (vb, va) if np.isfinite(x).sum() >= 2]
    return float(np.sqrt(np.mean(np.square(sds)))) if len(sds) == 2 else float("nan")


def power_report(records: list[dict], metrics, *, alpha: float = 0.05,
                 margins: dict | None = None) -> list[dict]:
    """What a baseline can catch: per scenario x ranker x attack x metric, the smallest
    degradation a ``check`` on *fresh* seeds (as many as the baseline's) detects with power
    :data:`POWER` at ``alpha`` over all the tests (Holm's strictest level), from the only
    spread a baseline knows, the between-seed one; ``underpowered`` when that is more than
    twice the margin, with ``seeds_needed`` to bring it to twice the margin (or None
    beyond 1,000). A check on the baseline's own seeds, paired, usually does better."""
    keys = ("scenario", "ranker", "attack")
    cells = []
    for key, recs in group_by(records, *keys).items():
        for m in metrics:
            v = np.array([r.get(m, np.nan) for r in recs], np.float64)
            v = v[np.isfinite(v)]
            if v.size < 2:
                continue
            margin = margin_for(m, margins).resolve(float(v.mean()))
            cells.append((key, m, float(v.std(ddof=1)), int(v.size), margin))
    tests = len(cells)
    out = []
    for (sc, ranker, attack), m, sd, n, margin in cells:
        def mdd(k):
            return detectable_degradation(sd, k, margin=margin, alpha=alpha, tests=tests,
                                          paired=False, power=POWER)
        d = mdd(n)
        weak = d > 2 * margin + 1e-12
        need = None
        if weak:
            need = next((k for k in range(n + 1, 1001) if mdd(k) <= 2 * margin + 1e-12), None)
        out.append(dict(scenario=sc, ranker=ranker, attack=attack, metric=m, seeds=n, sd=sd,
                        margin=margin, detectable=d, underpowered=bool(weak),
                        seeds_needed=need))
    return out


def format_power(rows: list[dict], *, alpha: float = 0.05) -> str:
    """The power table of a baseline and, when some test is underpowered, a warning line."""
    head = ["metric", "ranker", "attack", "seeds", "between-seed sd", "margin", "detectable",
            ""]
    body = [[r["metric"], r["ranker"], r["attack"], str(r["seeds"]), _g(r["sd"]),
             _g(r["margin"]), _g(r["detectable"]),
             ("UNDERPOWERED" + (f" (about {r['seeds_needed']} seeds)" if r["seeds_needed"]
                                else " (more than 1,000 seeds)")) if r["underpowered"] else ""]
            for r in rows]
    text = format_rows(head, body, [
        f"detectable: the smallest degradation a check on fresh seeds (as many) catches with "
        f"probability {POWER:g} at alpha {alpha:g} over {len(rows)} tests (Holm's strictest "
        "level), from the between-seed spread — the only spread a baseline knows; a paired "
        "check on the baseline's own seeds usually does better. UNDERPOWERED: more than twice "
        "the margin."])
    weak = [r for r in rows if r["underpowered"]]
    if weak:
        need = [r["seeds_needed"] for r in weak]
        most = max(need) if all(need) else None
        text += (f"\nwarning: {len(weak)} of {len(rows)} tests cannot reliably catch a "
                 f"degradation of twice their margin with {rows[0]['seeds']} seeds"
                 + (f"; about {most} seeds would." if most else
                    "; no seed count up to 1,000 would (raise those margins)."))
    return text


def _one_sided(vb: np.ndarray, va: np.ndarray, paired: bool) -> str:
    """Why a metric defined on one side only fails the gate ('' when it does not).

    Paired: a seed whose value is defined (finite) on one side and not on the other,
    e.g. a detection precision that had bans to judge and now has none. Unpaired: one
    side defined in some seed, the other in none. NaN on both sides is undefined by
    definition (not tested, not a failure)."""
    fb, fa = np.isfinite(vb), np.isfinite(va)
    if paired:
        n = int(np.count_nonzero(fb != fa))
        return (f"defined on one side only in {n} of {fb.size} seeds (baseline "
                f"{int(fb.sum())}, current {int(fa.sum())})") if n else ""
    if fb.any() != fa.any():
        return (f"defined in {'the baseline' if fb.any() else 'the current run'} only "
                f"(baseline {int(fb.sum())} of {fb.size} seeds, current {int(fa.sum())} of "
                f"{fa.size})")
    return ""


def _g(x: float, signed: bool = False) -> str:
    if not math.isfinite(x):
        return "nan"
    return f"{x:+.4g}" if signed else f"{x:.4g}"


def _p(x: float) -> str:
    return "—" if not math.isfinite(x) else "<1e-4" if 0 < x < 1e-4 else f"{x:.3g}"


def format_check(rows: list[GateRow], *, alpha: float) -> str:
    """The before/after table, one row per test, and a legend."""
    multi = len({r.scenario for r in rows}) > 1
    head = ["metric", *(["scenario"] if multi else []), "ranker", "attack", "baseline",
            "current", "change", "margin", "detectable", "p", "adj. p", "verdict"]
    body = []
    for r in rows:
        t = r.test
        allowed = -t.margin if r.greater_is_better else t.margin
        body.append([f"{r.metric} {'↑' if r.greater_is_better else '↓'}",
                     *([r.scenario] if multi else []), r.ranker, r.attack, _g(t.mean_before),
                     _g(t.mean_after), _g(t.change, True), _g(allowed, True),
                     _g(-r.detectable if r.greater_is_better else r.detectable, True),
                     _p(t.pvalue),
                     _p(r.pvalue_adjusted), r.verdict + (f" ({r.reason})" if r.reason else "")])
    n = sum(1 for r in rows if r.verdict != "not tested")
    test = rows[0].test if rows else None
    how = ("exact sign-flip test" if test and test.method == "sign-flip" else
           "paired t-test" if not test or test.paired else "Welch t-test (different seeds)")
    return format_rows(head, body, [
        f"↑ higher is better, ↓ lower is better. change = current - baseline mean; margin = "
        f"the largest change in the worse direction tolerated. p: one-sided {how} of "
        f"H0 'worse by at most the margin' on per-seed values; adj. p: Holm over {n} tests; "
        f"REGRESSION when adj. p < {alpha:g}, or when the metric is defined on one side "
        "only (a NaN is 'undefined', see `boostbench list`). detectable: the smallest change "
        f"this test catches with probability {POWER:g} at these seeds (from the observed "
        "spread of the " + ("per-seed differences" if not test or test.paired else
                            "two sides") + "); a real change smaller than that may pass."])


def robustness_info(records: list[dict], metrics) -> dict:
    """Flat ``{"<ranker>/<attack>/<metric>": mean over seeds}`` for pytest-benchmark extra_info."""
    out: dict[str, float] = {}
    for (ranker, attack), recs in group_by(records, "ranker", "attack").items():
        for m in metrics:
            v = np.array([r.get(m, np.nan) for r in recs], np.float64)
            v = v[np.isfinite(v)]
            out[f"{ranker}/{attack}/{m}"] = float(v.mean()) if v.size else None
    return out


ALPHA = Interval(float, 0.0, 1.0, closed="neither")


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found: one row per test, notes, and how the comparison was made."""

    baseline: str
    baseline_manifest: dict
    scenarios: tuple
    modes: tuple
    seeds: tuple
    against: str
    alpha: float
    test: str
    paired: bool
    reference: str | None
    rows: list
    notes: list
    elapsed: float

    @property
    def regressions(self) -> list:
        return [r for r in self.rows if r.verdict == "REGRESSION"]

    @property
    def n_tested(self) -> int:
        return sum(1 for r in self.rows if r.verdict != "not tested")

    @property
    def passed(self) -> bool:
        return not self.regressions

    def to_dict(self) -> dict:
        return {"tests": [r.to_dict() for r in self.rows], "regressions": len(self.regressions)}


def check(baseline, *, seeds=None, margins: dict | None = None, reference: str | None = None,
          alpha: float = 0.05, test: str = "t", jobs: int | None = None,
          allow_code: bool = False, progress: bool = False, scheduler=None) -> CheckResult:
    """Re-run a baseline's matrix and test every gated metric for a regression beyond its margin.

    Everything is validated before any simulation runs.

    Parameters
    ----------
    baseline : path
        A file written by ``boostbench baseline`` (:func:`baseline_payload`).
    seeds : sequence of int, optional
        Seeds to re-run (default: the baseline's). Seeds the baseline has are
        compared paired; others unpaired unless ``reference`` is given.
    margins : dict, optional
        Overrides (:func:`parse_margins`).
    reference : str, optional
        A ranker spec re-run on the same seeds as the "before" side instead of the
        stored numbers.
    alpha : float in (0, 1)
        Family-wise error rate, Holm-corrected over every test.
    test : {"t", "sign-flip"}
    jobs : int, optional
        Parallel processes (default: min(seeds, cores)).
    allow_code : bool
        Let the baseline name code to import (``module:attr`` rankers, defences,
        attacks or scenarios). Off by default: a baseline is data (it arrives with a
        pull request) and resolves names only against the registries (built-ins and
        installed entry points); see :func:`code_in_baseline`.
    progress : bool
        Draw cells done on standard error.
    scheduler : str or distributed.Client, optional
        Run the seeds as Dask tasks.

    Raises
    ------
    GateError
        A bad baseline or option (one line naming it), before any simulation.
    """
    from . import runner
    base = load_baseline(baseline)
    code = code_in_baseline(base)
    if code and not allow_code:
        raise GateError(f"--baseline {baseline}: names code to import ({', '.join(code)}); a "
                        "baseline is data and resolves names only against the registries. "
                        "Register it as an entry point, or pass --allow-code if you trust this "
                        "file.")
    try:
        alpha = ALPHA.check("alpha", alpha, "check")
        test = Options(*REGRESSION_TESTS).check("test", test, "check")
        if jobs is not None:
            jobs = runner.JOBS.check("jobs", jobs, "check")
    except InvalidParameter as e:
        raise GateError(str(e)) from None
    margins = dict(margins or {})
    ref = None if reference is None else resolve_ranker(reference)
    plans = []
    for run in base["runs"]:
        o, man = run["options"], run["manifest"]
        run_seeds = tuple(seeds) if seeds is not None else tuple(man["seeds"])
        try:
            spec = runner.build_spec(scenario=o["scenario"], rankers=_split(o["rankers"]),
                                     attacks=_split(o["attacks"]), seeds=run_seeds,
                                     budget=float(o["budget"]), k=o["k"], size=o["size"],
                                     mode=o["mode"],
                                     world=tuple(map(tuple, o["world"])) if o.get("world")
                                     else None)
        except InvalidParameter as e:
            raise GateError(f"--baseline {baseline}: cannot rebuild its run here ({e})") from None
        now = spec.scenario.to_dict()
        diff = sorted(k for k in set(now) | set(man["scenario"])
                      if now.get(k) != man["scenario"].get(k))
        if diff:
            raise GateError(f"--baseline {baseline}: scenario {o['scenario']!r} differs from "
                            f"this boostbench's in {', '.join(diff)}; re-record the baseline.")
        metrics, skipped = select_metrics(base, spec.mode, margins)
        n_jobs = jobs or min(len(spec.seeds), os.cpu_count() or 1)
        plans.append((run, spec, n_jobs, metrics, skipped))
    paired = ref is not None or all(set(spec.seeds) <= set(run["manifest"]["seeds"])
                                    for run, spec, *_ in plans)
    if test == "sign-flip":
        if not paired:
            raise GateError("--test sign-flip needs paired seeds: the baseline's seeds (or a "
                            "subset) or --reference.")
        m = sum(len(ms) * len(sp.rankers) * len(sp.attacks) for _, sp, _, ms, _ in plans)
        n = min(len(sp.seeds) for _, sp, *_ in plans)
        if m / 2 ** n >= alpha:  # the smallest Holm-adjusted p-value the test can reach
            need = next(k for k in range(n, 64) if m / 2 ** k < alpha)
            raise GateError(f"--test sign-flip cannot fail with {n} seeds over {m} tests (its "
                            f"smallest Holm-adjusted p is {m}/2^{n} = {m / 2 ** n:.3g} >= alpha "
                            f"{alpha:g}); use --seeds {need} or more, or --test t.")

    started = time.perf_counter()
    before, after = [], []
    skipped = sorted({m for *_, sk in plans for m in sk})
    notes = [f"note: not in the baseline, so not tested: {', '.join(skipped)} (re-record to "
             "gate on them)."] if skipped else []
    for run, spec, n_jobs, _, _ in plans:
        sc = spec.scenario
        records, _ = runner.run_matrix(spec, jobs=n_jobs, progress=progress,
                                       scheduler=scheduler)
        if ref is None:
            before += [r for r in run["records"] if not paired or r["seed"] in spec.seeds]
        else:  # a run of its own: it may share a ranker's name, never its clean twin
            ref_records, _ = runner.run_matrix(replace(spec, rankers=(ref,)), jobs=n_jobs,
                                               progress=progress, scheduler=scheduler)
            for r in ref_records:
                r["scenario"] = sc.name
            before += [{**r, "ranker": name} for name in dict.fromkeys(x["ranker"] for x in records)
                       for r in ref_records]
        for r in records:
            r["scenario"] = sc.name
        after += records
        world_now = json.loads(json.dumps(_clean(sc.world_config().to_dict()), default=_default))
        if ref is None and world_now != run["manifest"].get("world"):
            notes.append(f"note: the world model of scenario {sc.name!r} differs from the "
                         "baseline's; stored numbers may not be comparable (re-record the "
                         "baseline, or pass --reference).")
    rows = compare(before, after, plans[0][3], margins=margins, paired=paired, method=test,
                   alpha=alpha)
    if not any(r.verdict != "not tested" for r in rows):
        raise GateError(f"--baseline {baseline}: nothing to compare (no ranker x attack of the "
                        "re-run matches the baseline's).")
    bman = base["manifest"]
    against = (f"reference {getattr(ref, 'name', reference)!r} ({reference}) re-run on the same "
               "seeds" if ref is not None else
               "the baseline's stored values, paired by seed" if paired else
               "the baseline's stored values on other seeds (unpaired)")
    if ref is None and bman.get("numpy") != np.__version__:
        notes.append(f"note: the baseline was recorded with numpy {bman.get('numpy')}, this is "
                     f"{np.__version__}; random streams may differ, pass --reference for a "
                     "paired re-run.")
    return CheckResult(
        baseline=str(baseline), baseline_manifest=bman,
        scenarios=tuple(p[1].scenario.name for p in plans),
        modes=tuple(dict.fromkeys(p[1].mode for p in plans)), seeds=tuple(plans[0][1].seeds),
        against=against, alpha=alpha, test=test, paired=paired, reference=reference, rows=rows,
        notes=notes, elapsed=time.perf_counter() - started)


def code_in_baseline(baseline: dict) -> list[str]:
    """The ``module:attr`` specs a loaded baseline's runs name (scenario, rankers and their
    defences, attacks): each would import and run code if resolved."""
    found = []
    for run in baseline["runs"]:
        o = run["options"]
        parts = [o["scenario"], *_split(o["attacks"])]
        parts += [p for spec in _split(o["rankers"]) for p in spec.split("+")]
        found += [p.strip() for p in parts if ":" in p]
    return list(dict.fromkeys(found))


def _split(names: str) -> list[str]:
    return [n.strip() for n in names.split(",") if n.strip()]
