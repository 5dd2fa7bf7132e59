"""`movereg demo` end to end: the real app, hub, storage and simulated bands.

Starts the command as a subprocess on a free loopback port, signs in with the printed
therapist password through the API, and reads epochs from the live WebSocket: the
first epoch arrives within the feature engine's look-ahead plus one epoch plus 2 s of the
bands starting, and every epoch within 2 s of the sample block that completed it
reaching the hub. Then the process is stopped with SIGINT and exits cleanly.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest
from benchmarks.demo_proc import DemoProcess
from hub_live_support import read_live_epochs

from movereg.signal import FeatureEngine

pytestmark = pytest.mark.slow


def test_demo_streams_to_a_signed_in_therapist(tmp_path: Path) -> None:
    lag_s = FeatureEngine(52.0, epoch_s=1.0).lag_s
    demo = DemoProcess(tmp_path / "demo").start()
    t_url = time.monotonic()
    try:
        assert set(demo.logins) == {"therapist", "parent", "researcher"}   # #14: researcher
        assert any("data directory" in line for line in demo.lines)
        assert demo.url is not None
        with httpx.Client(base_url=demo.url, timeout=30) as client:
            bad = client.post("/api/auth/login",
                              json={"username": "therapist", "password": "wrong-password"})
            assert bad.status_code == 401
        token = demo.token("therapist")
        got = asyncio.run(read_live_epochs(demo.url, _bearer(token), n=6,
                                           within_s=lag_s + 1.0 + 2.0 + 10.0))
        first_after_s = got[0][0] - t_url
        assert first_after_s < lag_s + 1.0 + 2.0 + 3.0   # + band connect / start-up
        lat_s = [(rx_client - m["rx_ns"]) / 1e9 for _, rx_client, m in got]
        assert max(lat_s) < 2.0, lat_s
        kids = {m["child_id"] for _, _, m in got}
        assert len(kids) == 2                            # both bands, both children
        m = got[-1][2]
        assert m["coverage"] > 0.9 and m["enmo_mg"] is not None and m["epoch_s"] == 1.0
        ptoken = demo.token("parent")
        pgot = asyncio.run(read_live_epochs(demo.url, _bearer(ptoken), n=3,
                                             within_s=15.0))
        assert len({m["child_id"] for _, _, m in pgot}) == 1   # the parent's own child
        # an open SSE stream must not keep the server from stopping
        sse = threading.Thread(target=_hold_sse, args=(demo.url, token), daemon=True)
        sse.start()
        time.sleep(1.0)
    finally:
        code = demo.stop()
    assert code == 0, "\n".join(demo.lines)
    assert not any("Traceback" in line for line in demo.lines), "\n".join(demo.lines)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _hold_sse(url: str, token: str) -> None:
    try:
        with httpx.stream("GET", url + "/api/live/sse", timeout=None,
                          headers=_bearer(token)) as r:
            for _ in r.iter_lines():
                pass
    except httpx.HTTPError:
        pass
