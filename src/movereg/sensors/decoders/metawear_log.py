"""MetaWear logging module (``0x0B``): commands, replies and readout entries (pure codecs).

Written from the public byte facts of MbientLab's logging module (register numbers,
entry layout and tick length as MbientLab's C++ SDK and protocol reference describe
them; no SDK code is used — its licence binds it to MbientLab products):

* registers: ENABLE 1, TRIGGER 2 (add a logger: ``0B 02 <module> <register> <data id>
  <(length-1) << 5 | offset>`` -> ``0B 02 <logger id>``), REMOVE 3, TIME 4 (read
  ``0B 84`` -> ``0B 84 <tick u32> <reset_uid>``), LENGTH 5 (read ``0B 85`` -> entries,
  u32), READOUT 6 (``0B 06 <n entries u32> <notify every n u32>``), READOUT_NOTIFY 7,
  READOUT_PROGRESS 8 (``0B 08 <entries left u32>``), REMOVE_ENTRIES 9 (``0B 09 <n u32>``:
  drops the OLDEST n entries; ``FFFFFFFF`` = all), CIRCULAR_BUFFER 0x0B,
  READOUT_PAGE_COMPLETED 0x0D (the board pauses after each flash page until the host
  answers READOUT_PAGE_CONFIRM 0x0E).
* one logger entry carries 4 data bytes; a 6-byte accelerometer sample therefore takes
  two loggers (x,y at offset 0, length 4; z at offset 4, length 2).
* a readout notification ``0B 07`` holds one or two entries. Entry byte 0 = logger id
  (low 5 bits) | reset_uid << 5 (3 bits); then the tick and 4 data bytes. The C++ SDK
  reads a 32-bit tick (9-byte entries, 11- or 20-byte notifications); the newer protocol
  reference a 24-bit tick (8-byte entries, 10- or 18-byte notifications). Both are read.
* one tick is 48/32768 s (:data:`TICK_NS`); the tick restarts at a board reset, which
  also advances ``reset_uid``.

Every parser raises only :class:`~movereg.errors.DecodeError`.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from movereg.models import DeviceFamily
from movereg.sensors.decoders._common import as_bytes, fail, need

__all__ = [
    "LAYOUTS",
    "LAYOUT_8",
    "LAYOUT_9",
    "LOGGING",
    "MWLOG_MAGIC",
    "MWLOG_SUFFIX",
    "TICK_NS",
    "EntryLayout",
    "LogEntry",
    "TickUnwrap",
    "TimeRef",
    "add_logger_command",
    "encode_entries",
    "encode_length_reply",
    "encode_logger_query_reply",
    "encode_progress",
    "encode_readout",
    "encode_sample_entries",
    "encode_time_reply",
    "encode_trigger_reply",
    "entries_array",
    "entry_rows",
    "parse_enable_reply",
    "parse_length_reply",
    "parse_logger_query",
    "parse_progress",
    "parse_readout",
    "parse_time_reply",
    "parse_trigger_reply",
    "readout_command",
    "remove_entries_command",
    "unwrap_ticks",
    "write_mwlog_header",
]

FAMILY = DeviceFamily.METAWEAR.value
LOGGING = 0x0B
READ = 0x80
ENABLE, TRIGGER, REMOVE, TIME, LENGTH, READOUT = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
READOUT_NOTIFY, READOUT_PROGRESS, REMOVE_ENTRIES, REMOVE_ALL = 0x07, 0x08, 0x09, 0x0A
CIRCULAR_BUFFER, PAGE_COMPLETED, PAGE_CONFIRM = 0x0B, 0x0D, 0x0E
#: one tick, ns (48 / 32768 s)
TICK_NS = 48e9 / 32768
#: all entries (REMOVE_ENTRIES count)
ALL_ENTRIES = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class EntryLayout:
    """How one log entry is laid out: ``size`` bytes, a ``tick_bits``-wide tick."""

    name: str
    size: int
    tick_bits: int

    @property
    def tick_mod(self) -> int:
        """Ticks before the counter wraps."""
        return 1 << self.tick_bits


#: C++ SDK layout: id, tick u32, data 4 B
LAYOUT_9 = EntryLayout("tick32", 9, 32)
#: newer protocol reference: id, tick u24, data 4 B
LAYOUT_8 = EntryLayout("tick24", 8, 24)
LAYOUTS = {9: LAYOUT_9, 8: LAYOUT_8}


@dataclass(frozen=True, slots=True)
class TimeRef:
    """The board's (tick, reset_uid) at a UTC instant (ns), as a host read it.

    ``kind`` is ``"start"`` (taken at set_clock/start: the entries it places come after
    it) or ``"download"`` (taken at download: the entries came before it).
    """

    reset_uid: int
    tick: int
    utc_ns: int
    kind: str


#: movereg's container for one log download (:mod:`movereg.recordings.mwlog`)
MWLOG_MAGIC = b"MVRGMWL1"
MWLOG_SUFFIX = ".mwlog"


def write_mwlog_header(header: dict[str, Any]) -> bytes:
    """Magic, u32 length and the JSON header of a ``.mwlog`` file (entries follow)."""
    body = json.dumps({"version": 1, **header}, sort_keys=True).encode()
    return MWLOG_MAGIC + struct.pack("<I", len(body)) + body


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log entry: logger id (0..31), reset_uid (0..7), raw tick, 4 data bytes."""

    logger_id: int
    reset_uid: int
    tick: int
    data: bytes


