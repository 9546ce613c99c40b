"""Your own engagement log under attack: a recorded log as a world's organic history.

``boostbench run --log events.csv`` (or ``.parquet`` with the ``[parquet]`` extra) turns a
team's recorded log into a :class:`~boostbench.world.World`: items and accounts are
inferred from the ids in it, the part before the attack window is the history, the rest is
the replay window. Campaigns are bought against the log's public view, merged in, and
every ranker re-scores it round by round. A recorded log runs in **replay** only: its
organic events do not react to the ranking (the closed loop needs a behaviour model
fitted to known item quality, which a log does not have), so the metrics of organic
reaction (extra organic impressions, amplification, reach) read 0 or NaN by construction,
as in any replay run.

What the log does not record stays unknown (:attr:`~boostbench.world.Truth.unknown`), and
the metrics that need it are left out of the results (:func:`boostbench.metrics.available`)
rather than computed on something else.

Columns (``--columns role=COLUMN,...``; the log roles default to a column of their own
name, the optional ones are read only when mapped):

=========  ==================================================================================
time       seconds (any epoch) or ISO 8601 date-times
account    who acted (any id)
item       on what (any id)
kind       one of :data:`boostbench.traffic.KINDS` (case-insensitive); missing kinds allowed
value      a view's completion in [0, 1], a comment's length (>= 0); read for those two
           kinds only, and needed when the log has either
quality    optional, per item, in [0, 1]: a quality proxy (e.g. a rater's score); enables
           the feed-quality metrics, the oracle and the low-quality target rule
creator    optional, per item: the account that posted it; enables creator features, the
           ring attack (which recruits creators) and ``fp_new_creators``
created    optional, per account, the time unit above: when the account was made (default:
           its first logged event, so every account looks as young as its first event in
           the log: ``account_trust`` is refused, ``fp_new_accounts`` / ``fp_new_creators``
           left out)
device     optional, per account: a device id; enables ``device_dedup`` and
           ``fp_shared_devices`` (default: one device per account)
duration   optional, per item, seconds: what attackers' bought views watch (default 14 s,
           the short-video median of ``docs/calibration.md``)
=========  ==================================================================================

Per-item and per-account columns must hold one value per item (account) on every row.
Nothing is read by pickle; a log is refused, with the reason, before any simulation.
"""

from __future__ import annotations

import csv
import hashlib
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ._core.arrays import first_occurrence, stable_argsort
from ._core.random import STREAMS, hash_uniforms
from ._core.units import HOUR
from .errors import InvalidParameter
from .events import EventKind, EventLog

__all__ = ["ROLES", "LOG_ROLES", "RecordedLog", "Recording", "parse_columns", "read_log",
           "recorded_world", "public_targets", "needs", "check_needs", "MAX_CSV_BYTES",
           "MAX_EVENTS"]

#: The event roles (columns of the log schema, :data:`boostbench.traffic.LOG_COLUMNS`).
LOG_ROLES = ("time", "account", "item", "kind", "value")
#: Optional per-item and per-account roles.
ITEM_ROLES = ("quality", "creator", "duration")
ACCOUNT_ROLES = ("created", "device")
ROLES = LOG_ROLES + ITEM_ROLES + ACCOUNT_ROLES
#: The largest CSV read (its parse holds every field as a Python string); convert a
#: larger log to Parquet.
MAX_CSV_BYTES = 2 * 10**9
#: The most events a log may hold.
MAX_EVENTS = 50_000_000
#: Seconds an attacker's bought view watches when the log gives no duration (the
#: short-video median, docs/calibration.md).
DEFAULT_DURATION = 14.0

_KINDS = {k.name.lower(): int(k) for k in EventKind}
#: Reserved account rows of a recorded world, at least (a $5 fresh-bot campaign brings
#: ~600-800 accounts; a campaign larger than the reserve gets rows past the table).
MIN_RESERVE = 5000
_S_LAYOUT, _S_DEVICES = STREAMS.claim_block("world", "recorded", 330, ("layout", "devices"))


