"""Polar offline recording files (``.REC``) and movereg's ``.polarrec`` container.

``.REC`` layout (unencrypted), from the facts in Polar's public BLE SDK
(``OfflineRecordingData``: header magic and lengths, ``SdkOfflineRecordingExplained.md``):

====== ======= ===========================================================
offset size    field
====== ======= ===========================================================
0      1       security strategy (0 = none; XOR/AES files are refused)
1      16      header: magic ``0x3D7C4C2B`` u32 LE, version u32, free u32,
               firmware hash u32
17     20      start time, ASCII ``YYYY-MM-DD HH:MM:SS`` + NUL (band clock)
37     1 + n   PMD settings: length byte, then TLVs as in a START reply
…      1 + m   security info: length byte (0 = none)
…      2 + k   first packet: size u16 LE, then one ordinary PMD data frame
…      …       further packets ``size:u16 LE | frame``
====== ======= ===========================================================

A long recording is split by the band into ``ACC0.REC``, ``ACC1.REC``… (each a whole
``.REC`` file). :func:`encode_rec` writes the layout (the emulated and simulated bands
use it); :func:`parse_rec` reads it and raises only :class:`DecodeError`.

``.polarrec`` (movereg's own, one file per recording): magic ``MVRGPREC``, version
byte, ``u32 LE`` JSON header length, the JSON header (``recording_id``, ``device_id``,
``parts`` names, ``started_utc_ns``), then one record per part: ``u32 LE`` length + the
part's bytes, in part order. Whole records are what a download keeps: a transfer cut
short resumes after the last whole part.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from movereg.errors import DecodeError
from movereg.models import DeviceFamily

__all__ = [
    "CONTAINER_MAGIC",
    "CONTAINER_SUFFIX",
    "REC_MAGIC",
    "Container",
    "RecFile",
    "container_header",
    "container_record",
    "encode_rec",
    "parse_container",
    "parse_rec",
    "read_container",
]

FAMILY = DeviceFamily.POLAR_PMD.value
REC_MAGIC = 0x3D7C4C2B
REC_VERSION = 1
CONTAINER_MAGIC = b"MVRGPREC"
CONTAINER_VERSION = 1
CONTAINER_SUFFIX = ".polarrec"
_HEAD = 1 + 16
_TIME = 20
_MAX_HEADER = 1 << 20


def _fail(msg: str, data: bytes, off: int) -> DecodeError:
    return DecodeError(f".REC: {msg}", family=FAMILY, length=len(data), offset=off)


def _time_text(utc_ns: int) -> bytes:
    t = dt.datetime.fromtimestamp(utc_ns // 1_000_000_000, dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S").encode("ascii") + b"\x00"


@dataclass(frozen=True, slots=True)
class RecFile:
    """A parsed ``.REC`` file.

    Attributes
    ----------
    version
        Header version.
    start_ns
        Start time from the header, Unix ns (band clock, whole seconds).
    settings
        Raw PMD settings TLVs (parse with
        :func:`~movereg.sensors.decoders.polar_pmd.parse_settings`).
    frames
        The PMD data frames, in file order.
    truncated_at
        Byte offset where a cut-off packet starts (None when the file is whole).
    """

    version: int
    start_ns: int
    settings: bytes
    frames: list[bytes] = field(repr=False)
    truncated_at: int | None = None


def encode_rec(start_ns: int, settings: bytes, frames: list[bytes], *,
               version: int = REC_VERSION) -> bytes:
    """An unencrypted ``.REC`` file: header, start time, settings, size-prefixed frames."""
    if not frames:
        raise ValueError("a .REC file holds at least one frame")
    if len(settings) > 255:
        raise ValueError("settings longer than 255 bytes")
    out = bytearray([0])
    out += struct.pack("<IIII", REC_MAGIC, version, 0, 0)
    out += _time_text(start_ns)
    out += bytes([len(settings)]) + settings + b"\x00"
    for f in frames:
        if not 0 < len(f) <= 0xFFFF:
            raise ValueError("a frame is 1..65535 bytes")
        out += struct.pack("<H", len(f)) + f
    return bytes(out)


def _parse_time(raw: bytes, data: bytes, off: int) -> int:
    try:
        text = raw[:19].decode("ascii")
        t = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    except (UnicodeDecodeError, ValueError):
        raise _fail(f"start time {raw[:19]!r} is not YYYY-MM-DD HH:MM:SS", data, off) from None
    return int(t.timestamp()) * 1_000_000_000


def parse_rec(data: bytes | bytearray | memoryview) -> RecFile:
    """Parse a ``.REC`` file; a cut-off last packet is kept as ``truncated_at``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f".REC: expected bytes, got {type(data).__name__}", family=FAMILY,
                          length=0, offset=0)
    b = bytes(data)
    if len(b) < _HEAD + _TIME + 2:
        raise _fail(f"{len(b)} B is shorter than the .REC header", b, 0)
    if b[0] != 0:
        raise _fail(f"security strategy {b[0]} (encrypted recordings are not supported: "
                    "start recordings without a key)", b, 0)
    magic, version, _free, _hash = struct.unpack_from("<IIII", b, 1)
    if magic != REC_MAGIC:
        raise _fail(f"magic {magic:#010x} is not {REC_MAGIC:#010x}", b, 1)
    start = _parse_time(b[_HEAD:_HEAD + _TIME], b, _HEAD)
    off = _HEAD + _TIME
    n_set = b[off]
    off += 1
    if off + n_set + 1 > len(b):
        raise _fail("settings run past the end of the file", b, off)
    settings = b[off:off + n_set]
    off += n_set
    n_sec = b[off]
    off += 1
    if n_sec:
        raise _fail("the recording carries security info (encrypted); not supported", b, off)
    frames: list[bytes] = []
    truncated: int | None = None
    while off < len(b):
        if off + 2 > len(b):
            truncated = off
            break
        size = int.from_bytes(b[off:off + 2], "little")
        if size == 0 or off + 2 + size > len(b):
            truncated = off
            break
        frames.append(b[off + 2:off + 2 + size])
        off += 2 + size
    if not frames and truncated is None:
        raise _fail("no data packets", b, off)
    return RecFile(version, start, settings, frames, truncated)


