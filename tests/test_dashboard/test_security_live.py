"""Hole 2 of issue #21: the live feed re-checks access.

Before the fix, a parent unlinked from their child and then disabled kept receiving the
child's epochs on an open WebSocket (14 more in 14 s). Now unlinking, deactivation,
logout and password change close the caller's WebSocket and end their SSE stream within
a few seconds, and each live subscription is audit-logged once.

The real app runs on uvicorn on loopback with a hub whose broadcaster publishes an epoch
of child A every 0.1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from benchmarks.demo_proc import free_port
from h5_api_support import PASSWORD, make_api
from security_support import LiveHub

from movereg.dashboard.app import create_app
from movereg.storage import Store

#: Bound on how long a revoked feed may stay open, s (re-checks run every 2 s).
CLOSE_WITHIN_S = 8.0


@dataclass
class Live:
    base: str
    store: Store
    child_a: int
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Live]:
    gen = make_api(tmp_path, monkeypatch)   # seeds users, children, links and tokens
    api = next(gen)
    store, settings = api.store, api.settings
    hub = LiveHub(settings)
    app = create_app(settings, hub=hub, store=store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())

    async def publish() -> None:
        n = 0
        while True:
            hub.broadcaster.publish({"type": "epoch", "device_id": "dev-a",
                                     "child_id": api.child_a.id, "epoch_start": n})
            n += 1
            await asyncio.sleep(0.1)

    pub = asyncio.create_task(publish())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", store, api.child_a.id, api.tokens)
    finally:
        pub.cancel()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(StopIteration):
            next(gen)


async def _unlink(c: httpx.AsyncClient, lv: Live) -> None:
    r = await c.delete(f"/api/users/pat/children/{lv.child_a}", headers=lv.h("ada"))
    assert r.status_code == 204


async def _disable(c: httpx.AsyncClient, lv: Live) -> None:
    r = await c.patch("/api/users/pat", json={"disabled": True}, headers=lv.h("ada"))
    assert r.status_code == 200


async def _logout(c: httpx.AsyncClient, lv: Live) -> None:
    r = await c.post("/api/auth/logout", headers=lv.h("pat"))
    assert r.status_code == 204


async def _password(c: httpx.AsyncClient, lv: Live) -> None:
    r = await c.post("/api/auth/password", headers=lv.h("pat"),
                     json={"current_password": PASSWORD, "new_password": PASSWORD + " new"})
    assert r.status_code == 204


ACTIONS: dict[str, Callable[[httpx.AsyncClient, Live], Any]] = {
    "unlink": _unlink, "deactivate": _disable, "logout": _logout, "password": _password}


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_websocket_closes_after_access_ends(live: Live, action: str) -> None:
    ws_url = live.base.replace("http://", "ws://") + "/api/live"
    async with websockets.connect(ws_url, additional_headers=live.h("pat")) as ws, \
            httpx.AsyncClient(base_url=live.base, timeout=10) as c:
        epochs = 0
        async with asyncio.timeout(5):
            while epochs < 3:
                epochs += json.loads(await ws.recv())["type"] == "epoch"
        await ACTIONS[action](c, live)
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(CLOSE_WITHIN_S):
                while True:
                    await ws.recv()
    # reconnecting does not bring the child back
    if action == "unlink":
        async with websockets.connect(ws_url, additional_headers=live.h("pat")) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello" and hello["children"] == []
    else:
        with pytest.raises(websockets.InvalidStatus):
            async with websockets.connect(ws_url, additional_headers=live.h("pat")):
                pass


@pytest.mark.parametrize("action", ["unlink", "logout"])
async def test_sse_ends_after_access_ends(live: Live, action: str) -> None:
    async with httpx.AsyncClient(base_url=live.base, timeout=10) as c:
        epochs = 0
        async with asyncio.timeout(CLOSE_WITHIN_S + 5), \
                c.stream("GET", "/api/live/sse", headers=live.h("pat")) as r:
            assert r.status_code == 200
            done = False
            async for line in r.aiter_lines():
                if line.startswith("event: epoch"):
                    epochs += 1
                    if epochs == 3 and not done:
                        await ACTIONS[action](c, live)
                        done = True
            # the stream ended by itself (the server closed it)
            assert done


async def test_one_audit_entry_per_subscription(live: Live) -> None:
    ws_url = live.base.replace("http://", "ws://") + "/api/live"
    before = {e.id for e in live.store.list_audit(limit=1000)}
    for _ in range(2):
        async with websockets.connect(ws_url, additional_headers=live.h("tess")) as ws:
            epochs = 0
            async with asyncio.timeout(5):
                while epochs < 10:
                    epochs += json.loads(await ws.recv())["type"] == "epoch"
    new = [e for e in live.store.list_audit(limit=1000)
           if e.id not in before and e.action == "read.live"]
    assert len(new) == 2, new
    assert all(e.actor == "tess(therapist)" and e.child_id == live.child_a for e in new)
    assert json.loads(new[0].detail)["via"] == "websocket"
