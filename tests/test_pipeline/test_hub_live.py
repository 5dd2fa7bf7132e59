"""The live router (/api/live WebSocket, /api/live/sse) over a real uvicorn on loopback.

A minimal app carries the real Store, a Hub with fake bands and the live router, so the
access rules and the wire format are tested without the rest of the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from benchmarks.demo_proc import free_port
from fastapi import FastAPI

from movereg.config import Settings
from movereg.dashboard.auth import hash_password
from movereg.dashboard.routes.live import router
from movereg.pipeline import Hub
from movereg.storage.store import Store

PW_HASH = hash_password("not used in these tests")


class World:
    def __init__(self, base: str, hub: Hub, tokens: dict[str, str], kids: list[int]) -> None:
        self.base = base
        self.ws = base.replace("http://", "ws://") + "/api/live"
        self.hub = hub
        self.tokens = tokens
        self.kids = kids

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def world(tmp_path: Path, fake_band_factory: Any,
                fake_engine_factory: Any) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, epoch_s=1.0, flush_interval_s=0.2)
    store = Store(settings.db_path)
    kids = [store.create_child(display_name=n).id for n in ("Robin", "Sky")]
    tokens: dict[str, str] = {}
    for name, role, links in (("ther", "therapist", [kids[0]]), ("par", "parent", [kids[1]]),
                              ("res", "researcher", []), ("adm", "admin", [])):
        u = store.create_user(name, PW_HASH, role)
        for k in links:
            store.link_user_child(u.id, k)
        tokens[name] = store.create_token(u.id, "bearer", 3600)[0]
    tokens["ther_cookie"] = store.create_token(
        store.find_user("ther").id, "session", 3600)[0]  # type: ignore[union-attr]
    factory = fake_band_factory(forever=True, block_n=13, delay_s=0.05)
    hub = Hub(store, settings, band_factory=factory, engine_factory=fake_engine_factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store, app.state.settings, app.state.hub = store, settings, hub
        await hub.start()
        yield
        await hub.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done()
        await asyncio.sleep(0.02)
    # fake bands stamp samples from a fixed t0, so each block is "now" as far as the hub
    # cares; two children, one band each
    await hub.connect("sim", child_id=kids[0])
    await hub.connect("sim", child_id=kids[1])
    try:
        yield World(f"http://127.0.0.1:{port}", hub, tokens, kids)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.close()


async def _collect(ws: Any, n_epochs: int, within_s: float = 10.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(within_s):
        while sum(m["type"] == "epoch" for m in out) < n_epochs:
            out.append(json.loads(await ws.recv()))
    return out


async def test_therapist_sees_own_caseload_only(world: World) -> None:
    async with websockets.connect(world.ws, additional_headers=world.auth("ther")) as ws:
        msgs = await _collect(ws, 4)
    hello = msgs[0]
    assert hello["type"] == "hello" and hello["children"] == [world.kids[0]]
    epochs = [m for m in msgs if m["type"] == "epoch"]
    assert {m["child_id"] for m in epochs} == {world.kids[0]}
    for m in epochs:
        assert set(m) >= {"id", "device_id", "epoch_start", "epoch_start_ms", "enmo_mg",
                          "coverage", "zone", "rx_ns"}
    for m in msgs:
        if m["type"] == "status":
            assert {b["child_id"] for b in m["bands"]} <= {world.kids[0]}
            assert m["dropped"] == 0


async def test_parent_and_admin_views(world: World) -> None:
    async with websockets.connect(world.ws, additional_headers=world.auth("par")) as ws:
        msgs = await _collect(ws, 2)
    assert {m["child_id"] for m in msgs if m["type"] == "epoch"} == {world.kids[1]}
    async with websockets.connect(world.ws + f"?child_id={world.kids[1]}",
                                  additional_headers=world.auth("adm")) as ws:
        msgs = await _collect(ws, 3)
    assert msgs[0]["children"] == [world.kids[1]]
    assert {m["child_id"] for m in msgs if m["type"] == "epoch"} == {world.kids[1]}


@pytest.mark.parametrize("who,query", [(None, ""), ("res", ""), ("par", "?child_id={k0}"),
                                       ("bogus", "")])
async def test_refused(world: World, who: str | None, query: str) -> None:
    headers = {} if who is None else (
        {"Authorization": "Bearer nope"} if who == "bogus" else world.auth(who))
    url = world.ws + query.format(k0=world.kids[0])
    with pytest.raises(websockets.exceptions.InvalidStatus) as exc:
        async with websockets.connect(url, additional_headers=headers):
            pass
    assert exc.value.response.status_code == 403  # a refused handshake (close before accept)


async def test_cookie_needs_same_origin(world: World) -> None:
    cookie = {"Cookie": f"movereg_session={world.tokens['ther_cookie']}"}
    host = world.base.removeprefix("http://")
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(world.ws, additional_headers=cookie,
                                      origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    async with websockets.connect(world.ws, additional_headers=cookie,
                                  origin=f"http://{host}") as ws:  # type: ignore[arg-type]
        msgs = await _collect(ws, 1)
    assert msgs[0]["user"] == "ther"


async def test_event_reaches_right_client(world: World) -> None:
    async with websockets.connect(world.ws, additional_headers=world.auth("ther")) as ws:
        await _collect(ws, 1)
        world.hub.publish_event({"child_id": world.kids[1], "strategy": "swing"})
        world.hub.publish_event({"child_id": world.kids[0], "strategy": "breathing"})
        async with asyncio.timeout(5):
            while True:
                m = json.loads(await ws.recv())
                if m["type"] == "event":
                    break
    assert m["strategy"] == "breathing" and m["child_id"] == world.kids[0]


async def test_sse_stream_and_resume(world: World) -> None:
    url = world.base + "/api/live/sse"
    async with httpx.AsyncClient(timeout=10) as client:
        first = await _sse(client, url, world.auth("ther"), 3)
        ids = [int(e["id"]) for e in first if e["event"] == "epoch"]
        assert first[0]["event"] == "hello"
        resumed = await _sse(client, url, {**world.auth("ther"), "Last-Event-ID": str(ids[0])},
                             2)
        r_ids = [int(e["id"]) for e in resumed if e["event"] == "epoch"]
        assert r_ids[:2] == ids[1:3]        # replayed from the ring, nothing skipped
        r = await client.get(url)
        assert r.status_code == 401


async def _sse(client: httpx.AsyncClient, url: str, headers: dict[str, str],
               n_epochs: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cur: dict[str, Any] = {}
    async with asyncio.timeout(10), client.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        async for line in r.aiter_lines():
            if not line:
                if "event" in cur:
                    events.append(cur)
                    if sum(e["event"] == "epoch" for e in events) >= n_epochs:
                        break
                cur = {}
                continue
            key, _, value = line.partition(": ")
            cur[key] = value
    for e in events:
        assert json.loads(e["data"])["type"] == e["event"]
    return events
