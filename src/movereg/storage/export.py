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
from typing import Any, Literal

import numpy as np

from movereg.errors import ValidationError
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.storage.store import Store

__all__ = ["EXPORT_FORMATS", "EXPORT_KINDS", "Chunk", "device_hash", "export_chunks",
           "media_type", "stream_csv", "stream_parquet"]

ExportKind = Literal["epochs", "breaks", "events", "raw"]
EXPORT_KINDS: tuple[str, ...] = ("epochs", "breaks", "events", "raw")
EXPORT_FORMATS: tuple[str, ...] = ("csv", "parquet")
Chunk = dict[str, np.ndarray]

_NS = 10**9
_EPOCH_WINDOW_NS = 6 * 3600 * _NS
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
            ("y_g", "float32"), ("z_g", "float32")],
}
_MISSING_INT = -1
#: integer columns where _MISSING_INT means "not set" (empty in CSV, null in Parquet)
_NULLABLE = frozenset({"session_id", "planned", "replaces_id"})


def media_type(fmt: str) -> str:
    """HTTP media type of an export format."""
    return "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"


def device_hash(device_id: str, salt: str) -> str:
    """Salted sha256 of a device identifier (16 hex digits)."""
    return hashlib.sha256(f"{salt}:{device_id}".encode()).hexdigest()[:16]


def export_chunks(store: Store, what: str, child_ids: Sequence[int], *,
                  start_ns: int | None = None, end_ns: int | None = None) -> Iterator[Chunk]:
    """Column chunks of an export, one child after the other, in time order."""
    if what not in EXPORT_KINDS:
        raise ValidationError(f"unknown export {what!r}", advice=f"one of {EXPORT_KINDS}")
    salt = store.export_salt()
    for cid in child_ids:
        code = store.get_child(cid).code
        if what == "epochs":
            yield from _epochs(store, cid, code, salt, start_ns, end_ns)
        elif what == "breaks":
            yield from _breaks(store, cid, code, start_ns, end_ns)
        elif what == "events":
            yield from _events(store, cid, code, start_ns, end_ns)
        else:
            yield from _raw(store, cid, code, salt, start_ns, end_ns)


def _strs(value: str, n: int) -> np.ndarray:
    return np.full(n, value, dtype=object)


def _epochs(store: Store, cid: int, code: str, salt: str, lo: int | None,
            hi: int | None) -> Iterator[Chunk]:
    bounds = store.epoch_bounds(child_id=cid, start_ns=lo, end_ns=hi)
    if bounds is None:
        return
    t, last = bounds
    while t <= last:
        cols = store.epochs(child_id=cid, start_ns=t, end_ns=t + _EPOCH_WINDOW_NS,
                            include_device=True)
        t += _EPOCH_WINDOW_NS
        n = cols["epoch_start"].shape[0]
        if n == 0:
            continue
        dev = np.array([device_hash(d, salt) for d in cols.pop("device_id").tolist()],
                       dtype=object)
        yield {"child_code": _strs(code, n), "device": dev, **cols}


