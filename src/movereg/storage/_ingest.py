"""Ingestion (raw blocks, epochs, gaps) and time-series queries."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from movereg.errors import NotFoundError, ValidationError
from movereg.models import Gap, SampleBlock
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.signal.table import EpochTable, columns_as_lists
from movereg.storage._core import StoreCore, now_ns
from movereg.storage._db import map_errors
from movereg.storage.records import DeviceRecord, GapRecord, RawChunk

__all__ = ["EPOCH_NAMES", "EpochTableLike", "IngestBatch", "IngestMixin"]

EPOCH_NAMES: tuple[str, ...] = tuple(name for name, _ in EPOCH_COLUMNS)
_DTYPES = dict(EPOCH_COLUMNS)
_INT_COLS = {n for n, d in EPOCH_COLUMNS if d.startswith("int")}
_MAX_NS = 2**63 - 1


class EpochTableLike(Protocol):
    """Anything with ``.columns`` (``{name: 1-D array}``) and ``.n`` rows."""

    @property
    def columns(self) -> Mapping[str, np.ndarray]: ...

    @property
    def n(self) -> int: ...


@dataclass(slots=True)
class IngestBatch:
    """What one flush writes, in one transaction.

    Attributes
    ----------
    raw
        ``(device_id, SampleBlock)`` pairs.
    epochs
        ``(device_id, EpochTable-like)`` pairs.
    gaps
        ``(device_id, Gap)`` pairs.
    source_id
        The source (``sources`` row) every row belongs to; ``None`` (live data): each
        band's live source, filled in by the database.
    """

    raw: list[tuple[str, SampleBlock]] = field(default_factory=list)
    epochs: list[tuple[str, EpochTableLike]] = field(default_factory=list)
    gaps: list[tuple[str, Gap]] = field(default_factory=list)
    source_id: int | None = None

    def __len__(self) -> int:
        return len(self.raw) + len(self.epochs) + len(self.gaps)


def encode_samples(samples: np.ndarray, level: int = 1) -> bytes:
    """float32 (n, 3) g -> zlib-compressed little-endian bytes (lossless).

    ``level`` 0 stores without compressing (still a zlib stream :func:`decode_samples`
    reads): resampled file data hardly compresses (~0.7) at ~15x the cost of level 0.
    """
    arr = np.ascontiguousarray(samples, dtype="<f4")
    return zlib.compress(arr.tobytes(), level)


def decode_samples(data: bytes, n: int) -> np.ndarray:
    """Inverse of :func:`encode_samples`: (n, 3) float32."""
    return np.frombuffer(zlib.decompress(data), dtype="<f4").reshape(n, 3).astype(np.float32)


def _epoch_rows(device_id: str, table: EpochTableLike) -> tuple[list[str], list[tuple[Any, ...]]]:
    # an EpochTable converts its (packed) columns to lists in one go; other tables have
    # their columns checked and converted here
    cols = columns_as_lists(table)
    if "epoch_start" not in cols or "epoch_s" not in cols:
        raise ValidationError("epoch table needs epoch_start and epoch_s columns")
    unknown = set(cols) - set(EPOCH_NAMES)
    if unknown:
        raise ValidationError(f"unknown epoch columns {sorted(unknown)}")
    names = [n for n in EPOCH_NAMES if n in cols]
    n = int(table.n)
    lists = []
    for name in names:
        col = cols[name]
        if isinstance(col, list):
            if len(col) != n:
                raise ValidationError(f"epoch column {name!r} has {len(col)} rows, expected {n}")
            lists.append(col)
            continue
        arr = np.asarray(col)
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValidationError(f"epoch column {name!r} has shape {arr.shape}, expected ({n},)")
        lists.append(arr.tolist())
    return names, [(device_id, *row) for row in zip(*lists, strict=True)]


class IngestMixin(StoreCore):
    """Raw blocks, epochs and gaps."""

    # --- writes -------------------------------------------------------------------
    def write_batch(self, batch: IngestBatch) -> None:
        """Write a batch in ONE transaction; re-writing the same epochs/blocks is a no-op.

        Raises
        ------
        ValidationError
            A malformed epoch table or sample block (nothing is written).
        StorageError
            Disk full, locked or damaged database (nothing is written).
        """
        raw_rows = []
        for dev, blk in batch.raw:
            s = np.asarray(blk.samples)
            if s.ndim != 2 or s.shape[1] != 3 or not blk.fs_hz > 0:
                raise ValidationError(f"bad sample block from {dev}: shape {s.shape}, "
                                      f"fs {blk.fs_hz} Hz")
            raw_rows.append((dev, int(blk.t0_ns), float(blk.fs_hz), int(s.shape[0]),
                             encode_samples(s), blk.device_time_ns,
                             blk.seq))
        epoch_groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for dev, table in batch.epochs:
            names, rows = _epoch_rows(dev, table)
            if batch.source_id is not None:
                names, rows = [*names, "source_id"], [(*r, batch.source_id) for r in rows]
            epoch_groups.setdefault(tuple(names), []).extend(rows)
        gap_rows = [(dev, int(g.start_ns), int(g.end_ns), int(g.samples_missing), str(g.reason),
                     batch.source_id) for dev, g in batch.gaps]
        devices = {d for d, _ in batch.raw} | {d for d, _ in batch.epochs} | \
            {d for d, _ in batch.gaps}
        if not devices:
            return
        ts = now_ns()
        with self._tx("cannot write sensor data") as con:
            con.executemany("INSERT OR IGNORE INTO devices(device_id, created_at) VALUES (?, ?)",
                            [(d, ts) for d in sorted(devices)])
            if raw_rows:
                con.executemany("INSERT OR IGNORE INTO raw_blocks(device_id, t0_ns, fs_hz, n, "
                                "data, device_time_ns, frame_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                raw_rows)
            for cols, rows in epoch_groups.items():
                sql = (f"INSERT OR IGNORE INTO epochs(device_id, {', '.join(cols)}) VALUES "
                       f"({', '.join('?' * (len(cols) + 1))})")
                con.executemany(sql, rows)
            if gap_rows:
                con.executemany("INSERT OR IGNORE INTO gaps(device_id, start_ns, end_ns, "
                                "samples_missing, reason, source_id) VALUES (?, ?, ?, ?, ?, ?)",
                                gap_rows)

    # --- devices and assignments --------------------------------------------------------
    def upsert_device(self, device_id: str, *, family: str | None = None,
                      label: str | None = None) -> DeviceRecord:
        """Create or update a band record."""
        with self._tx("cannot save device") as con:
            con.execute("INSERT INTO devices(device_id, family, label, created_at) VALUES "
                        "(?, ?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET "
                        "family = COALESCE(excluded.family, family), "
                        "label = COALESCE(excluded.label, label)",
                        (device_id, family, label, now_ns()))
        return self.get_device(device_id)

    def get_device(self, device_id: str) -> DeviceRecord:
        """One band, with the child it is assigned to now."""
        for d in self.list_devices():
            if d.device_id == device_id:
                return d
        raise NotFoundError(f"no device {device_id!r}")

    def list_devices(self) -> list[DeviceRecord]:
        """Every known band."""
        rows = self._fetch(
            "devices",
            "SELECT d.device_id, d.family, d.label, d.created_at, a.child_id FROM devices d "
            "LEFT JOIN assignments a ON a.device_id = d.device_id AND a.end_ns IS NULL "
            "WHERE d.device_id NOT IN (SELECT device_id FROM sources WHERE kind = 'file') "
            "ORDER BY d.device_id")
        return [DeviceRecord(*r) for r in rows]

    def assign_device(self, device_id: str, child_id: int, *, at_ns: int | None = None) -> None:
        """Assign a band to a child from ``at_ns`` on (ends any open assignment).

        The default (now) is floored to the whole second, so the epoch being recorded when
        the band is assigned belongs to the new wearer.
        """
        at = now_ns() // 10**9 * 10**9 if at_ns is None else int(at_ns)
        with self._tx("cannot assign device") as con:
            if con.execute("SELECT 1 FROM children WHERE id = ?", (child_id,)).fetchone() is None:
                raise NotFoundError(f"no child {child_id}")
            con.execute("INSERT OR IGNORE INTO devices(device_id, created_at) VALUES (?, ?)",
                        (device_id, at))
            open_row = con.execute("SELECT child_id FROM assignments WHERE device_id = ? AND "
                                   "end_ns IS NULL", (device_id,)).fetchone()
            if open_row is not None and int(open_row[0]) == child_id:
                return  # already assigned to this child
            con.execute("UPDATE assignments SET end_ns = MAX(start_ns, ?) WHERE device_id = ? "
                        "AND end_ns IS NULL", (at, device_id))
            con.execute("INSERT INTO assignments(device_id, child_id, start_ns) VALUES (?, ?, ?)",
                        (device_id, child_id, at))

    def unassign_device(self, device_id: str, *, at_ns: int | None = None) -> None:
        """End the band's open assignment, if any."""
        at = now_ns() if at_ns is None else int(at_ns)
        with self._tx("cannot unassign device") as con:
            con.execute("UPDATE assignments SET end_ns = MAX(start_ns, ?) WHERE device_id = ? "
                        "AND end_ns IS NULL", (at, device_id))

    def device_child(self, device_id: str, at_ns: int | None = None) -> int | None:
        """The child wearing ``device_id`` at ``at_ns`` (now by default)."""
        at = now_ns() if at_ns is None else int(at_ns)
        row = self._fetch_one(
            "assignments",
            "SELECT child_id FROM assignments WHERE device_id = ? AND start_ns <= ? AND "
            "(end_ns IS NULL OR end_ns > ?) ORDER BY start_ns DESC LIMIT 1",
            (device_id, at, at))
        return None if row is None else int(row[0])

    def _spans(self, device_id: str | None, child_id: int | None, start_ns: int | None,
               end_ns: int | None) -> list[tuple[str, int, int]]:
        """(device, from, to) spans to read for a device or a child's assignments."""
        lo = -_MAX_NS if start_ns is None else int(start_ns)
        hi = _MAX_NS if end_ns is None else int(end_ns)
        if (device_id is None) == (child_id is None):
            raise ValidationError("give exactly one of device_id and child_id")
        if device_id is not None:
            return [(device_id, lo, hi)]
        rows = self._fetch(
            "assignments",
            "SELECT device_id, start_ns, COALESCE(end_ns, ?) FROM assignments "
            "WHERE child_id = ? AND start_ns < ? AND (end_ns IS NULL OR end_ns > ?) "
            "ORDER BY start_ns", (_MAX_NS, child_id, hi, lo))
        return [(str(d), max(lo, int(s)), min(hi, int(e))) for d, s, e in rows]

    # --- epochs -------------------------------------------------------------------
    def epochs(self, *, device_id: str | None = None, child_id: int | None = None,
               start_ns: int | None = None, end_ns: int | None = None,
               features: Sequence[str] | None = None,
               include_device: bool = False) -> dict[str, np.ndarray]:
        """Epoch rows in ``[start_ns, end_ns)`` for a device or a child (via assignments).

        Returns ``{name: array}`` with ``epoch_start`` (int64 UTC ns), ``epoch_s`` and the
        selected features (all by default) in the schema's dtypes, sorted by time; floats
        are NaN where undefined. ``device_id`` (object array) is added when asked.
        """
        names = list(EPOCH_NAMES) if features is None else list(features)
        bad = [n for n in names if n not in _DTYPES]
        if bad:
            raise ValidationError(f"unknown features {bad}",
                                  advice=f"choose from {', '.join(EPOCH_NAMES)}")
        for must in ("epoch_s", "epoch_start"):
            if must not in names:
                names.insert(0, must)
        spans = self._spans(device_id, child_id, start_ns, end_ns)
        exprs = [f"COALESCE({n}, -1)" if n in _INT_COLS else n for n in names]
        rows: list[tuple[Any, ...]] = []
        if spans:
            where = " OR ".join("(device_id = ? AND epoch_start >= ? AND epoch_start < ?)"
                                for _ in spans)
            params = [p for span in spans for p in span]
            rows = self._fetch(
                "epochs",
                f"SELECT device_id, {', '.join(exprs)} FROM epochs WHERE {where} "
                "ORDER BY epoch_start, device_id", params)
        out: dict[str, np.ndarray] = {}
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(names) + 1)]
        for i, name in enumerate(names, start=1):
            out[name] = np.array(cols[i], dtype=np.dtype(_DTYPES[name]))
        if include_device:
            out["device_id"] = np.array(cols[0], dtype=object)
        return out

    def epoch_table(self, *, device_id: str | None = None, child_id: int | None = None,
                    start_ns: int | None = None, end_ns: int | None = None) -> EpochTable:
        """Every schema column of the epochs in ``[start_ns, end_ns)`` as an
        :class:`~movereg.signal.EpochTable` (what analysis and the pages read); see
        :meth:`epochs` for a chosen subset of columns."""
        return EpochTable(self.epochs(device_id=device_id, child_id=child_id,
                                      start_ns=start_ns, end_ns=end_ns))

    def epoch_bounds(self, *, device_id: str | None = None, child_id: int | None = None,
                     start_ns: int | None = None,
                     end_ns: int | None = None) -> tuple[int, int] | None:
        """(first, last) ``epoch_start`` in range for a device or child, or None."""
        lo_all: int | None = None
        hi_all: int | None = None
        for dev, lo, hi in self._spans(device_id, child_id, start_ns, end_ns):
            first, last = self._fetch(
                "epochs",
                "SELECT MIN(epoch_start), MAX(epoch_start) FROM epochs WHERE device_id = ? "
                "AND epoch_start >= ? AND epoch_start < ?", (dev, lo, hi))[0]
            if first is None:
                continue
            lo_all = int(first) if lo_all is None else min(lo_all, int(first))
            hi_all = int(last) if hi_all is None else max(hi_all, int(last))
        return None if lo_all is None or hi_all is None else (lo_all, hi_all)

    def epoch_lengths(self, *, device_id: str | None = None, child_id: int | None = None,
                      start_ns: int | None = None, end_ns: int | None = None) -> set[float]:
        """The distinct stored epoch lengths (s) in range for a device or child."""
        out: set[float] = set()
        for dev, lo, hi in self._spans(device_id, child_id, start_ns, end_ns):
            rows = self._fetch(
                "epochs",
                "SELECT DISTINCT epoch_s FROM epochs WHERE device_id = ? "
                "AND epoch_start >= ? AND epoch_start < ?", (dev, lo, hi))
            out.update(float(r[0]) for r in rows)
        return out

    def count_epochs(self, device_id: str) -> tuple[int, int]:
        """(rows, distinct (epoch_start, epoch_s)) for a device: equal when no duplicates."""
        with map_errors("cannot count epochs"):
            row = self._read().execute(
                "SELECT COUNT(*), COUNT(DISTINCT epoch_start || '/' || epoch_s) FROM epochs "
                "WHERE device_id = ?", (device_id,)).fetchone()
        return int(row[0]), int(row[1])

    # --- raw samples --------------------------------------------------------------
    def iter_raw(self, *, device_id: str | None = None, child_id: int | None = None,
                 start_ns: int | None = None, end_ns: int | None = None,
                 page_blocks: int = 64) -> Iterator[RawChunk]:
        """Stored raw blocks whose first sample is in ``[start_ns, end_ns)``, in time order.

        Pages through the table by key, ``page_blocks`` blocks per query, so memory stays
        bounded whatever the range; safe to consume from different threads.
        """
        for dev, lo, hi in self._spans(device_id, child_id, start_ns, end_ns):
            last_t0 = lo - 1
            while True:
                rows = self._fetch(
                    "raw samples",
                    "SELECT t0_ns, fs_hz, n, data, device_time_ns, frame_seq "
                    "FROM raw_blocks WHERE device_id = ? "
                    "AND t0_ns > ? AND t0_ns < ? ORDER BY t0_ns LIMIT ?",
                    (dev, last_t0, hi, page_blocks))
                if not rows:
                    break
                for t0, fs, n, data, dev_t, seq in rows:
                    yield RawChunk(dev, int(t0), float(fs), decode_samples(data, int(n)),
                                   None if dev_t is None else int(dev_t),
                                   None if seq is None else int(seq))
                last_t0 = int(rows[-1][0])

    def delete_raw_before(self, cutoff_ns: int) -> int:
        """Retention: delete raw blocks whose first sample is before ``cutoff_ns`` (epochs,
        gaps and events stay). Returns the number of blocks removed.

        Band by band on the ``(device_id, t0_ns)`` index: with nothing to delete this is a
        few index look-ups per band, not a scan of every raw block under the write lock
        (it runs every hour while the server runs)."""
        n = 0
        with self._tx("cannot apply raw-data retention") as con:
            dev = con.execute("SELECT MIN(device_id) FROM raw_blocks").fetchone()[0]
            while dev is not None:
                n += con.execute("DELETE FROM raw_blocks WHERE device_id = ? AND t0_ns < ?",
                                 (dev, int(cutoff_ns))).rowcount
                dev = con.execute("SELECT MIN(device_id) FROM raw_blocks WHERE device_id > ?",
                                  (dev,)).fetchone()[0]
        return n

    def last_sample_end_ns(self, device_id: str) -> int | None:
        """Exclusive end (UTC ns) of the device's last stored raw block, or None."""
        row = self._fetch_one(
            "raw samples",
            "SELECT t0_ns, fs_hz, n FROM raw_blocks WHERE device_id = ? "
            "ORDER BY t0_ns DESC LIMIT 1", (device_id,))
        if row is None:
            return None
        return int(row[0]) + round(int(row[2]) * 1e9 / float(row[1]))

    # --- gaps ---------------------------------------------------------------------
    def gaps(self, *, device_id: str | None = None, child_id: int | None = None,
             start_ns: int | None = None, end_ns: int | None = None) -> list[GapRecord]:
        """Gaps overlapping ``[start_ns, end_ns)`` for a device or a child."""
        out: list[GapRecord] = []
        for dev, lo, hi in self._spans(device_id, child_id, start_ns, end_ns):
            rows = self._fetch(
                "gaps",
                "SELECT device_id, start_ns, end_ns, samples_missing, reason FROM gaps "
                "WHERE device_id = ? AND end_ns > ? AND start_ns < ? ORDER BY start_ns",
                (dev, lo, hi))
            out.extend(GapRecord(*r) for r in rows)
        out.sort(key=lambda g: g.start_ns)
        return out
