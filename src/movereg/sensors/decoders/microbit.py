"""BBC micro:bit Accelerometer Service (DAL/MakeCode ``bluetooth.startAccelerometerService``).

Data characteristic: ``x:i16 y:i16 z:i16`` little-endian milli-g per notification.
Period characteristic: u16 ms, one of 1, 2, 5, 10, 20, 80, 160, 640 (the device picks the
nearest). No device timestamp. The service must be enabled by the micro:bit program.
"""

from __future__ import annotations

import struct

import numpy as np

from movereg.models import DeviceFamily
from movereg.sensors.decoders._common import nearest
from movereg.sensors.decoders.base import Command, StreamConfig, XyzSampleProfile

__all__ = [
    "MICROBIT_ACC_SERVICE_UUID",
    "MICROBIT_DATA_UUID",
    "MICROBIT_PERIODS_MS",
    "MICROBIT_PERIOD_UUID",
    "MicrobitProfile",
    "decode_microbit_acc",
    "microbit_period_ms",
    "period_command",
]

MICROBIT_ACC_SERVICE_UUID = "e95d0753-251d-470a-a062-fa1922dfa9a8"
MICROBIT_DATA_UUID = "e95dca4b-251d-470a-a062-fa1922dfa9a8"
MICROBIT_PERIOD_UUID = "e95dfb24-251d-470a-a062-fa1922dfa9a8"
MICROBIT_PERIODS_MS = (1, 2, 5, 10, 20, 80, 160, 640)


def microbit_period_ms(fs_hz: float) -> int:
    """Nearest valid period (ms) for a requested rate (Hz), compared in rate."""
    return min(MICROBIT_PERIODS_MS, key=lambda p: abs(1000.0 / p - fs_hz))


def period_command(period_ms: int) -> bytes:
    """u16 little-endian period for the period characteristic."""
    return struct.pack("<H", int(nearest(period_ms, MICROBIT_PERIODS_MS)))


class MicrobitProfile(XyzSampleProfile):
    """micro:bit accelerometer profile: write the period, then subscribe."""

    family = DeviceFamily.MICROBIT
    service_uuid = MICROBIT_ACC_SERVICE_UUID
    data_char_uuid = MICROBIT_DATA_UUID
    control_char_uuid: str | None = MICROBIT_PERIOD_UUID
    name_prefixes = ("bbc micro:bit",)
    lsb_per_g = 1000.0  # milli-g
    value_name = "accelerometer value (mg)"

    def __init__(self, config: StreamConfig | None = None) -> None:
        super().__init__(config)
        self.period_ms = microbit_period_ms(self.config.fs_hz)

    @property
    def fs_hz(self) -> float:
        """Rate in effect (Hz) = 1000 / period."""
        return 1000.0 / self.period_ms

    def start_commands(self, config: StreamConfig) -> list[Command]:
        """Write the period (with response)."""
        self.config = config
        self.period_ms = microbit_period_ms(config.fs_hz)
        return [Command(MICROBIT_PERIOD_UUID, period_command(self.period_ms), True, False)]


def decode_microbit_acc(frame: bytes) -> np.ndarray:
    """6-byte accelerometer value -> (1, 3) float32 g. Raises only DecodeError."""
    return MicrobitProfile.decode_xyz(frame)
