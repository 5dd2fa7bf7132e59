"""Polar file transfer (PFTP) over BLE: RFC76 packet framing, RFC60 headers, messages.

Written by movereg from the facts Polar publishes in its BLE SDK (polar-ble-sdk,
``BlePsFtpUtils``, ``pftp_request.proto``, ``pftp_response.proto``, ``pftp_error.proto``,
``types.proto``); the message definitions below are our own, with the field numbers
the public ``.proto`` files give. No Polar code is used.

* Service ``0xFEEE``; the host writes request packets to the "MTU" characteristic
  ``FB005C51-…`` and the band answers with notifications on it.
* **RFC76 packet**: one header byte ``seq:4 | status:2 | 0 | next:1`` (bits 7-4 a ring
  sequence number 0..15, bits 2-1 status ``11`` MORE / ``01`` LAST / ``00`` error,
  bit 0 ``next``: 0 on a message's first packet), then payload up to the packet size.
  An error packet carries a little-endian u16 PFTP error code.
* **RFC60 message**: a request is ``len:u16 LE`` (15 bits) + a ``PbPFtpOperation`` +
  data (PUT only); a query is ``(id | 0x8000):u16 LE`` + its parameters message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum

from movereg.errors import DecodeError
from movereg.models import DeviceFamily
from movereg.sensors.polar_offline._protobuf import (
    decode_fields,
    enc_bytes,
    field_bytes,
    field_varint,
)

__all__ = [
    "PFTP_D2H_UUID",
    "PFTP_ERRORS",
    "PFTP_H2D_UUID",
    "PFTP_MTU_UUID",
    "PFTP_SERVICE_UUID",
    "DirEntry",
    "DiskSpace",
    "Op",
    "PftpError",
    "Query",
    "Rfc76Assembler",
    "decode_directory",
    "decode_disk_space",
    "decode_operation",
    "decode_system_time",
    "encode_directory",
    "encode_disk_space",
    "encode_local_time",
    "encode_operation",
    "encode_system_time",
    "parse_rfc60",
    "rfc60_query",
    "rfc60_request",
    "rfc76_error",
    "rfc76_packets",
]

FAMILY = DeviceFamily.POLAR_PMD.value
PFTP_SERVICE_UUID = "0000feee-0000-1000-8000-00805f9b34fb"
PFTP_MTU_UUID = "fb005c51-02e7-f387-1cad-8acd2d8df0c8"
PFTP_D2H_UUID = "fb005c52-02e7-f387-1cad-8acd2d8df0c8"
PFTP_H2D_UUID = "fb005c53-02e7-f387-1cad-8acd2d8df0c8"

_MORE, _LAST, _ERROR = 0b11, 0b01, 0b00


class Op(IntEnum):
    """``PbPFtpOperation.Command``."""

    GET = 0
    PUT = 1
    MERGE = 2
    REMOVE = 3


class Query(IntEnum):
    """``PbPFtpQuery`` ids movereg uses."""

    SET_SYSTEM_TIME = 1
    SET_LOCAL_TIME = 3
    GET_LOCAL_TIME = 4
    GET_DISK_SPACE = 5


class PftpError(IntEnum):
    """``PbPFtpError`` codes."""

    OPERATION_SUCCEEDED = 0
    REBOOTING = 1
    TRY_AGAIN = 2
    UNIDENTIFIED_HOST_ERROR = 100
    INVALID_COMMAND = 101
    INVALID_PARAMETER = 102
    NO_SUCH_FILE_OR_DIRECTORY = 103
    DIRECTORY_EXISTS = 104
    FILE_EXISTS = 105
    OPERATION_NOT_PERMITTED = 106
    NO_SUCH_USER = 107
    TIMEOUT = 108
    UNIDENTIFIED_DEVICE_ERROR = 200
    NOT_IMPLEMENTED = 201
    SYSTEM_BUSY = 202
    INVALID_CONTENT = 203
    CHECKSUM_FAILURE = 204
    DISK_FULL = 205
    PREREQUISITE_NOT_MET = 206
    INSUFFICIENT_BUFFER = 207
    WAIT_FOR_IDLING = 208
    BATTERY_TOO_LOW = 209


#: code -> advice for the user
PFTP_ERRORS: dict[int, str] = {
    1: "the band is restarting; try again in a minute",
    2: "the band asked to try again; movereg retries at the next sync",
    103: "the band has not written this file yet (it buffers up to ~5 minutes); "
         "try again in a few minutes",
    106: "the band does not allow this; update movereg or the band's firmware",
    202: "the band is busy (measuring or syncing with another app); close the Polar "
         "app and try again later",
    205: "the band's memory is full; sync and remove recordings first",
    208: "the band is busy; try again in a minute",
    209: "the band's battery is too low; charge it first",
}


def _fail(msg: str, data: bytes, off: int = 0) -> DecodeError:
    return DecodeError(f"PFTP: {msg}", family=FAMILY, length=len(data), offset=off)


# ------------------------------------------------------------------ RFC76 framing ----
def rfc76_packets(message: bytes, packet_size: int, seq: int = 0) -> tuple[list[bytes], int]:
    """Split one message into RFC76 packets of at most ``packet_size`` bytes.

    Returns the packets and the next sequence number (the ring continues across
    messages on the same link direction).
    """
    if packet_size < 2:
        raise ValueError("packet_size must be >= 2")
    room = packet_size - 1
    out: list[bytes] = []
    off = 0
    first = True
    while True:
        chunk = message[off:off + room]
        off += len(chunk)
        status = _MORE if off < len(message) else _LAST
        out.append(bytes([(seq & 0x0F) << 4 | status << 1 | (0 if first else 1)]) + chunk)
        seq = (seq + 1) & 0x0F
        first = False
        if off >= len(message):
            return out, seq


def rfc76_error(code: int, seq: int = 0) -> bytes:
    """An error packet: status 00 and the u16 LE error code."""
    return bytes([(seq & 0x0F) << 4]) + int(code).to_bytes(2, "little")


class Rfc76Assembler:
    """Reassembles RFC76 packets into messages (one direction of one link).

    :meth:`feed` returns None while a message continues, ``(0, message)`` when one is
    complete, ``(code, b"")`` for an error packet. A packet out of sequence, or a
    continuation without a first packet, raises :class:`DecodeError` (the partial
    message is dropped).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._seq: int | None = None
        self._open = False

    def reset(self) -> None:
        """Forget a partial message (a new request starts)."""
        self._buf.clear()
        self._open = False
        self._seq = None

    def feed(self, packet: bytes | bytearray) -> tuple[int, bytes] | None:
        """One packet in; a finished message (or error) out."""
        p = bytes(packet)
        if not p:
            raise _fail("empty packet", p)
        head = p[0]
        nxt, status, seq = head & 1, head >> 1 & 0b11, head >> 4
        if nxt == 0:
            self._buf.clear()
            self._open = True
        else:
            if not self._open:
                self.reset()
                raise _fail("continuation packet without a first packet", p)
            if self._seq is not None and seq != (self._seq + 1) & 0x0F:
                want = (self._seq + 1) & 0x0F
                self.reset()
                raise _fail(f"packet sequence {seq} where {want} was due", p)
        self._seq = seq
        if status == _ERROR:
            if len(p) < 3:
                self.reset()
                raise _fail("error packet without a code", p, 1)
            self.reset()
            return int.from_bytes(p[1:3], "little"), b""
        if status not in (_MORE, _LAST):
            self.reset()
            raise _fail(f"unknown packet status {status:02b}", p)
        self._buf += p[1:]
        if status == _LAST:
            msg = bytes(self._buf)
            self._buf.clear()
            self._open = False
            return 0, msg
        return None


