"""Sync bands that record on their own: their recordings come into the children's records.

For one band (``sync now`` on the bands page, or the background scan every
``Settings.band_sync_interval_min`` minutes; 0 = off) :class:`BandSync`:

1. opens the band (a :class:`RecorderOpener`: Bluetooth, or the demo's simulated bands),
   reads its status (memory, battery; saved, and the device alerts ``band_memory_full`` /
   ``battery_low`` raised or cleared through the hub's alert API);
2. finishes what an earlier sync left: a recording already imported but still on the band
   is removed (never imported again);
3. downloads each recording with progress and checks it
   (:func:`~movereg.sensors.offline_fetch.fetch_recordings`), decides its child by the
   band's assignment **at the time of recording**, imports it through the import path
   (:func:`~movereg.pipeline.importer.run_import`: one transaction, keyed by sha256) into
   that child's record for the recording's span, and only after that import committed
   removes it from the band.

A link cut mid-download resumes next time with nothing doubled; a busy band is tried again
after ``band_sync_retry_min`` minutes; a recording the band has not finished writing
waits for the next sync. Every step is in the ``band_recordings`` bookkeeping; starts,
stops, syncs and removals are audit-logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from movereg.config import Settings
from movereg.errors import (
    BluetoothUnavailableError,
    ConnectionLostError,
    DeviceNotFoundError,
    MoveregError,
    SensorError,
    ValidationError,
)
from movereg.sensors.offline import (
    BandBusyError,
    BandRecording,
    OfflineRecorder,
    RecorderStatus,
)
from movereg.sensors.offline_fetch import FetchedRecording, discard_spooled, fetch_recordings
from movereg.storage import AlreadyImported, BandRecordingRecord, SourceRecord, Store

__all__ = ["AlertSink", "BandSync", "RecorderOpener", "SyncProgress", "default_rate",
           "sync_words"]

log = logging.getLogger(__name__)

#: a recording that failed this many times is left alone (its reason stays on the page)
MAX_ATTEMPTS = 3
_NS = 1_000_000_000


class RecorderOpener(Protocol):
    """Reaches bands that record on their own."""

    def can_record(self, device_id: str, family: str | None) -> bool:
        """True when the band's family records on the band (and it can be reached)."""
        ...

    def open(self, device_id: str, family: str | None
             ) -> AbstractAsyncContextManager[OfflineRecorder]:
        """Connect and yield the band's recorder; raises
        :class:`~movereg.errors.DeviceNotFoundError` when the band is out of range."""
        ...


class AlertSink(Protocol):
    """Where device alerts go: the hub (:meth:`movereg.pipeline.Hub.raise_alert` and
    ``clear_alert``: stored, listed, published and audit-logged)."""

    async def raise_alert(self, kind: str, device_id: str | None, text: str, *,
                          child_id: int | None = None) -> Any:
        """Raise (or keep) the alert ``kind`` for ``device_id``."""
        ...

    async def clear_alert(self, kind: str, device_id: str | None) -> Any:
        """End the alert ``kind`` for ``device_id`` if it is raised."""
        ...


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Where a band's sync is (times UTC ns; bytes of the recording being downloaded)."""

    device_id: str
    running: bool
    phase: str
    recording: int = 0
    recordings: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    imported: int = 0
    started_ns: int = 0
    finished_ns: int | None = None
    ok: bool | None = None
    message: str = ""


#: The rate a family's idle ``RecorderStatus.bytes_per_hour`` refers to, Hz (the seam does
#: not say; these are the families' defaults: Polar 52 Hz, MetaWear 50 Hz).
_DEFAULT_RATES = {"polar_pmd": 52.0, "metawear": 50.0, "simulated": 52.0}


def default_rate(family: str, rates: tuple[float, ...]) -> float | None:
    """The rate (Hz) an idle band's bytes-per-hour figure is given at."""
    if family in _DEFAULT_RATES:
        return _DEFAULT_RATES[family]
    return max(rates) if rates else None


def sync_words(imported: int, removed: int, waiting: int, failed: int) -> str:
    """The outcome of a sync in plain words."""
    if imported == 0 and failed == 0 and waiting == 0:
        return "Nothing new on the band."
    parts = []
    if imported:
        parts.append(f"{imported} recording{'s' if imported != 1 else ''} added to the "
                     "child's record")
    if removed:
        parts.append(f"{removed} removed from the band")
    if waiting:
        parts.append(f"{waiting} still being written by the band (next sync)")
    if failed:
        parts.append(f"{failed} could not be read (see the list)")
    return "; ".join(parts) + "."


