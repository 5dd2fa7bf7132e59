"""Acceptance (#23): ``movereg relay`` against a real ``movereg serve`` on loopback, each side
killed with SIGKILL in the middle of an upload: every recording is imported exactly once;
then a revoked token is refused (one sentence, exit 2).

Two simulated Polar bands (``--simulate``) each hold two recordings made while the child
was away; uploads are paced (``--max-upload-rate``) so a kill lands mid-upload.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

_SRC = str(Path(__file__).resolve().parents[2] / "src")
_NS = 10**9
MID = "<mid-upload>"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = _SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "movereg", "serve", "--data-dir",
                                 str(data), "--port", str(port)], stdout=fh,
                                stderr=subprocess.STDOUT, env=_env())
    end = time.monotonic() + 180
    while time.monotonic() < end:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


class _Relay:
    """``movereg relay`` in a subprocess; its stdout lines in a queue."""

    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "movereg", "relay", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=_env(), text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, needle: str, timeout_s: float = 240.0) -> str:
        """The next line holding ``needle`` (``MID`` : an upload between 20 and 80 %)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                assert self.proc.poll() is None or not self.lines.empty(), self.seen[-20:]
                continue
            self.seen.append(line)
            if needle == MID and (m := re.search(r"uploading .*: (\d+)%$", line)):
                if 20 <= int(m.group(1)) <= 80:
                    return line
            elif needle in line:
                return line
        raise AssertionError(f"relay never said {needle!r}: {self.seen[-30:]}")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._pump_thread.join(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def _q(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _seed(db: Path) -> tuple[int, str, int]:
    from movereg.storage import Store

    with Store(db) as st:
        child = st.create_child(code="KID-R", display_name="Robin")
        other = st.create_child(code="KID-S", display_name="Sky")
        day_ago = time.time_ns() - 24 * 3600 * _NS
        for dev in ("sim-1", "sim-2"):
            st.upsert_device(dev, family="polar_pmd")
            st.assign_device(dev, child.id, at_ns=day_ago)
        token, relay = st.create_relay_token("the Robins' home", [child.id], actor="test")
        assert other.id != child.id
        return child.id, token, relay.id


def test_relay_and_server_killed_mid_upload_import_each_recording_once(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "movereg.sqlite3"
    child, token, relay_id = _seed(db)
    token_file = tmp_path / "relay.token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    spool = tmp_path / "spool"
    port = _free_port()
    log = tmp_path / "serve.log"
    server = _serve(data, port, log)
    args = ["--server", f"http://127.0.0.1:{port}", "--token-file", str(token_file),
            "--spool", str(spool), "--simulate", "--simulate-hours", "1", "--interval", "1",
            "--max-upload-rate", "120000"]
    relay = _Relay(args)
    try:
        # 1. the server dies in the middle of an upload; it comes back on the same port
        relay.wait_for(MID)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        relay.wait_for("server not reachable")
        server = _serve(data, port, log)
        # 2. the relay dies in the middle of an upload; it starts again
        relay.wait_for(MID)
        relay.kill9()
        relay = _Relay(args)
        # 3. everything arrives
        end = time.monotonic() + 300
        while time.monotonic() < end:
            line = relay.wait_for("cycle done")
            if "0 waiting" in line and "server not reachable" not in line and not list(
                    spool.glob("*/*.polarrec")):
                rows = _q(db, "SELECT status FROM sources WHERE kind = 'file'")
                if len(rows) >= 4 and all(r[0] not in ("pending", "running") for r in rows):
                    break
        rows = _q(db, "SELECT child_id, status, sha256, file_name, imported_by FROM sources "
                      "WHERE kind = 'file' ORDER BY id")
        done = [r for r in rows if r[1] == "done"]
        # two bands x two recordings, each imported exactly once, all for the child
        assert len(done) == 4, rows
        assert len({r[2] for r in done}) == 4
        assert {r[0] for r in done} == {child}
        assert all(r[4] == f"relay:{relay_id}(the Robins' home)" for r in done)
        assert all(r[1] in ("done", "failed") for r in rows), rows
        assert _q(db, "PRAGMA integrity_check") == [("ok",)]
        epochs = _q(db, "SELECT COUNT(*), COUNT(DISTINCT device_id || epoch_start) FROM "
                        "epochs WHERE device_id LIKE 'import-%'")[0]
        assert epochs[0] == epochs[1] > 4 * 3000   # four hours of 1-s epochs, no doubles
        assert not list(spool.glob("*/*.polarrec"))   # the spool is empty
        assert "refused" not in " ".join(relay.seen)
        relay.kill9()
        # 4. a revoked token is refused: one sentence, exit 2
        from movereg.storage import Store

        with Store(db) as st:
            st.revoke_relay_token(relay_id, actor="ada(admin)")
        out = subprocess.run([sys.executable, "-m", "movereg", "relay", *args, "--once"],
                             capture_output=True, text=True, env=_env(), timeout=180)
        assert out.returncode == 2, out
        err = out.stderr.strip().splitlines()
        assert len(err) == 1 and "refused this relay's token" in err[0], out.stderr
        assert "Traceback" not in out.stdout + out.stderr
    finally:
        if relay.proc.poll() is None:
            relay.kill9()
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
