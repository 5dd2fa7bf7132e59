"""CSV / CSV.gz raw-acceleration reader, streamed with pyarrow's CSV reader.

Layouts understood (values in g; header names are case-insensitive)
--------------------------------------------------------------------
* ``time,x,y,z`` (movereg's raw export and most tools). The time column may be called
  ``time``, ``timestamp``, ``datetime``, ``t``, ``t_ns``/``time_ns`` (integer ns),
  ``t_ms``/``time_ms`` (ms) or ``t_s``/``time_s``/``unix_time`` (s). Without a unit in the
  name, numeric times are Unix seconds, ms, µs or ns by magnitude (< 1e11 s, < 1e14 ms,
  < 1e17 µs, else ns). Text times are ISO 8601; with an offset or ``Z`` they are converted
  to UTC, without one they are taken as UTC.
* ``x,y,z`` only, with the rate from ``fs_hz=`` (the caller), a comment line
  ``# fs_hz=<rate>`` (also ``# start=<ISO 8601 or ns>``, ``# device=``, ``# serial=``),
  or an ActiLife CSV header (``--- Data File Created By ActiGraph ... at 30 Hz``, ``Start
  Time``, ``Start Date``, ``Serial Number``). A headerless file of 3 numeric columns is
  ``x,y,z``; of 4 is ``time,x,y,z``. ActiLife's own ``Timestamp`` column is ignored in
  favour of the header's start time and rate.

With ``adc_grid="auto"`` (the default), values written with few decimals (ActiLife's CSV export: 3)
that are provably rounded ActiGraph ADC steps (1/256 or 1/341.33 g) are restored to
those steps (:mod:`movereg.recordings.adc_grid`), detected on the first batch with enough
values and applied to every batch; ``adc_lsb_per_g`` says which grid, or None, and
``meta["adc_grid"]`` says it in a sentence. ``"off"`` reads values as written.

Empty cells become NaN (missing samples). Timestamps must be regular (see
:mod:`movereg.recordings.base`): gaps become missing time, irregular steps are an error.
"""

from __future__ import annotations

import csv
import datetime as _dt
import gzip
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from movereg.errors import InputFileError
from movereg.recordings.adc_grid import (
    ADC_MIN_VALUES,
    AdcGrid,
    describe_adc_grid,
    detect_adc_grid,
    parse_adc_grid,
    snap_to_grid,
)
from movereg.recordings.base import Recording, _Segmenter, rate_from_times

__all__ = ["CsvRecording"]

_TIME_NAMES = {"time", "timestamp", "datetime", "date_time", "t", "t_ns", "time_ns", "t_ms",
               "time_ms", "t_s", "time_s", "unix_time", "epoch_ms", "epoch_s"}
_AXIS_NAMES = {
    "x": ("x", "acc_x", "accel_x", "ax", "accelerometer x", "x_g", "accx"),
    "y": ("y", "acc_y", "accel_y", "ay", "accelerometer y", "y_g", "accy"),
    "z": ("z", "acc_z", "accel_z", "az", "accelerometer z", "z_g", "accz"),
}
_HEADER_SCAN = 60
_BLOCK_BYTES = 1 << 20
_DETECT_BATCHES = 16     # batches (of ~1 MB) looked at to find enough values for adc_grid


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_text(path: Path, gz: bool) -> io.TextIOBase:
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


class _Header:
    """What the first lines say: skip count, column names, rate/start/device hints."""

    def __init__(self) -> None:
        self.skip = 0                  # lines before the first data line
        self.names: list[str] = []     # column names (normalised)
        self.fs_hz: float | None = None
        self.start_ns: int | None = None
        self.device = "unknown"
        self.serial = ""
        self.actilife = False


_ACTILIFE_RATE = re.compile(r"at\s+(\d+(?:\.\d+)?)\s*Hz", re.IGNORECASE)
_ACTILIFE_DATEFMT = re.compile(r"date format\s+(\S+)", re.IGNORECASE)


