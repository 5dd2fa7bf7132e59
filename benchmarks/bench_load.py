"""Load benchmark: many simulated bands into one server, measured from outside.

Starts ``movereg demo --bands N`` (default 64 simulated bands at 52 Hz) as its own
process, signs in as the demo therapist, and keeps a WebSocket on ``/api/live`` for the
run. It reports

- notify -> WebSocket latency: client receive time minus the ``rx_ns`` the hub stamped
  on each epoch message (the wall-clock time it received the sample block that finished
  the epoch), p50 / p99 / max in ms. This is the pipeline's delay (engine, storage
  queue, broadcaster, socket); the feature engine's built-in look-ahead (rhythm features
  need ``lag_s`` = 6.5 s of later data) is a property of the features and is reported
  separately. The server's own share (``tx_ns - rx_ns``, stamped when the WebSocket frame
  is sent) is reported too: on a shared machine the rest is mostly scheduling delay;
- server CPU as % of one core (user + system time of the server process over the
  measured window, from /proc via psutil);
- lost samples: after a graceful stop, for every band, the samples stored in SQLite
  versus the samples its stream spans at 52 Hz, and recorded gaps.

Usage: ``python -m benchmarks.bench_load --minutes 1`` (``MOVEREG_BENCH_LOAD_MINUTES``
also works; default 5). Writes ``benchmarks/results/load.json``.
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

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_P99_MS = 250.0
TARGET_CPU_PCT = 50.0


async def _listen(url: str, token: str, stop_at: float, measure_from: float,
                  out: dict[str, Any]) -> None:
    lat: list[float] = []
    lat_server: list[float] = []
    per_dev: dict[str, int] = {}
    n_status = 0
    dropped = 0
    async for now, msg in live_feed(url, token, stop_at):
        if msg["type"] == "epoch":
            per_dev[msg["device_id"]] = per_dev.get(msg["device_id"], 0) + 1
            if time.monotonic() >= measure_from:
                lat.append((now - int(msg["rx_ns"])) / 1e6)
                lat_server.append((int(msg["tx_ns"]) - int(msg["rx_ns"])) / 1e6)
        elif msg["type"] == "status":
            n_status += 1
            dropped = int(msg.get("dropped", 0))
    out.update(latencies_ms=lat, server_latencies_ms=lat_server, epochs_per_device=per_dev, status_messages=n_status,
               ws_dropped=dropped)


def _stored(data_dir: Path) -> dict[str, Any]:
    from movereg.storage.store import Store

    store = Store(data_dir / "movereg.sqlite3")
    try:
        out: dict[str, Any] = {}
        for dev in store.list_devices():
            n = 0
            first = last = None
            fs = 0.0
            for chunk in store.iter_raw(device_id=dev.device_id):
                k = int(chunk.samples.shape[0])
                n += k
                fs = chunk.fs_hz
                if first is None:
                    first = chunk.t0_ns
                last = chunk.t0_ns + round(k * 1e9 / chunk.fs_hz)
            span = 0 if first is None or last is None else round((last - first) * fs / 1e9)
            gaps = store.gaps(device_id=dev.device_id)
            out[dev.device_id] = {"stored": n, "span_samples": span,
                                  "gaps": len(gaps),
                                  "gap_samples": sum(g.samples_missing for g in gaps),
                                  "epochs": store.count_epochs(dev.device_id)[0]}
        out["_integrity_ok"] = store.integrity_check()
        return out
    finally:
        store.close()


def run(minutes: float, bands: int, warmup_s: float) -> dict[str, Any]:
    import psutil

    from benchmarks.demo_proc import DemoProcess

    duration = minutes * 60.0
    with tempfile.TemporaryDirectory(prefix="movereg-bench-load-") as tmp:
        demo = DemoProcess(Path(tmp), bands=bands).start(timeout_s=300)
        try:
            assert demo.url is not None
            token = demo.token("therapist")
            proc = psutil.Process(demo.pid)
            t_start = time.monotonic()
            measure_from = t_start + warmup_s
            listened: dict[str, Any] = {}

            async def main() -> tuple[float, float]:
                task = asyncio.create_task(_listen(demo.url or "", token,
                                                   t_start + warmup_s + duration,
                                                   measure_from, listened))
                await asyncio.sleep(warmup_s)
                c0, w0 = proc.cpu_times(), time.monotonic()
                await task
                c1, w1 = proc.cpu_times(), time.monotonic()
                busy = (c1.user - c0.user) + (c1.system - c0.system)
                return busy, w1 - w0

            busy_s, wall_s = asyncio.run(main())
            load_end = os.getloadavg()[0]
            rss_mb = proc.memory_info().rss / 2**20
        finally:
            code = demo.stop(timeout_s=60)
        stored = _stored(Path(tmp))
    lat = np.asarray(listened["latencies_ms"], dtype=float)
    lat_srv = np.asarray(listened["server_latencies_ms"], dtype=float)
    devs = {k: v for k, v in stored.items() if not k.startswith("_")}
    lost = sum(max(0, v["span_samples"] - v["stored"]) for v in devs.values())
    return {
        "bands": bands,
        "fs_hz": 52.0,
        "minutes": minutes,
        "warmup_s": warmup_s,
        "epochs_received": int(lat.size),
        "latency_ms": {
            "p50": float(np.percentile(lat, 50)) if lat.size else None,
            "p99": float(np.percentile(lat, 99)) if lat.size else None,
            "max": float(lat.max()) if lat.size else None,
        },
        "server_latency_ms": {
            "p50": float(np.percentile(lat_srv, 50)) if lat_srv.size else None,
            "p99": float(np.percentile(lat_srv, 99)) if lat_srv.size else None,
            "max": float(lat_srv.max()) if lat_srv.size else None,
        },
        "server_cpu_pct_one_core": 100.0 * busy_s / wall_s,
        "loadavg_1min_end": load_end,
        "server_rss_mb": rss_mb,
        "ws_dropped": listened["ws_dropped"],
        "devices_stored": len(devs),
        "samples_stored": sum(v["stored"] for v in devs.values()),
        "samples_span": sum(v["span_samples"] for v in devs.values()),
        "samples_lost": lost,
        "gaps": sum(v["gaps"] for v in devs.values()),
        "gap_samples": sum(v["gap_samples"] for v in devs.values()),
        "integrity_ok": stored["_integrity_ok"],
        "server_exit": code,
        "targets": {"p99_ms": TARGET_P99_MS, "cpu_pct": TARGET_CPU_PCT, "lost": 0},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }


def _table(r: dict[str, Any]) -> str:
    lat = r["latency_ms"]

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1f}"

    rows = [
        ("bands x rate", f"{r['bands']} x {r['fs_hz']:g} Hz", ""),
        ("measured", f"{r['minutes']:g} min (+{r['warmup_s']:g} s warm-up)", ""),
        ("epochs over WebSocket", str(r["epochs_received"]), ""),
        ("latency p50 (ms)", fmt(lat["p50"]), ""),
        ("latency p99 (ms)", fmt(lat["p99"]), f"< {TARGET_P99_MS:g}"),
        ("latency max (ms)", fmt(lat["max"]), ""),
        ("  of which in the server p50/p99", f"{fmt(r['server_latency_ms']['p50'])} / "
                                             f"{fmt(r['server_latency_ms']['p99'])}", ""),
        ("server CPU (% of one core)", f"{r['server_cpu_pct_one_core']:.1f}",
         f"< {TARGET_CPU_PCT:g}"),
        ("server RSS (MB)", f"{r['server_rss_mb']:.0f}", ""),
        ("machine load (1-min avg, end)",
         f"{r['loadavg_1min_end']:.1f} on {r['machine']['cpus']} CPUs", ""),
        ("samples stored / spanned", f"{r['samples_stored']} / {r['samples_span']}", ""),
        ("samples lost", str(r["samples_lost"]), "0"),
        ("gaps recorded", str(r["gaps"]), ""),
        ("WebSocket messages dropped", str(r["ws_dropped"]), ""),
        ("integrity_check", "ok" if r["integrity_ok"] else "FAILED", "ok"),
    ]
    w = max(len(a) for a, _, _ in rows)
    lines = [f"{'load':<{w}}  {'value':>22}  target", "-" * (w + 34)]
    lines += [f"{a:<{w}}  {b:>22}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the load benchmark, print a table, write ``results/load.json``."""
    p = argparse.ArgumentParser(prog="bench_load", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float,
                   default=float(os.environ.get("MOVEREG_BENCH_LOAD_MINUTES", "5")))
    p.add_argument("--bands", type=int, default=64)
    p.add_argument("--warmup-s", type=float, default=20.0,
                   help="seconds before measuring (bands connect, engines fill)")
    args, _ = p.parse_known_args(argv)
    result = run(args.minutes, args.bands, args.warmup_s)
    print(_table(result))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS / 'load.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
