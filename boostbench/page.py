"""The shareable report: a leaderboard of rankers and pipelines, the full table, the figures
and the manifest in one self-contained HTML page (or Markdown), from result files.

``boostbench report run.json [cost.json ...] [--trace t.csv] --out report.html`` (or
``report.md``). The leaderboard has one row per ranker or pipeline: the share of the
attacks whose targets reached the top k at the run's budget and the worst of them in
extra organic impressions (from ``run``), the clean feed quality and what its defences
cost honest content, and — when a ``cost`` file is given — the worst-case (cheapest)
cost to the top k over every attack, adaptive searches included. Figures are drawn with
the ``[plot]`` extra (embedded as data URIs in HTML; files beside a Markdown report) and
left out with a note without it. No network, no scripts, no timestamps.
"""

from __future__ import annotations

import base64
import html
import math
import tempfile
from pathlib import Path

from .errors import BoostbenchError
from .report import read_results

__all__ = ["leaderboard", "render", "write_report", "ReportError"]

#: The per-cell columns of the full table (from the run's summary).
CELL_METRICS = ("log_rank_lift", "reached_top_k", "extra_organic_impressions", "target_reach",
                "feed_quality")


class ReportError(BoostbenchError):
    """Result files that cannot make a report (one line naming the input)."""


def _mean(cell):
    v = cell.get("mean") if isinstance(cell, dict) else cell
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def leaderboard(runs: list[dict], costs: list[dict]) -> list[dict]:
    """One row per ranker or pipeline (see the module docstring): those no attack reached
    within the cost file's cap first, then by worst-case cost (dearest first), then those
    without a cost file's row; within each, by the share of attacks reached."""
    rows: dict[str, dict] = {}
    for data in runs:
        for r in data["summary"]:
            row = rows.setdefault(r["ranker"], {"ranker": r["ranker"], "cells": []})
            row["cells"].append(r)
    for row in rows.values():
        cells = row.pop("cells")
        reached = [_mean(c.get("reached_top_k")) for c in cells]
        reached = [x for x in reached if x is not None]
        extra = [(_mean(c.get("extra_organic_impressions")), c["attack"]) for c in cells]
        extra = [e for e in extra if e[0] is not None]
        quality = [_mean(c.get("clean_feed_quality")) for c in cells]
        quality = [q for q in quality if q is not None]
        removed = [_mean(c.get("organic_weight_removed")) for c in cells]
        removed = [x for x in removed if x is not None]
        row.update(attacks=len(cells),
                   reached=sum(reached) / len(reached) if reached else None,
                   worst_extra=max(extra) if extra else None,
                   clean_quality=sum(quality) / len(quality) if quality else None,
                   collateral=max(removed) if removed else None)
    for data in costs:
        cap = max(data["manifest"].get("budgets") or [0.0])
        for r in data["records"]:
            row = rows.setdefault(r["ranker"], {"ranker": r["ranker"], "attacks": 0,
                                                "reached": None, "worst_extra": None,
                                                "clean_quality": None, "collateral": None})
            cost = r.get("cost_to_top_k")
            best = row.get("cost")
            if cost is not None and (best is None or best[0] is None or cost < best[0]):
                row["cost"] = (cost, r["attack"])
            elif best is None:
                row["cost"] = (None, f"none within ${cap:g}")
    def order(r):
        cost = r.get("cost")
        group = 2 if cost is None else 0 if cost[0] is None else 1   # not reached, cost, no data
        return (group, -(cost[0] or 0.0) if group == 1 else 0.0,
                r["reached"] if r["reached"] is not None else math.inf, r["ranker"])
    return sorted(rows.values(), key=order)


def _fmt(x, digits=3) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}f}" if abs(x) < 1000 else f"{x:,.0f}"


def _cell(c) -> str:
    m = _mean(c)
    if m is None:
        return "—"
    lo, hi = c.get("low"), c.get("high")
    if c.get("n", 0) < 2 or lo is None or hi is None or math.isnan(lo):
        return f"{_fmt(m)} (1 seed)"
    return f"{_fmt(m)} ±{_fmt((hi - lo) / 2)}"


