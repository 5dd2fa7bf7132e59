"""``.polarrec``: a Polar band's offline recording as downloaded by movereg.

The container (:mod:`movereg.sensors.polar_offline.recfile`) holds the band's ``.REC``
parts in order; each part holds ordinary PMD ACC data frames, decoded by the live
decoder (:func:`~movereg.sensors.decoders.polar_pmd.parse_pmd_frame`). Times are the
band's: each frame carries the time of its last sample (ns since 2000-01-01 on the band
clock, which movereg set to UTC before the recording); the samples in a frame are
spaced up to the previous frame's time when that spacing is plausible (within 1.5 ×
the nominal period), else at the nominal period. The timed samples are resampled onto
the recording's rate grid (:class:`~movereg.recordings.devicetime.DeviceGrid`): a
missing frame is a gap, never filled. Frames that do not decode, parts cut off or
missing are reported in ``rec.qc``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from movereg.errors import DecodeError, InputFileError
from movereg.recordings.base import Recording
from movereg.recordings.devicetime import DeviceGrid
from movereg.recordings.qc import RecordingQC
from movereg.sensors.decoders.polar_pmd import (
    DEFAULT_VERITY_FACTOR,
    POLAR_EPOCH_OFFSET_NS,
    PmdSetting,
    acc_frame_to_g,
    parse_pmd_frame,
    parse_settings,
)
from movereg.sensors.polar_offline.recfile import CONTAINER_MAGIC, parse_container, parse_rec

__all__ = ["PolarRecRecording", "is_polarrec"]

_BATCH = 512  # frames decoded at a time


def is_polarrec(path: Path) -> bool:
    """True when the file starts with the ``.polarrec`` magic."""
    with open(path, "rb") as fh:
        return fh.read(len(CONTAINER_MAGIC)) == CONTAINER_MAGIC


#: band times after 2100 (ns since 2000-01-01) are damage, not a clock
_MAX_TS = 100 * 365 * 86_400 * 1_000_000_000


def _frame_ts(frame: bytes) -> int | None:
    if len(frame) < 10:
        return None
    ts = int.from_bytes(frame[1:9], "little")
    return ts if ts <= _MAX_TS else None


class PolarRecRecording(Recording):
    """A downloaded Polar offline recording (see module doc).

    ``meta`` adds ``recording_id`` (the band's directory), ``device_id``, ``parts`` and
    ``measured_fs_hz``; ``qc`` holds the counts and the damage.
    """

    QC_WHILE_READING = True

    def __init__(self, path: Path, *, fs_hz: float | None = None) -> None:
        p = str(path)
        try:
            c = parse_container(path.read_bytes())
        except DecodeError as exc:
            raise InputFileError(p, exc.message) from None
        qc = RecordingQC(format="polarrec", device="Polar Verity Sense",
                         serial=str(c.meta.get("device_id") or ""), tz="UTC",
                         tz_source="file")
        frames: list[bytes] = []
        settings: dict[int, Any] = {}
        for i, raw in enumerate(c.parts):
            try:
                rf = parse_rec(raw)
            except DecodeError as exc:
                qc.add_damage("bad_part", f"part {i + 1} is unreadable ({exc.message})",
                              blocks=1)
                continue
            if not settings:
                settings = parse_settings(rf.settings, strict=False)
            if rf.truncated_at is not None:
                qc.add_damage("truncated", f"part {i + 1} is cut off at byte "
                              f"{rf.truncated_at}", blocks=1)
            frames.extend(rf.frames)
        listed = c.meta.get("parts") or []
        if len(c.parts) < len(listed):
            qc.add_damage("missing_part", f"{len(listed) - len(c.parts)} of {len(listed)} "
                          "parts are missing", blocks=len(listed) - len(c.parts))
        if c.trailing:
            qc.add_damage("truncated", f"the file ends in a cut-off part ({c.trailing} bytes)",
                          blocks=1)
        stamped = [t for t in (_frame_ts(f) for f in frames) if t is not None]
        if not stamped:
            raise InputFileError(p, "Polar recording: no data frames")
        rate = (settings.get(PmdSetting.SAMPLE_RATE) or (52,))[0]
        factor = (settings.get(PmdSetting.FACTOR) or (DEFAULT_VERITY_FACTOR,))[0]
        rng = (settings.get(PmdSetting.RANGE) or (8,))[0]
        if not isinstance(rate, int) or not 1 <= rate <= 1000:
            raise InputFileError(p, f"Polar recording: sample rate {rate!r} Hz in its settings "
                                 "makes no sense")
        if not isinstance(factor, float) or not 0 < factor < 1:
            factor = DEFAULT_VERITY_FACTOR
        if not isinstance(rng, int) or rng <= 0:
            rng = 8
        self._nominal = float(rate)
        self._factor = float(factor)
        self._frames = frames
        self._base = stamped[0]
        fs = float(fs_hz or rate)
        qc.fs_hz = fs
        qc.range_g = float(rng)
        qc.first_sample_ns = self._first_sample(frames) + POLAR_EPOCH_OFFSET_NS
        qc.last_sample_ns = max(stamped) + POLAR_EPOCH_OFFSET_NS
        meta: dict[str, Any] = {
            "format": "polarrec", "device": qc.device, "serial": qc.serial,
            "reader": "movereg", "recording_id": c.meta.get("recording_id"),
            "device_id": c.meta.get("device_id"), "parts": listed, "tz": "UTC",
            "tz_source": "file", "range_g": qc.range_g,
        }
        super().__init__(path, fs, qc.first_sample_ns, None, meta)
        self.n_samples_estimate = int((max(stamped) - self._base) * fs / 1e9) + 1
        self.qc = qc

    def _first_sample(self, frames: list[bytes]) -> int:
        """Band time of the first sample of the first frame that decodes."""
        for f in frames:
            try:
                pf = parse_pmd_frame(f)
            except DecodeError:
                continue
            if pf.timestamp_ns > _MAX_TS:
                continue
            n = int(pf.samples.shape[0])
            return int(pf.timestamp_ns) - round((n - 1) * 1e9 / self._nominal)
        return self._base

    def _times(self, ts: int, n: int, prev: int | None) -> np.ndarray:
        dt = 1e9 / self._nominal
        if prev is not None and 0 < (ts - prev) / n <= 1.5 * dt:
            dt = (ts - prev) / n
        return (ts - self._base) - dt * np.arange(n - 1, -1, -1, dtype=np.float64)

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        qc = self.qc
        qc.samples_read = qc.clipped = 0
        grid = DeviceGrid(self.fs_hz, utc_shift_ns=self._base + POLAR_EPOCH_OFFSET_NS)
        prev: int | None = None
        broken = False
        bad = 0
        for a in range(0, len(self._frames), _BATCH):
            xs: list[np.ndarray] = []
            ts: list[np.ndarray] = []
            for frame in self._frames[a:a + _BATCH]:
                try:
                    pf = parse_pmd_frame(frame)
                except DecodeError:
                    pf = None
                if pf is None or pf.timestamp_ns > _MAX_TS:
                    bad += 1
                    broken = True
                    continue
                n = pf.samples.shape[0]
                if broken and xs:
                    yield from self._feed(grid, xs, ts, False)
                    xs, ts = [], []
                if broken:
                    prev = None
                xs.append(acc_frame_to_g(pf, self._factor).astype(np.float64))
                ts.append(self._times(pf.timestamp_ns, n, prev))
                prev = pf.timestamp_ns
                if broken:
                    yield from self._feed(grid, xs, ts, True)
                    xs, ts, broken = [], [], False
            if xs:
                yield from self._feed(grid, xs, ts, False)
        if bad:
            qc.add_damage("bad_frame", f"{bad} of {len(self._frames)} data frames do not "
                          "decode", blocks=bad, samples=bad * round(self._nominal * 0.7))
        qc.measured_fs_hz = grid.measured_fs_hz
        self.meta["measured_fs_hz"] = qc.measured_fs_hz
        qc.end_stream(grid.gaps, grid.backwards)

    def _feed(self, grid: DeviceGrid, xs: list[np.ndarray], ts: list[np.ndarray],
              brk: bool) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        xyz = np.concatenate(xs)
        self.qc.count_raw(xyz)
        yield from grid.feed(np.concatenate(ts), xyz, break_before=brk)