# --------------------------------------------------------------------- container ----
def container_header(meta: dict[str, Any]) -> bytes:
    """Magic, version, JSON header (``recording_id``, ``device_id``, ``parts``…)."""
    body = json.dumps(meta, sort_keys=True).encode("utf-8")
    return CONTAINER_MAGIC + bytes([CONTAINER_VERSION]) + struct.pack("<I", len(body)) + body


def container_record(part: bytes) -> bytes:
    """One part: ``u32 LE`` length + bytes."""
    return struct.pack("<I", len(part)) + part


@dataclass(frozen=True, slots=True)
class Container:
    """A parsed ``.polarrec`` file: header, whole parts, where whole records end."""

    meta: dict[str, Any]
    parts: list[bytes] = field(repr=False)
    whole_length: int
    trailing: int  #: bytes after the last whole record (a cut-off part)


def parse_container(data: bytes) -> Container:
    """Parse a ``.polarrec`` container (raises only :class:`DecodeError`)."""
    b = bytes(data)
    n0 = len(CONTAINER_MAGIC)
    if len(b) < n0 + 5 or b[:n0] != CONTAINER_MAGIC:
        raise DecodeError(".polarrec: not a movereg Polar recording (no MVRGPREC magic)",
                          family=FAMILY, length=len(b), offset=0)
    if b[n0] != CONTAINER_VERSION:
        raise DecodeError(f".polarrec: version {b[n0]} is newer than this movereg",
                          family=FAMILY, length=len(b), offset=n0)
    hlen = int.from_bytes(b[n0 + 1:n0 + 5], "little")
    off = n0 + 5
    if hlen > _MAX_HEADER or off + hlen > len(b):
        raise DecodeError(".polarrec: header runs past the end", family=FAMILY,
                          length=len(b), offset=off)
    try:
        meta = json.loads(b[off:off + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DecodeError(".polarrec: header is not JSON", family=FAMILY, length=len(b),
                          offset=off) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("parts"), list):
        raise DecodeError(".polarrec: header lacks the parts list", family=FAMILY,
                          length=len(b), offset=off)
    off += hlen
    parts: list[bytes] = []
    while off + 4 <= len(b):
        size = int.from_bytes(b[off:off + 4], "little")
        if off + 4 + size > len(b):
            break
        parts.append(b[off + 4:off + 4 + size])
        off += 4 + size
    return Container(meta, parts, off, len(b) - off)


def read_container(path: Path) -> Container:
    """:func:`parse_container` of a file."""
    return parse_container(path.read_bytes())
