"""The one place bleak (and bleak-retry-connector) is imported; maps their errors to ours.

:class:`BleakTransport` is the Bluetooth side of the transport seam
(:mod:`movereg.sensors.links`): the client talks to a band through it and a
:class:`BleakLink` (a thin wrapper over one ``BleakClient``). Every scanner/client
construction accepts an injected :class:`Backend` (DESIGN §5.1): ``None`` means the
host's stack (BlueZ, CoreBluetooth, WinRT); tests pass backend classes that drive an
emulated peripheral.

Foreign exceptions are mapped exactly once, by :func:`map_error`, into
:class:`~movereg.errors.BluetoothUnavailableError`,
:class:`~movereg.errors.DeviceNotFoundError` or
:class:`~movereg.errors.ConnectionLostError`, each with advice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakDeviceNotFoundError,
    BleakError,
)
from bleak_retry_connector import (
    BleakAbortedError,
    BleakClientWithServiceCache,
    BleakConnectionError,
    BleakNotFoundError,
    BleakOutOfConnectionSlotsError,
    establish_connection,
)

from movereg.errors import (
    BluetoothUnavailableError,
    ConnectionLostError,
    DeviceNotFoundError,
    SensorError,
)
from movereg.sensors.links import BATTERY_LEVEL_UUID, BATTERY_SERVICE_UUID, Advert

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "AdvertisementData",
    "BLEDevice",
    "Backend",
    "BleakLink",
    "BleakTransport",
    "connect",
    "discover",
    "find_device",
    "map_error",
]


_NO_BT_ADVICE = (
    "plug in an adapter and start the system Bluetooth service (bluetoothd), or use a "
    "simulated band: movereg record --device sim"
)


@dataclass(frozen=True, slots=True)
class Backend:
    """bleak backend classes to use instead of the host's stack.

    Attributes
    ----------
    scanner
        A ``BaseBleakScanner`` subclass (``BleakScanner(backend=...)``), or None.
    client
        A ``BaseBleakClient`` subclass (``BleakClient(backend=...)``), or None.
    """

    scanner: type | None = None
    client: type | None = None


def map_error(exc: BaseException, *, address: str | None = None) -> SensorError:
    """Map a bleak / bleak-retry-connector / OS error to a movereg SensorError.

    Parameters
    ----------
    exc
        The foreign exception.
    address
        The band's address, for the message.

    Returns
    -------
    SensorError
        A :class:`BluetoothUnavailableError`, :class:`DeviceNotFoundError` or
        :class:`ConnectionLostError` (already-mapped SensorErrors are returned as is).
    """
    who = f"band {address}" if address else "band"
    if isinstance(exc, SensorError):
        return exc
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return BluetoothUnavailableError(f"Bluetooth is not available: {exc.args[0]}",
                                         advice=_NO_BT_ADVICE)
    if isinstance(exc, FileNotFoundError | PermissionError | ConnectionRefusedError):
        # BlueZ backend without a D-Bus system bus (or no permission to use it)
        return BluetoothUnavailableError("Bluetooth is not available (no D-Bus system bus)",
                                         advice=_NO_BT_ADVICE)
    if isinstance(exc, BleakDeviceNotFoundError | BleakNotFoundError):
        return DeviceNotFoundError(
            f"{who} was not found",
            advice="switch the band on, bring it within a few metres, and check the address "
                   "(`movereg scan` lists nearby bands)")
    if isinstance(exc, BleakOutOfConnectionSlotsError):
        return ConnectionLostError(f"could not connect to {who}: the adapter has no free "
                                   "connection slot",
                                   advice="disconnect other Bluetooth devices or add an adapter")
    if isinstance(exc, BleakAbortedError):
        return ConnectionLostError(f"connection to {who} was aborted",
                                   advice="move the adapter away from USB 3 ports and Wi-Fi; "
                                          "movereg keeps retrying")
    if isinstance(exc, TimeoutError):
        return ConnectionLostError(f"{who} did not answer in time",
                                   advice="bring the band closer; movereg keeps retrying")
    if isinstance(exc, BleakConnectionError | BleakError | EOFError | BrokenPipeError):
        text = str(exc) or type(exc).__name__
        if "not found" in text.lower():
            return DeviceNotFoundError(f"{who} was not found: {text}",
                                       advice="switch the band on and bring it closer")
        return ConnectionLostError(f"Bluetooth link to {who} failed: {text}",
                                   advice="movereg keeps retrying; if it persists, switch "
                                          "the band off and on")
    return ConnectionLostError(f"Bluetooth link to {who} failed: {type(exc).__name__}: {exc}")


_FOREIGN = (BleakError, OSError, EOFError, TimeoutError)


def _scanner_kwargs(backend: Backend | None) -> dict[str, Any]:
    return {"backend": backend.scanner} if backend is not None and backend.scanner else {}


def _client_kwargs(backend: Backend | None) -> dict[str, Any]:
    return {"backend": backend.client} if backend is not None and backend.client else {}


async def discover(timeout_s: float = 5.0, *, backend: Backend | None = None
                   ) -> list[tuple[BLEDevice, AdvertisementData]]:
    """Scan for ``timeout_s`` seconds; returns (device, advertisement) pairs.

    Raises
    ------
    BluetoothUnavailableError
        No adapter / Bluetooth service.
    """
    try:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True,
                                            **_scanner_kwargs(backend))
    except _FOREIGN as exc:
        raise map_error(exc) from exc
    return list(found.values())


async def find_device(address: str, timeout_s: float = 10.0, *,
                      backend: Backend | None = None) -> tuple[BLEDevice, AdvertisementData]:
    """Scan until the band with ``address`` advertises.

    Raises
    ------
    DeviceNotFoundError
        Nothing with that address advertised within ``timeout_s``.
    BluetoothUnavailableError
        No adapter / Bluetooth service.
    """
    want = address.upper()
    result: list[tuple[BLEDevice, AdvertisementData]] = []

    def _match(d: BLEDevice, ad: AdvertisementData) -> bool:
        if d.address.upper() == want:
            result.append((d, ad))
            return True
        return False

    try:
        dev = await BleakScanner.find_device_by_filter(_match, timeout=timeout_s,
                                                       **_scanner_kwargs(backend))
    except _FOREIGN as exc:
        raise map_error(exc, address=address) from exc
    if dev is None or not result:
        raise DeviceNotFoundError(
            f"band {address} was not found within {timeout_s:g} s",
            advice="switch the band on and bring it closer (`movereg scan` lists nearby bands)")
    return result[-1]


class BleakLink:
    """One connection to a band (wraps a fresh ``BleakClient`` per connection).

    All methods raise only :class:`~movereg.errors.SensorError` subclasses.
    """

    def __init__(self, client: BleakClient, address: str) -> None:
        self._client = client
        self.address = address

    @property
    def is_connected(self) -> bool:
        """True while the link is up."""
        return bool(self._client.is_connected)

    @property
    def mtu(self) -> int:
        """ATT MTU as bleak reports it (BlueZ always says 23; see the reference notes)."""
        return int(self._client.mtu_size)

    def has_char(self, uuid: str) -> bool:
        """True when the band serves this characteristic."""
        return self._client.services.get_characteristic(uuid) is not None

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        """Subscribe (notify or indicate, whichever the characteristic offers)."""

        def _cb(_char: Any, data: bytearray) -> None:
            callback(data)  # type: ignore[arg-type]  # the callback copies with bytes()

        try:
            await self._client.start_notify(uuid, _cb)
        except _FOREIGN as exc:
            raise map_error(exc, address=self.address) from exc

    async def write(self, uuid: str, data: bytes, *, response: bool) -> None:
        """Write a characteristic (with or without response)."""
        try:
            await self._client.write_gatt_char(uuid, data, response=response)
        except _FOREIGN as exc:
            raise map_error(exc, address=self.address) from exc

    async def read(self, uuid: str) -> bytes:
        """Read a characteristic."""
        try:
            return bytes(await self._client.read_gatt_char(uuid))
        except _FOREIGN as exc:
            raise map_error(exc, address=self.address) from exc

    async def disconnect(self, timeout_s: float = 5.0) -> None:
        """Disconnect; never raises (the link may already be gone)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.disconnect(), timeout_s)