def parse_columns(spec: str | None) -> dict:
    """``role=COLUMN,...`` as a role -> column dict (the log roles default to their own
    names; optional roles are read only when given)."""
    out = {r: r for r in LOG_ROLES}
    for part in [] if spec is None else [p.strip() for p in spec.split(",") if p.strip()]:
        role, eq, col = (x.strip() for x in part.partition("="))
        if not eq or not col:
            raise InvalidParameter(f"The 'columns' parameter takes role=COLUMN pairs; got "
                                   f"{part!r}.", name="columns")
        if role not in ROLES:
            raise InvalidParameter(f"The 'columns' parameter: unknown role {role!r}; one of "
                                   f"{', '.join(ROLES)}.", name="columns")
        out[role] = col
    cols = [c for r, c in out.items()]
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise InvalidParameter(f"The 'columns' parameter maps column {dup[0]!r} to two roles.",
                               name="columns")
    return out


@dataclass(frozen=True)
class RecordedLog:
    """A parsed log: events in time order, ids as dense codes, per-entity columns.

    Attributes
    ----------
    t : float64, seconds from the log's first event
    account, item : int64 codes into ``account_ids`` / ``item_ids``
    kind : int8 (EventKind); value : float32 (completion, comment length, else 0)
    account_ids, item_ids : the original ids (int64 when every id is an integer, else str)
    quality, duration : float per item or None; creator : account code per item or None
    created : seconds from the first event per account or None; device : code or None
    source : path, sha256, events, columns (for the manifest)
    origin : float
        The first event's time in the log's own unit (seconds).
    window_start : float or None
        Hours after the first event at which the attack window starts (None: the log's
        last ``horizon_hours``); set it with :meth:`with_window`.
    targets : tuple of str or None
        Item ids to boost (``--targets``); None: the target rule.
    """

    t: np.ndarray
    account: np.ndarray
    item: np.ndarray
    kind: np.ndarray
    value: np.ndarray
    account_ids: np.ndarray
    item_ids: np.ndarray
    quality: np.ndarray | None = None
    creator: np.ndarray | None = None
    duration: np.ndarray | None = None
    created: np.ndarray | None = None
    device: np.ndarray | None = None
    source: dict = field(default_factory=dict)
    origin: float = 0.0
    window_start: float | None = None
    targets: tuple | None = None

    def with_window(self, start=None, targets=None) -> "RecordedLog":
        """This log with the attack window starting at ``start`` (a time in the log's own
        unit: seconds or an ISO 8601 date-time; None: the last horizon) and ``targets`` (item
        ids as in the log; None: the target rule)."""
        hours = None
        if start is not None:
            try:
                at = float(_floats([start], "time", "window_start")[0])
            except InvalidParameter:
                raise InvalidParameter(f"The 'window_start' parameter must be a time in the log's "
                                       f"unit (seconds or ISO 8601); got {start!r}.",
                                       name="window_start") from None
            hours = (at - self.origin) / HOUR
        if targets is not None:
            targets = tuple(str(x) for x in targets)
            if not targets or len(set(targets)) != len(targets):
                raise InvalidParameter("The 'targets' parameter needs distinct item ids; got "
                                       f"{', '.join(targets)!r}.", name="targets")
            known = set(map(str, self.item_ids.tolist()))
            missing = [x for x in targets if x not in known]
            if missing:
                some = ", ".join(map(str, self.item_ids[:5].tolist()))
                raise InvalidParameter(f"The 'targets' parameter names items the log lacks: "
                                       f"{', '.join(map(repr, missing[:5]))} (its items: {some}, "
                                       "...).", name="targets")
        return replace(self, window_start=hours, targets=targets)

    @property
    def unknown(self) -> frozenset:
        """What the log does not record (see :attr:`boostbench.world.Truth.unknown`)."""
        out = {name for name, col in (("quality", self.quality), ("creators", self.creator),
                                      ("devices", self.device), ("ages", self.created))
               if col is None}
        if not (self.kind == EventKind.IMPRESSION).any():
            out.add("impressions")
        out.add("topics")                   # a log has no interest topics (one for all)
        return frozenset(out)

    @property
    def span_hours(self) -> float:
        return float(self.t[-1]) / HOUR

    def start_hours(self, horizon_hours: float) -> float:
        """Hours after the first event at which the attack window starts."""
        if self.window_start is None:
            return self.span_hours - horizon_hours
        return float(self.window_start)

    def describe(self) -> dict:
        """For the manifest: the source and what was inferred."""
        return {"accounts": int(self.account_ids.size), "items": int(self.item_ids.size),
                "span_hours": round(self.span_hours, 6), "origin": self.origin,
                "window_start_hours": self.window_start,
                "targets": None if self.targets is None else list(self.targets),
                "unknown": sorted(self.unknown), **self.source}


