"""Summaries across seeds, the printed table, and result files written atomically."""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

from .errors import InvalidParameter, OutputError
from .plugins import METRICS
from .stats import t_interval

__all__ = ["group_by", "format_rows", "summarize", "format_table", "write_json_atomic",
           "write_csv_atomic", "manifest", "summarize_cost", "format_cost_table",
           "format_sweep_table"]


def group_by(records: list[dict], *keys) -> dict[tuple, list[dict]]:
    """Records grouped by the values of ``keys`` (a missing key counts as ""), groups in the
    order their first record appears."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault(tuple(r.get(k, "") for k in keys), []).append(r)
    return groups


def format_rows(head: list, body: list[list], notes=(), style: str = "table") -> str:
    """A table: a header, a rule, columns, then note lines. ``style`` "table" aligns plain
    text; "md" writes a Markdown (GitHub) table, the notes as paragraphs after it."""
    if style == "md":
        def row(cells):
            return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
        return "\n".join([row(head), row(["---"] * len(head)), *map(row, body),
                          *(["", *notes] if notes else [])])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]

    def fmt(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([fmt(head), fmt(["-" * w for w in widths]), *map(fmt, body), *notes])


def summarize(records: list[dict], metrics, *, confidence: float = 0.95) -> list[dict]:
    """Per ranker x attack: mean and t interval across seeds of each metric (and spend).

    Each record already averages its targets, so the seed is the unit of replication.
    """
    rows = []
    for (ranker, attack), recs in group_by(records, "ranker", "attack").items():
        row = {"ranker": ranker, "attack": attack, "n_seeds": len(recs)}
        for m in ("spend", *metrics):
            row[m] = t_interval([r[m] for r in recs], confidence).to_dict()
        rows.append(row)
    return rows


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "nan"
    a = abs(x)
    return f"{x:.3f}" if a < 10 else f"{x:.1f}" if a < 1000 else f"{x:.0f}"


def format_table(rows: list[dict], metrics, directions=None, style: str = "table") -> str:
    """A table (plain text, or Markdown with ``style="md"``): one row per ranker x attack,
    ``mean ±half-width`` per column.

    ``directions`` maps columns that are not registered metrics to
    ``greater_is_better`` (for the legend).
    """
    directions = {**(directions or {}), **{m: METRICS.get(m).greater_is_better
                                           for m in metrics if m in METRICS}}
    cols = ["spend", *metrics]
    head = ["ranker", "attack", *cols]
    body, saturated, partial = [], [], False
    ceilings = {m: METRICS.get(m).saturated_at for m in metrics
                if m in METRICS and METRICS.get(m).saturated_at is not None}
    for row in rows:
        hit = [m for m, at in ceilings.items() if row[m]["mean"] >= at]
        saturated += hit
        cells = [row["ranker"], row["attack"] + (" *" if hit else "")]
        for c in cols:
            iv = row[c]
            half = (iv["high"] - iv["low"]) / 2
            used = iv.get("n", row["n_seeds"])
            few = 0 < used < row["n_seeds"]
            partial |= few
            spread = "(1 seed)" if used == 1 else f"±{_fmt(half)}"
            cells.append(f"{_fmt(iv['mean'])} {spread}"
                         + (f" [{used}/{row['n_seeds']}]" if few else ""))
        body.append(cells)
    arrows = ", ".join(f"{m} {'↑' if directions[m] else '↓'}" for m in metrics if m in directions)
    seeds = sorted({row["n_seeds"] for row in rows}) or [0]
    n = "/".join(map(str, seeds))
    conf = rows[0][cols[0]]["confidence"] if rows else 0.95
    notes = [f"mean ±half-width of the {conf:.0%} t interval over {n} seeds (targets "
             f"averaged within a seed). Better for the ranker: {arrows}."]
    if partial:
        notes.append("[n/N]: the interval uses n of the row's N seeds; the metric is NaN "
                     "(undefined) in the others. nan: undefined in every seed.")
    for m in dict.fromkeys(saturated):
        notes.append(f"* saturated: {m} >= {ceilings[m]:g}; the world, not the ranker, caps "
                     f"this row's outcomes (use a larger --scenario).")
    return format_rows(head, body, notes, style=style)


def summary_csv(rows: list[dict], metrics) -> str:
    """The summary as CSV: ranker, attack, seeds, then mean, low, high and n per metric."""
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ["spend", *metrics]
    w.writerow(["ranker", "attack", "n_seeds",
                *[f"{m}_{part}" for m in cols for part in ("mean", "low", "high", "n")]])
    for r in rows:
        w.writerow([r["ranker"], r["attack"], r["n_seeds"],
                    *[_csv_num(r[m].get(part)) for m in cols for part in
                      ("mean", "low", "high", "n")]])
    return buf.getvalue().rstrip("\n")


def _csv_num(x):
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def _default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o):
    """Replace NaN/inf by None so the file is strict JSON."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def check_target(path) -> None:
    """Refuse an output path that is not a regular file or a new name: a symlink, a folder,
    a FIFO or a device would be replaced by a regular file (or block the run), never written
    through. Raises :class:`~boostbench.errors.InvalidParameter` naming the path."""
    p = Path(path)
    if p.is_symlink():
        raise InvalidParameter(f"{str(p)!r} is a symbolic link; write to its target or a new "
                               "file.", name="path")
    if p.exists() and not p.is_file():
        raise InvalidParameter(f"{str(p)!r} exists and is not a regular file.", name="path")


