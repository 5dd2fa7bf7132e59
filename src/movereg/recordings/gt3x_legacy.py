"""Legacy ActiGraph GT3X (``activity.bin``, no ``log.bin``): NHANES-era GT3X+ / ActiSleep+.

Format source: ActiGraph's published "NHANES .gt3x File Format"
(github.com/actigraph/NHANES-GT3X-File-Format, ``fileformats/activity.bin.md`` and
``info.txt.md``), valid for GT3X+ (serial ``NEO...``) and ActiSleep+ (``MRA...``) with
firmware 2.5.0 or earlier. No maintained Python library reads these files (actfast and
pygt3x read ``log.bin``; only the R package read.gt3x has ``parseActivityBin``), so
movereg decodes them itself:

* a ZIP with ``info.txt`` (``Serial Number``, ``Firmware``, ``Sample Rate`` in Hz,
  ``Start Date`` in .NET ticks of local time) and ``activity.bin``;
* ``activity.bin``: every sample the device recorded, back to back, as 12-bit two's
  complement ``y, x, z`` (36 bits per sample, most significant nibble first; an odd
  sample count leaves the last nibble unused); g = value / 341.

The file has no per-sample or per-record timestamps: sample i is at
``Start Date + i / Sample Rate`` (the device's nominal clock; ``measured_fs_hz`` equals the
configured rate). ActiGraph's description rounds g to 3 decimals for display; movereg
keeps the exact ``value / 341``. A cut-off last sample is reported in :attr:`qc`.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from movereg.errors import InputFileError
from movereg.recordings.base import Recording
from movereg.recordings.devicetime import resolve_clock
from movereg.recordings.qc import RecordingQC

__all__ = ["LEGACY_LSB_PER_G", "Gt3xLegacyRecording", "decode_activity_bin"]

#: Scale of activity.bin values (LSB per g), from ActiGraph's description.
LEGACY_LSB_PER_G = 341.0
#: Range of the GT3X+ accelerometer (g).
_RANGE_G = 6.0
_TICKS_AT_UNIX_EPOCH = 621_355_968_000_000_000  # .NET ticks (100 ns) at 1970-01-01
_CHUNK_BYTES = 9 * (1 << 17)  # 2 samples per 9 bytes: 262,144 samples a chunk


def decode_activity_bin(data: bytes) -> np.ndarray:
    """Raw ``activity.bin`` bytes -> int16 ``(n, 3)`` device values in x, y, z order.

    Only whole samples (36 bits) are decoded; trailing bits are ignored.
    """
    b = np.frombuffer(data, dtype=np.uint8)
    nib = np.empty(b.shape[0] * 2, dtype=np.int16)
    nib[0::2] = b >> 4
    nib[1::2] = b & 0x0F
    n = nib.shape[0] // 9  # 9 nibbles per sample
    v = nib[: n * 9].reshape(n, 3, 3)
    vals = (v[:, :, 0] << 8) | (v[:, :, 1] << 4) | v[:, :, 2]
    vals = np.where(vals >= 2048, vals - 4096, vals)
    out: np.ndarray = np.ascontiguousarray(vals[:, [1, 0, 2]].astype(np.int16))  # y,x,z
    return out


def _info(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


class Gt3xLegacyRecording(Recording):
    """A legacy GT3X (``activity.bin``) streamed in chunks (see the module doc)."""

    QC_WHILE_READING = True

    def __init__(self, path: Path, *, fs_hz: float | None = None,
                 tz: ZoneInfo | None = None) -> None:
        p = str(path)
        try:
            with zipfile.ZipFile(path) as z:
                info = _info(z.read("info.txt").decode("utf-8", "replace"))
                size = z.getinfo("activity.bin").file_size
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise InputFileError(p, f"cannot read as legacy GT3X: {exc}") from exc
        rate_text = re.search(r"\d+(?:\.\d+)?", info.get("Sample Rate", ""))
        if not rate_text:
            raise InputFileError(p, "legacy GT3X: info.txt has no Sample Rate")
        rate = float(rate_text.group(0))
        try:
            ticks = int(info.get("Start Date", ""))
        except ValueError as exc:
            raise InputFileError(p, "legacy GT3X: info.txt has no Start Date (.NET ticks)"
                                 ) from exc
        n = size * 2 // 9
        if n == 0:
            raise InputFileError(p, "legacy GT3X: activity.bin holds no samples")
        local_ns = (ticks - _TICKS_AT_UNIX_EPOCH) * 100
        off, tz_label, tz_source = resolve_clock(tz, None, local_ns)
        fs = float(fs_hz or rate)
        t0 = local_ns - off * 1_000_000_000
        serial = info.get("Serial Number", "")
        meta: dict[str, Any] = {"format": "gt3x_legacy", "device": "ActiGraph GT3X+ (legacy)",
                                "serial": serial, "reader": "movereg", "utc_offset_s": off,
                                "tz": tz_label, "tz_source": tz_source,
                                "measured_fs_hz": rate, "firmware": info.get("Firmware", ""),
                                "lsb_per_g": LEGACY_LSB_PER_G}
        super().__init__(path, fs, t0, n, meta)
        self.qc = RecordingQC(format="gt3x_legacy", device=meta["device"], serial=serial,
                              fs_hz=fs, measured_fs_hz=rate, range_g=_RANGE_G, tz=tz_label,
                              tz_source=tz_source, first_sample_ns=t0,
                              last_sample_ns=t0 + round((n - 1) * 1e9 / fs))
        self._size = size
        self.adc_lsb_per_g = LEGACY_LSB_PER_G

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        qc = self.qc
        qc.samples_read = qc.clipped = 0
        qc.damage.clear()
        first = True
        with zipfile.ZipFile(self.path) as z, z.open("activity.bin") as fh:
            while True:
                data = fh.read(_CHUNK_BYTES)
                if not data:
                    break
                xyz = decode_activity_bin(data).astype(np.float64) / LEGACY_LSB_PER_G
                qc.count_raw(xyz)
                yield first, xyz, None
                first = False
        rest = (self._size * 8) % 36
        if rest > 4:  # more than the one unused nibble: a sample was cut off
            qc.add_damage("truncated", f"activity.bin ends in a partial sample ({rest} "
                          "bits)", blocks=1, samples=1)
        qc.complete = True
