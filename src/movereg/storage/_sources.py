"""Sources: the provenance of every arrival of movement data, and file imports.

A *live* source is a band that streamed (one per band, created by the database when its
first epoch or gap is stored). A *file* source is one imported recording: its epochs and
gaps are stored under the device id ``import-<source id>`` and that device is assigned to
the child over the recording's span, so every reader of a child's epochs sees them. An
import becomes visible in ONE transaction (:meth:`SourcesMixin.commit_import`): until then
only its ``sources`` row (status ``pending``/``running``) exists, so a failure, a cancel or a
``kill -9`` leaves the record exactly as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from movereg.errors import NotFoundError, ValidationError
from movereg.models import Gap, SampleBlock
from movereg.storage._audit import AuditMixin
from movereg.storage._core import now_ns
from movereg.storage._db import is_in, where
from movereg.storage._ingest import (
    EpochTableLike,
    IngestBatch,
    IngestMixin,
    _epoch_rows,
    encode_samples,
)

__all__ = ["IMPORT_DEVICE_PREFIX", "AlreadyImported", "SourceRecord", "SourcesMixin",
           "import_device_id", "upload_path", "uploads_dir"]

def uploads_dir(data_dir: Path) -> Path:
    """Where files wait while their import runs: ``<data dir>/imports/uploads`` (the
    import jobs look there at start-up to finish what a stopped server left)."""
    return data_dir / "imports" / "uploads"


def upload_path(data_dir: Path, source_id: int, suffix: str) -> Path:
    """Where the file of import ``source_id`` waits while it is processed."""
    return uploads_dir(data_dir) / f"{int(source_id)}{suffix}"


#: Device-id prefix of imported recordings' rows.
IMPORT_DEVICE_PREFIX = "import-"

_COLS = ("id", "kind", "device_id", "child_id", "file_name", "size_bytes", "sha256",
         "device_type", "serial_hash", "fs_hz", "measured_fs_hz", "tz", "first_sample_ns",
         "last_sample_ns", "samples_read", "samples_skipped", "damage", "n_epochs", "n_gaps",
         "imported_by", "created_at", "finished_at", "status", "progress", "message",
         "removed_reason", "removed_by", "removed_at", "import_device")
_SELECT = f"SELECT {', '.join(_COLS)} FROM sources"
#: Columns :meth:`SourcesMixin.commit_import` takes from the reader's QC.
_META_COLS = ("device_type", "serial_hash", "fs_hz", "measured_fs_hz", "tz",
              "first_sample_ns", "last_sample_ns", "samples_read", "samples_skipped")


def import_device_id(source_id: int) -> str:
    """The device id an imported recording's rows are stored under."""
    return f"{IMPORT_DEVICE_PREFIX}{int(source_id)}"


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One source (times UTC ns, rates Hz); see ``0005_sources.sql`` for the columns."""

    id: int
    kind: str
    device_id: str
    child_id: int | None
    file_name: str | None
    size_bytes: int | None
    sha256: str | None
    device_type: str | None
    serial_hash: str | None
    fs_hz: float | None
    measured_fs_hz: float | None
    tz: str | None
    first_sample_ns: int | None
    last_sample_ns: int | None
    samples_read: int | None
    samples_skipped: int | None
    damage: str
    n_epochs: int | None
    n_gaps: int | None
    imported_by: str | None
    created_at: int
    finished_at: int | None
    status: str
    progress: float
    message: str
    removed_reason: str | None
    removed_by: str | None
    removed_at: int | None
    #: the device id the import was started with (``run_import``'s ``device``), so a
    #: restarted server runs it again the same way; None when none was given, and once
    #: the import is stored or has failed (the record keeps ``serial_hash``)
    import_device: str | None = None

    @property
    def label(self) -> str:
        """How pages name it: ``the AX3 file week1.cwa added 12 May 2026`` / ``the live band``."""
        if self.kind == "live":
            return "the live band"
        added = datetime.fromtimestamp(self.created_at / 1e9, UTC).strftime("%d %b %Y")
        return f"the {self.device_type or 'recording'} file {self.file_name} added {added}"

    @property
    def damage_list(self) -> list[dict[str, Any]]:
        """Damage found while reading: ``[{reason, message, blocks, samples}]``."""
        out = json.loads(self.damage or "[]")
        return out if isinstance(out, list) else []


class AlreadyImported(ValidationError):
    """The same file (sha256) is already in this child's record; carries that source."""

    def __init__(self, source: SourceRecord) -> None:
        self.source = source
        super().__init__(f"{source.file_name} is already in this child's record "
                         f"(import {source.id}, {source.status})")


def _source(row: tuple[Any, ...]) -> SourceRecord:
    return SourceRecord(*row)


