"""Autocalibration of a recording file before its features (``--calibrate``).

A first pass streams the file through :class:`movereg.signal.calibration.StillWindows`
(10-s still windows), then :func:`movereg.signal.calibration.fit_sphere` fits offset and
scale (van Hees et al., J Appl Physiol 2014). ``auto`` calibrates recordings of at least
:data:`AUTO_MIN_HOURS` hours, as GGIR and actipy do; ``on`` any length; ``off`` never.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from movereg.errors import ParameterError
from movereg.signal.calibration import Calibration, StillWindows, fit_sphere

__all__ = ["AUTO_MIN_HOURS", "CALIBRATE_MODES", "calibration_row", "fit_recording"]

#: ``auto`` calibrates recordings at least this long (h).
AUTO_MIN_HOURS = 24.0
CALIBRATE_MODES = ("auto", "on", "off")
_CHUNK = 1 << 16


def fit_recording(open_rec: Callable[[], Any], mode: str) -> tuple[Calibration, str]:
    """The calibration of a recording and its status.

    ``open_rec`` opens a fresh recording (the fit pass reads the file once on its own).
    Status: ``off`` (not asked), ``skipped`` (auto and shorter than 24 h), ``applied``
    (accepted fit) or ``rejected`` (fit not accepted; the reason says why and the data
    stay as the file has them).
    """
    if mode not in CALIBRATE_MODES:
        raise ParameterError(f"--calibrate must be one of {', '.join(CALIBRATE_MODES)}, "
                             f"got {mode!r}")
    if mode == "off":
        return Calibration(reason="calibration off"), "off"
    rec = open_rec()
    known = rec.n_samples_estimate
    if mode == "auto" and known is not None and known / rec.fs_hz < AUTO_MIN_HOURS * 3600:
        return Calibration(reason=_short(known / rec.fs_hz)), "skipped"
    col = StillWindows(rec.fs_hz)
    for _t0, x in rec.chunks(_CHUNK):
        col.add(x)
    duration_s = col.n_samples / rec.fs_hz
    if mode == "auto" and duration_s < AUTO_MIN_HOURS * 3600:
        return Calibration(reason=_short(duration_s)), "skipped"
    if col.n_windows == 0:
        return Calibration(reason="no complete 10-s windows"), "rejected"
    cal = fit_sphere(col.means)
    return cal, "applied" if cal.ok else "rejected"


def _short(duration_s: float) -> str:
    return (f"recording {duration_s / 3600:.1f} h is shorter than {AUTO_MIN_HOURS:g} h "
            "(--calibrate auto; use --calibrate on to fit anyway)")


def calibration_row(cal: Calibration, status: str) -> dict[str, Any]:
    """QC columns of a calibration: status, reason, windows, errors (mg), offset/scale."""

    def fmt(v: float) -> str:
        return f"{v:.6g}"

    return {
        "calibration": status,
        "calibration_reason": cal.reason,
        "calibration_windows": cal.n_windows,
        "calibration_error_before_mg": None if cal.error_before_mg != cal.error_before_mg
        else round(cal.error_before_mg, 3),
        "calibration_error_after_mg": None if cal.error_after_mg != cal.error_after_mg
        else round(cal.error_after_mg, 3),
        "calibration_offset_g": ";".join(fmt(v) for v in cal.offset),
        "calibration_scale": ";".join(fmt(v) for v in cal.scale),
    }
