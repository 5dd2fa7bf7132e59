"""Minimal writers for GT3X, CWA and GENEActiv BIN, from the published format descriptions.

No small real files of these formats ship in any package reachable here, and no vendor
library offers a writer, so the tests build files that follow the format documents:

* GT3X: ActiGraph's "GT3X File Format" (github.com/actigraph/GT3X-File-Format): a ZIP
  with ``info.txt`` and ``log.bin``; log records ``0x1E, type, u32 time (s), u16 size,
  payload, u8 checksum``; a PARAMETERS record (0x15) with the sample rate (address space
  1, id 10) and the accelerometer scale (space 0, id 55, SSP float); ACTIVITY records
  (0x00) of 12-bit two's-complement ``y, x, z`` triplets, MSB first, one per second.
* CWA: Axivity's "AX3 technical" notes (openmovement): a 1024-byte ``MD`` header, then
  512-byte ``AX`` data sectors with a packed timestamp at 14, the rate code at 24, the
  axes/format byte at 25, the sample count at 28, samples from 30 (here unpacked int16,
  1/256 g) and a 16-bit word checksum that makes the sector's words sum to zero.
* GENEActiv BIN: Activinsights' text format: a 59-line header (identity, capabilities,
  configuration, trial, subject, calibration, memory), then 10-line pages ("Recorded
  Data", serial, sequence, page time, unassigned, temperature, battery, status,
  frequency, hex data) of 300 samples packed as 12-bit x, y, z, 10-bit light, button, 1
  spare bit; g = (raw * 100 - offset) / gain.

Each writer takes acceleration in g and returns the exact values a correct reader
should produce after the format's quantisation (``expected``).
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
from pathlib import Path

import numpy as np

# --- GT3X ------------------------------------------------------------------------------


def _ssp_encode(f: float) -> int:
    """ActiGraph/SSP float: signed 24-bit significand / 2^23 times 2^(signed 8-bit exp)."""
    exp = 0
    sig = abs(f)
    while sig >= 1.0:
        sig /= 2.0
        exp += 1
    while sig < 0.5:
        sig *= 2.0
        exp -= 1
    s = round(sig * 8388608.0)
    if f < 0:
        s = -s
    return ((exp & 0xFF) << 24) | (s & 0xFFFFFF)


def _gt3x_record(rtype: int, t_s: int, payload: bytes) -> bytes:
    head = struct.pack("<BBIH", 0x1E, rtype, t_s, len(payload))
    chk = 0
    for b in head + payload:
        chk ^= b
    return head + payload + bytes([(~chk) & 0xFF])


def _pack12(values: np.ndarray) -> bytes:
    bits = 0
    nbits = 0
    out = bytearray()
    for v in values.tolist():
        bits = (bits << 12) | (int(v) & 0xFFF)
        nbits += 12
        while nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xFF)
            bits &= (1 << nbits) - 1
    if nbits:
        out.append((bits << (8 - nbits)) & 0xFF)
    return bytes(out)


def write_gt3x(path: Path, acc_g: np.ndarray, fs_hz: int, start_s: int,
               serial: str = "MOS2E12345678", scale: float = 256.0) -> np.ndarray:
    """Write a GT3X; return the acceleration a reader must produce (float, g)."""
    n = acc_g.shape[0]
    assert n % fs_hz == 0
    raw = np.clip(np.round(acc_g * scale), -2048, 2047).astype(np.int64)
    ticks0 = 621355968000000000 + start_s * 10_000_000  # .NET ticks (local time)
    end_s = start_s + n // fs_hz
    info = "\n".join([
        f"Serial Number: {serial}", "Device Type: wGT3XBT", "Firmware: 1.9.2",
        "Battery Voltage: 4.10", f"Sample Rate: {fs_hz}", f"Start Date: {ticks0}",
        f"Stop Date: {621355968000000000 + end_s * 10_000_000}",
        f"Last Sample Time: {621355968000000000 + end_s * 10_000_000}",
        f"Download Date: {621355968000000000 + end_s * 10_000_000}",
        "Board Revision: 4", "Unexpected Resets: 0", f"Acceleration Scale: {scale}",
        "Acceleration Min: -8.0", "Acceleration Max: 8.0", "TimeZone: 00:00:00",
    ]) + "\n"
    params = struct.pack("<II", (10 << 16) | 1, fs_hz) + struct.pack(
        "<II", (55 << 16) | 0, _ssp_encode(scale))
    log = io.BytesIO()
    log.write(_gt3x_record(0x15, start_s, params))
    for s in range(n // fs_hz):
        block = raw[s * fs_hz:(s + 1) * fs_hz][:, [1, 0, 2]].reshape(-1)  # y, x, z
        log.write(_gt3x_record(0x00, start_s + s, _pack12(block)))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("info.txt", info)
        z.writestr("log.bin", log.getvalue())
    return raw / scale


# --- CWA -------------------------------------------------------------------------------


def _cwa_time(t: dt.datetime) -> int:
    return (((t.year - 2000) & 0x3F) << 26) | (t.month << 22) | (t.day << 17) | (
        t.hour << 12) | (t.minute << 6) | t.second


def _cwa_pack(raw: np.ndarray) -> tuple[bytes, np.ndarray]:
    """AX3 packed samples: 10-bit signed x, y, z and a 2-bit exponent e (value = v << e)."""
    words = []
    got = np.empty(raw.shape, dtype=np.int64)
    for i, row in enumerate(raw.tolist()):
        e = 0
        while any(not (-512 <= (v >> e) <= 511) for v in row) and e < 3:
            e += 1
        vs = [max(-512, min(511, v >> e)) for v in row]
        got[i] = [v << e for v in vs]
        words.append((e << 30) | ((vs[2] & 0x3FF) << 20) | ((vs[1] & 0x3FF) << 10)
                     | (vs[0] & 0x3FF))
    return struct.pack(f"<{len(words)}I", *words), got


def write_cwa(path: Path, acc_g: np.ndarray, start: dt.datetime, device_id: int = 43210,
              *, packed: bool = False) -> np.ndarray:
    """Write a 100 Hz 3-axis CWA at 1/256 g: unpacked int16 (80 samples/sector) or AX3
    packed (120 samples/sector); return the g values a reader must produce."""
    per = 120 if packed else 80
    n = acc_g.shape[0]
    assert n % per == 0
    raw = np.clip(np.round(acc_g * 256), -32768, 32767).astype(np.int16)
    expected = raw.astype(np.float64) / 256.0
    rate_code = 0x40 | 10  # 8 g range, 3200 / 2^(15-10) = 100 Hz
    head = bytearray(1024)
    head[0:2] = b"MD"
    struct.pack_into("<H", head, 2, 1020)
    head[4] = 0x17  # AX3
    struct.pack_into("<H", head, 5, device_id & 0xFFFF)
    struct.pack_into("<I", head, 7, 1)
    struct.pack_into("<H", head, 11, 0)
    struct.pack_into("<I", head, 13, _cwa_time(start))
    struct.pack_into("<I", head, 17, _cwa_time(start + dt.timedelta(days=1)))
    head[36] = rate_code
    head[41] = 45
    struct.pack_into("<h", head, 42, -1)
    head[64:512] = b"\xff" * 448
    out = bytearray(head)
    for k in range(n // per):
        sec = bytearray(512)
        sec[0:2] = b"AX"
        struct.pack_into("<H", sec, 2, 508)
        struct.pack_into("<H", sec, 4, 0)  # no fractional time
        struct.pack_into("<H", sec, 6, device_id & 0xFFFF)
        struct.pack_into("<I", sec, 10, k)
        t = start + dt.timedelta(seconds=k * per / 100)
        whole = t.replace(microsecond=0)
        struct.pack_into("<I", sec, 14, _cwa_time(whole))
        struct.pack_into("<H", sec, 18, 0)  # light, accel scale code 0 -> 1/256 g
        struct.pack_into("<H", sec, 20, 258)
        sec[23] = 190
        sec[24] = rate_code
        sec[25] = 0x30 if packed else 0x32  # 3 axes, packed / unpacked int16
        # timestamp applies to sample index `shift`: the sample at the whole second
        shift = -round(t.microsecond / 1e6 * 100)
        struct.pack_into("<h", sec, 26, shift)
        struct.pack_into("<H", sec, 28, per)
        if packed:
            data, got = _cwa_pack(raw[k * per:(k + 1) * per].astype(np.int64))
            sec[30:30 + per * 4] = data
            expected[k * per:(k + 1) * per] = got / 256.0
        else:
            sec[30:30 + per * 6] = raw[k * per:(k + 1) * per].astype("<i2").tobytes()
        total = sum(struct.unpack("<255H", bytes(sec[:510]))) & 0xFFFF
        struct.pack_into("<H", sec, 510, (-total) & 0xFFFF)
        out += sec
    path.write_bytes(bytes(out))
    return expected


# --- GENEActiv BIN ---------------------------------------------------------------------


def write_geneactiv(path: Path, acc_g: np.ndarray, fs_hz: int, start: dt.datetime,
                    serial: str = "012345", true_hz: float | None = None) -> np.ndarray:
    """Write a GENEActiv BIN (gain 5000, offset 0); return expected g. ``true_hz``: the
    rate the device really ran at (page times advance by 300 / true_hz s)."""
    per = 300
    n = acc_g.shape[0]
    assert n % per == 0
    gain = 5000
    raw = np.clip(np.round(acc_g * gain / 100), -2048, 2047).astype(np.int64)
    fmt = "%Y-%m-%d %H:%M:%S:000"
    pages = n // per
    header = [
        "Device Identity", f"Device Unique Serial Code:{serial}", "Device Type:GENEActiv",
        "Device Model:1.2", "Device Firmware Version:Ver06.17 15June23",
        "Calibration Date:2023-09-07 15:04:34:000", "",
        "Device Capabilities", "Accelerometer Range:-8 to 8",
        "Accelerometer Resolution:0.0039", "Accelerometer Units:g",
        "Light Meter Range:0 to 20000", "Light Meter Resolution:3 to 48",
        "Light Meter Units:lux", "Temperature Sensor Range:0 to 70",
        "Temperature Sensor Resolution:0.1", "Temperature Sensor Units:deg. C", "",
        "Configuration Info", f"Measurement Frequency:{fs_hz} Hz",
        "Measurement Period:168 Hours", f"Start Time:{start.strftime(fmt)}",
        "Time Zone:GMT +00:00", "",
        "Trial Info", "Study Centre:", "Study Code:", "Investigator ID:", "Exercise Type:",
        "Config Operator ID:", f"Config Time:{start.strftime(fmt)}", "Config Notes:",
        "Extract Operator ID:", f"Extract Time:{start.strftime(fmt)}", "Extract Notes:", "",
        "Subject Info", "Device Location Code:left wrist", "Subject Code:", "Date of Birth:",
        "Sex:", "Height:", "Weight:", "Handedness Code:", "Subject Notes:", "",
        "Calibration Data", f"x gain:{gain}", "x offset:0", f"y gain:{gain}", "y offset:0",
        f"z gain:{gain}", "z offset:0", "Volts:300", "Lux:800", "",
        "Memory Status", f"Number of Pages:{pages}", "",
    ]
    assert len(header) == 59, len(header)
    lines = list(header)
    for k in range(pages):
        t = start + dt.timedelta(seconds=k * per / (true_hz or fs_hz))
        block = raw[k * per:(k + 1) * per]
        bits = 0
        for x, y, z in block.tolist():
            bits = (bits << 48) | ((x & 0xFFF) << 36) | ((y & 0xFFF) << 24) | (
                (z & 0xFFF) << 12)
        hexdata = f"{bits:0{per * 12}X}"
        lines += ["Recorded Data", f"Device Unique Serial Code:{serial}",
                  f"Sequence Number:{k}", f"Page Time:{t.strftime('%Y-%m-%d %H:%M:%S:')}"
                  f"{t.microsecond // 1000:03d}", "Unassigned:", "Temperature:30.0",
                  "Battery voltage:4.0", "Device Status:Recording",
                  f"Measurement Frequency:{float(fs_hz)}", hexdata]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="ascii")
    return raw * 100 / gain


def write_cwa_timed(path: Path, acc_g: np.ndarray, sector_t0: np.ndarray, *,
                    rate_hz: float = 100.0, axes: int = 3, device_id: int = 43210,
                    unit: int = 256, hardware: int = 0x17, tz_minutes: int = -1,
                    set_at: dt.datetime | None = None) -> np.ndarray:
    """A CWA whose sectors carry fractional timestamps: sector k's first sample at
    ``sector_t0[k]`` (naive local s since 1970); ``set_at``: when the clock was set (the
    header's last-change time). Unpacked int16, 3 axes (80 per sector)
    or 6 (AX6: gyro then accel, 40 per sector), ``unit`` LSB per g (AX6: 4096).

    Returns the sample-0 times the file really encodes (s, quantised to 1/32768 s).
    """
    per = 480 // (2 * axes)
    n = acc_g.shape[0]
    assert n == per * sector_t0.shape[0]
    raw = np.clip(np.round(acc_g * unit), -32768, 32767).astype(np.int64)
    code = 15 - round(np.log2(3200 / rate_hz))
    rate_code = 0x40 | code  # 8 g
    start = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=float(np.floor(sector_t0[0])))
    head = bytearray(1024)
    head[0:2] = b"MD"
    struct.pack_into("<H", head, 2, 1020)
    head[4] = hardware
    struct.pack_into("<H", head, 5, device_id & 0xFFFF)
    struct.pack_into("<H", head, 11, 0xFFFF)
    struct.pack_into("<I", head, 13, _cwa_time(start))
    head[36] = rate_code
    if set_at is not None:
        struct.pack_into("<I", head, 37, _cwa_time(set_at))
    head[41] = 45
    struct.pack_into("<h", head, 42, tz_minutes)
    out = bytearray(head)
    encoded = np.empty(sector_t0.shape[0])
    shift = 8 + {256: 0, 512: 1, 1024: 2, 2048: 3, 4096: 4}[unit]
    for k, t0 in enumerate(sector_t0.tolist()):
        whole = int(np.floor(t0))
        f15 = min(round((t0 - whole) * 32768), 32767)
        frac16 = f15 << 1
        encoded[k] = whole + frac16 / 65536
        sec = bytearray(512)
        sec[0:2] = b"AX"
        struct.pack_into("<H", sec, 2, 508)
        struct.pack_into("<H", sec, 4, 0x8000 | f15)
        struct.pack_into("<I", sec, 10, k)
        t = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=whole)
        struct.pack_into("<I", sec, 14, _cwa_time(t))
        struct.pack_into("<H", sec, 18, (shift - 8) << 13)
        sec[24] = rate_code
        sec[25] = (axes << 4) | 2
        # the firmware's shim: offset = index of the whole second - (frac * fs) >> 16
        struct.pack_into("<h", sec, 26, -((frac16 * int(rate_hz)) >> 16))
        struct.pack_into("<H", sec, 28, per)
        block = np.zeros((per, axes), dtype=np.int64)
        block[:, axes - 3:] = raw[k * per:(k + 1) * per]
        if axes == 6:
            block[:, :3] = 123  # gyro
        sec[30:30 + per * axes * 2] = block.astype("<i2").tobytes()
        total = sum(struct.unpack("<255H", bytes(sec[:510]))) & 0xFFFF
        struct.pack_into("<H", sec, 510, (-total) & 0xFFFF)
        out += sec
    path.write_bytes(bytes(out))
    return encoded
