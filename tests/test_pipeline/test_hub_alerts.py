"""Device and data-health alerts: each kind is raised, acknowledged and cleared.

A scripted band lets each test set the condition (battery, silence, a still, flat or
clipped signal, a full disk), then :meth:`Hub.check_alerts` runs as the status ticker
would. Each transition is a live ``alert`` message and an audit-log entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from benchmarks.demo_proc import free_port

from movereg.config import Settings
from movereg.dashboard.app import create_app
from movereg.dashboard.auth import hash_password
from movereg.models import BandState, BandStatus, SampleBlock
from movereg.pipeline import Hub
from movereg.storage.store import Store

T0 = 1_750_000_000_000_000_000
S = 1_000_000_000
FS = 52.0
PASSWORD = "a long test passphrase"


class ScriptBand:
    """A band whose blocks and battery the test sets."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.battery: int | None = 80
        self.queue: asyncio.Queue[SampleBlock] = asyncio.Queue()
        self.t_next = T0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def status(self) -> BandStatus:
        return BandStatus(device_id=self.device_id, family="simulated",
                          state=BandState.STREAMING, battery_pct=self.battery)

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        while True:
            yield await self.queue.get()

    def send(self, x: np.ndarray) -> None:
        block = SampleBlock(device_id=self.device_id, t0_ns=self.t_next, fs_hz=FS,
                            samples=np.asarray(x, dtype=np.float32))
        self.t_next = block.t_end_ns
        self.queue.put_nowait(block)

    def moving(self, seconds: float, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        x = rng.normal(0, 0.3, (round(seconds * FS), 3))
        x[:, 2] += 1
        self.send(x)

    def constant(self, seconds: float, value: tuple[float, float, float],
                 noise_g: float = 0.0) -> None:
        n = round(seconds * FS)
        x = np.tile(np.asarray(value), (n, 1))
        if noise_g:
            x = x + np.random.default_rng(1).normal(0, noise_g, x.shape)
        self.send(x)


class _Factory:
    def __init__(self) -> None:
        self.bands: dict[str, ScriptBand] = {}

    def __call__(self, target: str, *, device_id: str | None = None, **_: Any) -> ScriptBand:
        assert device_id is not None
        self.bands[device_id] = band = ScriptBand(device_id)
        return band


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Any]:
    settings = Settings(data_dir=tmp_path, epoch_s=1.0)
    store = Store(settings.db_path)
    kid = store.create_child(display_name="Robin").id
    session = store.start_session(kid).id
    factory = _Factory()
    hub = Hub(store, settings, band_factory=factory, status_interval_s=3600.0)
    await hub.start()
    sub = hub.subscribe(maxsize=10_000)

    class W:
        pass

    w = W()
    w.store, w.hub, w.sub, w.kid, w.session, w.factory = (store, hub, sub, kid, session,
                                                           factory)
    try:
        yield w
    finally:
        await hub.stop()
        store.close()


async def _connect(w: Any, *, session: bool = True) -> ScriptBand:
    dev = await w.hub.connect("sim", child_id=w.kid, device_id="band-1",
                              session_id=w.session if session else None)
    return w.factory.bands[dev]


async def _ingested(w: Any, band: ScriptBand) -> None:
    for _ in range(500):
        if band.queue.empty() and w.hub._runs[band.device_id].last_rx_ns is not None:
            await asyncio.sleep(0.01)
            return
        await asyncio.sleep(0.01)
    raise AssertionError("blocks not ingested")


def _alerts(sub: Any) -> list[dict[str, Any]]:
    out = []
    while (m := sub.get_nowait()) is not None:
        if m["type"] == "alert":
            out.append(m)
    return out


