"""Sync bands that record on their own: their recordings come into the children's records.

For one band (``sync now`` on the bands page, or the background scan every
``Settings.band_sync_interval_min`` minutes; 0 = off) :class:`BandSync`:

1. opens the band (a :class:`RecorderOpener`: Bluetooth, or the demo's simulated bands),
   reads its status (memory, battery; saved, and the device alerts ``band_memory_full`` /
   ``battery_low`` raised or cleared through the hub's alert API);
2. pauses a recording the band is making (so its data is written out), and starts it
   again at the same rate (clock set first) when the sync ends;
3. finishes what an earlier sync left: a recording already imported but still on the band
   is removed (never imported again);
4. downloads each recording with progress and checks it
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
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from movereg.config import Settings
from movereg.errors import (
    BluetoothUnavailableError,
    DeviceNotFoundError,
    MoveregError,
    NotFoundError,
    SensorError,
    ValidationError,
)
from movereg.pipeline._band_files import BandFiles
from movereg.pipeline._band_types import (
    FAMILY_RATES,
    AlertSink,
    RecorderOpener,
    SyncProgress,
    default_rate,
    stopped_words,
    sync_words,
)
from movereg.sensors.offline import BandBusyError, OfflineRecorder, RecorderStatus
from movereg.storage import Store

__all__ = ["AlertSink", "BandSync", "RecorderOpener", "SyncProgress", "default_rate",
           "sync_words"]

log = logging.getLogger(__name__)


class BandSync(BandFiles):
    """The sync service of one server (``app.state.band_sync``).

    Parameters
    ----------
    store
        The store.
    settings
        ``band_sync_interval_min`` (0 = no background scan), ``band_sync_retry_min``,
        ``band_memory_alert_pct``, ``alert_battery_pct``, ``epoch_s``, ``data_dir``,
        ``raw_retention_days`` (the raw samples an import keeps, as for every import).
    opener
        How bands are reached.
    alerts
        Where device alerts go (the hub; None: not raised).
    clock
        UTC ns now, the time bands are set to (default :func:`time.time_ns`).
    live
        The hub (``status()``, ``disconnect(device_id)``): a band streams live or records
        on its own, never both (Polar's SDK), so its live stream is ended before it
        records.
    """

    def __init__(self, store: Store, settings: Settings, opener: RecorderOpener, *,
                 alerts: AlertSink | None = None,
                 clock: Callable[[], int] = time.time_ns, live: Any = None) -> None:
        self.store = store
        self.clock = clock
        self.live = live
        self.settings = settings
        self.opener = opener
        self.alerts = alerts
        self.spool_dir = settings.data_dir / "band_sync" / "spool"
        self._locks: dict[str, asyncio.Lock] = {}
        self._progress: dict[str, SyncProgress] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._scanner: asyncio.Task[None] | None = None
        #: bands paused for a sync whose recording could not be started again yet (Hz)
        self._resume_rate: dict[str, float] = {}
        self._rates: dict[str, tuple[float, ...]] = {}   # as each band last said, Hz
        #: bands the background scan reached and synced, and not missed since: while one
        #: records, the scan leaves it alone (it syncs when the band comes back)
        self._in_range: set[str] = set()

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start the background scan (when ``band_sync_interval_min`` > 0)."""
        interval = self.settings.band_sync_interval_min * 60.0
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
        try:
            return self.store.get_device(device_id).family
        except NotFoundError:
            rec = self.store.band_recorder(device_id)
            return None if rec is None else rec.family

    def can_record(self, device_id: str, family: str | None = None) -> bool:
        """True when the band records on its own (its family and the opener say so)."""
        return self.opener.can_record(device_id, family or self.family(device_id))

    def rates(self, device_id: str, family: str | None = None) -> tuple[float, ...]:
        """The rates (Hz) the band records at: as it said when last reached, else its
        family's."""
        if device_id in self._rates:
            return self._rates[device_id]
        fam = family or self.family(device_id)
        return FAMILY_RATES.get(fam or "", ())

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
        await self._end_live(device_id, actor, child_id)
        async with self._lock(device_id), self.opener.open(device_id, fam) as rec:
            rates = tuple(float(r) for r in rec.rates_hz())
            if not any(abs(float(rate_hz) - r) < 1e-6 for r in rates):
                raise ValidationError(f"the band records at {', '.join(f'{r:g}' for r in rates)}"
                                      f" Hz, not {rate_hz:g} Hz")
            await rec.set_clock(self.clock())
            await rec.start_recording(float(rate_hz))
            await asyncio.to_thread(self.store.note_recording_started, device_id,
                                    family=fam, rate_hz=float(rate_hz), actor=actor,
                                    child_id=child_id)
            return await self._read_status(rec, fam)

    async def _end_live(self, device_id: str, actor: str, child_id: int | None) -> None:
        """End the band's live stream, if any (it cannot record while it streams)."""
        if self.live is None or not any(str(getattr(st, "device_id", "")) == device_id
                                        for st in self.live.status()):
            return
        await self.live.disconnect(device_id)
        await asyncio.to_thread(self.store.audit, actor, "band.disconnect", child_id=child_id,
                                detail={"device_id": device_id,
                                        "why": "recording on the band: a band streams live "
                                               "or records on its own, not both"})

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
        self._rates[rec.device_id] = tuple(float(r) for r in rec.rates_hz())
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
        texts: dict[str, str | None] = {"band_memory_full": None, "battery_low": None}
        pct = None
        if st.free_bytes is not None and st.total_bytes:
            pct = 100.0 * st.free_bytes / st.total_bytes
        if pct is not None and pct <= s.band_memory_alert_pct:
            hours = st.hours_left()
            left = "" if hours is None else f", about {hours:.1f} h of recording left"
            texts["band_memory_full"] = (f"Band {device_id}: memory nearly full "
                                         f"({pct:.0f} % free{left}); sync it to make room")
        if st.battery_pct is not None and st.battery_pct <= s.alert_battery_pct:
            texts["battery_low"] = (f"Band {device_id}: battery low ({st.battery_pct} %); "
                                    "charge it before it records again")
        for kind, text in texts.items():     # raised while true, cleared once it is not
            if text is None:
                await self.alerts.clear_alert(kind, device_id)
            else:
                await self.alerts.raise_alert(kind, device_id, text, child_id=child)

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
        """Sync every assigned band that can record and is in range (the background scan):
        a band that records is synced when it is first seen and when it comes back after
        being out of reach, not on every scan while it stays in range. Returns the bands
        synced."""
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
        self._progress[device_id] = SyncProgress(device_id, True, "connecting to the band",
                                                 started_ns=time.time_ns())
        counts = {"imported": 0, "removed": 0, "waiting": 0, "failed": 0}
        fam = await asyncio.to_thread(self.family, device_id)
        try:
            async with self._lock(device_id), self.opener.open(device_id, fam) as rec:
                await self._sync_open(rec, fam, actor, counts,
                                      stay=quiet and device_id in self._in_range)
            if quiet:
                self._in_range.add(device_id)
        except _StillRecording:
            return self._set(device_id, running=False, phase="recording",
                             finished_ns=time.time_ns(), ok=None,
                             message="Recording on the band and in range since the last "
                                     "sync: synced when it comes back (or with Sync now).")
        except (DeviceNotFoundError, BluetoothUnavailableError) as exc:
            if quiet:   # a band away from the clinic is the normal case for a scan
                self._in_range.discard(device_id)
                return self._set(device_id, running=False, phase="not in range",
                                 finished_ns=time.time_ns(), ok=None,
                                 message=stopped_words(exc))
            return await self._finish(device_id, actor, False, stopped_words(exc), counts)
        except BandBusyError as exc:
            self._retry_later(device_id, actor)
            return await self._finish(device_id, actor, False, stopped_words(exc), counts)
        except (SensorError, MoveregError) as exc:
            return await self._finish(device_id, actor, False, stopped_words(exc), counts)
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
        delay = self.settings.band_sync_retry_min * 60.0

        async def again() -> None:
            await asyncio.sleep(delay)
            cur = self._progress.get(device_id)
            if cur is None or not cur.running:
                await self.sync_band(device_id, actor=actor, quiet=True)

        task = asyncio.get_running_loop().create_task(again(), name=f"retry-{device_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync_open(self, rec: OfflineRecorder, fam: str | None, actor: str,
                         counts: dict[str, int], *, stay: bool = False) -> None:
        """Pause a running recording (its data must be written out and its files are
        listed too), sync, and start it again at the same rate. ``stay``: a background
        scan of a band that stayed in range leaves a running recording alone."""
        dev = rec.device_id
        self._set(dev, phase="reading the band's status")
        st = await self._read_status(rec, fam)
        if stay and st.recording:
            raise _StillRecording
        rate = self._resume_rate.get(dev)
        if st.recording:   # a fresh connection may not know the rate: ours is stored
            known = await asyncio.to_thread(self.store.band_recorder, dev)
            rate = st.rate_hz or (known.rate_hz if known is not None else None) or \
                default_rate(str(rec.family), rec.rates_hz())
        if st.recording and rate is not None:
            self._set(dev, phase="pausing the band's recording for the sync")
            self._resume_rate[dev] = rate
            await rec.stop_recording()
            await asyncio.to_thread(self.store.audit, actor, "band.record.pause",
                                    child_id=await asyncio.to_thread(self.store.device_child,
                                                                     dev),
                                    detail={"device_id": dev, "rate_hz": rate,
                                            "why": "sync"})
        try:
            await self._sync_files(rec, fam, actor, counts)
        finally:
            if rate is not None:
                await self._resume(rec, fam, rate, actor)

    async def _resume(self, rec: OfflineRecorder, fam: str | None, rate: float,
                      actor: str) -> None:
        """Start the paused recording again (clock first); kept for the next sync when the
        link is gone."""
        dev = rec.device_id
        self._set(dev, phase="starting the band's recording again")
        try:
            await rec.set_clock(self.clock())
            await rec.start_recording(rate)
        except SensorError as exc:
            log.info("%s: recording not restarted after the sync: %s", dev, exc)
            return
        self._resume_rate.pop(dev, None)
        await asyncio.to_thread(self.store.audit, actor, "band.record.resume",
                                child_id=await asyncio.to_thread(self.store.device_child, dev),
                                detail={"device_id": dev, "rate_hz": rate, "why": "sync"})
        await self._read_status(rec, fam)


class _StillRecording(Exception):
    """A background scan leaves a recording band that never left range alone."""