def _stopped_words(exc: BaseException) -> str:
    if isinstance(exc, BandBusyError):
        return "The band was busy; it is tried again in a few minutes."
    if isinstance(exc, ConnectionLostError):
        return ("The connection to the band dropped; the sync continues where it stopped "
                "next time (nothing is doubled).")
    if isinstance(exc, DeviceNotFoundError):
        return "The band is not in range: bring it near this computer and try again."
    if isinstance(exc, BluetoothUnavailableError):
        return "Bluetooth is not available on this computer."
    return str(getattr(exc, "message", "") or exc)


class BandSync:
    """The sync service of one server (``app.state.band_sync``).

    Parameters
    ----------
    store
        The store.
    settings
        ``band_sync_interval_min`` (0 = no background scan), ``band_sync_retry_min``,
        ``band_memory_alert_pct``, ``alert_battery_pct``, ``epoch_s``, ``data_dir``.
    opener
        How bands are reached.
    alerts
        Where device alerts go (the hub; None: not raised).
    """

    def __init__(self, store: Store, settings: Settings, opener: RecorderOpener, *,
                 alerts: AlertSink | None = None) -> None:
        self.store = store
        self.settings = settings
        self.opener = opener
        self.alerts = alerts
        self.spool_dir = settings.data_dir / "band_sync" / "spool"
        self._locks: dict[str, asyncio.Lock] = {}
        self._progress: dict[str, SyncProgress] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scanner: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start the background scan (when ``band_sync_interval_min`` > 0)."""
        interval = float(getattr(self.settings, "band_sync_interval_min", 0.0)) * 60.0
        if interval > 0 and self._scanner is None:
            self._scanner = asyncio.create_task(self._scan_loop(interval),
                                                name="movereg-band-sync")

    async def stop(self) -> None:
        """Stop the scan and running syncs (what they left resumes next time)."""
        tasks = [t for t in (self._scanner, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._scanner = None
        self._tasks.clear()

    async def _scan_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.scan_once()
            except Exception:   # a scan never stops the server
                log.exception("band sync scan failed")

    # --- what the pages ask --------------------------------------------------------------
    def progress(self, device_id: str) -> SyncProgress | None:
        """The running or last sync of a band in this process (None: none yet)."""
        return self._progress.get(device_id)

    def family(self, device_id: str) -> str | None:
        """The band's family as stored (None: unknown band)."""
        for d in self.store.list_devices():
            if d.device_id == device_id:
                return d.family
        rec = self.store.band_recorder(device_id)
        return None if rec is None else rec.family

    def can_record(self, device_id: str, family: str | None = None) -> bool:
        """True when the band records on its own (its family and the opener say so)."""
        return self.opener.can_record(device_id, family or self.family(device_id))

    def _lock(self, device_id: str) -> asyncio.Lock:
        return self._locks.setdefault(device_id, asyncio.Lock())

    # --- controlling the band ----------------------------------------------------------
    async def status(self, device_id: str) -> RecorderStatus:
        """Ask the band for its status (saved; alerts raised or cleared)."""
        fam = await asyncio.to_thread(self.family, device_id)
        async with self._lock(device_id), self.opener.open(device_id, fam) as rec:
            return await self._read_status(rec, fam)

    async def start_recording(self, device_id: str, rate_hz: float, *, actor: str,
                              child_id: int | None) -> RecorderStatus:
        """Set the band's clock, then start recording on the band at ``rate_hz`` (Hz).

        Raises
        ------
        ValidationError
            The band cannot record at that rate.
        movereg.sensors.offline.BandMemoryFullError
            Too little free memory to start.
        """
        fam = await asyncio.to_thread(self.family, device_id)
        async with self._lock(device_id), self.opener.open(device_id, fam) as rec:
            rates = tuple(float(r) for r in rec.rates_hz())
            if not any(abs(float(rate_hz) - r) < 1e-6 for r in rates):
                raise ValidationError(f"the band records at {', '.join(f'{r:g}' for r in rates)}"
                                      f" Hz, not {rate_hz:g} Hz")
            await rec.set_clock(time.time_ns())
            await rec.start_recording(float(rate_hz))
            await asyncio.to_thread(self.store.note_recording_started, device_id,
                                    family=fam, rate_hz=float(rate_hz), actor=actor,
                                    child_id=child_id)
            return await self._read_status(rec, fam)

    async def stop_recording(self, device_id: str, *, actor: str,
                             child_id: int | None) -> RecorderStatus:
        """Stop the band's own recording (what it holds stays until synced)."""
        fam = await asyncio.to_thread(self.family, device_id)
        async with self._lock(device_id), self.opener.open(device_id, fam) as rec:
            await rec.stop_recording()
            await asyncio.to_thread(self.store.note_recording_stopped, device_id,
                                    actor=actor, child_id=child_id)
            return await self._read_status(rec, fam)

    async def _read_status(self, rec: OfflineRecorder, fam: str | None) -> RecorderStatus:
        st = await rec.status()
        family = str(rec.family)
        await asyncio.to_thread(
            self.store.save_recorder_status, rec.device_id, family=fam or family,
            recording=st.recording, rate_hz=st.rate_hz, free_bytes=st.free_bytes,
            total_bytes=st.total_bytes, battery_pct=st.battery_pct,
            bytes_per_hour=st.bytes_per_hour,
            bph_rate_hz=st.rate_hz or default_rate(family, rec.rates_hz()))
        await self._check_alerts(rec.device_id, st)
        return st

    async def _check_alerts(self, device_id: str, st: RecorderStatus) -> None:
        """``band_memory_full`` and ``battery_low`` raised or cleared from the status."""
        if self.alerts is None:
            return
        child = await asyncio.to_thread(self.store.device_child, device_id)
        s = self.settings
        pct = None
        if st.free_bytes is not None and st.total_bytes:
            pct = 100.0 * st.free_bytes / st.total_bytes
        if pct is not None and pct <= float(getattr(s, "band_memory_alert_pct", 10.0)):
            hours = st.hours_left()
            left = "" if hours is None else f", about {hours:.1f} h of recording left"
            await self.alerts.raise_alert(
                "band_memory_full", device_id, f"Band {device_id}: memory nearly full "
                f"({pct:.0f} % free{left}); sync it to make room", child_id=child)
        else:
            await self.alerts.clear_alert("band_memory_full", device_id)
        if st.battery_pct is not None and st.battery_pct <= s.alert_battery_pct:
            await self.alerts.raise_alert(
                "battery_low", device_id, f"Band {device_id}: battery low "
                f"({st.battery_pct} %); charge it before it records again", child_id=child)
        else:
            await self.alerts.clear_alert("battery_low", device_id)

    # --- sync ----------------------------------------------------------------------------
    def sync_now(self, device_id: str, *, actor: str) -> SyncProgress:
        """Start a sync of one band in the background (or return the running one)."""
        cur = self._progress.get(device_id)
        if cur is not None and cur.running:
            return cur
        prog = SyncProgress(device_id, True, "connecting to the band",
                            started_ns=time.time_ns())
        self._progress[device_id] = prog
        task = asyncio.get_running_loop().create_task(
            self.sync_band(device_id, actor=actor), name=f"movereg-sync-{device_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return prog

    async def scan_once(self, *, actor: str = "band sync") -> list[str]:
        """Sync every assigned band that can record and is in range (the background scan);
        returns the bands synced."""
        done = []
        for dev in await asyncio.to_thread(self._candidates):
            cur = self._progress.get(dev)
            if self._lock(dev).locked() or (cur is not None and cur.running):
                continue
            prog = await self.sync_band(dev, actor=actor, quiet=True)
            if prog.ok is not None:
                done.append(dev)
        return done

    def _candidates(self) -> list[str]:
        out = []
        for d in self.store.list_devices():
            if d.child_id is not None and self.opener.can_record(d.device_id, d.family):
                out.append(d.device_id)
        for r in self.store.list_band_recorders():
            if r.device_id not in out and self.opener.can_record(r.device_id, r.family) \
                    and self.store.device_child(r.device_id) is not None:
                out.append(r.device_id)
        return out

    def _set(self, device_id: str, **changes: Any) -> SyncProgress:
        cur = self._progress.get(device_id) or SyncProgress(device_id, True, "",
                                                             started_ns=time.time_ns())
        new = replace(cur, **changes)
        self._progress[device_id] = new
        return new

    async def sync_band(self, device_id: str, *, actor: str,
                        quiet: bool = False) -> SyncProgress:
        """Sync one band to the end; returns the final progress (``ok`` None when the band
        was out of range during a quiet background scan)."""
        self._set(device_id, running=True, phase="connecting to the band",
                  started_ns=time.time_ns(), finished_ns=None, ok=None, message="",
                  imported=0, recording=0, recordings=0, bytes_done=0, bytes_total=0)
        counts = {"imported": 0, "removed": 0, "waiting": 0, "failed": 0}
        fam = await asyncio.to_thread(self.family, device_id)
        try:
            async with self._lock(device_id), self.opener.open(device_id, fam) as rec:
                await self._sync_open(rec, fam, actor, counts)
        except (DeviceNotFoundError, BluetoothUnavailableError) as exc:
            if quiet:   # a band away from the clinic is the normal case for a scan
                return self._set(device_id, running=False, phase="not in range",
                                 finished_ns=time.time_ns(), ok=None,
                                 message=_stopped_words(exc))
            return await self._finish(device_id, actor, False, _stopped_words(exc), counts)
        except BandBusyError as exc:
            self._retry_later(device_id, actor)
            return await self._finish(device_id, actor, False, _stopped_words(exc), counts)
        except (SensorError, MoveregError) as exc:
            return await self._finish(device_id, actor, False, _stopped_words(exc), counts)
        except asyncio.CancelledError:
            self._set(device_id, running=False, phase="stopped", finished_ns=time.time_ns(),
                      ok=False, message="The sync stopped with the server; it continues "
                      "next time.")
            raise
        except Exception as exc:
            log.exception("sync of %s failed", device_id)
            return await self._finish(device_id, actor, False,
                                      f"The sync stopped on an internal error ({exc}).", counts)
        ok = counts["failed"] == 0
        return await self._finish(device_id, actor, ok, sync_words(**counts), counts)

    async def _finish(self, device_id: str, actor: str, ok: bool, message: str,
                      counts: dict[str, int]) -> SyncProgress:
        def save() -> None:
            self.store.note_sync(device_id, ok=ok, message=message)
            self.store.audit(actor, "band.sync", child_id=self.store.device_child(device_id),
                             detail={"device_id": device_id, **counts, "message": message},
                             outcome="ok" if ok else "error")
        await asyncio.to_thread(save)
        return self._set(device_id, running=False, phase="done" if ok else "stopped",
                         finished_ns=time.time_ns(), ok=ok, message=message,
                         imported=counts["imported"])

    def _retry_later(self, device_id: str, actor: str) -> None:
        delay = float(getattr(self.settings, "band_sync_retry_min", 2.0)) * 60.0

        async def again() -> None:
            await asyncio.sleep(delay)
            cur = self._progress.get(device_id)
            if cur is None or not cur.running:
                await self.sync_band(device_id, actor=actor, quiet=True)

        task = asyncio.get_running_loop().create_task(again(), name=f"retry-{device_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync_open(self, rec: OfflineRecorder, fam: str | None, actor: str,
                         counts: dict[str, int]) -> None:
        dev = rec.device_id
        self._set(dev, phase="reading the band's status")
        await self._read_status(rec, fam)
        self._set(dev, phase="listing the band's recordings")
        listed = await rec.list_recordings()
        rows = await asyncio.to_thread(self._note_listed, dev, listed, fam)
        skip: set[str] = set()
        for r in listed:
            row = rows[r.recording_id]
            if row.state in ("imported", "removed"):   # an earlier sync stopped before removing
                await self._remove(rec, r, row, actor)
                counts["removed"] += 1
                skip.add(r.recording_id)
            elif row.state == "failed" and row.attempts >= MAX_ATTEMPTS:
                skip.add(r.recording_id)
        todo = [r for r in listed if r.recording_id not in skip]
        self._set(dev, recordings=len(todo), phase="downloading" if todo else "done")
        index = {r.recording_id: i for i, r in enumerate(todo, start=1)}

        def report(rid: str, done: int, total: int) -> None:
            self._set(dev, recording=index.get(rid, 0), bytes_done=done, bytes_total=total,
                      phase="downloading")

        async def handle(f: FetchedRecording, r: BandRecording) -> None:
            got = await self._import_one(rec, f, r, rows[r.recording_id], actor)
            counts[got] += 1
            if got == "imported":
                counts["removed"] += 1
                self._set(dev, imported=counts["imported"])

        res = await fetch_recordings(rec, self.spool_dir, report, skip=skip, listed=todo,
                                     on_fetched=handle)
        for rid, why in res.failed:
            await asyncio.to_thread(self.store.set_recording_state, rows[rid].id, "failed",
                                    reason=why, count_attempt=True)
            counts["failed"] += 1
        for rid in res.not_ready:
            await asyncio.to_thread(self.store.set_recording_state, rows[rid].id, "on_band",
                                    reason="the band is still writing it; the next sync "
                                           "takes it")
            counts["waiting"] += 1
        if res.stopped is not None:
            raise res.stopped
        await self._read_status(rec, fam)   # memory freed by the removals

    def _note_listed(self, dev: str, listed: list[BandRecording],
                     fam: str | None) -> dict[str, BandRecordingRecord]:
        return {r.recording_id: self.store.note_on_band(dev, r.recording_id,
                                                         started_ns=r.started_utc_ns,
                                                         size_bytes=r.size_bytes, family=fam)
                for r in listed}

    async def _import_one(self, rec: OfflineRecorder, f: FetchedRecording, r: BandRecording,
                          row: BandRecordingRecord, actor: str) -> str:
        """Import a checked recording into its child's record, then remove it from the band.
        Returns which count it adds to: ``imported``, ``waiting`` or ``failed``."""
        dev = rec.device_id
        self._set(dev, phase="adding the recording to the child's record")
        child = await asyncio.to_thread(self.store.device_child, dev, f.start_ns)
        row = await asyncio.to_thread(
            self.store.set_recording_state, row.id, "downloaded", started_ns=f.start_ns,
            end_ns=f.end_ns, size_bytes=f.size_bytes, sha256=f.sha256, child_id=child,
            reason="")
        if child is None:
            when = datetime.fromtimestamp(f.start_ns / 1e9, UTC).strftime("%d %b %Y %H:%M UTC")
            await asyncio.to_thread(
                self.store.set_recording_state, row.id, "failed", count_attempt=True,
                reason=f"the band was not assigned to a child when it recorded ({when}); "
                       "it stays on the band")
            return "failed"
        try:
            src = await asyncio.to_thread(self._import, f, r, child, actor)
        except _StillImporting:
            await asyncio.to_thread(self.store.set_recording_state, row.id, "downloaded",
                                    reason="being added to the record; removed from the band "
                                           "at the next sync")
            return "waiting"
        except MoveregError as exc:
            await asyncio.to_thread(self.store.set_recording_state, row.id, "failed",
                                    count_attempt=True, reason=_stopped_words(exc)[:300])
            await asyncio.to_thread(discard_spooled, f)
            return "failed"
        row = await asyncio.to_thread(self.store.set_recording_state, row.id, "imported",
                                      source_id=src.id)
        await self._remove(rec, r, row, actor)
        await asyncio.to_thread(discard_spooled, f)
        return "imported"

    def _import(self, f: FetchedRecording, r: BandRecording, child_id: int,
                actor: str) -> SourceRecord:
        """Register and run the import (a thread); an already stored copy is returned."""
        from movereg.pipeline.importer import run_import

        when = datetime.fromtimestamp(f.start_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M UTC")
        try:
            src = self.store.begin_import(child_id, file_name=f"band {f.device_id} recording "
                                          f"{when}", size_bytes=f.size_bytes,
                                          sha256=f.sha256, imported_by=actor)
        except AlreadyImported as exc:
            if exc.source.status == "done":
                return exc.source
            raise _StillImporting from exc
        # kept where the import jobs look at start-up, so a server killed mid-import
        # finishes this import after its restart (the next sync then finds it done)
        upload = self.settings.data_dir / "imports" / "uploads" / f"{src.id}{r.suffix}"
        _link_or_copy(f.path, upload)
        try:
            return run_import(self.store, src.id, upload, device=f.device_id,
                              epoch_s=self.settings.epoch_s, actor=actor)
        finally:
            upload.unlink(missing_ok=True)

    async def _remove(self, rec: OfflineRecorder, r: BandRecording, row: BandRecordingRecord,
                      actor: str) -> None:
        """Remove a recording whose import committed from the band (audit-logged)."""
        self._set(rec.device_id, phase="removing the recording from the band")
        await rec.remove(r)

        def save() -> None:
            self.store.set_recording_state(row.id, "removed", reason="")
            self.store.audit(actor, "band.recording.remove", child_id=row.child_id,
                             detail={"device_id": rec.device_id,
                                     "recording_id": r.recording_id,
                                     "source_id": row.source_id, "sha256": row.sha256})
        await asyncio.to_thread(save)


class _StillImporting(MoveregError):
    """The same file is being imported right now (e.g. resumed after a restart)."""

    def __init__(self) -> None:
        super().__init__("the recording is being added to the record")


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