async def _raise_ack_clear(w: Any, kind: str, now_ns: int, clear: Any,
                           clear_now_ns: int | None = None) -> None:
    changes = await w.hub.check_alerts(now_ns=now_ns)
    assert [(a, al.kind) for a, al in changes] == [("raised", kind)]
    alert = changes[0][1]
    assert alert.child_id == w.kid and alert.active
    listed = w.hub.alerts.list(active_only=True)
    assert [a.id for a in listed] == [alert.id]
    assert await w.hub.check_alerts(now_ns=now_ns) == []        # raised once
    acked = await w.hub.acknowledge_alert(alert.id, "ana(therapist)")
    assert acked is not None and acked.acked_by == "ana(therapist)" and acked.acked_ns
    assert acked.active                                         # a tap does not clear it
    await clear()
    changes = await w.hub.check_alerts(now_ns=clear_now_ns or now_ns)
    assert [(a, al.kind, al.id) for a, al in changes] == [("cleared", kind, alert.id)]
    assert changes[0][1].ended_ns is not None and changes[0][1].acked_by == "ana(therapist)"
    assert w.hub.alerts.list(active_only=True) == []
    msgs = _alerts(w.sub)
    assert [(m["action"], m["kind"]) for m in msgs] == [
        ("raised", kind), ("acknowledged", kind), ("cleared", kind)]
    assert all(m["child_id"] == w.kid and m["alert_id"] == alert.id for m in msgs)
    audit = [e.action for e in w.store.list_audit(limit=20)][::-1]
    assert [a for a in audit if a.startswith("alert.")] == [
        "alert.raised", "alert.acknowledged", "alert.cleared"]
    who = [e.actor for e in w.store.list_audit(limit=20) if e.action == "alert.acknowledged"]
    assert who == ["ana(therapist)"]


async def test_battery_low(world: Any) -> None:
    band = await _connect(world)
    band.moving(2)
    await _ingested(world, band)
    band.battery = 16
    assert await world.hub.check_alerts(now_ns=band.t_next) == []    # 16 % > 15 %
    band.battery = 15

    async def charged() -> None:
        band.battery = 60

    await _raise_ack_clear(world, "battery_low", band.t_next, charged)


async def test_band_disconnected(world: Any) -> None:
    band = await _connect(world)
    band.moving(2)
    await _ingested(world, band)
    last = world.hub._runs["band-1"].last_rx_ns
    assert await world.hub.check_alerts(now_ns=last + 30 * S) == []   # not more than 30 s
    started = last + 31 * S

    async def back() -> None:
        band.moving(1, seed=2)
        await asyncio.sleep(0.05)

    import time

    await _raise_ack_clear(world, "band_disconnected", started, back,
                           clear_now_ns=time.time_ns())


async def test_not_worn_during_a_session(world: Any) -> None:
    band = await _connect(world)
    band.moving(2)
    for _ in range(10):                               # 10 min on a table: not yet
        band.constant(60, (0.01, -0.02, 1.0), noise_g=0.003)
    await _ingested(world, band)
    now = world.hub._runs["band-1"].last_rx_ns
    assert await world.hub.check_alerts(now_ns=now) == []
    band.constant(30, (0.01, -0.02, 1.0), noise_g=0.003)             # 10.5 min
    await _ingested(world, band)

    async def worn_again() -> None:
        band.moving(2, seed=3)
        await asyncio.sleep(0.05)

    await _raise_ack_clear(world, "not_worn", now, worn_again)


async def test_not_worn_outside_a_session_is_no_alert(world: Any) -> None:
    band = await _connect(world, session=False)
    band.constant(700, (0.01, -0.02, 1.0), noise_g=0.003)
    await _ingested(world, band)
    now = world.hub._runs["band-1"].last_rx_ns
    assert await world.hub.check_alerts(now_ns=now) == []


async def test_flat_signal(world: Any) -> None:
    band = await _connect(world)
    band.moving(2)
    band.constant(9, (0.0, 0.0, 1.0))
    await _ingested(world, band)
    now = world.hub._runs["band-1"].last_rx_ns
    assert await world.hub.check_alerts(now_ns=now) == []           # 9 s < 10 s
    band.constant(2, (0.0, 0.0, 1.0))
    await _ingested(world, band)

    async def unstuck() -> None:
        band.constant(1, (0.0, 0.0, 1.0), noise_g=0.003)           # noise again
        await asyncio.sleep(0.05)

    await _raise_ack_clear(world, "signal_flat", now, unstuck)


