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

from .plugins import METRICS
from .stats import t_interval

__all__ = ["summarize", "format_table", "write_json_atomic", "write_csv_atomic", "manifest"]


def summarize(records: list[dict], metrics, *, confidence: float = 0.95) -> list[dict]:
    """Per ranker x attack: mean and t interval across seeds of each metric (and spend).

    Each record already averages its targets, so the seed is the unit of replication.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["ranker"], r["attack"]), []).append(r)
    rows = []
    for (ranker, attack), recs in groups.items():
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


def format_table(rows: list[dict], metrics) -> str:
    """A plain-text table: one row per ranker x attack, ``mean ±half-width`` per column."""
    cols = ["spend", *metrics]
    head = ["ranker", "attack", *cols]
    body = []
    for row in rows:
        cells = [row["ranker"], row["attack"]]
        for c in cols:
            iv = row[c]
            half = (iv["high"] - iv["low"]) / 2
            cells.append(f"{_fmt(iv['mean'])} ±{_fmt(half)}")
        body.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(head, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths)) for cells in body]
    arrows = ", ".join(f"{m} {'↑' if METRICS.get(m).greater_is_better else '↓'}"
                       for m in metrics if m in METRICS)
    n = rows[0]["n_seeds"] if rows else 0
    conf = rows[0][cols[0]]["confidence"] if rows else 0.95
    lines.append(f"mean ±half-width of the {conf:.0%} t interval over {n} seeds (targets "
                 f"averaged within a seed). Better for the ranker: {arrows}.")
    return "\n".join(lines)


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


def _write_atomic(path, write) -> None:
    """Call ``write(file)`` on a temporary file in ``path``'s folder, then rename it to ``path``.

    A failure at any point leaves no partial file behind.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json_atomic(path, payload: dict) -> None:
    """Write strict JSON (NaN -> null) atomically."""
    def write(f):
        json.dump(_clean(payload), f, indent=1, default=_default, allow_nan=False)
        f.write("\n")
    _write_atomic(path, write)


def write_csv_atomic(path, rows: list[dict]) -> None:
    """Write rows (dicts with the same keys) as CSV atomically."""
    def write(f):
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        w.writeheader()
        w.writerows(rows)
    _write_atomic(path, write)


def manifest(**extra) -> dict:
    """Package and platform versions plus whatever configuration the caller adds."""
    from . import __version__
    import scipy
    return {"package": "boostbench", "version": __version__, "python": sys.version.split()[0],
            "numpy": np.__version__, "scipy": scipy.__version__, "platform": platform.platform(),
            **extra}