#: Peak bytes of reading a CSV, per byte of the file (every field a Python string for a
#: while: 2.4 GB for a 157 MB, 3.2M-event log), and of a Parquet log per event.
CSV_READ_FACTOR = 16
PARQUET_BYTES_PER_EVENT = 400


def reading_bytes(path) -> float:
    """About the peak memory of :func:`read_log` on ``path``, from its size alone (before
    reading it)."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
            return float(pq.ParquetFile(p).metadata.num_rows) * PARQUET_BYTES_PER_EVENT
        except Exception:          # read_log says what is wrong with the file
            return 0.0
    return float(p.stat().st_size) * CSV_READ_FACTOR


def _bad(message: str) -> InvalidParameter:
    return InvalidParameter(message, name="log")


def _read_csv(path: Path, want: dict) -> dict:
    with open(path, newline="", encoding="utf-8-sig") as f:     # an Excel export's BOM
        rows = csv.reader(f)
        header = next(rows, None)
        if header is None:
            raise _bad(f"{str(path)!r} is empty (no header line).")
        header = [h.strip() for h in header]
        _check_header(path, header, want)
        data = list(rows)
    widths = {len(r) for r in data}
    if widths - {len(header)}:
        line = 2 + next(i for i, r in enumerate(data) if len(r) != len(header))
        raise _bad(f"{str(path)!r}, line {line}: {len(data[line - 2])} fields where the "
                   f"header has {len(header)}.")
    at = {c: i for i, c in enumerate(header)}
    return {role: [r[at[col]] for r in data] for role, col in want.items() if col in at}


def _read_parquet(path: Path, want: dict) -> dict:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise _bad("reading a Parquet log needs pyarrow: pip install \"boostbench[parquet]\" "
                   "(or give a CSV).") from None
    try:
        f = pq.ParquetFile(path)
    except Exception as e:      # pyarrow's own errors name no common base
        raise _bad(f"{str(path)!r} is not a readable Parquet file: {e}") from None
    if f.metadata.num_rows > MAX_EVENTS:
        raise _bad(f"{str(path)!r} holds {f.metadata.num_rows:,} events, more than "
                   f"{MAX_EVENTS:,}.")
    names = f.schema_arrow.names
    _check_header(path, names, want)
    table = f.read(columns=[c for c in want.values() if c in names])
    import pyarrow as pa
    out = {}
    for role, col in want.items():
        if col not in names:
            continue
        a = table.column(col)
        if pa.types.is_dictionary(a.type):
            a = a.cast(a.type.value_type)
        if a.null_count:
            raise _bad(f"column {col!r} ({role}) has {a.null_count} empty cells.")
        if pa.types.is_timestamp(a.type) or pa.types.is_date(a.type):
            us = a.cast(pa.timestamp("us")) if pa.types.is_date(a.type) else a.cast(
                pa.timestamp("us", tz=a.type.tz))
            out[role] = us.cast(pa.int64()).to_numpy(zero_copy_only=False) / 1e6
        elif (pa.types.is_integer(a.type) or pa.types.is_floating(a.type)
              or pa.types.is_string(a.type) or pa.types.is_large_string(a.type)
              or pa.types.is_boolean(a.type)):
            out[role] = a.to_numpy(zero_copy_only=False)
        else:
            raise _bad(f"column {col!r} ({role}) is of type {a.type}; a role takes numbers, "
                       "strings or times.")
    return out


def _check_header(path, header, want) -> None:
    required = [want[r] for r in ("time", "account", "item", "kind")]
    mapped = [c for r, c in want.items() if r not in LOG_ROLES]
    missing = [c for c in required + mapped if c not in header]
    if missing:
        raise _bad(f"{str(path)!r} has no column {missing[0]!r} (its columns: "
                   f"{', '.join(map(str, header[:12]))}); map the roles with --columns "
                   "role=COLUMN.")


def _floats(raw, role: str, col: str) -> np.ndarray:
    try:
        return np.asarray(raw, np.float64)
    except (TypeError, ValueError):
        pass
    if role in ("time", "created"):       # ISO 8601 date-times (an offset converts to UTC)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ts = np.asarray(raw, "datetime64[us]")
            if not np.isnat(ts).any():
                return ts.astype(np.int64) / 1e6
        except (TypeError, ValueError):
            pass
    bad = next(x for x in raw if not _is_float(x))
    what = "seconds or an ISO 8601 date-time" if role in ("time", "created") else "a number"
    raise _bad(f"column {col!r} ({role}) holds {bad!r}, not {what}.")


def _is_float(x) -> bool:
    try:
        float(x)
        return True
    except (TypeError, ValueError):
        return False


def _ids(raw, role: str, col: str):
    """An id column, checked: no empty cell; whole-number floats (a nullable integer column
    read as floats) as integers."""
    a = np.asarray(raw)
    if a.dtype.kind == "f":
        if not (np.isfinite(a) & (a == np.round(a))).all():
            raise _bad(f"column {col!r} ({role}) holds ids that are not whole numbers.")
        return a.astype(np.int64)
    if a.dtype.kind in "iub":
        return a
    s = np.char.strip(a.astype(str))
    empty = np.flatnonzero(s == "")
    if empty.size:
        raise _bad(f"column {col!r} ({role}) is empty on {empty.size} rows (the first: data row "
                   f"{empty[0] + 1}); every row needs an id.")
    return s


def _codes(raw) -> tuple[np.ndarray, np.ndarray]:
    """(distinct ids, code per entry): integer ids stay integers (sorted numerically)."""
    a = np.asarray(raw)
    if a.dtype.kind not in "iu":
        s = a.astype(str)
        try:
            ints = s.astype(np.int64)
            a = ints if np.array_equal(ints.astype(str), s) else s
        except (TypeError, ValueError, OverflowError):
            a = s
    order = stable_argsort(a) if a.dtype.kind in "iuf" else np.argsort(a, kind="stable")
    sa = a[order]
    start = np.ones(sa.size, bool)
    start[1:] = sa[1:] != sa[:-1]
    code = np.empty(sa.size, np.int64)
    code[order] = np.cumsum(start) - 1
    return sa[start], code


def _per_entity(codes, values, n: int, role: str, ids) -> np.ndarray:
    """The one value of each entity; raises when an entity's rows disagree."""
    out = np.empty(n, values.dtype)
    out[codes[::-1]] = values[::-1]       # the first row of each entity wins
    bad = np.flatnonzero(out[codes] != values)
    if bad.size:
        who = ids[codes[bad[0]]].item()
        raise _bad(f"column {role!r} must hold one value per "
                   f"{'account' if role in ACCOUNT_ROLES else 'item'}; {who!r} has "
                   f"{out[codes[bad[0]]].item()!r} and {values[bad[0]].item()!r}.")
    return out


