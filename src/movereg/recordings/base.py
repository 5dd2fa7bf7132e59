"""The :class:`Recording` contract shared by every file reader.

A recording is a path plus what is needed to stream its samples in bounded pieces:
``fs_hz`` (nominal rate, Hz), ``t0_ns`` (UTC ns of sample 0), ``n_samples`` (when known
without reading everything), ``meta`` and :meth:`Recording.chunks`.

Time model
----------
Device files (CWA, GT3X, GENEActiv) follow the device's own clock and are resampled onto
the grid at ``fs_hz`` (:mod:`movereg.recordings.devicetime`); what follows is the model
of text and Parquet files, which are read as written.

Samples are assumed to be on a regular grid at ``fs_hz``. Readers that have per-sample
timestamps split the stream into *segments* wherever the step between two samples is
at least 1.5 sample periods (a gap: :meth:`Recording.gapped_chunks` names it, and the
consumers, :class:`movereg.signal.features.FeatureEngine` among them, fill its
``samples_missing`` rows). A step below 0.5 periods (time going backwards, repeated timestamps,
or a file much faster than ``fs_hz``) is an :class:`~movereg.errors.InputFileError`:
movereg does not resample irregular files. Steps between 0.5 and 1.5 periods are
clock jitter and are treated as contiguous.
"""

from __future__ import annotations

import hashlib
import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from movereg.errors import InputFileError, ParameterError
from movereg.models import Gap, gap_between
from movereg.recordings.qc import RecordingQC

__all__ = ["Recording", "hash_serial", "snap_rate"]

#: Nominal device rates (Hz) an inferred rate is snapped to when within 2 %.
_KNOWN_RATES = (1.0, 5.0, 6.25, 10.0, 12.5, 20.0, 25.0, 30.0, 32.0, 40.0, 50.0, 52.0, 60.0,
                64.0, 70.0, 75.0, 80.0, 85.0, 90.0, 100.0, 104.0, 128.0, 200.0, 208.0, 256.0,
                400.0, 416.0, 800.0, 1600.0, 3200.0)


def snap_rate(fs_hz: float) -> float:
    """Snap an inferred rate to the nearest nominal device rate when within 2 %.

    Otherwise round to 0.01 Hz.
    """
    for r in _KNOWN_RATES:
        if abs(fs_hz - r) <= 0.02 * r:
            return r
    return round(fs_hz, 2)


def rate_from_times(times_ns: np.ndarray, path: str) -> float:
    """Sampling rate (Hz) from the median step of (up to 10,000) timestamps in ns."""
    t = np.asarray(times_ns[:10_000], dtype=np.int64)
    if t.shape[0] < 2:
        raise InputFileError(path, "too few samples to infer the sampling rate; give fs_hz")
    d = np.diff(t)
    d = d[d > 0]
    if d.shape[0] == 0:
        raise InputFileError(path, "timestamps do not increase; cannot infer the rate")
    step = float(np.median(d))
    return snap_rate(1e9 / step)


def hash_serial(serial: str, salt: bytes) -> str:
    """Salted SHA-256 of a device serial (first 16 hex digits) for exports."""
    return hashlib.sha256(salt + serial.encode("utf-8")).hexdigest()[:16]


