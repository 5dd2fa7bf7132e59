"""Axivity CWA (AX3, AX6): movereg's own reader, with the device's sector timestamps.

Format source: Axivity / OpenMovement ``cwa.h`` (github.com/digitalinteraction/openmovement,
``Software/AX3/cwa-convert``) as read by OpenMovement's ``omconvert``/``cwa.py``,
GGIRread and actipy:

* a 1024-byte ``MD`` header: hardware type @4 (0x00/0xFF/0x17 AX3, 0x64 AX6), device id
  @5 (u16) with its upper word @11 (0xFFFF = 0), session id @7, last change (clock set)
  time @37, rate code @36 (``3200 / 2^(15 - (code & 15))`` Hz, range ``16 >> (code >> 6)``
  g), firmware @41, time zone minutes @42 (-1 = unknown), annotation @64..512;
* 512-byte ``AX`` data sectors: fractional time @4 (top bit set: 15-bit fraction of a
  second), sequence @10, packed local timestamp @14 (``YYYYYYMM MMDDDDDh hhhhmmmm
  mmssssss``, years from 2000), light/accel-scale @18 (top 3 bits: 1/2^(8+n) g),
  rate code @24, axes/format @25 (``0x30`` AX3 packed 10-bit + exponent, ``0x32`` 3 x
  int16, ``0x62`` gyro + accel int16), timestamp offset @26 (sample index the timestamp
  belongs to), sample count @28, samples @30, and a checksum @510 that makes the
  sector's 16-bit words sum to zero.

Sample 0 of a sector is at ``timestamp + fraction/65536 - offset/fs`` where a fractional
timestamp undoes the firmware's shim ``offset += (fraction * fs) >> 16``; samples inside a
sector are spaced up to the next sector's time (:mod:`movereg.recordings.devicetime`).
Sectors that fail the checksum (or are not data sectors) are skipped and counted: each
is a gap with a reason in :attr:`Recording.qc`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from movereg.errors import InputFileError
from movereg.recordings.base import Recording
from movereg.recordings.devicetime import (
    DeviceGrid,
    block_spacing,
    expand_times,
    measured_rate,
    resolve_clock,
)
from movereg.recordings.qc import RecordingQC

__all__ = ["CwaHeader", "CwaRecording", "cwa_time_ns", "decode_samples", "parse_header",
           "scan_sectors"]

HEADER = 1024
SECTOR = 512
_BATCH = 4096  # sectors decoded at a time (~2 MB of file, <= 491,520 samples)
_SCAN = 8192  # sectors checked at a time when the file is opened (4 MB)
_DEVICE = {0x00: "AX3", 0xFF: "AX3", 0x17: "AX3", 0x64: "AX6"}


class _Sectors:
    """The file's data sectors, read on demand in bounded pieces with ``os.pread``.

    Not a memory map: a map's pages, once touched, count against the process's resident
    memory for as long as the file is open (a week at 100 Hz is ~390 MB); pages read with
    ``pread`` stay in the kernel's page cache, which the kernel reclaims as it needs.
    """

    def __init__(self, path: Path, n: int) -> None:
        self.path, self.n = path, int(n)

    def read(self, a: int, b: int) -> np.ndarray:
        """Sectors ``[a, b)`` as a ``(b - a, 512)`` uint8 array (fewer at a cut-off end)."""
        a, b = max(0, a), min(self.n, b)
        if b <= a:
            return np.empty((0, SECTOR), np.uint8)
        with open(self.path, "rb", buffering=0) as fh:
            data = os.pread(fh.fileno(), (b - a) * SECTOR, HEADER + a * SECTOR)
        k = len(data) // SECTOR
        return np.frombuffer(data[:k * SECTOR], dtype=np.uint8).reshape(k, SECTOR)


@dataclass(frozen=True)
class CwaHeader:
    """The CWA header's facts (rate Hz, range g, times as naive local ns)."""

    device: str
    device_id: int
    session_id: int
    rate_hz: float
    range_g: float
    tz_minutes: int | None
    last_change_ns: int | None
    firmware: int
    annotation: str


def _rate_hz(code: np.ndarray | int) -> np.ndarray:
    c = np.asarray(code, dtype=np.int64)
    out: np.ndarray = 3200.0 / (1 << (15 - (c & 0x0F))).astype(np.float64)
    return out


