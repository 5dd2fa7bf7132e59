"""BandSync with a fake recorder: recording-time child, removal only after the import
committed, dropped links, busy bands, bands out of range, alerts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sync_support import NS, FakeAlerts, FakeOpener, FakeRecorder

from movereg.config import Settings
from movereg.errors import ValidationError
from movereg.pipeline.band_sync import BandSync
from movereg.storage import Store

DEV = "fake-1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "movereg.sqlite3") as st:
        yield st


def _settings(tmp_path: Path, **kw: float) -> Settings:
    return Settings(data_dir=tmp_path, band_sync_interval_min=0, **kw)


def _hour_ago() -> int:
    return (time.time_ns() - 3600 * NS) // NS * NS


def _sources(store: Store, child_id: int) -> list:
    return [s for s in store.list_sources(child_id=child_id, kind="file") if s.status == "done"]


def test_recording_goes_to_the_child_wearing_it_then(tmp_path: Path, store: Store) -> None:
    ann = store.create_child(display_name="Ann")
    bo = store.create_child(display_name="Bo")
    t0 = _hour_ago()
    store.assign_device(DEV, ann.id, at_ns=t0 - 600 * NS)
    store.assign_device(DEV, bo.id, at_ns=t0 + 1200 * NS)      # Bo wears it at sync time
    band = FakeRecorder(DEV)
    band.add("rec-A", t0, 180)
    sync = BandSync(store, _settings(tmp_path), FakeOpener(band))
    prog = asyncio.run(sync.sync_band(DEV, actor="therapist"))
    assert prog.ok, prog.message
    assert prog.imported == 1 and "1 recording added" in prog.message
    (src,) = _sources(store, ann.id)
    assert _sources(store, bo.id) == []
    assert src.first_sample_ns == t0
    row = store.band_recording(DEV, "rec-A")
    assert row is not None and row.state == "removed" and row.child_id == ann.id
    assert row.source_id == src.id and row.sha256 == src.sha256
    assert band.removed == ["rec-A"]
    tl = store.timeline(ann.id, t0, t0 + 180 * NS, features=["enmo_mg"])
    assert tl["epoch_start"].shape[0] == 180
    assert store.timeline(bo.id, t0, t0 + 180 * NS)["epoch_start"].shape[0] == 0
    actions = [e.action for e in store.list_audit(limit=50)]
    assert "band.recording.remove" in actions and "band.sync" in actions
    assert not list((tmp_path / "band_sync" / "spool").rglob("*.csv"))   # spool emptied
    rec = store.band_recorder(DEV)
    assert rec is not None and rec.last_sync_ok and "added" in rec.last_sync_message


def test_removal_failure_after_commit_never_imports_twice(tmp_path: Path,
                                                          store: Store) -> None:
    ann = store.create_child(display_name="Ann")
    t0 = _hour_ago()
    store.assign_device(DEV, ann.id, at_ns=t0 - NS)
    band = FakeRecorder(DEV, fail_remove=1)
    band.add("rec-A", t0, 120)
    prog = asyncio.run(BandSync(store, _settings(tmp_path), FakeOpener(band))
                       .sync_band(DEV, actor="t"))
    assert prog.ok is False and "dropped" in prog.message
    row = store.band_recording(DEV, "rec-A")
    assert row is not None and row.state == "imported" and "rec-A" in band.held
    # the next sync (a new process) removes it without downloading or importing it again
    downloads = band.downloads
    prog = asyncio.run(BandSync(store, _settings(tmp_path), FakeOpener(band))
                       .sync_band(DEV, actor="t"))
    assert prog.ok, prog.message
    assert band.downloads == downloads and band.removed == ["rec-A"]
    assert len(_sources(store, ann.id)) == 1
    assert store.band_recording(DEV, "rec-A").state == "removed"   # type: ignore[union-attr]


def test_killed_between_import_and_bookkeeping(tmp_path: Path, store: Store,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The import committed but the process died before noting it: the next sync finds the
    same file (sha256) already in the record and only removes it from the band."""
    ann = store.create_child(display_name="Ann")
    t0 = _hour_ago()
    store.assign_device(DEV, ann.id, at_ns=t0 - NS)
    band = FakeRecorder(DEV)
    band.add("rec-A", t0, 120)
    real = store.set_recording_state

    def die(row_id: int, state: str, **kw: object) -> object:
        if state == "imported":
            raise SystemExit("killed")
        return real(row_id, state, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "set_recording_state", die)
    with pytest.raises(SystemExit):
        asyncio.run(BandSync(store, _settings(tmp_path), FakeOpener(band))
                    .sync_band(DEV, actor="t"))
    monkeypatch.setattr(store, "set_recording_state", real)
    assert len(_sources(store, ann.id)) == 1 and band.removed == []
    n_epochs = store.timeline(ann.id)["epoch_start"].shape[0]
    prog = asyncio.run(BandSync(store, _settings(tmp_path), FakeOpener(band))
                       .sync_band(DEV, actor="t"))
    assert prog.ok, prog.message
    assert band.removed == ["rec-A"] and len(_sources(store, ann.id)) == 1
    assert store.timeline(ann.id)["epoch_start"].shape[0] == n_epochs
    assert store.band_recording(DEV, "rec-A").state == "removed"   # type: ignore[union-attr]