# ------------------------------------------------------------------ commands ----------
def simple_command(register: int, *payload: int) -> bytes:
    """``0B <register> <payload…>``."""
    return bytes([LOGGING, register, *payload])


def add_logger_command(module: int, register: int, data_id: int, offset: int,
                       length: int) -> bytes:
    """TRIGGER: log ``length`` (1..4) bytes at ``offset`` (0..31) of a data signal."""
    if not 1 <= length <= 4 or not 0 <= offset <= 0x1F:
        raise ValueError("a logger takes 1..4 bytes at offset 0..31")
    return bytes([LOGGING, TRIGGER, module, register, data_id, (length - 1) << 5 | offset])


def readout_command(n_entries: int, notify_every: int = 0) -> bytes:
    """READOUT: stream the oldest ``n_entries``; progress every ``notify_every``."""
    return bytes([LOGGING, READOUT]) + struct.pack("<II", n_entries, notify_every)


def remove_entries_command(n_entries: int = ALL_ENTRIES) -> bytes:
    """REMOVE_ENTRIES: drop the oldest ``n_entries`` (``0xFFFFFFFF`` = all)."""
    return bytes([LOGGING, REMOVE_ENTRIES]) + struct.pack("<I", n_entries)


# ------------------------------------------------------------------ replies -----------
def _header(data: object, register: int, what: str) -> bytes:
    b = as_bytes(FAMILY, data)
    need(FAMILY, b, 0, 2, what)
    if b[0] != LOGGING or b[1] != register:
        fail(FAMILY, f"not a {what} ({b[0]:02X} {b[1]:02X})", len(b), 0)
    return b


def parse_trigger_reply(data: object) -> int:
    """``0B 02 <id>`` -> logger id (0..31)."""
    b = _header(data, TRIGGER, "logger-created reply")
    need(FAMILY, b, 2, 1, "logger id")
    return b[2] & 0x1F


def parse_logger_query(data: object) -> tuple[int, int, int, int, int] | None:
    """``0B 82 <module> <register> <data id> <len/offset>`` -> (module, register, data
    id, offset, length), or None for an unused logger slot (``0B 82`` alone)."""
    b = _header(data, READ | TRIGGER, "logger query reply")
    if len(b) == 2:
        return None
    need(FAMILY, b, 2, 4, "logger source")
    return b[2], b[3], b[4], b[5] & 0x1F, ((b[5] >> 5) & 0x03) + 1


def parse_time_reply(data: object) -> tuple[int, int]:
    """``0B 84 <tick u32> <reset_uid>`` -> (tick, reset_uid)."""
    b = _header(data, READ | TIME, "time reply")
    need(FAMILY, b, 2, 5, "time reference")
    return struct.unpack_from("<I", b, 2)[0], b[6] & 0x07


