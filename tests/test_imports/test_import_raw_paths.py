"""One raw-retention policy for every import path: the same two band recordings, brought in
by the CLI, a file upload, a relay upload, a band sync, or a band import a killed server
finishes at its restart, keep the same raw samples (float32 g) under the configured
``raw_retention_days``: every sample of the recording inside the window, none of the one
older than it (whose epochs are stored all the same)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from h5_api_support import Api, make_api
from relay_support import relay_token, wait_imports

from band_fakes import NS, FakeOpener, FakeRecorder, csv_bytes, movement, stored_raw
from movereg.cli import main
from movereg.config import Settings

_FS = 52.0
_DAYS = 30   # configured (MOVEREG_RAW_RETENTION_DAYS), not the default 90
_NEW = (time.time_ns() - 3600 * NS) // NS * NS
_OLD = _NEW - 40 * 86_400 * NS   # older than the window, inside the default one
#: (recording id, start UTC ns, seconds, seed)
_RECS = [("rec-old", _OLD, 60, 1), ("rec-new", _NEW, 120, 0)]


def _files(api: Api) -> list[Path]:
    """The recordings as the band writes them (the band files' own bytes)."""
    out = []
    for rid, t0, s, seed in _RECS:
        p = api.settings.data_dir.parent / f"{rid}.csv"
        p.write_bytes(csv_bytes(t0, _FS, movement(round(s * _FS), _FS, seed), "dev-a"))
        out.append(p)
    return out


def _band(api: Api) -> FakeRecorder:
    opener = api.client.app.state.band_sync.opener  # type: ignore[attr-defined]
    band: FakeRecorder = opener.bands["dev-a"]
    for rid, t0, s, seed in _RECS:
        band.add(rid, t0, s, _FS, seed)
    return band


def _cli(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["import", *map(str, _files(api)), "--data-dir", str(api.settings.data_dir),
                 "--child", "KID-A"]) == 0


def _upload(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    for p in _files(api):
        r = api.client.post(f"/api/children/{api.child_a.id}/imports",
                            headers=api.h("therapist"), data={"tz": "UTC"},
                            files={"file": (p.name, p.read_bytes(), "text/csv")})
        assert r.status_code == 202, r.text
    wait_imports(api, api.child_a.id, len(_RECS))


def _relay(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    token = relay_token(api)
    for p, (rid, t0, _s, _seed) in zip(_files(api), _RECS, strict=True):
        r = api.client.post("/api/relay/recordings",
                            headers={"Authorization": f"Bearer {token}"},
                            files={"file": (p.name, p.read_bytes(), "text/csv")},
                            data={"band": "dev-a", "recording_id": rid,
                                  "started": datetime.fromtimestamp(t0 / 1e9, UTC).isoformat()})
        assert r.status_code == 202, r.text
    wait_imports(api, api.child_a.id, len(_RECS))


def _band_sync(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    band = _band(api)
    assert api.client.post("/api/bands/dev-a/sync", headers=api.h("tess")).status_code == 202
    for _ in range(600):
        s = api.client.get("/api/bands/dev-a/sync", headers=api.h("tess")).json()
        if not s["running"]:
            break
        time.sleep(0.05)
    assert s["ok"] and s["imported"] == len(_RECS), s
    assert band.removed == [r[0] for r in _RECS]


def _band_resumed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Syncs that die inside their import (kill -9; a second sync leaves the first one's
    pending import alone); the restarted server's import jobs finish them."""
    import movereg.pipeline.importer as importer
    from movereg.dashboard.import_jobs import ImportJobs
    from movereg.pipeline.band_sync import BandSync

    def killed(*a: object, **k: object) -> object:
        raise SystemExit("kill -9")

    band = _band(api)
    with monkeypatch.context() as m:
        m.setattr(importer, "run_import", killed)
        for _ in _RECS:
            with pytest.raises(SystemExit):
                asyncio.run(BandSync(api.store, api.settings, FakeOpener(band))
                            .sync_band("dev-a", actor="t"))
    assert len(api.store.interrupted_imports()) == len(_RECS) and band.removed == []

    async def restart() -> None:   # settings read again, as a restarted server does
        jobs = ImportJobs(api.store, Settings(data_dir=api.settings.data_dir))
        assert jobs.resume() == len(_RECS)
        for _ in range(600):
            if not any(jobs.running(s.id) for s in api.store.list_sources(kind="file")):
                break
            await asyncio.sleep(0.05)

    asyncio.run(restart())


_PATHS: dict[str, Callable[[Api, pytest.MonkeyPatch], None]] = {
    "cli": _cli, "file upload": _upload, "relay upload": _relay, "band sync": _band_sync,
    "band import resumed": _band_resumed}


@pytest.mark.parametrize("path", list(_PATHS))
def test_every_import_path_keeps_raw_under_the_configured_retention(
        path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOVEREG_RAW_RETENTION_DAYS", str(_DAYS))
    for api in make_api(tmp_path, monkeypatch):
        assert api.settings.raw_retention_days == _DAYS
        _PATHS[path](api, monkeypatch)
        srcs = [s for s in api.store.list_sources(child_id=api.child_a.id, kind="file")
                if s.status == "done"]
        kept = {s.first_sample_ns: (s.n_epochs, stored_raw(api.store, s.device_id).shape[0])
                for s in srcs}
        assert kept == {_OLD: (60, 0), _NEW: (120, 120 * 52)}, path
