"""An emulated Polar Verity Sense that records on its own (test code).

:class:`EmulatedPolarFiles` is :class:`~.peripherals.EmulatedPolar` (online PMD streaming,
Battery Service) plus Polar's file-transfer service ``0xFEEE`` and the PMD offline
commands, both answered by one :class:`movereg.sensors.polar_offline.PolarBandModel` —
the same band model the demo's simulated band runs. Faults: ``model.busy`` (every
file-transfer request answered SYSTEM_BUSY), ``drop_after_packets`` (the band walks out
of range after sending that many file-transfer packets).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bumble.device import Connection
from bumble.gatt import Characteristic, CharacteristicValue, Service

from movereg.sensors.polar_offline import PftpServer, PolarBandModel
from movereg.sensors.polar_offline.pftp import (
    PFTP_D2H_UUID,
    PFTP_H2D_UUID,
    PFTP_MTU_UUID,
    PFTP_SERVICE_UUID,
)

from .backend import World
from .peripherals import EmulatedPolar

__all__ = ["EmulatedPolarFiles"]

P = Characteristic.Properties
PERM = Characteristic.Permissions


class EmulatedPolarFiles(EmulatedPolar):
    """A Verity Sense with offline recording and file transfer (see module doc)."""

    def __init__(self, world: World, model: PolarBandModel, **kw: Any) -> None:
        self.model = model
        self.server = PftpServer(model)
        self.drop_after_packets: int | None = None
        self.pftp_packets_sent = 0
        self._tx = asyncio.Lock()
        super().__init__(world, **kw)
        self.pftp = Characteristic(
            PFTP_MTU_UUID, P.WRITE | P.WRITE_WITHOUT_RESPONSE | P.NOTIFY,
            PERM.READABLE | PERM.WRITEABLE, CharacteristicValue(write=self._on_pftp_write))
        d2h = Characteristic(PFTP_D2H_UUID, P.NOTIFY, PERM.READABLE, b"")
        h2d = Characteristic(PFTP_H2D_UUID, P.WRITE, PERM.WRITEABLE, b"")
        self.device.add_service(Service(PFTP_SERVICE_UUID, [self.pftp, d2h, h2d]))

    async def _handle_cp(self, conn: Connection, cmd: bytes) -> None:
        reply = self.model.handle_pmd_cp(cmd)
        if reply is None:
            await super()._handle_cp(conn, cmd)
            return
        self.cp_log.append(cmd)
        await self.device.indicate_subscribers(self.cp, reply)

    def _on_pftp_write(self, conn: Connection, value: bytes) -> None:
        self.server.packet_size = conn.att_mtu - 3
        packets = self.server.feed(bytes(value))
        if packets:
            asyncio.get_running_loop().create_task(self._send(conn, packets))

    async def _send(self, conn: Connection, packets: list[bytes]) -> None:
        async with self._tx:
            for p in packets:
                if self.drop_after_packets is not None and \
                        self.pftp_packets_sent >= self.drop_after_packets:
                    self.drop_after_packets = None
                    await asyncio.sleep(0.05)  # what is in flight arrives first
                    await conn.disconnect()
                    return
                await self.device.notify_subscribers(self.pftp, p)
                self.pftp_packets_sent += 1
