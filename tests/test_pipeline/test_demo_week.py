"""``movereg demo --children 4``: four children moving in their own ways, a researcher
account, and a past week written in the background while the pages already answer."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from benchmarks.demo_proc import DemoProcess

pytestmark = pytest.mark.slow


def test_demo_children_researcher_and_history(tmp_path: Path) -> None:
    demo = DemoProcess(tmp_path / "demo", bands=4, children=4, history=True).start()
    try:
        assert set(demo.logins) == {"therapist", "parent", "researcher"}
        styles = [line for line in demo.lines if "streams for child" in line]
        assert len(styles) == 4 and len({s.split("(")[-1] for s in styles}) == 4
        end = time.monotonic() + 240
        while not any("demo history: a past week for 4 children" in x for x in demo.lines):
            assert time.monotonic() < end, "\n".join(demo.lines)
            time.sleep(0.5)
        token = demo.token("researcher")
        with httpx.Client(base_url=demo.url or "", timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            r = client.get("/api/export/epochs", params={"child": "DEMO-C3"})
            assert r.status_code == 200, r.text
            rows = r.text.splitlines()[1:]
            assert len(rows) > 10_000                  # a week of wear days, 5-s epochs
            assert client.get("/api/live/sse").status_code == 403     # pseudonymous only
        ttoken = demo.token("therapist")
        with httpx.Client(base_url=demo.url or "", timeout=60,
                          headers={"Authorization": f"Bearer {ttoken}"}) as client:
            kids = client.get("/api/children").json()
            assert len(kids) == 4
            events = client.get("/api/events", params={"child_id": kids[2]["id"]}).json()
            assert len(events) >= 10                    # strategies used in the past week
    finally:
        assert demo.stop() == 0
    assert not any("Traceback" in line for line in demo.lines), "\n".join(demo.lines)
