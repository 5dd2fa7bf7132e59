"""movereg.sensors: everything that touches a wristband.

``open_band("sim" | "sim:<seed>" | ADDRESS)`` gives a :class:`Band` (start / stop /
status / blocks): a :class:`WristbandClient` on Bluetooth or on a simulated transport. Bluetooth (bleak) is imported lazily, only when a real band, a scan or
the transport is used, so ``import movereg.sensors`` works without a Bluetooth stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from movereg.sensors.band import Band, band_device_id, open_band, parse_sim_target
from movereg.sensors.capture import CaptureWriter, read_capture, replay_capture
from movereg.sensors.clock import ClockStats, DeviceClock
from movereg.sensors.decoders.base import Command, DeviceProfile, StreamConfig

if TYPE_CHECKING:
    from movereg.sensors.ble_client import WristbandClient
    from movereg.sensors.scanner import ScanResult, scan
    from movereg.sensors.sim_link import SimulatedBandConnection, SimulatedTransport
    from movereg.sensors.transport import Backend

__all__ = [
    "Backend",
    "Band",
    "CaptureWriter",
    "ClockStats",
    "Command",
    "DeviceClock",
    "DeviceProfile",
    "ScanResult",
    "SimulatedBandConnection",
    "SimulatedTransport",
    "StreamConfig",
    "WristbandClient",
    "band_device_id",
    "open_band",
    "parse_sim_target",
    "read_capture",
    "replay_capture",
    "scan",
]

_LAZY = {
    "WristbandClient": "movereg.sensors.ble_client",
    "ScanResult": "movereg.sensors.scanner",
    "scan": "movereg.sensors.scanner",
    "Backend": "movereg.sensors.transport",
    "SimulatedBandConnection": "movereg.sensors.sim_link",
    "SimulatedTransport": "movereg.sensors.sim_link",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'movereg.sensors' has no attribute {name!r}")


# bands that record on their own register their OfflineRecorder here (sensors.offline)
from movereg.sensors import metawear_logging as _metawear_logging  # noqa: E402, F401