class SourcesMixin(IngestMixin, AuditMixin):
    """Sources, and the one-transaction import of a recording."""

    # --- reads --------------------------------------------------------------------------
    def get_source(self, source_id: int) -> SourceRecord:
        """One source (404 when missing)."""
        return _source(self._get_one("sources", f"{_SELECT} WHERE id = ?", (int(source_id),),
                                     missing=f"no import {source_id}"))

    def list_sources(self, *, child_id: int | None = None, kind: str | None = None,
                     statuses: Iterable[str] | None = None) -> list[SourceRecord]:
        """Sources, newest first, optionally of one child / kind / set of statuses."""
        clause, params = where([("child_id = ?", None if child_id is None else int(child_id)),
                                ("kind = ?", kind), is_in("status", statuses)])
        rows = self._fetch("sources", f"{_SELECT}{clause} ORDER BY id DESC", params)
        return [_source(r) for r in rows]

    def sources_by_device(self, device_ids: Iterable[str]) -> dict[str, SourceRecord]:
        """``{device_id: source}`` for the given stored device ids (live and file)."""
        ids = sorted(set(device_ids))
        if not ids:
            return {}
        rows = self._fetch(
            "sources",
            f"{_SELECT} WHERE device_id IN ({', '.join('?' * len(ids))})", ids)
        out: dict[str, SourceRecord] = {}
        for r in rows:
            s = _source(r)
            if s.kind == "file" or s.device_id not in out:
                out[s.device_id] = s
        return out

    # --- the import's life ------------------------------------------------------------
    def begin_import(self, child_id: int, *, file_name: str, size_bytes: int, sha256: str,
                     imported_by: str, tz: str | None = None,
                     device: str | None = None) -> SourceRecord:
        """Register a pending import; raises :class:`AlreadyImported` for the same file.

        ``imported_by``, ``tz`` and ``device`` (the band's or given device id) are what
        the import runs with; they are kept with it, so an import a stopped server left
        pending runs again with the same ones (:meth:`interrupted_imports`).

        Raises
        ------
        AlreadyImported
            This child already holds (or is importing) a file with this sha256.
        NotFoundError
            No such child.
        """
        with self._tx("cannot register the import") as con:
            if con.execute("SELECT 1 FROM children WHERE id = ?", (child_id,)).fetchone() is None:
                raise NotFoundError(f"no child {child_id}")
            row = con.execute(f"{_SELECT} WHERE child_id = ? AND sha256 = ? AND kind = 'file' "
                              "AND status IN ('pending', 'running', 'done')",
                              (child_id, sha256)).fetchone()
            if row is not None:
                raise AlreadyImported(_source(row))
            cur = con.execute(
                "INSERT INTO sources(kind, device_id, child_id, file_name, size_bytes, sha256, "
                "imported_by, tz, import_device, created_at, status) VALUES ('file', '', ?, ?, "
                "?, ?, ?, ?, ?, ?, 'pending')",
                (child_id, file_name, int(size_bytes), sha256, imported_by, tz,
                 device or None, now_ns()))
            sid = int(cur.lastrowid or 0)
            con.execute("UPDATE sources SET device_id = ? WHERE id = ?",
                        (import_device_id(sid), sid))
        return self.get_source(sid)

    def set_import_progress(self, source_id: int, progress: float, message: str = "") -> None:
        """Progress (0..1) of a running import, for pages that poll it."""
        with self._tx("cannot save import progress") as con:
            con.execute("UPDATE sources SET status = 'running', progress = ?, message = ? "
                        "WHERE id = ? AND status IN ('pending', 'running')",
                        (max(0.0, min(1.0, float(progress))), message, int(source_id)))

    def fail_import(self, source_id: int, message: str, *, status: str = "failed",
                    actor: str = "system") -> SourceRecord:
        """Mark a pending/running import failed or cancelled (it stored nothing)."""
        if status not in ("failed", "cancelled"):
            raise ValidationError(f"bad import status {status!r}")
        with self._tx("cannot save the import's outcome") as con:
            self.discard_staged(source_id)
            con.execute("UPDATE sources SET status = ?, message = ?, finished_at = ?, "
                        "import_device = NULL WHERE id = ? AND status IN ('pending', 'running')",
                        (status, message[:500], now_ns(), int(source_id)))
            src = self.get_source(source_id)
            self.audit(actor, f"import.{status}", child_id=src.child_id,
                       detail={"source_id": src.id, "file": src.file_name,
                               "message": message[:200]}, outcome="error")
        return src

    # --- staging: the import's epochs wait outside the child's record -----------------
    def _staging_columns(self, con: Any) -> list[str]:
        """Make ``import_epochs`` (same columns as ``epochs``, no indexes); its columns."""
        con.execute("CREATE TABLE IF NOT EXISTS import_epochs AS SELECT * FROM epochs WHERE 0")
        have = {r[1] for r in con.execute("PRAGMA table_info(import_epochs)")}
        cols = [(r[1], r[2]) for r in con.execute("PRAGMA table_info(epochs)")]
        for name, decl in cols:
            if name not in have:
                con.execute(f'ALTER TABLE import_epochs ADD COLUMN "{name}" {decl or "REAL"}')
        return [name for name, _ in cols]

    def stage_import_epochs(self, source_id: int, table: EpochTableLike) -> int:
        """Stage epochs of a running import (a short transaction; not yet in the record)."""
        sid = int(source_id)
        names, rows = _epoch_rows(import_device_id(sid), table)
        if not rows:
            return 0
        sql = (f"INSERT INTO import_epochs(device_id, {', '.join(names)}, source_id) VALUES "
               f"({', '.join('?' * (len(names) + 2))})")
        with self._tx("cannot stage the import") as con:
            self._staging_columns(con)
            con.executemany(sql, [(*r, sid) for r in rows])
        return len(rows)

    def stage_import_raw(self, source_id: int, blocks: Iterable[SampleBlock]) -> int:
        """Store raw sample blocks of a running import in the raw table live data uses,
        under the import's device id (a short transaction). No child's record reads that
        device before :meth:`commit_import` assigns it; :meth:`discard_staged` drops them."""
        dev = import_device_id(int(source_id))
        # stored uncompressed (zlib level 0): a recording resampled onto its grid hardly
        # compresses (~0.7) and compressing it would cost more than the engine's work
        rows = [(dev, int(b.t0_ns), float(b.fs_hz), int(b.samples.shape[0]),
                 encode_samples(b.samples, 0), b.device_time_ns, b.seq) for b in blocks]
        if not rows:
            return 0
        with self._tx("cannot store the import's raw samples") as con:
            con.execute("INSERT OR IGNORE INTO devices(device_id, created_at) VALUES (?, ?)",
                        (dev, now_ns()))
            con.executemany("INSERT OR IGNORE INTO raw_blocks(device_id, t0_ns, fs_hz, n, "
                            "data, device_time_ns, frame_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            rows)
        return len(rows)

    def discard_staged(self, source_id: int) -> None:
        """Drop an import's staged epochs and raw blocks (after a failure, a cancel, or
        before a rerun); only ever for an import that is not (or no longer) held."""
        with self._tx("cannot discard the staged import") as con:
            self._staging_columns(con)
            con.execute("DELETE FROM import_epochs WHERE source_id = ?", (int(source_id),))
            dev = import_device_id(int(source_id))
            if con.execute("SELECT 1 FROM assignments WHERE device_id = ?",
                           (dev,)).fetchone() is None:
                con.execute("DELETE FROM raw_blocks WHERE device_id = ?", (dev,))

    def discard_child_imports(self, con: Any, child_id: int) -> None:
        """Inside an erasure's transaction: what the child's imports hold outside their
        assigned spans (staged epochs, raw blocks of unfinished imports)."""
        self._staging_columns(con)
        rows = con.execute("SELECT id, device_id FROM sources WHERE child_id = ? AND "
                           "kind = 'file'", (int(child_id),)).fetchall()
        for sid, dev in rows:
            con.execute("DELETE FROM import_epochs WHERE source_id = ?", (int(sid),))
            for table in ("raw_blocks", "epochs", "gaps", "assignments"):
                con.execute(f"DELETE FROM {table} WHERE device_id = ?", (str(dev),))

    def commit_import(self, source_id: int, *, meta: dict[str, Any],
                      epochs: Iterable[EpochTableLike] = (), gaps: Iterable[Gap],
                      span: tuple[int, int], actor: str) -> SourceRecord:
        """Store a processed recording in ONE transaction: all of it, or nothing.

        Parameters
        ----------
        meta
            ``device_type, serial_hash, fs_hz, measured_fs_hz, tz, first_sample_ns,
            last_sample_ns, samples_read, samples_skipped`` and ``damage`` (a list).
        epochs
            Epoch tables to store besides the staged ones (:meth:`stage_import_epochs`),
            read lazily inside the transaction.
        gaps
            Gaps with their reasons (missing time, damaged spans).
        span
            ``(start_ns, end_ns)`` the child's record holds this source over.

        Raises
        ------
        ValidationError
            The import is no longer pending (cancelled), or its span lies wholly inside an
            earlier import of the same device.
        """
        sid = int(source_id)
        dev = import_device_id(sid)
        gap_list = list(gaps)
        with self._tx("cannot store the import") as con:
            src = self.get_source(sid)
            if src.status not in ("pending", "running") or src.child_id is None:
                raise ValidationError(f"import {sid} is {src.status}; start it again")
            self._check_not_inside(con, src, meta)
            con.execute("INSERT OR IGNORE INTO devices(device_id, family, label, created_at) "
                        "VALUES (?, ?, ?, ?)", (dev, meta.get("device_type"),
                                                src.file_name, now_ns()))
            n_epochs = 0
            for table in epochs:
                n_epochs += int(table.n)
                self.write_batch(IngestBatch(epochs=[(dev, table)], source_id=sid))
            cols = ", ".join(f'"{c}"' for c in self._staging_columns(con))
            n_epochs += con.execute(
                f"INSERT OR IGNORE INTO epochs({cols}) SELECT {cols} FROM import_epochs "
                "WHERE source_id = ? ORDER BY rowid", (sid,)).rowcount
            con.execute("DELETE FROM import_epochs WHERE source_id = ?", (sid,))
            if gap_list:
                self.write_batch(IngestBatch(gaps=[(dev, g) for g in gap_list], source_id=sid))
            con.execute("INSERT INTO assignments(device_id, child_id, start_ns, end_ns) "
                        "VALUES (?, ?, ?, ?)", (dev, src.child_id, int(span[0]), int(span[1])))
            vals = [meta.get(c) for c in _META_COLS]
            con.execute(
                f"UPDATE sources SET {', '.join(f'{c} = ?' for c in _META_COLS)}, damage = ?, "
                "n_epochs = ?, n_gaps = ?, status = 'done', progress = 1, message = '', "
                "finished_at = ?, import_device = NULL WHERE id = ?",
                (*vals, json.dumps(meta.get("damage") or []), n_epochs, len(gap_list),
                 now_ns(), sid))
            done = self.get_source(sid)
            self.audit(actor, "import.add", child_id=done.child_id, detail={
                "source_id": sid, "file": done.file_name, "sha256": done.sha256,
                "epochs": n_epochs, "first_ns": done.first_sample_ns,
                "last_ns": done.last_sample_ns})
        return done

    def _check_not_inside(self, con: Any, src: SourceRecord, meta: dict[str, Any]) -> None:
        serial, lo, hi = meta.get("serial_hash"), meta.get("first_sample_ns"), \
            meta.get("last_sample_ns")
        if not serial or lo is None or hi is None:
            return
        row = con.execute(
            "SELECT id, file_name FROM sources WHERE kind = 'file' AND status = 'done' AND "
            "child_id = ? AND serial_hash = ? AND first_sample_ns <= ? AND last_sample_ns >= ? "
            "AND id != ? LIMIT 1", (src.child_id, serial, int(lo), int(hi), src.id)).fetchone()
        if row is not None:
            raise ValidationError(
                f"{src.file_name}: its whole span is already in the record from the same "
                f"device ({row[1]}, import {row[0]})",
                advice="remove the earlier import first if this file should replace it")

    def remove_import(self, source_id: int, *, reason: str, actor: str) -> SourceRecord:
        """Remove an import and all its data (one transaction, audit-logged); what it hid
        shows again."""
        reason = reason.strip()
        if not reason:
            raise ValidationError("give a reason for removing the import")
        with self._tx("cannot remove the import") as con:
            src = self.get_source(source_id)
            if src.kind != "file":
                raise ValidationError("live data is not an import and cannot be removed here")
            if src.status in ("pending", "running"):
                raise ValidationError(f"import {src.id} is still {src.status}",
                                      advice="cancel it first")
            dev = src.device_id
            n = con.execute("DELETE FROM epochs WHERE device_id = ?", (dev,)).rowcount
            con.execute("DELETE FROM gaps WHERE device_id = ?", (dev,))
            con.execute("DELETE FROM raw_blocks WHERE device_id = ?", (dev,))
            con.execute("DELETE FROM assignments WHERE device_id = ?", (dev,))
            con.execute("UPDATE sources SET status = 'removed', removed_reason = ?, "
                        "removed_by = ?, removed_at = ? WHERE id = ?",
                        (reason[:500], actor, now_ns(), src.id))
            self.audit(actor, "import.remove", child_id=src.child_id, detail={
                "source_id": src.id, "file": src.file_name, "reason": reason[:200],
                "epochs": int(n)})
        return self.get_source(source_id)

    def interrupted_imports(self) -> list[SourceRecord]:
        """Imports left pending or running by a stopped process (oldest first), each
        with what it was started with (``child_id``, ``tz``, ``imported_by``,
        ``import_device``)."""
        return sorted(self.list_sources(kind="file", statuses=("pending", "running")),
                      key=lambda s: s.id)
