"""PineTime running InfiniTime (>= 1.7): the Motion service's raw-motion characteristic.

Each notification is ``x:i16 y:i16 z:i16`` little-endian with 1024 = 1 g (InfiniTime
>= 1.15). The watch polls every ~100 ms and notifies only when a value changed, so the
nominal rate is ~10 Hz and irregular; there is no device timestamp.
"""

from __future__ import annotations

import numpy as np

from movereg.models import DeviceFamily
from movereg.sensors.decoders.base import XyzSampleProfile

__all__ = [
    "INFINITIME_LSB_PER_G",
    "INFINITIME_MOTION_UUID",
    "INFINITIME_RATE_HZ",
    "INFINITIME_SERVICE_UUID",
    "INFINITIME_STEPS_UUID",
    "InfiniTimeProfile",
    "decode_infinitime_motion",
]

INFINITIME_SERVICE_UUID = "00030000-78fc-48fe-8e23-433b3a1942d0"
INFINITIME_STEPS_UUID = "00030001-78fc-48fe-8e23-433b3a1942d0"
INFINITIME_MOTION_UUID = "00030002-78fc-48fe-8e23-433b3a1942d0"
INFINITIME_LSB_PER_G = 1024.0
#: nominal notification rate (Hz); real notifications are irregular (on change only)
INFINITIME_RATE_HZ = 10.0


class InfiniTimeProfile(XyzSampleProfile):
    """InfiniTime motion profile: nothing to write, just subscribe to raw motion."""

    family = DeviceFamily.INFINITIME
    service_uuid = INFINITIME_SERVICE_UUID
    data_char_uuid = INFINITIME_MOTION_UUID
    name_prefixes = ("infinitime", "pinetime")
    lsb_per_g = INFINITIME_LSB_PER_G
    value_name = "raw motion value"
    _fs = INFINITIME_RATE_HZ  # the watch cannot be configured; notifies on change only


def decode_infinitime_motion(frame: bytes) -> np.ndarray:
    """6-byte raw-motion value -> (1, 3) float32 g. Raises only DecodeError."""
    return InfiniTimeProfile.decode_xyz(frame)
