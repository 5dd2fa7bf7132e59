"""Place decoded notifications on the UTC time line: offsets, drift, gaps, duplicates.

:class:`DeviceClock` is pure and synchronous: it is fed ``(RawBlock, rx_time_ns)`` pairs
in arrival order and returns :class:`~movereg.models.SampleBlock` objects (or ``None`` for
a duplicate frame). It never reads a clock itself, so it is deterministic and testable.

Two modes share one algorithm:

* **device time** (Polar PMD, Movesense): the frame carries the device clock of its last
  sample. Sample spacing and gap lengths come from the device clock; the device clock is
  mapped to UTC with an offset measured on the first frame and then slewed (bounded, at
  most ``max_slew_ppm``) towards the host receive times, which tracks crystal drift
  without letting BLE latency jitter move timestamps around.
* **no device time** (MetaWear, micro:bit, InfiniTime): a virtual device clock counts
  samples at the nominal rate; gaps are detected from host receive times with a jitter
  tolerance (``gap_tolerance_s``) and the virtual clock is advanced over them.

De-duplication: a frame whose device time is at or before the last accepted frame (and
not so far back that it must be a clock reset) is a duplicate (a bleak/BlueZ bug delivers
every notification twice after a reconnect) and yields ``None``. A device clock that jumps
(reset to its default date, or forward) is detected by comparing device and host elapsed
time; the clock re-anchors on host time and records a ``"clock_jump"`` gap.

This module owns gaps: every :class:`~movereg.models.Gap` a consumer sees arrives in
``SampleBlock.gaps``. A gap that opens outside one clock's life (a process restart, a
second connection, stored recordings replayed) is decided by :func:`gap_between` and
attached with :func:`with_gaps`; consumers (the hub, storage) only read ``block.gaps``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from movereg.errors import ParameterError
from movereg.models import Gap, RawBlock, SampleBlock, gap_between

__all__ = ["ClockStats", "DeviceClock", "gap_between", "with_gaps"]


@dataclass(slots=True)
class ClockStats:
    """Counters a status display or a test can read.

    Attributes
    ----------
    blocks, samples
        Blocks and samples emitted.
    duplicates
        Frames dropped as duplicates.
    gaps, samples_missing
        Gaps recorded and the samples they cover.
    clock_jumps
        Device clock resets/jumps detected (each also recorded as a gap).
    """

    blocks: int = 0
    samples: int = 0
    duplicates: int = 0
    gaps: int = 0
    samples_missing: int = 0
    clock_jumps: int = 0


class DeviceClock:
    """Turn decoded frames of one device into UTC-stamped sample blocks.

    Parameters
    ----------
    device_id
        Stable device key copied into every :class:`SampleBlock`.
    fs_hz
        Nominal sample rate, Hz (> 0).
    has_device_time
        True when ``RawBlock.device_time_ns`` is set by the protocol.
    gap_tolerance_s
        No-device-time mode: arrival lateness (s) beyond which missing samples are
        assumed (BLE delivers notifications in bursts; smaller values give false gaps).
    dup_window_s
        Device-time mode: a frame whose device time goes back by at most this many
        seconds is a duplicate; further back is a clock reset.
    jump_tolerance_s
        Device-time mode: how far device and host elapsed time may disagree (s, plus 5 %
        of the elapsed time) across a gap before the device clock is treated as having
        jumped.
    max_slew_ppm
        Largest rate (parts per million of elapsed time) at which the device-to-UTC
        offset may move; default 1000 with device time, 20000 without.
    speed
        Host time runs ``speed`` times slower than device time (accelerated replay or
        emulation); 1.0 for real bands.
    """

    def __init__(
        self,
        device_id: str,
        fs_hz: float,
        has_device_time: bool,
        *,
        gap_tolerance_s: float = 0.25,
        dup_window_s: float = 60.0,
        jump_tolerance_s: float = 2.0,
        max_slew_ppm: float | None = None,
        speed: float = 1.0,
    ) -> None:
        if not np.isfinite(fs_hz) or fs_hz <= 0:
            raise ParameterError(f"fs_hz must be > 0 Hz, got {fs_hz}")
        if not speed > 0:
            raise ParameterError(f"speed must be > 0, got {speed}")
        self.device_id = device_id
        self.fs_hz = float(fs_hz)
        self.has_device_time = has_device_time
        self.period_ns = 1e9 / self.fs_hz
        self.gap_tolerance_ns = gap_tolerance_s * 1e9
        self.dup_window_ns = dup_window_s * 1e9
        self.jump_tolerance_ns = jump_tolerance_s * 1e9
        if max_slew_ppm is None:
            max_slew_ppm = 1000.0 if has_device_time else 20000.0
        self.max_slew = max_slew_ppm * 1e-6
        self.speed = float(speed)
        self.stats = ClockStats()
        # Internally times are floats relative to two integer bases (float64 cannot hold
        # UTC ns exactly): utc = _ubase + d + _offset, d = device_time - _dbase.
        self._dbase = 0
        self._ubase = 0
        self._offset: float | None = None
        self._prev_d_last: float = 0.0  # device (or virtual) time of last accepted sample
        self._prev_rx_eff: float = 0.0
        self._prev_end_utc: int | None = None  # UTC ns one period after the last sample
        self._rx0: int | None = None  # first host rx time (for the speed scaling)
        self._virt_next: float = 0.0  # virtual clock: time of the next sample
        self._recent: deque[int] = deque(maxlen=256)
        self._recent_set: set[int] = set()
        self._disconnected = False
        self._disconnect_reason = "disconnect"

    # ----------------------------------------------------------------------------------
    def mark_disconnect(self, reason: str = "disconnect") -> None:
        """The link dropped (or stalled): the next gap gets this ``reason``.

        Without device time this also makes the next frame's lateness count as missing
        samples without the jitter tolerance (the span was certainly not received).

        Parameters
        ----------
        reason
            ``"disconnect"`` or ``"stall"`` (watchdog).
        """
        self._disconnected = True
        self._disconnect_reason = reason

    @property
    def last_sample_end_ns(self) -> int | None:
        """UTC ns one sample period after the last emitted sample (None before data)."""
        return self._prev_end_utc

    # ----------------------------------------------------------------------------------
    def push(self, raw: RawBlock, rx_time_ns: int) -> SampleBlock | None:
        """Place one decoded frame on the time line.

        Parameters
        ----------
        raw
            Decoder output (samples in g).
        rx_time_ns
            Host UTC ns when the notification arrived.

        Returns
        -------
        SampleBlock or None
            None for a duplicate or an empty frame.
        """
        n = raw.n
        if n == 0:
            return None
        p = self.period_ns
        if self._rx0 is None:
            self._rx0 = self._ubase = rx_time_ns
        rx = (rx_time_ns - self._rx0) * self.speed  # effective host time since the first frame

        if self.has_device_time and raw.device_time_ns is None:
            raise ParameterError("this band's frames must carry a device time")
        reason = self._disconnect_reason if self._disconnected else "frame_loss"

        missing = 0
        if self._offset is None:  # first frame: anchor
            if raw.device_time_ns is not None and self.has_device_time:
                self._dbase = raw.device_time_ns
            d_last = 0.0 if self.has_device_time else (n - 1) * p
            self._offset = rx - d_last
        elif self.has_device_time:
            assert raw.device_time_ns is not None
            d_last = float(raw.device_time_ns - self._dbase)
            if raw.device_time_ns in self._recent_set or (
                d_last <= self._prev_d_last and self._prev_d_last - d_last <= self.dup_window_ns
            ):
                self.stats.duplicates += 1
                return None
            diff = d_last - (self._prev_d_last + n * p)
            is_gap = diff > 0.5 * p + 0.02 * n * p
            host_elapsed = rx - self._prev_rx_eff
            tol = self.jump_tolerance_ns + 0.05 * max(host_elapsed, 0.0) + n * p
            jumped = is_gap and abs((d_last - self._prev_d_last) - host_elapsed) > tol
            if d_last < self._prev_d_last or jumped:
                # device clock reset or jump: re-anchor on host time
                d_last = self._reanchor(rx, raw.device_time_ns, n)
                reason = "clock_jump"
            elif is_gap:
                missing = round(diff / p)
        else:
            d_last = self._virt_next + (n - 1) * p
            late = rx - (d_last + self._offset)
            threshold = 0.5 * p if self._disconnected else self.gap_tolerance_ns
            if late > threshold:
                missing = round(late / p)
                d_last += missing * p

        assert self._offset is not None
        if self._prev_end_utc is not None and missing == 0 and reason != "clock_jump":
            self._slew(rx, d_last, n)  # only on contiguous frames: gaps keep exact lengths
        t0 = self._ubase + round(d_last - (n - 1) * p + self._offset)
        gaps = self._gaps_before(t0, reason, missing)
        self._accept(raw, d_last, rx, n, t0)
        return self._emit(raw, t0, gaps)

    # ----------------------------------------------------------------------------------
    def _reanchor(self, rx: float, device_time_ns: int, n: int) -> float:
        """Start a new device-time base at this frame; returns its relative d_last (0).

        If the frame arrived when the next contiguous frame was due (host time), the
        samples are taken as contiguous (the band only changed its clock); otherwise the
        frame is placed by its arrival time, less the latency the old mapping showed.
        """
        self.stats.clock_jumps += 1
        p = self.period_ns
        old = self._offset if self._offset is not None else rx
        self._dbase = device_time_ns
        if self._prev_end_utc is None:
            self._offset = rx
        else:
            prev_end = self._prev_end_utc - self._ubase
            due = n * p + max(self.gap_tolerance_ns, 0.5 * n * p)
            if rx - self._prev_rx_eff <= due:
                self._offset = prev_end + (n - 1) * p
            else:
                latency = max(0.0, self._prev_rx_eff - (self._prev_d_last + old))
                self._offset = max(rx - latency, prev_end + (n - 1) * p)
        self._recent.clear()
        self._recent_set.clear()
        return 0.0

    def _slew(self, rx: float, d_last: float, n: int) -> None:
        assert self._offset is not None
        err = (rx - d_last) - self._offset
        step = err if err < 0 else 0.05 * err
        bound = self.max_slew * n * self.period_ns
        self._offset += min(max(step, -bound), bound)

    def _gaps_before(self, t0: int, reason: str, missing: int) -> tuple[Gap, ...]:
        prev_end = self._prev_end_utc
        gaps: list[Gap] = []
        if prev_end is not None:
            if reason == "clock_jump":
                missing = max(round((t0 - prev_end) / self.period_ns), 0)
                gaps.append(Gap(prev_end, max(t0, prev_end), missing, reason))
            elif missing >= 1:
                gaps.append(Gap(prev_end, max(t0, prev_end), missing, reason))
        for g in gaps:
            self.stats.gaps += 1
            self.stats.samples_missing += g.samples_missing
        return tuple(gaps)

    def _accept(self, raw: RawBlock, d_last: float, rx: float, n: int, t0: int) -> None:
        self._disconnected = False
        self._prev_d_last = d_last
        self._prev_rx_eff = rx
        self._prev_end_utc = t0 + round(n * self.period_ns)
        if not self.has_device_time:
            self._virt_next = d_last + self.period_ns
        elif raw.device_time_ns is not None:
            if len(self._recent) == self._recent.maxlen:
                self._recent_set.discard(self._recent[0])
            self._recent.append(raw.device_time_ns)
            self._recent_set.add(raw.device_time_ns)

    def _emit(self, raw: RawBlock, t0: int, gaps: tuple[Gap, ...]) -> SampleBlock:
        self.stats.blocks += 1
        self.stats.samples += raw.n
        gap_s = sum(g.end_ns - g.start_ns for g in gaps) / 1e9
        return SampleBlock(
            device_id=self.device_id,
            t0_ns=t0,
            fs_hz=self.fs_hz,
            samples=raw.samples,
            gap_before_s=gap_s,
            gaps=gaps,
            device_time_ns=raw.device_time_ns,
            seq=raw.seq,
        )


def with_gaps(block: SampleBlock, gaps: tuple[Gap, ...]) -> SampleBlock:
    """``block`` with ``gaps`` before it (``gap_before_s`` follows them)."""
    return replace(block, gaps=gaps,
                   gap_before_s=sum(g.end_ns - g.start_ns for g in gaps) / 1e9)
