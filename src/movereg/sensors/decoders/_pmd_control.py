"""Polar PMD control point: commands, replies, settings TLVs and status codes.

Private module; the public names are re-exported by :mod:`.polar_pmd`. Written from the
published layout: commands ``01 t`` get settings, ``02 t TLV…`` start, ``03 t`` stop;
replies ``F0 op type status [more] params…``; TLVs ``type:u8 count:u8 values``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from movereg.errors import DecodeError, ProtocolError
from movereg.models import DeviceFamily
from movereg.sensors.decoders._common import as_bytes, fail, need

FAMILY = DeviceFamily.POLAR_PMD.value


class MeasurementType(IntEnum):
    """PMD measurement types (byte 1 of CP commands, byte 0 & 0x3F of data frames)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    GYRO = 5
    MAG = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_REC = 13
    OFFLINE_HR = 14


class PmdOp(IntEnum):
    """Control-point op codes (client -> sensor)."""

    GET_SETTINGS = 1
    START = 2
    STOP = 3
    GET_SDK_MODE_SETTINGS = 4
    GET_STATUS = 5
    GET_SDK_MODE_STATUS = 6


class PmdSetting(IntEnum):
    """Settings TLV types."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5
    SECURITY = 6


#: value size in bytes and struct format for each setting type
_SETTING_FORMAT: dict[int, tuple[int, str]] = {
    0: (2, "<H"), 1: (2, "<H"), 2: (2, "<H"), 3: (4, "<I"), 4: (1, "<B"), 5: (4, "<f"),
}
_SECURITY_SIZE = 16

#: status code -> (name, advice)
PMD_STATUS: dict[int, tuple[str, str]] = {
    0: ("SUCCESS", "no action needed"),
    1: ("INVALID OP CODE", "the sensor does not know this command; update movereg or the firmware"),
    2: ("INVALID MEASUREMENT TYPE", "this sensor does not offer that measurement"),
    3: ("NOT SUPPORTED", "this sensor model does not support the request"),
    4: ("INVALID LENGTH", "the command was malformed; report this as a movereg bug"),
    5: ("INVALID PARAMETER", "pick a sample rate and range the sensor lists"),
    6: ("ALREADY IN STATE", "the stream is already running (or stopped); send STOP then START"),
    7: ("INVALID RESOLUTION", "use a resolution the sensor lists (usually 16 bit)"),
    8: ("INVALID SAMPLE RATE", "use a sample rate the sensor lists (e.g. 52 Hz Verity, 25-200 Hz H10)"),
    9: ("INVALID RANGE", "use a range the sensor lists (e.g. 8 g)"),
    10: ("INVALID MTU", "the Bluetooth link MTU is too small (needs >= 232); reconnect or update the OS stack"),
    11: ("INVALID NUMBER OF CHANNELS", "request 3 channels"),
    12: ("INVALID STATE", "the sensor is busy; stop other recordings or reconnect"),
    13: ("DEVICE IN CHARGER", "take the sensor off the charger and put it on"),
    14: ("DISK FULL", "free space on the sensor (offline recordings) with the Polar app"),
}

# ----------------------------------------------------------------------- commands ----
def get_settings_command(meas: int = MeasurementType.ACC) -> bytes:
    """``01 <type>``: ask which settings the sensor offers for a measurement."""
    return bytes([PmdOp.GET_SETTINGS, int(meas) & 0x7F])


def stop_command(meas: int = MeasurementType.ACC) -> bytes:
    """``03 <type>``: stop a measurement."""
    return bytes([PmdOp.STOP, int(meas) & 0x7F])


def start_command(settings: Sequence[tuple[int, int]] | Mapping[int, int],
                  meas: int = MeasurementType.ACC, *, offline: bool = False) -> bytes:
    """``02 <type> TLV…``: start a measurement with one value per setting.

    Parameters
    ----------
    settings
        ``(setting type, value)`` pairs in the order to send (or a mapping, sent in its
        iteration order); values are integers (Hz, bits, ± g, channels).
    meas
        Measurement type; ``offline=True`` sets bit 7 (offline recording).
    """
    items = list(settings.items()) if isinstance(settings, Mapping) else list(settings)
    out = bytearray([PmdOp.START, (int(offline) << 7) | (int(meas) & 0x7F)])
    for stype, value in items:
        _size, fmt = _SETTING_FORMAT[int(stype)]
        out += bytes([int(stype), 1]) + struct.pack(fmt, value)
    return bytes(out)


# ---------------------------------------------------------------------- responses ----
@dataclass(frozen=True, slots=True)
class PmdResponse:
    """A parsed control-point reply ``F0 op type status [more] params…``."""

    op_code: int
    meas_type: int
    status: int
    more_frames: bool
    params: bytes

    @property
    def ok(self) -> bool:
        """True for status 0 (SUCCESS)."""
        return self.status == 0

    @property
    def status_name(self) -> str:
        """Human-readable status (``"UNKNOWN STATUS n"`` for codes the spec lacks)."""
        return PMD_STATUS.get(self.status, (f"UNKNOWN STATUS {self.status}", ""))[0]


def parse_cp_response(data: bytes) -> PmdResponse:
    """Parse a control-point indication. Raises DecodeError when it is not one."""
    b = as_bytes(FAMILY, data)
    need(FAMILY, b, 0, 4, "control-point reply header")
    if b[0] != 0xF0:
        fail(FAMILY, f"control-point reply must start with F0, got {b[0]:02X}", len(b), 0)
    status = b[3]
    if status == 0:
        need(FAMILY, b, 4, 1, "control-point more-frames byte")
        return PmdResponse(b[1], b[2], 0, b[4] != 0, b[5:])
    return PmdResponse(b[1], b[2], status, False, b[4:])


def check_response(resp: PmdResponse) -> None:
    """Raise ProtocolError (name and advice) unless the reply reports SUCCESS."""
    if resp.ok:
        return
    name, advice = PMD_STATUS.get(resp.status, (f"UNKNOWN STATUS {resp.status}",
                                                "update movereg or the sensor firmware"))
    try:
        op = PmdOp(resp.op_code).name
    except ValueError:
        op = f"op {resp.op_code}"
    raise ProtocolError(f"Polar sensor refused {op} (measurement {resp.meas_type}): "
                        f"{name} (status {resp.status})", family=FAMILY, code=resp.status,
                        advice=advice)


def parse_settings(params: bytes, *, strict: bool = True
                   ) -> dict[int, tuple[float | int | bytes, ...]]:
    """Settings TLVs -> ``{setting type: values}``.

    ``strict=False`` stops quietly at the first TLV that does not fit (the H10 start reply
    carries one "reserved" byte instead of TLVs).
    """
    b = as_bytes(FAMILY, params)
    out: dict[int, tuple[float | int | bytes, ...]] = {}
    off = 0
    while off < len(b):
        start = off
        try:
            need(FAMILY, b, off, 2, "settings TLV header")
            stype, count = b[off], b[off + 1]
            off += 2
            if stype == PmdSetting.SECURITY:
                need(FAMILY, b, off, _SECURITY_SIZE * count, "security setting")
                vals: list[float | int | bytes] = [
                    b[off + i * _SECURITY_SIZE: off + (i + 1) * _SECURITY_SIZE]
                    for i in range(count)]
                off += _SECURITY_SIZE * count
            elif stype in _SETTING_FORMAT:
                size, fmt = _SETTING_FORMAT[stype]
                need(FAMILY, b, off, size * count, f"setting type {stype} values")
                vals = [struct.unpack_from(fmt, b, off + i * size)[0] for i in range(count)]
                off += size * count
            else:
                fail(FAMILY, f"unknown settings type {stype}", len(b), start)
        except DecodeError:
            if strict:
                raise
            break
        out[stype] = tuple(vals)
    return out


def parse_features(data: bytes) -> frozenset[MeasurementType]:
    """CP read ``0F <bitmap…>`` -> the measurement types the sensor offers."""
    b = as_bytes(FAMILY, data)
    need(FAMILY, b, 0, 3, "feature read")
    if b[0] != 0x0F:
        fail(FAMILY, f"feature read must start with 0F, got {b[0]:02X}", len(b), 0)
    bits = {(1, 0): 0, (1, 1): 1, (1, 2): 2, (1, 3): 3, (1, 5): 5, (1, 6): 6, (1, 7): 7,
            (2, 1): 9, (2, 2): 10, (2, 3): 11, (2, 4): 12, (2, 5): 13, (2, 6): 14}
    return frozenset(MeasurementType(m) for (byte, bit), m in bits.items()
                     if b[byte] >> bit & 1)
