"""Figures from result files: what a ranking engineer wants to see rather than read.

``boostbench plot RESULTS.json --out DIR`` (matplotlib, the ``[plot]`` extra):

- from ``run --json`` (and its ``--trace`` CSV): ``outcomes.png``, extra organic
  impressions and reach per ranker x attack with their 95% intervals;
  ``trajectories.png``, the targets' rank and organic impressions per hour, attacked
  against clean (needs the trace);
- from ``cost --json`` or ``sweep --json``: ``robustness.png``, success probability
  (``reached_top_k``) and extra organic impressions against budget, one line per ranker,
  a panel per attack, with intervals; from ``cost``, ``pareto.png``, the worst-case
  cost to the top k against what the defences cost honest content, one point per
  ranker or pipeline.

Files are deterministic (no timestamps or version strings in their metadata), axes carry
units, and lines differ by style and marker as well as shade, so they read in greyscale.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .errors import BoostbenchError, InvalidParameter
from .report import read_results

__all__ = ["plot_file", "PlotError"]

_STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1)), "v"),
           ((0, (1, 1)), "P"), ((0, (3, 1, 1, 1, 1, 1)), "X"), ((0, (8, 2)), "*")]
_SHADES = ["#000000", "#555555", "#888888", "#222222", "#777777", "#444444", "#999999",
           "#333333"]
_METADATA = {"Software": None}      # PNG: no version string, no time (deterministic files)


class PlotError(BoostbenchError):
    """A result file that cannot be plotted (one line naming it)."""


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlotError('plotting needs matplotlib: pip install "boostbench[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.hashsalt": "boostbench", "font.size": 9})
    return plt


def _style(i: int) -> dict:
    ls, marker = _STYLES[i % len(_STYLES)]
    return {"linestyle": ls, "marker": marker, "color": _SHADES[i % len(_SHADES)],
            "markersize": 4, "linewidth": 1.2}


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    try:
        fig.savefig(tmp, format="png", dpi=110, metadata=_METADATA, bbox_inches="tight")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _load(path) -> dict:
    try:
        return read_results(path)
    except InvalidParameter as e:
        raise PlotError(str(e)) from None


def plot_file(results, out_dir, *, trace=None) -> list[Path]:
    """Draw every figure a result file supports into ``out_dir``; returns the paths.

    Parameters
    ----------
    results : path
        JSON written by ``run``, ``sweep`` or ``cost`` with ``--json``.
    out_dir : path
        An existing folder.
    trace : path, optional
        The ``--trace`` CSV of the same ``run`` (for ``trajectories.png``).
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise PlotError(f"--out: {str(out_dir)!r} is not an existing folder.")
    data = _load(results)
    command = data["manifest"].get("command")
    if command not in ("run", "sweep", "cost"):
        raise PlotError(f"RESULTS: {str(results)!r} was written by {command!r}; plot reads the "
                        "JSON of run, sweep or cost.")
    if trace is not None and command != "run":
        raise PlotError("--trace goes with the JSON of a run.")
    rows = None if trace is None else _read_trace(trace)     # every input read before drawing
    plt = _pyplot()
    try:
        if command == "run":
            paths = [outcomes(plt, data, out / "outcomes.png")]
            if rows is not None:
                paths.append(trajectories(plt, rows, out / "trajectories.png"))
            return paths
        paths = [robustness(plt, data, out / "robustness.png")]
        if command == "cost":
            paths.append(pareto(plt, data, out / "pareto.png"))
        return paths
    finally:
        plt.close("all")


def outcomes(plt, data: dict, path: Path) -> Path:
    """Extra organic impressions and target reach per ranker x attack, with 95% intervals."""
    rows = data.get("summary") or []
    if not rows:
        raise PlotError("RESULTS: the run file has no summary rows.")
    rankers = list(dict.fromkeys(r["ranker"] for r in rows))
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    cell = {(r["ranker"], r["attack"]): r for r in rows}
    metrics = [(m, label) for m, label in (
        ("extra_organic_impressions", "extra organic impressions per target"),
        ("target_reach", "target reach (share of active accounts)")) if m in rows[0]]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 0.45 * len(rankers)
                                                           * len(attacks) ** 0.5 + 1.6),
                             squeeze=False, sharey=True)
    y = np.arange(len(rankers))
    h = 0.8 / len(attacks)
    for ax, (m, label) in zip(axes[0], metrics):
        for j, attack in enumerate(attacks):
            iv = [cell.get((rk, attack), {}).get(m) or {} for rk in rankers]
            mean = np.array([v.get("mean", np.nan) if v else np.nan for v in iv], float)
            lo = np.array([v.get("low", np.nan) if v else np.nan for v in iv], float)
            hi = np.array([v.get("high", np.nan) if v else np.nan for v in iv], float)
            err = np.vstack([np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)])
            ax.barh(y + (j - (len(attacks) - 1) / 2) * h, mean, height=h * 0.9, xerr=err,
                    color=_SHADES[j % len(_SHADES)], hatch=["", "//", "..", "xx"][j % 4],
                    edgecolor="black", linewidth=0.4, ecolor="black", capsize=1.5,
                    label=attack)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_xlabel(label)
        ax.grid(axis="x", linewidth=0.3)
    axes[0][0].set_yticks(y, rankers)
    axes[0][0].invert_yaxis()
    axes[0][-1].legend(title="attack", fontsize=7, loc="lower right")
    man = data["manifest"]
    fig.suptitle(f"{man.get('command')} — scenario {man.get('scenario', {}).get('name', '?')}, "
                 f"${man.get('scenario', {}).get('budget', '?')} per campaign, "
                 f"{len(man.get('seeds', []))} seeds (bars: mean, whiskers: 95% t interval)",
                 fontsize=9)
    return _save(fig, path)


