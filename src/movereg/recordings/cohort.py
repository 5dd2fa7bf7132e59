"""Cohort feature extraction: many recordings -> one Parquet each + a cohort summary.

``run_cohort`` runs in this process (``workers=1``), on a Dask ``LocalCluster``
(``workers=N > 1``: N single-threaded worker processes) or on an existing
``dask.distributed`` scheduler (``scheduler="tcp://host:8786"``). Every recording goes
through the streaming engine in chunks (:mod:`movereg.recordings._worker`).

Outputs in ``out_dir``
----------------------
* ``<stem>.parquet`` per recording (written to a temporary name, then renamed);
* ``cohort_summary.csv`` and ``cohort_summary.parquet``: one row per input with status
  ``ok``/``error`` and a message, wear hours, coverage, mean ENMO (mg, over worn time)
  and minutes in each intensity zone (worn epochs, epoch length x coverage);
* ``cohort_manifest.json``: for each finished recording its input's size, mtime and
  BLAKE2b and the run's parameters. A rerun skips recordings whose input and
  parameters are unchanged and whose Parquet is still there; failed ones are retried.
* ``.cohort_salt``: random salt for the hashed device serials (kept so hashes stay
  stable across reruns of the same cohort; delete it to re-key).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from movereg.errors import InputFileError, ParameterError
from movereg.recordings._worker import SUMMARY_COLUMNS, file_fingerprint, process_recording
from movereg.recordings.adc_grid import parse_adc_grid
from movereg.recordings.reader import RECORDING_SUFFIXES, recording_stem
from movereg.recordings.synthetic import SyntheticSpec

__all__ = ["CohortResult", "run_cohort"]

MANIFEST = "cohort_manifest.json"
SUMMARY_CSV = "cohort_summary.csv"
SUMMARY_PARQUET = "cohort_summary.parquet"
_SALT = ".cohort_salt"

Source = Path | SyntheticSpec


@dataclass
class CohortResult:
    """What :func:`run_cohort` did.

    Attributes
    ----------
    rows
        One summary row per input (dicts with :data:`SUMMARY_COLUMNS` plus ``skipped``,
        ``seconds`` and ``peak_rss_mb``), in input order.
    out_dir, summary_csv, summary_parquet
        Where things were written.
    """

    rows: list[dict[str, Any]]
    out_dir: Path
    summary_csv: Path
    summary_parquet: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_ok(self) -> int:
        """Recordings with features (processed now or skipped as already done)."""
        return sum(r["status"] == "ok" for r in self.rows)

    @property
    def n_error(self) -> int:
        """Recordings that failed (see their ``message``)."""
        return sum(r["status"] != "ok" for r in self.rows)

    @property
    def n_skipped(self) -> int:
        """Recordings skipped because a previous run finished them."""
        return sum(bool(r.get("skipped")) for r in self.rows)

    @property
    def errors(self) -> list[tuple[str, str]]:
        """``(input, message)`` for each failed recording."""
        return [(str(r["input"]), str(r["message"])) for r in self.rows if r["status"] != "ok"]


def _expand(inputs: Sequence[Path | str | SyntheticSpec]) -> list[Source]:
    out: list[Source] = []
    for item in inputs:
        if isinstance(item, SyntheticSpec):
            out.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file()
                           and q.name.lower().endswith(RECORDING_SUFFIXES))
            out.extend(found)
        else:
            out.append(p)
    return out


def _stem(src: Source) -> str:
    return src.stem if isinstance(src, SyntheticSpec) else recording_stem(src)


def _salt(out_dir: Path) -> bytes:
    p = out_dir / _SALT
    if p.exists():
        return bytes.fromhex(p.read_text().strip())
    salt = secrets.token_bytes(16)
    _atomic_write_text(p, salt.hex())
    return salt


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _load_manifest(out_dir: Path) -> dict[str, Any]:
    p = out_dir / MANIFEST
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # an unreadable manifest only costs a recompute
    entries = data.get("entries", {}) if isinstance(data, dict) else {}
    return entries if isinstance(entries, dict) else {}


def _save_manifest(out_dir: Path, entries: dict[str, Any]) -> None:
    _atomic_write_text(out_dir / MANIFEST,
                       json.dumps({"version": 1, "entries": entries}, indent=1, default=str))


def _is_done(src: Source, stem: str, entry: Any, params: dict[str, Any],
             out_dir: Path) -> bool:
    if not isinstance(entry, dict) or entry.get("params") != params:
        return False
    if entry.get("row", {}).get("status") != "ok" or not (out_dir / f"{stem}.parquet").exists():
        return False
    old = entry.get("fingerprint", {})
    if isinstance(src, SyntheticSpec):
        return bool(old == src.fingerprint())
    try:
        now = file_fingerprint(src, with_hash=False)
    except OSError:
        return False
    if now["size"] != old.get("size"):
        return False
    if now["mtime_ns"] == old.get("mtime_ns"):
        return True
    # touched but maybe unchanged: compare contents
    return bool(file_fingerprint(src)["blake2b"] == old.get("blake2b"))


def _run_local(jobs: list[tuple[Source, str]], kw: dict[str, Any],
               progress: bool = False) -> Iterator[dict[str, Any]]:
    for src, stem in jobs:
        yield process_recording(src, stem=stem, progress=progress, **kw)


def _run_dask(jobs: list[tuple[Source, str]], kw: dict[str, Any], workers: int,
              scheduler: str | None) -> Iterator[dict[str, Any]]:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        futs = {}
        for src, stem in jobs:
            fut = client.submit(process_recording, src, stem=stem, pure=False, **kw)
            futs[fut] = (src, stem)
        for fut in as_completed(list(futs)):
            src, stem = futs[fut]
            try:
                yield fut.result()
            except Exception as exc:  # worker died (e.g. out of memory): report, go on
                yield {k: None for k in SUMMARY_COLUMNS} | {
                    "recording": stem, "input": str(src), "status": "error",
                    "message": f"{src}: worker failed: {type(exc).__name__}: {exc}"}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_cohort(inputs: Sequence[Path | str | SyntheticSpec], out_dir: Path, *,
               epoch_s: float = 5.0, fs_hz: float | None = None, workers: int | None = 1,
               scheduler: str | None = None, progress: bool = True,
               adc_grid: str | float = "auto", tz: str | None = None,
               calibrate: str = "off") -> CohortResult:
    """Extract per-epoch features for many recordings.

    Parameters
    ----------
    inputs
        Recording files, directories (their recording files, sorted), or
        :class:`SyntheticSpec` (benchmarks).
    out_dir
        Output directory (created).
    epoch_s
        Epoch length, s.
    fs_hz
        Sampling rate (Hz) for CSV files that do not state one; overrides file rates.
    workers
        1 (or ``None``): run here, one recording after another. N > 1: a Dask
        ``LocalCluster`` of N single-threaded worker processes.
    scheduler
        Address of an existing ``dask.distributed`` scheduler (wins over ``workers``);
        workers must see the same input and output paths.
    progress
        Show a progress bar on stderr.
    adc_grid
        Text files: ``"auto"`` (default), ``"off"`` or LSB per g (see
        :func:`open_recording`).
    tz
        Device files: IANA zone of the computer that set the clocks (see
        :func:`open_recording`).
    calibrate
        ``"auto"`` (recordings >= 24 h), ``"on"`` or ``"off"`` (default): autocalibration
        (:func:`movereg.signal.calibration.fit_recording`) before the features.

    Returns
    -------
    CohortResult
        Per-recording rows; a bad file is a row with ``status="error"``, not an exception.
    """
    if not epoch_s > 0:
        raise ParameterError(f"epoch_s must be > 0 s, got {epoch_s}")
    workers = 1 if workers is None else int(workers)
    if workers < 1:
        raise ParameterError(f"workers must be >= 1, got {workers}")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(str(out_dir), f"cannot create output directory: {exc}") from exc
    from movereg import __version__

    sources = _expand(inputs)
    if not sources:
        raise InputFileError(", ".join(map(str, inputs)) or "(no inputs)",
                             "no recording files found (looked for "
                             + ", ".join(RECORDING_SUFFIXES) + ")")
    adc_grid = parse_adc_grid(adc_grid)
    params: dict[str, Any] = {"epoch_s": float(epoch_s), "fs_hz": fs_hz,
                              "movereg": __version__}
    params["adc_grid"] = adc_grid    # restored values can change counts: part of the key
    if tz is not None:
        params["tz"] = tz            # the zone moves every epoch: part of the key
    if calibrate != "off":
        params["calibrate"] = calibrate  # calibrated features differ: part of the key
    manifest = _load_manifest(out_dir)
    salt = _salt(out_dir)

    rows: dict[int, dict[str, Any]] = {}
    jobs: list[tuple[Source, str]] = []
    index_of: dict[str, int] = {}
    for i, src in enumerate(sources):
        stem = _stem(src)
        if stem in index_of:
            rows[i] = {k: None for k in SUMMARY_COLUMNS} | {
                "recording": stem, "input": str(src), "status": "error",
                "message": f"{src}: output name {stem}.parquet already used by "
                           f"{sources[index_of[stem]]}; rename one of them"}
            continue
        index_of[stem] = i
        entry = manifest.get(stem)
        if _is_done(src, stem, entry, params, out_dir):
            assert isinstance(entry, dict)
            rows[i] = dict(entry["row"]) | {"skipped": True}
        else:
            jobs.append((src, stem))

    kw = {"out_dir": str(out_dir), "epoch_s": float(epoch_s), "fs_hz": fs_hz, "salt": salt,
          "adc_grid": adc_grid, "tz": tz, "calibrate": calibrate}
    if scheduler or workers > 1:
        stream = _run_dask(jobs, kw, workers, scheduler)
    else:
        stream = _run_local(jobs, kw, progress)  # a bar per file under the cohort's

    from tqdm import tqdm

    extra: dict[str, Any] = {"peak_rss_mb": [], "seconds": []}
    with tqdm(total=len(sources), initial=len(sources) - len(jobs), desc="recordings",
              unit="rec", file=sys.stderr, disable=not progress) as bar:
        for row in stream:
            stem = str(row["recording"])
            i = index_of[stem]
            fp = row.pop("fingerprint", None)
            row["skipped"] = False
            rows[i] = row
            extra["peak_rss_mb"].append(row.get("peak_rss_mb"))
            extra["seconds"].append(row.get("seconds"))
            if row["status"] == "ok":
                manifest[stem] = {"input": str(sources[i]), "fingerprint": fp,
                                  "params": params, "row": _plain(row)}
            else:
                manifest.pop(stem, None)
            _save_manifest(out_dir, manifest)
            bar.update(1)

    ordered = [rows[i] for i in range(len(sources))]
    csv_path, pq_path = _write_summary(out_dir, ordered)
    return CohortResult(ordered, out_dir, csv_path, pq_path, extra)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in (*SUMMARY_COLUMNS, "seconds", "peak_rss_mb")}


def _write_summary(out_dir: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = [*SUMMARY_COLUMNS, "skipped"]
    csv_path = out_dir / SUMMARY_CSV
    tmp = csv_path.with_name(f".{csv_path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    os.replace(tmp, csv_path)
    pq_path = out_dir / SUMMARY_PARQUET
    types = {c: pa.string() for c in cols}
    for c in ("fs_hz", "duration_h", "wear_h", "coverage", "mean_enmo_mg",
              "measured_fs_hz", "clipped_share", *(c for c in cols if c.endswith("_min"))):
        types[c] = pa.float64()
    for c in ("n_epochs", "samples_read", "samples_skipped", "gaps"):
        types[c] = pa.int64()
    types["skipped"] = pa.bool_()
    arrays = []
    for c in cols:
        vals = [r.get(c) for r in rows]
        if types[c] == pa.string():
            vals = [None if v is None else str(v) for v in vals]
        arrays.append(pa.array(vals, type=types[c]))
    table = pa.Table.from_arrays(arrays, names=cols)
    ptmp = pq_path.with_name(f".{pq_path.name}.tmp")
    pq.write_table(table, str(ptmp))
    os.replace(ptmp, pq_path)
    return csv_path, pq_path
