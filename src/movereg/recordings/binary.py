"""ActiGraph GT3X and GENEActiv BIN through the ``actfast`` reader library.

(Axivity CWA has movereg's own reader, :mod:`movereg.recordings.cwa`; legacy GT3X with
``activity.bin`` :mod:`movereg.recordings.gt3x_legacy`.)

``actfast`` (Child Mind Institute, Rust) decodes a whole file at once into memory
(20 bytes per sample: about 5.2 GB for a 30-day 100 Hz file). movereg therefore cuts the
file at the format's own record boundaries into valid pieces of about a million samples
(:mod:`movereg.recordings._pieces`), has ``actfast`` decode one piece at a time and
streams the samples on: memory stays bounded.

What is read
------------
* acceleration in g as ``actfast`` calibrates it (GT3X: the accelerometer scale from the
  Parameters record; GENEActiv: the header's gain/offset);
* device time (:mod:`movereg.recordings.devicetime`): GT3X samples at their record's
  second plus i / rate; GENEActiv samples spaced evenly between their page's time and
  the next page's; then resampled linearly onto the configured rate's grid;
* the local clock read with ``tz`` (``--tz``), else the zone the header states (GT3X
  ``TimeZone``, GENEActiv ``Time Zone``), else taken as UTC (``qc.tz_source="assumed"``);
* light, temperature, battery and gyroscope channels are ignored.

Damage (reported in :attr:`Recording.qc`, not refused): a GT3X log record cut off at
the end, a corrupt record header (the rest is skipped) or an activity record failing its
checksum; a GENEActiv page cut off at the end or fewer pages than the header's "Number
of Pages". Only a file with no readable samples is an error.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from movereg.errors import InputFileError
from movereg.recordings._pieces import bin_pieces, gt3x_pieces
from movereg.recordings.base import Recording, rate_from_times, snap_rate
from movereg.recordings.devicetime import DeviceGrid, block_spacing, resolve_clock
from movereg.recordings.qc import RecordingQC

__all__ = ["BINARY_SUFFIXES", "ActfastRecording"]

#: lower-case suffix -> format name
BINARY_SUFFIXES = {".gt3x": "gt3x", ".cwa": "cwa", ".bin": "geneactiv_bin"}
_SLICE = 1 << 18
_PAGE = 300  # GENEActiv samples per page


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
                 reader_format: str, low_times: np.ndarray) -> None:
        self.times = times
        self.acc = acc
        self.md = md
        self.reader_format = reader_format
        self.low_times = low_times
        self.low_rows = int(low_times.shape[0])


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
                    np.asarray(low.get("datetime", ()), dtype=np.int64))


def _range_g(md: dict[str, dict[str, str]], kind: str) -> float | None:
    """The accelerometer's range (g) from the header, if stated."""
    if kind == "gt3x":
        v = _float(md.get("info", {}).get("Acceleration Max"))
    else:
        text = md.get("Device Capabilities", {}).get("Accelerometer Range", "")
        m = re.findall(r"\d+(?:\.\d+)?", text)
        v = float(m[-1]) if m else None
    return abs(v) if v else None


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
    """A GT3X or GENEActiv BIN file decoded by ``actfast`` piece by piece.

    ``n_samples`` is known only when the whole file fits in the first piece; the QC
    (:attr:`qc`) is complete after a full pass of :meth:`chunks`.
    """

    QC_WHILE_READING = True

    #: piece sizes: GENEActiv pages, GT3X log bytes (about 1 M samples each)
    BIN_PAGES = 3000
    GT3X_BYTES = 4 << 20

    def __init__(self, path: Path, *, fs_hz: float | None = None,
                 tz: ZoneInfo | None = None) -> None:
        p = str(path)
        kind = BINARY_SUFFIXES.get(path.suffix.lower(), "unknown")
        if kind == "gt3x" and _is_legacy_gt3x(path):
            raise InputFileError(p, "legacy GT3X (activity.bin): open it with "
                                 "movereg.recordings.open_recording")
        self.path = path
        self._kind = kind
        self._per_record = 0
        first: _Decoded | None = None
        with tempfile.TemporaryDirectory(prefix="movereg-") as tmp:
            pieces = self._pieces()
            for blob in pieces:
                first = _decode(blob, kind, p, Path(tmp))
                break
            single = next(pieces, None) is None
        if first is None or first.times.shape[0] == 0:
            hint = (" (actfast decodes GT3X ACTIVITY records, type 0x00; files whose "
                    "samples are in ACTIVITY2 records, type 0x1A, read as empty)"
                    if kind == "gt3x" else "")
            raise InputFileError(p, f"{kind}: no readable acceleration samples{hint}")
        device, serial, rate, file_tz, pages = _header_facts(kind, first.md)
        self._pages = pages
        self._per_record = int(rate or 0)
        fs = fs_hz or (snap_rate(rate) if rate else rate_from_times(first.times, p))
        self._base = int(first.times[0])
        off, tz_label, tz_source = resolve_clock(tz, file_tz, self._base)
        self._shift = self._base - off * 1_000_000_000
        qc = RecordingQC(format=kind, device=device, serial=serial, fs_hz=float(fs),
                         range_g=_range_g(first.md, kind), tz=tz_label, tz_source=tz_source)
        self.fs_hz = float(fs)
        probe = DeviceGrid(fs)
        for _ in probe.feed(self._times(first, None), np.zeros((first.times.shape[0], 3))):
            pass
        qc.measured_fs_hz = probe.measured_fs_hz
        qc.first_sample_ns = self._shift
        meta: dict[str, Any] = {"format": kind, "device": device, "serial": serial,
                                "reader": "actfast", "utc_offset_s": off, "tz": tz_label,
                                "tz_source": tz_source, "measured_fs_hz": qc.measured_fs_hz,
                                "reader_format": first.reader_format}
        n = probe.rows if single else None  # grid samples of a one-piece file
        super().__init__(path, fs, qc.first_sample_ns, n, meta)
        self.n_samples_estimate = n
        self.qc = qc

    def _pieces(self) -> Iterator[bytes]:
        if self._kind == "geneactiv_bin":
            for blob, _k in bin_pieces(self.path, self.BIN_PAGES, self._damage):
                yield blob
        elif self._kind == "gt3x":
            yield from gt3x_pieces(self.path, self.GT3X_BYTES, self._damage,
                                   self._per_record)
        else:
            raise InputFileError(str(self.path), "unknown binary recording type")

    def _damage(self, reason: str, message: str, blocks: int, samples: int,
                spans: list[tuple[int, int]]) -> None:
        qc = getattr(self, "qc", None)
        if qc is None:
            return
        qc.add_damage(reason, message, blocks=blocks, samples=samples)
        to_utc = self._shift - self._base  # local ns -> UTC ns
        for a, b in spans:
            qc.add_damage(reason, message, span=(a * 1_000_000_000 + to_utc,
                                                 b * 1_000_000_000 + to_utc))

    def _times(self, d: _Decoded, next_page_ns: int | None) -> np.ndarray:
        """Device times (ns, float64, relative to the first sample) of a decoded piece."""
        t = (d.times - self._base).astype(np.float64)
        n = t.shape[0]
        if self._kind != "geneactiv_bin" or n != d.low_rows * _PAGE or n == 0:
            return t  # GT3X: record second + i / rate, as the device wrote them
        # GENEActiv: samples spaced evenly from their page's time to the next page's
        starts = t[::_PAGE]
        nxt = None if next_page_ns is None else float(next_page_ns - self._base)
        spacing, _ = block_spacing(starts, np.full(starts.shape[0], _PAGE),
                                   1e9 / self._page_rate(d), nxt)
        out: np.ndarray = (starts[:, None] + np.arange(_PAGE)[None, :] * spacing[:, None]
                           ).reshape(-1)
        return out

    def _page_rate(self, d: _Decoded) -> float:
        step = np.median(np.diff(d.times[:_PAGE])) if d.times.shape[0] > 1 else 0
        return 1e9 / float(step) if step > 0 else self.fs_hz

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        p = str(self.path)
        qc = self.qc
        qc.damage.clear()
        qc.samples_read = qc.clipped = 0
        grid = DeviceGrid(self.fs_hz, utc_shift_ns=self._shift)
        pages = 0
        last_t: float | None = None
        with tempfile.TemporaryDirectory(prefix="movereg-") as tmp:
            pieces = self._pieces()
            cur = next((_decode(b, self._kind, p, Path(tmp)) for b in pieces), None)
            while cur is not None:
                nxt = next((_decode(b, self._kind, p, Path(tmp)) for b in pieces), None)
                pages += cur.low_rows
                nxt_t = int(nxt.times[0]) if nxt is not None and nxt.times.shape[0] else None
                times = self._times(cur, nxt_t)
                for a in range(0, times.shape[0], _SLICE):
                    xyz = np.asarray(cur.acc[a:a + _SLICE], dtype=np.float64)
                    qc.count_raw(xyz)
                    yield from grid.feed(times[a:a + _SLICE], xyz)
                if times.shape[0]:
                    last_t = float(times[-1])
                cur = nxt
        cut = sum(d.blocks for d in qc.damage if d.reason == "truncated")
        if self._pages is not None and pages + cut < self._pages:
            missing = self._pages - pages - cut
            qc.add_damage("missing_pages", f"the header promises {self._pages} pages, the "
                          f"file holds {pages}", blocks=missing, samples=missing * _PAGE)
        if last_t is not None:
            qc.last_sample_ns = round(last_t) + self._shift
        qc.measured_fs_hz = grid.measured_fs_hz
        self.meta["measured_fs_hz"] = qc.measured_fs_hz
        qc.end_stream(grid.gaps, grid.backwards)


def _is_legacy_gt3x(path: Path) -> bool:
    """A GT3X zip with ``activity.bin`` and no ``log.bin`` (NHANES-era GT3X/GT3X+)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return "activity.bin" in names and "log.bin" not in names
