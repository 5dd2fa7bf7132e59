"""Autocalibration (van Hees et al., J Appl Physiol 2014): a sphere fit on still periods.

Still windows (every axis SD below ``still_sd_mg``) should measure exactly 1 g. The fit
finds per-axis ``offset`` and ``scale`` so that ``offset + scale * raw`` of the still-window
means lies on the unit sphere (iteratively re-weighted least squares, as in GGIR's
``g.calibrate``). It needs still windows in several orientations: each axis must reach
beyond +-``sphere_crit_g`` among them, else the result is flagged ``ok=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from movereg.errors import ParameterError

__all__ = ["ACCEPT_ERROR_MG", "AUTO_MIN_HOURS", "CALIBRATE_MODES", "MIN_WINDOWS", "Calibration",
           "StillWindows", "apply_calibration", "calibrate", "calibration_row", "fit_collected",
           "fit_recording", "fit_sphere"]


@dataclass(frozen=True)
class Calibration:
    """Per-axis calibration: ``calibrated = offset + scale * raw`` (g)."""

    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))
    scale: np.ndarray = field(default_factory=lambda: np.ones(3))
    n_windows: int = 0
    error_before_mg: float = float("nan")
    error_after_mg: float = float("nan")
    ok: bool = False
    reason: str = ""


def apply_calibration(samples: np.ndarray, cal: Calibration) -> np.ndarray:
    """``offset + scale * samples`` for ``(n, 3)`` samples in g (NaN rows stay NaN)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ParameterError(f"samples must have shape (n, 3), got {x.shape}")
    return cal.offset[None, :] + cal.scale[None, :] * x


#: GGIR's acceptance rule (van Hees et al. 2014; GGIR ``g.calibrate``): the calibration
#: error after the fit must be below 10 mg (0.01 g).
ACCEPT_ERROR_MG = 10.0
#: Fewest still windows a fit is tried with.
MIN_WINDOWS = 10


class StillWindows:
    """Streaming collector of still-window means (g) for :func:`fit_sphere`.

    Samples are cut into windows of ``window_s``; a window is *still* when every axis has
    SD < ``still_sd_mg`` and every axis mean is within +-2 g (GGIR's guard against
    clipping). Windows holding NaN are skipped. Feed ``(n, 3)`` blocks in time order.
    """

    def __init__(self, fs_hz: float, *, window_s: float = 10.0,
                 still_sd_mg: float = 13.0) -> None:
        if not fs_hz > 0:
            raise ParameterError(f"sampling rate must be > 0, got {fs_hz!r}")
        self.w = max(2, round(window_s * fs_hz))
        self.sd_g = still_sd_mg / 1000.0
        self._rest = np.zeros((0, 3))
        self._means: list[np.ndarray] = []
        self.n_samples = 0
        self.n_windows = 0

    def add(self, samples: np.ndarray) -> None:
        """Take the next ``(n, 3)`` block of samples in g."""
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 3:
            raise ParameterError(f"samples must have shape (n, 3), got {x.shape}")
        self.n_samples += x.shape[0]
        x = np.concatenate([self._rest, x]) if self._rest.shape[0] else x
        m = x.shape[0] // self.w
        self._rest = x[m * self.w:].copy()
        if m == 0:
            return
        blocks = x[: m * self.w].reshape(m, self.w, 3)
        blocks = blocks[~np.isnan(blocks).any(axis=(1, 2))]
        self.n_windows += blocks.shape[0]
        if blocks.shape[0] == 0:
            return
        mean = blocks.mean(axis=1)
        sd = blocks.std(axis=1, ddof=1)
        still = np.all(sd < self.sd_g, axis=1) & np.all(np.abs(mean) < 2.0, axis=1)
        if still.any():
            self._means.append(mean[still])

    def gap(self) -> None:
        """Samples are missing before the next block: drop the partial window (a window
        never spans a gap)."""
        self._rest = np.zeros((0, 3))

    @property
    def means(self) -> np.ndarray:
        """``(k, 3)`` means (g) of the still windows so far."""
        return np.concatenate(self._means) if self._means else np.zeros((0, 3))