def read_log(path, columns: dict | str | None = None) -> RecordedLog:
    """Read and check a recorded log (CSV, or ``.parquet`` / ``.pq`` with pyarrow).

    Parameters
    ----------
    path : str or Path
    columns : dict or str, optional
        Role -> column (:func:`parse_columns`; a string is parsed).

    Raises
    ------
    InvalidParameter
        (naming ``log`` or ``columns``) a missing or unreadable file, a missing column, an
        unknown kind, a time that is not a time, a value out of its range, a per-item or
        per-account column that differs between rows of the same item or account, fewer
        than 10 accounts, or more than :data:`MAX_EVENTS` events.
    """
    want = columns if isinstance(columns, dict) else parse_columns(columns)
    p = Path(path)
    if not p.is_file():
        raise _bad(f"{str(path)!r} is not a readable file.")
    parquet = p.suffix.lower() in (".parquet", ".pq")
    if not parquet and p.stat().st_size > MAX_CSV_BYTES:
        raise _bad(f"{str(path)!r} is {p.stat().st_size / 1e9:.1f} GB, more than the "
                   f"{MAX_CSV_BYTES / 1e9:g} GB a CSV may be; convert it to Parquet.")
    try:
        raw = _read_parquet(p, want) if parquet else _read_csv(p, want)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise _bad(f"{str(path)!r} could not be read: {e}") from None
    n = len(raw["time"])
    if n == 0:
        raise _bad(f"{str(path)!r} holds no events.")
    if n > MAX_EVENTS:
        raise _bad(f"{str(path)!r} holds {n:,} events, more than {MAX_EVENTS:,}.")
    t = _floats(raw["time"], "time", want["time"])
    if not np.isfinite(t).all():
        raise _bad(f"column {want['time']!r} (time) holds {t[~np.isfinite(t)][0]!r}.")
    names = np.char.lower(np.asarray(raw["kind"]).astype(str))
    kind_names, kind_code = _codes(names)
    unknown = [k for k in kind_names.tolist() if k not in _KINDS]
    if unknown:
        raise _bad(f"column {want['kind']!r} (kind) holds {', '.join(map(repr, unknown[:5]))}; "
                   f"each kind must be one of {', '.join(_KINDS)}.")
    kind = np.array([_KINDS[k] for k in kind_names.tolist()], np.int8)[kind_code]
    value = np.zeros(n, np.float64)
    valued = (kind == EventKind.VIEW) | (kind == EventKind.COMMENT)
    if valued.any():
        if "value" not in raw:
            raise _bad(f"the log has views or comments but no column {want['value']!r} (value: "
                       "a view's completion, a comment's length); map it with --columns "
                       "value=COLUMN.")
        v = _floats(np.asarray(raw["value"])[valued], "value", want["value"])
        vk = kind[valued]
        bad = ~np.isfinite(v) | (v < 0) | ((vk == EventKind.VIEW) & (v > 1))
        if bad.any():
            k = EventKind(int(vk[bad][0])).name.lower()
            raise _bad(f"column {want['value']!r} (value) holds {v[bad][0]!r} for a {k}; a "
                       "view's completion must be in [0, 1], a comment's length >= 0.")
        value[valued] = v
    ids = {r: _ids(raw[r], r, want[r]) for r in ("account", "item", "creator", "device")
           if r in raw}
    acc_all = ids["account"] if "creator" not in ids else np.concatenate(
        [ids["account"].astype(str), ids["creator"].astype(str)])
    account_ids, acc_code = _codes(acc_all)
    account = acc_code[:n]
    item_ids, item = _codes(ids["item"])
    if account_ids.size < 10:
        raise _bad(f"{str(path)!r} has {account_ids.size} accounts; a world needs at least 10.")
    order = np.lexsort((kind, t))     # equal times: impression, view, then the acts (EventKind)
    t0 = float(t[order[0]])
    per = {}
    for role in ITEM_ROLES + ACCOUNT_ROLES:
        if role not in raw:
            continue
        codes, names, m = ((item, item_ids, item_ids.size) if role in ITEM_ROLES
                           else (account, account_ids, account_ids.size))
        if role == "creator":
            vals = acc_code[n:]
        elif role == "device":
            vals = _codes(ids["device"])[1]
        else:
            vals = _floats(raw[role], role, want[role])
        seen = np.zeros(m, bool)
        seen[codes] = True
        out = _per_entity(codes, vals, m, role, names)
        if role in ACCOUNT_ROLES:        # accounts seen only as creators: not given
            out = np.where(seen, out, -1 if role == "device" else np.nan)
        per[role] = out
    if "quality" in per:
        q = per["quality"]
        if not (np.isfinite(q) & (q >= 0) & (q <= 1)).all():
            raise _bad(f"column {want['quality']!r} (quality) must be in [0, 1]; rescale the "
                       "proxy.")
    if "duration" in per and not (np.isfinite(per["duration"]) & (per["duration"] > 0)).all():
        raise _bad(f"column {want['duration']!r} (duration) must be seconds > 0.")
    if "created" in per:
        per["created"] = per["created"] - t0
        first = np.full(account_ids.size, np.inf)
        np.minimum.at(first, account[order], t[order] - t0)
        late = np.flatnonzero(per["created"] > first)
        if late.size:
            raise _bad(f"account {account_ids[late[0]]!r} acts before it was created "
                       f"(column {want['created']!r}).")
    digest = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return RecordedLog(
        t=t[order] - t0, account=account[order], item=item[order], kind=kind[order],
        value=value[order].astype(np.float32), account_ids=account_ids, item_ids=item_ids,
        quality=per.get("quality"), creator=per.get("creator"), duration=per.get("duration"),
        created=per.get("created"), device=per.get("device"),
        source={"path": str(path), "sha256": digest.hexdigest(), "events": int(n),
                "columns": {r: c for r, c in want.items() if r in raw}}, origin=t0)


