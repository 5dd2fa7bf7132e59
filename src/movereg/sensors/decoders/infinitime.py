"""PineTime running InfiniTime (>= 1.7): the Motion service's raw-motion characteristic.

Each notification is ``x:i16 y:i16 z:i16`` little-endian with 1024 = 1 g (InfiniTime
>= 1.15). The watch polls every ~100 ms and notifies only when a value changed, so the
nominal rate is ~10 Hz and irregular; there is no device timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from movereg.models import DeviceFamily, RawBlock
from movereg.sensors.decoders._common import any_uuid, int16_xyz
from movereg.sensors.decoders.base import Command, StreamConfig

__all__ = [
    "INFINITIME_LSB_PER_G",
    "INFINITIME_MOTION_UUID",
    "INFINITIME_RATE_HZ",
    "INFINITIME_SERVICE_UUID",
    "INFINITIME_STEPS_UUID",
    "InfiniTimeProfile",
    "decode_infinitime_motion",
]

FAMILY = DeviceFamily.INFINITIME.value

INFINITIME_SERVICE_UUID = "00030000-78fc-48fe-8e23-433b3a1942d0"
INFINITIME_STEPS_UUID = "00030001-78fc-48fe-8e23-433b3a1942d0"
INFINITIME_MOTION_UUID = "00030002-78fc-48fe-8e23-433b3a1942d0"
INFINITIME_LSB_PER_G = 1024.0
#: nominal notification rate (Hz); real notifications are irregular (on change only)
INFINITIME_RATE_HZ = 10.0


def decode_infinitime_motion(frame: bytes) -> np.ndarray:
    """6-byte raw-motion value -> (1, 3) float32 g. Raises only DecodeError."""
    return int16_xyz(FAMILY, frame, 1024.0, "raw motion value")


class InfiniTimeProfile:
    """InfiniTime motion profile: nothing to write, just subscribe to raw motion."""

    family: DeviceFamily = DeviceFamily.INFINITIME
    service_uuid: str = INFINITIME_SERVICE_UUID
    data_char_uuid: str = INFINITIME_MOTION_UUID
    control_char_uuid: str | None = None
    reply_char_uuid: str | None = None
    has_device_time: bool = False

    def __init__(self, config: StreamConfig | None = None) -> None:
        self.config = config or StreamConfig()

    @property
    def fs_hz(self) -> float:
        """Nominal rate (Hz); the watch cannot be configured."""
        return INFINITIME_RATE_HZ

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool:
        """Motion service advertised, or the name ``InfiniTime``/``Pinetime-JF``."""
        low = (name or "").lower()
        return any_uuid(service_uuids, INFINITIME_SERVICE_UUID) or low.startswith(
            ("infinitime", "pinetime"))

    def setup_commands(self) -> list[Command]:
        """None needed."""
        return []

    def start_commands(self, config: StreamConfig) -> list[Command]:
        """None: subscribing starts the notifications."""
        self.config = config
        return []

    def stop_commands(self) -> list[Command]:
        """None: unsubscribing stops them."""
        return []

    def is_reply(self, data: bytes) -> bool:
        """The family has no replies."""
        return False

    def parse_reply(self, data: bytes) -> None:
        """The family has no replies; nothing to check."""

    def decode(self, frame: bytes) -> RawBlock:
        """One raw-motion notification -> RawBlock of one sample in g."""
        return RawBlock(decode_infinitime_motion(frame), INFINITIME_RATE_HZ, None, None)
