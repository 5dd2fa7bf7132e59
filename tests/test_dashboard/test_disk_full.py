"""A full disk (#21 hole 6): signed-in reads keep working, health says why, writes get a
clear 507, nothing already written is damaged, and the service resumes by itself.

The data directory lives on a 12 MiB tmpfs mounted for the test (``small_fs`` in
``tests/conftest.py``: skipped, with the reason, where this process may not mount); a
filler file takes the rest of the space.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from h5_api_support import Api, make_api

from movereg.errors import DiskFullError

RANGE = {"from": "2025-06-15T15:00:00Z", "to": "2025-06-15T15:20:00Z"}


@pytest.fixture
def api(small_fs: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    yield from make_api(small_fs, monkeypatch)


def _snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = "
                                            "'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                for t in tables if t not in ("api_tokens", "meta")}
    finally:
        con.close()


def test_full_disk_reads_work_writes_say_why_and_it_resumes(
        api: Api, small_fs: Path, fill_disk: Callable[[Path], Path]) -> None:
    a = api.child_a.id
    csrf = api.login("tess")                  # a browser session, signed in before
    before = _snapshot(api.settings.db_path)
    # make every token due for its last-seen refresh (a write) on the next request
    with api.store.transaction() as con:
        con.execute("UPDATE api_tokens SET last_seen = last_seen - 120000000000")

    filler = fill_disk(small_fs)
    r = api.client.post("/api/events", headers={"X-CSRF-Token": csrf},
                        json={"child_id": a, "strategy": "mov.break"})
    assert r.status_code == 507, r.text
    body = r.json()
    assert body["error"] == "DiskFullError"
    assert "full" in body["advice"] and "restart" not in body["advice"].replace(
        "no restart", "")

    reads = [(f"/api/children/{a}/epochs", RANGE), (f"/api/children/{a}", None),
             (f"/api/children/{a}/gaps", RANGE), ("/api/children", None),
             (f"/api/children/{a}/summary", {"day": "2025-06-15"})]
    n_reads = 0
    for _ in range(3):
        for path, params in reads:
            for headers in ({}, api.h("tess")):          # cookie session and bearer
                r = api.client.get(path, params=params, headers=headers)
                assert r.status_code == 200, (path, r.status_code, r.text)
                n_reads += 1
    assert api.store.audit_pending >= n_reads            # every read recorded, waiting
    r = api.client.get("/api/health")
    assert r.status_code == 200
    health = r.json()
    assert health["status"] == "degraded"
    (cond,) = health["conditions"]
    assert cond["key"] == "disk_full"
    assert "no restart" in cond["advice"] and "Reading works" in cond["message"]

    filler.unlink()                                      # space is back: nothing restarts
    deadline = time.monotonic() + 30                     # retries at most once a second
    while (r := api.client.get("/api/health")).json()["status"] != "ok":
        assert time.monotonic() < deadline, r.text
        time.sleep(0.2)
    assert r.json() == {**health, "status": "ok", "conditions": []}
    assert api.store.audit_pending == 0
    r = api.client.post("/api/events", headers={"X-CSRF-Token": csrf},
                        json={"child_id": a, "strategy": "mov.break"})
    assert r.status_code == 201, r.text

    after = _snapshot(api.settings.db_path)
    for table, rows in before.items():                   # nothing already written changed
        assert after[table][:len(rows)] == rows, table
    assert api.store.integrity_check()
    assert api.store.verify_audit().ok
    actions = [e.action for e in api.store.list_audit(limit=n_reads + 10)][::-1]
    assert "storage.disk_full" in actions and "storage.disk_space_back" in actions
    i = actions.index("storage.disk_full")
    waited = actions[i + 1:actions.index("storage.disk_space_back")]
    assert len(waited) == n_reads and all(x.startswith("read.") for x in waited)


def test_the_websocket_error_handler_closes_instead_of_crashing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A storage error during the live handshake closed nothing and raised
    ``AttributeError: 'WebSocket' object has no attribute 'method'``."""
    from starlette.websockets import WebSocketDisconnect

    for api in make_api(tmp_path, monkeypatch):
        def refuse(*_a: object, **_k: object) -> None:
            raise DiskFullError("cannot touch token: database or disk is full")

        monkeypatch.setattr(api.store, "resolve_token", refuse)
        with pytest.raises(WebSocketDisconnect) as info, api.client.websocket_connect(
                "/api/live", headers=api.h("tess")) as ws:
            ws.receive_text()
        assert info.value.code == 1013
        assert "full" in str(info.value.reason)
