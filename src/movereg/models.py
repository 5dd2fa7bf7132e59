"""Frozen dataclasses shared by every layer (the contracts in DESIGN §3).

Units are part of the contract: samples are in **g**, rates in **Hz**, times in
**UTC nanoseconds since the Unix epoch** unless a field says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

__all__ = [
    "BandState",
    "BandStatus",
    "DeviceFamily",
    "Gap",
    "RawBlock",
    "SampleBlock",
    "gap_between",
]

F32Array = npt.NDArray[np.float32]


class DeviceFamily(StrEnum):
    """Supported wristband / armband families (registry keys)."""

    POLAR_PMD = "polar_pmd"
    METAWEAR = "metawear"
    MOVESENSE = "movesense"
    INFINITIME = "infinitime"
    MICROBIT = "microbit"
    SIMULATED = "simulated"


@dataclass(frozen=True, slots=True)
class RawBlock:
    """Decoder output: one notification's worth of samples.

    Attributes
    ----------
    samples
        float32 array (n, 3), acceleration in g, device axes x, y, z.
    fs_hz
        Nominal sampling rate in Hz (from the configuration the client sent).
    device_time_ns
        Device clock of the **last** sample, in ns since the Unix epoch, when the
        protocol carries one (Polar PMD, Movesense); ``None`` otherwise.
    seq
        Protocol sequence number when the protocol has one; ``None`` otherwise.
    """

    samples: F32Array
    fs_hz: float
    device_time_ns: int | None = None
    seq: int | None = None

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.shape[1] != 3:
            raise ValueError(f"RawBlock.samples must be (n, 3), got {self.samples.shape}")

    @property
    def n(self) -> int:
        """Number of samples in the block."""
        return int(self.samples.shape[0])


@dataclass(frozen=True, slots=True)
class Gap:
    """A span with no data from a device.

    Attributes
    ----------
    start_ns, end_ns
        UTC ns; ``end_ns`` is the time of the first sample after the gap.
    samples_missing
        Number of samples expected at the nominal rate but never received.
    reason
        Short machine-readable cause: ``"disconnect"``, ``"frame_loss"``, ``"clock_jump"``,
        ``"stall"``, ``"crash"``.
    """

    start_ns: int
    end_ns: int
    samples_missing: int
    reason: str = "frame_loss"


def gap_between(prev_end_ns: int, t0_ns: int, fs_hz: float, reason: str) -> Gap | None:
    """The gap from earlier data (exclusive end ``prev_end_ns``, UTC ns) to a block
    starting at ``t0_ns``; None when not one whole sample period (``1/fs_hz``) is missing.

    Parameters
    ----------
    reason
        The gap's reason (``"crash"``, ``"disconnect"``, ...).
    """
    missing = round((t0_ns - prev_end_ns) / (1e9 / fs_hz))
    return Gap(prev_end_ns, t0_ns, missing, reason) if missing >= 1 else None


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Clock output: samples placed on the UTC time line.

    Attributes
    ----------
    device_id
        Stable device key (address or ``sim-N``).
    t0_ns
        UTC ns of sample 0.
    fs_hz
        Sampling rate in Hz (samples are uniformly spaced at ``1/fs_hz``).
    samples
        float32 (n, 3) in g.
    gap_before_s
        Seconds of data missing immediately before this block (0.0 when contiguous).
    gaps
        Gaps recorded since the previous block (usually zero or one).
    device_time_ns
        The device's own clock of the block's last sample (ns, as the device states it),
        kept for audit; ``None`` when the protocol has no device time.
    seq
        The protocol's frame sequence number, kept for audit; ``None`` when it has none.
    """

    device_id: str
    t0_ns: int
    fs_hz: float
    samples: F32Array
    gap_before_s: float = 0.0
    gaps: tuple[Gap, ...] = field(default_factory=tuple)
    device_time_ns: int | None = None
    seq: int | None = None

    @property
    def n(self) -> int:
        """Number of samples in the block."""
        return int(self.samples.shape[0])

    @property
    def t_end_ns(self) -> int:
        """UTC ns one sample period after the last sample (exclusive end)."""
        return self.t0_ns + round(self.n * 1e9 / self.fs_hz)


class BandState(StrEnum):
    """What a band connection is doing now (shown to the user)."""

    IDLE = "idle"
    SCANNING = "scanning"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class BandStatus:
    """A snapshot of one band's connection for status displays.

    Attributes
    ----------
    device_id, family, state
        Which band, which protocol, what it is doing.
    rate_hz
        Achieved sample rate over the last few seconds (Hz), if streaming.
    battery_pct
        Battery level 0..100 when the band reports it.
    last_data_ns
        UTC ns of the last sample received.
    attempt, next_try_s
        Reconnect attempt number and seconds until the next try, when reconnecting.
    reason
        Human-readable reason for ``stopped`` / ``reconnecting``.
    samples_lost
        Samples reported missing (gaps) since the stream started.
    """

    device_id: str
    family: str
    state: BandState
    rate_hz: float | None = None
    battery_pct: int | None = None
    last_data_ns: int | None = None
    attempt: int = 0
    next_try_s: float | None = None
    reason: str | None = None
    samples_lost: int = 0
