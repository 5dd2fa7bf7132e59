"""The band recording API: record on the band, sync now with progress, the last sync in
words, a server killed mid-import finishing that import at its restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from h5_api_support import Api, make_api

from band_fakes import NS, FakeOpener, FakeRecorder, stored_raw
from movereg.config import Settings
from movereg.pipeline.band_sync import BandSync
from movereg.storage import Store


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(tmp_path, monkeypatch)


def _band(api: Api, dev: str) -> FakeRecorder:
    opener = api.client.app.state.band_sync.opener  # type: ignore[attr-defined]
    band: FakeRecorder = opener.bands[dev]
    return band


def test_record_then_sync_now_through_the_api(api: Api) -> None:
    c, h = api.client, api.h("tess")
    band = _band(api, "dev-a")
    r = c.get("/api/bands/dev-a/recorder", headers=h)
    assert r.status_code == 200 and r.json()["can_record"] and not r.json()["recording"]
    assert c.post("/api/bands/dev-a/record", json={"rate_hz": 7}, headers=h).status_code == 422
    r = c.post("/api/bands/dev-a/record", json={"rate_hz": 26}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["recording"] and body["rate_hz"] == 26 and body["started_by"].startswith("tess")
    assert body["hours_left"]["26"] > 0 and band.calls[-3:-1] == ["set_clock", "start:26"]
    t0 = (time.time_ns() - 3600 * NS) // NS * NS
    band.add("rec-1", t0, 120)
    r = c.post("/api/bands/dev-a/sync", headers=h)
    assert r.status_code == 202 and r.json()["running"]
    for _ in range(400):
        s = c.get("/api/bands/dev-a/sync", headers=h).json()
        if not s["running"]:
            break
        time.sleep(0.05)
    assert s["ok"] and s["imported"] == 1, s
    rec = c.get("/api/bands/dev-a/recorder", headers=h).json()
    assert rec["last_sync_ok"] and "1 recording added" in rec["last_sync_message"]
    assert [(x["recording_id"], x["state"], x["child_id"]) for x in rec["recordings"]] == \
        [("rec-1", "removed", api.child_a.id)]
    assert band.removed == ["rec-1"] and band.recording          # resumed after the sync
    # the other caseload's band stays invisible
    assert c.post("/api/bands/dev-b/sync", headers=h).status_code == 404
    actions = [e.action for e in api.store.list_audit(limit=100)]
    for a in ("band.record.start", "band.record.pause", "band.record.resume", "band.sync",
              "band.recording.remove", "import.add"):
        assert a in actions, a


def test_stop_and_unassigned(api: Api) -> None:
    c, h = api.client, api.h("ada")
    api.store.unassign_device("dev-a")
    r = c.post("/api/bands/dev-a/record", json={"rate_hz": 26}, headers=h)
    assert r.status_code == 422 and "not assigned" in r.json()["detail"]
    r = c.post("/api/bands/dev-a/record/stop", headers=h)
    assert r.status_code == 200 and not r.json()["recording"]
    _band(api, "dev-a").busy = True
    assert c.post("/api/bands/dev-a/range", json={"in_range": False}, headers=h).status_code \
        == 204
    r = c.post("/api/bands/dev-a/recorder/refresh", headers=h)
    assert r.status_code == 404 and "dev-a" in r.json()["detail"]


def test_killed_mid_import_finishes_at_restart(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The server dies while a band's recording is imported: nothing of it is in the
    record; at the restart the import jobs finish it from the kept file, and the next sync
    only removes it from the band."""
    import movereg.pipeline.importer as importer
    from movereg.dashboard.import_jobs import ImportJobs

    settings = Settings(data_dir=tmp_path, band_sync_interval_min=0)
    with Store(settings.db_path) as store:
        kid = store.create_child(display_name="Ann")
        t0 = (time.time_ns() - 3600 * NS) // NS * NS
        store.assign_device("fake-1", kid.id, at_ns=t0 - NS)
        band = FakeRecorder("fake-1")
        band.add("rec-A", t0, 90)
        real = importer.run_import

        def killed(*a: object, **k: object) -> object:
            raise SystemExit("kill -9")

        monkeypatch.setattr(importer, "run_import", killed)
        with pytest.raises(SystemExit):
            asyncio.run(BandSync(store, settings, FakeOpener(band)).sync_band("fake-1",
                                                                              actor="t"))
        monkeypatch.setattr(importer, "run_import", real)
        pending = store.interrupted_imports()
        assert len(pending) == 1 and store.timeline(kid.id)["epoch_start"].shape[0] == 0
        assert band.removed == []

        async def restart() -> None:
            jobs = ImportJobs(store, settings)
            assert jobs.resume() == 1
            for _ in range(600):
                if not jobs.running(pending[0].id):
                    break
                await asyncio.sleep(0.05)
            await BandSync(store, settings, FakeOpener(band)).sync_band("fake-1", actor="t")

        asyncio.run(restart())
        done = [s for s in store.list_sources(child_id=kid.id) if s.status == "done"]
        assert len(done) == 1 and band.removed == ["rec-A"] and band.downloads == 1
        assert store.timeline(kid.id)["epoch_start"].shape[0] == 90
        row = store.band_recording("fake-1", "rec-A")
        assert row is not None and row.state == "removed" and row.source_id == done[0].id


