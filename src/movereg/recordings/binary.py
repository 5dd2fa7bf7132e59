"""ActiGraph GT3X, Axivity CWA and GENEActiv BIN through the ``actfast`` reader library.

``actfast`` (Child Mind Institute, Rust) decodes the whole file at once: it holds every
sample's timestamp (int64) and acceleration (float32 x 3), 20 bytes per sample, in
memory — about 0.5 GB for a 7-day 30 Hz GT3X and 5.2 GB for a 30-day 100 Hz CWA. movereg
then streams that array through the engine in chunks, so the *feature* side stays
bounded, but the decode itself is not. For cohorts of month-long 100 Hz binary files,
give each Dask worker enough memory (or convert to CSV.gz/Parquet first, which stream).

What is read
------------
* acceleration in g as ``actfast`` calibrates it (GT3X: the accelerometer scale from the
  Parameters record; CWA: the per-block scale; GENEActiv: the header's gain/offset);
* the rate from the file's header, or from the timestamps when the header lacks it;
* the device time zone when the header has one (GT3X ``TimeZone``, GENEActiv ``Time
  Zone``, CWA header minutes): device clocks are local, so ``t0_ns`` is local time minus
  that offset. Without one the local clock is taken as UTC (``meta["utc_offset_s"]``
  is then ``None``).
* light, temperature, battery and gyroscope channels are ignored.

Truncation: ``actfast`` silently drops a partial trailing CWA sector or GENEActiv page;
movereg checks the CWA size (1024-byte header + whole 512-byte sectors) and the
GENEActiv page count against the header and reports a truncated file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from movereg.errors import InputFileError
from movereg.recordings.base import Recording, _Segmenter, rate_from_times, snap_rate

__all__ = ["BINARY_SUFFIXES", "ActfastRecording"]

#: lower-case suffix -> format name
BINARY_SUFFIXES = {".gt3x": "gt3x", ".cwa": "cwa", ".bin": "geneactiv_bin"}
_SLICE = 1 << 18


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    m = re.search(r"-?\d+(?:\.\d+)?", text)
    return float(m.group(0)) if m else None


def _offset_s(text: str | None) -> int | None:
    """``-05:00:00``, ``GMT -05:00``, ``+01:00`` -> seconds east of UTC."""
    if not text:
        return None
    m = re.search(r"([+-]?)(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if not m:
        return None
    sign = -1 if m.group(1) == "-" else 1
    return sign * (int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4) or 0))


class ActfastRecording(Recording):
    """A GT3X, CWA or GENEActiv BIN file decoded by ``actfast`` (see the module notes)."""

    def __init__(self, path: Path, *, fs_hz: float | None = None) -> None:
        import actfast

        p = str(path)
        kind = BINARY_SUFFIXES.get(path.suffix.lower(), "unknown")
        if kind == "cwa":
            size = path.stat().st_size
            if size < 1024 or (size - 1024) % 512:
                raise InputFileError(p, f"truncated CWA file: {size} bytes is not a 1024-byte "
                                     "header plus whole 512-byte sectors")
        try:
            res = actfast.read(p)
        except (ValueError, OSError, RuntimeError) as exc:
            raise InputFileError(p, f"cannot read as {kind.upper()}: {exc}") from exc
        md: dict[str, dict[str, str]] = res.get("metadata", {})
        table = None
        for tab in res.get("timeseries", {}).values():
            if "acceleration" in tab:
                table = tab
                break
        if table is None or len(table["datetime"]) == 0:
            raise InputFileError(p, f"{res.get('format', kind)}: no acceleration samples")
        times = np.asarray(table["datetime"], dtype=np.int64)
        acc = np.asarray(table["acceleration"])
        if acc.ndim != 2 or acc.shape[1] != 3:
            raise InputFileError(p, f"unexpected acceleration shape {acc.shape}")

        device, serial, rate, tz = "unknown", "", None, None
        if kind == "gt3x":
            info = md.get("info", {})
            device = info.get("Device Type", "ActiGraph")
            serial = info.get("Serial Number", "")
            rate = _float(info.get("Sample Rate"))
            tz = _offset_s(info.get("TimeZone"))
        elif kind == "cwa":
            dev = md.get("device", {})
            device = f"Axivity {dev.get('hardware_type', '')}".strip()
            serial = dev.get("device_id", "")
            rate = _float(md.get("configuration", {}).get("sample_rate_hz"))
            tzm = dev.get("time_zone")
            if tzm is not None and tzm.lstrip("-").isdigit() and int(tzm) != -1:
                tz = int(tzm) * 60
        elif kind == "geneactiv_bin":
            ident = md.get("Device Identity", {})
            device = ident.get("Device Type", "GENEActiv")
            serial = ident.get("Device Unique Serial Code", "")
            conf = md.get("Configuration Info", {})
            rate = _float(conf.get("Measurement Frequency"))
            tz = _offset_s(conf.get("Time Zone"))
            pages = _float(md.get("Memory Status", {}).get("Number of Pages"))
            low: dict[str, Any] = dict(res["timeseries"].get("low_frequency", {}))
            got = len(low.get("datetime", ()))
            if pages is not None and got < int(pages):
                raise InputFileError(p, f"truncated GENEActiv file: header says {int(pages)} "
                                     f"pages, file has {got}")
        if tz is not None:
            times = times - tz * 1_000_000_000
        fs = fs_hz or (snap_rate(rate) if rate else rate_from_times(times, p))
        self._times = times
        self._acc = acc
        meta: dict[str, Any] = {"format": kind, "device": device, "serial": serial.strip(),
                                "reader": "actfast", "utc_offset_s": tz,
                                "reader_format": res.get("format", "")}
        super().__init__(path, fs, int(times[0]), int(times.shape[0]), meta)

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        seg = _Segmenter(self.fs_hz, str(self.path))
        n = self._times.shape[0]
        for a in range(0, n, _SLICE):
            b = min(n, a + _SLICE)
            xyz = np.asarray(self._acc[a:b], dtype=np.float64)
            yield from seg.feed(self._times[a:b], xyz, a)