def write_together(*files) -> None:
    """Write ``(path, write)`` pairs together or not at all.

    Each ``write(file)`` fills a temporary file in its path's folder, which is flushed
    to disk (fsync) before anything is renamed; only when every file is complete are
    they renamed onto their paths. A failure (or Ctrl-C) before that leaves no file
    and no temporary file behind.
    """
    for path, _ in files:
        check_target(path)
    temps = []
    try:
        for path, write in files:
            path = Path(path)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                       dir=path.parent or ".")
            temps.append((tmp, path))
            with os.fdopen(fd, "w", newline="") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        umask = os.umask(0)   # mkstemp makes 0600 files; give the results the usual mode
        os.umask(umask)
        for tmp, path in temps:
            os.chmod(tmp, 0o666 & ~umask)
        for tmp, path in temps:
            os.replace(tmp, path)
    except OSError as e:
        where = temps[-1][1] if temps else Path(files[0][0])
        raise OutputError(f"cannot write {str(where)!r}: {e.strerror or e}; no result file "
                          "was written.") from None
    finally:
        for tmp, _ in temps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def json_writer(payload: dict):
    """A ``write(file)`` of strict JSON (NaN -> null), for :func:`write_together`."""
    def write(f):
        json.dump(_clean(payload), f, indent=1, default=_default, allow_nan=False)
        f.write("\n")
    return write


def csv_writer(rows: list[dict]):
    """A ``write(file)`` of rows (dicts with the same keys) as CSV, for :func:`write_together`."""
    def write(f):
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        w.writeheader()
        w.writerows(rows)
    return write


def write_json_atomic(path, payload: dict) -> None:
    """Write strict JSON (NaN -> null) atomically."""
    write_together((path, json_writer(payload)))


def write_csv_atomic(path, rows: list[dict]) -> None:
    """Write rows (dicts with the same keys) as CSV atomically."""
    write_together((path, csv_writer(rows)))


#: Version of the result files' layout (``manifest.schema_version``): bumped when a reader of
#: an older file would misread it. ``plot`` and ``merge`` refuse other versions.
SCHEMA_VERSION = 1


def manifest(**extra) -> dict:
    """Package and platform versions, the result files' schema version, and whatever
    configuration the caller adds."""
    from . import __version__
    import scipy
    return {"package": "boostbench", "version": __version__, "schema_version": SCHEMA_VERSION,
            "python": sys.version.split()[0],
            "numpy": np.__version__, "scipy": scipy.__version__, "platform": platform.platform(),
            **extra}