# ------------------------------------------------------------------- RFC60 header ----
def rfc60_request(operation: bytes, data: bytes = b"") -> bytes:
    """``len:u16 LE`` (15 bits) + operation + data."""
    if len(operation) > 0x7FFF:
        raise ValueError("operation header longer than 32767 bytes")
    return len(operation).to_bytes(2, "little") + operation + data


def rfc60_query(query_id: int, params: bytes = b"") -> bytes:
    """``(id | 0x8000):u16 LE`` + parameters."""
    return ((int(query_id) & 0x7FFF) | 0x8000).to_bytes(2, "little") + params


def parse_rfc60(message: bytes) -> tuple[bool, int, bytes, bytes]:
    """``(is_query, query_id, header_or_params, data)`` of a host message."""
    b = bytes(message)
    if len(b) < 2:
        raise _fail("message shorter than its 2-byte RFC60 header", b)
    word = int.from_bytes(b[:2], "little")
    if word & 0x8000:
        return True, word & 0x7FFF, b[2:], b""
    size = word & 0x7FFF
    if 2 + size > len(b):
        raise _fail(f"RFC60 header announces {size} B, {len(b) - 2} follow", b, 2)
    return False, 0, b[2:2 + size], b[2 + size:]


# ---------------------------------------------------------------------- messages ----
def encode_operation(op: Op | int, path: str) -> bytes:
    """``PbPFtpOperation {command = 1; path = 2}``."""
    return field_varint(1, int(op)) + field_bytes(2, path)


def _one(fields: dict[int, list[int | bytes]], num: int, kind: type, what: str,
         data: bytes) -> int | bytes:
    vals = fields.get(num)
    if not vals:
        raise _fail(f"{what}: field {num} missing", data)
    v = vals[-1]
    if not isinstance(v, kind):
        raise _fail(f"{what}: field {num} has the wrong wire type", data)
    return v


