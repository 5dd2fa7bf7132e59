"""Private helpers shared by the decoders: bounds-checked reads that raise DecodeError."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NoReturn

import numpy as np

from movereg.errors import DecodeError


def fail(family: str, message: str, length: int, offset: int) -> NoReturn:
    """Raise the one decode error type, with family, frame length and offset."""
    raise DecodeError(message, family=family, length=length, offset=offset)


def as_bytes(family: str, data: object) -> bytes:
    """Return ``data`` as immutable bytes, or raise DecodeError for non-bytes input."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    fail(family, f"expected bytes, got {type(data).__name__}", 0, 0)


def need(family: str, data: bytes, offset: int, size: int, what: str) -> None:
    """Raise DecodeError unless ``size`` bytes are available at ``offset``."""
    if offset + size > len(data):
        fail(family, f"truncated {what}: needs {size} B at offset {offset}, "
             f"{max(0, len(data) - offset)} B left", len(data), offset)


def signed(value: int, bits: int) -> int:
    """Two's-complement interpretation of an unsigned ``bits``-wide integer."""
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def nearest(value: float, options: Iterable[float]) -> float:
    """The option closest to ``value`` (ties go to the larger option)."""
    opts = sorted(options)
    return min(reversed(opts), key=lambda o: abs(o - value))


def norm_uuid(uuid: str) -> str:
    """Lower-case 128-bit UUID; 16/32-bit short forms expand on the Bluetooth base."""
    u = uuid.strip().lower()
    if len(u) == 4:
        u = "0000" + u
    if len(u) == 8:
        return f"{u}-0000-1000-8000-00805f9b34fb"
    return u


def any_uuid(service_uuids: Sequence[str], wanted: str) -> bool:
    """True when ``wanted`` is among ``service_uuids`` (any spelling)."""
    w = norm_uuid(wanted)
    return any(norm_uuid(u) == w for u in service_uuids)


def int16_xyz(family: str, frame: object, per_g: float, what: str) -> np.ndarray:
    """One 6-byte ``x, y, z`` int16 LE value -> (1, 3) float32 g (``per_g`` LSB per g).

    Raises only DecodeError (wrong type or length).
    """
    b = as_bytes(family, frame)
    if len(b) != 6:
        fail(family, f"{what} must be 6 bytes (x, y, z int16)", len(b), min(len(b), 6))
    return (np.frombuffer(b, dtype="<i2").astype(np.float32) / np.float32(per_g)).reshape(1, 3)
