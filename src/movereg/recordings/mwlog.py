"""``.mwlog``: movereg's container for one MetaWear log download, and its reader.

Layout (all little-endian)::

    8 B   magic  b"MVRGMWL1"
    4 B   header length H (u32)
    H B   header: UTF-8 JSON object (keys below)
    ...   the raw log entries exactly as the board sent them, ``entry_size`` bytes each

Header keys: ``version`` (1), ``device_id``, ``model`` (e.g. ``"MetaMotion R"``),
``flash_bytes`` (null when unknown), ``chip`` (``bmi160``/``bmi270``), ``entry_size``
(9: 32-bit tick, 8: 24-bit tick), ``range_g``, ``rate_hz``, ``lsb_per_g``,
``logger_xy`` and ``logger_z`` (the logger ids of the accelerometer's x,y and z bytes),
``n_entries``, ``time_refs`` (list of ``{reset_uid, tick, utc_ns, kind}``: every TIME
reference the host knew at download), ``downloaded_utc_ns``, ``recording_id``.

The reader pairs the x,y and z entries of each sample (same tick), turns ticks into UTC
with :mod:`movereg.recordings._mwlog_time` and resamples onto the nominal grid like the
other device readers. A span whose time had to be inferred (a board reset no host saw)
is recorded in ``rec.qc`` as damage ``clock_unknown`` (0 samples skipped, with its span)
and in ``rec.meta["time_uncertain"]``; entries that cannot form a sample are skipped and
counted (``unpaired_entry``, ``other_logger``). The entries are memory-mapped and read
in chunks, so a 512 MB board's log is read in bounded memory.
"""

from __future__ import annotations

import itertools
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from movereg.errors import DecodeError, InputFileError
from movereg.recordings._mwlog_time import Run, place_runs
from movereg.recordings.base import Recording
from movereg.recordings.devicetime import DeviceGrid
from movereg.recordings.qc import RecordingQC
from movereg.sensors.decoders.metawear_log import (
    LAYOUTS,
    MWLOG_MAGIC,
    MWLOG_SUFFIX,
    TICK_NS,
    TickUnwrap,
    TimeRef,
    entry_rows,
    write_mwlog_header,
)

__all__ = ["MWLOG_MAGIC", "MWLOG_SUFFIX", "MwlogRecording", "is_mwlog", "mwlog_samples",
           "read_mwlog_header", "write_mwlog_header"]

_NEEDED = ("entry_size", "range_g", "rate_hz", "lsb_per_g", "logger_xy", "logger_z",
           "n_entries", "time_refs", "downloaded_utc_ns")
#: entries read at a time (bounded memory for a 512 MB board's log)
_CHUNK = 1 << 18


