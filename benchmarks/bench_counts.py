"""Activity counts: movereg's Numba kernel vs the agcounts reference implementation.

A deterministic, seeded 7-day 100 Hz synthetic wrist recording (rest, walking, rocking,
jumping, night-time stillness) is generated hour by hour and pushed through
:class:`movereg.signal.counts.CountsStream`, single-threaded. agcounts (very slow: a
pure-Python loop per upsampled sample) runs on day 1 only; the comparison is per sample.
Day-1 epoch counts of both are also compared for equality. Peak extra memory is measured
with tracemalloc (numpy buffers are traced) for the streaming run and for the batch
``activity_counts`` on one whole day.

Run: ``python -m benchmarks counts``. Writes ``benchmarks/results/counts.json``.
"""

from __future__ import annotations

import json
import os
import platform
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FS = 100
DAYS = 7
SEED = 20221107
HOUR = 3600 * FS
RESULTS = Path(__file__).resolve().parent / "results" / "counts.json"


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _segment(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """One activity segment (n, 3) in g, device frame."""
    t = np.arange(n) / FS
    g = np.zeros((n, 3))
    g[:, 2] = 1.0
    if kind == "walk":  # ~1.9 Hz arm swing, swing tilt and vertical bounce
        f = rng.uniform(1.6, 2.1)
        ph = rng.uniform(0, 6.3)
        g[:, 0] += 0.35 * np.sin(2 * np.pi * f / 2 * t + ph)
        g[:, 1] += 0.15 * np.sin(2 * np.pi * f * t + ph)
        g[:, 2] += 0.25 * np.sin(2 * np.pi * f * t + ph + 0.5)
    elif kind == "rock":  # ~0.74 Hz whole-body rocking: slow tilt oscillation
        f = rng.uniform(0.6, 0.9)
        ang = 0.35 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3))
        g[:, 0] = np.sin(ang)
        g[:, 2] = np.cos(ang)
    elif kind == "jump":  # ~1 Hz jumps: flight near 0 g, landing spikes up to ~4 g
        f = rng.uniform(0.8, 1.3)
        phase = (f * t) % 1.0
        g[:, 2] = np.where(phase < 0.35, 0.1, 1.0)
        g[:, 2] += 3.0 * np.exp(-(((phase - 0.38) / 0.02) ** 2))
        g[:, 0] += 0.2 * np.sin(2 * np.pi * f * t)
    noise = 0.004 if kind in ("rest", "sleep") else 0.02
    x = g @ _rotation(rng).T + rng.normal(0.0, noise, (n, 3))
    return np.round(x * 256.0) / 256.0  # quantised like a 256 LSB/g device


def _hour(h: int) -> np.ndarray:
    """Hour ``h`` of the synthetic week, deterministic from (SEED, h)."""
    rng = np.random.default_rng([SEED, h])
    night = (h % 24) < 7 or (h % 24) >= 22
    kinds = ["sleep"] if night else ["rest", "rest", "walk", "rock", "jump", "walk"]
    out = np.empty((HOUR, 3))
    i = 0
    while i < HOUR:
        kind = kinds[int(rng.integers(len(kinds)))]
        n = min(HOUR - i, int(rng.uniform(10, 600) * FS))
        out[i:i + n] = _segment(kind, n, rng)
        i += n
    return out


def _hours(n_hours: int) -> Iterator[np.ndarray]:
    for h in range(n_hours):
        yield _hour(h)


def _ours_stream(n_hours: int) -> tuple[float, np.ndarray]:
    """Push n_hours through a CountsStream; return kernel seconds and 10-Hz values."""
    from movereg.signal.counts import CountsStream

    stream = CountsStream(FS)
    spent = 0.0
    vals = []
    for chunk in _hours(n_hours):
        t0 = time.perf_counter()
        v = stream.push(chunk)
        spent += time.perf_counter() - t0
        vals.append(v)
    return spent, np.concatenate(vals)


def _stream_peak_extra(n_hours: int) -> float:
    """Peak memory (bytes) allocated inside push() beyond its input, per chunk."""
    from movereg.signal.counts import CountsStream

    stream = CountsStream(FS)
    peak = 0
    tracemalloc.start()
    for chunk in _hours(n_hours):
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        stream.push(chunk)
        peak = max(peak, tracemalloc.get_traced_memory()[1] - base)
    tracemalloc.stop()
    return float(peak)


