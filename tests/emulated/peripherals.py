"""Emulated wristbands: one Bumble GATT peripheral per family, serving real bytes.

Every emulator samples on its own (emulated) clock: sample ``k`` is taken at
``k / fs`` seconds after power-on, in emulated time that runs ``speed`` times faster
than the host's monotonic clock and keeps running while the link is down. A sample is
sent only while a client is connected and has started the stream, so the emulator knows
exactly which samples went out (``sent``) and which were lost (everything between).

Sample values encode their index (``x = k mod 8192``, ``y = k // 8192 mod 8192`` counts in
the family's own unit, ``z`` ≈ 1 g) so a test can recover ``k`` from the decoded g values
and check that every sample arrived exactly once and in order.

Faults: ``drop_link()``, ``stalled`` (stop sending, stay connected), ``dup_frames``
(each of the first N frames after a START is sent twice, like the BlueZ bug),
``jump_clock(ns)`` (device clock reset/jump), ``start_error`` (Polar PMD error status),
``min_mtu`` (Polar answers START with INVALID MTU below it).
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

import numpy as np
from bumble import core as bcore
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from movereg.models import DeviceFamily
from movereg.sensors._encoders import (
    encode_infinitime,
    encode_metawear_chip_reply,
    encode_metawear_single,
    encode_microbit,
    encode_movesense_data,
    encode_movesense_hello_reply,
    encode_movesense_result,
    encode_pmd_cp_response,
    encode_pmd_delta_frame,
    pmd_start_reply,
)
from movereg.sensors.decoders import (
    INFINITIME_MOTION_UUID,
    INFINITIME_SERVICE_UUID,
    METAWEAR_CMD_UUID,
    METAWEAR_NOTIFY_UUID,
    METAWEAR_SERVICE_UUID,
    MICROBIT_ACC_SERVICE_UUID,
    MICROBIT_DATA_UUID,
    MICROBIT_PERIOD_UUID,
    MOVESENSE_CMD_UUID,
    MOVESENSE_DATA_UUID,
    MOVESENSE_SERVICE_UUID,
    PMD_CP_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    POLAR_EPOCH_OFFSET_NS,
)

from .backend import World

__all__ = [
    "EMULATORS",
    "EmulatedBand",
    "EmulatedInfiniTime",
    "EmulatedMetaWear",
    "EmulatedMicrobit",
    "EmulatedMovesense",
    "EmulatedPolar",
]

P = Characteristic.Properties
PERM = Characteristic.Permissions
T = bcore.AdvertisingData.Type
BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
PMD_FACTOR = float(np.float32(0.000244))


def index_counts(first: int, n: int, z: int) -> np.ndarray:
    """(n, 3) integer counts that encode the sample indices first..first+n-1."""
    k = np.arange(first, first + n, dtype=np.int64)
    return np.stack([k % 8192, (k // 8192) % 8192, np.full(n, z, np.int64)], axis=1)


def indices_from_counts(counts: np.ndarray) -> np.ndarray:
    """Inverse of :func:`index_counts` (x + 8192 y)."""
    c = np.rint(np.asarray(counts, dtype=np.float64)).astype(np.int64)
    return c[:, 0] + 8192 * c[:, 1]


class EmulatedBand:
    """Common machinery: advertising, emulated clock, streaming loop, fault switches."""

    family: DeviceFamily
    name: str = "band"
    fs_hz: float = 52.0
    frame_n: int = 1
    #: counts per g on the wire (to turn decoded g back into indices)
    counts_per_g: float = 1000.0

    def __init__(self, world: World, *, speed: float = 1.0, name: str | None = None) -> None:
        self.world = world
        self.speed = speed
        self.name = name or self.name
        self.device: Device
        self.device, self.address = world.new_device(self.name)
        self.battery = 87
        self.sent: list[tuple[int, int]] = []  # (first index, n) of every frame sent
        self.stalled = False
        self.dup_frames = 0
        self.dups_sent = 0
        self.n_sent = 0  # samples sent so far
        self.connections = 0
        self.starts = 0
        self.clock_offset_ns = 0
        self._t0 = time.monotonic()
        self._next = 0
        self._task: asyncio.Task[None] | None = None
        self._conn: Connection | None = None
        self._dups_left = 0
        self._halt = False
        self.device.add_service(Service(BATTERY_SERVICE, [Characteristic(
            BATTERY_LEVEL, P.READ, PERM.READABLE,
            CharacteristicValue(read=lambda _c: bytes([self.battery])))]))
        self.data_char = self._build()
        self.device.on("connection", self._on_connection)

    # -- per family -----------------------------------------------------------------
    def _build(self) -> Characteristic:  # pragma: no cover - abstract
        raise NotImplementedError

    def _adv(self) -> list[tuple[int, bytes]]:
        return [(T.COMPLETE_LOCAL_NAME, self.name.encode())]

    def frame(self, first: int, n: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- emulated clock --------------------------------------------------------------
    def index_now(self) -> int:
        """Index of the next sample the sensor will take (emulated time)."""
        return int((time.monotonic() - self._t0) * self.speed * self.fs_hz)

    def device_time_ns(self, index: int) -> int:
        """Device clock (ns since the family's epoch) of sample ``index``."""
        return round(index * 1e9 / self.fs_hz) + self.clock_offset_ns

    def jump_clock(self, delta_ns: int) -> None:
        """The device clock jumps (reset to a default date, or forward)."""
        self.clock_offset_ns += delta_ns

    # -- life cycle ------------------------------------------------------------------
    async def power_on(self) -> None:
        """Power on and advertise (auto-restarting after every disconnect)."""
        await self.device.power_on()
        adv = bcore.AdvertisingData([(T.FLAGS, b"\x06"), *self._adv()])
        await self.device.start_advertising(
            advertising_data=bytes(adv), auto_restart=True,
            advertising_interval_min=20, advertising_interval_max=20)

    def _on_connection(self, conn: Connection) -> None:
        self._conn = conn
        self.connections += 1
        conn.on("disconnection", lambda *_: self._on_disconnection(conn))

    def _on_disconnection(self, conn: Connection) -> None:
        if self._conn is conn:
            self._conn = None
        self.stop_stream()

    async def drop_link(self) -> None:
        """The band walks out of range: the peripheral drops the link between frames.

        The stream stops after the frame being sent, and the frames already handed to
        the link are delivered first, so ``sent`` is exactly what the client could get.
        """
        conn = self._conn
        if conn is not None:
            task, self._task = self._task, None
            if task is not None:
                self._halt = True
                await asyncio.wait([task], timeout=5.0)
                self._halt = False
            await asyncio.sleep(0.05)  # let the LocalLink deliver what is in flight
            await conn.disconnect()

    def start_stream(self) -> None:
        """Start sending from the sample being taken now (earlier ones are lost)."""
        self.stop_stream()
        self.starts += 1
        self._next = max(self._next, self.index_now())
        self._dups_left = self.dup_frames
        self._task = asyncio.get_running_loop().create_task(self._stream())

    def stop_stream(self) -> None:
        """Stop sending (the clock keeps running)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def streaming(self) -> bool:
        """True while the streaming task runs."""
        return self._task is not None

    async def _stream(self) -> None:
        tick = min(0.02, self.frame_n / self.fs_hz / self.speed)
        while True:
            now = self.index_now()
            if self.stalled:
                self._next = now
            while (not self.stalled and not self._halt and self._next + self.frame_n <= now
                   and self._conn):
                first, n = self._next, self.frame_n
                data = self.frame(first, n)
                self._next += n
                self.sent.append((first, n))
                self.n_sent += n
                await self.device.notify_subscribers(self.data_char, data, force=False)
                if self._dups_left > 0:
                    self._dups_left -= 1
                    self.dups_sent += 1
                    await self.device.notify_subscribers(self.data_char, data, force=False)
            if self._halt:
                return
            await asyncio.sleep(tick)

    # -- helpers for tests -----------------------------------------------------------
    def sent_indices(self) -> np.ndarray:
        """Every sample index sent, in order."""
        if not self.sent:
            return np.zeros(0, np.int64)
        return np.concatenate([np.arange(f, f + n) for f, n in self.sent])

    def indices_from_g(self, samples_g: np.ndarray) -> np.ndarray:
        """Sample indices encoded in decoded samples (g)."""
        return indices_from_counts(np.asarray(samples_g, np.float64) * self.counts_per_g)


class EmulatedPolar(EmulatedBand):
    """Polar Verity Sense: PMD service, CP indications with status codes, delta frames."""

    family = DeviceFamily.POLAR_PMD
    name = "Polar Sense E1A2B3C4"
    fs_hz = 52.0
    frame_n = 36
    counts_per_g = 1.0 / PMD_FACTOR

    def __init__(self, world: World, **kw: Any) -> None:
        self.min_mtu = 232
        self.start_error: int | None = None
        self.cp_log: list[bytes] = []
        super().__init__(world, **kw)
        # device clock: ns since 2000-01-01, set to "now" at power-on
        self.clock_offset_ns = time.time_ns() - POLAR_EPOCH_OFFSET_NS

    def _adv(self) -> list[tuple[int, bytes]]:
        return [(T.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, b"\x0d\x18"),
                (T.COMPLETE_LOCAL_NAME, self.name.encode())]

    def _build(self) -> Characteristic:
        self.cp = Characteristic(
            PMD_CP_UUID, P.READ | P.WRITE | P.INDICATE, PERM.READABLE | PERM.WRITEABLE,
            CharacteristicValue(read=lambda _c: bytes.fromhex("0F6E" + "00" * 15),
                                write=self._on_cp_write))
        data = Characteristic(PMD_DATA_UUID, P.NOTIFY, PERM.READABLE, b"")
        self.device.add_service(Service(PMD_SERVICE_UUID, [self.cp, data]))
        return data

    def _on_cp_write(self, conn: Connection, value: bytes) -> None:
        asyncio.get_running_loop().create_task(self._handle_cp(conn, bytes(value)))

    async def _handle_cp(self, conn: Connection, cmd: bytes) -> None:
        self.cp_log.append(cmd)
        op = cmd[0] if cmd else 0
        if cmd == b"\x01\x02":
            resp = bytes.fromhex("F00102000000013400010110000201080004 0103".replace(" ", ""))
        elif cmd[:2] == b"\x02\x02":
            if conn.att_mtu < self.min_mtu:
                resp = encode_pmd_cp_response(2, 2, 10)
            elif self.start_error is not None:
                resp = encode_pmd_cp_response(2, 2, self.start_error)
            elif self.streaming:
                resp = encode_pmd_cp_response(2, 2, 6)  # ALREADY IN STATE
            else:
                resp = pmd_start_reply(PMD_FACTOR)
                self.start_stream()
        elif cmd == b"\x03\x02":
            resp = encode_pmd_cp_response(3, 2, 0 if self.streaming else 6)
            self.stop_stream()
        else:
            resp = encode_pmd_cp_response(op, cmd[1] if len(cmd) > 1 else 0, 1)
        await self.device.indicate_subscribers(self.cp, resp)

    def frame(self, first: int, n: int) -> bytes:
        return encode_pmd_delta_frame(index_counts(first, n, 4098),
                                      self.device_time_ns(first + n - 1))


class EmulatedMovesense(EmulatedBand):
    """Movesense gatt_sensordata_app: HELLO / SUBSCRIBE, float32 m/s², ms timestamps."""

    family = DeviceFamily.MOVESENSE
    name = "Movesense 174630000192"
    fs_hz = 52.0
    frame_n = 8
    counts_per_g = 9.80665
    #: HTTP-like status the SUBSCRIBE answer carries (507 = no free subscription slot)
    subscribe_status = 200

    def _build(self) -> Characteristic:
        cmd = Characteristic(MOVESENSE_CMD_UUID, P.WRITE | P.WRITE_WITHOUT_RESPONSE,
                             PERM.WRITEABLE, CharacteristicValue(write=self._on_cmd))
        data = Characteristic(MOVESENSE_DATA_UUID, P.NOTIFY, PERM.READABLE, b"")
        self.device.add_service(Service(MOVESENSE_SERVICE_UUID, [cmd, data]))
        return data

    def _on_cmd(self, conn: Connection, value: bytes) -> None:
        asyncio.get_running_loop().create_task(self._handle(bytes(value)))

    async def _handle(self, cmd: bytes) -> None:
        if cmd[:1] == b"\x00":
            await self.device.notify_subscribers(self.data_char, encode_movesense_hello_reply(cmd[1]))
        elif cmd[:1] == b"\x01":
            if self.subscribe_status == 200:
                self.start_stream()
            await self.device.notify_subscribers(
                self.data_char, encode_movesense_result(cmd[1], self.subscribe_status))
        elif cmd[:1] == b"\x02":
            self.stop_stream()

    def frame(self, first: int, n: int) -> bytes:
        ms2 = index_counts(first, n, 10).astype(np.float32)
        ts_ms = (self.device_time_ns(first) // 1_000_000) & 0xFFFFFFFF
        return encode_movesense_data(ms2, ts_ms)

    def device_time_ns(self, index: int) -> int:
        # whole milliseconds, as the device's ms counter
        return round(index * 1000 / self.fs_hz) * 1_000_000 + self.clock_offset_ns


class EmulatedMetaWear(EmulatedBand):
    """MetaMotion RL (BMI160): command/notify characteristics, single int16 samples."""

    family = DeviceFamily.METAWEAR
    name = "MetaWear"
    fs_hz = 50.0
    frame_n = 1
    counts_per_g = 4096.0

    def _adv(self) -> list[tuple[int, bytes]]:
        uuid = bcore.UUID(METAWEAR_SERVICE_UUID)
        return [(T.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, uuid.to_bytes(force_128=True)),
                (T.COMPLETE_LOCAL_NAME, self.name.encode())]

    def _build(self) -> Characteristic:
        cmd = Characteristic(METAWEAR_CMD_UUID, P.WRITE | P.WRITE_WITHOUT_RESPONSE,
                             PERM.WRITEABLE, CharacteristicValue(write=self._on_cmd))
        data = Characteristic(METAWEAR_NOTIFY_UUID, P.NOTIFY, PERM.READABLE, b"")
        self.device.add_service(Service(METAWEAR_SERVICE_UUID, [cmd, data]))
        return data

    def _on_cmd(self, conn: Connection, value: bytes) -> None:
        asyncio.get_running_loop().create_task(self._handle(bytes(value)))

    async def _handle(self, cmd: bytes) -> None:
        if cmd == b"\x03\x80":
            await self.device.notify_subscribers(self.data_char, encode_metawear_chip_reply("bmi160", 2))
        elif cmd == b"\x03\x01\x01":
            self.start_stream()
        elif cmd == b"\x03\x01\x00":
            self.stop_stream()

    def frame(self, first: int, n: int) -> bytes:
        return encode_metawear_single(index_counts(first, 1, 4096))


class EmulatedMicrobit(EmulatedBand):
    """BBC micro:bit accelerometer service: period characteristic, int16 mg."""

    family = DeviceFamily.MICROBIT
    name = "BBC micro:bit [zogit]"
    fs_hz = 50.0
    frame_n = 1
    counts_per_g = 1000.0

    def _build(self) -> Characteristic:
        self.period_ms = 20
        period = Characteristic(
            MICROBIT_PERIOD_UUID, P.READ | P.WRITE, PERM.READABLE | PERM.WRITEABLE,
            CharacteristicValue(read=lambda _c: struct.pack("<H", self.period_ms),
                                write=self._on_period))
        data = Characteristic(MICROBIT_DATA_UUID, P.READ | P.NOTIFY, PERM.READABLE, b"\0" * 6)
        data.on("subscription", self._on_sub)
        self.device.add_service(Service(MICROBIT_ACC_SERVICE_UUID, [data, period]))
        return data

    def _on_period(self, conn: Connection, value: bytes) -> None:
        self.period_ms = struct.unpack("<H", bytes(value))[0]
        self.fs_hz = 1000.0 / self.period_ms

    def _on_sub(self, _bearer: Any, notify: bool, indicate: bool) -> None:
        if notify or indicate:
            self.start_stream()
        else:
            self.stop_stream()

    def frame(self, first: int, n: int) -> bytes:
        return encode_microbit(index_counts(first, 1, 1000)[0])


class EmulatedInfiniTime(EmulatedBand):
    """PineTime with InfiniTime: motion service, notify on change at ~10 Hz."""

    family = DeviceFamily.INFINITIME
    name = "InfiniTime"
    fs_hz = 10.0
    frame_n = 1
    counts_per_g = 1024.0

    def _build(self) -> Characteristic:
        data = Characteristic(INFINITIME_MOTION_UUID, P.READ | P.NOTIFY, PERM.READABLE, b"\0" * 6)
        data.on("subscription", self._on_sub)
        self.device.add_service(Service(INFINITIME_SERVICE_UUID, [data]))
        return data

    def _on_sub(self, _bearer: Any, notify: bool, indicate: bool) -> None:
        if notify or indicate:
            self.start_stream()
        else:
            self.stop_stream()

    def frame(self, first: int, n: int) -> bytes:
        return encode_infinitime(index_counts(first, 1, 1024)[0])


EMULATORS: dict[DeviceFamily, type[EmulatedBand]] = {
    DeviceFamily.POLAR_PMD: EmulatedPolar,
    DeviceFamily.MOVESENSE: EmulatedMovesense,
    DeviceFamily.METAWEAR: EmulatedMetaWear,
    DeviceFamily.MICROBIT: EmulatedMicrobit,
    DeviceFamily.INFINITIME: EmulatedInfiniTime,
}
