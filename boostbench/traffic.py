"""Labelled synthetic traffic out: a run's events, campaign and organic, in a plain log schema,
so a team can test its own fake-engagement detectors on them.

One CSV per attacked run (``run --export-traffic DIR``), columns :data:`TRAFFIC_COLUMNS`:
the event log schema (``time`` in seconds, ``account``, ``item``, ``kind`` — one of
:data:`KINDS` — and ``value``: completion for a view, length for a comment) and the labels
``is_campaign`` (1 for an event the campaign made: its bought acts, its accounts'
camouflage and ring reciprocity), ``campaign`` (``<attack>@seed<seed>``) and ``recipe``
(the attack's name; ``recipes.json`` beside the files holds each recipe's parameters).
The rows are the run's whole log — the organic history before the window, the window and
every campaign event — so a file is also a log that ``boostbench run --log`` reads back
(the window starts at the manifest's ``t0``: ``--window-start``); times are written exactly
(shortest round-trip decimal).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from .errors import InvalidParameter
from .events import EventKind
from .report import write_together

__all__ = ["TRAFFIC_COLUMNS", "LOG_COLUMNS", "KINDS", "traffic_path", "write_traffic",
           "read_traffic"]

#: The event log schema.
LOG_COLUMNS = ("time", "account", "item", "kind", "value")
#: The exported traffic: the log schema and its labels.
TRAFFIC_COLUMNS = (*LOG_COLUMNS, "is_campaign", "campaign", "recipe")
#: Kind names, by EventKind value.
KINDS = tuple(k.name.lower() for k in EventKind)


def traffic_path(folder, seed: int, ranker: str, attack: str) -> Path:
    """``folder/seed<seed>__<ranker>__<attack>.csv`` (names made file-safe)."""
    def safe(x):
        return re.sub(r"[^A-Za-z0-9_.+-]", "_", x)
    return Path(folder) / f"seed{int(seed)}__{safe(ranker)}__{safe(attack)}.csv"


def write_traffic(path, traffic, *, campaign: str, recipe: str, recording=None) -> None:
    """Write ``traffic`` (``(t, account, item, kind, value, is_campaign)`` arrays) to ``path``
    atomically (complete or absent). ``recording``: the run's world came from a recorded log
    (:class:`boostbench.recorded.Recording`): times, accounts and items are written in the
    log's own terms (seconds of its epoch, its ids; a campaign's account as
    ``campaign-<row>``)."""
    t, acc, itm, kind, val, fake = traffic
    names = np.array(KINDS)[np.asarray(kind, np.int64)]
    if recording is not None:
        t = recording.epoch + np.asarray(t, np.float64)
        ids, a = recording.account_ids, np.asarray(acc, np.int64)
        known = np.zeros(a.size, bool)
        inside = np.flatnonzero(a < ids.size)
        known[inside] = np.not_equal(ids[a[inside]], None)
        acc = np.empty(a.size, object)
        acc[known] = ids[a[known]]
        acc[~known] = np.char.add("campaign-", a[~known].astype(str))
        itm = recording.item_ids[np.asarray(itm, np.int64)]

    def write(f):
        w = csv.writer(f, lineterminator="\n")
        w.writerow(TRAFFIC_COLUMNS)
        labels = {True: (1, campaign, recipe), False: (0, "", "")}
        w.writerows((repr(float(a)), b, c, d, repr(float(e)), *labels[bool(g)])
                    for a, b, c, d, e, g in zip(t.tolist(), acc.tolist(), itm.tolist(),
                                                names.tolist(), val.tolist(), fake.tolist()))
    write_together((path, write))


def read_traffic(path) -> dict:
    """A traffic (or log) CSV as arrays: ``time`` float64, ``account`` and ``item`` int64,
    ``kind`` int8 (EventKind), ``value`` float64, and the labels when present."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and not set(LOG_COLUMNS) <= set(rows[0]):
        raise InvalidParameter(f"{str(path)!r} lacks the log columns {', '.join(LOG_COLUMNS)}.",
                               name="log")
    index = {k: i for i, k in enumerate(KINDS)}
    bad = sorted({r["kind"] for r in rows} - set(index))
    if bad:
        raise InvalidParameter(f"{str(path)!r}: unknown kinds {', '.join(map(repr, bad[:5]))}; "
                               f"one of {', '.join(KINDS)}.", name="log")
    out = {"time": np.array([float(r["time"]) for r in rows]),
           "account": np.array([int(r["account"]) for r in rows], np.int64),
           "item": np.array([int(r["item"]) for r in rows], np.int64),
           "kind": np.array([index[r["kind"]] for r in rows], np.int8),
           "value": np.array([float(r["value"]) for r in rows])}
    if rows and "is_campaign" in rows[0]:
        out["is_campaign"] = np.array([r["is_campaign"] == "1" for r in rows])
        out["campaign"] = np.array([r["campaign"] for r in rows], object)
        out["recipe"] = np.array([r["recipe"] for r in rows], object)
    return out
