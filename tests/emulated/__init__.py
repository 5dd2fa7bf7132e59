"""Emulated BLE wristbands for tests: a bleak backend over Bumble's in-memory LocalLink
and one GATT peripheral per device family (test code only; see backend.py)."""

from .backend import World, make_backend, make_device
from .peripherals import (
    EMULATORS,
    EmulatedBand,
    EmulatedInfiniTime,
    EmulatedMetaWear,
    EmulatedMicrobit,
    EmulatedMovesense,
    EmulatedPolar,
)

__all__ = [
    "EMULATORS",
    "EmulatedBand",
    "EmulatedInfiniTime",
    "EmulatedMetaWear",
    "EmulatedMicrobit",
    "EmulatedMovesense",
    "EmulatedPolar",
    "World",
    "make_backend",
    "make_device",
]
