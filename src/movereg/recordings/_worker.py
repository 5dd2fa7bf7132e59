"""One recording -> one Parquet of epochs + one summary row (runs in a Dask worker).

The recording is streamed in chunks through :class:`movereg.signal.features.FeatureEngine`
(the live code path) and epochs are written to Parquet in row groups as they come, so
memory does not grow with the recording's length (except inside ``actfast`` for the
binary formats, see :mod:`movereg.recordings.binary`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from movereg.errors import MoveregError
from movereg.recordings.base import Recording, hash_serial
from movereg.recordings.reader import open_recording
from movereg.recordings.synthetic import SyntheticSpec
from movereg.signal.schema import EPOCH_COLUMNS, ZONE_LABELS

__all__ = ["SUMMARY_COLUMNS", "file_fingerprint", "process_recording"]

CHUNK_SAMPLES = 1 << 18
_ROW_GROUP = 8192  # epochs per Parquet row group (about 1.4 MB)

#: Cohort summary columns, in order.
SUMMARY_COLUMNS = (
    "recording", "input", "status", "message", "format", "device", "serial_hash", "fs_hz",
    "start", "end", "n_epochs", "duration_h", "wear_h", "coverage", "mean_enmo_mg",
    *(f"{z}_min" for z in ZONE_LABELS), "output",
    # per-file QC (movereg.recordings.qc), complete after the pass
    "measured_fs_hz", "tz", "tz_source", "first_sample_utc", "last_sample_utc",
    "samples_read", "samples_skipped", "skipped_why", "gaps", "clipped_share", "warning",
    # autocalibration (movereg.signal.calibration.calibration_row)
    "calibration", "calibration_reason", "calibration_windows",
    "calibration_error_before_mg", "calibration_error_after_mg", "calibration_offset_g",
    "calibration_scale",
)


def file_fingerprint(path: Path, *, with_hash: bool = True) -> dict[str, Any]:
    """Size (bytes), mtime (ns) and BLAKE2b of a file, to recognise it on a rerun."""
    st = path.stat()
    fp: dict[str, Any] = {"kind": "file", "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if with_hash:
        with open(path, "rb") as fh:
            fp["blake2b"] = hashlib.file_digest(fh, "blake2b").hexdigest()
    return fp


class _Summary:
    """Per-recording totals, accumulated epoch table by epoch table."""

    def __init__(self) -> None:
        self.n = 0
        self.first: int | None = None
        self.last_end = 0
        self.cov_sum = 0.0
        self.wear_s = 0.0
        self.enmo_w = 0.0
        self.enmo_sum = 0.0
        self.zone_s = np.zeros(len(ZONE_LABELS))

    def add(self, cols: Mapping[str, np.ndarray]) -> None:
        n = cols["epoch_start"].shape[0]
        if n == 0:
            return
        if self.first is None:
            self.first = int(cols["epoch_start"][0])
        self.last_end = int(cols["epoch_start"][-1] + round(cols["epoch_s"][-1] * 1e9))
        self.n += n
        cov = cols["coverage"]
        self.cov_sum += float(np.sum(cov))
        worn = (cols["nonwear"] == 0) & (cov > 0)
        secs = cols["epoch_s"] * cov
        self.wear_s += float(np.sum(secs[worn]))
        enmo = cols["enmo_mg"]
        ok = worn & np.isfinite(enmo)
        self.enmo_sum += float(np.sum(enmo[ok] * cov[ok]))
        self.enmo_w += float(np.sum(cov[ok]))
        zone = cols["zone"]
        for i in range(len(ZONE_LABELS)):
            self.zone_s[i] += float(np.sum(secs[worn & (zone == i)]))

    def row(self) -> dict[str, Any]:
        from movereg.signal.table import iso_utc

        out: dict[str, Any] = {
            "n_epochs": self.n,
            "start": iso_utc(np.array([self.first]))[0] if self.first is not None else "",
            "end": iso_utc(np.array([self.last_end]))[0] if self.first is not None else "",
            "duration_h": (self.last_end - self.first) / 3.6e12 if self.first is not None
            else 0.0,
            "wear_h": self.wear_s / 3600.0,
            "coverage": self.cov_sum / self.n if self.n else 0.0,
            "mean_enmo_mg": self.enmo_sum / self.enmo_w if self.enmo_w > 0 else float("nan"),
        }
        for i, z in enumerate(ZONE_LABELS):
            out[f"{z}_min"] = float(self.zone_s[i] / 60.0)
        return out


def _arrow_schema() -> Any:
    import pyarrow as pa

    fields = []
    for name, dt in EPOCH_COLUMNS:
        if name == "epoch_start":
            fields.append(pa.field(name, pa.timestamp("ns", tz="UTC")))
        else:
            fields.append(pa.field(name, pa.from_numpy_dtype(np.dtype(dt))))
    return pa.schema(fields)


def _to_arrow(cols: list[Mapping[str, np.ndarray]], schema: Any) -> Any:
    import pyarrow as pa

    arrays = []
    for name, _ in EPOCH_COLUMNS:
        col = np.concatenate([c[name] for c in cols])
        arrays.append(pa.array(col, type=schema.field(name).type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def extract_to_parquet(rec: Recording, out_path: Path, *, epoch_s: float,
                       chunk: int = CHUNK_SAMPLES, serial_hash: str = "",
                       progress: bool = False, calibration: Any = None,
                       still: Any = None) -> dict[str, Any]:
    """Stream ``rec`` through the engine into ``out_path`` (atomic); return summary stats.

    The finished QC row goes into the file's key-value metadata as ``movereg.qc`` (JSON);
    ``progress`` shows a per-file bar (samples) on stderr; an accepted ``calibration``
    (:class:`movereg.signal.Calibration`) is applied to every sample first; ``still``
    (:class:`movereg.signal.calibration.StillWindows`) collects the still windows of the
    samples as read, for a calibration decided after this pass.
    """
    import sys

    import pyarrow.parquet as pq
    from tqdm import tqdm

    from movereg import __version__
    from movereg.signal.features import FeatureEngine

    schema = _arrow_schema().with_metadata({
        "movereg.version": __version__, "movereg.fs_hz": repr(rec.fs_hz),
        "movereg.epoch_s": repr(float(epoch_s)),
        "movereg.format": str(rec.meta.get("format", "")),
        "movereg.device": str(rec.meta.get("device", "")),
        "movereg.adc_lsb_per_g": repr(rec.adc_lsb_per_g),
    })
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    acc = _Summary()
    engine = FeatureEngine(rec.fs_hz, epoch_s=epoch_s)
    pending: list[Mapping[str, np.ndarray]] = []
    rows = 0
    try:
        with pq.ParquetWriter(str(tmp), schema) as writer:
            def emit(cols: Mapping[str, np.ndarray], *, force: bool = False) -> None:
                nonlocal rows
                if cols["epoch_start"].shape[0]:
                    pending.append(cols)
                    rows += cols["epoch_start"].shape[0]
                    acc.add(cols)
                if pending and (force or rows >= _ROW_GROUP):
                    writer.write_table(_to_arrow(pending, schema))
                    pending.clear()
                    rows = 0

            with tqdm(total=rec.n_samples_estimate, desc=rec.path.name, unit=" samples",
                      unit_scale=True, file=sys.stderr, disable=None if progress else True,
                      leave=False, position=1) as bar:
                for t0, x, gaps in rec.gapped_chunks(chunk):
                    if still is not None:
                        if gaps:
                            still.gap()
                        still.add(x)
                    if calibration is not None and calibration.ok:
                        x = calibration.offset + calibration.scale * x
                    emit(engine.push(x, t0, gaps).columns)
                    bar.update(x.shape[0])
            emit(engine.flush().columns, force=True)
            # the QC is complete now: into the file's metadata
            writer.add_key_value_metadata(
                {"movereg.qc": json.dumps(rec.qc.row(serial_hash), default=str)})
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return acc.row()


def process_recording(source: Path | SyntheticSpec, out_dir: str, stem: str, *,
                      epoch_s: float, fs_hz: float | None, salt: bytes,
                      fingerprint: bool = True,
                      adc_grid: str | float = "auto", tz: str | None = None,
                      progress: bool = False, calibrate: str = "off") -> dict[str, Any]:
    """Open, extract and summarise one recording; never raises for a bad input.

    Returns
    -------
    dict
        A summary row (:data:`SUMMARY_COLUMNS`) plus ``fingerprint``, ``seconds`` (wall),
        ``cpu_s`` (this process's CPU time for it) and ``peak_rss_mb`` (this worker
        process's peak resident memory so far, MiB).
    """
    started = time.perf_counter()
    cpu0 = time.process_time()
    row: dict[str, Any] = {k: None for k in SUMMARY_COLUMNS}
    row.update(recording=stem, input=str(source if isinstance(source, Path) else source.name),
               status="error", message="")
    out_path = Path(out_dir) / f"{stem}.parquet"
    try:
        from movereg.signal.calibration import (
            Calibration,
            StillWindows,
            calibration_row,
            fit_collected,
            fit_recording,
        )

        def reopen() -> Recording:
            if isinstance(source, Path):
                return open_recording(source, fs_hz=fs_hz, adc_grid=adc_grid, tz=tz)
            return source.open(fs_hz)

        rec = reopen()
        # auto with a length not known up front: features and still windows in one pass;
        # a second pass only when the recording is >= 24 h and the fit is accepted
        still = (StillWindows(rec.fs_hz)
                 if calibrate == "auto" and rec.n_samples_estimate is None else None)
        if still is None:
            cal, cal_status = fit_recording(lambda: rec, calibrate)
            if cal_status in ("applied", "rejected"):   # the fit pass read it
                rec = reopen()
        else:
            cal, cal_status = Calibration(), "pending"
        if isinstance(source, Path):
            fp = file_fingerprint(source, with_hash=fingerprint)
        else:
            fp = source.fingerprint()
        row["fingerprint"] = fp
        serial = str(rec.meta.get("serial", "") or "")
        serial_hash = hash_serial(serial, salt) if serial else ""
        row.update(format=rec.meta.get("format"), device=rec.meta.get("device"),
                   serial_hash=serial_hash, fs_hz=rec.fs_hz)
        row.update(extract_to_parquet(rec, out_path, epoch_s=epoch_s,
                                      serial_hash=serial_hash, progress=progress,
                                      calibration=cal, still=still))
        if still is not None:
            cal, cal_status = fit_collected(still, rec.fs_hz, calibrate)
            if cal.ok:       # the features again, from calibrated samples
                rec = reopen()
                row.update(extract_to_parquet(rec, out_path, epoch_s=epoch_s,
                                              serial_hash=serial_hash, progress=progress,
                                              calibration=cal))
        row.update(calibration_row(cal, cal_status))
        qc = rec.qc.row(serial_hash)
        row.update({k: qc[k] for k in qc if k in SUMMARY_COLUMNS and k not in
                    ("format", "device", "serial_hash", "fs_hz")})
        row.update(status="ok", output=out_path.name, warning=rec.qc.warning() or "")
    except MoveregError as exc:
        row["message"] = str(exc)
    except Exception as exc:  # one bad file must not stop the cohort; say what happened
        row["message"] = f"{source}: unexpected {type(exc).__name__}: {exc}"
    row["seconds"] = time.perf_counter() - started
    row["cpu_s"] = time.process_time() - cpu0
    row["peak_rss_mb"] = _peak_rss_mb()
    return row
