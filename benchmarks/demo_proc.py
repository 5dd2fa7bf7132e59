"""Drive a ``movereg demo`` server process (the load benchmark and the e2e tests use it).

Not part of the public API: start the process, read the printed accounts and URL,
log in through the API, stop it gracefully or with SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DemoProcess", "free_port"]

_LOGIN = re.compile(r"^\s*(therapist|parent|researcher) login:\s*(\S+)\s*/\s*(\S+)\s*$")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoProcess:
    """``movereg demo`` as a child process on ``127.0.0.1:<port>``.

    Attributes
    ----------
    data_dir, port, bands, seed
        The command-line options used.
    url
        The printed base URL, once started.
    logins
        ``{"therapist": (user, password), "parent": (...), "researcher": (...)}`` as printed.
    lines
        Everything the process printed (stdout and stderr, interleaved).
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    bands: int = 2
    seed: int = 0
    children: int = 2
    history: bool = False          # the past week (off: tests see only live data)
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)   # more ``movereg demo`` options
    started_s: float | None = None     # process start -> URL printed, s
    url: str | None = None
    logins: dict[str, tuple[str, str]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None
    _reader: threading.Thread | None = None

    def start(self, timeout_s: float = 120.0) -> DemoProcess:
        """Start the process and wait for the URL line."""
        cmd = [sys.executable, "-m", "movereg", "demo", "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", str(self.data_dir),
               "--bands", str(self.bands), "--seed", str(self.seed),
               "--children", str(self.children)]
        if not self.history:
            cmd.append("--no-history")
        cmd += self.extra_args
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        end = time.monotonic() + timeout_s
        while self.url is None:
            if self.proc.poll() is not None:
                time.sleep(0.2)
                raise RuntimeError("movereg demo exited early:\n" + "\n".join(self.lines))
            if time.monotonic() > end:
                self.kill()
                raise RuntimeError("movereg demo did not print its URL:\n"
                                   + "\n".join(self.lines))
            time.sleep(0.02)
        self.started_s = time.monotonic() - t0
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.rstrip("\n")
            self.lines.append(line)
            m = _LOGIN.match(line)
            if m:
                self.logins[m.group(1)] = (m.group(2), m.group(3))
            if line.startswith("URL: "):
                self.url = line[5:].strip().rstrip("/")

    def token(self, role: str = "therapist") -> str:
        """Sign in as the printed ``role`` account; return a bearer token for it."""
        import httpx

        assert self.url is not None
        user, password = self.logins[role]
        with httpx.Client(base_url=self.url, timeout=30) as client:
            r = client.post("/api/auth/login", json={"username": user, "password": password})
            r.raise_for_status()
            csrf = r.json()["csrf_token"]
            r = client.post("/api/auth/tokens", json={"password": password, "ttl_hours": 2},
                            headers={"X-CSRF-Token": csrf})
            r.raise_for_status()
            return str(r.json()["token"])

    @property
    def pid(self) -> int:
        """Process id of the server."""
        assert self.proc is not None
        return int(self.proc.pid)

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGINT (graceful: bands stop, last epochs and samples flushed); returns the exit
        status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._join()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all (the crash test)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._join()

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(5)
        if self.proc is not None and self.proc.stdout is not None:
            with contextlib.suppress(OSError):
                self.proc.stdout.close()