def test_disconnect_mid_download_resumes_once(tmp_path: Path, store: Store) -> None:
    ann = store.create_child(display_name="Ann")
    t0 = _hour_ago()
    store.assign_device(DEV, ann.id, at_ns=t0 - NS)
    band = FakeRecorder(DEV, drop_after=20_000)
    band.add("rec-A", t0, 300)
    sync = BandSync(store, _settings(tmp_path), FakeOpener(band))
    prog = asyncio.run(sync.sync_band(DEV, actor="t"))
    assert prog.ok is False and "continues" in prog.message
    assert _sources(store, ann.id) == [] and "rec-A" in band.held
    prog = asyncio.run(sync.sync_band(DEV, actor="t"))
    assert prog.ok, prog.message
    (src,) = _sources(store, ann.id)
    assert src.samples_read == 300 * 52
    assert store.timeline(ann.id)["epoch_start"].shape[0] == 300


def test_busy_band_is_tried_again_later(tmp_path: Path, store: Store) -> None:
    ann = store.create_child(display_name="Ann")
    t0 = _hour_ago()
    store.assign_device(DEV, ann.id, at_ns=t0 - NS)
    band = FakeRecorder(DEV, busy=True)
    band.add("rec-A", t0, 60)
    sync = BandSync(store, _settings(tmp_path, band_sync_retry_min=0.002), FakeOpener(band))

    async def run() -> None:
        prog = await sync.sync_band(DEV, actor="t")
        assert prog.ok is False and "busy" in prog.message
        band.busy = False
        for _ in range(600):
            await asyncio.sleep(0.05)
            p = sync.progress(DEV)
            if p is not None and p.ok:
                break
        await sync.stop()

    asyncio.run(run())
    assert band.removed == ["rec-A"] and len(_sources(store, ann.id)) == 1


def test_not_ready_waits_and_out_of_range_is_quiet(tmp_path: Path, store: Store) -> None:
    ann = store.create_child(display_name="Ann")
    t0 = _hour_ago()
    store.assign_device(DEV, ann.id, at_ns=t0 - NS)
    band = FakeRecorder(DEV)
    band.add("rec-A", t0, 60)
    band.add("rec-B", t0 + 900 * NS, 60, seed=2)
    band.not_ready = {"rec-B"}
    opener = FakeOpener(band)
    sync = BandSync(store, _settings(tmp_path), opener)
    prog = asyncio.run(sync.sync_band(DEV, actor="t"))
    assert prog.ok and "still being written" in prog.message
    assert store.band_recording(DEV, "rec-B").state == "on_band"   # type: ignore[union-attr]
    opener.away.add(DEV)
    assert asyncio.run(sync.scan_once()) == []              # away: nothing, no failure noted
    assert store.band_recorder(DEV).last_sync_ok           # type: ignore[union-attr]
    loud = asyncio.run(sync.sync_band(DEV, actor="t"))      # "sync now" says why
    assert loud.ok is False and "not in range" in loud.message
    opener.away.clear()
    band.not_ready.clear()
    assert asyncio.run(sync.scan_once()) == [DEV]
    assert band.removed == ["rec-A", "rec-B"] and len(_sources(store, ann.id)) == 2


def test_unassigned_at_recording_time_stays_on_band(tmp_path: Path, store: Store) -> None:
    ann = store.create_child(display_name="Ann")
    t0 = _hour_ago()
    store.assign_device(DEV, ann.id, at_ns=t0 + 1800 * NS)   # assigned only afterwards
    band = FakeRecorder(DEV)
    band.add("rec-A", t0, 60)
    prog = asyncio.run(BandSync(store, _settings(tmp_path), FakeOpener(band))
                       .sync_band(DEV, actor="t"))
    assert prog.ok is False and "could not be read" in prog.message
    row = store.band_recording(DEV, "rec-A")
    assert row is not None and row.state == "failed" and "not assigned" in row.reason
    assert band.removed == [] and _sources(store, ann.id) == []


def test_record_on_band_sets_clock_first_and_alerts(tmp_path: Path, store: Store) -> None:
    ann = store.create_child(display_name="Ann")
    store.assign_device(DEV, ann.id)
    band = FakeRecorder(DEV, battery_pct=9, free_bytes=500_000, total_bytes=8_000_000)
    alerts = FakeAlerts()
    sync = BandSync(store, _settings(tmp_path), FakeOpener(band), alerts=alerts)
    with pytest.raises(ValidationError):
        asyncio.run(sync.start_recording(DEV, 100.0, actor="t", child_id=ann.id))
    st = asyncio.run(sync.start_recording(DEV, 26.0, actor="t", child_id=ann.id))
    assert band.calls[:2] == ["set_clock", "start:26"]
    assert abs(band.clock_ns - time.time_ns()) < 60 * NS    # type: ignore[operator]
    assert st.recording and st.rate_hz == 26.0
    rec = store.band_recorder(DEV)
    assert rec is not None and rec.recording and rec.rate_hz == 26.0 and rec.started_by == "t"
    assert set(alerts.active) == {("band_memory_full", DEV), ("battery_low", DEV)}
    band.battery_pct, band.free_bytes = 90, 7_000_000
    asyncio.run(sync.stop_recording(DEV, actor="t", child_id=ann.id))
    assert alerts.active == {}
    assert ("cleared", "band_memory_full", DEV) in alerts.log
    rec = store.band_recorder(DEV)
    assert rec is not None and not rec.recording and rec.stopped_by == "t"
    hours = rec.hours_left(52.0)
    assert hours is not None and np.isclose(hours, 7_000_000 / (52 * 3600 * 6))
    assert np.isclose(rec.hours_left(13.0) or 0, 4 * hours)
    actions = [e.action for e in store.list_audit(limit=20)]
    assert "band.record.start" in actions and "band.record.stop" in actions
