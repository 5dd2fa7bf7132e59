"""Streamed, pseudonymous exports: epochs, movement breaks, strategy events, raw samples.

Rows are produced in bounded chunks (column dicts) and written as CSV text chunks or as
Parquet row groups into a spooled temporary file, so a week of raw samples never sits
in memory. Children appear only by pseudonymous code; device addresses are replaced by
a salted sha256 (the salt is per install and never exported).
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from movereg.errors import ValidationError
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.storage.store import Store
from movereg.timeutil import NS_PER_S, iso_utc

__all__ = [
    "ALWAYS_EPOCH_COLUMNS",
    "CSV_TEXT_NOTE",
    "EXPORT_FORMATS",
    "EXPORT_KINDS",
    "FORMULA_START",
    "SELECTABLE_FEATURES",
    "Chunk",
    "check_epoch_length",
    "device_hash",
    "epoch_export_columns",
    "export_chunks",
    "media_type",
    "neutralise_cell",
    "parse_features",
    "register_table",
    "stream_csv",
    "stream_parquet",
]

EXPORT_KINDS: tuple[str, ...] = ("epochs", "breaks", "events", "raw")
EXPORT_FORMATS: tuple[str, ...] = ("csv", "parquet")
Chunk = dict[str, np.ndarray]

_EPOCH_WINDOW_NS = 6 * 3600 * NS_PER_S
_RAW_ROWS = 16_384
_CSV_ROWS = 4_096
#: column -> kind: "time" (UTC ns), "str", or a numpy dtype
_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "epochs": [("child_code", "str"), ("device", "str"), ("epoch_start", "time")]
    + [(n, d) for n, d in EPOCH_COLUMNS if n != "epoch_start"],
    "breaks": [("child_code", "str"), ("start", "time"), ("end", "time"),
               ("duration_s", "float64"), ("peak_enmo_mg", "float64"),
               ("mean_enmo_mg", "float64")],
    "events": [("child_code", "str"), ("event_id", "int64"), ("strategy", "str"),
               ("started_at", "time"), ("ended_at", "time"), ("logged_at", "time"),
               ("session_id", "int64"), ("initiated_by", "str"), ("planned", "int8"),
               ("voided", "int8"), ("void_reason", "str"), ("replaces_id", "int64")],
    "raw": [("child_code", "str"), ("device", "str"), ("time", "time"), ("x_g", "float32"),
            ("y_g", "float32"), ("z_g", "float32"), ("device_time", "time"),
            ("frame_seq", "int64")],
}
_MISSING_INT = -1
#: epoch-export columns present whatever features are chosen
ALWAYS_EPOCH_COLUMNS: tuple[str, ...] = ("child_code", "device", "epoch_start", "epoch_s",
                                         "coverage")
#: feature columns a caller may choose for an epoch export
SELECTABLE_FEATURES: tuple[str, ...] = tuple(n for n, _ in EPOCH_COLUMNS
                                             if n not in ALWAYS_EPOCH_COLUMNS)
#: integer columns where _MISSING_INT means "not set" (empty in CSV, null in Parquet)
_NULLABLE = frozenset({"session_id", "planned", "replaces_id", "frame_seq"})


def media_type(fmt: str) -> str:
    """HTTP media type of an export format."""
    if fmt == "omh":
        return "application/x-ndjson"
    return "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"


def device_hash(device_id: str, salt: str) -> str:
    """Salted sha256 of a device identifier (16 hex digits)."""
    return hashlib.sha256(f"{salt}:{device_id}".encode()).hexdigest()[:16]


def parse_features(text: str | Sequence[str] | None) -> list[str] | None:
    """Feature names from ``"a,b,c"`` (or a list); None = every feature.

    Raises
    ------
    ValidationError
        An unknown name (the message lists the valid ones), or nothing chosen.
    """
    if text is None:
        return None
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = [p.strip() for p in parts if p.strip()]
    always = set(ALWAYS_EPOCH_COLUMNS)
    bad = [n for n in names if n not in SELECTABLE_FEATURES and n not in always]
    if bad:
        raise ValidationError(
            f"unknown feature{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; "
            f"valid: {', '.join(SELECTABLE_FEATURES)}",
            advice="epoch_start, epoch_s and coverage are always included")
    chosen = [n for n in SELECTABLE_FEATURES if n in names]
    if not chosen and not names:
        raise ValidationError("no features chosen",
                              advice=f"choose from {', '.join(SELECTABLE_FEATURES)}")
    return chosen


def epoch_export_columns(features: Sequence[str] | None) -> list[str]:
    """Columns of an epoch export, in schema order (identifiers, time, coverage first)."""
    if features is None:
        return [n for n, _ in _SCHEMAS["epochs"]]
    keep = set(ALWAYS_EPOCH_COLUMNS) | set(features)
    return [n for n, _ in _SCHEMAS["epochs"] if n in keep]


def check_epoch_length(store: Store, child_ids: Sequence[int], epoch_s: float, *,
                       start_ns: int | None = None, end_ns: int | None = None) -> None:
    """Refuse (before streaming) an ``epoch_s`` that is not a whole multiple of every
    stored epoch length of these children in the range."""
    if not np.isfinite(epoch_s) or epoch_s <= 0:
        raise ValidationError(f"epoch length must be positive, got {epoch_s:g}")
    for cid in child_ids:
        for stored in sorted(store.epoch_lengths(child_id=cid, start_ns=start_ns,
                                                 end_ns=end_ns)):
            ratio = epoch_s / stored
            if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-9:
                raise ValidationError(
                    f"epoch length {epoch_s:g} s is not a whole multiple of the recorded "
                    f"{stored:g} s", advice=f"choose {stored:g} s or a multiple of it")


def export_chunks(store: Store, what: str, child_ids: Sequence[int], *,
                  start_ns: int | None = None, end_ns: int | None = None,
                  epoch_s: float | None = None) -> Iterator[Chunk]:
    """Column chunks of an export, one child after the other, in time order.

    ``epoch_s`` (epochs only) re-aggregates the stored epochs to that length with
    :func:`movereg.analysis.aggregate_epochs`, one device at a time.
    """
    if what not in EXPORT_KINDS:
        raise ValidationError(f"unknown export {what!r}", advice=f"one of {EXPORT_KINDS}")
    if epoch_s is not None and what != "epochs":
        raise ValidationError("an epoch length applies to epoch exports only")
    salt = store.export_salt()
    for cid in child_ids:
        code = store.get_child(cid).code
        if what == "epochs":
            yield from _epochs(store, cid, code, salt, start_ns, end_ns, epoch_s)
        elif what == "breaks":
            yield from _breaks(store, cid, code, start_ns, end_ns)
        elif what == "events":
            yield from _events(store, cid, code, start_ns, end_ns)
        else:
            yield from _raw(store, cid, code, salt, start_ns, end_ns)


def _strs(value: str, n: int) -> np.ndarray:
    return np.full(n, value, dtype=object)


def _epochs(store: Store, cid: int, code: str, salt: str, lo: int | None,
            hi: int | None, epoch_s: float | None = None) -> Iterator[Chunk]:
    bounds = store.epoch_bounds(child_id=cid, start_ns=lo, end_ns=hi)
    if bounds is None:
        return
    t, last = bounds
    window = _EPOCH_WINDOW_NS
    hashes: dict[str, str] = {}
    if epoch_s is not None:  # windows hold whole new epochs: no epoch split across two
        bin_ns = round(epoch_s * NS_PER_S)
        t = t // bin_ns * bin_ns
        window = -(-_EPOCH_WINDOW_NS // bin_ns) * bin_ns
    while t <= last:
        a = t if lo is None else max(t, lo)
        b = t + window if hi is None else min(t + window, hi)
        t += window
        cols = store.timeline(child_id=cid, start_ns=a, end_ns=b, include_device=True)
        if epoch_s is not None:
            cols = _aggregate(cols, epoch_s)
        n = cols["epoch_start"].shape[0]
        if n == 0:
            continue
        devices = cols.pop("device_id")
        dev = np.empty(n, dtype=object)  # one hash per band, shared by its rows
        for d in set(devices.tolist()):
            dev[devices == d] = hashes.setdefault(d, device_hash(d, salt))
        del devices
        yield {"child_code": _strs(code, n), "device": dev, **cols}
        del cols, dev  # not held while the next window is read


def _aggregate(cols: dict[str, np.ndarray], epoch_s: float) -> dict[str, np.ndarray]:
    """Re-aggregate one window's epochs per device; rows by (epoch_start, device)."""
    from movereg.analysis import aggregate_epochs

    devices = cols.pop("device_id")
    parts = []
    for dev in sorted(set(devices.tolist())):
        sel = devices == dev
        agg = aggregate_epochs({k: v[sel] for k, v in cols.items()}, epoch_s)
        agg["device_id"] = np.full(agg["epoch_start"].shape[0], dev, dtype=object)
        parts.append(agg)
    if not parts:
        return {**cols, "device_id": devices}
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(merged["epoch_start"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def _break_chunk(code: str, bouts: Sequence[Any]) -> Chunk:
    return {"child_code": _strs(code, len(bouts)),
            "start": np.array([b.start_ns for b in bouts], dtype=np.int64),
            "end": np.array([b.end_ns for b in bouts], dtype=np.int64),
            "duration_s": np.array([b.duration_s for b in bouts], dtype=np.float64),
            "peak_enmo_mg": np.array([b.peak_enmo_mg for b in bouts], dtype=np.float64),
            "mean_enmo_mg": np.array([b.mean_enmo_mg for b in bouts], dtype=np.float64)}


def _breaks(store: Store, cid: int, code: str, lo: int | None, hi: int | None, *,
            window_ns: int = _EPOCH_WINDOW_NS) -> Iterator[Chunk]:
    """Movement breaks over the range, read ``window_ns`` at a time.

    The rows from the start of the last joined run of a window (a break that may go on,
    or be joined over a dip, past the window's edge) are carried into the next window,
    so the breaks are those of one whole-range :func:`movement_breaks`; only a window and
    the carried rows are held.
    """
    from movereg.signal import EpochTable, movement_breaks

    bounds = store.epoch_bounds(child_id=cid, start_ns=lo, end_ns=hi)
    if bounds is None:
        return
    t, last = bounds
    names = ("epoch_start", "epoch_s", "enmo_mg")
    carry: dict[str, np.ndarray] | None = None

    def table(cols: dict[str, np.ndarray]) -> EpochTable:
        n = cols["epoch_start"].shape[0]
        return EpochTable({name: cols[name] if name in cols
                           else np.broadcast_to(np.zeros(1, dtype=dt), (n,))
                           for name, dt in EPOCH_COLUMNS})

    while t <= last:
        a = t if lo is None else max(t, lo)
        b = t + window_ns if hi is None else min(t + window_ns, hi)
        t += window_ns
        got = store.timeline(child_id=cid, start_ns=a, end_ns=b, features=list(names))
        if got["epoch_start"].shape[0] == 0:
            continue
        cols = got if carry is None else {k: np.concatenate([carry[k], got[k]]) for k in names}
        del got
        tbl = table(cols)
        # every joined run, however short: the last one may go on in the next window
        runs = movement_breaks(tbl, min_duration_s=0.0)
        if not runs:
            carry = None
            continue
        open_at = runs[-1].start_ns
        done = [bt for bt in movement_breaks(tbl) if bt.start_ns < open_at]
        cut = int(np.searchsorted(cols["epoch_start"], open_at, side="left"))
        carry = {k: cols[k][cut:].copy() for k in names}
        del cols, tbl, runs
        if done:
            yield _break_chunk(code, done)
    if carry is not None:
        bouts = movement_breaks(table(carry))
        if bouts:
            yield _break_chunk(code, bouts)


def _events(store: Store, cid: int, code: str, lo: int | None, hi: int | None) -> Iterator[Chunk]:
    evs = store.list_events(child_id=cid, start_ns=lo, end_ns=hi, include_voided=True)
    if not evs:
        return

    def ints(vals: list[Any], dtype: str = "int64") -> np.ndarray:
        return np.array([_MISSING_INT if v is None else int(v) for v in vals], dtype=dtype)

    # notes are free text and may identify a child: never exported
    yield {"child_code": _strs(code, len(evs)),
           "event_id": ints([e.id for e in evs]),
           "strategy": np.array([e.strategy for e in evs], dtype=object),
           "started_at": ints([e.started_at for e in evs]),
           "ended_at": ints([e.ended_at for e in evs]),
           "logged_at": ints([e.logged_at for e in evs]),
           "session_id": ints([e.session_id for e in evs]),
           "initiated_by": np.array([e.initiated_by or "" for e in evs], dtype=object),
           "planned": ints([e.planned for e in evs], "int8"),
           "voided": ints([e.voided for e in evs], "int8"),
           "void_reason": np.array([e.void_reason or "" for e in evs], dtype=object),
           "replaces_id": ints([e.replaces_id for e in evs])}


def _raw(store: Store, cid: int, code: str, salt: str, lo: int | None,
         hi: int | None) -> Iterator[Chunk]:
    buf: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    rows = 0
    hashes: dict[str, str] = {}

    def emit() -> Chunk:
        devs = np.concatenate([np.full(b[1].shape[0], b[0], dtype=object) for b in buf])
        times = np.concatenate([b[1] for b in buf])
        xyz = np.concatenate([b[2] for b in buf])
        return {"child_code": _strs(code, times.shape[0]), "device": devs, "time": times,
                "x_g": xyz[:, 0].copy(), "y_g": xyz[:, 1].copy(), "z_g": xyz[:, 2].copy(),
                "device_time": np.concatenate([b[3] for b in buf]),
                "frame_seq": np.concatenate([b[4] for b in buf])}

    for chunk in store.iter_raw(child_id=cid, start_ns=lo, end_ns=hi):
        h = hashes.setdefault(chunk.device_id, device_hash(chunk.device_id, salt))
        step = 1e9 / chunk.fs_hz
        times = chunk.t0_ns + np.round(np.arange(chunk.n) * step).astype(np.int64)
        keep = np.ones(chunk.n, dtype=bool)
        if hi is not None:
            keep &= times < hi
        # the device's own clock per sample (its last sample's time, stepped back) and
        # the frame sequence number, for auditing the clock mapping; missing = unknown
        dev_t = np.full(chunk.n, _MISSING_INT, dtype=np.int64)
        if chunk.device_time_ns is not None:
            dev_t = chunk.device_time_ns - np.round(
                np.arange(chunk.n - 1, -1, -1) * step).astype(np.int64)
        seq = np.full(chunk.n, _MISSING_INT if chunk.frame_seq is None else chunk.frame_seq,
                      dtype=np.int64)
        buf.append((h, times[keep], chunk.samples[keep], dev_t[keep], seq[keep]))
        rows += int(keep.sum())
        if rows >= _RAW_ROWS:
            yield emit()
            buf, rows = [], 0
    if rows:
        yield emit()


# --- writers -------------------------------------------------------------------------
def _schema(what: str, columns: Sequence[str] | None) -> list[tuple[str, str]]:
    if what == "days":
        from movereg.storage.days import DAY_COLUMNS

        schema = DAY_COLUMNS
    else:
        schema = _SCHEMAS[what]
    if columns is None:
        return schema
    unknown = set(columns) - {n for n, _ in schema}
    if unknown:
        raise ValidationError(f"unknown {what} columns {sorted(unknown)}")
    return [(n, k) for n, k in schema if n in set(columns)]


def stream_csv(what: str, chunks: Iterator[Chunk], *,
               columns: Sequence[str] | None = None) -> Iterator[bytes]:
    """CSV text (UTF-8, header row, ISO 8601 UTC times, empty cells for missing).

    ``columns`` keeps only those columns (in schema order).
    """
    schema = _schema(what, columns)
    names = [n for n, _ in schema]
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow(names)
    yield head.getvalue().encode()
    for chunk in chunks:
        n = len(next(iter(chunk.values()))) if chunk else 0
        for lo in range(0, n, _CSV_ROWS):  # format a few thousand rows at a time
            part = {k: v[lo:lo + _CSV_ROWS] for k, v in chunk.items()}
            yield _csv_rows(schema, part).encode()
            del part
        del chunk  # a chunk is not held while the next one is made


#: First characters that make a spreadsheet treat a cell as a formula (OWASP CSV
#: injection): such text cells get a leading apostrophe in CSV.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_TEXT_NOTE = ("In CSV exports a text cell that begins with =, +, -, @, a tab or a "
                 "carriage return is written with a leading apostrophe (') so that "
                 "spreadsheet programs show it as text and never run it as a formula "
                 "(e.g. a custom strategy named '=1+1' appears as '=1+1 with the "
                 "apostrophe). Numbers are written as numbers; Parquet keeps the text as "
                 "entered.")


def neutralise_cell(value: str) -> str:
    """``value`` with a leading ``'`` when it starts like a spreadsheet formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _csv_rows(schema: list[tuple[str, str]], chunk: Chunk) -> str:
    cols: list[list[Any]] = []
    for name, kind in schema:
        arr = chunk[name]
        if kind == "str":
            cols.append([neutralise_cell(str(v)) for v in arr.tolist()])
        elif kind == "time":
            cols.append(iso_utc(arr, missing=_MISSING_INT))
        elif arr.dtype.kind == "f":
            cols.append(["" if v != v else repr(v) for v in arr.tolist()])
        elif name in _NULLABLE:
            cols.append(["" if v == _MISSING_INT else v for v in arr.tolist()])
        else:
            cols.append(arr.tolist())
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(zip(*cols, strict=True))
    return out.getvalue()


def _arrow_schema(schema: list[tuple[str, str]], metadata: dict[str, str] | None) -> Any:
    import pyarrow as pa

    fields = []
    for name, kind in schema:
        if kind == "time":
            fields.append(pa.field(name, pa.timestamp("ns", tz="UTC")))
        elif kind == "str":
            fields.append(pa.field(name, pa.string()))
        else:
            fields.append(pa.field(name, pa.from_numpy_dtype(np.dtype(kind))))
    return pa.schema(fields, metadata=metadata)


def record_batch(cols: list[tuple[str, str]], schema: Any, chunk: Chunk) -> Any:
    """An Arrow RecordBatch of ``chunk`` (missing times and nullable ints as nulls)."""
    import pyarrow as pa

    arrays = []
    for name, kind in cols:
        arr = chunk[name]
        if kind == "time":
            mask = arr == _MISSING_INT
            arrays.append(pa.array(arr, type=pa.int64(), mask=mask).cast(
                pa.timestamp("ns", tz="UTC")))
        elif kind == "str":
            arrays.append(pa.array(arr.tolist(), type=pa.string()))
        elif name in _NULLABLE:
            arrays.append(pa.array(arr, mask=arr == _MISSING_INT))
        else:
            arrays.append(pa.array(arr))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def stream_parquet(what: str, chunks: Iterator[Chunk], *, read_bytes: int = 1 << 20,
                   columns: Sequence[str] | None = None,
                   metadata: dict[str, str] | None = None) -> Iterator[bytes]:
    """Parquet bytes: one row group per chunk, written by Arrow to a temporary file (not
    Python memory), then streamed in ``read_bytes`` pieces; the file is removed after.

    ``columns`` keeps only those columns; ``metadata`` goes into the file's key-value
    metadata (e.g. the epoch length and aggregation rules)."""
    import pyarrow.parquet as pq

    cols = _schema(what, columns)
    schema = _arrow_schema(cols, metadata)
    with tempfile.TemporaryDirectory(prefix="movereg-export-") as tmp:
        path = f"{tmp}/export.parquet"
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for chunk in chunks:
                writer.write_batch(record_batch(cols, schema, chunk))
                del chunk  # not held while the next one is made
        with open(path, "rb") as fh:
            while data := fh.read(read_bytes):
                yield data


def register_table(what: str, schema: Sequence[tuple[str, str]]) -> None:
    """Make another table streamable by :func:`stream_csv` / :func:`stream_parquet`.

    ``schema`` is ``[(column, kind)]`` with kind ``"time"`` (UTC ns, -1 = missing),
    ``"str"`` or a numpy dtype name. Used by the family data bundle
    (:mod:`movereg.storage.bundle`); re-registering the same schema is a no-op.
    """
    if what in _SCHEMAS and _SCHEMAS[what] != list(schema):
        raise ValidationError(f"table {what!r} is already registered with another schema")
    _SCHEMAS[what] = list(schema)
