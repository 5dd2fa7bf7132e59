"""Movesense with the open ``gatt_sensordata_app`` firmware sample.

Commands (write to the command characteristic): ``00 ref`` HELLO, ``01 ref <path>``
SUBSCRIBE (e.g. ``/Meas/Acc/52``), ``02 ref`` UNSUBSCRIBE. Notifications on the data
characteristic: ``01 ref …`` command results (``Hello`` or a 2-byte big-endian HTTP
status) and ``02 ref ts:u32 ms | n × (x, y, z float32 m/s²)``; the timestamp is the
device's millisecond counter for the FIRST sample. Written from the published layout.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from movereg.errors import ProtocolError
from movereg.models import DeviceFamily, RawBlock
from movereg.sensors.decoders._common import as_bytes, fail, nearest, need
from movereg.sensors.decoders.base import Command, ProfileBase, StreamConfig

__all__ = [
    "MOVESENSE_CMD_UUID",
    "MOVESENSE_DATA_UUID",
    "MOVESENSE_RATES_HZ",
    "MOVESENSE_SERVICE_UUID",
    "STANDARD_GRAVITY",
    "MovesenseData",
    "MovesenseProfile",
    "MovesenseResult",
    "decode_movesense_data",
    "hello_command",
    "parse_movesense_result",
    "subscribe_command",
    "unsubscribe_command",
]

FAMILY = DeviceFamily.MOVESENSE.value

MOVESENSE_SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
MOVESENSE_CMD_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
MOVESENSE_DATA_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"
MOVESENSE_RATES_HZ = (13, 26, 52, 104, 208, 416, 833, 1666)
#: m/s² per g (standard gravity)
STANDARD_GRAVITY = 9.80665
_DEFAULT_REF = 99


def hello_command(ref: int = _DEFAULT_REF) -> bytes:
    """``00 ref``: the firmware answers ``01 ref Hello``."""
    return bytes([0x00, ref & 0xFF])


def subscribe_command(rate_hz: int, ref: int = _DEFAULT_REF) -> bytes:
    """``01 ref /Meas/Acc/<rate>`` (ASCII path)."""
    return bytes([0x01, ref & 0xFF]) + f"/Meas/Acc/{int(rate_hz)}".encode("ascii")


def unsubscribe_command(ref: int = _DEFAULT_REF) -> bytes:
    """``02 ref``."""
    return bytes([0x02, ref & 0xFF])


@dataclass(frozen=True, slots=True)
class MovesenseResult:
    """A command result: ``hello`` True for the HELLO answer, else an HTTP ``status``."""

    ref: int
    status: int | None
    hello: bool = False

    @property
    def ok(self) -> bool:
        """HELLO, or a 2xx status."""
        return self.hello or (self.status is not None and 200 <= self.status < 300)


@dataclass(frozen=True, slots=True)
class MovesenseData:
    """A parsed data notification."""

    ref: int
    timestamp_ms: int  #: device ms counter of the FIRST sample
    samples_ms2: np.ndarray  #: (n, 3) float32 m/s²


def parse_movesense_result(data: bytes) -> MovesenseResult:
    """``01 ref Hello`` or ``01 ref <status u16 big-endian>``."""
    b = as_bytes(FAMILY, data)
    need(FAMILY, b, 0, 2, "command result header")
    if b[0] != 0x01:
        fail(FAMILY, f"command results start with 01, got {b[0]:02X}", len(b), 0)
    if b[2:] == b"Hello":
        return MovesenseResult(b[1], None, True)
    if len(b) != 4:
        fail(FAMILY, "command result must be 'Hello' or a 2-byte status", len(b), 2)
    return MovesenseResult(b[1], int.from_bytes(b[2:4], "big"))


def decode_movesense_data(frame: bytes) -> MovesenseData:
    """``02 ref ts:u32 | n × 3 float32`` -> MovesenseData. Raises only DecodeError."""
    b = as_bytes(FAMILY, frame)
    need(FAMILY, b, 0, 6, "data header")
    if b[0] != 0x02:
        fail(FAMILY, f"data notifications start with 02, got {b[0]:02X}", len(b), 0)
    body = len(b) - 6
    if body == 0 or body % 12:
        fail(FAMILY, f"payload of {body} B is not a whole number of 12-byte samples", len(b),
             6 + body - body % 12)
    ts = struct.unpack_from("<I", b, 2)[0]
    s = np.frombuffer(b, dtype="<f4", offset=6).reshape(-1, 3).astype(np.float32)
    if not np.isfinite(s).all():
        bad = int(np.flatnonzero(~np.isfinite(s.ravel()))[0])
        fail(FAMILY, "non-finite float in samples", len(b), 6 + 4 * bad)
    return MovesenseData(b[1], ts, s)


class MovesenseProfile(ProfileBase):
    """Movesense ``gatt_sensordata_app`` profile for one connection.

    The accelerometer range is set on the device (``/Meas/Acc/Config``), not by this
    firmware's GATT commands, so ``StreamConfig.range_g`` is not sent.
    ``RawBlock.device_time_ns`` is the device's ms counter (not wall-clock) of the last
    sample, in ns; it wraps after 2^32 ms (~49.7 days).
    """

    family = DeviceFamily.MOVESENSE
    service_uuid = MOVESENSE_SERVICE_UUID
    data_char_uuid = MOVESENSE_DATA_UUID
    control_char_uuid: str | None = MOVESENSE_CMD_UUID
    reply_char_uuid: str | None = MOVESENSE_DATA_UUID
    has_device_time = True
    name_prefixes = ("movesense",)

    def __init__(self, config: StreamConfig | None = None, *, ref: int = _DEFAULT_REF) -> None:
        if not 1 <= ref <= 255:
            raise ValueError("Movesense client reference must be 1..255")
        super().__init__(config)
        self.ref = ref
        self._fs = float(nearest(self.config.fs_hz, MOVESENSE_RATES_HZ))
        self.hello_seen = False

    def setup_commands(self) -> list[Command]:
        """HELLO (answered ``01 ref Hello``): proves the firmware speaks this protocol."""
        return [Command(MOVESENSE_CMD_UUID, hello_command(self.ref), True, True)]

    def start_commands(self, config: StreamConfig) -> list[Command]:
        """SUBSCRIBE ``/Meas/Acc/<rate>``; an error status may arrive later as a reply."""
        self.config = config
        self._fs = float(nearest(config.fs_hz, MOVESENSE_RATES_HZ))
        return [Command(MOVESENSE_CMD_UUID, subscribe_command(int(self._fs), self.ref), True, False)]

    def stop_commands(self) -> list[Command]:
        """UNSUBSCRIBE."""
        return [Command(MOVESENSE_CMD_UUID, unsubscribe_command(self.ref), True, False)]

    def is_reply(self, data: bytes) -> bool:
        """Command results start with 01 (data with 02)."""
        return len(data) > 0 and data[0] == 0x01

    def parse_reply(self, data: bytes) -> None:
        """Accept HELLO and 2xx; raise ProtocolError on other HTTP statuses."""
        r = parse_movesense_result(data)
        if r.hello:
            self.hello_seen = True
            return
        if not r.ok:
            advice = ("no free subscription slot: unsubscribe other clients or power-cycle"
                      if r.status == 507 else "check the rate is one /Meas/Acc/Info lists")
            raise ProtocolError(f"Movesense command {r.ref} failed with status {r.status}",
                                family=FAMILY, code=r.status, advice=advice)

    def decode(self, frame: bytes) -> RawBlock:
        """Data notification -> RawBlock in g; device time of the LAST sample (ns)."""
        d = decode_movesense_data(frame)
        g = (d.samples_ms2.astype(np.float64) / STANDARD_GRAVITY).astype(np.float32)
        last_ns = d.timestamp_ms * 1_000_000 + round((len(g) - 1) * 1e9 / self._fs)
        return RawBlock(g, self._fs, last_ns, None)
