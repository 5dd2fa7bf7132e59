"""Device time: the sample times a device wrote, and the uniform grid the kernels read.

Time model (device files: CWA, GT3X, GENEActiv BIN)
---------------------------------------------------
1. **Device time is the truth.** Every raw sample gets the device's own time: the
   block's timestamp (CWA sector timestamp with its fractional part and timestamp
   offset, GT3X record second, GENEActiv page time) and, inside a block, times spaced
   evenly up to the next block's timestamp (:func:`respace`), as GGIRread and
   OpenMovement's ``omconvert`` do. A device that runs at 98.9 Hz therefore keeps its
   samples at 98.9 Hz.
2. **Local clock to UTC.** Device clocks hold the local time of the computer that set
   them. :func:`clock_offset_s` gives the zone's UTC offset at the time the clock was set
   (IANA zone via :mod:`zoneinfo`, so a January recording in Europe/Berlin is read at
   +01:00 and a July one at +02:00); the device clock does not observe daylight-saving
   changes, so the same offset holds for the whole recording, across a DST change too.
3. **Uniform grid.** :class:`DeviceGrid` resamples the timed samples linearly (as
   GGIRread does) onto ``t0 + k / fs_hz`` with ``fs_hz`` the configured rate and ``t0`` the
   first sample's time. Each grid value is the device's value interpolated at that
   time, so :meth:`~movereg.recordings.base.Recording.chunks` keeps its contract
   (sample i at ``t0_ns + i * 1e9 / fs_hz``). A step longer than ``GAP_PERIODS``
   periods between raw samples, or a damaged span, is a gap: no value is invented in
   it and the grid resumes (same phase) at the first sample after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from movereg.errors import ParameterError

__all__ = ["GAP_PERIODS", "DeviceGrid", "block_spacing", "clock_offset_s", "expand_times",
           "measured_rate", "parse_tz", "resolve_clock", "respace"]

#: A step between raw samples longer than this many nominal periods is a gap.
GAP_PERIODS = 2.5
#: Block spacing outside [1/RATE_TOLERANCE, RATE_TOLERANCE] x nominal is not trusted.
RATE_TOLERANCE = 1.2


def parse_tz(name: str | None) -> ZoneInfo | None:
    """An IANA zone name (``Europe/Berlin``) -> :class:`ZoneInfo`; ``None`` stays None."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ParameterError(f"unknown time zone {name!r}: give an IANA name such as "
                             "Europe/Berlin or America/New_York") from exc