@dataclass(frozen=True)
class Recording:
    """What a world made from a recorded log keeps of it.

    Attributes
    ----------
    window : EventLog
        The recorded events from ``t0`` to the horizon's end (the replay window).
    item_ids, account_ids : original id per item row / account row (None: reserved)
    targets : int64 item rows or None (the target rule)
    source : dict (:meth:`RecordedLog.describe`)
    epoch : float
        The log's own time (seconds) of the world's time 0: a world time ``t`` is
        ``epoch + t`` in the log.
    """

    window: EventLog
    item_ids: np.ndarray
    account_ids: np.ndarray
    targets: np.ndarray | None
    source: dict
    epoch: float = 0.0


def recorded_world(log: RecordedLog, *, horizon_hours: int, seed: int = 0,
                   reserve_share: float = 1.0, min_reserve: int = MIN_RESERVE):
    """The :class:`~boostbench.world.World` of a recorded log.

    The attack window starts ``log.window_start`` hours after the first event (default:
    ``horizon_hours`` before the last); the epoch is the last whole hour before it that
    covers the first event. Account rows interleave the log's accounts with
    ``max(reserve_share x accounts, min_reserve)`` reserved rows (for campaigns), and
    device ids the log's devices with the reserved ones, both in a layout drawn from
    ``seed`` (counter-based, as the synthetic world's), so neither an id nor a device
    says who is behind an account. Truth: quality is the log's proxy or NaN (unknown),
    appeal NaN, activity the account's logged events per active day.
    """
    from .world import (NOT_CREATED, Accounts, Items, Origin, Truth, World, WorldConfig)
    span = log.span_hours
    start = log.start_hours(horizon_hours)
    # a log is known to cover the time up to its last event; the window may run past it by
    # less than an hour (the last events of a recording need not fall on its very end)
    if not start > 0 or start + horizon_hours > span + 1.0:
        raise InvalidParameter(
            f"The log spans {span:.2f} h from its first event; a window of {horizon_hours} h "
            + ("needs a longer log (some history before the window)." if log.window_start
               is None else f"starting {start:g} h after the first event must start after it "
               f"and end at most 1 h after the last ({span:.2f} h)."), name="window_start")
    history_hours = math.ceil(start - 1e-9)
    shift = (history_hours - start) * HOUR           # epoch = first event - shift
    t = log.t + shift
    t0 = history_hours * HOUR
    end = t0 + horizon_hours * HOUR
    # items in order of their first event (item rows are sorted by creation)
    n_items = log.item_ids.size
    first_item = np.full(n_items, np.inf)
    np.minimum.at(first_item, log.item, t)
    item_order = stable_argsort(first_item)
    item_row = np.empty(n_items, np.int64)
    item_row[item_order] = np.arange(n_items)
    # account rows: the log's accounts and the reserve, interleaved in a fixed layout
    n_log = log.account_ids.size
    n_res = max(int(round(reserve_share * n_log)), int(min_reserve))
    layout = np.argsort(hash_uniforms(seed, _S_LAYOUT, np.arange(n_log + n_res)), kind="stable")
    acc_row = layout[:n_log]
    first_acc = np.full(n_log, np.inf)
    np.minimum.at(first_acc, log.account, t)
    if log.creator is not None:          # a creator is there by its first post
        np.minimum.at(first_acc, log.creator, first_item)
    created = np.full(n_log + n_res, NOT_CREATED)
    created[acc_row] = first_acc if log.created is None else np.where(
        np.isnan(log.created), first_acc, log.created + shift)
    dev_log = np.arange(n_log) if log.device is None else log.device
    n_dev = int(dev_log.max()) + 1
    dev_log = np.where(dev_log >= 0, dev_log, n_dev + np.arange(n_log))   # creators only
    n_dev = int(dev_log.max()) + 1
    dev_ids = np.argsort(hash_uniforms(seed, _S_DEVICES, np.arange(n_dev + n_res)),
                         kind="stable").astype(np.int32)     # the log's and reserved, mixed
    device = np.full(n_log + n_res, -1, np.int32)
    device[acc_row] = dev_ids[dev_log]
    topic = np.full(n_log + n_res, -1, np.int16)
    topic[acc_row] = 0
    origin = np.full(n_log + n_res, Origin.RESERVED, np.int8)
    origin[acc_row] = Origin.ORGANIC
    days = np.floor(t / (24 * HOUR)).astype(np.int64)
    active_days = np.bincount(log.account[first_occurrence(log.account * (days.max() + 1) + days)],
                              minlength=n_log)
    activity = np.zeros(n_log + n_res)
    activity[acc_row] = np.bincount(log.account, minlength=n_log) / np.maximum(active_days, 1)
    creator = np.full(n_items, -1, np.int32)
    if log.creator is not None:
        creator[item_row] = acc_row[log.creator]
    quality = np.full(n_items, np.nan, np.float32)
    if log.quality is not None:
        quality[item_row] = log.quality
    duration = np.full(n_items, DEFAULT_DURATION, np.float32)
    if log.duration is not None:
        duration[item_row] = log.duration
    items = Items(first_item[item_order], creator, np.zeros(n_items, np.int16), duration)
    accounts = Accounts(created, device, topic)
    truth = Truth(quality, np.full(n_items, np.nan, np.float32), np.zeros(n_items), activity,
                  origin, np.zeros(n_log + n_res, np.int32),
                  reserved_devices=dev_ids[n_dev:],
                  unknown=log.unknown)
    row_a, row_i = acc_row[log.account], item_row[log.item]
    hist = t < t0
    win = (t >= t0) & (t <= end)
    history = EventLog.from_arrays(t[hist], row_a[hist], row_i[hist], log.kind[hist],
                                   log.value[hist])
    window = EventLog.from_arrays(t[win], row_a[win], row_i[win], log.kind[win], log.value[win])
    account_ids = np.full(n_log + n_res, None, object)
    account_ids[acc_row] = log.account_ids
    targets = None if log.targets is None else _target_rows(log, item_row)
    config = WorldConfig(n_accounts=max(10, n_log), history_hours=history_hours,
                         future_hours=horizon_hours, n_topics=1, reserve_share=reserve_share)
    rec = Recording(window, log.item_ids[item_order], account_ids, targets, log.describe(),
                    epoch=log.origin - shift)
    return World(config, items, accounts, truth, history, None, int(seed), recorded=rec)


