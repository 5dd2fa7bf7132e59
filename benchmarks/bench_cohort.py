"""Cohort throughput: 20 synthetic recordings x 7 days at 30 Hz, 1 vs 2 Dask workers.

Inputs are :class:`movereg.recordings.SyntheticSpec` objects: each worker generates its
recording block by block (seeded, deterministic) and streams it through the real cohort
path (``FeatureEngine`` -> Parquet per recording -> summary). No raw files are written,
so the numbers measure feature extraction + output, not disk reads; file parsing speed
is separate (CSV via pyarrow runs at several million samples/s).

Both runs use a ``LocalCluster(n_workers=N, threads_per_worker=1, processes=True)``
passed to ``run_cohort`` by address, after a warm-up task on every worker (imports,
Numba cache load). Peak memory per worker is the worker process's peak RSS
(``ru_maxrss``) after its last recording.

``cores used`` = worker CPU seconds / wall seconds: on a shared machine it shows how
much CPU the run actually got (the speed-up is only meaningful when both runs got what
they asked for); equal CPU seconds in both runs mean no parallel overhead.

Environment: ``MOVEREG_BENCH_COHORT_DAYS`` (default 7), ``MOVEREG_BENCH_COHORT_N``
(default 20) to shorten a run.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

FS_HZ = 30.0
RESULTS = Path(__file__).resolve().parent / "results" / "cohort.json"


def _warm() -> float:
    """Run a tiny recording in this worker; return its RSS (MiB) afterwards."""
    import resource

    from movereg.recordings import SyntheticSpec
    from movereg.recordings._worker import extract_to_parquet

    with tempfile.TemporaryDirectory() as tmp:
        extract_to_parquet(SyntheticSpec("warm", days=0.01, fs_hz=FS_HZ).open(),
                           Path(tmp) / "warm.parquet", epoch_s=5.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run(workers: int, specs: list[Any], days: float) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    from movereg.recordings import run_cohort

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        warm = client.run(_warm)
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            res = run_cohort(specs, Path(out), epoch_s=5.0, scheduler=cluster.scheduler_address,
                             progress=False)
            wall = time.perf_counter() - t
    if res.n_error:
        raise RuntimeError(f"cohort benchmark failed: {res.errors[:3]}")
    samples = sum(round(s.days * 86_400 * s.fs_hz) for s in specs)
    return {
        "workers": workers,
        "recordings": len(specs),
        "days_each": days,
        "wall_s": wall,
        "recording_days_per_s": len(specs) * days / wall,
        "samples_per_s": samples / wall,
        "peak_rss_mb_per_worker": max(float(r["peak_rss_mb"]) for r in res.rows),
        "cpu_s_total": sum(float(r["cpu_s"]) for r in res.rows),
        "cores_used": sum(float(r["cpu_s"]) for r in res.rows) / wall,
        "samples_per_cpu_s": samples / sum(float(r["cpu_s"]) for r in res.rows),
        "rss_after_warmup_mb": max(warm.values()),
    }


def main() -> None:
    from movereg.recordings import SyntheticSpec

    days = float(os.environ.get("MOVEREG_BENCH_COHORT_DAYS", "7"))
    n = int(os.environ.get("MOVEREG_BENCH_COHORT_N", "20"))
    specs = [SyntheticSpec(f"rec{i:02d}", days=days, fs_hz=FS_HZ, seed=i) for i in range(n)]
    runs = [_run(w, specs, days) for w in (1, 2)]
    speedup = runs[0]["wall_s"] / runs[1]["wall_s"]
    print(f"cohort: {n} synthetic recordings x {days:g} days at {FS_HZ:g} Hz "
          f"({n * days * 86_400 * FS_HZ / 1e6:.0f} M samples), epoch 5 s")
    print(f"{'workers':>7} {'wall s':>8} {'rec-days/s':>11} {'Msamples/s':>11} "
          f"{'peak RSS/worker MiB':>20} {'CPU s':>7} {'cores used':>10}")
    for r in runs:
        print(f"{r['workers']:>7} {r['wall_s']:>8.1f} {r['recording_days_per_s']:>11.2f} "
              f"{r['samples_per_s'] / 1e6:>11.2f} {r['peak_rss_mb_per_worker']:>20.0f} "
              f"{r['cpu_s_total']:>7.0f} {r['cores_used']:>10.2f}")
    print(f"speed-up with 2 workers: {speedup:.2f}x (target >= 1.7x on 2 free cores); "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "cohort",
        "input": "in-worker synthetic recordings (movereg.recordings.SyntheticSpec)",
        "fs_hz": FS_HZ, "epoch_s": 5.0, "runs": runs, "speedup_2_vs_1": speedup,
        "cpu_count": os.cpu_count(), "load_avg_at_end": os.getloadavg(),
        "python": platform.python_version(), "machine": platform.machine(),
    }
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(RESULTS)


if __name__ == "__main__":
    main()