async def connect(device: BLEDevice, *, backend: Backend | None = None,
                  disconnected_callback: Callable[[], None] | None = None,
                  max_attempts: int = 3, name: str = "movereg") -> BleakLink:
    """Connect through bleak-retry-connector's ``establish_connection`` (fresh client).

    Raises
    ------
    DeviceNotFoundError, ConnectionLostError, BluetoothUnavailableError
        After bleak-retry-connector's own retries are used up.
    """

    def _on_disc(_client: BleakClient) -> None:
        if disconnected_callback is not None:
            disconnected_callback()

    try:
        client = await establish_connection(
            BleakClientWithServiceCache, device, name, disconnected_callback=_on_disc,
            max_attempts=max_attempts, **_client_kwargs(backend))
    except _FOREIGN as exc:
        raise map_error(exc, address=device.address) from exc
    return BleakLink(client, device.address)


class BleakTransport:
    """The Bluetooth transport (:class:`movereg.sensors.links.Transport`) over bleak.

    Parameters
    ----------
    backend
        Injected bleak backend classes (tests); None = the host's Bluetooth stack.
    """

    def __init__(self, backend: Backend | None = None) -> None:
        self.backend = backend

    async def find(self, address: str, timeout_s: float) -> Advert:
        """Scan until ``address`` advertises (see :func:`find_device`)."""
        device, ad = await find_device(address, timeout_s, backend=self.backend)
        return Advert(device, ad.local_name or device.name, tuple(ad.service_uuids))

    async def connect(self, device: object, *, disconnected_callback: Callable[[], None],
                      max_attempts: int) -> BleakLink:
        """Connect through bleak-retry-connector (see :func:`connect`)."""
        if not isinstance(device, BLEDevice):
            raise TypeError(f"BleakTransport connects a BLEDevice, not {type(device).__name__}")
        return await connect(device, backend=self.backend,
                             disconnected_callback=disconnected_callback,
                             max_attempts=max_attempts)
