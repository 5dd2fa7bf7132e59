"""Helpers for the import tests (not a test module): the real AX3 file and cuts of it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

AX3 = Path(__file__).resolve().parents[1] / "data" / "devices" / "ax3_testfile.cwa"
#: The AX3 file's first sample with Europe/London (README of tests/data/devices), UTC ns.
AX3_FIRST_NS = 1551178506000488281


def cut_cwa(dst: Path, sectors: int) -> Path:
    """The real AX3 file cut after ``sectors`` data sectors (at a sector boundary)."""
    data = AX3.read_bytes()
    dst.write_bytes(data[:1024 + 512 * sectors])
    return dst


class Server:
    """``movereg serve`` in a subprocess on a free loopback port (for kill -9 and browser
    tests)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = data_dir.parent / f"serve-{id(self)}.log"

    def start(self, timeout_s: float = 120.0) -> Server:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[2] / "src")
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "movereg", "serve", "--data-dir", str(self.data_dir),
                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
        self.url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError("server did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()


def seed_users(db: Path, users: dict[str, str], password: str) -> dict[str, Any]:
    """Users (name -> role) and one child ``KID-A`` linked to every non-researcher; returns
    ``{"child": id, name: user id, "token:" + name: bearer token}``."""
    from movereg.dashboard.auth import hash_password
    from movereg.storage import Store

    with Store(db) as st:
        child = st.create_child(code="KID-A", display_name="Robin")
        out: dict[str, Any] = {"child": child.id}
        for name, role in users.items():
            uid = st.create_user(name, hash_password(password), role).id
            out[name] = uid
            out["token:" + name] = st.create_token(uid, "bearer", 3600)[0]
            if role in ("therapist", "parent"):
                st.link_user_child(uid, child.id)
        return out


def long_cwa(path: Path, hours: float, *, start: dt.datetime, device_id: int = 4242) -> Path:
    """A 100 Hz AX3-style CWA of ``hours`` (gentle movement) via the readers' test writer."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test_recordings"))
    from recordings_writers import write_cwa

    n = int(hours * 3600 * 100) // 80 * 80
    t = np.arange(n) / 100.0
    acc = np.column_stack([0.2 * np.sin(2 * np.pi * 0.7 * t), 0.1 * np.cos(t), np.ones(n)])
    write_cwa(path, acc, start, device_id=device_id)
    return path