def test_resumed_band_imports_keep_raw_under_the_raw_retention(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Band imports a killed server finishes at its restart keep raw samples exactly as a
    first sync does: a recording inside ``raw_retention_days`` keeps them all, an older
    one none."""
    import movereg.pipeline.importer as importer
    from movereg.dashboard.import_jobs import ImportJobs

    settings = Settings(data_dir=tmp_path, band_sync_interval_min=0, raw_retention_days=30)
    t_new = (time.time_ns() - 3600 * NS) // NS * NS
    t_old = t_new - 40 * 86_400 * NS
    real = importer.run_import

    def killed(*a: object, **k: object) -> object:
        raise SystemExit("kill -9")

    with Store(settings.db_path) as store:
        kid = store.create_child(display_name="Ann")
        bands = [FakeRecorder("fake-old"), FakeRecorder("fake-new")]
        for band, t0 in zip(bands, (t_old, t_new), strict=True):
            store.assign_device(band.device_id, kid.id, at_ns=t_old - NS)
            band.add("rec-A", t0, 90, seed=len(band.device_id))
        monkeypatch.setattr(importer, "run_import", killed)
        for band in bands:   # each sync dies in its import: the upload waits for the restart
            with pytest.raises(SystemExit):
                asyncio.run(BandSync(store, settings, FakeOpener(band))
                            .sync_band(band.device_id, actor="t"))
        monkeypatch.setattr(importer, "run_import", real)
        assert len(store.interrupted_imports()) == 2

        async def restart() -> None:
            jobs = ImportJobs(store, settings)
            assert jobs.resume() == 2
            for _ in range(600):
                if not any(jobs.running(s.id) for s in store.list_sources(child_id=kid.id)):
                    break
                await asyncio.sleep(0.05)

        asyncio.run(restart())
        by_start = {s.first_sample_ns: s for s in store.list_sources(child_id=kid.id,
                                                                     kind="file")}
        assert {s.status for s in by_start.values()} == {"done"}
        assert stored_raw(store, by_start[t_new].device_id).shape == (90 * 52, 3)
        assert stored_raw(store, by_start[t_old].device_id).shape == (0, 3)
        assert store.timeline(kid.id)["epoch_start"].shape[0] == 2 * 90


def _band_import(data_dir: Path, monkeypatch: pytest.MonkeyPatch, t0: int, *,
                 killed: bool) -> dict[str, object]:
    """One band recording synced in one go, or by a sync killed inside its import that a
    restarted server finishes; then a second recording synced. What the record holds,
    with the device named in words (the band's id, the file's own serial or neither)."""
    import numpy as np

    import movereg.pipeline.importer as importer
    from movereg.dashboard.import_jobs import ImportJobs
    from movereg.recordings.base import hash_serial

    settings = Settings(data_dir=data_dir, band_sync_interval_min=0, raw_retention_days=30)
    with Store(settings.db_path) as store:
        kid = store.create_child(display_name="Ann")
        store.assign_device("fake-1", kid.id, at_ns=t0 - NS)
        band = FakeRecorder("fake-1")
        band.add("rec-A", t0, 90, serial="SN-IN-FILE")   # the file names its own serial
        if killed:
            def kill(*a: object, **k: object) -> object:
                raise SystemExit("kill -9")

            with monkeypatch.context() as m:
                m.setattr(importer, "run_import", kill)
                with pytest.raises(SystemExit):
                    asyncio.run(BandSync(store, settings, FakeOpener(band))
                                .sync_band("fake-1", actor="t"))
            [pending] = store.interrupted_imports()
            assert pending.import_device == "fake-1" and band.removed == []

            async def restart() -> None:
                jobs = ImportJobs(store, Settings(data_dir=data_dir, raw_retention_days=30))
                assert jobs.resume() == 1
                for _ in range(600):
                    if not jobs.running(pending.id):
                        break
                    await asyncio.sleep(0.05)

            asyncio.run(restart())
        asyncio.run(BandSync(store, settings, FakeOpener(band)).sync_band("fake-1", actor="t"))
        band.add("rec-B", t0 + 600 * NS, 60, seed=3, serial="SN-IN-FILE")
        asyncio.run(BandSync(store, settings, FakeOpener(band)).sync_band("fake-1", actor="t"))
        assert band.removed == ["rec-A", "rec-B"]
        salt = store.export_salt().encode()
        names = {hash_serial("fake-1", salt): "the band", hash_serial("SN-IN-FILE", salt):
                 "the file's serial", None: "none"}
        out: dict[str, object] = {}
        for s in sorted(store.list_sources(child_id=kid.id, kind="file"), key=lambda s: s.id):
            assert s.status == "done" and s.import_device is None   # only the hash is kept
            out[f"{s.file_name}: device"] = names.get(s.serial_hash, s.serial_hash)
            out[f"{s.file_name}: facts"] = (
                s.device_type, s.fs_hz, s.tz, s.first_sample_ns, s.last_sample_ns,
                s.samples_read, s.samples_skipped, s.n_epochs, s.n_gaps, s.imported_by)
            out[f"{s.file_name}: raw"] = stored_raw(store, s.device_id).tobytes()
        tl = store.timeline(kid.id)
        for k, v in tl.items():
            if isinstance(v, np.ndarray) and v.dtype.kind in "fiub":
                out[f"timeline {k}"] = v.tobytes()
        return out


def test_a_resumed_band_import_keeps_the_bands_device(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A band recording whose import a killed server finishes at its restart lands under
    the band's device (the device id the sync passed, hashed), as one imported in one go
    does, with the same samples and epochs; the band's next recording lines up with it."""
    t0 = (time.time_ns() - 3600 * NS) // NS * NS
    once = _band_import(tmp_path / "once", monkeypatch, t0, killed=False)
    resumed = _band_import(tmp_path / "resumed", monkeypatch, t0, killed=True)
    devices = {k: v for k, v in resumed.items() if k.endswith(": device")}
    assert len(devices) == 2 and set(devices.values()) == {"the band"}, devices
    assert any(k.startswith("timeline ") for k in once)
    assert resumed == once