def _parse_iso_or_ns(value: str) -> int:
    v = value.strip()
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    d = _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.UTC)
    return round(d.timestamp() * 1e9)


def _read_header(path: Path, gz: bool) -> _Header:
    h = _Header()
    lines: list[str] = []
    with _open_text(path, gz) as fh:
        for _ in range(_HEADER_SCAN):
            line = fh.readline()
            if not line:
                break
            lines.append(line.rstrip("\r\n"))
    i = 0
    date_fmt = "M/d/yyyy"
    start_time = start_date = None
    if lines and lines[0].startswith("------------") and "ActiGraph" in lines[0]:
        h.actilife = True
        h.device = "ActiGraph (ActiLife CSV)"
        m = _ACTILIFE_RATE.search(lines[0])
        if m:
            h.fs_hz = float(m.group(1))
        m = _ACTILIFE_DATEFMT.search(lines[0])
        if m:
            date_fmt = m.group(1)
        i = 1
        while i < len(lines) and not lines[i].startswith("----------"):
            ln = lines[i]
            if ln.startswith("Serial Number:"):
                h.serial = ln.split(":", 1)[1].strip()
            elif ln.startswith("Start Time"):
                start_time = ln[len("Start Time"):].strip()
            elif ln.startswith("Start Date"):
                start_date = ln[len("Start Date"):].strip()
            i += 1
        i += 1  # the closing dashes
        if start_time and start_date:
            h.start_ns = _actilife_start(start_date, start_time, date_fmt)
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        for key, value in re.findall(r"(\w+)\s*=\s*([^\s,;]+)", lines[i]):
            k = key.lower()
            if k in ("fs_hz", "fs", "rate_hz", "sample_rate"):
                h.fs_hz = float(value)
            elif k in ("start", "t0", "t0_ns", "start_ns"):
                h.start_ns = _parse_iso_or_ns(value)
            elif k == "device":
                h.device = value
            elif k == "serial":
                h.serial = value
        i += 1
    if i >= len(lines):
        raise InputFileError(str(path), "empty file: no header or samples")
    first = next(csv.reader([lines[i]]))
    if all(_is_number(f) for f in first if f.strip()):
        if len(first) == 3:
            h.names = ["x", "y", "z"]
        elif len(first) == 4:
            h.names = ["time", "x", "y", "z"]
        else:
            raise InputFileError(str(path), f"a headerless CSV needs 3 (x,y,z) or 4 "
                                 f"(time,x,y,z) columns, found {len(first)}", line=i + 1)
        h.skip = i
    else:
        h.names = [f.strip().lower() for f in first]
        h.skip = i + 1
    return h


def _actilife_start(date: str, time: str, fmt: str) -> int:
    order = [p[0].lower() for p in re.split(r"[/\-.]", fmt)]
    parts = [int(p) for p in re.split(r"[/\-.]", date)]
    vals = dict(zip(order, parts, strict=False))
    hh, mm, ss = (int(float(p)) for p in time.split(":")[:3])
    d = _dt.datetime(vals["y"], vals["m"], vals["d"], hh, mm, ss, tzinfo=_dt.UTC)
    return round(d.timestamp()) * 1_000_000_000


def _column_roles(path: Path, h: _Header) -> tuple[str | None, tuple[str, str, str]]:
    names = h.names
    axes: list[str] = []
    for axis in ("x", "y", "z"):
        found = [n for n in names if n in _AXIS_NAMES[axis]]
        if not found:
            raise InputFileError(str(path), f"missing column for the {axis} axis "
                                 f"(columns: {', '.join(names)})", line=h.skip or 1)
        axes.append(found[0])
    time_cols = [n for n in names if n in _TIME_NAMES]
    tcol = None if h.actilife or not time_cols else time_cols[0]
    return tcol, (axes[0], axes[1], axes[2])