def _tables(runs, costs):
    """(title, header, rows, note) of every table of the report."""
    board = leaderboard(runs, costs)
    has_cost = any("cost" in r for r in board)
    head = ["ranker / pipeline", *(["worst-case cost to top k"] if has_cost else []),
            "attacks reaching top k", "worst extra organic impressions", "clean feed quality",
            "collateral (honest act weight removed)"]
    body = []
    for r in board:
        cost = r.get("cost")
        cost_s = ("—" if cost is None else f"{cost[1]}" if cost[0] is None
                  else f"${cost[0]:g} ({cost[1]})")
        worst = r["worst_extra"]
        body.append([r["ranker"], *([cost_s] if has_cost else []),
                     "—" if r["reached"] is None else f"{r['reached']:.0%} of {r['attacks']}",
                     "—" if worst is None else f"{_fmt(worst[0], 1)} ({worst[1]})",
                     _fmt(r["clean_quality"]), "—" if r["collateral"] is None
                     else f"{r['collateral']:.1%}"])
    out = [("Leaderboard", head, body,
            "Sorted by worst-case cost (not reached within the cap first, then dearest first; "
            "rankers without a cost row last), then by the share of attacks whose targets "
            "spent an hour or more in the top k at the run's budget. Collateral: the "
            "largest share of honest act weight the pipeline's defences removed on a clean twin.")]
    for data in runs:
        man = data["manifest"]
        cells = [[s["ranker"], s["attack"], *(_cell(s.get(m, {})) for m in CELL_METRICS)]
                 for s in data["summary"]]
        out.append((f"Every ranker × attack ({man.get('command')}, scenario "
                    f"{man.get('scenario', {}).get('name', '?')}, {len(man.get('seeds', []))} "
                    f"seeds)", ["ranker", "attack", *CELL_METRICS], cells,
                    "mean ±half-width of the 95% t interval over seeds."))
    return out


