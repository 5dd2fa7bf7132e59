"""A family's data bundle: peak memory and speed for 1, 7 and 30 days of 1-s epochs.

Each size runs in fresh processes: one writes the store (24 h of 1-s epochs a day, all
feature columns), another streams :func:`movereg.storage.bundle.stream_bundle` to
``/dev/null`` and reports its peak resident memory (``ru_maxrss``) above the baseline
after imports and opening the store. The peer, in the same run, is the obvious
in-memory way: read the child's whole epoch table (``Store.epochs``) and write it once
as CSV (for 7 days at most: it grows with the data). Bounded memory shows as a peak
that does not grow with the days; a year (31.5 M rows) is projected from the rate.
Libraries (pyarrow, zipfile) are imported before the baseline, so only data counts.

Run: ``python -m benchmarks bundle``. Writes ``benchmarks/results/bundle.json``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "bundle.json"
SIZES = (1, 7, 30)
PEER_MAX_DAYS = 7
T0 = 1_750_000_000 * 10**9

_WRITE = """
import sys, numpy as np
from movereg.storage import Store, IngestBatch
from movereg.signal import EpochTable
from movereg.signal.schema import EPOCH_COLUMNS
days, path = int(sys.argv[1]), sys.argv[2]
s = Store(path)
c = s.create_child(code="KID-BENCH", display_name="Bench")
s.assign_device("dev-bench", c.id, at_ns={t0} - 10**9)
rng = np.random.default_rng(1)
n = 21_600
for k in range(days * 4):
    cols = {{name: (rng.random(n) if np.dtype(dt).kind == "f" else rng.integers(0, 3, n)
                   ).astype(dt) for name, dt in EPOCH_COLUMNS}}
    cols["epoch_start"] = {t0} + (k * n + np.arange(n, dtype=np.int64)) * 10**9
    cols["epoch_s"] = np.ones(n); cols["coverage"] = np.ones(n)
    s.write_batch(IngestBatch(epochs=[("dev-bench", EpochTable(cols))]))
s.close()
"""

_READ = """
import resource, sys, time, json
from movereg.storage import Store
from movereg.storage.bundle import stream_bundle
mode, path = sys.argv[1], sys.argv[2]
s = Store(path)
cid = s.find_child("KID-BENCH").id
s.child_settings(cid)
import pyarrow.parquet, zipfile  # libraries loaded before the baseline: only data counts
s.epochs(child_id=cid, start_ns={t0}, end_ns={t0} + 60 * 10**9)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
size = 0
if mode == "bundle":
    for part in stream_bundle(s, cid, at_ns={t0}):
        size += len(part)
else:
    import io, csv
    cols = s.epochs(child_id=cid)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(list(cols))
    w.writerows(zip(*[c.tolist() for c in cols.values()]))
    size = len(out.getvalue().encode())
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"base_mib": base / 1024, "peak_mib": peak / 1024,
                  "extra_mib": (peak - base) / 1024, "seconds": dt, "bytes": size}}))
"""


def _run(code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, env=env, timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def main() -> None:
    """Write stores, stream bundles, print a table, save the JSON."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="movereg-bench-bundle-") as tmp:
        for days in SIZES:
            path = f"{tmp}/d{days}.sqlite3"
            _run(_WRITE.format(t0=T0), str(days), path)
            n = days * 86_400
            b = json.loads(_run(_READ.format(t0=T0), "bundle", path))
            row = {"days": days, "epochs": n, "bundle": b,
                   "rows_per_s": n / b["seconds"]}
            if days <= PEER_MAX_DAYS:
                row["peer_in_memory_csv"] = json.loads(_run(_READ.format(t0=T0), "peer",
                                                            path))
            rows.append(row)
            peer = row.get("peer_in_memory_csv")
            print(f"{days:>3} d {n:>10,} epochs  bundle: +{b['extra_mib']:7.1f} MiB peak "
                  f"(RSS {b['peak_mib']:.0f} MiB), {b['seconds']:6.1f} s, "
                  f"{b['bytes'] / 2**20:7.1f} MiB zip"
                  + (f"  | peer in-memory CSV: +{peer['extra_mib']:7.1f} MiB, "
                     f"{peer['seconds']:5.1f} s" if peer else ""), flush=True)
    rate = min(r["rows_per_s"] for r in rows)
    out = {"what": "family data bundle (1-s epochs, all columns, CSV+Parquet in a zip)",
           "python": platform.python_version(), "machine": platform.machine(),
           "runs": rows, "year_projection_s": 365 * 86_400 / rate,
           "note": "extra_mib = peak RSS above the baseline after opening the store"}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"a year of 1-s epochs at the slowest rate: ~{out['year_projection_s'] / 60:.0f} "
          "min, memory as above (flat)")


if __name__ == "__main__":
    main()
