"""Byte encoders: the inverse of each decoder (sample arrays -> real protocol frames).

Used by the simulated band and by the emulated peripherals in the tests. Each function
builds exactly the layout the matching decoder in :mod:`movereg.sensors.decoders` reads;
round-trip tests prove ``decode(encode(x)) == x`` to the quantisation.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from movereg.sensors.decoders.polar_pmd import MeasurementType, PmdOp, PmdSetting

__all__ = [
    "delta_bits_needed",
    "encode_infinitime",
    "encode_metawear_chip_reply",
    "encode_metawear_packed",
    "encode_metawear_single",
    "encode_microbit",
    "encode_movesense_data",
    "encode_movesense_hello_reply",
    "encode_movesense_result",
    "encode_pmd_cp_response",
    "encode_pmd_delta_frame",
    "encode_pmd_factor",
    "encode_pmd_raw_frame",
    "encode_pmd_settings",
    "g_to_counts",
    "pmd_start_reply",
]

IntArray = npt.NDArray[np.int64]

_TLV_FMT = {0: "<H", 1: "<H", 2: "<H", 3: "<I", 4: "<B", 5: "<f"}


def g_to_counts(samples_g: npt.ArrayLike, g_per_count: float, bits: int = 16) -> IntArray:
    """Quantise g to signed integer counts (rounded, clipped to ``bits``)."""
    lim = (1 << (bits - 1)) - 1
    c = np.rint(np.asarray(samples_g, dtype=np.float64) / g_per_count)
    return np.clip(c, -lim - 1, lim).astype(np.int64)


def _as_counts(samples: npt.ArrayLike, channels: int = 3) -> IntArray:
    a = np.asarray(samples)
    if a.ndim != 2 or a.shape[1] != channels or a.shape[0] == 0:
        raise ValueError(f"samples must be (n >= 1, {channels}), got {a.shape}")
    return a.astype(np.int64)


# ----------------------------------------------------------------------- Polar PMD ----
def _pmd_header(timestamp_ns: int, frame_type: int, meas: int) -> bytes:
    return bytes([meas]) + struct.pack("<Q", timestamp_ns) + bytes([frame_type])


def delta_bits_needed(deltas: npt.ArrayLike) -> int:
    """Smallest two's-complement width (1..32 bits) that holds every delta."""
    d = np.asarray(deltas, dtype=np.int64)
    if d.size == 0:
        return 1
    lo, hi = int(d.min()), int(d.max())
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    if w > 32:
        raise ValueError("delta needs more than 32 bits")
    return w


