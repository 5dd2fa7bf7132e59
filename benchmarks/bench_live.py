"""Live latency and start-up: sample time -> WebSocket arrival, cold and warm start.

1. **Start**: ``movereg demo`` and ``movereg serve`` as their own processes, timed from
   launch to the first page (``GET /login`` answering 200) and to the signal engine being
   ready (the kernels compile in the background, after the first page), with the CPU
   time the server used until its first page (on a shared machine the wall time mostly
   waits for other processes). *Cold*: a fresh clone (the sources copied without
   ``__pycache__``) and an empty ``NUMBA_CACHE_DIR``; *warm*: the second run of both
   (:mod:`benchmarks._start`).
2. **Latency**: ``movereg demo --bands N`` (one server process, simulated bands at 52 Hz
   sending Polar PMD frames of 30 samples through the real decode -> clock -> pipeline
   -> broadcast path), a therapist's WebSocket on ``/api/live``. For every ``activity``
   message: arrival time at the client minus ``t_end_ms``, the time of the newest sample
   it covers. This includes the simulated radio latency (20-35 ms) and the wait for a
   frame to fill (a frame is sent when its last sample is taken). Reported p50 / p95 /
   p99 / max with the server process's CPU share (user + system time over the window,
   % of one core) and the machine's load average.

Targets (issue #14): p95 <= 1 s and p99 <= 1.5 s with 16 bands, p99 <= 2 s with 64
bands; first page <= 3 s. Usage: ``python -m benchmarks.bench_live [--seconds 60]
[--bands 16,64] [--no-start]``; writes ``benchmarks/results/live.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._live_feed import live_feed
from benchmarks._start import start_times

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {16: {"p95_ms": 1000.0, "p99_ms": 1500.0}, 64: {"p99_ms": 2000.0}}
TARGET_FIRST_PAGE_S = 3.0


async def _listen(url: str, token: str, seconds: float, out: dict[str, Any]) -> None:
    lat: list[float] = []
    server: list[float] = []
    devices: set[str] = set()
    epochs = 0
    async for now_ns, msg in live_feed(url, token, time.monotonic() + seconds):
        if msg["type"] == "activity":
            lat.append((now_ns - int(msg["t_end_ns"])) / 1e6)
            server.append((int(msg["tx_ns"]) - int(msg["t_end_ns"])) / 1e6)
            devices.add(msg["device_id"])
        elif msg["type"] == "epoch":
            epochs += 1
    out.update(latencies_ms=lat, server_ms=server, devices=len(devices), epochs=epochs)


def _pct(a: np.ndarray) -> dict[str, float | None]:
    if not a.size:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max())}


def latency(bands: int, seconds: float, warmup_s: float) -> dict[str, Any]:
    """One server process with ``bands`` simulated bands; activity-message latency."""
    import psutil

    from benchmarks.demo_proc import DemoProcess

    with tempfile.TemporaryDirectory(prefix="movereg-bench-live-") as tmp:
        demo = DemoProcess(Path(tmp), bands=bands, children=4, history=False)
        demo.start(timeout_s=600)
        try:
            end = time.monotonic() + 600
            while not any("signal engine ready" in line for line in demo.lines):
                if time.monotonic() > end:
                    raise RuntimeError("the signal engine did not get ready")
                time.sleep(0.1)
            time.sleep(warmup_s)
            token = demo.token("therapist")
            proc = psutil.Process(demo.pid)
            got: dict[str, Any] = {}
            c0, w0 = proc.cpu_times(), time.monotonic()
            asyncio.run(_listen(demo.url or "", token, seconds, got))
            c1, w1 = proc.cpu_times(), time.monotonic()
            load = os.getloadavg()[0]
        finally:
            code = demo.stop(timeout_s=60)
    lat = np.asarray(got["latencies_ms"], dtype=float)
    srv = np.asarray(got["server_ms"], dtype=float)
    busy = (c1.user - c0.user) + (c1.system - c0.system)
    return {"bands": bands, "seconds": seconds, "activity_messages": int(lat.size),
            "devices_seen": got["devices"], "epoch_messages": got["epochs"],
            "latency_ms": _pct(lat), "sample_to_server_send_ms": _pct(srv),
            "server_cpu_pct_one_core": 100.0 * busy / (w1 - w0),
            "loadavg_1min_end": load, "server_exit": code,
            "targets": TARGETS.get(bands, {})}


def _fmt(v: float | None, unit: str = "") -> str:
    return "n/a" if v is None else f"{v:.0f}{unit}" if unit == " ms" else f"{v:.2f}{unit}"


def _table(r: dict[str, Any]) -> str:
    lines = [f"{'live':<40} {'value':>14}  target", "-" * 66]
    for name, s in r.get("start", {}).items():
        lines.append(f"{name + ' start: first page':<40} {_fmt(s['first_page_s'], ' s'):>14}"
                     f"  <= {TARGET_FIRST_PAGE_S:g} s")
        lines.append(f"{name + ' start: CPU s used to first page':<40} "
                     f"{_fmt(s['first_page_cpu_s'], ' s'):>14}")
        lines.append(f"{name + ' start: signal engine ready':<40} "
                     f"{_fmt(s['engine_ready_s'], ' s'):>14}")
    for x in r.get("latency", []):
        b, lat, t = x["bands"], x["latency_ms"], x["targets"]
        lines.append(f"{f'{b} bands: activity messages':<40} {x['activity_messages']:>14}")
        for p in ("p50", "p95", "p99", "max"):
            want = t.get(f"{p}_ms")
            lines.append(f"{f'{b} bands: sample -> WebSocket {p}':<40} "
                         f"{_fmt(lat[p], ' ms'):>14}  {'' if want is None else f'<= {want:g} ms'}")
        lines.append(f"{f'{b} bands: of which to server send p99':<40} "
                     f"{_fmt(x['sample_to_server_send_ms']['p99'], ' ms'):>14}")
        lines.append(f"{f'{b} bands: server CPU (% of one core)':<40} "
                     f"{x['server_cpu_pct_one_core']:>14.1f}")
        lines.append(f"{f'{b} bands: machine load (1-min avg)':<40} "
                     f"{x['loadavg_1min_end']:>14.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the start and latency measurements, print a table, write ``results/live.json``."""
    p = argparse.ArgumentParser(prog="bench_live", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float,
                   default=float(os.environ.get("MOVEREG_BENCH_LIVE_SECONDS", "60")))
    p.add_argument("--bands", default="16,64")
    p.add_argument("--warmup-s", type=float, default=10.0)
    p.add_argument("--no-start", action="store_true", help="skip the cold/warm start runs")
    args, _ = p.parse_known_args(argv)
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(),
                                          "python": platform.python_version(),
                                          "platform": platform.platform()}}
    if not args.no_start:
        result["start"] = start_times()
    result["latency"] = [latency(int(b), args.seconds, args.warmup_s)
                         for b in args.bands.split(",") if b.strip()]
    print(_table(result))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "live.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS / 'live.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
