"""``kill -9`` of the server during an import: nothing half-stored, and it completes later.

A real ``movereg serve`` process gets a 12-hour CWA upload; while the background import is
running the process is killed with SIGKILL. The database must pass ``PRAGMA
integrity_check`` and hold no epochs, gaps or assignment of that import; a restarted
server runs the import again from the kept upload and it completes.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from imports_support import Server, long_cwa, seed_users

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PASSWORD = "correct horse battery staple"


def _call(url: str, token: str, method: str = "GET", body: bytes | None = None,
          ctype: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if ctype:
        headers["Content-Type"] = ctype
    req = urllib.request.Request(url, method=method, data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def _multipart(path: Path, tz: str) -> tuple[bytes, str]:
    b = uuid.uuid4().hex
    head = (f"--{b}\r\nContent-Disposition: form-data; name=\"tz\"\r\n\r\n{tz}\r\n"
            f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\""
            "\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    return head + path.read_bytes() + f"\r\n--{b}--\r\n".encode(), \
        f"multipart/form-data; boundary={b}"


def _q(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_kill9_during_import_then_restart_completes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = data / "movereg.sqlite3"
    ids = seed_users(db, {"tess": "therapist"}, PASSWORD)
    rec = long_cwa(tmp_path / "week.cwa", 12, start=dt.datetime(2026, 5, 12, 8, 0))
    server = Server(data).start()
    try:
        token = ids["token:tess"]
        body, ctype = _multipart(rec, "UTC")
        first = _call(f"{server.url}/api/children/{ids['child']}/imports", token, "POST",
                      body, ctype)
        iid = int(first["id"])
        end = time.monotonic() + 120
        while True:  # wait until the import is really under way
            st = _call(f"{server.url}/api/imports/{iid}", token)
            assert st["status"] in ("pending", "running"), st
            if st["status"] == "running" and st["progress"] > 0.05:
                break
            assert time.monotonic() < end, st
            time.sleep(0.05)
        server.kill9()
    finally:
        server.stop()
    assert _q(db, "PRAGMA integrity_check") == [("ok",)]
    dev = f"import-{iid}"
    for table in ("epochs", "gaps", "assignments"):  # staged rows wait in import_epochs
        assert _q(db, f"SELECT COUNT(*) FROM {table} WHERE device_id = ?", dev) == [(0,)]
    assert _q(db, "SELECT status FROM sources WHERE id = ?", iid)[0][0] in ("pending",
                                                                           "running")
    # a restarted server runs it again from the kept upload, and it completes
    again = Server(data).start()
    try:
        end = time.monotonic() + 180
        while True:
            st = _call(f"{again.url}/api/imports/{iid}", token)
            if st["status"] not in ("pending", "running"):
                break
            assert time.monotonic() < end, st
            time.sleep(0.2)
        assert st["status"] == "done", st
        assert st["n_epochs"] == 12 * 3600
    finally:
        again.stop()
    assert _q(db, "PRAGMA integrity_check") == [("ok",)]
    assert _q(db, "SELECT COUNT(*), COUNT(DISTINCT epoch_start) FROM epochs WHERE "
                  "device_id = ?", dev) == [(12 * 3600, 12 * 3600)]
    assert not list((data / "imports" / "uploads").glob("*"))
    assert _q(db, "SELECT COUNT(*) FROM import_epochs") == [(0,)]  # staging emptied
