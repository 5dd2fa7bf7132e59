"""Start-up of ``movereg demo`` and ``movereg serve``: process launch -> first page.

*Cold* is a fresh clone: the ``movereg`` sources copied without any ``__pycache__``
(Python compiles and writes them on this run) and an empty ``NUMBA_CACHE_DIR`` (the
kernels compile). *Warm* is the second run of the same copy and cache. Each run is timed
from ``Popen`` to the first ``GET /login`` answering 200 (polled every 20 ms), with the
CPU time the server process had used by then, and to its "signal engine ready" line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.demo_proc import free_port

__all__ = ["fresh_clone", "start_time", "start_times"]

_SRC = Path(__file__).resolve().parents[1] / "src"


def fresh_clone(dst: Path) -> Path:
    """Copy ``src/movereg`` under ``dst`` without bytecode; returns the ``src`` dir."""
    shutil.copytree(_SRC / "movereg", dst / "src" / "movereg",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
    return dst / "src"


def start_time(command: str, src: Path, numba_cache: Path,
               timeout_s: float = 900.0) -> dict[str, Any]:
    """Launch ``movereg <command>`` (demo or serve) from ``src``; the seconds to its first
    page and to its signal engine being ready, and the CPU seconds to the first page."""
    import httpx
    import psutil

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="movereg-bench-start-") as data:
        cmd = [sys.executable, "-m", "movereg", command, "--host", "127.0.0.1",
               "--port", str(port), "--data-dir", data]
        if command == "demo":
            cmd += ["--no-history", "--children", "2"]
        env = {**os.environ, "PYTHONPATH": str(src), "NUMBA_CACHE_DIR": str(numba_cache),
               "PYTHONDONTWRITEBYTECODE": "", "PYTHONUNBUFFERED": "1"}
        lines: list[str] = []
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)
        assert proc.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
        reader.start()
        first = cpu = ready = None
        try:
            with httpx.Client(timeout=5) as client:
                while first is None and time.monotonic() - t0 < timeout_s:
                    if proc.poll() is not None:
                        raise RuntimeError(f"movereg {command} exited:\n" + "".join(lines))
                    try:
                        if client.get(f"http://127.0.0.1:{port}/login").status_code == 200:
                            first = time.monotonic() - t0
                            c = psutil.Process(proc.pid).cpu_times()
                            cpu = c.user + c.system
                    except httpx.HTTPError:
                        time.sleep(0.02)
            while ready is None and time.monotonic() - t0 < timeout_s:
                if any("signal engine ready" in line for line in list(lines)):
                    ready = time.monotonic() - t0
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            reader.join(5)
            with contextlib.suppress(OSError):
                proc.stdout.close()
    return {"first_page_s": first, "engine_ready_s": ready, "first_page_cpu_s": cpu,
            "loadavg_1min": os.getloadavg()[0]}


def start_times() -> dict[str, dict[str, Any]]:
    """Cold and warm start of ``demo`` and of ``serve`` (each with its own fresh clone)."""
    out: dict[str, dict[str, Any]] = {}
    for command in ("demo", "serve"):
        with tempfile.TemporaryDirectory(prefix="movereg-fresh-clone-") as tmp:
            src, cache = fresh_clone(Path(tmp)), Path(tmp) / "numba-cache"
            out[f"{command} cold"] = start_time(command, src, cache)
            out[f"{command} warm"] = start_time(command, src, cache)
    return out