def _target_rows(log: RecordedLog, item_row: np.ndarray) -> np.ndarray:
    """Item rows of ``log.targets`` (original ids, as typed; checked by ``with_window``)."""
    index = {str(x): i for i, x in enumerate(log.item_ids.tolist())}
    return item_row[[index[x] for x in log.targets]].astype(np.int64)


def public_targets(world, scenario, goal: str = "promote") -> np.ndarray:
    """Targets in a recorded world without a quality proxy, by a rule on public signals.

    ``promote``: of the items first seen in the attack window (new posts), those whose
    logged like rate over the horizon, (likes + 1) / (exposures + 2), is in the bottom
    ``low_quality_quantile``, earliest first — what the audience liked least, the stand-in
    for low quality. Exposures are impressions, or views when the log has no
    impressions. ``demote``: the top quantile. The rule reads the recorded window with
    hindsight, as the experimenter's choice reads Truth; rankers never see it.
    """
    t0 = world.t0
    _, _, itm, kind, _ = world.recorded.window.columns()
    n = len(world.items)
    imp = kind == EventKind.IMPRESSION
    exp_kind = imp if imp.any() else kind == EventKind.VIEW
    exposure = np.bincount(itm[exp_kind], minlength=n)
    liked = kind == EventKind.LIKE
    if not liked.any() or not exp_kind.any():
        raise InvalidParameter("The target rule reads likes per impression (or view); this "
                               "log's window has no " + ("likes" if not liked.any() else
                                                         "impressions or views")
                               + ": name the items with --targets.", name="n_targets")
    likes = np.bincount(itm[liked], minlength=n)
    rate = (likes + 1.0) / (exposure + 2.0)
    created = world.items.created_at
    new = (created >= t0) & (created < t0 + scenario.attack_hours * HOUR) & (exposure > 0)
    cand = np.flatnonzero(new)
    if cand.size:
        q = scenario.low_quality_quantile
        cut = np.quantile(rate[cand], q if goal == "promote" else 1.0 - q)
        cand = cand[rate[cand] <= cut] if goal == "promote" else cand[rate[cand] >= cut]
    if cand.size < scenario.n_targets:
        raise InvalidParameter(
            f"The 'n_targets' parameter must be at most {cand.size} (items first seen in the "
            f"attack window of this log with a like rate in the {goal} quantile); name the "
            "items with --targets instead.", name="n_targets")
    return cand[: scenario.n_targets]


