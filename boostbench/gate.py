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

import importlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import BoostbenchError
from .plugins import METRICS, RANKERS
from .metrics.base import DEFAULT_MARGIN, Margin, table_columns
from .stats import RegressionTest, holm, regression_test

__all__ = ["GateError", "Margin", "margin_for",
           "parse_margins", "gated_metrics", "resolve_ranker", "baseline_payload",
           "load_baseline", "select_metrics", "GateRow", "compare", "format_check",
           "robustness_info", "FORMAT", "FORMAT_VERSION"]

FORMAT = "boostbench-baseline"
FORMAT_VERSION = 1


class GateError(BoostbenchError):
    """A bad baseline file or gate option; the message is one line naming the input."""


def margin_for(metric: str, overrides: dict | None = None) -> Margin:
    """The margin of ``metric``: an override, else its declaration (:class:`Metric.margin`),
    else :data:`~boostbench.metrics.base.DEFAULT_MARGIN` (10%, no floor)."""
    if overrides and metric in overrides:
        return overrides[metric]
    if metric in METRICS.names():
        return getattr(METRICS.get(metric), "margin", DEFAULT_MARGIN)
    return DEFAULT_MARGIN


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


def _import_spec(spec: str, option: str):
    """``module:attr`` -> the attribute, by import and ``getattr`` (never ``eval``)."""
    mod, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(mod)
    except Exception as e:  # noqa: BLE001  (any import-time failure of user code)
        raise GateError(f"{option} {spec!r}: cannot import {mod!r} ({_one_line(e)}).") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise GateError(f"{option} {spec!r}: {mod!r} has no attribute {attr!r}.")
        obj = getattr(obj, part)
    return obj


def _is_ranker(obj) -> bool:
    return callable(obj) and not isinstance(obj, type) and isinstance(getattr(obj, "name", None),
                                                                      str)


def resolve_ranker(spec: str, *, option: str = "--reference"):
    """A ranker from a registered name or ``module:attr``.

    ``module:attr`` is imported with :func:`importlib.import_module` and looked up
    with ``getattr`` (dotted attributes allowed) — never evaluated. As with the
    registry, the attribute is a factory called without arguments (a class, or a
    function returning a ranker); an object that already is a ranker (callable,
    with a string ``name``) is used as it is. This resolves ``module:attr`` itself
    so the gate does not depend on the registry doing it; once
    ``RANKERS.get("mypkg:MyRanker")`` is the one way to resolve specs, this can
    delegate to it.

    Raises
    ------
    GateError
        One line naming ``option`` when the spec is malformed, the import fails or
        the result is not a ranker (a callable with a string ``name``).
    """
    spec = spec.strip()
    mod, sep, attr = spec.partition(":")
    ident = lambda s: bool(s) and all(p.isidentifier() for p in s.split("."))  # noqa: E731
    if not sep:
        if spec not in RANKERS.names():
            raise GateError(f"{option} must be a registered ranker ({', '.join(RANKERS.names())})"
                            f" or module:attr, e.g. mypkg.ranking:MyRanker. Got {spec!r}.")
        factory = RANKERS.get(spec)
    elif ident(mod) and ident(attr):
        factory = _import_spec(spec, option)
    else:
        raise GateError(f"{option} must be a registered ranker ({', '.join(RANKERS.names())}) "
                        f"or module:attr, e.g. mypkg.ranking:MyRanker. Got {spec!r}.")
    obj = factory
    if not _is_ranker(obj) and callable(obj):
        try:
            obj = factory()
        except Exception as e:  # noqa: BLE001  (user code)
            raise GateError(f"{option} {spec!r}: calling it without arguments to make the ranker "
                            f"failed ({_one_line(e)}).") from None
    if not _is_ranker(obj):
        raise GateError(f"{option} {spec!r} must be a ranker: a callable Observation -> scores "
                        "with a string 'name', or a class/function making one without "
                        "arguments.")
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
            "margins": {n: asdict(margin_for(n)) for n in METRICS.names()}}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "manifest": top_manifest,
            "metrics": metrics, "gate": gate, "runs": runs}


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
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise GateError(f"--baseline: {str(path)!r} is not valid JSON ({e.msg} at line "
                        f"{e.lineno}).") from None
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
                need(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)),
                     f"run {i}: metric {m!r} must be a number or null")
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

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(d.pop("test"))
        return d


def _key(r) -> tuple:
    return (r.get("scenario", ""), r["ranker"], r["attack"])


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
    groups_b: dict[tuple, dict[int, dict]] = {}
    for r in before:
        groups_b.setdefault(_key(r), {})[r["seed"]] = r
    groups_a: dict[tuple, dict[int, dict]] = {}
    for r in after:
        groups_a.setdefault(_key(r), {})[r["seed"]] = r
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
            pending.append((m, key, gib, rule.describe(), t))
    adj = holm([t.pvalue for *_, t in pending])
    rows = []
    for (m, (sc, ranker, attack), gib, rule, t), pa in zip(pending, adj):
        verdict = "not tested" if np.isnan(pa) else "REGRESSION" if pa < alpha else "ok"
        rows.append(GateRow(m, sc, ranker, attack, gib, rule, t, float(pa), verdict))
    return rows


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
            "current", "change", "margin", "p", "adj. p", "verdict"]
    body = []
    for r in rows:
        t = r.test
        allowed = -t.margin if r.greater_is_better else t.margin
        body.append([f"{r.metric} {'↑' if r.greater_is_better else '↓'}",
                     *([r.scenario] if multi else []), r.ranker, r.attack, _g(t.mean_before),
                     _g(t.mean_after), _g(t.change, True), _g(allowed, True), _p(t.pvalue),
                     _p(r.pvalue_adjusted), r.verdict])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    def fmt(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    n = sum(1 for r in rows if r.verdict != "not tested")
    test = rows[0].test if rows else None
    how = ("exact sign-flip test" if test and test.method == "sign-flip" else
           "paired t-test" if not test or test.paired else "Welch t-test (different seeds)")
    lines = [fmt(head), fmt(["-" * w for w in widths]), *map(fmt, body),
             f"↑ higher is better, ↓ lower is better. change = current - baseline mean; margin = "
             f"the largest change in the worse direction tolerated. p: one-sided {how} of "
             f"H0 'worse by at most the margin' on per-seed values; adj. p: Holm over {n} tests; "
             f"REGRESSION when adj. p < {alpha:g}."]
    return "\n".join(lines)


def robustness_info(records: list[dict], metrics) -> dict:
    """Flat ``{"<ranker>/<attack>/<metric>": mean over seeds}`` for pytest-benchmark extra_info."""
    out: dict[str, float] = {}
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["ranker"], r["attack"]), []).append(r)
    for (ranker, attack), recs in groups.items():
        for m in metrics:
            v = np.array([r.get(m, np.nan) for r in recs], np.float64)
            v = v[np.isfinite(v)]
            out[f"{ranker}/{attack}/{m}"] = float(v.mean()) if v.size else None
    return out