def read_results(path, option: str = "RESULTS", commands=None) -> dict:
    """A result file written by boostbench with ``--json``, checked: JSON with a manifest of
    this :data:`SCHEMA_VERSION` (and, given ``commands``, written by one of them). Raises
    :class:`InvalidParameter` naming ``option`` otherwise."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise InvalidParameter(f"{option}: cannot read {str(path)!r} as JSON "
                               f"({type(e).__name__}).", name=option) from None
    man = data.get("manifest") if isinstance(data, dict) else None
    if not isinstance(man, dict):
        raise InvalidParameter(f"{option}: {str(path)!r} is not a boostbench result file (no "
                               "manifest).", name=option)
    got = man.get("schema_version")
    if got != SCHEMA_VERSION:
        was = ("an older boostbench (no schema version)" if got is None
               else f"schema version {got!r}")
        raise InvalidParameter(f"{option}: {str(path)!r} was written by {was}; this boostbench "
                               f"reads schema version {SCHEMA_VERSION}. Re-run the command "
                               "that made it.", name=option)
    if commands is not None and man.get("command") not in commands:
        raise InvalidParameter(f"{option}: {str(path)!r} was written by "
                               f"{man.get('command')!r}; expected the JSON of "
                               f"{' or '.join(commands)}.", name=option)
    return data


def summarize_cost(records: list[dict], *, threshold: float = 0.5) -> list[dict]:
    """Per ranker x attack: the success curve over the budget grid, cost to the goal, fraud CPM.

    ``cost_to_top_k`` (for a ``demote`` attack: the cost to at least double the
    good targets' rank) is censored (None) when not reached within the grid;
    ``fraud_cpm`` is dollars per 1,000 extra organic impressions of the targets at
    that budget, or at the cap when the goal was not reached (mean spend over mean
    extra impressions across seeds; None when the campaign bought none).
    """
    from .metrics.cost import cost_to_top_k, fraud_cpm, success_curve
    rows = []
    for (ranker, attack), recs in group_by(records, "ranker", "attack").items():
        budgets = sorted({r["budget"] for r in recs})
        seeds = sorted({r["seed"] for r in recs})
        cell = {(r["seed"], r["budget"]): r for r in recs}
        succ = [[cell[s, b]["success"] for b in budgets] for s in seeds]
        curve = success_curve(budgets, succ)
        cost, lo, hi = cost_to_top_k(curve, threshold=threshold)
        at = cost if cost is not None else budgets[-1]
        spend = float(np.mean([cell[s, at]["spend"] for s in seeds]))
        extra = float(np.mean([cell[s, at]["extra_organic_impressions_total"] for s in seeds]))
        reach = np.array([cell[s, at].get("target_reach", np.nan) for s in seeds], float)
        reach = float(np.nanmean(reach)) if np.isfinite(reach).any() else float("nan")
        ceiling = METRICS.get("target_reach").saturated_at
        first = recs[0]
        rows.append({"ranker": ranker, "attack": attack, "goal": first["goal"],
                     "knowledge": first["knowledge"], "k": first.get("k"), "cap": budgets[-1],
                     "cost_to_top_k": cost, "ci_low": lo, "ci_high": hi,
                     "fraud_cpm": fraud_cpm(spend, extra), "cpm_budget": at,
                     "cpm_target_reach": reach,
                     "cpm_saturated": bool(ceiling is not None and reach >= ceiling),
                     "shadow_priced": bool(first["shadow_priced"]), "curve": curve.to_dict(),
                     "rank_lift_by_budget": [float(np.mean([cell[s, b]["rank_lift"]
                                                            for s in seeds])) for b in budgets],
                     "log_rank_lift_by_budget": [float(np.mean([cell[s, b]["log_rank_lift"]
                                                                for s in seeds]))
                                                 for b in budgets],
                     **{c: float(np.mean([r[c] for r in recs])) for c in _COLLATERAL
                        if c in first},
                     "scorer": first.get("scorer", ranker),
                     "defences": list(first.get("defences", []))})
    return rows


def _money(x) -> str:
    return "not reached" if x is None else f"${x:,.2f}"


_COLLATERAL = ("organic_weight_removed", "honest_demoted", "clean_quality_ndcg_drop")


def _cheapest(rows, ranker):
    """(cost, attack) of the cheapest promote attack that reached the top k (None: censored)."""
    mine = [r for r in rows if r["ranker"] == ranker and r["goal"] == "promote"]
    reached = [r for r in mine if r["cost_to_top_k"] is not None]
    if not reached:
        return None, max((r["cap"] for r in mine), default=0.0)
    best = min(reached, key=lambda r: r["cost_to_top_k"])
    return best["cost_to_top_k"], best["attack"]


def format_cost_table(rows: list[dict]) -> str:
    """Cost to the top k and fraud CPM per ranker x attack, then the cheapest attack per ranker."""
    head = ["ranker", "attack", "knowledge", "cost_to_top_k [95% CI]", "fraud_cpm", "success@cap"]
    body = []
    for r in rows:
        ci = f"[{_money(r['ci_low'])}, {_money(r['ci_high'])}]"
        goal = " (sink)" if r["goal"] == "demote" else ""
        body.append([r["ranker"], r["attack"] + goal + (" *" if r["shadow_priced"] else ""),
                     r["knowledge"], f"{_money(r['cost_to_top_k'])} {ci}",
                     "—" if r["fraud_cpm"] is None else f"${r['fraud_cpm']:,.2f}"
                     + (" sat." if r.get("cpm_saturated") else ""),
                     f"{r['curve']['success'][-1]:.2f}"])
    lines = [format_rows(head, body)]
    lines.append("cheapest attack to the top k (the worst case over every attack above), per "
                 "ranker, next to what its defences cost honest content:")
    rankers = list(dict.fromkeys(r["ranker"] for r in rows))
    for ranker in rankers:
        cost, what = _cheapest(rows, ranker)
        text = (f"{what} at {_money(cost)}" if cost is not None
                else f"none reached the top k within the ${what:g} cap")
        first = next(r for r in rows if r["ranker"] == ranker)
        if first.get("defences"):
            base_cost, _ = _cheapest(rows, first["scorer"]) if first["scorer"] in rankers else (
                None, None)
            if first["scorer"] in rankers:
                text += f" (bare {first['scorer']}: {_money(base_cost)})"
            text += (f"; collateral: organic weight removed "
                     f"{first.get('organic_weight_removed', 0.0):.1%}, honest top-k demoted "
                     f"{first.get('honest_demoted', 0.0):.0%}, clean NDCG drop "
                     f"{first.get('clean_quality_ndcg_drop', 0.0):+.3f}")
        lines.append(f"  {ranker}: {text}")
    lines.append("cost_to_top_k: cheapest grid budget at which a target reaches the top k "
                 "(reached_top_k: at least an hour in it, at any time in the horizon) with "
                 "probability >= 1/2 (sink: its rank at least doubles by the end of the attack "
                 "window); fraud_cpm: $ per 1,000 extra organic impressions at that budget (or "
                 "the cap); sat.: the targets reached half the active accounts there, so the "
                 "world's size capped their impressions and the CPM is an upper bound. "
                 "* shadow-priced ring.")
    return "\n".join(lines)


def format_sweep_table(rows: list[dict]) -> str:
    """Success probability and mean rank lift against budget (a robustness curve per row)."""
    budgets = rows[0]["curve"]["budgets"] if rows else []
    head = ["ranker", "attack"] + [f"${b:g}" for b in budgets]
    body = []
    for r in rows:
        cells = [f"{s:.2f} / {lift:+.2f}" for s, lift in zip(r["curve"]["success"],
                                                              r["log_rank_lift_by_budget"])]
        body.append([r["ranker"], r["attack"], *cells])
    return format_rows(head, body, ["cell: success probability (reached_top_k: at least an hour "
                                    "in the top k at any time in the horizon; sink: rank at "
                                    "least doubled by the end of the attack window) / mean "
                                    "log_rank_lift (1 = rank halved), over seeds."])
