"""Per-device (band) calibrations and which one the live pipeline applied from when.

Tables ``device_calibrations`` and ``device_calibration_uses`` (migration 0010). A
calibration is the sphere fit of :mod:`movereg.signal.calibration` on a band's stored raw
samples; every fit is kept (accepted or not), the newest *accepted* one is applied live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from movereg.storage._core import StoreCore
from movereg.storage._db import map_errors

__all__ = ["CalibrationMixin", "CalibrationUse", "DeviceCalibration"]

#: The method text stored with every fit.
CALIBRATION_METHOD = ("sphere fit on still 10-s windows (SD < 13 mg), van Hees et al. "
                      "J Appl Physiol 2014; GGIR g.calibrate acceptance")


@dataclass(frozen=True, slots=True)
class DeviceCalibration:
    """One fit of a band: ``calibrated = offset + scale * raw`` (g)."""

    id: int
    device_id: str
    fitted_at: int              # UTC ns
    span_start_ns: int          # first stored sample read (UTC ns)
    span_end_ns: int            # end of the last one (exclusive)
    n_samples: int
    n_windows: int              # still windows (points) used
    error_before_mg: float | None
    error_after_mg: float | None
    offset: tuple[float, float, float]
    scale: tuple[float, float, float]
    accepted: bool
    reason: str
    method: str = CALIBRATION_METHOD

    def apply(self, samples: np.ndarray) -> np.ndarray:
        """``offset + scale * samples`` for ``(n, 3)`` samples in g, as float32."""
        x = np.asarray(samples, dtype=np.float64)
        return (np.asarray(self.offset) + np.asarray(self.scale) * x).astype(np.float32)

    def summary(self) -> dict[str, Any]:
        """What provenance and QC state about it (ids, span, windows, errors, offset/scale)."""
        return {"calibration_id": self.id, "fitted_at_ns": self.fitted_at,
                "span_start_ns": self.span_start_ns, "span_end_ns": self.span_end_ns,
                "still_windows": self.n_windows, "error_before_mg": self.error_before_mg,
                "error_after_mg": self.error_after_mg, "offset_g": list(self.offset),
                "scale": list(self.scale), "accepted": self.accepted,
                "reason": self.reason, "method": self.method}


@dataclass(frozen=True, slots=True)
class CalibrationUse:
    """From ``started_ns`` on, the band's epochs were computed with ``calibration``
    (``None``: no calibration applied)."""

    device_id: str
    started_ns: int
    calibration: DeviceCalibration | None


_COLS = ("id, device_id, fitted_at, span_start_ns, span_end_ns, n_samples, n_windows, "
         "error_before_mg, error_after_mg, offset_x, offset_y, offset_z, scale_x, scale_y, "
         "scale_z, accepted, reason, method")


def _nan_none(v: float | None) -> float | None:
    return None if v is None or v != v else float(v)


def _row(r: Sequence[Any]) -> DeviceCalibration:
    return DeviceCalibration(
        int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]),
        None if r[7] is None else float(r[7]), None if r[8] is None else float(r[8]),
        (float(r[9]), float(r[10]), float(r[11])), (float(r[12]), float(r[13]), float(r[14])),
        bool(r[15]), str(r[16]), str(r[17]))


class CalibrationMixin(StoreCore):
    """Band calibrations (``device_calibrations``) and their use (``..._uses``)."""

    def add_device_calibration(self, device_id: str, *, fitted_at: int, span_start_ns: int,
                               span_end_ns: int, n_samples: int, n_windows: int,
                               error_before_mg: float | None, error_after_mg: float | None,
                               offset: Sequence[float], scale: Sequence[float],
                               accepted: bool, reason: str = "") -> DeviceCalibration:
        """Keep one fit (accepted or not) of a band; returns it with its id."""
        with self._tx("cannot store a device calibration") as con:
            cur = con.execute(
                f"INSERT INTO device_calibrations({_COLS.split(', ', 1)[1]}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (device_id, int(fitted_at), int(span_start_ns), int(span_end_ns),
                 int(n_samples), int(n_windows), _nan_none(error_before_mg),
                 _nan_none(error_after_mg), *(float(v) for v in offset),
                 *(float(v) for v in scale), int(bool(accepted)), reason,
                 CALIBRATION_METHOD))
            row = con.execute(f"SELECT {_COLS} FROM device_calibrations WHERE id = ?",
                              (int(cur.lastrowid or 0),)).fetchone()
        return _row(row)

    def device_calibration(self, device_id: str, *, accepted_only: bool = True
                           ) -> DeviceCalibration | None:
        """The band's newest (accepted, by default) calibration, or None."""
        where = " AND accepted = 1" if accepted_only else ""
        row = self._fetch_one(
            "device calibrations",
            f"SELECT {_COLS} FROM device_calibrations WHERE device_id = ?{where} "
            "ORDER BY fitted_at DESC, id DESC LIMIT 1", (device_id,))
        return None if row is None else _row(row)

    def list_device_calibrations(self, device_id: str | None = None
                                 ) -> list[DeviceCalibration]:
        """Every kept fit (of one band, or all), oldest first."""
        sql = f"SELECT {_COLS} FROM device_calibrations"
        args: tuple[Any, ...] = ()
        if device_id is not None:
            sql, args = sql + " WHERE device_id = ?", (device_id,)
        rows = self._fetch("device calibrations", sql + " ORDER BY fitted_at, id", args)
        return [_row(r) for r in rows]

    def record_calibration_use(self, device_id: str, started_ns: int,
                               calibration_id: int | None) -> None:
        """Note that the band's samples from ``started_ns`` on are computed with this
        calibration (None: none)."""
        with self._tx("cannot record which calibration applies") as con:
            con.execute("INSERT INTO device_calibration_uses(device_id, started_ns, "
                        "calibration_id) VALUES (?, ?, ?)",
                        (device_id, int(started_ns), calibration_id))

    def calibration_uses(self, device_ids: Sequence[str], *, start_ns: int | None = None,
                         end_ns: int | None = None) -> list[CalibrationUse]:
        """The uses in force over ``[start_ns, end_ns)`` for these bands, in time order
        (the one already in force at ``start_ns`` included)."""
        out: list[CalibrationUse] = []
        lo = -(2**62) if start_ns is None else int(start_ns)
        hi = 2**62 if end_ns is None else int(end_ns)
        with map_errors("cannot read calibration uses"):
            con = self._read()
            for dev in device_ids:
                rows = con.execute(
                    "SELECT started_ns, calibration_id FROM device_calibration_uses "
                    "WHERE device_id = ? AND started_ns < ? AND started_ns >= COALESCE(("
                    "SELECT MAX(started_ns) FROM device_calibration_uses WHERE device_id = ? "
                    "AND started_ns <= ?), ?) ORDER BY started_ns, id",
                    (dev, hi, dev, lo, lo)).fetchall()
                for started, cal_id in rows:
                    cal = None
                    if cal_id is not None:
                        r = con.execute(f"SELECT {_COLS} FROM device_calibrations "
                                        "WHERE id = ?", (int(cal_id),)).fetchone()
                        cal = None if r is None else _row(r)
                    out.append(CalibrationUse(dev, int(started), cal))
        return out
