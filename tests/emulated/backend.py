"""A bleak backend over Bumble's in-memory LocalLink (test code; bleak ships none).

Adapted from the feasibility spike (shared/reference/bumble_bleak_spike.py) with two
changes: the backend classes are *bound* to one Bumble central per test (no module
global), and the ATT MTU the central requests is a parameter (23 = no MTU exchange).

``World`` holds the link, the central and the emulated peripherals of one test;
``world.backend`` is the :class:`movereg.sensors.transport.Backend` to inject.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bumble import core as bcore
from bumble.controller import Controller
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from movereg.sensors.transport import Backend

__all__ = ["World", "make_backend", "make_device", "uuid_str"]

_PROPS = [(0x01, "broadcast"), (0x02, "read"), (0x04, "write-without-response"),
          (0x08, "write"), (0x10, "notify"), (0x20, "indicate"),
          (0x40, "authenticated-signed-writes"), (0x80, "extended-properties")]


def uuid_str(u: bcore.UUID) -> str:
    """Bumble UUID -> bleak's lower-case 128-bit string."""
    h = u.to_bytes(force_128=True)[::-1].hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def make_device(link: LocalLink, name: str, address: str) -> Device:
    """A Bumble device with its own virtual controller on ``link``."""
    controller = Controller(name, link=link, public_address=address)
    return Device(name=name, address=Address(address),
                  host=Host(controller, AsyncPipeSink(controller)))


def make_backend(central: Device, *, mtu: int = 247) -> Backend:
    """Scanner and client backend classes bound to ``central``."""

    class BumbleScanner(BaseBleakScanner):
        def __init__(self, detection_callback: Any, service_uuids: Any,
                     scanning_mode: str = "active", **kwargs: Any) -> None:
            super().__init__(detection_callback, service_uuids)
            self._active = scanning_mode == "active"

        def _on_adv(self, adv: Advertisement) -> None:
            d = adv.data
            T = bcore.AdvertisingData.Type
            uuids: list[str] = []
            for t in (T.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                      T.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                      T.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                      T.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS):
                uuids += [uuid_str(u) for u in (d.get(t) or [])]
            name = d.get(T.COMPLETE_LOCAL_NAME) or d.get(T.SHORTENED_LOCAL_NAME)
            if not self.is_allowed_uuid(uuids):
                return
            ad = AdvertisementData(local_name=name, manufacturer_data={}, service_data={},
                                   service_uuids=uuids, tx_power=None, rssi=adv.rssi,
                                   platform_data=(adv,))
            addr = str(adv.address).split("/")[0]
            dev = self.create_or_update_device(addr, addr, name, adv.address, ad)
            self.call_detection_callbacks(dev, ad)

        async def start(self) -> None:
            central.on("advertisement", self._on_adv)
            await central.start_scanning(active=self._active, filter_duplicates=False)

        async def stop(self) -> None:
            await central.stop_scanning()
            central.remove_listener("advertisement", self._on_adv)

    class BumbleClient(BaseBleakClient):
        def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
            super().__init__(address_or_ble_device,
                             disconnected_callback=kwargs.get("disconnected_callback"),
                             timeout=kwargs.get("timeout", 10.0))
            self._target = (address_or_ble_device.details
                            if isinstance(address_or_ble_device, BLEDevice)
                            else Address(address_or_ble_device))
            self._conn: Connection | None = None
            self._peer: Peer | None = None
            self._subs: dict[int, Callable[[bytes], None]] = {}

        @property
        def name(self) -> str:
            return str(self._target)

        @property
        def mtu_size(self) -> int:
            return self._conn.att_mtu if self._conn else 23

        @property
        def is_connected(self) -> bool:
            return self._conn is not None

        async def connect(self, pair: bool, **kwargs: Any) -> None:
            try:
                conn = await asyncio.wait_for(central.connect(self._target),
                                              min(self._timeout, 3.0))
            except TimeoutError as exc:
                raise BleakDeviceNotFoundError(str(self._target),
                                               "emulated band not advertising") from exc
            self._conn = conn
            conn.on("disconnection", self._on_disconnect)
            self._peer = Peer(conn)
            if mtu > 23:
                await self._peer.request_mtu(mtu)
            await self._peer.discover_all()
            coll = BleakGATTServiceCollection()
            for s in self._peer.services:
                bs = BleakGATTService(s, s.handle, uuid_str(s.uuid))
                coll.add_service(bs)
                for c in s.characteristics:
                    props = [n for bit, n in _PROPS if int(c.properties) & bit]
                    bc = BleakGATTCharacteristic(c, c.handle, uuid_str(c.uuid), props,
                                                 lambda: self.mtu_size - 3, bs)
                    coll.add_characteristic(bc)
                    for d in c.descriptors:
                        coll.add_descriptor(BleakGATTDescriptor(d, d.handle, uuid_str(d.type), bc))
            self.services = coll

        def _on_disconnect(self, *_: Any) -> None:
            was = self._conn is not None
            self._conn, self._peer = None, None
            if was and self._disconnected_callback:
                self._disconnected_callback()

        async def disconnect(self) -> None:
            if self._conn is not None:
                await self._conn.disconnect()

        async def pair(self, *args: Any, **kwargs: Any) -> None:
            raise NotImplementedError("pairing is not emulated")

        async def unpair(self) -> None:
            raise NotImplementedError

        def _need_peer(self) -> Peer:
            if self._peer is None:
                raise BleakError("Not connected")
            return self._peer

        async def read_gatt_char(self, characteristic: BleakGATTCharacteristic,
                                 **kwargs: Any) -> bytearray:
            return bytearray(await self._need_peer().read_value(characteristic.obj))

        async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor,
                                       **kwargs: Any) -> bytearray:
            return bytearray(await self._need_peer().read_value(descriptor.obj))

        async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any,
                                  response: bool) -> None:
            await self._need_peer().write_value(characteristic.obj, bytes(data),
                                                with_response=response)

        async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
            await self._need_peer().write_value(descriptor.obj, bytes(data), with_response=True)

        async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: Any,
                               **kwargs: Any) -> None:
            def sub(value: bytes) -> None:
                callback(bytearray(value))

            self._subs[characteristic.handle] = sub
            await self._need_peer().subscribe(characteristic.obj, sub,
                                              prefer_notify="notify" in characteristic.properties)

        async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
            sub = self._subs.pop(characteristic.handle, None)
            await self._need_peer().unsubscribe(characteristic.obj, sub)

    return Backend(scanner=BumbleScanner, client=BumbleClient)


class World:
    """One LocalLink, one central, any number of emulated peripherals."""

    def __init__(self, *, mtu: int = 247) -> None:
        self.link = LocalLink()
        self.central = make_device(self.link, "central", "F1:F1:F1:F1:F1:F1")
        self.backend = make_backend(self.central, mtu=mtu)
        self._n = 0

    def new_device(self, name: str) -> tuple[Device, str]:
        """A peripheral-side Bumble device with a fresh address (device, address)."""
        self._n += 1
        address = f"F0:F0:F0:F0:F0:{self._n:02X}"
        return make_device(self.link, name, address), address

    async def start(self) -> None:
        """Power the central on."""
        await self.central.power_on()
