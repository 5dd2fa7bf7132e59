"""MbientLab MetaWear / MetaMotion accelerometer (Bosch BMI160 and BMI270).

Implemented from the byte facts of the MetaWear command protocol (no vendor SDK code;
the SDK's licence limits its use to MbientLab products). Commands are
``[module, register, payload…]`` written without response to the command characteristic;
everything comes back as ``[module, register, data…]`` on the notify characteristic.
Samples are int16 counts; there is **no device timestamp**.
"""

from __future__ import annotations

import struct

import numpy as np

from movereg.errors import ProtocolError
from movereg.models import DeviceFamily, RawBlock
from movereg.sensors.decoders._common import as_bytes, fail, nearest, need
from movereg.sensors.decoders.base import Command, ProfileBase, StreamConfig

__all__ = [
    "BMI160",
    "BMI270",
    "LSB_PER_G",
    "METAWEAR_CMD_UUID",
    "METAWEAR_NOTIFY_UUID",
    "METAWEAR_SERVICE_UUID",
    "MetaWearProfile",
    "acc_config_command",
    "acc_config_from_reply",
    "chip_from_reply",
    "connection_parameters_command",
    "decode_metawear_acc",
    "metawear_odr_hz",
    "range_code",
    "start_commands",
    "stop_commands",
]

FAMILY = DeviceFamily.METAWEAR.value

METAWEAR_SERVICE_UUID = "326a9000-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_CMD_UUID = "326a9001-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_NOTIFY_UUID = "326a9006-85cb-9195-d9dd-464cfbbae75a"

BMI160 = "bmi160"
BMI270 = "bmi270"
_ACC = 0x03
_IMPL = {1: BMI160, 4: BMI270}
#: register of the data stream: single sample, packed (3 samples)
_SINGLE_REG = 0x04
_PACKED_REG = {BMI160: 0x1C, BMI270: 0x05}
#: ± g -> range code per chip
_RANGE_CODE = {BMI160: {2: 0x03, 4: 0x05, 8: 0x08, 16: 0x0C},
               BMI270: {2: 0x00, 4: 0x01, 8: 0x02, 16: 0x03}}
#: ± g -> LSB per g
LSB_PER_G = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}
#: output data rate (Hz) -> ODR nibble
_ODR = {0.78125: 1, 1.5625: 2, 3.125: 3, 6.25: 4, 12.5: 5, 25.0: 6, 50.0: 7, 100.0: 8,
        200.0: 9, 400.0: 10, 800.0: 11, 1600.0: 12}


def metawear_odr_hz(fs_hz: float) -> float:
    """Nearest output data rate the Bosch chips support (Hz)."""
    return float(nearest(fs_hz, _ODR))


def _check_chip(chip: str) -> str:
    if chip not in _PACKED_REG:
        raise ValueError(f"unknown MetaWear accelerometer {chip!r}; use 'bmi160' or 'bmi270'")
    return chip


def range_code(chip: str, range_g: float) -> tuple[int, int]:
    """(± g chosen, range code): the smallest range >= ``range_g`` (else ±16 g)."""
    g = next((r for r in (2, 4, 8, 16) if r >= range_g), 16)
    return g, _RANGE_CODE[_check_chip(chip)][g]


def acc_config_command(chip: str, fs_hz: float, range_g: float) -> bytes:
    """``03 03 <acc_conf> <range>``; acc_conf = odr | bwp<<4 | us<<7 as the chip wants."""
    odr = _ODR[metawear_odr_hz(fs_hz)]
    if _check_chip(chip) == BMI160:
        conf = odr | (0x20 if odr >= 5 else 0x80)
    else:
        conf = odr | (0xA0 if odr >= 5 else 0x20)
    return bytes([_ACC, 0x03, conf, range_code(chip, range_g)[1]])


def acc_config_from_reply(chip: str, data: bytes) -> tuple[float, float]:
    """``03 83 <acc_conf> <range>`` (a read of the config register) -> (Hz, ± g).

    Raises only DecodeError (also for a rate or range code the chip does not have).
    """
    b = as_bytes(FAMILY, data)
    need(FAMILY, b, 0, 4, "accelerometer config reply")
    if b[0] != _ACC or b[1] != 0x83:
        fail(FAMILY, f"not an accelerometer config reply ({b[0]:02X} {b[1]:02X})", len(b), 0)
    odr = {v: k for k, v in _ODR.items()}.get(b[2] & 0x0F)
    rng = {v: k for k, v in _RANGE_CODE[_check_chip(chip)].items()}.get(b[3] & 0x0F)
    if odr is None or rng is None:
        fail(FAMILY, f"unknown rate/range codes {b[2]:02X} {b[3]:02X}", len(b), 2)
    return odr, float(rng)


def connection_parameters_command(min_ms: float = 7.5, max_ms: float = 7.5, latency: int = 0,
                                  timeout_ms: float = 6000) -> bytes:
    """Settings module ``11 09``: request a connection interval (needed above 100 Hz)."""
    return bytes([0x11, 0x09]) + struct.pack("<HHHH", round(min_ms / 1.25), round(max_ms / 1.25),
                                             latency, round(timeout_ms / 10))


def start_commands(chip: str, fs_hz: float, range_g: float, packed: bool) -> list[bytes]:
    """Configure, subscribe, enable sampling and power on the accelerometer."""
    conf = acc_config_command(chip, fs_hz, range_g)
    reg = _PACKED_REG[chip] if packed else _SINGLE_REG
    out = [connection_parameters_command()] if packed and fs_hz > 100 else []
    power = 0x01 if (chip == BMI160 or conf[2] & 0x80) else 0x02
    out += [conf, bytes([_ACC, reg, 0x01]), bytes([_ACC, 0x02, 0x01, 0x00]),
            bytes([_ACC, 0x01, power])]
    return out


