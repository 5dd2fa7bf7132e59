"""The transport seam: what :class:`~movereg.sensors.ble_client.WristbandClient` needs
from a way of reaching a band (DESIGN §5.1: facade + transport seam).

Two transports implement it: :class:`movereg.sensors.transport.BleakTransport` (Bluetooth
through bleak; the only place bleak is imported) and
:class:`movereg.sensors.sim_link.SimulatedTransport` (a simulated band in the same
process, no Bluetooth). This module imports neither, so code that only needs the
protocols never loads bleak.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["BATTERY_LEVEL_UUID", "BATTERY_SERVICE_UUID", "Advert", "Link", "Transport"]

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"


@dataclass(frozen=True, slots=True)
class Advert:
    """A band found by :meth:`Transport.find`.

    Attributes
    ----------
    device
        The transport's own handle for :meth:`Transport.connect` (a bleak ``BLEDevice``
        for Bluetooth).
    name
        Advertised local name (None when the band sends none).
    service_uuids
        Advertised service UUIDs (lower-case 128-bit strings).
    """

    device: object
    name: str | None
    service_uuids: tuple[str, ...] = ()


class Link(Protocol):
    """One connection to a band. Methods raise only :class:`~movereg.errors.SensorError`."""

    address: str

    @property
    def is_connected(self) -> bool:
        """True while the link is up."""
        ...

    def has_char(self, uuid: str) -> bool:
        """True when the band serves this characteristic."""
        ...

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        """Subscribe; ``callback`` gets every notification/indication payload."""
        ...

    async def write(self, uuid: str, data: bytes, *, response: bool) -> None:
        """Write a characteristic (with or without response)."""
        ...

    async def read(self, uuid: str) -> bytes:
        """Read a characteristic."""
        ...

    async def disconnect(self, timeout_s: float = 5.0) -> None:
        """Disconnect; never raises (the link may already be gone)."""
        ...


class Transport(Protocol):
    """Finds bands and opens :class:`Link` s to them."""

    async def find(self, address: str, timeout_s: float) -> Advert:
        """Wait until the band with ``address`` advertises.

        Raises
        ------
        DeviceNotFoundError, BluetoothUnavailableError
        """
        ...

    async def connect(self, device: object, *, disconnected_callback: Callable[[], None],
                      max_attempts: int) -> Link:
        """Connect to ``device`` (an :attr:`Advert.device`); a fresh link each time.

        ``disconnected_callback`` is called when the link drops on its own.
        """
        ...