async def test_clipped_signal(world: Any) -> None:
    band = await _connect(world)
    band.moving(2)
    band.constant(11, (7.99, 0.0, 1.0), noise_g=0.001)
    await _ingested(world, band)
    now = world.hub._runs["band-1"].last_rx_ns

    async def in_range() -> None:
        band.moving(1, seed=4)
        await asyncio.sleep(0.05)

    await _raise_ack_clear(world, "signal_clipped", now, in_range)


async def test_storage_nearly_full(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    total = 100 * 2**30
    free = {"bytes": 5 * 2**30}                          # 5 % free: at the threshold

    def usage(path: Any) -> Any:
        return shutil._ntuple_diskusage(total, total - free["bytes"], free["bytes"])  # type: ignore[attr-defined]

    monkeypatch.setattr(shutil, "disk_usage", usage)
    changes = await world.hub.check_alerts(now_ns=T0)
    assert [(a, al.kind, al.device_id, al.child_id) for a, al in changes] == [
        ("raised", "storage_full", None, None)]
    alert = changes[0][1]
    acked = await world.hub.acknowledge_alert(alert.id, "admin(admin)")
    assert acked is not None and acked.acked_by == "admin(admin)"
    free["bytes"] = 20 * 2**30
    changes = await world.hub.check_alerts(now_ns=T0 + S)
    assert [(a, al.id) for a, al in changes] == [("cleared", alert.id)]
    assert [m["action"] for m in _alerts(world.sub)] == ["raised", "acknowledged", "cleared"]


async def test_alert_api_lists_and_acknowledges_by_role(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, epoch_s=1.0)
    store = Store(settings.db_path)
    kid = store.create_child(display_name="Robin").id
    other = store.create_child(display_name="Sky").id
    ana = store.create_user("ana", hash_password(PASSWORD), "therapist")
    store.link_user_child(ana.id, kid)
    pat = store.create_user("pat", hash_password(PASSWORD), "parent")
    store.link_user_child(pat.id, other)
    store.create_user("rae", hash_password(PASSWORD), "researcher")
    factory = _Factory()
    async with serve_hub(store, settings, factory) as (hub, url):
        dev = await hub.connect("sim", child_id=kid, device_id="band-1")
        factory.bands[dev].battery = 9
        factory.bands[dev].moving(1)
        await asyncio.sleep(0.1)
        [(_, alert)] = await hub.check_alerts()
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            auth = {name: await _bearer(c, name) for name in ("ana", "pat", "rae")}
            r = await c.get("/api/alerts", params={"active": "true"}, headers=auth["ana"])
            assert r.status_code == 200
            [row] = r.json()
            assert (row["id"], row["kind"], row["child_id"], row["active"],
                    row["acked_by"]) == (alert.id, "battery_low", kid, True, None)
            assert row["started_at"]
            r = await c.get("/api/alerts", headers=auth["pat"])      # another child's band
            assert r.status_code == 200 and r.json() == []
            r = await c.post(f"/api/alerts/{alert.id}/ack", headers=auth["pat"])
            assert r.status_code == 404
            r = await c.get("/api/alerts", headers=auth["rae"])
            assert r.status_code == 403
            r = await c.post(f"/api/alerts/{alert.id}/ack", headers=auth["ana"])
            assert r.status_code == 200 and r.json()["acked_by"] == "ana(therapist)"
            assert r.json()["acked_at"] is not None
            r = await c.post("/api/alerts/999/ack", headers=auth["ana"])
            assert r.status_code == 404
        assert any(e.action == "alert.acknowledged" and e.actor == "ana(therapist)"
                   for e in store.list_audit(limit=50))


@contextlib.asynccontextmanager
async def serve_hub(store: Store, settings: Settings,
                    factory: _Factory) -> AsyncIterator[tuple[Hub, str]]:
    """A started hub on ``store`` and the app serving it on a free port: ``(hub, url)``;
    stops both and closes the store afterwards."""
    hub = Hub(store, settings, band_factory=factory, status_interval_s=3600.0)
    app = create_app(settings, hub=hub, store=store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    await hub.start()
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.02)
        yield hub, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await hub.stop()
        store.close()


async def _bearer(c: httpx.AsyncClient, name: str) -> dict[str, str]:
    r = await c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    r = await c.post("/api/auth/tokens", json={"password": PASSWORD}, headers=csrf)
    c.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}
