"""``movereg features``: per-epoch movement features of recordings, to CSV or Parquet."""

from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path
from typing import Any

from movereg.errors import InputFileError, ParameterError

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


def _open(path: str, fs_hz: float | None, adc_grid: str | float) -> Any:
    """The recording (movereg.recordings): ``fs_hz``, ``t0_ns`` and ``chunks(n)``."""
    from movereg.recordings import open_recording

    p = Path(path)
    if not p.exists():
        raise InputFileError(path, "no such file")
    if p.is_dir():
        raise InputFileError(path, "is a directory, not a recording file")
    return open_recording(p, fs_hz=fs_hz, adc_grid=adc_grid)


def _single(path: str, out: Path, epoch_s: float, fs_hz: float | None,
            adc_grid: str | float) -> int:
    try:
        table = _table_of(path, epoch_s, fs_hz, adc_grid)
    except (EOFError, zlib.error, UnicodeDecodeError) as exc:
        # a corrupt compressed file or bad bytes, from whichever reader: one clear line
        raise InputFileError(path, f"unreadable file ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc})") from None
    try:
        if out.suffix.lower() == ".parquet":
            table.to_parquet(out)
        else:
            table.to_csv(out)
    except OSError as exc:
        raise InputFileError(str(out), f"cannot write ({exc.strerror or exc})") from None
    return 0


def _table_of(path: str, epoch_s: float, fs_hz: float | None,
              adc_grid: str | float) -> Any:
    from movereg.signal import EpochTable, FeatureEngine

    rec = _open(path, fs_hz, adc_grid)
    if rec.adc_lsb_per_g is not None:
        sys.stderr.write(f"movereg features: {path}: values restored to steps of "
                         f"1/{rec.adc_lsb_per_g:g} g\n")
    eng = FeatureEngine(rec.fs_hz, epoch_s=epoch_s)
    parts = []
    for t0, x in rec.chunks(_CHUNK):
        parts.append(eng.push(x, t0))
    parts.append(eng.flush())
    table = EpochTable.concat(parts)
    if table.n == 0:
        raise InputFileError(path, "no data rows")
    return table


def run(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    if not args.epoch > 0:
        raise ParameterError(f"--epoch must be > 0 s, got {args.epoch}")
    if args.fs is not None and not args.fs > 0:
        raise ParameterError(f"--fs must be > 0 Hz, got {args.fs}")
    from movereg.recordings.adc_grid import parse_adc_grid

    adc_grid = parse_adc_grid(args.adc_grid)
    out = Path(args.out)
    cohort = len(args.inputs) > 1 or out.is_dir() or args.out.endswith(("/", "\\"))
    if cohort:
        from movereg.recordings import run_cohort

        result = run_cohort(args.inputs, out, epoch_s=args.epoch, fs_hz=args.fs,
                            workers=args.workers, scheduler=args.scheduler,
                            adc_grid=adc_grid)
        for row in result.rows:
            if row.get("status") != "ok":
                sys.stderr.write(f"movereg features: {row.get('message')}\n")
        sys.stderr.write(f"movereg features: {result.n_ok} recording(s) done, "
                         f"{result.n_error} failed; summary in {result.summary_csv}\n")
        return 0 if result.n_error == 0 else 1
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ParameterError(f"--out must end in .csv or .parquet (or be a directory), "
                             f"got {args.out}")
    return _single(args.inputs[0], out, args.epoch, args.fs, adc_grid)
