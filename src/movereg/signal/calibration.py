"""Autocalibration (van Hees et al., J Appl Physiol 2014): a sphere fit on still periods.

Still windows (every axis SD below ``still_sd_mg``) should measure exactly 1 g. The fit
finds per-axis ``offset`` and ``scale`` so that ``offset + scale * raw`` of the still-window
means lies on the unit sphere (iteratively re-weighted least squares, as in GGIR's
``g.calibrate``). It needs still windows in several orientations: each axis must reach
beyond +-``sphere_crit_g`` among them, else the result is flagged ``ok=False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from movereg.errors import ParameterError

__all__ = ["Calibration", "apply_calibration", "calibrate"]


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


def calibrate(samples: np.ndarray, fs_hz: float, *, window_s: float = 10.0,
              still_sd_mg: float = 13.0, sphere_crit_g: float = 0.3,
              max_iter: int = 1000, tol: float = 1e-10) -> Calibration:
    """Fit offset and scale per axis from still windows of ``samples`` ((n, 3) g).

    Returns a :class:`Calibration`; ``ok`` is False (and offset 0, scale 1) when there are
    too few still windows or they do not cover enough orientations.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ParameterError(f"samples must have shape (n, 3), got {x.shape}")
    if not fs_hz > 0:
        raise ParameterError(f"sampling rate must be > 0, got {fs_hz!r}")
    w = max(2, round(window_s * fs_hz))
    m = x.shape[0] // w
    if m == 0:
        return Calibration(reason="recording shorter than one window")
    blocks = x[: m * w].reshape(m, w, 3)
    good = ~np.isnan(blocks).any(axis=(1, 2))
    blocks = blocks[good]
    if blocks.shape[0] == 0:
        return Calibration(reason="no complete windows")
    sd = blocks.std(axis=1, ddof=1)
    still = np.all(sd < still_sd_mg / 1000.0, axis=1)
    means = blocks[still].mean(axis=1)
    n = means.shape[0]
    if n < 10:
        return Calibration(n_windows=n, reason=f"only {n} still windows (need 10)")
    if not (np.all(means.min(axis=0) < -sphere_crit_g) and
            np.all(means.max(axis=0) > sphere_crit_g)):
        return Calibration(n_windows=n, reason="still windows do not cover enough orientations")
    before = float(np.mean(np.abs(np.linalg.norm(means, axis=1) - 1.0)) * 1000.0)
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
    return Calibration(offset, scale, n, before, after, True, "")
