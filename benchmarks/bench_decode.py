"""Decode throughput: how much of one core the BLE decode path needs for many bands.

Each band is a seeded :class:`movereg.sensors.simulated.SimulatedBand` at 52 Hz sending
real Polar PMD delta frames (Verity-style, 30 samples per frame). Its frames for
``STREAM_S`` seconds are generated first (that is the band's work, not ours); then one
process runs every frame, interleaved across bands in arrival order, through

* ``decode``: the family profile's ``decode`` (bytes -> RawBlock in g) and the
  :class:`~movereg.sensors.clock.DeviceClock` (-> SampleBlock on the UTC line); and
* ``client path``: the same plus what WristbandClient adds per notification (the
  enqueue-only callback copying bytes and stamping time into a bounded asyncio.Queue,
  and the decode task awaiting it), on one asyncio loop.

CPU time is ``time.process_time`` (all threads of the process). Load = CPU seconds per
second of stream, as a percentage of one core; the target is < 5 % for 64 bands.

Run: ``python -m benchmarks decode``. Writes ``benchmarks/results/decode.json``.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "decode.json"
FS = 52.0
STREAM_S = 300.0
BAND_COUNTS = (16, 64, 128)
TARGET_PCT = 5.0


def _frames(n_bands: int) -> tuple[list[Any], list[tuple[int, int, bytes]]]:
    from movereg.sensors.simulated import SimulatedBand

    bands = [SimulatedBand(seed=i, fs_hz=FS, start_ns=1_790_000_000_000_000_000 + i * 7_000_000)
             for i in range(n_bands)]
    per_band = [[(rx, i, f) for f, rx in b.frames(STREAM_S)] for i, b in enumerate(bands)]
    merged = list(heapq.merge(*per_band))  # arrival order across bands
    return bands, merged


def _decode_only(bands: list[Any], frames: list[tuple[int, int, bytes]]) -> tuple[float, int]:
    from movereg.sensors.clock import DeviceClock

    profiles = [b.profile for b in bands]
    clocks = [DeviceClock(f"sim-{i}", FS, True) for i in range(len(bands))]
    samples = 0
    t0 = time.process_time()
    for rx, i, frame in frames:
        block = clocks[i].push(profiles[i].decode(frame), rx)
        if block is not None:
            samples += block.n
    return time.process_time() - t0, samples


def _client_path(bands: list[Any], frames: list[tuple[int, int, bytes]]) -> tuple[float, int]:
    from movereg.sensors.clock import DeviceClock

    async def run() -> int:
        profiles = [b.profile for b in bands]
        clocks = [DeviceClock(f"sim-{i}", FS, True) for i in range(len(bands))]
        queues: list[asyncio.Queue[Any]] = [asyncio.Queue(maxsize=4096) for _ in bands]
        done = [0]

        def callback(i: int, data: bytearray, nominal_rx: int) -> None:
            # what WristbandClient's callback does (it stamps time.time_ns(); the
            # nominal arrival time is carried along so the clock sees a real stream)
            q = queues[i]
            if q.full():
                q.get_nowait()
            q.put_nowait((bytes(data), time.time_ns(), nominal_rx))

        async def decoder(i: int) -> None:
            q, prof, clock = queues[i], profiles[i], clocks[i]
            while True:
                item = await q.get()
                if item is None:
                    return
                data, _stamp, rx = item
                block = clock.push(prof.decode(data), rx)
                if block is not None:
                    done[0] += block.n

        tasks = [asyncio.create_task(decoder(i)) for i in range(len(bands))]
        for k, (rx, i, frame) in enumerate(frames):
            callback(i, bytearray(frame), rx)
            if k % 64 == 0:
                await asyncio.sleep(0)  # let decoders run, as the BLE stack would
        for q in queues:
            await q.put(None)
        await asyncio.gather(*tasks)
        return done[0]

    t0 = time.process_time()
    samples = asyncio.run(run())
    return time.process_time() - t0, samples


def main() -> None:
    """Run the benchmark, print a table, write the JSON result."""
    rows = []
    print(f"{'bands':>6} {'path':>12} {'frames':>8} {'samples':>9} {'cpu s':>7} "
          f"{'% of 1 core':>12} {'us/frame':>9}")
    for n in BAND_COUNTS:
        bands, frames = _frames(n)
        for name, fn in (("decode", _decode_only), ("client path", _client_path)):
            # fresh profiles each run (the PMD profile is stateful only in settings/factor)
            cpu, samples = fn(bands, frames)
            pct = 100.0 * cpu / STREAM_S
            row = {"bands": n, "path": name, "fs_hz": FS, "stream_s": STREAM_S,
                   "frames": len(frames), "samples": samples, "cpu_s": round(cpu, 4),
                   "pct_one_core": round(pct, 3),
                   "us_per_frame": round(1e6 * cpu / max(len(frames), 1), 2)}
            rows.append(row)
            print(f"{n:>6} {name:>12} {len(frames):>8} {samples:>9} {cpu:>7.3f} "
                  f"{pct:>11.2f}% {row['us_per_frame']:>9.1f}")
    at64 = [r for r in rows if r["bands"] == 64]
    worst = max(r["pct_one_core"] for r in at64)
    verdict = "PASS" if worst < TARGET_PCT else "FAIL"
    print(f"64 bands at 52 Hz: worst {worst:.2f}% of one core (target < {TARGET_PCT}%): {verdict}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "decode",
        "description": "Polar PMD delta frames (simulated bands, 52 Hz, 30 samples/frame) "
                       "through profile.decode + DeviceClock (+ client queue path); CPU "
                       "seconds per stream second as % of one core",
        "target_pct_one_core_at_64_bands": TARGET_PCT,
        "worst_pct_at_64_bands": worst,
        "verdict": verdict,
        "rows": rows,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count()},
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