def is_mwlog(path: Path) -> bool:
    """True when the file starts with the ``.mwlog`` magic (whatever its name)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MWLOG_MAGIC)) == MWLOG_MAGIC
    except OSError:
        return False


def read_mwlog_header(path: Path) -> tuple[dict[str, Any], int, int, int]:
    """``(header, data offset, whole entries, tail bytes)``; InputFileError if not one."""
    p = str(path)
    with open(path, "rb") as fh:
        start = fh.read(12)
        if len(start) < 12 or start[:8] != MWLOG_MAGIC:
            raise InputFileError(p, "not a movereg MetaWear log (.mwlog magic missing)")
        (n,) = struct.unpack_from("<I", start, 8)
        body = fh.read(n)
    if len(body) < n:
        raise InputFileError(p, "the .mwlog header is cut off")
    try:
        head = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(p, f"the .mwlog header is not JSON ({exc})") from exc
    if not isinstance(head, dict) or any(k not in head for k in _NEEDED):
        raise InputFileError(p, "the .mwlog header lacks " + ", ".join(
            k for k in _NEEDED if not isinstance(head, dict) or k not in head))
    if head["entry_size"] not in LAYOUTS:
        raise InputFileError(p, f"unknown entry size {head['entry_size']} (8 or 9)")
    data = Path(path).stat().st_size - 12 - n
    size = int(head["entry_size"])
    return head, 12 + n, data // size, data % size


@dataclass
class _RunInfo:
    """One reset epoch in the file: entries [a, b), unwrapped first/last tick, counts."""

    reset_uid: int
    a: int
    b: int = 0
    first: int = 0
    last: int = 0
    n_xy: int = 0
    n_z: int = 0


class _Log:
    """The entries of a ``.mwlog`` file (memory-mapped) and how to walk them."""

    def __init__(self, path: Path) -> None:
        self.head, off, self.n, self.tail = read_mwlog_header(path)
        self.layout = LAYOUTS[int(self.head["entry_size"])]
        self.xy, self.z = int(self.head["logger_xy"]), int(self.head["logger_z"])
        self.rows = (np.memmap(path, np.uint8, "r", offset=off, shape=(self.n, self.layout.size))
                     if self.n else np.zeros((0, self.layout.size), np.uint8))

    def scan(self) -> tuple[list[_RunInfo], int]:
        """Runs (consecutive entries of one reset_uid) and entries of other loggers."""
        runs: list[_RunInfo] = []
        other = 0
        unwrap = TickUnwrap(self.layout.tick_bits)
        for a in range(0, self.n, _CHUNK):
            ids, uids, ticks, _ = entry_rows(self.rows[a:a + _CHUNK], self.layout)
            cuts = np.flatnonzero(np.diff(uids.astype(np.int16)) != 0) + 1
            for s, e in itertools.pairwise([0, *cuts.tolist(), ids.shape[0]]):
                if not runs or s > 0 or runs[-1].reset_uid != int(uids[0]):
                    runs.append(_RunInfo(int(uids[s]), a + s, a + s))
                    unwrap = TickUnwrap(self.layout.tick_bits)
                run = runs[-1]
                u = unwrap(ticks[s:e])
                if run.b == run.a:  # the run's first entries
                    run.first = int(u[0])
                run.last, run.b = int(u[-1]), a + e
                sid = ids[s:e]
                run.n_xy += int(np.count_nonzero(sid == self.xy))
                run.n_z += int(np.count_nonzero(sid == self.z))
                other += e - s - int(np.count_nonzero((sid == self.xy) | (sid == self.z)))
        return runs, other

    def samples(self, run: _RunInfo) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        """``(unwrapped ticks, int16 counts (n, 3), unpaired entries)`` of one run, in
        chunks; the x,y and z entries of a sample are paired by tick (a pair cut by a
        chunk border is carried over)."""
        unwrap = TickUnwrap(self.layout.tick_bits)
        carry_u = np.zeros(0, np.int64)
        carry_id = np.zeros(0, np.uint8)
        carry_d = np.zeros((0, 4), np.uint8)
        for a in range(run.a, run.b, _CHUNK):
            ids, _, ticks, data = entry_rows(self.rows[a:min(run.b, a + _CHUNK)], self.layout)
            u = np.concatenate([carry_u, unwrap(ticks)])
            ids = np.concatenate([carry_id, ids])
            data = np.concatenate([carry_d, data])
            sxy, sz = np.flatnonzero(ids == self.xy), np.flatnonzero(ids == self.z)
            common, ixy, iz = np.intersect1d(u[sxy], u[sz], return_indices=True)
            used = np.zeros(u.shape[0], bool)
            used[sxy[ixy]] = used[sz[iz]] = True
            mine = (ids == self.xy) | (ids == self.z)
            keep = mine & ~used & (u == u[-1]) & (a + _CHUNK < run.b)
            carry_u, carry_id, carry_d = u[keep], ids[keep], data[keep]
            counts = np.empty((common.shape[0], 3), dtype=np.int16)
            counts[:, :2] = np.ascontiguousarray(data[sxy[ixy]]).view("<i2")
            counts[:, 2] = np.ascontiguousarray(data[sz[iz], :2]).view("<i2")[:, 0]
            yield common.astype(np.int64), counts, int(np.count_nonzero(mine & ~used & ~keep))


def mwlog_samples(path: Path) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(reset_uid, unwrapped ticks, int16 counts (n, 3))`` of each run, whole (for
    tests and checks of small files; the reader streams)."""
    log = _Log(path)
    runs, _ = log.scan()
    for run in runs:
        parts = list(log.samples(run))
        yield (run.reset_uid, np.concatenate([p[0] for p in parts]),
               np.concatenate([p[1] for p in parts]))