def _pack_bits(values: IntArray, width: int) -> bytes:
    """Two's-complement values -> LSB-first bit stream of ``width`` bits each."""
    u = values.astype(np.int64) & ((1 << width) - 1)
    bits = ((u[:, None] >> np.arange(width, dtype=np.int64)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits, bitorder="little").tobytes()


def encode_pmd_delta_frame(counts: npt.ArrayLike, timestamp_ns: int, *,
                           bit_width: int | None = None, block_size: int | None = None,
                           frame_type: int = 0x80, resolution: int = 16,
                           meas: int = MeasurementType.ACC) -> bytes:
    """Integer samples -> a delta-compressed PMD data frame.

    Parameters
    ----------
    counts
        (n >= 1, channels) integer samples; the first is the reference sample.
    timestamp_ns
        Sensor time of the LAST sample, ns since 2000-01-01.
    bit_width
        Fixed delta width (1..32); ``None`` picks the smallest per block.
    block_size
        Deltas per block (``None``: one block, at most 255 per block in any case).
    frame_type
        ``0x80`` (type 0) or ``0x81`` (type 1).
    resolution
        Bits of the reference sample (16 for ACC).
    """
    a = np.asarray(counts)
    c = _as_counts(a, a.shape[1] if a.ndim == 2 else 3)
    step = (resolution + 7) // 8
    out = bytearray(_pmd_header(timestamp_ns, frame_type, int(meas)))
    for v in c[0]:
        out += int(v & ((1 << (8 * step)) - 1)).to_bytes(step, "little")
    deltas = np.diff(c, axis=0)
    size = min(block_size or 255, 255)
    for i in range(0, len(deltas), size):
        blk = deltas[i:i + size]
        w = bit_width if bit_width is not None else delta_bits_needed(blk)
        if delta_bits_needed(blk) > w:
            raise ValueError(f"deltas do not fit in {w} bits")
        out += bytes([w, len(blk)]) + _pack_bits(blk.ravel(), w)
    return bytes(out)


def encode_pmd_raw_frame(values: npt.ArrayLike, timestamp_ns: int, *, sample_bytes: int = 2,
                         meas: int = MeasurementType.ACC) -> bytes:
    """Integer samples (mG) -> a raw PMD frame of int8/int16/int24 (type 0/1/2)."""
    c = _as_counts(values)
    if sample_bytes not in (1, 2, 3):
        raise ValueError("sample_bytes must be 1, 2 or 3")
    lim = 1 << (8 * sample_bytes - 1)
    if c.min() < -lim or c.max() >= lim:
        raise ValueError(f"values do not fit in {8 * sample_bytes} bits")
    u = (c.ravel() & ((1 << (8 * sample_bytes)) - 1)).astype("<u4").view(np.uint8).reshape(-1, 4)
    return _pmd_header(timestamp_ns, sample_bytes - 1, int(meas)) + u[:, :sample_bytes].tobytes()


def encode_pmd_settings(settings: Mapping[int, Sequence[float | int]]) -> bytes:
    """``{setting type: values}`` -> TLV bytes ``type count values…``."""
    out = bytearray()
    for stype, vals in settings.items():
        out += bytes([int(stype), len(vals)])
        for v in vals:
            out += struct.pack(_TLV_FMT[int(stype)], v)
    return bytes(out)


def encode_pmd_factor(factor: float) -> bytes:
    """The conversion-factor TLV (type 5, one f32)."""
    return encode_pmd_settings({PmdSetting.FACTOR: [factor]})


def encode_pmd_cp_response(op: int, meas: int = MeasurementType.ACC, status: int = 0,
                           params: bytes = b"", *, more: bool = False) -> bytes:
    """A CP reply: ``F0 op type status [more] params`` (``more`` only on success)."""
    if status == 0:
        return bytes([0xF0, int(op), int(meas), 0, int(more)]) + params
    return bytes([0xF0, int(op), int(meas), status]) + params


def pmd_start_reply(factor: float | None = None) -> bytes:
    """START ACC success reply, with a factor TLV when given (Verity style)."""
    return encode_pmd_cp_response(PmdOp.START, MeasurementType.ACC, 0,
                                  encode_pmd_factor(factor) if factor is not None else b"")


# ------------------------------------------------------------------------ MetaWear ----
def encode_metawear_single(counts: npt.ArrayLike) -> bytes:
    """One (x, y, z) int16 sample -> ``03 04 xyz``."""
    c = _as_counts(np.reshape(counts, (-1, 3)))
    if len(c) != 1:
        raise ValueError("a single-sample notification carries one sample")
    return b"\x03\x04" + c.astype("<i2").tobytes()


def encode_metawear_packed(counts: npt.ArrayLike, chip: str = "bmi160") -> bytes:
    """Three (x, y, z) int16 samples -> ``03 1C …`` (BMI160) or ``03 05 …`` (BMI270)."""
    c = _as_counts(counts)
    if len(c) != 3:
        raise ValueError("a packed notification carries exactly 3 samples")
    reg = 0x1C if chip == "bmi160" else 0x05
    return bytes([0x03, reg]) + c.astype("<i2").tobytes()


def encode_metawear_chip_reply(chip: str = "bmi160", revision: int = 0) -> bytes:
    """Accelerometer module-info reply ``03 80 <impl> <rev>``."""
    return bytes([0x03, 0x80, 1 if chip == "bmi160" else 4, revision])


# ----------------------------------------------------------------------- Movesense ----
def encode_movesense_data(samples_ms2: npt.ArrayLike, timestamp_ms: int, ref: int = 99) -> bytes:
    """(n, 3) m/s² -> ``02 ref ts:u32 n×(f32 x, y, z)``; ``timestamp_ms`` of the FIRST."""
    a = np.asarray(samples_ms2, dtype="<f4")
    if a.ndim != 2 or a.shape[1] != 3 or len(a) == 0:
        raise ValueError("samples must be (n >= 1, 3)")
    return bytes([0x02, ref]) + struct.pack("<I", timestamp_ms & 0xFFFFFFFF) + a.tobytes()


def encode_movesense_result(ref: int, status: int) -> bytes:
    """Command result ``01 ref <status u16 big-endian>``."""
    return bytes([0x01, ref]) + status.to_bytes(2, "big")


def encode_movesense_hello_reply(ref: int = 99) -> bytes:
    """HELLO answer ``01 ref Hello``."""
    return bytes([0x01, ref]) + b"Hello"


# ------------------------------------------------------------ micro:bit, InfiniTime ----
def _xyz_i16(xyz: npt.ArrayLike) -> bytes:
    c = np.asarray(xyz).astype(np.int64).reshape(3)
    if c.min() < -32768 or c.max() > 32767:
        raise ValueError("values do not fit in int16")
    return c.astype("<i2").tobytes()


def encode_microbit(xyz_mg: npt.ArrayLike) -> bytes:
    """(x, y, z) milli-g -> the 6-byte accelerometer value."""
    return _xyz_i16(xyz_mg)


def encode_infinitime(xyz_counts: npt.ArrayLike) -> bytes:
    """(x, y, z) counts (1024 = 1 g) -> the 6-byte raw-motion value."""
    return _xyz_i16(xyz_counts)
