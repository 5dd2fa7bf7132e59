"""BandSync with a fake recorder: recording-time child, removal only after the import
committed, dropped links, busy bands, bands out of range, alerts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from band_fakes import NS, FakeAlerts, FakeOpener, FakeRecorder, movement, stored_raw
from movereg.config import Settings
from movereg.errors import ValidationError
from movereg.pipeline.band_sync import BandSync
from movereg.storage import Store

DEV = "fake-1"


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


def test_scan_syncs_a_recording_band_when_it_comes_back(tmp_path: Path, store: Store) -> None:
    ann = store.create_child(display_name="Ann")
    t0 = _hour_ago()
    store.assign_device(DEV, ann.id, at_ns=t0 - NS)
    band = FakeRecorder(DEV, recording=True, rate_hz=26.0)
    band.add("rec-A", t0, 60)
    opener = FakeOpener(band)
    sync = BandSync(store, _settings(tmp_path), opener)
    assert asyncio.run(sync.scan_once()) == [DEV]           # first seen: synced
    assert band.removed == ["rec-A"] and band.recording      # paused and started again
    assert band.calls.count("stop") == 1
    band.add("rec-B", t0 + 1200 * NS, 60)
    assert asyncio.run(sync.scan_once()) == []              # stayed in range: left alone
    assert "rec-B" in band.held and band.calls.count("stop") == 1
    opener.away.add(DEV)
    assert asyncio.run(sync.scan_once()) == []
    opener.away.clear()
    assert asyncio.run(sync.scan_once()) == [DEV]           # came back: synced
    assert band.removed == ["rec-A", "rec-B"] and band.recording
    assert len(_sources(store, ann.id)) == 2


def test_alerts_through_the_real_hub(tmp_path: Path, store: Store) -> None:
    """The hub's alert API (stored, listed, audit-logged) takes the sync's alerts."""
    from movereg.pipeline import Hub

    ann = store.create_child(display_name="Ann")
    store.assign_device(DEV, ann.id)
    settings = _settings(tmp_path)
    hub = Hub(store, settings)
    band = FakeRecorder(DEV, battery_pct=5, free_bytes=100_000, total_bytes=8_000_000)
    sync = BandSync(store, settings, FakeOpener(band), alerts=hub)
    asyncio.run(sync.status(DEV))
    active = {(a.kind, a.device_id): a for a in hub.alerts.list(active_only=True)}
    assert set(active) == {("band_memory_full", DEV), ("battery_low", DEV)}
    assert active[("battery_low", DEV)].child_id == ann.id
    assert "memory nearly full (1 % free" in active[("band_memory_full", DEV)].text
    band.battery_pct, band.free_bytes = 60, 6_000_000
    asyncio.run(sync.status(DEV))
    assert hub.alerts.list(active_only=True) == []
    actions = [e.action for e in store.list_audit(limit=20)]
    assert actions.count("alert.raised") == 2 and actions.count("alert.cleared") == 2


def _live_epochs(t0_ns: int, n: int) -> object:
    """Schema-complete 1-s live epochs, worn (coverage 1, nonwear 0)."""
    from movereg.signal import EpochTable
    from movereg.signal.schema import EPOCH_COLUMNS

    cols = {name: np.zeros(n, dtype=dtype) for name, dtype in EPOCH_COLUMNS}
    cols["epoch_start"] = t0_ns + np.arange(n, dtype=np.int64) * NS
    cols["epoch_s"] = np.ones(n)
    cols["coverage"] = np.ones(n)
    return EpochTable(cols)


def test_live_gap_is_filled_by_the_band_recording_counted_once(tmp_path: Path,
                                                               store: Store) -> None:
    """The band streamed live, walked away for 20 minutes (a gap in the live data) while
    it recorded on its own: after the sync the child's time line holds every second of
    the stretch exactly once, the gap filled from the band's recording."""
    from movereg.storage import IngestBatch

    ann = store.create_child(display_name="Ann")
    hour = (time.time_ns() - 2 * 3600 * NS) // (3600 * NS) * (3600 * NS)
    start = hour + 5 * 60 * NS
    store.assign_device(DEV, ann.id, at_ns=hour)
    live_a, live_b = _live_epochs(start, 600), _live_epochs(start + 1800 * NS, 600)
    store.write_batch(IngestBatch(epochs=[(DEV, live_a), (DEV, live_b)]))  # gap 10..30 min
    before = store.timeline(ann.id, start, start + 2400 * NS)["epoch_start"]
    assert before.shape[0] == 1200
    band = FakeRecorder(DEV)
    band.add("rec-A", start, 2400)            # the band recorded the whole 40 minutes
    prog = asyncio.run(BandSync(store, _settings(tmp_path), FakeOpener(band))
                       .sync_band(DEV, actor="t"))
    assert prog.ok, prog.message
    tl = store.timeline(ann.id, start, start + 2400 * NS, include_source=True)
    t = tl["epoch_start"]
    assert t.shape[0] == 2400 and np.unique(t).shape[0] == 2400    # each second once
    gap = (t >= start + 600 * NS) & (t < start + 1800 * NS)
    assert gap.sum() == 1200                                         # the gap is filled
    (src,) = _sources(store, ann.id)
    assert set(tl["source_id"][gap].tolist()) == {src.id}
    spans = store.timeline_sources(ann.id, start, start + 2400 * NS)
    assert spans and all(s.source.id == src.id for s in spans)


