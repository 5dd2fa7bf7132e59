"""An emulated MetaMotion that logs on the band: the logging module (``0x0B``) on top of
:class:`~emulated.peripherals.EmulatedMetaWear`, serving entries made by movereg's OWN
encoder (:func:`movereg.sensors.decoders.metawear_log.encode_sample_entries`).

The log is driven by the test, in emulated time: ``record(seconds)`` appends what the
board would log in that time (only while logging and the accelerometer are on, and only
until the flash is full: no overwrite), ``idle(seconds)`` lets the tick run without
logging, ``reset(resume=True)`` is a board reset (tick back to 0, reset_uid + 1; with
``resume`` the board keeps logging, as a macro would restart it).

Sample values encode their index (``x = k mod 8192``, ``y = k // 8192``, ``z`` = 1 g at
±8 g) so a test recovers every sample's identity from the downloaded file.

Faults: ``drop_after`` (drop the link after that many entries of a readout),
``page_entries`` (entries per flash page: the board waits for PAGE_CONFIRM after each).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from bumble.device import Connection
from bumble.gatt import Characteristic, Service

from movereg.sensors.decoders import metawear_log as ml
from movereg.sensors.metawear_logging import ENTRY_FLASH_BYTES, MODEL_NUMBER_UUID

from .peripherals import PERM, EmulatedMetaWear, P, index_counts

__all__ = ["EmulatedMetaWearLogging"]

DIS_SERVICE = "0000180a-0000-1000-8000-00805f9b34fb"
_ODR_HZ = {5: 12.5, 6: 25.0, 7: 50.0, 8: 100.0, 9: 200.0}


class EmulatedMetaWearLogging(EmulatedMetaWear):
    """MetaMotion R (BMI160) with the logging module; ``layout`` picks the entry layout."""

    name = "MetaWear"

    def __init__(self, world: Any, *, layout: ml.EntryLayout = ml.LAYOUT_9,
                 flash_bytes: int = 8 << 20, model_number: str = "5", **kw: Any) -> None:
        self.layout = layout
        self.flash_bytes = flash_bytes
        self.tick = 1000  # ticks since the last reset (the board has been on a while)
        #: emulated UTC now, ns (advanced by record/idle; pass ``lambda: emu.utc_ns`` as
        #: the logger's clock so host and band agree)
        self.utc_ns = 1_796_025_600_000_000_000  # 2026-11-30 08:00 UTC
        self.reset_uid = 0
        self.log = bytearray()
        self.logging = False
        self.acc_on = False
        self.acc_conf = (0x27, 0x08)  # 50 Hz, ±8 g
        self.triggers: list[tuple[int, int, int, int, int] | None] = [None] * 8
        self.k = 0  # index of the next logged sample
        self.drop_after: int | None = None
        self.page_entries = 64
        self.readouts = 0
        self.removed = 0
        self.commands: list[bytes] = []
        self._confirm = asyncio.Event()
        super().__init__(world, **kw)
        self.device.add_service(Service(DIS_SERVICE, [Characteristic(
            MODEL_NUMBER_UUID, P.READ, PERM.READABLE, model_number.encode())]))

    # -- the test drives the board --------------------------------------------------
    @property
    def rate_hz(self) -> float:
        """Accelerometer rate the board is configured to, Hz."""
        return _ODR_HZ[self.acc_conf[0] & 0x0F]

    @property
    def capacity(self) -> int:
        """Entries the flash holds."""
        return self.flash_bytes // ENTRY_FLASH_BYTES

    @property
    def n_entries(self) -> int:
        """Entries in the log."""
        return len(self.log) // self.layout.size

    def _ids(self) -> tuple[int, int] | None:
        want = {(0, 4): None, (4, 2): None}
        for i, src in enumerate(self.triggers):
            if src is not None and src[:3] == (3, 4, 0xFF) and (src[3], src[4]) in want:
                want[(src[3], src[4])] = i
        xy, z = want[(0, 4)], want[(4, 2)]
        return None if xy is None or z is None else (xy, z)

    def record(self, seconds: float) -> int:
        """Let the board log for ``seconds`` (emulated); returns samples logged."""
        ids = self._ids()
        dt_ticks = self.tick_of(seconds)
        if not (self.logging and self.acc_on and ids):
            self.idle(seconds)
            return 0
        n = int(seconds * self.rate_hz)
        room = (self.capacity - self.n_entries) // 2
        take = max(0, min(n, room))
        ticks = self.tick + np.floor(np.arange(take) / self.rate_hz / (ml.TICK_NS / 1e9)
                                     ).astype(np.int64)
        self.log += ml.encode_sample_entries(index_counts(self.k, take, 4096), ticks,
                                             self.reset_uid, ids[0], ids[1], self.layout)
        self.k += take
        self.tick += dt_ticks
        self.utc_ns += round(dt_ticks * ml.TICK_NS)
        return take

    @staticmethod
    def tick_of(seconds: float) -> int:
        """Ticks in ``seconds``."""
        return round(seconds * 1e9 / ml.TICK_NS)

    def idle(self, seconds: float) -> None:
        """Time passes on the board without logging."""
        self.tick += self.tick_of(seconds)
        self.utc_ns += round(self.tick_of(seconds) * ml.TICK_NS)

    def utc_of_tick(self, tick: int) -> int:
        """Emulated UTC (ns) of a tick of the current reset epoch."""
        return self.utc_ns - round((self.tick - tick) * ml.TICK_NS)

    def reset(self, *, resume: bool = True) -> None:
        """A board reset: tick back to 0, next reset_uid; logging resumes if ``resume``."""
        self.reset_uid = (self.reset_uid + 1) & 7
        self.tick = 0
        if not resume:
            self.logging = self.acc_on = False

    # -- the protocol ---------------------------------------------------------------
    async def _notify(self, data: bytes) -> None:
        await self.device.notify_subscribers(self.data_char, data, force=False)

    async def _handle(self, cmd: bytes) -> None:
        self.commands.append(cmd)
        if cmd[:1] == b"\x0b":
            await self._logging(cmd)
        elif cmd[:2] == b"\x03\x83":
            await self._notify(bytes([0x03, 0x83, *self.acc_conf]))
        elif cmd[:2] == b"\x03\x03" and len(cmd) == 4:
            self.acc_conf = (cmd[2], cmd[3])
        elif cmd == b"\x03\x01\x01":
            self.acc_on = True
        elif cmd == b"\x03\x01\x00":
            self.acc_on = False
        else:
            await super()._handle(cmd)

    async def _logging(self, cmd: bytes) -> None:
        reg = cmd[1] if len(cmd) > 1 else 0
        arg = cmd[2] if len(cmd) > 2 else 0
        if reg == 0x80:
            await self._notify(bytes([0x0B, 0x80, 0x00, 0x02, len(self.triggers)]))
        elif reg == ml.READ | ml.ENABLE:
            await self._notify(bytes([0x0B, 0x81, int(self.logging)]))
        elif reg == ml.ENABLE:
            self.logging = bool(arg)
        elif reg == ml.TRIGGER and len(cmd) == 6:
            slot = self.triggers.index(None)
            self.triggers[slot] = (cmd[2], cmd[3], cmd[4], cmd[5] & 0x1F, (cmd[5] >> 5) + 1)
            await self._notify(ml.encode_trigger_reply(slot))
        elif reg == ml.READ | ml.TRIGGER:
            src = self.triggers[arg] if arg < len(self.triggers) else None
            await self._notify(ml.encode_logger_query_reply(src))
        elif reg == ml.REMOVE:
            self.triggers[arg] = None
        elif reg == ml.READ | ml.TIME:
            await self._notify(ml.encode_time_reply(self.tick, self.reset_uid))
        elif reg == ml.READ | ml.LENGTH:
            await self._notify(ml.encode_length_reply(self.n_entries))
        elif reg == ml.REMOVE_ENTRIES:
            n = min(int.from_bytes(cmd[2:6], "little"), self.n_entries)
            del self.log[:n * self.layout.size]
            self.removed += n
        elif reg == ml.PAGE_CONFIRM:
            self._confirm.set()
        elif reg == ml.READOUT:
            n = int.from_bytes(cmd[2:6], "little")
            every = int.from_bytes(cmd[6:10], "little")
            self.readouts += 1
            asyncio.get_running_loop().create_task(self._readout(n, every))

    async def _readout(self, n: int, every: int) -> None:
        size = self.layout.size
        n = min(n, self.n_entries)
        sent = 0
        conn: Connection | None = self._conn
        while sent < n and self._conn is conn and conn is not None:
            if self.drop_after is not None and sent >= self.drop_after:
                self.drop_after = None
                await asyncio.sleep(0.05)
                await conn.disconnect()
                return
            k = 2 if n - sent >= 2 else 1
            await self._notify(bytes([0x0B, ml.READOUT_NOTIFY])
                               + bytes(self.log[sent * size:(sent + k) * size]))
            before, sent = sent, sent + k
            if every and sent // every != before // every and sent < n:
                await self._notify(ml.encode_progress(n - sent))
            if sent < n and sent // self.page_entries != before // self.page_entries:
                self._confirm.clear()
                await self._notify(bytes([0x0B, ml.PAGE_COMPLETED]))
                try:
                    await asyncio.wait_for(self._confirm.wait(), 5.0)
                except TimeoutError:
                    return  # the host never confirmed: the readout stalls
        if self._conn is conn:
            await self._notify(ml.encode_progress(0))