def _batch_day(day: np.ndarray) -> tuple[float, float, np.ndarray]:
    from movereg.signal.counts import activity_counts

    t0 = time.perf_counter()
    activity_counts(day, FS, 60)
    spent = time.perf_counter() - t0
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    counts = activity_counts(day, FS, 60)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return spent, float(peak), counts


def main() -> None:
    from movereg.signal.counts import CountsStream

    CountsStream(FS).push(np.zeros((1000, 3)))  # compile / load the kernel cache
    CountsStream(52).push(np.zeros((1000, 3)))
    n_week = DAYS * 24 * HOUR

    ours_s, vals = _ours_stream(DAYS * 24)
    stream_peak = _stream_peak_extra(3)

    day = np.concatenate(list(_hours(24)))
    batch_s, batch_peak, batch_counts = _batch_day(day)
    week_epochs = vals[: 24 * 60 * 600].reshape(-1, 600, 3).sum(axis=1)
    stream_equals_batch = bool(np.array_equal(week_epochs, batch_counts))

    # 52 Hz (interpolated, ActiGraph-like path): same 1-day signal resampled by index
    day52 = day[(np.arange(int(day.shape[0] * 52 / FS)) * FS) // 52]
    s52 = CountsStream(52)
    t0 = time.perf_counter()
    s52.push(day52)
    s52_s = time.perf_counter() - t0

    ag_s = float("nan")
    ag_equal: bool | None = None
    try:
        from agcounts.extract import get_counts
    except ImportError:
        get_counts = None
    if get_counts is not None:
        t0 = time.perf_counter()
        ag = get_counts(day, FS, 60)
        ag_s = time.perf_counter() - t0
        ag_equal = bool(np.array_equal(ag[: batch_counts.shape[0]], batch_counts))

    ours_ns = ours_s / n_week * 1e9
    ag_ns = ag_s / day.shape[0] * 1e9
    result = {
        "rate_hz": FS,
        "days": DAYS,
        "samples": n_week,
        "threads": 1,
        "ours_week_s": round(ours_s, 3),
        "ours_ns_per_sample": round(ours_ns, 2),
        "ours_s_per_day": round(ours_s / DAYS, 3),
        "ours_batch_day_s": round(batch_s, 3),
        "ours_52hz_interp_day_s": round(s52_s, 3),
        "ours_stream_peak_extra_mib_per_1h_push": round(stream_peak / 2**20, 2),
        "ours_batch_day_peak_extra_mib": round(batch_peak / 2**20, 2),
        "ours_batch_day_input_mib": round(day.nbytes / 2**20, 1),
        "stream_week_day1_equals_batch_day1": stream_equals_batch,
        "agcounts_version": _version("agcounts"),
        "agcounts_day_s": round(ag_s, 2),
        "agcounts_ns_per_sample": round(ag_ns, 1),
        "speedup_per_sample": round(ag_ns / ours_ns, 1),
        "agcounts_day1_equals_ours": ag_equal,
        "python": platform.python_version(),
        "numba": _version("numba"),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")

    rows = [
        ("ours, 7 days @100 Hz (stream, 1-h pushes)", f"{ours_s:.2f} s", f"{ours_ns:.1f}"),
        ("ours, 1 day batch activity_counts", f"{batch_s:.2f} s",
         f"{batch_s / day.shape[0] * 1e9:.1f}"),
        ("ours, 1 day @52 Hz (interpolated path)", f"{s52_s:.2f} s",
         f"{s52_s / day52.shape[0] * 1e9:.1f}"),
        ("agcounts 0.2.6, 1 day @100 Hz", f"{ag_s:.2f} s", f"{ag_ns:.1f}"),
    ]
    print(f"{'run':<46} {'time':>10} {'ns/sample':>10}")
    for name, t, ns in rows:
        print(f"{name:<46} {t:>10} {ns:>10}")
    print(f"speed-up per sample vs agcounts: {ag_ns / ours_ns:.0f}x")
    print(f"peak extra memory: stream {stream_peak / 2**20:.2f} MiB per 1-h push; "
          f"batch 1 day {batch_peak / 2**20:.1f} MiB (input {day.nbytes / 2**20:.0f} MiB)")
    print(f"day-1 epochs: ours == agcounts: {ag_equal}; stream == batch: {stream_equals_batch}")
    print(f"wrote {RESULTS}")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    main()