def clock_offset_s(tz: ZoneInfo, local_ns: int) -> int:
    """UTC offset (s east) of ``tz`` at the naive local time ``local_ns`` (ns).

    A local time in a spring-forward gap or an autumn repeated hour takes the offset in
    force before the change (``fold=0``), as a clock set then would show.
    """
    naive = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=local_ns // 1000)
    off = naive.replace(tzinfo=tz, fold=0).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def block_spacing(block_t_ns: np.ndarray, counts: np.ndarray, nominal_dt_ns: float,
                  next_t_ns: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample spacing (ns) inside each block from per-block start times (device time).

    Inside block b the ``counts[b]`` samples are spaced evenly from ``block_t_ns[b]`` to
    the next block's start (``next_t_ns`` after the last block) when that spacing is
    within ``RATE_TOLERANCE`` of nominal; otherwise (the last block, or a gap or a clock
    step follows) at the nominal spacing, as actipy, actfast and GGIRread do.

    Returns
    -------
    (spacing_ns, trusted)
        float64 spacing per block and whether it was measured (True) or carried.
    """
    n_blocks = block_t_ns.shape[0]
    t = np.asarray(block_t_ns, dtype=np.float64)
    c = np.asarray(counts, dtype=np.int64)
    nxt = np.empty(n_blocks)
    nxt[:-1] = t[1:]
    if n_blocks:
        nxt[-1] = np.nan if next_t_ns is None else next_t_ns
    with np.errstate(invalid="ignore", divide="ignore"):
        step = (nxt - t) / np.maximum(c, 1)
    ok = (step >= nominal_dt_ns / RATE_TOLERANCE) & (step <= nominal_dt_ns * RATE_TOLERANCE)
    spacing = np.where(ok, step, nominal_dt_ns)
    return spacing, ok


def expand_times(block_t_ns: np.ndarray, counts: np.ndarray,
                 spacing_ns: np.ndarray) -> np.ndarray:
    """Per-sample times: block b's sample j at ``block_t_ns[b] + j * spacing_ns[b]``."""
    c = np.asarray(counts, dtype=np.int64)
    starts = np.repeat(np.asarray(block_t_ns, dtype=np.float64), c)
    within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
    out: np.ndarray = starts + within * np.repeat(spacing_ns, c)
    return out


def respace(block_t_ns: np.ndarray, counts: np.ndarray, nominal_dt_ns: float,
            next_t_ns: float | None = None) -> np.ndarray:
    """Per-sample device times from per-block start times (:func:`block_spacing`)."""
    spacing, _ = block_spacing(block_t_ns, counts, nominal_dt_ns, next_t_ns)
    return expand_times(block_t_ns, counts, spacing)


def measured_rate(block_t_ns: np.ndarray, counts: np.ndarray, spacing_ns: np.ndarray,
                  trusted: np.ndarray) -> float:
    """The device's real rate (Hz): samples per second over the measured blocks."""
    c = np.asarray(counts, dtype=np.float64)
    dur = float(np.sum((c * spacing_ns)[trusted]))
    if dur > 0:
        return float(np.sum(c[trusted])) * 1e9 / dur
    return float("nan")


class DeviceGrid:
    """Linear resampling of device-timed samples onto a uniform grid (see module doc).

    Feed raw samples in time order (``times`` in ns as float64, any origin that stays
    fixed); :meth:`feed` yields ``(new_segment, xyz_grid, grid_times_ns)`` blocks. The
    grid's origin is the first raw sample's time; ``utc_shift_ns`` is added to the
    emitted grid times (local clock -> UTC). Raw samples whose time does not increase
    are dropped and counted in ``backwards``.
    """

    def __init__(self, fs_hz: float, *, utc_shift_ns: int = 0,
                 gap_periods: float = GAP_PERIODS) -> None:
        self.dt = 1e9 / fs_hz
        self.gap = gap_periods * self.dt
        self.shift = int(utc_shift_ns)
        self.origin: float | None = None
        self.k_next = 0
        self._last_t: float | None = None
        self._last_x: np.ndarray | None = None
        self._new_seg = True
        self._steps = 0
        self._steps_ns = 0.0
        self.backwards = 0
        self.gaps = 0
        self.rows = 0

    @property
    def measured_fs_hz(self) -> float:
        """The device's rate (Hz) from the raw sample steps seen so far (gaps excluded)."""
        return self._steps * 1e9 / self._steps_ns if self._steps_ns > 0 else float("nan")

    def grid_time(self, k: np.ndarray | int) -> np.ndarray:
        """Grid times (UTC ns, int64) of grid indices ``k``."""
        assert self.origin is not None
        return np.rint(self.origin + np.asarray(k, dtype=np.float64) * self.dt
                       ).astype(np.int64) + self.shift

    def feed(self, times: np.ndarray, xyz: np.ndarray, *, break_before: bool = False
             ) -> Iterator[tuple[bool, np.ndarray, np.ndarray]]:
        """Resample one batch; ``break_before`` marks a damaged span before it."""
        t = np.asarray(times, dtype=np.float64)
        x = np.asarray(xyz, dtype=np.float64)
        if break_before:
            self._last_x = None  # nothing is interpolated across a damaged span
        if t.shape[0] == 0:
            return
        # keep strictly increasing times only (a clock step back drops samples)
        floor = -np.inf if self._last_t is None else self._last_t
        run_max = np.maximum.accumulate(np.r_[floor, t])
        keep = t > run_max[:-1]
        if not keep.all():
            self.backwards += int((~keep).sum())
            t, x = t[keep], x[keep]
            if t.shape[0] == 0:
                return
        if self.origin is None:
            self.origin = float(t[0])
        carried = self._last_x is not None
        if carried:
            assert self._last_t is not None and self._last_x is not None
            t = np.r_[self._last_t, t]
            x = np.vstack([self._last_x[None, :], x])
        steps = np.diff(t)
        near = steps[steps <= self.gap]
        self._steps += int(near.shape[0])
        self._steps_ns += float(near.sum())
        cuts = np.flatnonzero(steps > self.gap) + 1
        bounds = [0, *cuts.tolist(), t.shape[0]]
        for i in range(len(bounds) - 1):
            a, b = bounds[i], bounds[i + 1]
            if not (i == 0 and carried):
                if self._last_t is not None or i > 0:
                    self.gaps += 1
                self._new_seg = True
                self.k_next = max(self.k_next,
                                  int(np.ceil((t[a] - self.origin) / self.dt - 1e-6)))
            k_end = int(np.floor((t[b - 1] - self.origin) / self.dt + 1e-6))
            if k_end < self.k_next:
                continue
            k = np.arange(self.k_next, k_end + 1)
            g = self.origin + k * self.dt
            out = np.empty((k.shape[0], 3))
            for j in range(3):
                out[:, j] = np.interp(g, t[a:b], x[a:b, j])
            self.k_next = k_end + 1
            self.rows += k.shape[0]
            new_seg, self._new_seg = self._new_seg, False
            yield new_seg, out, self.grid_time(k)
        self._last_t = float(t[-1])
        self._last_x = x[-1].copy()


def resolve_clock(tz: ZoneInfo | None, file_offset_s: int | None,
                  set_local_ns: int) -> tuple[int, str, str]:
    """How to read a device's local clock: ``(utc_offset_s, tz_label, tz_source)``.

    ``tz`` (the user's ``--tz``) wins, taken at ``set_local_ns`` (when the clock was set,
    naive local ns); else the offset the file states; else UTC, which is an assumption
    and says so (``tz_source="assumed"``).
    """
    if tz is not None:
        return clock_offset_s(tz, set_local_ns), str(tz.key), "option"
    if file_offset_s is not None:
        sign = "-" if file_offset_s < 0 else "+"
        a = abs(file_offset_s)
        return file_offset_s, f"UTC{sign}{a // 3600:02d}:{a % 3600 // 60:02d}", "file"
    return 0, "UTC", "assumed"
