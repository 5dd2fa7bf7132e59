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
counted (``unpaired_entry``, ``other_logger``).
"""

from __future__ import annotations

import itertools
import json
import struct
from collections.abc import Iterator
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
    EntryLayout,
    TimeRef,
    entries_array,
    unwrap_ticks,
    write_mwlog_header,
)

__all__ = ["MWLOG_MAGIC", "MWLOG_SUFFIX", "MwlogRecording", "read_mwlog", "write_mwlog_header"]

_NEEDED = ("entry_size", "range_g", "rate_hz", "lsb_per_g", "logger_xy", "logger_z",
           "n_entries", "time_refs", "downloaded_utc_ns")


def read_mwlog(path: Path) -> tuple[dict[str, Any], bytes]:
    """(header, raw entries) of a ``.mwlog`` file; InputFileError when it is not one."""
    p = str(path)
    buf = Path(path).read_bytes()
    if len(buf) < 12 or buf[:8] != MWLOG_MAGIC:
        raise InputFileError(p, "not a movereg MetaWear log (.mwlog magic missing)")
    (n,) = struct.unpack_from("<I", buf, 8)
    if 12 + n > len(buf):
        raise InputFileError(p, "the .mwlog header is cut off")
    try:
        head = json.loads(buf[12:12 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(p, f"the .mwlog header is not JSON ({exc})") from exc
    if not isinstance(head, dict) or any(k not in head for k in _NEEDED):
        raise InputFileError(p, "the .mwlog header lacks " + ", ".join(
            k for k in _NEEDED if not isinstance(head, dict) or k not in head))
    if head["entry_size"] not in LAYOUTS:
        raise InputFileError(p, f"unknown entry size {head['entry_size']} (8 or 9)")
    return head, buf[12 + n:]


def _runs(raw: bytes, layout: EntryLayout, xy_id: int, z_id: int
          ) -> tuple[list[Run], int, int, int]:
    """Runs of paired samples; (runs, unpaired entries, other-logger entries, tail bytes)."""
    tail = len(raw) % layout.size
    ids, uids, ticks, data = entries_array(raw[:len(raw) - tail], layout)
    runs: list[Run] = []
    unpaired = other = 0
    cuts = [0, *(np.flatnonzero(np.diff(uids.astype(np.int16)) != 0) + 1).tolist(), len(ids)]
    for a, b in itertools.pairwise(cuts):
        if a == b:
            continue
        u = unwrap_ticks(ticks[a:b], layout.tick_bits)
        sid = ids[a:b]
        sxy, sz = sid == xy_id, sid == z_id
        other += int((~sxy & ~sz).sum())
        common, ixy, iz = np.intersect1d(u[sxy], u[sz], return_indices=True)
        unpaired += int(sxy.sum() + sz.sum()) - 2 * common.shape[0]
        dxy, dz = data[a:b][sxy][ixy], data[a:b][sz][iz]
        counts = np.empty((common.shape[0], 3), dtype=np.int16)
        counts[:, :2] = np.ascontiguousarray(dxy).view("<i2")
        counts[:, 2] = np.ascontiguousarray(dz[:, :2]).view("<i2")[:, 0]
        runs.append(Run(int(uids[a]), common.astype(np.int64), counts))
    return runs, unpaired, other, tail


class MwlogRecording(Recording):
    """A ``.mwlog`` download (see the module docstring): UTC-stamped samples in g."""

    QC_WHILE_READING = True

    def __init__(self, path: Path, *, fs_hz: float | None = None) -> None:
        head, raw = read_mwlog(path)
        p = str(path)
        layout = LAYOUTS[int(head["entry_size"])]
        try:
            runs, unpaired, other, tail = _runs(raw, layout, int(head["logger_xy"]),
                                                int(head["logger_z"]))
            refs = [TimeRef(int(r["reset_uid"]), int(r["tick"]), int(r["utc_ns"]),
                            str(r["kind"])) for r in head["time_refs"]]
        except (DecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputFileError(p, f"unreadable MetaWear log: {exc}") from exc
        nominal = float(fs_hz or head["rate_hz"])
        self._placed = place_runs(runs, refs, layout.tick_bits, nominal,
                                  int(head["downloaded_utc_ns"]))
        self._placed.sort(key=lambda q: float(q.t_ns[0]) if q.t_ns.shape[0] else 0.0)
        self._lsb = float(head["lsb_per_g"])
        have = [q for q in self._placed if q.t_ns.shape[0]]
        if not have:
            raise InputFileError(p, "the MetaWear log holds no accelerometer samples")
        model = str(head.get("model") or "MetaWear")
        qc = RecordingQC(format="mwlog", device=f"MbientLab {model}",
                         serial=str(head.get("device_id", "")), fs_hz=nominal,
                         range_g=float(head["range_g"]), tz="UTC", tz_source="device")
        qc.first_sample_ns = round(float(have[0].t_ns[0]))
        qc.last_sample_ns = round(float(have[-1].t_ns[-1]))
        self._note(qc, unpaired, other, tail, layout)
        meta: dict[str, Any] = {
            "format": "mwlog", "device": qc.device, "serial": qc.serial, "reader": "movereg",
            "model": model, "chip": head.get("chip"), "range_g": head["range_g"],
            "entry_layout": layout.name, "flash_bytes": head.get("flash_bytes"),
            "recording_id": head.get("recording_id"), "tz": "UTC", "tz_source": "device",
            "reset_epochs": len(self._placed),
            "time_uncertain": [
                {"reset_uid": q.run.reset_uid, "first_ns": round(float(q.t_ns[0])),
                 "last_ns": round(float(q.t_ns[-1])), "uncertainty_s": q.uncertainty_s}
                for q in have if not q.known],
            "clock_drift_s": [q.drift_s for q in have if q.drift_s is not None],
        }
        super().__init__(path, nominal, qc.first_sample_ns, None, meta)
        self.n_samples_estimate = sum(q.t_ns.shape[0] for q in have)
        self.qc = qc

    def _note(self, qc: RecordingQC, unpaired: int, other: int, tail: int,
              layout: EntryLayout) -> None:
        for q in self._placed:
            if q.known or not q.t_ns.shape[0]:
                continue
            slack = ("by an unknown time" if q.uncertainty_s is None
                     else f"up to {q.uncertainty_s:.0f} s")
            qc.add_damage("clock_unknown", f"{q.t_ns.shape[0]} samples after a board reset "
                          "no host saw: placed to end at the next known time; they may be "
                          f"earlier {slack}", blocks=1,
                          span=(round(float(q.t_ns[0])), round(float(q.t_ns[-1]))))
        if unpaired:
            qc.add_damage("unpaired_entry", f"{unpaired} log entries without their other "
                          "half (x,y or z)", blocks=unpaired, samples=unpaired)
        if other:
            qc.add_damage("other_logger", f"{other} entries from loggers other than the "
                          "accelerometer's", blocks=other)
        if tail:
            qc.add_damage("truncated", f"the file ends in a partial {layout.size}-byte entry",
                          blocks=1, samples=1)

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        have = [q for q in self._placed if q.t_ns.shape[0]]
        base = round(float(have[0].t_ns[0]))
        grid = DeviceGrid(self.fs_hz, utc_shift_ns=base)
        qc = self.qc
        qc.samples_read = qc.clipped = 0
        for q in have:
            xyz = q.run.counts.astype(np.float64) / self._lsb
            qc.count_raw(xyz)
            yield from grid.feed(q.t_ns - base, xyz, break_before=True)
        qc.gaps = grid.gaps
        qc.measured_fs_hz = grid.measured_fs_hz
        if grid.backwards:
            qc.add_damage("clock_backwards", f"{grid.backwards} samples stamped earlier "
                          "than the one before", samples=grid.backwards)
        qc.complete = True