class MwlogRecording(Recording):
    """A ``.mwlog`` download (see the module docstring): UTC-stamped samples in g."""

    QC_WHILE_READING = True

    def __init__(self, path: Path, *, fs_hz: float | None = None) -> None:
        p = str(path)
        log = _Log(path)
        head = log.head
        try:
            runs, other = log.scan()
            refs = [TimeRef(int(r["reset_uid"]), int(r["tick"]), int(r["utc_ns"]),
                            str(r["kind"])) for r in head["time_refs"]]
            nominal = float(fs_hz or head["rate_hz"])
            lsb = float(head["lsb_per_g"])
            range_g = float(head["range_g"])
        except (DecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputFileError(p, f"unreadable MetaWear log: {exc}") from exc
        if not (nominal > 0 and lsb > 0):
            raise InputFileError(p, "the .mwlog header has no usable rate or scale")
        self._log, self._lsb = log, lsb
        runs = [r for r in runs if r.n_xy and r.n_z]
        if not runs:
            raise InputFileError(p, "the MetaWear log holds no accelerometer samples")
        ends = [Run(r.reset_uid, np.array([r.first, r.last], np.int64)) for r in runs]
        placed = place_runs(ends, refs, log.layout.tick_bits, nominal,
                            int(head["downloaded_utc_ns"]))
        order = sorted(range(len(runs)), key=lambda i: float(placed[i].t_ns[0]))
        self._runs = [(runs[i], placed[i]) for i in order]
        model = str(head.get("model") or "MetaWear")
        qc = RecordingQC(format="mwlog", device=f"MbientLab {model}",
                         serial=str(head.get("device_id", "")), fs_hz=nominal,
                         range_g=range_g, tz="UTC", tz_source="device")
        qc.first_sample_ns = round(float(self._runs[0][1].t_ns[0]))
        qc.last_sample_ns = round(float(self._runs[-1][1].t_ns[-1]))
        self._note(qc, other, log.tail)
        meta: dict[str, Any] = {
            "format": "mwlog", "device": qc.device, "serial": qc.serial, "reader": "movereg",
            "model": model, "chip": head.get("chip"), "range_g": range_g,
            "entry_layout": log.layout.name, "flash_bytes": head.get("flash_bytes"),
            "recording_id": head.get("recording_id"), "tz": "UTC", "tz_source": "device",
            "reset_epochs": len(self._runs),
            "time_uncertain": [
                {"reset_uid": q.run.reset_uid, "first_ns": round(float(q.t_ns[0])),
                 "last_ns": round(float(q.t_ns[-1])), "uncertainty_s": q.uncertainty_s}
                for _, q in self._runs if not q.known],
            "clock_drift_s": [q.drift_s for _, q in self._runs if q.drift_s is not None],
        }
        super().__init__(path, nominal, qc.first_sample_ns, None, meta)
        self.n_samples_estimate = sum(min(r.n_xy, r.n_z) for r, _ in self._runs)
        self.qc = qc

    def _note(self, qc: RecordingQC, other: int, tail: int) -> None:
        for run, q in self._runs:
            if q.known:
                continue
            slack = ("by an unknown time" if q.uncertainty_s is None
                     else f"up to {q.uncertainty_s:.0f} s")
            qc.add_damage("clock_unknown", f"{min(run.n_xy, run.n_z)} samples after a board "
                          "reset no host saw: placed to end at the next known time; they "
                          f"may be earlier {slack}", blocks=1,
                          span=(round(float(q.t_ns[0])), round(float(q.t_ns[-1]))))
        if other:
            qc.add_damage("other_logger", f"{other} entries from loggers other than the "
                          "accelerometer's", blocks=other)
        if tail:
            qc.add_damage("truncated", "the file ends in a partial "
                          f"{self._log.layout.size}-byte entry", blocks=1, samples=1)

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        base = float(self.qc.first_sample_ns or 0)
        grid = DeviceGrid(self.fs_hz, utc_shift_ns=round(base))
        qc = self.qc
        qc.samples_read = qc.clipped = 0
        unpaired = 0
        for run, q in self._runs:
            # t(u) is affine in the unwrapped tick: fixed by the run's placed first tick
            off = (float(q.t_ns[0]) - base) - run.first * TICK_NS
            first = True
            for u, counts, lost in self._log.samples(run):
                unpaired += lost
                if not u.shape[0]:
                    continue
                xyz = counts.astype(np.float64) / self._lsb
                qc.count_raw(xyz)
                yield from grid.feed(off + u * TICK_NS, xyz, break_before=first)
                first = False
        if unpaired:
            qc.add_damage("unpaired_entry", f"{unpaired} log entries without their other "
                          "half (x,y or z)", blocks=unpaired, samples=unpaired)
        qc.measured_fs_hz = grid.measured_fs_hz
        qc.end_stream(grid.gaps, grid.backwards)