def _figures(paths, commands, trace, folder: Path) -> tuple[list[Path], str]:
    """Draw every figure the files (written by ``commands``) support into ``folder``;
    ``(paths, note)``."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return [], 'Figures need matplotlib: pip install "boostbench[plot]".'
    from .plot import plot_file
    drawn = []
    for i, (p, command) in enumerate(zip(paths, commands)):
        sub = folder / f"f{i}"
        sub.mkdir()
        drawn += plot_file(p, sub, trace=trace if command == "run" else None)
    return drawn, ""


def render(paths, *, trace=None, fmt: str = "html", figure_dir: Path | None = None) -> str:
    """The report of the result files at ``paths`` as HTML or Markdown text. Markdown
    figures are written into ``figure_dir`` (referenced by file name)."""
    datas = [read_results(p, "RESULTS", ("run", "cost", "sweep")) for p in paths]
    runs = [d for d in datas if d["manifest"]["command"] == "run"]
    costs = [d for d in datas if d["manifest"]["command"] == "cost"]
    if not runs and not costs:
        raise ReportError("RESULTS: a report needs the JSON of a run or a cost.")
    tables = _tables(runs, costs)
    with tempfile.TemporaryDirectory() as tmp:
        figs, note = _figures(paths, [d["manifest"]["command"] for d in datas], trace,
                              Path(tmp))
        images = []
        for f in figs:
            if fmt == "html":
                images.append((f.stem, "data:image/png;base64,"
                               + base64.b64encode(f.read_bytes()).decode("ascii")))
            else:
                target = figure_dir / f"{f.parent.name}_{f.name}"
                target.write_bytes(f.read_bytes())
                images.append((f.stem, f"{figure_dir.name}/{target.name}"))
    manifests = [(str(p), d["manifest"]) for p, d in zip(paths, datas)]
    return (_html if fmt == "html" else _markdown)(tables, images, note, manifests)


#: What each figure shows, by its file name.
CAPTIONS = {
    "outcomes": "Outcomes: extra organic impressions per target and target reach, per ranker "
                "and attack (run file).",
    "trajectories": "Trajectories: the targets' rank and cumulative organic impressions hour by "
                    "hour, attacked against the clean twin (the run's trace).",
    "robustness": "Robustness curves: success (an hour or more in the top k) and extra organic "
                  "impressions against the budget (cost or sweep file).",
    "pareto": "Cost against collateral: the cheapest attack to the top k against what the "
              "defences cost honest content (cost file).",
}


def _caption(name: str) -> str:
    return CAPTIONS.get(name, name)


def _manifest_lines(manifests) -> list[str]:
    out = []
    for path, m in manifests:
        sc = m.get("scenario", {})
        out.append(f"{path}: {m.get('command')} — scenario {sc.get('name')} v{sc.get('version')}, "
                   f"seeds {', '.join(map(str, m.get('seeds', [])))}; boostbench "
                   f"{m.get('version')}, numpy {m.get('numpy')}, scipy {m.get('scipy')}, python "
                   f"{m.get('python')}; schema {m.get('schema_version')}")
    return out


def _html(tables, images, note, manifests) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             "<title>boostbench report</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#111}"
             "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
             "td,th{border:1px solid #bbb;padding:3px 7px;text-align:left}"
             "th{background:#eee}img{max-width:100%}p.note{color:#444;font-size:13px}</style>",
             "</head>", "<body>", "<h1>boostbench report</h1>",
             "<p>How far bought engagement lifts low-quality posts under each ranker, what it "
             "costs the attacker, and what the defences cost honest content.</p>"]
    for title, head, body, foot in tables:
        parts += [f"<h2>{e(title)}</h2>", "<table>", "<thead><tr>"
                  + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead>", "<tbody>"]
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in body]
        parts += ["</tbody>", "</table>", f'<p class="note">{e(foot)}</p>']
    parts.append("<h2>Figures</h2>")
    if note:
        parts.append(f'<p class="note">{e(note)}</p>')
    parts += [f'<figure><img src="{src}" alt="{e(name)}"><figcaption>{e(_caption(name))}'
              "</figcaption></figure>" for name, src in images]
    parts += ["<h2>Manifest</h2>", "<ul>"]
    parts += [f"<li>{e(line)}</li>" for line in _manifest_lines(manifests)]
    parts += ["</ul>", "</body>", "</html>", ""]
    return "\n".join(parts)


def _markdown(tables, images, note, manifests) -> str:
    def row(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    parts = ["# boostbench report", "", "How far bought engagement lifts low-quality posts "
             "under each ranker, what it costs the attacker, and what the defences cost honest "
             "content.", ""]
    for title, head, body, foot in tables:
        parts += [f"## {title}", "", row(head), row(["---"] * len(head)),
                  *(row(r) for r in body), "", foot, ""]
    parts += ["## Figures", ""] + ([note, ""] if note else [])
    parts += [f"![{_caption(name)}]({src})" for name, src in images] + ["", "## Manifest", ""]
    parts += [f"- {line}" for line in _manifest_lines(manifests)] + [""]
    return "\n".join(parts)


def write_report(paths, out, *, trace=None) -> Path:
    """Write the report of ``paths`` to ``out`` (``.html`` or ``.md``; a Markdown report's
    figures go into the folder ``<name>_figures`` beside it)."""
    from .report import write_together
    out = Path(out)
    fmt = {".html": "html", ".htm": "html", ".md": "md"}.get(out.suffix.lower())
    if fmt is None:
        raise ReportError(f"--out: {str(out)!r} must end in .html or .md.")
    figure_dir = None
    if fmt == "md":
        figure_dir = out.with_name(out.stem + "_figures")
        figure_dir.mkdir(exist_ok=True)
    text = render(paths, trace=trace, fmt=fmt, figure_dir=figure_dir)
    write_together((out, lambda f: f.buffer.write(text.encode("utf-8"))))   # UTF-8 always
    return out