def calibrate(samples: np.ndarray, fs_hz: float, *, window_s: float = 10.0,
              still_sd_mg: float = 13.0, sphere_crit_g: float = 0.3,
              max_iter: int = 1000, tol: float = 1e-10) -> Calibration:
    """Fit offset and scale per axis from still windows of ``samples`` ((n, 3) g).

    Returns a :class:`Calibration`; ``ok`` is False (and offset 0, scale 1) when there are
    too few still windows, they do not cover enough orientations, or the error after the
    fit is not below :data:`ACCEPT_ERROR_MG`.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ParameterError(f"samples must have shape (n, 3), got {x.shape}")
    col = StillWindows(fs_hz, window_s=window_s, still_sd_mg=still_sd_mg)
    col.add(x)
    if x.shape[0] < col.w:
        return Calibration(reason="recording shorter than one window")
    if col.n_windows == 0:
        return Calibration(reason="no complete windows")
    return fit_sphere(col.means, sphere_crit_g=sphere_crit_g, max_iter=max_iter, tol=tol)


def fit_sphere(means: np.ndarray, *, sphere_crit_g: float = 0.3, max_iter: int = 1000,
               tol: float = 1e-10) -> Calibration:
    """Fit offset and scale so that ``offset + scale * means`` lies on the unit sphere.

    ``means`` are ``(k, 3)`` still-window means in g. Acceptance (GGIR's rules, van Hees
    et al. 2014): at least :data:`MIN_WINDOWS` windows; the sphere populated (each axis
    beyond +-``sphere_crit_g`` on both sides); the error reduced and below
    :data:`ACCEPT_ERROR_MG` after the fit. Errors are the mean absolute deviation of the
    window-mean norms from 1 g, in mg.
    """
    means = np.asarray(means, dtype=np.float64).reshape(-1, 3)
    n = means.shape[0]
    if n < MIN_WINDOWS:
        return Calibration(n_windows=n,
                           reason=f"only {n} still windows (need {MIN_WINDOWS})")
    before = float(np.mean(np.abs(np.linalg.norm(means, axis=1) - 1.0)) * 1000.0)
    if not (np.all(means.min(axis=0) < -sphere_crit_g) and
            np.all(means.max(axis=0) > sphere_crit_g)):
        return Calibration(n_windows=n, error_before_mg=before,
                           reason="still windows do not cover enough orientations (each "
                           f"axis must reach beyond +-{sphere_crit_g:g} g)")
    offset = np.zeros(3)
    scale = np.ones(3)
    weights = np.ones(n)
    for _ in range(max_iter):
        cal = offset + scale * means
        target = cal / np.linalg.norm(cal, axis=1, keepdims=True)
        new_off = np.empty(3)
        new_scale = np.empty(3)
        for a in range(3):
            # weighted least squares: target_a ~ off + scale * raw_a
            A = np.column_stack([np.ones(n), means[:, a]]) * np.sqrt(weights)[:, None]
            coef, *_ = np.linalg.lstsq(A, target[:, a] * np.sqrt(weights), rcond=None)
            new_off[a], new_scale[a] = coef
        resid = np.abs(np.linalg.norm(new_off + new_scale * means, axis=1) - 1.0)
        weights = 1.0 / np.maximum(resid, 0.01)
        weights = np.minimum(weights, 100.0)
        change = np.max(np.abs(new_off - offset)) + np.max(np.abs(new_scale - scale))
        offset, scale = new_off, new_scale
        if change < tol:
            break
    after = float(np.mean(np.abs(np.linalg.norm(offset + scale * means, axis=1) - 1.0)) * 1000.0)
    if not after < before or not np.all(np.isfinite(offset)):
        return Calibration(n_windows=n, error_before_mg=before, error_after_mg=after,
                           reason="fit did not reduce the calibration error")
    if not after < ACCEPT_ERROR_MG:
        return Calibration(n_windows=n, error_before_mg=before, error_after_mg=after,
                           reason=f"error after the fit {after:.1f} mg is not below "
                           f"{ACCEPT_ERROR_MG:g} mg")
    return Calibration(offset, scale, n, before, after, True, "")


# --- a whole recording (``--calibrate auto|on|off``) ------------------------------
#: ``auto`` calibrates recordings at least this long (h).
AUTO_MIN_HOURS = 24.0
CALIBRATE_MODES = ("auto", "on", "off")
_FIT_CHUNK = 1 << 16


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
    for _t0, x in rec.chunks(_FIT_CHUNK):
        col.add(x)
    return fit_collected(col, rec.fs_hz, mode)


def fit_collected(col: StillWindows, fs_hz: float, mode: str) -> tuple[Calibration, str]:
    """The calibration and status (as :func:`fit_recording`) from a whole recording's
    still windows, collected by the caller (e.g. during a feature pass, so a recording
    of unknown length that turns out shorter than 24 h is read only once)."""
    duration_s = col.n_samples / fs_hz
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
