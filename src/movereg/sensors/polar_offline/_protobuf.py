"""A small protobuf wire codec: varints and length-delimited fields, nothing more.

movereg's own implementation of the public protobuf wire format
(https://protobuf.dev/programming-guides/encoding/), enough for the handful of Polar
file-transfer messages :mod:`.pftp` defines by hand. Decoding raises only
:class:`~movereg.errors.DecodeError`.
"""

from __future__ import annotations

from collections.abc import Iterator

from movereg.errors import DecodeError
from movereg.models import DeviceFamily

__all__ = ["Fields", "decode_fields", "enc_bytes", "enc_varint", "field_bytes",
           "field_varint", "read_varint"]

FAMILY = DeviceFamily.POLAR_PMD.value
VARINT, I64, LEN, I32 = 0, 1, 2, 5

#: field number -> list of values (int for varint/fixed, bytes for length-delimited)
Fields = dict[int, list[int | bytes]]


def _fail(msg: str, data: bytes, off: int) -> DecodeError:
    return DecodeError(f"protobuf: {msg}", family=FAMILY, length=len(data), offset=off)


def enc_varint(value: int) -> bytes:
    """Unsigned LEB128 varint (negative values as 64-bit two's complement)."""
    v = value & 0xFFFF_FFFF_FFFF_FFFF if value < 0 else value
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(data: bytes, off: int) -> tuple[int, int]:
    """(value, next offset); at most 10 bytes."""
    value = shift = 0
    for i in range(10):
        if off + i >= len(data):
            raise _fail("truncated varint", data, off)
        b = data[off + i]
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, off + i + 1
    raise _fail("varint longer than 10 bytes", data, off)


def field_varint(num: int, value: int | bool) -> bytes:
    """A varint field (uint32/uint64/bool/enum)."""
    return enc_varint(num << 3 | VARINT) + enc_varint(int(value))


def field_bytes(num: int, value: bytes | str) -> bytes:
    """A length-delimited field (string, bytes, embedded message)."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return enc_bytes(num, raw)


def enc_bytes(num: int, raw: bytes) -> bytes:
    """Tag + length + ``raw``."""
    return enc_varint(num << 3 | LEN) + enc_varint(len(raw)) + raw


def _iter_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    off = 0
    n = len(data)
    while off < n:
        start = off
        key, off = read_varint(data, off)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise _fail("field number 0", data, start)
        if wt == VARINT:
            v, off = read_varint(data, off)
            yield num, v
        elif wt == LEN:
            size, off = read_varint(data, off)
            if off + size > n:
                raise _fail(f"field {num}: {size} B announced, {n - off} left", data, off)
            yield num, data[off:off + size]
            off += size
        elif wt in (I64, I32):
            size = 8 if wt == I64 else 4
            if off + size > n:
                raise _fail(f"field {num}: truncated fixed value", data, off)
            yield num, int.from_bytes(data[off:off + size], "little")
            off += size
        else:
            raise _fail(f"unsupported wire type {wt}", data, start)


def decode_fields(data: bytes | bytearray | memoryview) -> Fields:
    """All fields of one message, by number (repeated fields keep their order)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"protobuf: expected bytes, got {type(data).__name__}",
                          family=FAMILY, length=0, offset=0)
    b = bytes(data)
    out: Fields = {}
    for num, v in _iter_fields(b):
        out.setdefault(num, []).append(v)
    return out