def _breaks(store: Store, cid: int, code: str, lo: int | None, hi: int | None) -> Iterator[Chunk]:
    from movereg.signal import EpochTable, movement_breaks

    cols = store.epochs(child_id=cid, start_ns=lo, end_ns=hi,
                        features=["epoch_start", "epoch_s", "enmo_mg"])
    n = cols["epoch_start"].shape[0]
    if n == 0:
        return
    full = {name: cols[name] if name in cols else np.broadcast_to(np.zeros(1, dtype=dt), (n,))
            for name, dt in EPOCH_COLUMNS}
    bouts = movement_breaks(EpochTable(full))
    if not bouts:
        return
    yield {"child_code": _strs(code, len(bouts)),
           "start": np.array([b.start_ns for b in bouts], dtype=np.int64),
           "end": np.array([b.end_ns for b in bouts], dtype=np.int64),
           "duration_s": np.array([b.duration_s for b in bouts]),
           "peak_enmo_mg": np.array([b.peak_enmo_mg for b in bouts]),
           "mean_enmo_mg": np.array([b.mean_enmo_mg for b in bouts])}


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
    buf: list[tuple[str, np.ndarray, np.ndarray]] = []
    rows = 0
    hashes: dict[str, str] = {}

    def emit() -> Chunk:
        devs = np.concatenate([np.full(t.shape[0], h, dtype=object) for h, t, _ in buf])
        times = np.concatenate([t for _, t, _ in buf])
        xyz = np.concatenate([s for _, _, s in buf])
        return {"child_code": _strs(code, times.shape[0]), "device": devs, "time": times,
                "x_g": xyz[:, 0].copy(), "y_g": xyz[:, 1].copy(), "z_g": xyz[:, 2].copy()}

    for chunk in store.iter_raw(child_id=cid, start_ns=lo, end_ns=hi):
        h = hashes.setdefault(chunk.device_id, device_hash(chunk.device_id, salt))
        step = 1e9 / chunk.fs_hz
        times = chunk.t0_ns + np.round(np.arange(chunk.n) * step).astype(np.int64)
        keep = np.ones(chunk.n, dtype=bool)
        if hi is not None:
            keep &= times < hi
        buf.append((h, times[keep], chunk.samples[keep]))
        rows += int(keep.sum())
        if rows >= _RAW_ROWS:
            yield emit()
            buf, rows = [], 0
    if rows:
        yield emit()


# --- writers -------------------------------------------------------------------------
def _iso(ns: np.ndarray) -> list[str]:
    valid = ns != _MISSING_INT
    text = np.datetime_as_string(ns.astype("datetime64[ns]"), unit="us", timezone="UTC")
    return [s.replace("Z", "+00:00") if ok else "" for s, ok in zip(text.tolist(),
                                                                     valid.tolist(), strict=True)]


def stream_csv(what: str, chunks: Iterator[Chunk]) -> Iterator[bytes]:
    """CSV text (UTF-8, header row, ISO 8601 UTC times, empty cells for missing)."""
    schema = _SCHEMAS[what]
    names = [n for n, _ in schema]
    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow(names)
    yield head.getvalue().encode()
    for chunk in chunks:
        n = len(next(iter(chunk.values()))) if chunk else 0
        for lo in range(0, n, _CSV_ROWS):  # format a few thousand rows at a time
            part = {k: v[lo:lo + _CSV_ROWS] for k, v in chunk.items()}
            yield _csv_rows(schema, part).encode()


def _csv_rows(schema: list[tuple[str, str]], chunk: Chunk) -> str:
    cols: list[list[Any]] = []
    for name, kind in schema:
        arr = chunk[name]
        if kind == "time":
            cols.append(_iso(arr))
        elif arr.dtype.kind == "f":
            cols.append(["" if v != v else repr(v) for v in arr.tolist()])
        elif name in _NULLABLE:
            cols.append(["" if v == _MISSING_INT else v for v in arr.tolist()])
        else:
            cols.append(arr.tolist())
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(zip(*cols, strict=True))
    return out.getvalue()


def _arrow_schema(what: str) -> Any:
    import pyarrow as pa

    fields = []
    for name, kind in _SCHEMAS[what]:
        if kind == "time":
            fields.append(pa.field(name, pa.timestamp("ns", tz="UTC")))
        elif kind == "str":
            fields.append(pa.field(name, pa.string()))
        else:
            fields.append(pa.field(name, pa.from_numpy_dtype(np.dtype(kind))))
    return pa.schema(fields)


def stream_parquet(what: str, chunks: Iterator[Chunk], *,
                   read_bytes: int = 1 << 20) -> Iterator[bytes]:
    """Parquet bytes: one row group per chunk, written by Arrow to a temporary file (not
    Python memory), then streamed in ``read_bytes`` pieces; the file is removed after."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(what)
    with tempfile.TemporaryDirectory(prefix="movereg-export-") as tmp:
        path = f"{tmp}/export.parquet"
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for chunk in chunks:
                arrays = []
                for name, kind in _SCHEMAS[what]:
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
                writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
        with open(path, "rb") as fh:
            while data := fh.read(read_bytes):
                yield data