def stop_commands(chip: str, packed: bool) -> list[bytes]:
    """Power off, disable sampling, unsubscribe."""
    reg = _PACKED_REG[_check_chip(chip)] if packed else _SINGLE_REG
    return [bytes([_ACC, 0x01, 0x00]), bytes([_ACC, 0x02, 0x00, 0x01]), bytes([_ACC, reg, 0x00])]


def chip_from_reply(data: bytes) -> str | None:
    """``03 80 <impl> <rev>`` -> ``"bmi160"``/``"bmi270"`` (None for other chips)."""
    b = as_bytes(FAMILY, data)
    need(FAMILY, b, 0, 3, "module info reply")
    if b[0] != _ACC or b[1] != 0x80:
        fail(FAMILY, f"not an accelerometer module-info reply ({b[0]:02X} {b[1]:02X})", len(b), 0)
    return _IMPL.get(b[2])


def decode_metawear_acc(frame: bytes, range_g: float) -> tuple[np.ndarray, bool]:
    """``03 04 xyz`` (single) or ``03 1C|05 3×xyz`` (packed) -> ((n, 3) float32 g, packed).

    Raises only DecodeError.
    """
    b = as_bytes(FAMILY, frame)
    need(FAMILY, b, 0, 2, "MetaWear header")
    if b[0] != _ACC:
        fail(FAMILY, f"module {b[0]:#04x} is not the accelerometer (0x03)", len(b), 0)
    reg = b[1]
    if reg == _SINGLE_REG:
        size, packed = 6, False
    elif reg in (0x1C, 0x05):
        size, packed = 18, True
    else:
        fail(FAMILY, f"accelerometer register {reg:#04x} carries no samples", len(b), 1)
    if len(b) != 2 + size:
        fail(FAMILY, f"{'packed' if packed else 'single'} sample needs {2 + size} B",
             len(b), min(len(b), 2 + size))
    lsb = LSB_PER_G.get(int(range_g))
    if lsb is None:
        fail(FAMILY, f"range ±{range_g} g is not a MetaWear range", len(b), 0)
    counts = np.frombuffer(b, dtype="<i2", offset=2).reshape(-1, 3)
    return (counts.astype(np.float32) / np.float32(lsb)), packed


class MetaWearProfile(ProfileBase):
    """MetaWear/MetaMotion accelerometer profile for one connection.

    Parameters
    ----------
    config
        Requested rate/range (nearest ODR; smallest range >= requested).
    chip
        ``"bmi160"`` (MetaMotion R/RL/C) or ``"bmi270"`` (MetaMotion S); learned from the
        ``03 80`` reply when the client sends :meth:`setup_commands`.
    packed
        Packed notifications (3 samples each); ``None`` = only above 100 Hz (required there).
    """

    family = DeviceFamily.METAWEAR
    service_uuid = METAWEAR_SERVICE_UUID
    data_char_uuid = METAWEAR_NOTIFY_UUID
    control_char_uuid: str | None = METAWEAR_CMD_UUID
    reply_char_uuid: str | None = METAWEAR_NOTIFY_UUID
    name_prefixes = ("metawear", "metamotion")

    def __init__(self, config: StreamConfig | None = None, *, chip: str = BMI160,
                 packed: bool | None = None) -> None:
        super().__init__(config)
        self.chip = _check_chip(chip)
        self._packed_opt = packed
        self._apply(self.config)

    def _apply(self, config: StreamConfig) -> None:
        self.config = config
        self._fs = metawear_odr_hz(config.fs_hz)
        self.range_g = float(range_code(self.chip, config.range_g)[0])
        self.packed = self._fs > 100 if self._packed_opt is None else self._packed_opt

    def setup_commands(self) -> list[Command]:
        """Read the accelerometer module info (``03 80``) to learn the chip."""
        return [Command(METAWEAR_CMD_UUID, bytes([_ACC, 0x80]), False, True)]

    def start_commands(self, config: StreamConfig) -> list[Command]:
        """Configure, subscribe, enable and power on (write without response)."""
        self._apply(config)
        return [Command(METAWEAR_CMD_UUID, c, False, False)
                for c in start_commands(self.chip, self._fs, self.range_g, self.packed)]

    def stop_commands(self) -> list[Command]:
        """Power off, disable, unsubscribe."""
        return [Command(METAWEAR_CMD_UUID, c, False, False)
                for c in stop_commands(self.chip, self.packed)]

    def is_reply(self, data: bytes) -> bool:
        """Register reads come back with bit 7 of the register set."""
        return len(data) >= 2 and bool(data[1] & 0x80)

    def parse_reply(self, data: bytes) -> None:
        """Learn the chip from ``03 80 <impl> …``; other read replies are ignored."""
        b = as_bytes(FAMILY, data)
        need(FAMILY, b, 0, 2, "MetaWear reply")
        if b[0] == _ACC and b[1] == 0x80:
            chip = chip_from_reply(b)
            if chip is None:
                raise ProtocolError(f"unsupported MetaWear accelerometer (implementation {b[2]})",
                                    family=FAMILY, code=b[2],
                                    advice="movereg supports BMI160 and BMI270 boards")
            self.chip = chip
            self._apply(self.config)

    def decode(self, frame: bytes) -> RawBlock:
        """One accelerometer notification -> RawBlock in g (no device time)."""
        g, _ = decode_metawear_acc(frame, self.range_g)
        return RawBlock(g, self._fs, None, None)