def _read_trace(path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise PlotError(f"--trace: cannot read {str(path)!r} ({type(e).__name__}).") from None
    need = {"ranker", "attack", "seed", "hours", "target_rank", "clean_target_rank",
            "target_impressions", "clean_target_impressions"}
    if not rows or not need <= set(rows[0]):
        raise PlotError(f"--trace: {str(path)!r} is not a boostbench trace (columns "
                        f"{', '.join(sorted(need))}).")
    return rows


def trajectories(plt, rows: list[dict], path: Path) -> Path:
    """Mean target rank and cumulative organic impressions per hour, attacked vs clean."""
    from matplotlib.ticker import NullFormatter
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    rankers = list(dict.fromkeys(r["ranker"] for r in rows))
    fig, axes = plt.subplots(2, len(attacks), figsize=(4.2 * len(attacks), 6.4), squeeze=False,
                             sharex=True)
    for j, attack in enumerate(attacks):
        for i, ranker in enumerate(rankers):
            mine = [r for r in rows if r["attack"] == attack and r["ranker"] == ranker]
            if not mine:
                continue
            hours = sorted({float(r["hours"]) for r in mine})
            idx = {h: k for k, h in enumerate(hours)}
            n_seeds = len({r["seed"] for r in mine})
            acc = {c: np.zeros(len(hours)) for c in ("target_rank", "clean_target_rank",
                                                     "target_impressions",
                                                     "clean_target_impressions")}
            for r in mine:
                for c in acc:
                    acc[c][idx[float(r["hours"])]] += float(r[c]) / n_seeds
            st = _style(i)
            axes[0][j].plot(hours, acc["target_rank"], label=ranker, markevery=8, **st)
            axes[1][j].plot(hours, np.cumsum(acc["target_impressions"]), markevery=8, **st)
            clean = {**st, "linestyle": ":", "marker": None, "linewidth": 0.8}
            axes[0][j].plot(hours, acc["clean_target_rank"], **clean)
            axes[1][j].plot(hours, np.cumsum(acc["clean_target_impressions"]), **clean)
        axes[0][j].set_yscale("log")
        axes[0][j].yaxis.set_minor_formatter(NullFormatter())
        axes[0][j].invert_yaxis()
        axes[0][j].set_title(attack)
        axes[1][j].set_xlabel("hours since the attack began")
        for ax in axes[:, j]:
            ax.grid(linewidth=0.3)
    axes[0][0].set_ylabel("targets' mean rank (1 = top, log)")
    axes[1][0].set_ylabel("organic impressions of the targets,\ncumulative")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8,
               title="ranker (marked lines: attacked; dotted: its clean twin)", title_fontsize=8)
    fig.suptitle("the targets' rank and organic impressions per hour, mean over seeds",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.06 + 0.025 * ((len(labels) - 1) // 4), 1, 0.97))
    return _save(fig, path)


def robustness(plt, data: dict, path: Path) -> Path:
    """Success probability and extra organic impressions against budget, per attack."""
    rows = [r for r in data.get("records") or [] if r.get("knowledge", "fixed") == "fixed"]
    if not rows:
        raise PlotError("RESULTS: the file has no grid rows.")
    attacks = list(dict.fromkeys(r["attack"] for r in rows))
    rankers = list(dict.fromkeys(r["ranker"] for r in rows))
    runs = data.get("runs") or []
    cols = min(4, len(attacks))
    blocks = -(-len(attacks) // cols)
    fig, grid = plt.subplots(2 * blocks, cols, figsize=(3.6 * cols, 5.4 * blocks),
                             squeeze=False, sharex=True)
    budgets = sorted({b for r in rows for b in r["curve"]["budgets"]})
    for j in range(len(attacks), blocks * cols):        # unused panels
        grid[2 * (j // cols)][j % cols].set_visible(False)
        grid[2 * (j // cols) + 1][j % cols].set_visible(False)
    for j, attack in enumerate(attacks):
        top = 2 * (j // cols)
        axes = {0: {j: grid[top][j % cols]}, 1: {j: grid[top + 1][j % cols]}}
        for i, ranker in enumerate(rankers):
            row = next((r for r in rows if r["attack"] == attack and r["ranker"] == ranker),
                       None)
            if row is None:
                continue
            c = row["curve"]
            x = np.asarray(c["budgets"])
            st = _style(i)
            axes[0][j].plot(x, c["success"], label=ranker, **st)
            lo = np.asarray(c["low"], float)         # null (one seed) -> NaN, no band
            hi = np.asarray(c["high"], float)
            axes[0][j].fill_between(x, np.clip(lo, 0, 1), np.clip(hi, 0, 1), color=st["color"],
                                    alpha=0.12, linewidth=0)
            mine = [r for r in runs if r["attack"] == attack and r["ranker"] == ranker]
            if mine:
                by_b = {}
                for r in mine:
                    by_b.setdefault(r["budget"], []).append(r["extra_organic_impressions_total"])
                bs = sorted(by_b)
                m = np.array([np.mean(by_b[b]) for b in bs])
                half = np.array([_half_width(by_b[b]) for b in bs])
                axes[1][j].plot(np.asarray(bs), m, **st)
                axes[1][j].fill_between(np.asarray(bs), m - half, m + half, color=st["color"],
                                        alpha=0.12, linewidth=0)
        goal = next((r.get("goal") for r in rows if r["attack"] == attack), "promote")
        axes[0][j].set_title(attack + (" (sink: rank at least doubled)" if goal == "demote"
                                       else ""), fontsize=9)
        axes[0][j].set_ylim(-0.02, 1.02)
        axes[0][j].set_ylabel("P(success)" if goal == "demote" else "P(reached the top k)")
        axes[1][j].set_ylabel("extra organic impressions,\nall targets")
        for ax in (axes[0][j], axes[1][j]):
            ax.set_xscale("symlog", linthresh=min(b for b in budgets if b > 0) if any(budgets)
                          else 1.0)
            ax.set_xticks(budgets, [f"{b:g}" for b in budgets], fontsize=7)
            ax.grid(linewidth=0.3)
        axes[1][j].set_xlabel("budget per campaign (USD)")
        axes[1][j].xaxis.set_tick_params(labelbottom=True)
    handles, labels = grid[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8,
               title="ranker (band: 95% t interval over seeds)", title_fontsize=8,
               bbox_to_anchor=(0.5, -0.02 - 0.02 * (len(labels) // 3)))
    fig.suptitle("robustness curves: success (reached_top_k: an hour or more in the top k) and "
                 "extra organic impressions against budget, mean over seeds", fontsize=9)
    fig.tight_layout(rect=(0, 0.04 + 0.015 * (len(labels) // 3), 1, 0.97))
    return _save(fig, path)


def _half_width(values) -> float:
    from .stats import t_interval
    iv = t_interval(values)
    return float((iv.high - iv.low) / 2) if np.isfinite(iv.high) else 0.0


def pareto(plt, data: dict, path: Path) -> Path:
    """Worst-case cost to the top k against the defences' honest collateral, per ranker."""
    rows = [r for r in data.get("records") or [] if r.get("goal", "promote") == "promote"]
    rankers = list(dict.fromkeys(r["ranker"] for r in rows))
    pts = []
    for ranker in rankers:
        mine = [r for r in rows if r["ranker"] == ranker]
        reached = [r["cost_to_top_k"] for r in mine if r["cost_to_top_k"] is not None]
        cap = max(r["cap"] for r in mine)
        cost = min(reached) if reached else cap
        panels = [mine[0].get(m, 0.0) or 0.0 for m in ("organic_weight_removed",
                                                        "honest_demoted")]
        pts.append((ranker, cost, not reached, *panels))
    from matplotlib.ticker import MaxNLocator, NullFormatter, PercentFormatter
    grid = sorted({b for r in rows for b in r["curve"]["budgets"] if b > 0}) or [1.0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), squeeze=False, sharey=True)
    for ax, (k, label) in zip(axes[0], ((3, "honest act weight removed by the defences"),
                                        (4, "clean top k replaced by the defences"))):
        for i, p in enumerate(pts):
            st = _style(i)
            ax.plot([p[k]], [p[1]], linestyle="none", marker=">" if p[2] else st["marker"],
                    color=st["color"], markersize=7, label=p[0] + (" (not reached)" if p[2]
                                                                    else ""))
        ax.set_yscale("log")
        ax.set_xlabel(label)
        hi = max([0.05] + [1.15 * p[k] for p in pts])   # a share: no negative side
        ax.set_xlim(-0.05 * hi, hi)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_yticks(grid, [f"${b:g}" for b in grid])        # the cost grid's budgets
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(grid[0] / 1.5, grid[-1] * 1.5)
        ax.grid(linewidth=0.3)
    axes[0][0].set_ylabel("cheapest attack to the top k (USD)\n'>': not reached by the cap")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8,
               bbox_to_anchor=(0.5, -0.12))
    fig.suptitle("worst case over every attack in the file against what the defences cost "
                 "honest content (up and to the left is better)", fontsize=9)
    fig.tight_layout(rect=(0, 0.02, 1, 0.96))
    return _save(fig, path)