def test_recording_ends_the_live_stream_first(tmp_path: Path, store: Store) -> None:
    """A band records on its own or streams live, never both: its live stream ends."""
    from types import SimpleNamespace

    class Live:
        def __init__(self) -> None:
            self.connected = {DEV, "other"}
            self.ended: list[str] = []

        def status(self) -> list[SimpleNamespace]:
            return [SimpleNamespace(device_id=d) for d in sorted(self.connected)]

        async def disconnect(self, device_id: str) -> None:
            self.connected.discard(device_id)
            self.ended.append(device_id)

    ann = store.create_child(display_name="Ann")
    store.assign_device(DEV, ann.id)
    live = Live()
    band = FakeRecorder(DEV)
    sync = BandSync(store, _settings(tmp_path), FakeOpener(band), live=live)
    asyncio.run(sync.start_recording(DEV, 52.0, actor="t", child_id=ann.id))
    assert live.ended == [DEV] and live.connected == {"other"} and band.recording
    (entry,) = [e for e in store.list_audit(limit=20) if e.action == "band.disconnect"]
    assert entry.child_id == ann.id and "not both" in entry.detail
    asyncio.run(sync.start_recording(DEV, 52.0, actor="t", child_id=ann.id))
    assert live.ended == [DEV]                       # not streaming any more: nothing to end


def test_raw_samples_are_kept_under_the_raw_retention(tmp_path: Path, store: Store) -> None:
    """A band's recording keeps its raw samples (float32 g) like a file upload of it: one
    inside ``raw_retention_days`` keeps every sample, one older keeps none (its epochs are
    stored all the same)."""
    ann = store.create_child(display_name="Ann")
    t_new = _hour_ago()
    t_old = t_new - 40 * 86_400 * NS
    store.assign_device(DEV, ann.id, at_ns=t_old - NS)
    band = FakeRecorder(DEV)
    band.add("rec-old", t_old, 60, seed=1)
    band.add("rec-new", t_new, 120)
    sync = BandSync(store, _settings(tmp_path, raw_retention_days=30), FakeOpener(band))
    prog = asyncio.run(sync.sync_band(DEV, actor="t"))
    assert prog.ok and prog.imported == 2, prog.message
    by_start = {s.first_sample_ns: s for s in _sources(store, ann.id)}
    new, old = by_start[t_new], by_start[t_old]
    # the samples as the band wrote them (4 decimals in its file), in g
    want = np.round(movement(120 * 52, 52.0), 4).astype(np.float32)
    np.testing.assert_allclose(stored_raw(store, new.device_id), want, rtol=0, atol=1e-6)
    assert stored_raw(store, old.device_id).shape == (0, 3)
    assert store.timeline(ann.id, t_old, t_old + 60 * NS)["epoch_start"].shape[0] == 60
    assert band.removed == ["rec-old", "rec-new"]
