"""ActiGraph GT3X, Axivity CWA and GENEActiv BIN through the ``actfast`` reader library.

``actfast`` (Child Mind Institute, Rust) decodes a whole file at once into memory
(20 bytes per sample: about 5.2 GB for a 30-day 100 Hz file). movereg therefore cuts the
file at the format's own record boundaries into valid pieces of about a million samples
(:mod:`movereg.recordings._pieces`), has ``actfast`` decode one piece at a time and
streams the samples on: memory stays bounded (a piece's arrays, ~20 MB, plus a
temporary copy of the piece's bytes on disk). Decoding is still done by ``actfast``
only; movereg parses nothing but record boundaries.

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
movereg checks the CWA size (1024-byte header + whole 512-byte sectors), GENEActiv pages
(complete, and as many as the header's "Number of Pages") and GT3X log records (whole),
and reports a truncated file. A GENEActiv page shortfall is found at the end of the
stream (a cohort run then reports the recording as failed and writes no output).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from movereg.errors import InputFileError
from movereg.recordings._pieces import bin_pieces, cwa_pieces, gt3x_pieces
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


class _Decoded:
    """One piece decoded by actfast: UTC-corrected times, float32 acceleration, metadata."""

    def __init__(self, times: np.ndarray, acc: np.ndarray, md: dict[str, dict[str, str]],
                 reader_format: str, low_rows: int) -> None:
        self.times = times
        self.acc = acc
        self.md = md
        self.reader_format = reader_format
        self.low_rows = low_rows


def _decode(blob: bytes, kind: str, path: str, tmpdir: Path) -> _Decoded:
    import actfast

    suffix = {"gt3x": ".gt3x", "cwa": ".cwa", "geneactiv_bin": ".bin"}[kind]
    tmp = tmpdir / f"piece{suffix}"
    tmp.write_bytes(blob)
    try:
        res = actfast.read(str(tmp))
    except (ValueError, OSError, RuntimeError) as exc:
        msg = str(exc).replace(str(tmp), "<piece>")
        raise InputFileError(path, f"cannot read as {kind.upper()}: {msg}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    table: Any = None
    for tab in res.get("timeseries", {}).values():
        if "acceleration" in tab:
            table = tab
            break
    if table is None:
        raise InputFileError(path, f"{res.get('format', kind)}: no acceleration channel")
    times = np.asarray(table["datetime"], dtype=np.int64)
    acc = np.asarray(table["acceleration"])
    if times.shape[0] == 0:
        acc = acc.reshape(0, 3)
    if acc.ndim != 2 or acc.shape[1] != 3 or acc.shape[0] != times.shape[0]:
        raise InputFileError(path, f"unexpected acceleration shape {acc.shape}")
    low: dict[str, Any] = dict(res["timeseries"].get("low_frequency", {}))
    return _Decoded(times, acc, res.get("metadata", {}), str(res.get("format", "")),
                    len(low.get("datetime", ())))


def _header_facts(kind: str, md: dict[str, dict[str, str]]
                  ) -> tuple[str, str, float | None, int | None, int | None]:
    """device, serial, rate (Hz), UTC offset (s), pages (GENEActiv) from metadata."""
    device, serial, rate, tz, pages = "unknown", "", None, None, None
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
        npages = _float(md.get("Memory Status", {}).get("Number of Pages"))
        pages = int(npages) if npages is not None else None
    return device, serial.strip(), rate, tz, pages


class ActfastRecording(Recording):
    """A GT3X, CWA or GENEActiv BIN file decoded by ``actfast`` piece by piece.

    ``n_samples`` is known only when the whole file fits in the first piece.
    """

    #: piece sizes: CWA sectors, GENEActiv pages, GT3X log bytes (about 1 M samples each)
    CWA_SECTORS = 8192
    BIN_PAGES = 3000
    GT3X_BYTES = 4 << 20

    def __init__(self, path: Path, *, fs_hz: float | None = None) -> None:
        p = str(path)
        kind = BINARY_SUFFIXES.get(path.suffix.lower(), "unknown")
        self.path = path
        self._kind = kind
        if kind == "cwa":
            size = path.stat().st_size
            if size < 1024 or (size - 1024) % 512:
                raise InputFileError(p, f"truncated CWA file: {size} bytes is not a 1024-byte "
                                     "header plus whole 512-byte sectors")
        first: _Decoded | None = None
        single = True
        with tempfile.TemporaryDirectory(prefix="movereg-") as tmp:
            for i, blob in enumerate(self._pieces()):
                if i == 0:
                    first = _decode(blob, kind, p, Path(tmp))
                else:
                    single = False
                    break
        if first is None or first.times.shape[0] == 0:
            hint = (" (actfast decodes GT3X ACTIVITY records, type 0x00; files whose "
                    "samples are in ACTIVITY2 records, type 0x1A, read as empty)"
                    if kind == "gt3x" else "")
            raise InputFileError(p, f"{kind}: no acceleration samples{hint}")
        device, serial, rate, tz, pages = _header_facts(kind, first.md)
        self._tz = tz
        self._pages = pages
        if single and pages is not None and first.low_rows < pages:
            raise InputFileError(p, f"truncated GENEActiv file: header says {pages} pages, "
                                 f"file has {first.low_rows}")
        times = first.times - (tz or 0) * 1_000_000_000
        fs = fs_hz or (snap_rate(rate) if rate else rate_from_times(times, p))
        meta: dict[str, Any] = {"format": kind, "device": device, "serial": serial,
                                "reader": "actfast", "utc_offset_s": tz,
                                "reader_format": first.reader_format}
        super().__init__(path, fs, int(times[0]), int(times.shape[0]) if single else None,
                         meta)

    def _pieces(self) -> Iterator[bytes]:
        if self._kind == "cwa":
            yield from cwa_pieces(self.path, self.CWA_SECTORS)
        elif self._kind == "geneactiv_bin":
            for blob, _k in bin_pieces(self.path, self.BIN_PAGES):
                yield blob
        elif self._kind == "gt3x":
            yield from gt3x_pieces(self.path, self.GT3X_BYTES)
        else:
            raise InputFileError(str(self.path), "unknown binary recording type")

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        p = str(self.path)
        seg = _Segmenter(self.fs_hz, p)
        index = 0
        pages = 0
        shift = (self._tz or 0) * 1_000_000_000
        with tempfile.TemporaryDirectory(prefix="movereg-") as tmp:
            for blob in self._pieces():
                d = _decode(blob, self._kind, p, Path(tmp))
                pages += d.low_rows
                times = d.times - shift
                n = times.shape[0]
                for a in range(0, n, _SLICE):
                    b = min(n, a + _SLICE)
                    xyz = np.asarray(d.acc[a:b], dtype=np.float64)
                    yield from seg.feed(times[a:b], xyz, index + a)
                index += n
        if self._pages is not None and pages < self._pages:
            raise InputFileError(p, f"truncated GENEActiv file: header says {self._pages} "
                                 f"pages, file has {pages}")
