"""The sync service's file part (a mixin of :class:`~movereg.pipeline.band_sync.BandSync`):
list -> fetch and check each recording -> import it into the record of the child who wore
the band when it recorded -> only then remove it from the band."""

from __future__ import annotations

import asyncio
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from movereg.config import Settings
from movereg.errors import MoveregError
from movereg.pipeline._band_types import MAX_ATTEMPTS, SyncProgress, stopped_words
from movereg.sensors.offline import BandRecording, OfflineRecorder, RecorderStatus
from movereg.sensors.offline_fetch import FetchedRecording, discard_spooled, fetch_recordings
from movereg.storage import (
    AlreadyImported,
    BandRecordingRecord,
    SourceRecord,
    Store,
    upload_path,
)

__all__ = ["BandFiles"]


class BandFiles:
    """Fetch, import and remove a band's recordings (state lives on the service)."""

    store: Store
    settings: Settings
    spool_dir: Path

    def _set(self, device_id: str, **changes: Any) -> SyncProgress:
        raise NotImplementedError

    async def _read_status(self, rec: OfflineRecorder, fam: str | None) -> RecorderStatus:
        raise NotImplementedError

    async def _sync_files(self, rec: OfflineRecorder, fam: str | None, actor: str,
                          counts: dict[str, int]) -> None:
        dev = rec.device_id
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
                                    count_attempt=True, reason=stopped_words(exc)[:300])
            await asyncio.to_thread(discard_spooled, f)
            return "failed"
        row = await asyncio.to_thread(self.store.set_recording_state, row.id, "imported",
                                      source_id=src.id)
        await self._remove(rec, r, row, actor)
        await asyncio.to_thread(discard_spooled, f)
        return "imported"

    def _import(self, f: FetchedRecording, r: BandRecording, child_id: int,
                actor: str) -> SourceRecord:
        """Register and run the import (a thread); an already stored copy is returned.
        Raw samples are kept under ``raw_retention_days`` like every other import's."""
        from movereg.pipeline.importer import run_import

        when = datetime.fromtimestamp(f.start_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M UTC")
        try:
            src = self.store.begin_import(child_id, file_name=f"band {f.device_id} recording "
                                          f"{when}", size_bytes=f.size_bytes,
                                          sha256=f.sha256, imported_by=actor,
                                          device=f.device_id)
        except AlreadyImported as exc:
            if exc.source.status == "done":
                return exc.source
            raise _StillImporting from exc
        # kept where the import jobs look at start-up, so a server killed mid-import
        # finishes this import after its restart (the next sync then finds it done)
        upload = upload_path(self.settings.data_dir, src.id, r.suffix)
        _link_or_copy(f.path, upload)
        try:
            done = run_import(self.store, src.id, upload, device=f.device_id,
                              epoch_s=self.settings.epoch_s,
                              raw_retention_days=self.settings.raw_retention_days,
                              actor=actor)
        except Exception:   # failed: nothing to finish later (a kill leaves the file)
            upload.unlink(missing_ok=True)
            raise
        upload.unlink(missing_ok=True)
        return done

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
