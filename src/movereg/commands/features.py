"""``movereg features``: per-epoch movement features of recordings, to CSV or Parquet."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from movereg.errors import InputFileError, ParameterError

if TYPE_CHECKING:
    from movereg.models import Gap

HELP = ("Compute per-epoch movement features (ENMO, MAD, counts, rhythm, impacts, ...) of "
        "recordings and write them as CSV or Parquet.")

_CHUNK = 1 << 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``movereg features``."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="recording(s): CSV (optionally .gz) with header x,y,z in g and an "
                        "optional time column (Unix s/ms/us/ns by magnitude, or ISO 8601; "
                        "UTC unless an offset is given) or a first line '# fs_hz=<rate>'; "
                        "also GT3X/CWA/GENEActiv BIN (see movereg.recordings); several "
                        "inputs go to the cohort mode")
    parser.add_argument("--epoch", type=float, default=5.0, metavar="S",
                        help="epoch length in seconds (default 5)")
    parser.add_argument("--out", required=True, metavar="OUT",
                        help="OUT.csv or OUT.parquet for one input; a directory for several")
    parser.add_argument("--fs", type=float, default=None, metavar="HZ",
                        help="sampling rate in Hz (else from the file)")
    parser.add_argument("--adc-grid", default="auto", metavar="auto|off|LSB_PER_G",
                        help="text files rounded from a device's ADC steps (ActiLife CSV "
                        "exports: 3 decimals): 'auto' (default) restores 1/256 or "
                        "1/341.33 g steps when the values provably are such (counts then "
                        "match ActiLife's from the device file), 'off' reads values as "
                        "written, a number forces that grid (LSB per g)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="cohort mode: local worker processes")
    parser.add_argument("--scheduler", default=None, metavar="ADDR",
                        help="cohort mode: address of a dask.distributed scheduler")
    parser.add_argument("--tz", default=None, metavar="ZONE",
                        help="device files (CWA, GT3X, GENEActiv): IANA time zone of the "
                        "computer that set the device's clock, e.g. Europe/Berlin (DST-aware; "
                        "the offset in force when the clock was set holds for the whole "
                        "recording); without it the file's own offset is used, else UTC is "
                        "assumed and said")
    parser.add_argument("--calibrate", default="auto", choices=["auto", "on", "off"],
                        help="autocalibration (van Hees et al. 2014, as GGIR and actipy): "
                        "a sphere fit on 10-s still windows, offset and scale applied to "
                        "every sample before any feature; 'auto' (default) for recordings "
                        "of 24 h or more, 'on' for any length, 'off' never. The QC row "
                        "records the windows used, the error before/after (mg) and whether "
                        "the fit was accepted (error after < 10 mg, sphere populated)")
    parser.add_argument("--valid-day", default="16h", metavar="HOURS",
                        help="cohort mode: wear needed for a valid day in cohort_days.csv "
                        "(default 16h)")
    parser.add_argument("--nonwear-ggir", default="off", choices=["off", "2013", "2023"],
                        help="one recording: add column nonwear_ggir, GGIR's offline "
                        "non-wear reproduced exactly (van Hees 2013 rules; GGIR's 2013 "
                        "centred or 2023 left-aligned windows; 1 non-wear, 0 wear, -1 in the "
                        "trailing part GGIR does not score). Holds the samples in memory "
                        "(about 36 bytes each at peak). The column nonwear is the live, causal flag")


_DEVICE_FORMATS = ("cwa", "gt3x", "gt3x_legacy", "geneactiv_bin")


def _open(path: str, fs_hz: float | None, adc_grid: str | float, tz: str | None) -> Any:
    """The recording (movereg.recordings): ``fs_hz``, ``t0_ns`` and ``chunks(n)``."""
    from movereg.recordings import open_recording

    p = Path(path)
    if not p.exists():
        raise InputFileError(path, "no such file")
    if p.is_dir():
        raise InputFileError(path, "is a directory, not a recording file")
    return open_recording(p, fs_hz=fs_hz, adc_grid=adc_grid, tz=tz)


def report_file(path: str, qc: Any) -> None:
    """The CLI's lines about one device file: the zone it assumed, one damage warning."""
    if qc.format in _DEVICE_FORMATS and qc.tz_source == "assumed":
        sys.stderr.write(f"movereg features: {path}: device clock read as UTC (assumed; "
                         "give --tz ZONE, e.g. --tz Europe/Berlin, for a local clock)\n")
    warning = qc.warning()
    if warning:
        sys.stderr.write(f"movereg features: {path}: warning: {warning}\n")