class Recording(ABC):
    """A recording file, streamed in chunks.

    Attributes
    ----------
    path
        The file.
    fs_hz
        Nominal sampling rate, Hz.
    t0_ns
        UTC time of sample 0, ns since the Unix epoch (see the reader for how a format's
        local clock is interpreted).
    n_samples
        Number of samples in the file when known without a full pass, else ``None``.
    meta
        ``{"format": ..., "device": ..., "serial": ...}`` plus format-specific keys. The
        serial is the raw value: hash it with :func:`hash_serial` before exporting it.
    """

    #: True where the reader fills ``qc`` itself (device readers); else chunks() counts.
    QC_WHILE_READING = False

    def __init__(self, path: Path, fs_hz: float, t0_ns: int, n_samples: int | None,
                 meta: dict[str, Any]) -> None:
        if not fs_hz > 0:
            raise ParameterError(f"{path}: sampling rate must be > 0 Hz, got {fs_hz}")
        self.path = path
        self.fs_hz = float(fs_hz)
        self.t0_ns = int(t0_ns)
        self.n_samples = n_samples
        self.meta = meta
        #: ADC grid (LSB per g) the samples were restored to, or None (see adc_grid).
        self.adc_lsb_per_g: float | None = None
        #: Grid samples expected (for progress bars) when known, else ``None``.
        self.n_samples_estimate: int | None = n_samples
        #: Quality control: rates, times, samples read and skipped (device readers fill
        #: it while streaming; complete once :meth:`chunks` has run to the end).
        self.qc = RecordingQC(format=str(meta.get("format", "")),
                              device=str(meta.get("device", "")),
                              serial=str(meta.get("serial", "") or ""), fs_hz=self.fs_hz)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(path={str(self.path)!r}, fs_hz={self.fs_hz}, "
                f"t0_ns={self.t0_ns}, n_samples={self.n_samples})")

    @abstractmethod
    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        """Yield ``(new_segment, float64 (n, 3), times_ns (n,) or None)``.

        ``new_segment`` is True where a gap precedes the block (always for the first);
        ``times_ns`` are the per-sample timestamps when the format has them.
        """

    def chunks(self, n_samples: int) -> Iterator[tuple[int, np.ndarray]]:
        """Stream the samples in pieces of at most ``n_samples`` rows.

        Yields
        ------
        (t0_ns, samples)
            UTC ns of the chunk's first sample (the file's own timestamp when it has
            one, else ``t0_ns + i / fs_hz``), and a C-contiguous float64 ``(n, 3)``
            array in g (NaN rows where the file has missing values). A chunk is shorter
            than ``n_samples`` at the end and before a gap; the gap shows as a later
            ``t0_ns`` than the previous chunk's end (:meth:`gapped_chunks` names it).
        """
        for _, t0, x in self._chunks(n_samples):
            yield t0, x

    def gapped_chunks(self, n_samples: int) -> Iterator[tuple[int, np.ndarray, tuple[Gap, ...]]]:
        """:meth:`chunks` with the gap before each chunk: ``(t0_ns, samples, gaps)``.

        The recording decides its gaps (as the :class:`~movereg.sensors.clock.DeviceClock`
        does for a live band): where a new segment starts (see the module docstring) at
        least one whole sample period after the previous chunk's end, a
        :class:`~movereg.models.Gap` with reason ``"recording_gap"``; ``samples_missing``
        is the rows a consumer fills (:meth:`FeatureEngine.push
        <movereg.signal.FeatureEngine.push>` takes them as they are).
        """
        end: int | None = None
        for new_seg, t0, x in self._chunks(n_samples):
            gap = (gap_between(end, t0, self.fs_hz, "recording_gap")
                   if new_seg and end is not None else None)
            yield t0, x, () if gap is None else (gap,)
            end = t0 + round(x.shape[0] * 1e9 / self.fs_hz)

    def _chunks(self, n_samples: int) -> Iterator[tuple[bool, int, np.ndarray]]:
        """:meth:`chunks` with a flag: does the chunk start a new segment?"""
        if n_samples < 1:
            raise ParameterError(f"chunk size must be >= 1 sample, got {n_samples}")
        dt = 1e9 / self.fs_hz
        buf: list[np.ndarray] = []
        have = 0
        buf_t0 = self.t0_ns  # time of the first buffered sample
        buf_new = True       # the buffered samples start a segment
        seen = 0  # samples so far: sample i is at t0_ns + round(i * dt) (no-timestamp files)
        own = not self.QC_WHILE_READING
        if own:
            self.qc.samples_read = 0
        for new_seg, block, times in self._blocks():
            if own and block.shape[0]:
                self.qc.samples_read += int(block.shape[0])
                if self.qc.first_sample_ns is None:
                    self.qc.first_sample_ns = (int(times[0]) if times is not None
                                               else self.t0_ns + round(seen * dt))
                self.qc.last_sample_ns = (int(times[-1]) if times is not None else
                                          self.t0_ns + round((seen + block.shape[0] - 1)
                                                             * dt))
            if new_seg and have:
                yield buf_new, buf_t0, _join(buf)
                buf, have = [], 0
            if new_seg:
                buf_new = True
            start = 0
            n = block.shape[0]
            while start < n:
                if have == 0:
                    buf_t0 = (int(times[start]) if times is not None
                              else self.t0_ns + round(seen * dt))
                take = min(n - start, n_samples - have)
                buf.append(block[start:start + take])
                have += take
                start += take
                seen += take
                if have == n_samples:
                    yield buf_new, buf_t0, _join(buf)
                    buf, have, buf_new = [], 0, False
        if have:
            yield buf_new, buf_t0, _join(buf)
        if own:
            self.qc.complete = True

    def read_all(self, chunk: int = 1 << 18) -> tuple[int, np.ndarray]:
        """The whole recording as one array (gaps filled with NaN rows): small files only.

        Each gap of :meth:`gapped_chunks` becomes its ``samples_missing`` NaN rows, as
        the streaming engine fills it.
        """
        parts: list[np.ndarray] = []
        t_first: int | None = None
        for t0, x, gaps in self.gapped_chunks(chunk):
            if t_first is None:
                t_first = t0
            for g in gaps:
                parts.append(np.full((g.samples_missing, 3), np.nan))
            parts.append(x)
        if t_first is None:
            return self.t0_ns, np.empty((0, 3))
        return t_first, np.ascontiguousarray(np.concatenate(parts))


