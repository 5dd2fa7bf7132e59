"""Hive-partitioned Parquet datasets and the provenance every export carries.

``write_hive_parquet`` writes ``DIR/child=CODE/date=YYYY-MM-DD/part-NNNNN.parquet``: one
directory per child and day (of the row's time column, in ``tz``; UTC by default) so
DuckDB (``read_parquet('DIR/**/*.parquet', hive_partitioning=true)``), pyarrow
(``pyarrow.dataset.dataset(DIR, partitioning='hive')``) and Dask read it as one dataset
filtered by child and date. Files are written into a temporary sibling directory and
renamed into place at the end, so a failed export leaves no half dataset.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from movereg.errors import ValidationError
from movereg.fsutil import file_sha256
from movereg.storage.export import Chunk, _arrow_schema, _schema, record_batch

__all__ = ["TIME_COLUMNS", "Counted", "calibration_provenance", "file_sha256", "provenance",
           "why_empty", "write_hive_parquet", "write_json"]

#: The column whose local date partitions each export kind.
TIME_COLUMNS: dict[str, str] = {"epochs": "epoch_start", "breaks": "start",
                                "events": "started_at", "raw": "time", "days": "date"}
#: Version of the feature definitions (bumped when a column's meaning changes).
FEATURE_DEFINITIONS_VERSION = "1"


class Counted:
    """Wraps a chunk iterator and counts the rows that went through."""

    def __init__(self, chunks: Iterator[Chunk]) -> None:
        self._chunks = chunks
        self.rows = 0

    def __iter__(self) -> Iterator[Chunk]:
        for chunk in self._chunks:
            self.rows += len(next(iter(chunk.values()))) if chunk else 0
            yield chunk
            del chunk  # not held while the next one is made


def provenance(what: str, fmt: str, parameters: dict[str, Any],
               sources: Sequence[Path], *, rows: int, why_empty: str | None) -> dict[str, Any]:
    """What an export states about itself: versions, parameters, sources, time, rows."""
    from movereg import __version__

    return {"movereg_version": __version__,
            "feature_definitions_version": FEATURE_DEFINITIONS_VERSION,
            "table": what, "format": fmt, "parameters": parameters,
            "sources": [{"path": p.name, "sha256": file_sha256(p)} for p in sources
                        if p.exists()],
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rows": rows, "why_empty": why_empty}


def _dates(what: str, chunk: Chunk, tz: ZoneInfo | None) -> np.ndarray:
    col = chunk[TIME_COLUMNS[what]]
    if what == "days":
        return np.asarray(col, dtype=object)
    ns = np.asarray(col, dtype=np.int64)
    if tz is None:
        return np.datetime_as_string(ns.astype("datetime64[ns]"), unit="D").astype(object)
    return np.array([datetime.fromtimestamp(v / 1e9, tz).date().isoformat()
                     for v in ns.tolist()], dtype=object)


def write_hive_parquet(what: str, chunks: Iterator[Chunk], out_dir: Path, *,
                       columns: Sequence[str] | None = None,
                       metadata: dict[str, str] | None = None,
                       tz: str | None = None) -> list[Path]:
    """Write a hive dataset under ``out_dir`` (absent or empty); returns the files."""
    import pyarrow.parquet as pq

    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValidationError(f"{out_dir} exists and is not an empty directory",
                              advice="give a new directory for a partitioned dataset")
    zone = ZoneInfo(tz) if tz else None
    cols = _schema(what, columns)
    schema = _arrow_schema(cols, metadata)
    tmp = out_dir.with_name(out_dir.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    written: list[Path] = []
    writer: Any = None
    key: tuple[str, str] | None = None
    counter: dict[tuple[str, str], int] = {}
    try:
        for chunk in chunks:
            n = len(next(iter(chunk.values()))) if chunk else 0
            if n == 0:
                continue
            dates = _dates(what, chunk, zone)
            codes = np.asarray(chunk["child_code"], dtype=object)
            change = np.flatnonzero((dates[1:] != dates[:-1]) | (codes[1:] != codes[:-1])) + 1
            for lo, hi in zip(np.r_[0, change], np.r_[change, n], strict=True):
                part_key = (str(codes[lo]), str(dates[lo]))
                if part_key != key:
                    if writer is not None:
                        writer.close()
                    key = part_key
                    k = counter[key] = counter.get(key, -1) + 1
                    d = tmp / f"child={key[0]}" / f"date={key[1]}"
                    d.mkdir(parents=True, exist_ok=True)
                    path = d / f"part-{k:05d}.parquet"
                    written.append(path)
                    writer = pq.ParquetWriter(str(path), schema, compression="zstd")
                piece = {c: v[lo:hi] for c, v in chunk.items()}
                writer.write_batch(record_batch(cols, schema, piece))
        if writer is not None:
            writer.close()
            writer = None
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(tmp, out_dir)
    finally:
        if writer is not None:
            writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return [out_dir / p.relative_to(tmp) for p in written]


def calibration_provenance(store: Any, child_ids: Sequence[int], start_ns: int | None,
                           end_ns: int | None) -> list[dict[str, Any]] | str:
    """Which per-band calibration the live pipeline applied over the range, per band of
    these children (bands by salted hash); a sentence when none was ever applied."""
    from movereg.storage.export import device_hash
    from movereg.timeutil import iso_utc

    salt = store.export_salt()
    devices = sorted({dev for cid in child_ids
                      for dev, _lo, _hi in store._spans(None, cid, start_ns, end_ns)})
    out: list[dict[str, Any]] = []
    for use in store.calibration_uses(devices, start_ns=start_ns, end_ns=end_ns):
        row: dict[str, Any] = {"device": device_hash(use.device_id, salt),
                               "from": iso_utc([use.started_ns])[0], "calibration_id": None}
        if use.calibration is not None:
            row.update(use.calibration.summary())
            for k in ("fitted_at_ns", "span_start_ns", "span_end_ns"):
                row[k.removesuffix("_ns")] = iso_utc([row.pop(k)])[0]
        out.append(row)
    if not any(r["calibration_id"] is not None for r in out):
        return ("none applied: live bands' samples as the bands sent them (no accepted "
                "per-band calibration; see movereg calibrate)")
    return out


def why_empty(store: object, what: str, ids: list[int], research: bool,
               ranged: bool) -> str:
    """Why an export has no rows, in words a researcher can act on."""
    if not ids:
        return ("no child has current research consent for this export" if research
                else "no children in the database")
    where = " in the chosen time range" if ranged else ""
    if what == "raw":
        return (f"no raw samples stored for these children{where} (raw samples are kept "
                "only while raw recording is on and consented)")
    if what == "events":
        return f"no strategy events logged for these children{where}"
    if what == "breaks":
        return f"no movement breaks found in the stored epochs{where}"
    return f"no epochs stored for these children{where} (a child with no band yet has none)"


def write_json(path: Path, data: dict[str, Any]) -> None:
    """``data`` as indented JSON (UTF-8, trailing newline)."""
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