def parse_length_reply(data: object) -> int:
    """``0B 85 <entries>`` (1..4 bytes LE) -> entries on the board."""
    b = _header(data, READ | LENGTH, "length reply")
    if not 3 <= len(b) <= 6:
        fail(FAMILY, "length reply carries 1..4 bytes", len(b), 2)
    return int.from_bytes(b[2:], "little")


def parse_progress(data: object) -> int:
    """``0B 08 <entries left>`` (1..4 bytes LE) -> entries still to come."""
    b = _header(data, READOUT_PROGRESS, "readout progress")
    if not 3 <= len(b) <= 6:
        fail(FAMILY, "readout progress carries 1..4 bytes", len(b), 2)
    return int.from_bytes(b[2:], "little")


def parse_enable_reply(data: object) -> bool:
    """``0B 81 <0|1>`` -> logging enabled."""
    b = _header(data, READ | ENABLE, "logging-enabled reply")
    need(FAMILY, b, 2, 1, "enabled flag")
    return bool(b[2])


def _layout_of(n_payload: int) -> tuple[EntryLayout, int]:
    for lay in (LAYOUT_9, LAYOUT_8):
        if n_payload in (lay.size, 2 * lay.size):
            return lay, n_payload // lay.size
    return LAYOUT_9, 0


