"""The real app in-process: connect a simulated band through the API, read the live feed.

``create_app`` (its lifespan builds the real Hub, BatchWriter and Store) runs under
uvicorn on a free loopback port. A therapist connects ``sim:<seed>`` for a child on the
caseload via ``POST /api/bands/connect`` and reads ``/api/live``: epochs carry the
features, arrive within 2 s of the hub receiving the sample block that completed them,
and are stored; a strategy event logged through the API reaches the feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import httpx
import uvicorn
from benchmarks.demo_proc import free_port
from hub_live_support import read_live_epochs

from movereg.config import Settings
from movereg.dashboard.app import create_app
from movereg.dashboard.auth import hash_password
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.storage.store import Store

PASSWORD = "a long test passphrase"


async def test_band_connected_via_api_streams_to_websocket(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, epoch_s=1.0)
    with contextlib.closing(Store(settings.db_path)) as store:
        kid = store.create_child(display_name="Robin").id
        other = store.create_child(display_name="Sky").id
        ther = store.create_user("ana", hash_password(PASSWORD), "therapist")
        store.link_user_child(ther.id, kid)
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    base = f"http://127.0.0.1:{port}"
    try:
        async with asyncio.timeout(120):
            while not server.started:
                assert not task.done()
                await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            r = await client.post("/api/auth/login",
                                  json={"username": "ana", "password": PASSWORD})
            assert r.status_code == 200
            csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
            r = await client.post("/api/auth/tokens", json={"password": PASSWORD},
                                  headers=csrf)
            token = r.json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            # not on the caseload: refused before any band starts
            r = await client.post("/api/bands/connect",
                                  json={"target": "sim:5", "child_id": other}, headers=auth)
            assert r.status_code == 404
            t_connect = time.monotonic()
            r = await client.post("/api/bands/connect",
                                  json={"target": "sim:5", "child_id": kid}, headers=auth)
            assert r.status_code == 201, r.text
            dev = r.json()["device_id"]
            assert dev == "sim-5"
            epochs = await read_live_epochs(base, auth, n=3, within_s=30)
            lag = app.state.hub.status()  # band is listed while streaming
            assert [s.device_id for s in lag] == [dev]
            r = await client.post("/api/events", json={"child_id": kid, "strategy": "swing"},
                                  headers=auth)
            assert r.status_code == 201, r.text
            event_id = r.json()["id"]
        first_s = epochs[0][0] - t_connect
        assert first_s < 6.5 + 1.0 + 2.0 + 2.0      # engine look-ahead + epoch + 2 s
        for _, rx_client, m in epochs:
            assert (rx_client - m["rx_ns"]) / 1e9 < 2.0
            assert m["device_id"] == dev and m["child_id"] == kid
            assert {name for name, _ in EPOCH_COLUMNS} <= set(m)
            assert m["coverage"] is not None and m["enmo_mg"] is not None
        assert app.state.hub.broadcaster.replay(0)[-1]["event_id"] == event_id
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
    with contextlib.closing(Store(settings.db_path)) as store:
        stored = store.epochs(device_id="sim-5")["epoch_start"].tolist()
        assert {m["epoch_start"] for _, _, m in epochs} <= set(stored)
        assert store.device_child("sim-5") == kid