def _join(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) == 1:
        return np.ascontiguousarray(parts[0], dtype=np.float64)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float64)


class _Segmenter:
    """Split timestamped samples into contiguous runs (see the module docstring).

    ``feed(times_ns, xyz, first_index)`` yields ``(t0_ns | None, xyz_piece)``; it keeps
    the last timestamp across calls so batches can be fed one after another.
    """

    def __init__(self, fs_hz: float, path: str, line_of: Any = None) -> None:
        self.dt = 1e9 / fs_hz
        self.path = path
        self.last: int | None = None
        self._line_of = line_of  # index -> line number (CSV) or None

    def feed(self, times_ns: np.ndarray, xyz: np.ndarray,
             first_index: int) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        n = times_ns.shape[0]
        if n == 0:
            return
        t = np.asarray(times_ns, dtype=np.int64)
        prev = np.empty(n, dtype=np.int64)
        prev[1:] = t[:-1]
        prev[0] = t[0] if self.last is None else self.last
        ratio = (t - prev) / self.dt
        if self.last is None:
            ratio[0] = 1.0
        bad = np.flatnonzero(ratio < 0.5)
        if bad.shape[0]:
            i = int(bad[0])
            step_s = (int(t[i]) - int(prev[i])) / 1e9
            line = self._line_of(first_index + i) if self._line_of else None
            where = "" if line is not None else f" (sample {first_index + i})"
            raise InputFileError(
                self.path,
                f"irregular timestamps: step of {step_s:.6g} s where 1/fs = "
                f"{self.dt / 1e9:.6g} s{where}; movereg does not resample: give the right "
                "fs_hz or resample the file first", line=line)
        new = set(np.flatnonzero(ratio >= 1.5).tolist())
        if self.last is None:
            new.add(0)
        bounds = sorted(new | {0, n})
        for a, b in itertools.pairwise(bounds):
            yield a in new, xyz[a:b], t[a:b]
        self.last = int(t[-1])