def needs(obj) -> frozenset:
    """What a ranker or an attack reads that a recorded log may not record
    (:attr:`RecordedLog.unknown`): a ranker's, its scorer's and its defences' declared
    ``needs`` (``oracle_quality``: quality; rates per impression: impressions;
    ``account_trust``: ages; ``device_dedup``: devices; ``audience_diversity``: its
    clusters); ``creators`` for an attack that recruits the targets' creators or likes
    back their posts (a ring); ``topics`` for one that buys interest-matched users."""
    out = set(getattr(obj, "needs", None) or ())
    scorer = getattr(obj, "scorer", None)
    if scorer is not None:
        out |= needs(scorer)
    for d in getattr(obj, "defences", ()):      # a pipeline's defences read what they read
        out |= needs(d)
    source = getattr(getattr(obj, "supplier", None), "source", None)
    if getattr(obj, "reciprocity", False) or getattr(source, "recruits_creators", False):
        out.add("creators")
    if getattr(source, "matches_topics", False):
        out.add("topics")
    return frozenset(out)


def check_needs(log: RecordedLog, rankers, attacks) -> None:
    """Raise :class:`InvalidParameter` (naming ``rankers`` or ``attacks``) when one of them
    needs what ``log`` does not record, saying which column would give it."""
    for family, objs in (("rankers", rankers), ("attacks", attacks)):
        for x in objs:
            missing = sorted(needs(x) & log.unknown)
            if missing:
                raise InvalidParameter(f"{getattr(x, 'name', x)!r} needs {lacking(missing[0])}, "
                                       "or leave it out.", name=family)