def _single(path: str, out: Path, epoch_s: float, fs_hz: float | None,
            adc_grid: str | float, tz: str | None = None, calibrate: str = "off",
            nonwear_ggir: str = "off") -> int:
    try:
        table, rec = _table_of(path, epoch_s, fs_hz, adc_grid, tz, calibrate, nonwear_ggir)
    except (EOFError, zlib.error, UnicodeDecodeError) as exc:
        # a corrupt compressed file or bad bytes, from whichever reader: one clear line
        raise InputFileError(path, f"unreadable file ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc})") from None
    try:
        qc_row = _qc_row(rec, out.parent)
        extra = [] if rec.nonwear_ggir is None else [("nonwear_ggir", rec.nonwear_ggir)]
        if out.suffix.lower() == ".parquet":
            table.to_parquet(out)
            _add_parquet_metadata(out, {"movereg.qc": json.dumps(qc_row, default=str),
                                        "movereg.calibration": json.dumps(
                                            rec.calibration_row, default=str)}, extra)
        else:
            table.to_csv(out, extra=extra)
        _write_qc_csv(qc_path(out), qc_row)
    except OSError as exc:
        raise InputFileError(str(out), f"cannot write ({exc.strerror or exc})") from None
    report_file(path, rec.qc)
    return 0


