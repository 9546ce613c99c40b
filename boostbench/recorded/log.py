"""Reading a recorded engagement log: columns, checks, ids (see :mod:`boostbench.recorded`)."""

from __future__ import annotations

import csv
import hashlib
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._core.arrays import stable_argsort
from .._core.units import HOUR
from ..errors import InvalidParameter
from ..events import EventKind

__all__ = ["ROLES", "LOG_ROLES", "RecordedLog", "parse_columns", "read_log", "reading_bytes",
           "MAX_CSV_BYTES", "MAX_EVENTS"]

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

_KINDS = {k.name.lower(): int(k) for k in EventKind}


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

    def history_hours(self, horizon_hours: float) -> int:
        """Whole hours of history before the window: the world's ``t0`` (the epoch is the
        last whole hour before the window's start that covers the first event)."""
        return math.ceil(self.start_hours(horizon_hours) - 1e-9)

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