def cwa_time_ns(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packed CWA timestamps (u32) -> (naive local ns int64, valid mask)."""
    p = np.asarray(packed, dtype=np.int64)
    year = ((p >> 26) & 0x3F) + 2000
    month = (p >> 22) & 0x0F
    day = (p >> 17) & 0x1F
    hour = (p >> 12) & 0x1F
    minute = (p >> 6) & 0x3F
    sec = p & 0x3F
    ok = ((month >= 1) & (month <= 12) & (day >= 1) & (day <= 31) & (hour < 24)
          & (minute < 60) & (sec < 60))
    months = np.where(ok, (year - 2000) * 12 + month - 1, 0)
    days = (np.datetime64("2000-01", "M") + months).astype("datetime64[D]").astype(np.int64)
    days = days + np.where(ok, day - 1, 0)
    secs = days * 86400 + hour * 3600 + minute * 60 + sec
    return secs * 1_000_000_000, ok


def parse_header(buf: bytes, path: str) -> CwaHeader:
    """The 1024-byte header (raises :class:`InputFileError` when it is not one)."""
    if len(buf) < HEADER or buf[:2] != b"MD":
        raise InputFileError(path, "not a CWA file (no 'MD' header)")
    h = np.frombuffer(buf[:HEADER], dtype=np.uint8)
    u16 = int.from_bytes
    upper = u16(buf[11:13], "little")
    dev_id = u16(buf[5:7], "little") | ((0 if upper == 0xFFFF else upper) << 16)
    code = int(h[36])
    tz = int.from_bytes(buf[42:44], "little", signed=True)
    t_change, ok = cwa_time_ns(np.array([u16(buf[37:41], "little")]))
    note = buf[64:512].rstrip(b"\x00\x20\xff").decode("ascii", "replace")
    return CwaHeader(
        device=_DEVICE.get(int(h[4]), f"0x{int(h[4]):02x}"), device_id=dev_id,
        session_id=u16(buf[7:11], "little"), rate_hz=float(_rate_hz(code)),
        range_g=float(16 >> (code >> 6)), tz_minutes=None if tz in (-1, 0x7FFF) else tz,
        last_change_ns=int(t_change[0]) if ok[0] else None, firmware=int(h[41]),
        annotation=note)


@dataclass
class SectorTable:
    """Per-sector facts of a whole file (from :func:`scan_sectors`)."""

    good: np.ndarray          # bool: a data sector whose checksum holds
    data: np.ndarray          # bool: starts with 'AX'
    check: np.ndarray         # bool: the checksum holds
    t_ns: np.ndarray          # float64: device time of sample 0 (naive local ns - base)
    counts: np.ndarray        # int64: samples in the sector
    rate_hz: np.ndarray       # float64
    fmt: np.ndarray           # uint8: axes/format byte
    unit: np.ndarray          # float64: LSB per g
    blank: np.ndarray         # bool: erased (all 0xFF or all 0x00)


def scan_sectors(sectors: np.ndarray, base_ns: int) -> SectorTable:
    """Headers and checksums of ``(n, 512)`` uint8 sectors (times relative to ``base_ns``)."""
    s = np.ascontiguousarray(sectors)
    n = s.shape[0]
    words = s.view("<u2")
    check = (words.sum(axis=1, dtype=np.uint64) & 0xFFFF) == 0
    data = (s[:, 0] == ord("A")) & (s[:, 1] == ord("X"))
    blank = (s == 0xFF).all(axis=1) | (s == 0).all(axis=1)
    frac_raw = words[:, 2].astype(np.int64)
    packed = s[:, 14:18].copy().view("<u4").reshape(n)
    t_whole, t_ok = cwa_time_ns(packed)
    rate = _rate_hz(s[:, 24])
    offset = s[:, 26:28].copy().view("<i2").reshape(n).astype(np.int64)
    has_frac = (frac_raw & 0x8000) != 0
    frac = np.where(has_frac, (frac_raw & 0x7FFF) << 1, 0)  # 1/65536 s
    offset = offset + np.where(has_frac, (frac * rate.astype(np.int64)) >> 16, 0)
    t0 = (t_whole - base_ns).astype(np.float64) + frac * (1e9 / 65536) - offset * 1e9 / rate
    counts = s[:, 28:30].copy().view("<u2").reshape(n).astype(np.int64)
    fmt = s[:, 25].copy()
    per = _samples_per_sector(fmt)
    light = words[:, 9].astype(np.int64)
    unit = (1 << (8 + ((light >> 13) & 7))).astype(np.float64)
    good = data & check & t_ok & (per > 0) & (counts > 0) & (counts <= per)
    return SectorTable(good, data, check, t0, np.where(good, counts, 0), rate, fmt, unit,
                       blank)


def _samples_per_sector(fmt: np.ndarray) -> np.ndarray:
    axes = (fmt.astype(np.int64) >> 4) & 0x0F
    bps = fmt.astype(np.int64) & 0x0F
    per_sample = np.where((bps == 0) & (axes == 3), 4, bps * axes)
    ok = np.isin(axes, (3, 6, 9)) & ((per_sample == 4) | (bps == 2))
    out: np.ndarray = np.where(ok, 480 // np.maximum(per_sample, 1), 0)
    return out


def decode_samples(sectors: np.ndarray, fmt: int, counts: np.ndarray,
                   unit: np.ndarray) -> np.ndarray:
    """Accelerometer samples (g, float64 (sum(counts), 3)) of same-format sectors."""
    s = np.ascontiguousarray(sectors)
    n = s.shape[0]
    axes = (fmt >> 4) & 0x0F
    payload = s[:, 30:510]
    if fmt & 0x0F == 0:  # AX3 packed: eezzzzzz zzzzyyyy yyyyyyxx xxxxxxxx
        w = payload.copy().view("<u4").reshape(n, 120)
        e = (w >> 30).astype(np.int32)
        # sign-extend each 10-bit field by shifting it to the top of an int32 and back
        xyz = np.stack([((w << (22 - sh)).view(np.int32) >> 22) for sh in (0, 10, 20)],
                       axis=-1) << e[..., None]
        per = 120
    else:
        per = 480 // (2 * axes)
        v = payload.copy().view("<i2").reshape(n, per, axes)
        first = 3 if axes >= 6 else 0  # AX6: gyro x, y, z then accel x, y, z
        xyz = v[:, :, first:first + 3]
    g = xyz.astype(np.float64) * (1.0 / unit)[:, None, None]
    mask = np.arange(per)[None, :] < counts[:, None]
    out: np.ndarray = np.ascontiguousarray(g[mask])
    return out


class CwaRecording(Recording):
    """An Axivity CWA file read sector by sector with device time (see module doc).

    ``meta`` adds ``measured_fs_hz``, ``session_id``, ``tz``; ``qc`` holds the counts.
    """

    QC_WHILE_READING = True

    def __init__(self, path: Path, *, fs_hz: float | None = None,
                 tz: ZoneInfo | None = None) -> None:
        p = str(path)
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = parse_header(fh.read(HEADER), p)
        n_sec = max(0, (size - HEADER) // SECTOR)
        self._tail = (size - HEADER) % SECTOR if size >= HEADER else 0
        self._sectors = _Sectors(path, n_sec)
        base = self._base_ns()
        tables = [scan_sectors(self._sectors.read(a, min(a + _SCAN, n_sec)), base)
                  for a in range(0, n_sec, _SCAN)]
        st = SectorTable(*(np.concatenate([getattr(t, f) for t in tables]) if tables
                           else np.empty(0) for f in SectorTable.__dataclass_fields__))
        self._st = st
        self._good = np.flatnonzero(st.good)
        if self._good.shape[0] == 0:
            raise InputFileError(p, f"CWA: no readable data sectors (of {n_sec})")
        nominal = float(fs_hz or head.rate_hz)
        g = self._good
        self._spacing, trusted = block_spacing(st.t_ns[g], st.counts[g], 1e9 / head.rate_hz)
        first_local = base + int(st.t_ns[g[0]])
        set_at = (head.last_change_ns if head.last_change_ns is not None
                  and head.last_change_ns <= first_local else first_local)
        file_off = head.tz_minutes * 60 if head.tz_minutes is not None else None
        off, tz_label, tz_source = resolve_clock(tz, file_off, set_at)
        self._shift = base - off * 1_000_000_000
        self._head = head
        qc = RecordingQC(format="cwa", device=f"Axivity {head.device}",
                         serial=str(head.device_id), fs_hz=nominal,
                         measured_fs_hz=measured_rate(st.t_ns[g], st.counts[g],
                                                      self._spacing, trusted),
                         range_g=head.range_g, tz=tz_label, tz_source=tz_source)
        last = round(st.t_ns[g[-1]] + (st.counts[g[-1]] - 1) * self._spacing[-1])
        qc.first_sample_ns = round(st.t_ns[g[0]]) + self._shift
        qc.last_sample_ns = last + self._shift
        self._note_damage(qc, n_sec)
        meta: dict[str, Any] = {
            "format": "cwa", "device": qc.device, "serial": qc.serial, "reader": "movereg",
            "session_id": head.session_id, "utc_offset_s": off, "tz": tz_label,
            "tz_source": tz_source, "measured_fs_hz": qc.measured_fs_hz,
            "range_g": head.range_g, "annotation": head.annotation,
        }
        n_grid = int(np.floor((last - st.t_ns[g[0]]) / (1e9 / nominal) + 1e-9)) + 1
        # the grid's length is known up front when nothing breaks it
        whole = not qc.damage and bool(trusted[:-1].all())
        super().__init__(path, nominal, qc.first_sample_ns, n_grid if whole else None, meta)
        self.n_samples_estimate = n_grid
        self.qc = qc

    def _base_ns(self) -> int:
        """Whole-second local time of the first data sector (time origin, ns)."""
        first = self._sectors.read(0, min(self._sectors.n, 4096))
        for sec in first:
            if sec[0] == ord("A") and sec[1] == ord("X"):
                t, ok = cwa_time_ns(sec[14:18].copy().view("<u4"))
                if ok[0]:
                    return int(t[0])
        return 0

    def _note_damage(self, qc: RecordingQC, n_sec: int) -> None:
        st = self._st
        per = int(np.median(st.counts[self._good]))
        bad = st.data & ~st.check
        n_bad = int(bad.sum())
        invalid = st.data & st.check & ~st.good
        n_inv = int(invalid.sum())
        if n_inv:  # checksum holds but time, format or count make no sense
            qc.add_damage("bad_sector", f"{n_inv} of {n_sec} sectors have an invalid "
                          "time, format or sample count", blocks=n_inv, samples=n_inv * per)
        if n_bad:
            msg = f"{n_bad} of {n_sec} sectors failed their checksum"
            qc.add_damage("checksum", msg, blocks=n_bad, samples=n_bad * per)
            for i in np.flatnonzero(bad).tolist():
                qc.add_damage("checksum", msg, span=self._span_of(i))
        other = ~st.data & ~st.blank
        n_other = int(other.sum())
        if n_other:
            qc.add_damage("not_data", f"{n_other} of {n_sec} sectors are not data sectors",
                          blocks=n_other, samples=n_other * per)
        if self._tail:
            qc.add_damage("truncated", f"the file ends in a partial sector ({self._tail} "
                          "bytes)", blocks=1, samples=per)

    def _span_of(self, i: int) -> tuple[int, int]:
        """UTC ns from the end of the good sector before ``i`` to the start of the next."""
        g = self._good
        k = int(np.searchsorted(g, i))
        st = self._st
        a = (st.t_ns[g[k - 1]] + st.counts[g[k - 1]] * self._spacing[k - 1] if k > 0
             else st.t_ns[g[0]])
        b = st.t_ns[g[k]] if k < g.shape[0] else a
        return round(a) + self._shift, round(b) + self._shift

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        st, g = self._st, self._good
        grid = DeviceGrid(self.fs_hz, utc_shift_ns=self._shift)
        qc = self.qc
        qc.samples_read = qc.clipped = 0
        for a in range(0, g.shape[0], _BATCH):
            idx = g[a:a + _BATCH]
            # a new run starts wherever the previous sector is not a good one
            brk = np.r_[a > 0 and idx[0] != g[a - 1] + 1, np.diff(idx) != 1]
            runs = [*np.flatnonzero(brk).tolist(), idx.shape[0]]
            if runs[0] != 0:
                runs.insert(0, 0)
            for r0, r1 in itertools.pairwise(runs):
                sel = idx[r0:r1]
                xyz = self._decode(sel)
                times = expand_times(st.t_ns[sel], st.counts[sel],
                                     self._spacing[a + r0:a + r1])
                qc.count_raw(xyz)
                yield from grid.feed(times, xyz, break_before=bool(brk[r0]))
        qc.end_stream(grid.gaps, grid.backwards)

    def _decode(self, sel: np.ndarray) -> np.ndarray:
        st = self._st
        # ``sel`` is one run of consecutive sectors (see _blocks)
        raw = self._sectors.read(int(sel[0]), int(sel[-1]) + 1)
        if raw.shape[0] != sel.shape[0]:
            raw = raw[sel - sel[0]]
        fmts = st.fmt[sel]
        if (fmts == fmts[0]).all():
            return decode_samples(raw, int(fmts[0]), st.counts[sel], st.unit[sel])
        parts = [decode_samples(raw[i:i + 1], int(fmts[i]), st.counts[sel[i:i + 1]],
                                st.unit[sel[i:i + 1]]) for i in range(sel.shape[0])]
        return np.concatenate(parts)

