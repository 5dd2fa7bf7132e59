"""Polar Measurement Data (PMD): Verity Sense, OH1, H10, Polar 360 / Loop.

Written from the published byte layout (Polar "Measurement Data Specification for 3rd
Party", online_measurement.pdf, TimeSystemExplained.md); no vendor SDK code is used.

* Control point (CP): commands ``01 t`` get settings, ``02 t TLV…`` start, ``03 t`` stop;
  replies ``F0 op type status [more] params…``; settings TLVs ``type:u8 count:u8 values``.
* Data: ``type:u8 | timestamp:u64 ns since 2000-01-01 of the LAST sample | frame_type:u8 |
  payload``; raw int8/int16/int24 frames (mG) or delta-compressed frames (counts × factor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from movereg.models import DeviceFamily, RawBlock
from movereg.sensors.decoders._common import any_uuid, as_bytes, fail, nearest, need, signed
from movereg.sensors.decoders._pmd_control import (
    PMD_STATUS,
    MeasurementType,
    PmdOp,
    PmdResponse,
    PmdSetting,
    check_response,
    get_settings_command,
    parse_cp_response,
    parse_features,
    parse_settings,
    start_command,
    stop_command,
)
from movereg.sensors.decoders.base import Command, ProfileBase, StreamConfig

__all__ = [
    "DEFAULT_VERITY_FACTOR",
    "PMD_CP_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "PMD_STATUS",
    "POLAR_EPOCH_OFFSET_NS",
    "POLAR_MODELS",
    "MeasurementType",
    "PmdFrame",
    "PmdOp",
    "PmdResponse",
    "PmdSetting",
    "PolarPmdProfile",
    "acc_frame_to_g",
    "acc_frame_to_mg_sdk",
    "check_response",
    "decode_delta_payload",
    "get_settings_command",
    "parse_cp_response",
    "parse_features",
    "parse_pmd_frame",
    "parse_settings",
    "pmd_sample_times",
    "polar_model_from_name",
    "start_command",
    "stop_command",
]

FAMILY = DeviceFamily.POLAR_PMD.value

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
#: 2000-01-01T00:00:00Z minus 1970-01-01T00:00:00Z, in ns (Polar epoch -> Unix epoch).
POLAR_EPOCH_OFFSET_NS = 946_684_800_000_000_000
#: Verity Sense conversion factor (g per count) from the spec's start reply; used only
#: when a delta frame arrives before any start reply told us the factor.
DEFAULT_VERITY_FACTOR = float(np.float32(0.000244))


_POLAR_NAME_MODELS = (
    ("sense", "verity"), ("h10", "h10"), ("oh1", "oh1"), ("360", "360"), ("loop", "360"),
)


@dataclass(frozen=True, slots=True)
class _ModelDefaults:
    rates: tuple[int, ...]
    ranges: tuple[int, ...]
    resolution: int = 16
    channels: int | None = None


#: what each model accepts for online ACC when no get-settings reply was seen
POLAR_MODELS: dict[str, _ModelDefaults] = {
    "verity": _ModelDefaults(rates=(52,), ranges=(8,), channels=3),
    "h10": _ModelDefaults(rates=(25, 50, 100, 200), ranges=(2, 4, 8)),
    "oh1": _ModelDefaults(rates=(50,), ranges=(8,)),
    "360": _ModelDefaults(rates=(50,), ranges=(8,)),
}


def polar_model_from_name(name: str | None) -> str | None:
    """Model key (``verity``, ``h10``, ``oh1``, ``360``) from an advertised name."""
    if not name:
        return None
    low = name.lower()
    if not low.startswith("polar"):
        return None
    for token, model in _POLAR_NAME_MODELS:
        if token in low:
            return model
    return None


# -------------------------------------------------------------------------- frames ----
@dataclass(frozen=True, slots=True)
class PmdFrame:
    """One parsed PMD data frame (integer samples, before unit conversion)."""

    meas_type: int
    timestamp_ns: int  #: sensor clock, ns since 2000-01-01, of the LAST sample
    frame_type: int  #: byte 9 & 0x7F
    compressed: bool  #: byte 9 bit 7
    samples: npt.NDArray[np.int64] = field(repr=False)  #: (n, channels)

    @property
    def unix_ns(self) -> int:
        """Timestamp of the last sample as Unix ns (sensor clock)."""
        return self.timestamp_ns + POLAR_EPOCH_OFFSET_NS


def _read_signed_le(b: bytes, off: int, nbytes: int, bits: int) -> int:
    return signed(int.from_bytes(b[off:off + nbytes], "little") & ((1 << bits) - 1), bits)


def decode_delta_payload(data: bytes, start: int = 0, channels: int = 3, resolution: int = 16,
                         *, family: str = FAMILY) -> npt.NDArray[np.int64]:
    """Delta-compressed payload (from ``start`` to the end of ``data``) -> (n, channels).

    Layout: a reference sample (``channels`` signed LE ints of ``ceil(resolution/8)``
    bytes), then blocks ``delta_bits:u8, count:u8, ceil(bits*count*channels/8) bytes``
    whose LSB-first bit stream holds two's-complement deltas, sample-major.
    """
    n = len(data)
    if not 1 <= resolution <= 32 or not 1 <= channels <= 16:
        fail(family, f"bad delta settings: resolution {resolution}, channels {channels}", n, start)
    step = (resolution + 7) // 8
    need(family, data, start, channels * step, "delta reference sample")
    rows = [np.array([[_read_signed_le(data, start + c * step, step, resolution)
                       for c in range(channels)]], dtype=np.int64)]
    off = start + channels * step
    while off < n:
        need(family, data, off, 2, "delta block header")
        width, count = data[off], data[off + 1]
        if not 1 <= width <= 32:
            fail(family, f"delta bit width {width} outside 1..32", n, off)
        nbits = width * count * channels
        nbytes = (nbits + 7) // 8
        need(family, data, off + 2, nbytes, f"{count}-sample delta block")
        if count:
            raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=off + 2)
            bits = np.unpackbits(raw, bitorder="little")[:nbits].reshape(count * channels, width)
            vals = bits.astype(np.int64) @ (np.int64(1) << np.arange(width, dtype=np.int64))
            vals -= (vals >> (width - 1)) << width
            rows.append(vals.reshape(count, channels))
        off += 2 + nbytes
    return np.cumsum(np.concatenate(rows), axis=0)


def _decode_raw_payload(data: bytes, start: int, size: int, channels: int
                        ) -> npt.NDArray[np.int64]:
    n = len(data) - start
    if n <= 0 or n % (size * channels):
        fail(FAMILY, f"raw payload of {n} B is not a whole number of {channels}x{size}-byte "
             "samples", len(data), start)
    u = np.frombuffer(data, dtype=np.uint8, offset=start).reshape(-1, size).astype(np.int64)
    v = u[:, 0].copy()
    for k in range(1, size):
        v |= u[:, k] << (8 * k)
    sign = np.int64(1) << (8 * size - 1)
    v = (v ^ sign) - sign
    return v.reshape(-1, channels)


def parse_pmd_frame(frame: bytes, *, channels: int = 3, resolution: int = 16) -> PmdFrame:
    """Parse a PMD data notification (ACC) into integer samples.

    Raw frame types 0/1/2 are int8/int16/int24 per channel; compressed types (bit 7)
    use :func:`decode_delta_payload` with the given reference ``resolution``.
    Raises only :class:`~movereg.errors.DecodeError`.
    """
    b = as_bytes(FAMILY, frame)
    need(FAMILY, b, 0, 10, "PMD data header")
    meas = b[0] & 0x3F
    if meas != MeasurementType.ACC:
        fail(FAMILY, f"measurement type {meas} is not ACC (2)", len(b), 0)
    ts = int.from_bytes(b[1:9], "little")
    ftype = b[9]
    compressed = bool(ftype & 0x80)
    t = ftype & 0x7F
    if compressed:
        if t not in (0, 1):
            fail(FAMILY, f"unknown compressed ACC frame type {t}", len(b), 9)
        samples = decode_delta_payload(b, 10, channels, resolution)
    else:
        if t not in (0, 1, 2):
            fail(FAMILY, f"unknown raw ACC frame type {t}", len(b), 9)
        samples = _decode_raw_payload(b, 10, t + 1, channels)
    return PmdFrame(meas, ts, t, compressed, samples)


def acc_frame_to_g(pf: PmdFrame, factor: float | None) -> npt.NDArray[np.float32]:
    """Integer ACC samples -> float32 g, by the frame type's unit rule.

    Compressed type 0: ``count × factor`` g. Compressed type 1: ``count × factor`` mG when
    ``factor != 1`` else mG. Raw frames: mG (no factor, as the vendor SDK does).
    """
    s = pf.samples.astype(np.float64)
    if pf.compressed and pf.frame_type == 0:
        f = DEFAULT_VERITY_FACTOR if factor is None else factor
        return (s * f).astype(np.float32)
    if pf.compressed and factor is not None and factor != 1.0:
        s = s * factor
    return (s / 1000.0).astype(np.float32)


def acc_frame_to_mg_sdk(pf: PmdFrame, factor: float | None) -> npt.NDArray[np.int64]:
    """Integer mG exactly as the vendor SDK computes it (float32 product, truncated).

    Compressed type 0: ``int(count × (factor × 1000))``; compressed type 1:
    ``int(count × factor)`` when ``factor != 1``; raw frames: the counts (mG).
    """
    s = pf.samples.astype(np.float32)
    if pf.compressed and pf.frame_type == 0:
        f = np.float32(DEFAULT_VERITY_FACTOR if factor is None else factor) * np.float32(1000)
        return np.asarray(np.trunc(s * f), dtype=np.int64)
    if pf.compressed and factor is not None and factor != 1.0:
        return np.asarray(np.trunc(s * np.float32(factor)), dtype=np.int64)
    return pf.samples.copy()


def pmd_sample_times(frame_ts: int, n: int, previous_ts: int | None = None,
                     fs_hz: float | None = None) -> npt.NDArray[np.int64]:
    """Per-sample sensor times (same epoch as ``frame_ts``) for a frame of ``n`` samples.

    With the previous frame's timestamp ``p`` the spacing is ``(frame_ts - p) / n`` and
    sample i is at ``p + spacing·(i+1)``; for a first frame the spacing is ``1e9/fs_hz``
    and the first sample is ``frame_ts - spacing·(n-1)``. The last is always ``frame_ts``;
    the others are rounded half-to-even (as the vendor SDK does).
    """
    if n <= 0:
        raise ValueError("a frame has at least one sample")
    if previous_ts:
        if frame_ts <= previous_ts:
            raise ValueError(f"frame time {frame_ts} not after previous {previous_ts}")
        dt = (frame_ts - previous_ts) / n
        first = previous_ts + dt
    else:
        if not fs_hz or fs_hz <= 0:
            raise ValueError("need the previous frame time or a sample rate")
        dt = 1e9 / fs_hz
        first = frame_ts - dt * (n - 1)
    t = np.rint(first + dt * np.arange(n, dtype=np.float64)).astype(np.int64)
    t[-1] = frame_ts
    return t


# ------------------------------------------------------------------------- profile ----
class PolarPmdProfile(ProfileBase):
    """Stateful PMD profile for one connection (learns settings and the factor).

    Parameters
    ----------
    config
        Requested rate/range; the nearest values the sensor offers are used.
    model
        ``"verity"``, ``"h10"``, ``"oh1"``, ``"360"`` or ``None`` (unknown: Verity
        defaults until a get-settings reply says otherwise).
    """

    family = DeviceFamily.POLAR_PMD
    service_uuid = PMD_SERVICE_UUID
    data_char_uuid = PMD_DATA_UUID
    control_char_uuid: str | None = PMD_CP_UUID
    reply_char_uuid: str | None = PMD_CP_UUID
    has_device_time = True

    def __init__(self, config: StreamConfig | None = None, *, model: str | None = None) -> None:
        super().__init__(config)
        self.model = model
        d = POLAR_MODELS.get(model or "verity", POLAR_MODELS["verity"])
        self.available: dict[int, tuple[float | int | bytes, ...]] = {
            PmdSetting.SAMPLE_RATE: d.rates, PmdSetting.RESOLUTION: (d.resolution,),
            PmdSetting.RANGE: d.ranges}
        if d.channels is not None:
            self.available[PmdSetting.CHANNELS] = (d.channels,)
        self.factor: float | None = None
        self.features: frozenset[MeasurementType] | None = None
        self.resolution = d.resolution
        self.channels = 3
        self._fs = float(nearest(self.config.fs_hz, d.rates))
        self._pending: bytes = b""

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool:
        """Polar name with a known model, or the PMD service UUID advertised."""
        return polar_model_from_name(name) is not None or any_uuid(service_uuids, PMD_SERVICE_UUID)

    def setup_commands(self) -> list[Command]:
        """Get ACC settings (the reply tells the profile what the sensor accepts)."""
        return [Command(PMD_CP_UUID, get_settings_command(), True, True)]

    def start_settings(self, config: StreamConfig | None = None) -> list[tuple[int, int]]:
        """The TLVs START will carry: rate, resolution, range (and channels if listed)."""
        cfg = config or self.config
        av = self.available
        rates = [int(v) for v in av.get(PmdSetting.SAMPLE_RATE, ()) if isinstance(v, int)] or [52]
        rate = int(nearest(cfg.fs_hz, rates))
        res = [int(v) for v in av.get(PmdSetting.RESOLUTION, ()) if isinstance(v, int)] or [16]
        ranges = sorted(int(v) for v in av.get(PmdSetting.RANGE, ()) if isinstance(v, int))
        out = [(int(PmdSetting.SAMPLE_RATE), rate), (int(PmdSetting.RESOLUTION), max(res))]
        if ranges:
            fitting = [r for r in ranges if r >= cfg.range_g]
            out.append((int(PmdSetting.RANGE), fitting[0] if fitting else ranges[-1]))
        chans = [int(v) for v in av.get(PmdSetting.CHANNELS, ()) if isinstance(v, int)]
        if chans:
            out.append((int(PmdSetting.CHANNELS), 3 if 3 in chans else max(chans)))
        return out

    def start_commands(self, config: StreamConfig) -> list[Command]:
        """START ACC with the nearest supported settings (reply carries the factor)."""
        self.config = config
        tlvs = self.start_settings(config)
        s = dict(tlvs)
        self._fs = float(s[PmdSetting.SAMPLE_RATE])
        self.resolution = s[PmdSetting.RESOLUTION]
        self.channels = s.get(PmdSetting.CHANNELS, 3)
        return [Command(PMD_CP_UUID, start_command(tlvs), True, True)]

    def stop_commands(self) -> list[Command]:
        """STOP ACC (always before disconnect: an H10 otherwise streams until flat)."""
        return [Command(PMD_CP_UUID, stop_command(), True, True)]

    def is_reply(self, data: bytes) -> bool:
        """CP indications start with F0; a CP read starts with 0F."""
        return len(data) > 0 and data[0] in (0xF0, 0x0F)

    def parse_reply(self, data: bytes) -> None:
        """Check a CP reply; learn settings, features and the conversion factor.

        A STOP answered with ALREADY IN STATE or INVALID STATE is not an error (the
        stream was not running). Raises ProtocolError on other error statuses.
        """
        b = as_bytes(FAMILY, data)
        if b[:1] == b"\x0f":
            self.features = parse_features(b)
            return
        resp = parse_cp_response(b)
        if resp.op_code == PmdOp.STOP and resp.status in (6, 12):
            return
        check_response(resp)
        params = self._pending + resp.params
        if resp.more_frames:
            self._pending = params
            return
        self._pending = b""
        if resp.op_code == PmdOp.GET_SETTINGS and resp.meas_type == MeasurementType.ACC:
            got = parse_settings(params)
            if got:
                self.available = got
        elif resp.op_code == PmdOp.START and resp.meas_type & 0x7F == MeasurementType.ACC:
            got = parse_settings(params, strict=False)
            f = got.get(PmdSetting.FACTOR)
            if f and isinstance(f[0], float):
                self.factor = f[0]

    def decode_frame(self, frame: bytes) -> PmdFrame:
        """Parse one data frame with this connection's channels and resolution."""
        return parse_pmd_frame(frame, channels=self.channels, resolution=self.resolution)

    def decode(self, frame: bytes) -> RawBlock:
        """One PMD ACC notification -> RawBlock (g; device time of the last sample)."""
        pf = self.decode_frame(frame)
        if self.channels != 3:
            fail(FAMILY, f"{self.channels}-channel ACC is not supported", len(frame), 10)
        return RawBlock(acc_frame_to_g(pf, self.factor), self._fs, pf.unix_ns, None)