def _cohort_days(out: Path, rows: list[dict[str, Any]], tz: str | None,
                 valid_day: str) -> None:
    """``cohort_days.csv`` (one row per recording and local day, ``recording`` as the
    code) and ``cohort_persons.json`` beside the cohort summary."""
    import pyarrow.parquet as pq

    from movereg.storage.days import (
        DAY_COLUMNS,
        days_from_epochs,
        parse_valid_day,
        person_summary,
    )

    valid_h = parse_valid_day(valid_day)
    days: list[dict[str, Any]] = []
    for row in rows:
        if row.get("status") != "ok" or not row.get("output"):
            continue
        table = pq.read_table(out / str(row["output"]), columns=[
            "epoch_start", "epoch_s", "coverage", "nonwear", "zone", "counts_vm",
            "rhythmic_fraction", "enmo_mg"])
        cols = {c: table.column(c).to_numpy() for c in table.column_names}
        cols["epoch_start"] = table.column("epoch_start").cast("int64").to_numpy()
        days += days_from_epochs(str(row["recording"]), cols, tz=tz, valid_h=valid_h)
    with open(out / "cohort_days.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([n for n, _ in DAY_COLUMNS])
        w.writerows([d[n] for n, _ in DAY_COLUMNS] for d in days)
    (out / "cohort_persons.json").write_text(json.dumps(
        {"valid_day_h": valid_h, "persons": person_summary(days)}, indent=2) + "\n",
        encoding="utf-8")


def qc_path(out: Path) -> Path:
    """Where the QC row of ``OUT.csv``/``OUT.parquet`` goes: ``OUT.qc.csv``."""
    return out.with_name(f"{out.stem}.qc.csv")


def _qc_row(rec: Any, out_dir: Path) -> dict[str, Any]:
    from movereg.recordings import hash_serial
    from movereg.recordings.cohort import _salt

    serial = rec.qc.serial
    return {"input": str(rec.path), **rec.qc.row(hash_serial(serial, _salt(out_dir))
                                                 if serial else ""),
            **getattr(rec, "calibration_row", {})}


def _write_qc_csv(path: Path, row: dict[str, Any]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(list(row))
        w.writerow(["" if v is None else v for v in row.values()])


def _add_parquet_metadata(path: Path, extra: dict[str, str],
                          columns: list[tuple[str, Any]] | None = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(str(path))
    for name, values in columns or []:
        table = table.append_column(name, pa.array(values))
    meta = dict(table.schema.metadata or {})
    meta.update({k.encode(): v.encode() for k, v in extra.items()})
    pq.write_table(table.replace_schema_metadata(meta), str(path))


def _table_of(path: str, epoch_s: float, fs_hz: float | None,
              adc_grid: str | float, tz: str | None = None,
              calibrate: str = "off", nonwear_ggir: str = "off") -> tuple[Any, Any]:
    from movereg.signal.calibration import (
        Calibration,
        StillWindows,
        calibration_row,
        fit_collected,
        fit_recording,
    )

    rec = _open(path, fs_hz, adc_grid, tz)
    # auto with a length not known up front (e.g. CSV): features and still windows in one
    # pass; a second pass only for a recording >= 24 h whose fit is accepted
    still = (StillWindows(rec.fs_hz)
             if calibrate == "auto" and rec.n_samples_estimate is None else None)
    if still is None:
        cal, status = fit_recording(lambda: rec, calibrate)
        if status in ("applied", "rejected"):   # the fit pass read it
            rec = _open(path, fs_hz, adc_grid, tz)
    else:
        cal, status = Calibration(), "pending"
    if rec.adc_lsb_per_g is not None:
        sys.stderr.write(f"movereg features: {path}: values restored to steps of "
                         f"1/{rec.adc_lsb_per_g:g} g\n")
    table, keep = _features(rec, path, epoch_s, cal, nonwear_ggir, still)
    if still is not None:
        cal, status = fit_collected(still, rec.fs_hz, calibrate)
        if cal.ok:
            rec = _open(path, fs_hz, adc_grid, tz)
            table, keep = _features(rec, path, epoch_s, cal, nonwear_ggir, None)
    rec.calibration_row = calibration_row(cal, status)
    if status in ("applied", "rejected"):  # "skipped" (auto, < 24 h) is in the QC row
        sys.stderr.write(f"movereg features: {path}: calibration {status}"
                         + (f" ({cal.reason})" if cal.reason else
                            f" (error {cal.error_before_mg:.1f} -> {cal.error_after_mg:.2f} mg, "
                            f"{cal.n_windows} still windows)") + "\n")
    rec.nonwear_ggir = None
    if keep is not None and keep.t0 is not None:
        from movereg.signal.nonwear_ggir import nonwear_ggir as ggir
        from movereg.signal.nonwear_ggir import nonwear_ggir_epochs

        res = ggir(keep.samples(), rec.fs_hz, approach=nonwear_ggir)
        rec.nonwear_ggir = nonwear_ggir_epochs(res, keep.t0, table["epoch_start"])
    return table, rec


def _features(rec: Any, path: str, epoch_s: float, cal: Any, nonwear_ggir: str,
              still: Any) -> tuple[Any, _SampleKeeper | None]:
    """One pass over ``rec``: the epoch table (``cal`` applied when accepted), the kept
    samples for GGIR's non-wear, and the still windows into ``still`` when given."""
    from tqdm import tqdm

    from movereg.signal import EpochTable, FeatureEngine, apply_calibration

    eng = FeatureEngine(rec.fs_hz, epoch_s=epoch_s)
    parts = []
    with tqdm(total=rec.n_samples_estimate, desc=Path(path).name, unit=" samples",
              unit_scale=True, file=sys.stderr, disable=None, leave=False) as bar:
        keep = _SampleKeeper(rec.fs_hz) if nonwear_ggir != "off" else None
        for t0, x, gaps in rec.gapped_chunks(_CHUNK):
            if still is not None:
                if gaps:
                    still.gap()
                still.add(x)
            if cal.ok:
                x = apply_calibration(x, cal)
            parts.append(eng.push(x, t0, gaps))
            if keep is not None:
                keep.add(t0, x, gaps)
            bar.update(x.shape[0])
    parts.append(eng.flush())
    table = EpochTable.concat(parts)
    if table.n == 0:
        raise InputFileError(path, "no data rows")
    return table, keep


class _SampleKeeper:
    """Samples in memory (float32) for GGIR's batch non-wear; gaps become NaN rows."""

    def __init__(self, fs_hz: float) -> None:
        self.fs_hz = fs_hz
        self.t0: int | None = None
        self._parts: list[Any] = []
        self._n = 0

    def add(self, t0: int, x: Any, gaps: Sequence[Gap]) -> None:
        """A chunk and the gaps before it (their missing samples become NaN rows)."""
        import numpy as np

        if self.t0 is None:
            self.t0 = int(t0)
        missing = sum(g.samples_missing for g in gaps) if self._n else 0
        if missing > 0:
            self._parts.append(np.full((missing, 3), np.nan, dtype=np.float32))
            self._n += missing
        self._parts.append(np.asarray(x, dtype=np.float32))
        self._n += x.shape[0]

    def samples(self) -> Any:
        import numpy as np

        return np.concatenate(self._parts) if self._parts else np.zeros((0, 3))


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    if not args.epoch > 0:
        raise ParameterError(f"--epoch must be > 0 s, got {args.epoch}")
    if args.fs is not None and not args.fs > 0:
        raise ParameterError(f"--fs must be > 0 Hz, got {args.fs}")
    from movereg.recordings.adc_grid import parse_adc_grid

    adc_grid = parse_adc_grid(args.adc_grid)
    from movereg.recordings.devicetime import parse_tz

    parse_tz(args.tz)  # an unknown zone is a one-line error before any work
    from movereg.storage.days import parse_valid_day

    parse_valid_day(args.valid_day)
    out = Path(args.out)
    cohort = len(args.inputs) > 1 or out.is_dir() or args.out.endswith(("/", "\\"))
    if cohort:
        from movereg.recordings import run_cohort

        result = run_cohort(args.inputs, out, epoch_s=args.epoch, fs_hz=args.fs,
                            workers=args.workers, scheduler=args.scheduler,
                            adc_grid=adc_grid, tz=args.tz, calibrate=args.calibrate)
        for row in result.rows:
            if row.get("status") != "ok":
                sys.stderr.write(f"movereg features: {row.get('message')}\n")
            elif row.get("warning"):
                sys.stderr.write(f"movereg features: {row.get('input')}: warning: "
                                 f"{row.get('warning')}\n")
        if args.tz is None and any(r.get("tz_source") == "assumed" and r.get("format")
                                   in _DEVICE_FORMATS for r in result.rows):
            sys.stderr.write("movereg features: device clocks without a zone read as UTC "
                             "(assumed; give --tz ZONE for a local clock)\n")
        _cohort_days(out, result.rows, args.tz, args.valid_day)
        sys.stderr.write(f"movereg features: {result.n_ok} recording(s) done, "
                         f"{result.n_error} failed; summary in {result.summary_csv}\n")
        return 0 if result.n_error == 0 else 1
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ParameterError(f"--out must end in .csv or .parquet (or be a directory), "
                             f"got {args.out}")
    return _single(args.inputs[0], out, args.epoch, args.fs, adc_grid, args.tz,
                   args.calibrate, args.nonwear_ggir)