def parse_readout(data: object, layout: EntryLayout | None = None
                  ) -> tuple[EntryLayout, list[LogEntry]]:
    """``0B 07`` + one or two entries -> (layout, entries).

    The layout is recognised from the length (9 or 18 payload bytes: 32-bit tick; 8 or
    16: 24-bit tick); when ``layout`` is given the notification must follow it.
    """
    b = _header(data, READOUT_NOTIFY, "readout notification")
    lay, n = _layout_of(len(b) - 2)
    if n == 0:
        fail(FAMILY, "readout notification must carry one or two 8- or 9-byte entries",
             len(b), 2)
    if layout is not None and lay != layout:
        fail(FAMILY, f"{lay.name} entry where the readout so far was {layout.name}",
             len(b), 2)
    out = []
    for i in range(n):
        o = 2 + i * lay.size
        tick = int.from_bytes(b[o + 1:o + 1 + lay.tick_bits // 8], "little")
        out.append(LogEntry(b[o] & 0x1F, b[o] >> 5, tick, b[o + lay.size - 4:o + lay.size]))
    return lay, out


def entries_array(raw: bytes, layout: EntryLayout) -> tuple[np.ndarray, np.ndarray,
                                                             np.ndarray, np.ndarray]:
    """Concatenated raw entries -> (logger_id u8, reset_uid u8, tick i64, data (n, 4) u8).

    Raises DecodeError when ``raw`` is not a whole number of entries.
    """
    b = as_bytes(FAMILY, raw)
    if len(b) % layout.size:
        fail(FAMILY, f"{len(b)} bytes is not a whole number of {layout.size}-byte entries",
             len(b), len(b) - len(b) % layout.size)
    return entry_rows(np.frombuffer(b, dtype=np.uint8).reshape(-1, layout.size), layout)


def entry_rows(a: np.ndarray, layout: EntryLayout) -> tuple[np.ndarray, np.ndarray,
                                                            np.ndarray, np.ndarray]:
    """(n, entry size) uint8 rows (e.g. a memory map) -> as :func:`entries_array`."""
    tick = np.zeros(a.shape[0], dtype=np.int64)
    for k in range(layout.tick_bits // 8):
        tick |= a[:, 1 + k].astype(np.int64) << (8 * k)
    return (a[:, 0] & 0x1F), (a[:, 0] >> 5), tick, np.ascontiguousarray(a[:, -4:])


class TickUnwrap:
    """Raw ticks of one run, fed in consecutive chunks -> a non-wrapping int64 count.

    A step back of more than half the counter range (also across a chunk border) is a
    rollover; smaller steps back (not expected from a working board) are kept as they are.
    """

    def __init__(self, bits: int) -> None:
        self.mod = 1 << bits
        self.last: int | None = None
        self.base = 0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if raw.shape[0] == 0:
            return raw
        prev = int(raw[0]) if self.last is None else self.last
        wraps = np.cumsum(np.diff(raw, prepend=prev) < -(self.mod // 2))
        out: np.ndarray = raw + (self.base + wraps) * self.mod
        self.base += int(wraps[-1])
        self.last = int(raw[-1])
        return out


def unwrap_ticks(ticks: np.ndarray, bits: int) -> np.ndarray:
    """Raw ticks in log order -> a non-wrapping int64 count (:class:`TickUnwrap` over
    the whole array at once)."""
    t = np.asarray(ticks, dtype=np.int64)
    if t.shape[0] < 2:
        return t.copy()
    return TickUnwrap(bits)(t)


# ------------------------------------------------------------------ encoders ----------
# (used by the emulated band and the tests; they are the inverse of the parsers)
def encode_entries(entries: list[LogEntry], layout: EntryLayout) -> bytes:
    """Entries -> their raw bytes in ``layout``."""
    out = bytearray()
    nb = layout.tick_bits // 8
    for e in entries:
        if len(e.data) != 4:
            raise ValueError("an entry carries exactly 4 data bytes")
        out.append((e.logger_id & 0x1F) | (e.reset_uid & 0x07) << 5)
        out += (e.tick % layout.tick_mod).to_bytes(nb, "little")
        out += e.data
    return bytes(out)


def encode_readout(entries: list[LogEntry], layout: EntryLayout) -> bytes:
    """One readout notification (one or two entries)."""
    if len(entries) not in (1, 2):
        raise ValueError("a readout notification holds one or two entries")
    return bytes([LOGGING, READOUT_NOTIFY]) + encode_entries(entries, layout)


def encode_trigger_reply(logger_id: int) -> bytes:
    """``0B 02 <id>``."""
    return bytes([LOGGING, TRIGGER, logger_id])


def encode_logger_query_reply(source: tuple[int, int, int, int, int] | None) -> bytes:
    """``0B 82 …`` for a logger slot (None = unused)."""
    if source is None:
        return bytes([LOGGING, READ | TRIGGER])
    m, r, d, off, ln = source
    return bytes([LOGGING, READ | TRIGGER, m, r, d, (ln - 1) << 5 | off])


def encode_time_reply(tick: int, reset_uid: int) -> bytes:
    """``0B 84 <tick u32> <reset_uid>``."""
    return bytes([LOGGING, READ | TIME]) + struct.pack("<IB", tick & 0xFFFFFFFF, reset_uid & 7)


def encode_length_reply(n_entries: int) -> bytes:
    """``0B 85 <n u32>``."""
    return bytes([LOGGING, READ | LENGTH]) + struct.pack("<I", n_entries)


def encode_progress(entries_left: int) -> bytes:
    """``0B 08 <left u32>``."""
    return bytes([LOGGING, READOUT_PROGRESS]) + struct.pack("<I", entries_left)


def encode_sample_entries(counts: np.ndarray, ticks: np.ndarray, reset_uid: int,
                          xy_id: int, z_id: int, layout: EntryLayout) -> bytes:
    """Accelerometer samples -> raw entries as the board logs them: per sample an x,y
    entry (logger ``xy_id``) then a z entry (logger ``z_id``, 2 pad bytes), same tick.

    ``counts`` (n, 3) int16, ``ticks`` (n,) raw ticks (taken modulo the layout's range).
    """
    c = np.asarray(counts, dtype="<i2").reshape(-1, 3)
    t = np.asarray(ticks, dtype=np.int64) % layout.tick_mod
    n = c.shape[0]
    out = np.zeros((n, 2, layout.size), dtype=np.uint8)
    out[:, 0, 0] = (xy_id & 0x1F) | (reset_uid & 7) << 5
    out[:, 1, 0] = (z_id & 0x1F) | (reset_uid & 7) << 5
    for k in range(layout.tick_bits // 8):
        out[:, :, 1 + k] = ((t >> (8 * k)) & 0xFF)[:, None]
    cb = np.ascontiguousarray(c).view(np.uint8).reshape(n, 6)
    out[:, 0, -4:] = cb[:, :4]
    out[:, 1, -4:-2] = cb[:, 4:]
    return out.tobytes()
