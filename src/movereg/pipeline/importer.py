"""Import a recording file into a child's record: the same road live data takes.

``open_recording`` (reader, device clock, calibration to g) -> the one
:class:`~movereg.signal.FeatureEngine` (epochs on the live epoch grid, non-wear) ->
the store's own tables (epochs, gaps with their reasons) under one *source*, written in
ONE transaction by :meth:`movereg.storage.Store.commit_import`. While the file is read, a
writer thread stages finished epoch tables in the store's ``import_epochs`` table (bounded
memory; outside every child's record); the commit moves them into ``epochs`` inside
SQLite. A failure, a cancel or a ``kill -9`` leaves the record as it was (staged rows are
dropped when the import fails or runs again) and the import can simply be started again.

Used by ``movereg import``, the uploads (``POST /api/children/{id}/imports``, a relay's
``POST /api/relay/recordings``) and the band sync; each passes ``raw_retention_days``, so
every import keeps raw samples under the one retention setting.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, overload

import numpy as np

from movereg.errors import InputFileError, MoveregError, ValidationError
from movereg.fsutil import file_sha256
from movereg.models import Gap, SampleBlock
from movereg.storage import Store
from movereg.storage._sources import SourceRecord, import_device_id
from movereg.timeutil import device_clock_plausible

__all__ = ["CancelFlag", "ImportCancelled", "ImportInterrupted", "check_size", "file_sha256",
           "import_file", "raw_from_ns", "run_import"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
_STAGE_ROWS = 16_384
#: longest raw block an import stores, s (the raw export reads 64 blocks per query)
_RAW_BLOCK_S = 60.0
_PROGRESS_EVERY_S = 0.5

#: ``progress(fraction 0..1, message)``.
Progress = Callable[[float, str], None]


class ImportCancelled(MoveregError):
    """The import was cancelled before it was stored (nothing was stored)."""


class ImportInterrupted(ImportCancelled):
    """The process is stopping: the import stays pending and runs again at the next start."""


class CancelFlag(Protocol):
    """Anything with ``is_set()`` (a :class:`threading.Event`)."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Options:
    tz: str | None
    device: str | None
    epoch_s: float
    #: raw samples from this UTC ns on are kept (None: none); see :func:`run_import`
    raw_from_ns: int | None = None


def check_size(path: Path, size: int, max_bytes: int) -> None:
    """Reject an empty file or one over the size limit (``InputFileError``)."""
    if size == 0:
        raise InputFileError(str(path), "empty file")
    if size > max_bytes:
        raise InputFileError(str(path), f"{size / 1e9:.2f} GB is over the import limit of "
                             f"{max_bytes / 1e9:.2f} GB (setting MOVEREG_IMPORT_MAX_BYTES)")