#: What each unknown is, and what would give it.
UNKNOWN = {"quality": ("the items' quality", "map a column with --columns quality=COLUMN"),
           "creators": ("the items' creators", "map a column with --columns creator=COLUMN"),
           "devices": ("the accounts' devices", "map a column with --columns device=COLUMN"),
           "ages": ("the accounts' creation times", "map a column with --columns "
                    "created=COLUMN"),
           "impressions": ("impressions (what was shown)", "log impression events"),
           "topics": ("the accounts' interest topics", "not readable from a log")}


def lacking(unknown: str) -> str:
    """``the items' quality, which this log does not record: map ... --columns quality=COL``."""
    what, fix = UNKNOWN[unknown]
    return f"{what}, which this log does not record: {fix}"


def live_targets(world, scenario, targets) -> np.ndarray:
    """``targets`` (item rows), checked to be rankable during the attack window: posted
    before it ends and within ``eligibility_hours`` before it starts."""
    start = world.t0
    end = start + scenario.attack_hours * HOUR
    created = world.items.created_at[targets]
    dead = (created >= end) | (created < start - scenario.eligibility_hours * HOUR)
    if dead.any():
        which = world.recorded.item_ids[targets[dead]]
        raise InvalidParameter(
            f"The 'targets' parameter names items that are not ranked during the attack window "
            f"({', '.join(map(repr, which[:5].tolist()))}): a target must be posted (first "
            f"logged) before the window ends and at most {scenario.eligibility_hours:g} h "
            "before it starts.", name="targets")
    return targets


def live_posts(world, scenario) -> int:
    """Items ranked at the start of the attack window (posted within ``eligibility_hours``)."""
    created = world.items.created_at
    return int(np.count_nonzero((created <= world.t0)
                                & (created > world.t0 - scenario.eligibility_hours * HOUR)))