def _text(raw: int | bytes, what: str, data: bytes) -> str:
    assert isinstance(raw, bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(f"{what} is not UTF-8", data) from None


def decode_operation(data: bytes) -> tuple[int, str]:
    """``(command, path)`` of a ``PbPFtpOperation``."""
    f = decode_fields(data)
    cmd = _one(f, 1, int, "operation", data)
    path = _text(_one(f, 2, bytes, "operation", data), "operation path", data)
    assert isinstance(cmd, int)
    return cmd, path


def _date_time(utc_ns: int) -> tuple[bytes, bytes]:
    t = dt.datetime.fromtimestamp(utc_ns // 1_000_000_000, dt.UTC)
    ms = utc_ns // 1_000_000 % 1000
    date = field_varint(1, t.year) + field_varint(2, t.month) + field_varint(3, t.day)
    time = (field_varint(1, t.hour) + field_varint(2, t.minute) + field_varint(3, t.second)
            + field_varint(4, ms))
    return date, time


def encode_system_time(utc_ns: int, trusted: bool = True) -> bytes:
    """``PbPFtpSetSystemTimeParams`` / ``PbSystemDateTime`` {date, time, trusted}."""
    date, time = _date_time(utc_ns)
    return enc_bytes(1, date) + enc_bytes(2, time) + field_varint(3, trusted)


def encode_local_time(local_ns: int, tz_offset_min: int = 0) -> bytes:
    """``PbPFtpSetLocalTimeParams`` {date, time, tz_offset (minutes)}."""
    date, time = _date_time(local_ns)
    return enc_bytes(1, date) + enc_bytes(2, time) + field_varint(3, tz_offset_min)


def decode_system_time(data: bytes) -> int:
    """UTC ns of a ``PbSystemDateTime``-shaped message (date = 1, time = 2)."""
    f = decode_fields(data)
    date = decode_fields(_one(f, 1, bytes, "date-time", data))  # type: ignore[arg-type]
    tim = decode_fields(_one(f, 2, bytes, "date-time", data))  # type: ignore[arg-type]

    def num(fields: dict[int, list[int | bytes]], k: int) -> int:
        return int(_one(fields, k, int, "date-time", data))

    try:
        t = dt.datetime(num(date, 1), num(date, 2), num(date, 3), num(tim, 1), num(tim, 2),
                        num(tim, 3), tzinfo=dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise _fail(f"date-time out of range ({exc})", data) from None
    ms = num(tim, 4) if tim.get(4) else 0
    return int(t.timestamp()) * 1_000_000_000 + min(ms, 999) * 1_000_000


@dataclass(frozen=True, slots=True)
class DirEntry:
    """One ``PbPFtpEntry``: ``name`` (directories end in ``/``), ``size`` bytes,
    ``modified_ns`` (UTC ns, or None)."""

    name: str
    size: int
    modified_ns: int | None = None

    @property
    def is_dir(self) -> bool:
        """Directories are named with a trailing slash."""
        return self.name.endswith("/")


def encode_directory(entries: list[DirEntry]) -> bytes:
    """``PbPFtpDirectory {repeated PbPFtpEntry entries = 1}``."""
    out = bytearray()
    for e in entries:
        body = field_bytes(1, e.name) + field_varint(2, e.size)
        if e.modified_ns is not None:
            body += enc_bytes(4, encode_system_time(e.modified_ns))
        out += enc_bytes(1, body)
    return bytes(out)


def decode_directory(data: bytes) -> list[DirEntry]:
    """Entries of a ``PbPFtpDirectory``."""
    out = []
    for raw in decode_fields(data).get(1, []):
        if not isinstance(raw, bytes):
            raise _fail("directory entry has the wrong wire type", data)
        f = decode_fields(raw)
        name = _text(_one(f, 1, bytes, "entry", data), "entry name", data)
        size = _one(f, 2, int, "entry", data)
        mod = f.get(4)
        modified = (decode_system_time(mod[-1]) if mod and isinstance(mod[-1], bytes)
                    else None)
        assert isinstance(size, int)
        out.append(DirEntry(name, size, modified))
    return out


@dataclass(frozen=True, slots=True)
class DiskSpace:
    """``PbPFtpDiskSpaceResult``: fragment size (bytes) and fragment counts."""

    fragment_size: int
    total_fragments: int
    free_fragments: int

    @property
    def total_bytes(self) -> int:
        """Memory in bytes."""
        return self.fragment_size * self.total_fragments

    @property
    def free_bytes(self) -> int:
        """Free memory in bytes."""
        return self.fragment_size * self.free_fragments


def encode_disk_space(d: DiskSpace) -> bytes:
    """``PbPFtpDiskSpaceResult {fragment_size = 1; total_fragments = 2; free_fragments = 3}``."""
    return (field_varint(1, d.fragment_size) + field_varint(2, d.total_fragments)
            + field_varint(3, d.free_fragments))


def decode_disk_space(data: bytes) -> DiskSpace:
    """The disk-space query's answer."""
    f = decode_fields(data)
    vals = [_one(f, k, int, "disk space", data) for k in (1, 2, 3)]
    return DiskSpace(*(int(v) for v in vals))
