"""Discovery: scan for advertisements and keep the ones a movereg decoder supports."""

from __future__ import annotations

from dataclasses import dataclass

from movereg.models import DeviceFamily
from movereg.sensors.decoders import match_advertisement
from movereg.sensors.transport import Backend, discover

__all__ = ["ScanResult", "scan"]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One nearby band.

    Attributes
    ----------
    address
        Bluetooth address (or the OS's identifier for it on macOS).
    name
        Advertised local name, if any.
    rssi
        Signal strength, dBm (closer to 0 is nearer).
    family
        The decoder family that will talk to it.
    """

    address: str
    name: str | None
    rssi: int | None
    family: DeviceFamily


async def scan(timeout_s: float = 5.0, *, backend: Backend | None = None) -> list[ScanResult]:
    """Scan for ``timeout_s`` seconds and list supported bands, strongest signal first.

    Parameters
    ----------
    timeout_s
        Scan duration, s.
    backend
        Injected bleak backend (tests); None = the host's Bluetooth stack.

    Raises
    ------
    BluetoothUnavailableError
        No adapter or system Bluetooth service on this machine.
    """
    found = await discover(timeout_s, backend=backend)
    out: list[ScanResult] = []
    for dev, ad in found:
        name = ad.local_name or dev.name
        family = match_advertisement(name, list(ad.service_uuids))
        if family is not None:
            out.append(ScanResult(dev.address, name, ad.rssi, family))
    out.sort(key=lambda r: -(r.rssi if r.rssi is not None else -999))
    return out
