"""An upload a stopped server left pending runs again exactly as it was first called: a
relay's upload keeps the band it came from, a file upload the device given with it, one
without a device is named from the file's own serial (as before). Each is compared with
the same upload imported in one go."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from h5_api_support import Api, make_api
from relay_support import relay_token, wait_imports

from band_fakes import NS, csv_bytes, movement
from movereg.config import Settings
from movereg.dashboard.import_jobs import ImportJobs
from movereg.recordings.base import hash_serial

_T0 = (time.time_ns() - 3600 * NS) // NS * NS
_FILE_SERIAL = "SN-IN-FILE"
_DATA = csv_bytes(_T0, 52.0, movement(90 * 52, 52.0, 2), _FILE_SERIAL)


def _relay(api: Api) -> int:
    r = api.client.post("/api/relay/recordings",
                        headers={"Authorization": f"Bearer {relay_token(api)}"},
                        files={"file": ("rec.csv", _DATA, "text/csv")},
                        data={"band": "dev-a", "recording_id": "r1",
                              "started": datetime.fromtimestamp(_T0 / 1e9, UTC).isoformat()})
    assert r.status_code == 202, r.text
    return int(r.json()["import_id"])


def _upload(device: str | None) -> Callable[[Api], int]:
    def post(api: Api) -> int:
        r = api.client.post(f"/api/children/{api.child_a.id}/imports",
                            headers=api.h("therapist"),
                            data={"tz": "Europe/London", **({"device": device} if device
                                                            else {})},
                            files={"file": ("rec.csv", _DATA, "text/csv")})
        assert r.status_code == 202, r.text
        return int(r.json()["id"])
    return post


#: path -> (how it uploads, the device id its import is named from)
_PATHS: dict[str, tuple[Callable[[Api], int], str]] = {
    "relay upload": (_relay, "dev-a"),
    "file upload with a device": (_upload("AX3-77"), "AX3-77"),
    "file upload without one": (_upload(None), _FILE_SERIAL)}


async def _restart(jobs: ImportJobs, sid: int) -> None:
    assert jobs.resume() == 1
    for _ in range(600):
        if not jobs.running(sid):
            break
        await asyncio.sleep(0.05)


def _import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, *,
            stopped: bool) -> tuple[object, ...]:
    """The upload imported in one go, or stopped inside its import (the server stops) and
    run again by the next start's import jobs: what its source holds."""
    import movereg.pipeline.importer as importer

    send, named = _PATHS[path]
    out: tuple[object, ...] = ()
    for api in make_api(tmp_path, monkeypatch):
        if stopped:
            def stopping(*a: object, **k: object) -> object:
                raise importer.ImportInterrupted("the server is stopping")

            with monkeypatch.context() as m:
                m.setattr(importer, "run_import", stopping)
                sid = send(api)
                jobs = api.client.app.state.import_jobs  # type: ignore[attr-defined]
                for _ in range(600):
                    if not jobs.running(sid):
                        break
                    time.sleep(0.05)
            [pending] = api.store.interrupted_imports()
            assert pending.import_device == (None if named == _FILE_SERIAL else named)
            # a new server's import jobs, its settings read again
            asyncio.run(_restart(ImportJobs(api.store, Settings(
                data_dir=api.settings.data_dir)), pending.id))
        else:
            send(api)
        [src] = wait_imports(api, api.child_a.id, 1)
        assert src.status == "done", src.message
        assert src.import_device is None     # the plain id is not kept; its hash is
        salt = api.store.export_salt().encode()
        assert src.serial_hash == hash_serial(named, salt), path
        tl = api.store.timeline(api.child_a.id)
        out = (src.device_type, src.fs_hz, src.tz, src.first_sample_ns, src.last_sample_ns,
                src.samples_read, src.n_epochs, src.n_gaps, src.imported_by,
                tl["epoch_start"].tobytes(), tl["enmo_mg"].tobytes())
    return out


@pytest.mark.parametrize("path", list(_PATHS))
def test_a_resumed_upload_is_the_same_import(path: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    once = _import(tmp_path / "once", monkeypatch, path, stopped=False)
    resumed = _import(tmp_path / "resumed", monkeypatch, path, stopped=True)
    assert resumed == once