class _TimeParser:
    """Converts a batch's time column (strings) to int64 UTC ns, one rule per file."""

    def __init__(self, name: str, first: str, path: str) -> None:
        self.path = path
        self.iso = not _is_number(first)
        self.scale = 1.0
        if not self.iso:
            if name.endswith("_ns"):
                self.scale = 1.0
            elif name.endswith("_ms"):
                self.scale = 1e6
            elif name.endswith("_s") or name == "unix_time":
                self.scale = 1e9
            else:
                v = abs(float(first))
                self.scale = 1e9 if v < 1e11 else 1e6 if v < 1e14 else 1e3 if v < 1e17 else 1.0

    def __call__(self, col: Any) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        if col.null_count:
            raise ValueError("empty time cell")
        if self.iso:
            try:
                ts = pc.cast(col, pa.timestamp("ns", tz="UTC"))
            except pa.ArrowInvalid:
                ts = pc.cast(col, pa.timestamp("ns"))
            return np.asarray(ts.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
        if self.scale == 1.0:
            return np.asarray(pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False),
                              dtype=np.int64)
        vals = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False))
        return np.round(vals * self.scale).astype(np.int64)


class CsvRecording(Recording):
    """A CSV or gzipped CSV file of raw acceleration (see the module docstring)."""

    def __init__(self, path: Path, *, fs_hz: float | None = None,
                 adc_grid: AdcGrid = "auto") -> None:
        p = str(path)
        mode = parse_adc_grid(adc_grid)
        try:
            gz = _is_gzip(path)
            h = _read_header(path, gz)
        except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
            raise InputFileError(p, f"cannot read as (gzipped) text CSV: {exc}") from exc
        self.path = path
        self._gz = gz
        self._h = h
        self._tcol, self._axes = _column_roles(path, h)
        self._tparse: _TimeParser | None = None
        meta: dict[str, Any] = {"format": "csv.gz" if gz else "csv", "device": h.device,
                                "serial": h.serial}
        first_times: np.ndarray | None = None
        if self._tcol is not None:
            first_times = self._first_times(path)
            t0 = int(first_times[0])
        else:
            t0 = h.start_ns if h.start_ns is not None else 0
            meta["start_known"] = h.start_ns is not None
        rate = fs_hz or h.fs_hz
        if rate is None:
            if first_times is None:
                raise InputFileError(p, "no time column and no sampling rate: give fs_hz "
                                     "(--fs) or a first line '# fs_hz=<rate>'")
            rate = rate_from_times(first_times, p)
        super().__init__(path, float(rate), t0, None, meta)
        # the device's ADC steps, when the export rounded them (see adc_grid)
        self._snap: tuple[float, float | None] | None = None
        found = None
        if mode == "auto":
            found = detect_adc_grid(self._first_xyz())
            if found is not None:
                lsb, d = found
                self._snap = (lsb, 0.5 * 10.0 ** -d)
        elif isinstance(mode, float):
            self._snap = (mode, None)
        self.adc_lsb_per_g = self._snap[0] if self._snap is not None else None
        meta["adc_lsb_per_g"] = self.adc_lsb_per_g
        meta["adc_grid"] = describe_adc_grid(mode, found)

    # --- streaming -------------------------------------------------------------------------
    def _reader(self) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        cols = list(self._axes) + ([self._tcol] if self._tcol else [])
        types = {a: pa.float64() for a in self._axes}
        if self._tcol:
            types[self._tcol] = pa.string()
        names = _unique(self._h.names)
        src = pa.input_stream(str(self.path), compression="gzip" if self._gz else None)
        return pacsv.open_csv(
            src,
            read_options=pacsv.ReadOptions(skip_rows=self._h.skip, column_names=names,
                                           block_size=_BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(column_types=types, include_columns=cols),
        )

    def _batches(self) -> Iterator[Any]:
        import pyarrow as pa

        try:
            reader = self._reader()
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                yield batch
        except (pa.ArrowException, OSError, EOFError, ValueError) as exc:
            raise self._explain(exc) from exc

    def _first_times(self, path: Path) -> np.ndarray:
        assert self._tcol is not None
        for batch in self._batches():
            if batch.num_rows == 0:
                continue
            col = batch.column(self._tcol)
            self._tparse = _TimeParser(self._tcol, str(col[0].as_py()), str(path))
            try:
                return self._tparse(col)
            except Exception as exc:  # ValueError, TypeError, pyarrow conversion errors
                raise self._explain(exc) from exc
        raise InputFileError(str(path), "no samples after the header")

    def _first_xyz(self) -> np.ndarray:
        """The samples (g) of the first batch holding enough finite values to detect the
        ADC grid on (looks at most ``_DETECT_BATCHES`` batches; else the last one seen)."""
        xyz = np.empty((0, 3))
        for i, batch in enumerate(self._batches()):
            if batch.num_rows:
                xyz = self._xyz(batch)
                if np.count_nonzero(np.isfinite(xyz)) >= ADC_MIN_VALUES:
                    break
            if i + 1 >= _DETECT_BATCHES:
                break
        return xyz

    def _xyz(self, batch: Any) -> np.ndarray:
        xyz = np.empty((batch.num_rows, 3), dtype=np.float64)
        for k, a in enumerate(self._axes):
            xyz[:, k] = batch.column(a).to_numpy(zero_copy_only=False)
        return xyz

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        seg = _Segmenter(self.fs_hz, str(self.path), line_of=lambda i: self._h.skip + i + 1)
        index = 0
        any_rows = False
        for batch in self._batches():
            n = batch.num_rows
            if n == 0:
                continue
            any_rows = True
            xyz = self._xyz(batch)
            if self._snap is not None:
                xyz = snap_to_grid(xyz, self._snap[0], tolerance_g=self._snap[1])
            if self._tcol is None:
                yield index == 0, xyz, None
            else:
                assert self._tparse is not None
                try:
                    times = self._tparse(batch.column(self._tcol))
                except Exception as exc:
                    raise self._explain(exc) from exc
                yield from seg.feed(times, xyz, index)
            index += n
        if not any_rows:
            raise InputFileError(str(self.path), "no samples after the header")

    # --- errors ------------------------------------------------------------------------------
    def _explain(self, exc: BaseException) -> InputFileError:
        """Map a parse failure to the first offending line (a second, slow pass)."""
        p = str(self.path)
        if isinstance(exc, (OSError, EOFError)) and not isinstance(exc, InputFileError):
            return InputFileError(p, f"cannot read the file (corrupt or truncated gzip?): {exc}")
        try:
            found = self._find_bad_line()
        except (OSError, EOFError, gzip.BadGzipFile) as exc2:
            return InputFileError(p, f"cannot read the file (corrupt or truncated gzip?): {exc2}")
        if found is not None:
            line, problem = found
            return InputFileError(p, problem, line=line)
        return InputFileError(p, f"cannot parse as CSV: {exc}")

    def _find_bad_line(self) -> tuple[int, str] | None:
        names = self._h.names
        need = len(names)
        idx = [names.index(a) for a in self._axes]
        tix = names.index(self._tcol) if self._tcol else None
        with _open_text(self.path, self._gz) as fh:
            for _ in range(self._h.skip):
                fh.readline()
            for lineno, row in enumerate(csv.reader(fh), start=self._h.skip + 1):
                if not row:
                    continue
                if len(row) != need:
                    return lineno, f"expected {need} columns, found {len(row)}"
                for k in idx:
                    v = row[k].strip()
                    if v and not _is_number(v):
                        return lineno, f"not a number in column {names[k]!r}: {v[:40]!r}"
                if tix is not None:
                    v = row[tix].strip()
                    if not v:
                        return lineno, f"empty time in column {names[tix]!r}"
                    if self._tparse is not None:
                        if not self._tparse.iso and not _is_number(v):
                            return lineno, f"not a number in column {names[tix]!r}: {v[:40]!r}"
                        if self._tparse.iso and not _iso_ok(v):
                            return lineno, f"not an ISO 8601 time: {v[:40]!r}"
        return None


def _iso_ok(v: str) -> bool:
    try:
        _dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out
