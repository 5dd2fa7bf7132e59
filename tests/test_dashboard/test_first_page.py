"""The first page answers before the signal engine (#14): the server imports no Numba,
Plotly, SciPy, pandas or pyarrow before it listens, the kernels compile after the first
response, and until they are ready the live page says "starting the signal engine"."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from benchmarks.demo_proc import free_port
from fastapi import FastAPI

from movereg.config import Settings
from movereg.dashboard.app import create_app
from movereg.dashboard.auth import hash_password
from movereg.pipeline import Hub
from movereg.storage.store import Store

PASSWORD = "a long test passphrase"
STARTING = "starting the signal engine"


def test_serving_imports_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    """Everything ``movereg serve`` needs before its socket listens (the app, its routes,
    the store, the hub) leaves Numba, Plotly, SciPy, pandas and pyarrow unimported."""
    code = (
        "import asyncio, json, sys\n"
        "from pathlib import Path\n"
        "import uvicorn\n"
        "from movereg.config import Settings\n"
        "from movereg.dashboard.app import create_app\n"
        f"app = create_app(Settings(data_dir=Path({str(tmp_path)!r})))\n"
        "async def main():\n"
        "    async with app.router.lifespan_context(app):\n"
        "        pass\n"
        "asyncio.run(main())\n"
        "heavy = ('numba', 'llvmlite', 'plotly', 'scipy', 'pandas', 'pyarrow', 'bleak')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


async def _serve(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def clinic(tmp_path: Path) -> tuple[Settings, Store]:
    settings = Settings(data_dir=tmp_path)
    store = Store(settings.db_path)
    tess = store.create_user("tess", hash_password(PASSWORD), "therapist")
    store.link_user_child(tess.id, store.create_child(display_name="Robin").id)
    return settings, store


async def _live_page(c: httpx.AsyncClient) -> str:
    if not c.cookies:
        r = await c.post("/api/auth/login", json={"username": "tess", "password": PASSWORD})
        assert r.status_code == 200, r.text
    r = await c.get("/live")
    assert r.status_code == 200, r.text
    return r.text


async def test_live_page_says_starting_until_the_kernels_are_ready(
        clinic: tuple[Settings, Store]) -> None:
    settings, store = clinic
    hub = Hub(store, settings)
    gate = asyncio.Event()
    hub.warm_after(gate, max_wait_s=3600.0)        # the kernels wait for the test
    app = create_app(settings, hub=hub, store=store)
    await hub.start()
    try:
        async for url in _serve(app):
            async with httpx.AsyncClient(base_url=url, timeout=60) as c:
                page = await _live_page(c)
                assert hub.engine_state == "starting"
                assert STARTING in page and 'data-engine="starting"' in page
                assert '"engine": "starting"' in page            # the page script's state
                gate.set()
                await hub.wait_engine()
                page = await _live_page(c)
                assert STARTING not in page and 'data-engine="ready"' in page
    finally:
        await hub.stop()
        store.close()


async def test_the_app_compiles_the_kernels_after_its_first_response(
        clinic: tuple[Settings, Store]) -> None:
    settings, store = clinic
    store.close()
    app = create_app(settings)                      # its own store and hub (as serve)
    async for url in _serve(app):
        hub = app.state.hub
        assert hub.engine_state == "starting" and not app.state.first_response.is_set()
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            assert (await c.get("/login")).status_code == 200
            await asyncio.wait_for(app.state.first_response.wait(), 30)
            await asyncio.wait_for(hub.wait_engine(), 600)
        assert hub.engine_state == "ready"