class _Stage:
    """Finished epoch tables -> the store's staging table, and raw sample blocks -> the
    raw table under the import's own device id (no child sees them before the commit), by
    a writer thread (so SQLite and zlib work on the second core while the engine runs).
    Memory stays bounded: at most a few 16,384-row tables or raw batches wait in the
    queue."""

    def __init__(self, store: Store, source_id: int) -> None:
        self._store, self._sid = store, source_id
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=4)
        self._pending: list[Any] = []
        self._rows = 0
        self._error: BaseException | None = None
        self.n = 0
        self.raw_blocks = 0
        self.first: int | None = None
        self.end: int | None = None
        store.discard_staged(source_id)  # what an interrupted earlier run staged
        self._thread = threading.Thread(target=self._write, name=f"import-{source_id}",
                                        daemon=True)
        self._thread.start()

    def _write(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    if isinstance(item, list):
                        self._store.stage_import_raw(self._sid, item)
                    else:
                        self._store.stage_import_epochs(self._sid, item)
                except BaseException as exc:  # handed to the reading thread
                    self._error = exc

    def add_raw(self, blocks: list[SampleBlock]) -> None:
        """Queue raw sample blocks (written before the commit, under the import's device
        id, which no child's record reads until the commit assigns it)."""
        if blocks:
            self._check()
            self.raw_blocks += len(blocks)
            self._queue.put(blocks)

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def add(self, table: Any) -> None:
        if int(table.n) == 0:
            return
        self._pending.append(table)
        self._rows += int(table.n)
        if self._rows >= _STAGE_ROWS:
            self._spill()

    def _spill(self) -> None:
        self._check()
        if not self._pending:
            return
        from movereg.signal import EpochTable

        table = EpochTable.concat(self._pending)
        self._pending, self._rows = [], 0
        starts = np.asarray(table.columns["epoch_start"])
        ends = starts + np.round(np.asarray(table.columns["epoch_s"]) * 1e9).astype(np.int64)
        self.first = int(starts[0]) if self.first is None else self.first
        self.end = int(ends[-1])
        self.n += int(table.n)
        self._queue.put(table)

    def finish(self) -> None:
        """Stage what is still buffered and wait for the writer (``n``, ``first``,
        ``end`` are then final)."""
        self._spill()
        self.close()
        self._check()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def _device_type(rec: Any) -> str:
    dev = str(rec.meta.get("device") or "").strip()
    return dev or str(rec.meta.get("format") or "recording").upper()


def _check_clock(path: Path, t_ns: int | None) -> None:
    if t_ns is None:
        return
    if not device_clock_plausible(t_ns):
        year = time.gmtime(t_ns / 1e9).tm_year if -2**62 < t_ns < 2**62 else "?"
        raise InputFileError(str(path), f"the device clock says {year}: it was years off "
                             "when this recording was made, so its times cannot be placed")


def _raw_blocks(device_id: str, t0: int, x: np.ndarray, fs_hz: float, from_ns: int,
                utc_offset_s: int | None) -> list[SampleBlock]:
    """One chunk of contiguous samples as raw blocks of at most a minute (float32 g), from
    ``from_ns`` on. ``device_time_ns`` is the device's own clock at each block's last
    sample (UTC plus the clock's offset) where the file says how its clock was set."""
    dt = 1e9 / fs_hz
    n = x.shape[0]
    per = max(1, round(_RAW_BLOCK_S * fs_hz))
    skip = 0 if t0 >= from_ns else min(n, int(np.ceil((from_ns - t0) / dt)))
    out = []
    for a in range(skip, n, per):
        b = min(n, a + per)
        t_a = t0 + round(a * dt)
        dev_t = (None if utc_offset_s is None
                 else t0 + round((b - 1) * dt) + int(utc_offset_s) * 1_000_000_000)
        out.append(SampleBlock(device_id=device_id, t0_ns=t_a, fs_hz=fs_hz,
                               samples=np.asarray(x[a:b], dtype=np.float32),
                               device_time_ns=dev_t))
    return out


def _process(store: Store, src: SourceRecord, path: Path, opts: _Options,
             progress: Progress, cancel: CancelFlag | None, stop: CancelFlag | None,
             stage: _Stage) -> tuple[dict[str, Any], list[Gap]]:
    """Read -> engine -> stage; returns the source's metadata and its gaps."""
    from movereg.recordings import hash_serial, open_recording
    from movereg.signal import FeatureEngine

    rec = open_recording(path, tz=opts.tz)
    _check_clock(path, rec.t0_ns)
    ep_ns = round(opts.epoch_s * 1e9)
    total = rec.n_samples_estimate or 0
    engine: Any = None
    gaps: list[Gap] = []
    seen = 0
    last_report = 0.0
    dt = 1e9 / rec.fs_hz
    dev_id = import_device_id(src.id)
    off = rec.meta.get("utc_offset_s")
    utc_off = int(off) if isinstance(off, int | float) and np.isfinite(off) else None
    for t0, x, before in rec.gapped_chunks(_CHUNK):
        if stop is not None and stop.is_set():
            raise ImportInterrupted(f"import {src.id} interrupted: it runs again at the next "
                                    "start")
        if cancel is not None and cancel.is_set():
            raise ImportCancelled(f"import {src.id} cancelled")
        if engine is None:
            _check_clock(path, t0)
            engine = FeatureEngine(rec.fs_hz, epoch_s=opts.epoch_s)
            aligned = t0 - t0 % ep_ns  # the live epoch grid (as the hub aligns it)
            if aligned < t0:
                engine.push(np.zeros((0, 3), dtype=np.float32), aligned)
        gaps += before
        stage.add(engine.push(x, t0, before))
        if opts.raw_from_ns is not None:
            stage.add_raw(_raw_blocks(dev_id, t0, x, rec.fs_hz, opts.raw_from_ns, utc_off))
        seen += x.shape[0]
        now = time.monotonic()
        if now - last_report >= _PROGRESS_EVERY_S:
            last_report = now
            frac = min(seen / total, 1.0) if total else 0.0
            progress(0.9 * frac, f"reading {seen:,} samples")
    if engine is not None:
        stage.add(engine.flush())
    stage.finish()
    if stage.n == 0:
        raise InputFileError(str(path), "no usable samples: the file is cut off or holds no "
                             "movement data")
    qc = rec.qc
    _check_clock(path, qc.first_sample_ns)
    _check_clock(path, qc.last_sample_ns)
    damaged = [Gap(start_ns=int(a), end_ns=int(b), samples_missing=round((b - a) / dt),
                   reason=f"damaged_{d.reason}") for d in qc.damage for a, b in d.spans]
    # a damaged span is also a jump in time: keep the one gap that says why
    gaps = [g for g in gaps if not any(g.start_ns < d.end_ns and d.start_ns < g.end_ns
                                       for d in damaged)] + damaged
    serial = opts.device or qc.serial or str(rec.meta.get("serial") or "")
    meta = {
        "device_type": _device_type(rec),
        "serial_hash": hash_serial(serial, store.export_salt().encode()) if serial else None,
        "fs_hz": rec.fs_hz, "measured_fs_hz": _finite(qc.measured_fs_hz),
        "tz": qc.tz, "first_sample_ns": qc.first_sample_ns, "last_sample_ns": qc.last_sample_ns,
        "samples_read": qc.samples_read, "samples_skipped": qc.samples_skipped,
        "damage": [{"reason": d.reason, "message": d.message, "blocks": d.blocks,
                    "samples": d.samples} for d in qc.damage],
        "raw_blocks": stage.raw_blocks,
    }
    return meta, gaps


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


@overload
def raw_from_ns(raw_retention_days: float, now_ns: int | None = None) -> int: ...


@overload
def raw_from_ns(raw_retention_days: None, now_ns: int | None = None) -> None: ...


def raw_from_ns(raw_retention_days: float | None, now_ns: int | None = None) -> int | None:
    """The first UTC ns whose raw samples an import keeps under the raw-retention setting
    (``None``: keep none). The server's purge (at start-up, then hourly) deletes raw
    samples before the same cutoff (:func:`movereg.pipeline.retention.apply_retention`),
    so an import keeps raw samples exactly where live data would still hold them."""
    if raw_retention_days is None:
        return None
    now = time.time_ns() if now_ns is None else int(now_ns)
    return now - int(float(raw_retention_days) * 86_400 * 1e9)


def run_import(store: Store, source_id: int, path: Path, *, tz: str | None = None,
               device: str | None = None, epoch_s: float = 1.0,
               raw_retention_days: float | None = None,
               progress: Progress | None = None, cancel: CancelFlag | None = None,
               stop: CancelFlag | None = None, actor: str = "system") -> SourceRecord:
    """Process a registered (pending) import and store it in one transaction.

    On any failure the source is marked ``failed`` (or ``cancelled``) with one sentence,
    nothing else is stored, and the exception is raised again. ``cancel`` cancels the
    import; ``stop`` (the process is stopping) leaves it pending to run again.
    ``raw_retention_days`` keeps the raw samples (float32 g, in the raw table live data
    uses) that are younger than the raw-retention setting; ``None`` keeps none.
    ``device`` (the band's or given device id; its salted hash names the import's device,
    else the file's own serial does): pass the one registered with the import
    (:meth:`~movereg.storage.Store.begin_import`); a resumed import passes
    ``import_device`` again (:meth:`~movereg.dashboard.import_jobs.ImportJobs.resume`).
    """
    report = progress or (lambda _f, _m: None)
    src = store.get_source(source_id)

    def tell(frac: float, msg: str) -> None:
        store.set_import_progress(src.id, frac, msg)
        report(frac, msg)

    stage = _Stage(store, src.id)
    try:
        tell(0.0, "reading the file")
        opts = _Options(tz, device, epoch_s, raw_from_ns(raw_retention_days))
        meta, gaps = _process(store, src, Path(path), opts, tell, cancel, stop, stage)
        tell(0.9, "storing")
        assert stage.first is not None and stage.end is not None
        done = store.commit_import(src.id, meta=meta, gaps=gaps,
                                   span=(stage.first, stage.end), actor=actor)
        report(1.0, "done")
        return done
    except ImportInterrupted:
        stage.close()
        store.discard_staged(src.id)
        store.set_import_progress(src.id, 0.0, "interrupted: runs again at the next start")
        raise
    except ImportCancelled as exc:
        stage.close()
        store.fail_import(src.id, exc.message, status="cancelled", actor=actor)
        raise
    except (MoveregError, OSError, EOFError, ValueError) as exc:
        stage.close()
        msg = exc.message if isinstance(exc, MoveregError) else \
            f"{Path(path).name}: unreadable file ({type(exc).__name__}: {exc})"
        store.fail_import(src.id, msg, actor=actor)
        if isinstance(exc, MoveregError):
            raise
        raise InputFileError(src.file_name or str(path),
                             f"unreadable file ({type(exc).__name__}: {exc})") from None
    finally:
        stage.close()


def import_file(store: Store, child_id: int, path: Path, *, actor: str,
                tz: str | None = None, device: str | None = None, epoch_s: float = 1.0,
                max_bytes: int = 2 * 1024**3, file_name: str | None = None,
                raw_retention_days: float | None = None,
                progress: Progress | None = None) -> SourceRecord:
    """Check, register and run one import (the CLI's path; the API splits the steps).

    Raises
    ------
    AlreadyImported
        The same file is already in this child's record (nothing changes).
    InputFileError, ValidationError
        Bad input (one sentence); nothing is stored.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(str(p), "no such file")
    size = p.stat().st_size
    check_size(p, size, max_bytes)
    if not np.isfinite(epoch_s) or epoch_s <= 0:
        raise ValidationError(f"bad epoch length {epoch_s} s")
    src = store.begin_import(child_id, file_name=file_name or p.name, size_bytes=size,
                             sha256=file_sha256(p), imported_by=actor, tz=tz,
                             device=device)
    return run_import(store, src.id, p, tz=tz, device=device, epoch_s=epoch_s,
                      raw_retention_days=raw_retention_days, progress=progress, actor=actor)
