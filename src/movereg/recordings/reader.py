"""``open_recording``: one entry point that picks the reader from the file's name and bytes."""

from __future__ import annotations

from pathlib import Path

from movereg.errors import InputFileError
from movereg.recordings.adc_grid import AdcGrid, parse_adc_grid
from movereg.recordings.base import Recording
from movereg.recordings.binary import BINARY_SUFFIXES, ActfastRecording, _is_legacy_gt3x
from movereg.recordings.csvfile import CsvRecording
from movereg.recordings.cwa import CwaRecording
from movereg.recordings.devicetime import parse_tz
from movereg.recordings.gt3x_legacy import Gt3xLegacyRecording
from movereg.recordings.parquetfile import ParquetRecording
from movereg.recordings.polarrec import PolarRecRecording, is_polarrec

__all__ = ["RECORDING_SUFFIXES", "open_recording", "recording_stem"]

#: Suffixes recognised when a directory is given (lower case).
RECORDING_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".gt3x", ".cwa", ".bin", ".polarrec")


def recording_stem(path: Path) -> str:
    """File name without the recording suffix (``a.csv.gz`` -> ``a``)."""
    name = path.name
    low = name.lower()
    for suf in sorted(RECORDING_SUFFIXES, key=len, reverse=True):
        if low.endswith(suf):
            return name[: -len(suf)]
    return path.stem


def open_recording(path: str | Path, *, fs_hz: float | None = None,
                   adc_grid: AdcGrid = "auto", tz: str | None = None) -> Recording:
    """Open a recording file for streaming.

    Parameters
    ----------
    path
        ``.csv`` / ``.csv.gz`` (any gzipped CSV), ``.parquet`` (movereg raw export),
        ``.gt3x`` (ActiGraph, incl. legacy ``activity.bin`` files), ``.cwa`` (Axivity
        AX3/AX6), ``.bin`` (GENEActiv), ``.polarrec`` (a Polar band's offline
        recording, as :class:`~movereg.sensors.polar_offline.PolarOfflineRecorder`
        downloads it).
    fs_hz
        Sampling rate, Hz. Needed for CSV files without a time column or a rate line;
        otherwise it overrides the rate found in the file.
    adc_grid
        Text files only: ``"auto"`` (default) restores rounded ActiGraph ADC steps
        when the values provably are such (:mod:`movereg.recordings.adc_grid`);
        ``"off"`` reads values as written; a number (LSB per g) rounds every value to
        that grid.
    tz
        Device files (CWA, GT3X, GENEActiv): the IANA zone (``"Europe/Berlin"``) of the
        computer that set the device's clock; its offset at that time (DST-aware) turns
        the local clock into UTC. Without it the file's own offset is used, else UTC is
        assumed (``rec.qc.tz_source == "assumed"``).

    Returns
    -------
    Recording
        ``.chunks(n)`` streams float64 ``(n, 3)`` g with UTC ns start times on a
        uniform grid at ``rec.fs_hz``; device files are resampled from the device's own
        timestamps (:mod:`movereg.recordings.devicetime`). ``rec.meta`` holds the
        header facts (``measured_fs_hz`` for device files), ``rec.qc`` the quality
        control (:class:`~movereg.recordings.qc.RecordingQC`: measured rate, first/last
        sample, samples read and skipped with reasons, damaged spans, gaps, clipping;
        complete after a full pass).

    Raises
    ------
    InputFileError
        The file is missing, empty, of an unknown type, malformed text, or a device file
        with no readable data; the message names the file, the problem and (for text)
        the line. Damaged device files (bad sectors or records, cut off, short) are
        read: the damage is in ``rec.qc``.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(str(p), "no such file")
    if p.is_dir():
        raise InputFileError(str(p), "is a directory, not a recording file")
    if p.stat().st_size == 0:
        raise InputFileError(str(p), "empty file")
    grid = parse_adc_grid(adc_grid)
    if fs_hz is not None and not fs_hz > 0:
        raise InputFileError(str(p), f"sampling rate must be > 0 Hz, got {fs_hz}")
    low = p.name.lower()
    suffix = p.suffix.lower()
    zone = parse_tz(tz)
    if suffix == ".cwa":
        return CwaRecording(p, fs_hz=fs_hz, tz=zone)
    if suffix == ".polarrec" or is_polarrec(p):  # a Polar band's offline recording
        return PolarRecRecording(p, fs_hz=fs_hz)
    if suffix == ".gt3x" and _is_legacy_gt3x(p):
        return Gt3xLegacyRecording(p, fs_hz=fs_hz, tz=zone)
    if suffix in BINARY_SUFFIXES:
        return ActfastRecording(p, fs_hz=fs_hz, tz=zone)
    if suffix == ".parquet":
        return ParquetRecording(p, fs_hz=fs_hz)
    if low.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        return CsvRecording(p, fs_hz=fs_hz, adc_grid=grid)
    raise InputFileError(str(p), "unknown recording type; expected one of "
                         + ", ".join(RECORDING_SUFFIXES))
