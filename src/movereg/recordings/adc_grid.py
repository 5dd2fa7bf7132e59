"""Restore a device's ADC steps from text exports that rounded them.

ActiGraph devices sample on a grid of 1/256 g (±8 g, 12 bit) or 1/341.33 g (GT3X+,
±6 g), and text exports (ActiLife's CSV, read.gt3x) often write those values rounded to
3 decimals (1 mg). Because the grid step (3.9 or 2.9 mg) is more than twice the rounding
step, every rounded value has exactly one grid value it can have come from, so restoring
it is exact, not a guess.

Why it matters: ActiLife counts the device's steps. On reference recording R4 (a
3-decimal CSV, 100 Hz) the values as read give 99.26% of 1-s epochs within ±1 count on
all three axes; the restored steps give 100% exact. R3 (3 decimals, 30 Hz) and R1
(6 decimals) are exact either way, because the counts round their 1 mg step half away
from zero, as ActiLife does. So text readers restore steps by default
(``adc_grid="auto"``) when, and only when, the values provably are rounded steps.

Detection is strict so it cannot fire on ordinary data: every finite value must have at
most ``d`` decimals (d <= 6), there must be enough distinct values, the grid must be
coarser than twice the rounding step, and every value must lie within half a rounding
step of the grid. Snapping with a detected grid never moves a value by more than half
a rounding step.
"""

from __future__ import annotations

import numpy as np

from movereg.errors import ParameterError

__all__ = [
    "ADC_GRIDS",
    "ADC_MIN_VALUES",
    "AdcGrid",
    "describe_adc_grid",
    "detect_adc_grid",
    "parse_adc_grid",
    "snap_to_grid",
]

#: Grids (LSB per g) looked for: ActiGraph ±8 g and ±6 g at 12 bit.
ADC_GRIDS = (256.0, 1024.0 / 3.0)
_MAX_DECIMALS = 6
#: Fewest finite values (samples x axes) detection decides on.
ADC_MIN_VALUES = 1000
_EPS = 1e-9          # float error allowed on value * 10**d (values of a few g)

#: What ``open_recording(adc_grid=...)`` and ``--adc-grid`` accept.
AdcGrid = str | float


def parse_adc_grid(value: AdcGrid) -> str | float:
    """``"off"`` (as written), ``"auto"`` (restore a detected grid) or LSB per g."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("auto", "off"):
            return v
        try:
            value = float(v)
        except ValueError:
            raise ParameterError(f"ADC grid must be 'auto', 'off' or LSB per g (e.g. 256), "
                                 f"got {value!r}") from None
    lsb = float(value)
    if not (np.isfinite(lsb) and 1.0 <= lsb <= 1e6):
        raise ParameterError(f"ADC grid must be 1..1e6 LSB per g, got {value!r}")
    return lsb


def _decimals(v: np.ndarray) -> int | None:
    """The fewest decimals (0..6) that write every value of ``v`` exactly, or None."""
    for d in range(_MAX_DECIMALS + 1):
        s = v * 10.0 ** d
        if np.all(np.abs(s - np.rint(s)) <= _EPS * max(1.0, 10.0 ** d)):
            return d
    return None


def detect_adc_grid(samples: np.ndarray, *, candidates: tuple[float, ...] = ADC_GRIDS,
                    min_values: int = ADC_MIN_VALUES) -> tuple[float, int] | None:
    """The ADC grid that rounded values came from, if it can be restored exactly.

    Parameters
    ----------
    samples
        Acceleration in g, any shape; NaN/inf are ignored.
    candidates
        Grids to try, LSB per g.
    min_values
        Fewest finite values to decide on.

    Returns
    -------
    (lsb_per_g, decimals) or None
        The grid and the decimals the values were rounded to; None when the values are
        not rounded grid values (or too few, or rounded too coarsely to undo).
    """
    v = np.asarray(samples, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < min_values or np.unique(v[:100_000]).size < 16:   # too few, or flat
        return None
    d = _decimals(v)
    if d is None:
        return None
    tol = 0.5 * 10.0 ** -d
    for lsb in candidates:
        if 1.0 / lsb <= 2.0 * tol:        # finer than twice the rounding: not invertible
            continue
        k = np.rint(v * lsb)
        if np.all(np.abs(k / lsb - v) <= tol + _EPS):
            return float(lsb), d
    return None


def snap_to_grid(samples: np.ndarray, lsb_per_g: float, *,
                 tolerance_g: float | None = None) -> np.ndarray:
    """Values moved to the nearest multiple of ``1 / lsb_per_g`` g (a new array).

    Parameters
    ----------
    samples
        Acceleration in g; NaN stays NaN.
    lsb_per_g
        The grid, LSB per g.
    tolerance_g
        Only values within this distance of the grid move (others are left as they
        are); default half a grid step (every finite value moves).
    """
    x = np.asarray(samples, dtype=np.float64)
    tol = 0.5 / lsb_per_g if tolerance_g is None else tolerance_g
    snapped = np.rint(x * lsb_per_g) / lsb_per_g
    with np.errstate(invalid="ignore"):
        move = np.abs(snapped - x) <= tol + _EPS
    return np.where(move, snapped, x)


def describe_adc_grid(mode: str | float, found: tuple[float, int] | None) -> str:
    """One sentence for a recording's metadata: what was done to the values.

    Parameters
    ----------
    mode
        What was asked (see :func:`parse_adc_grid`): ``"off"``, ``"auto"`` or LSB per g.
    found
        What :func:`detect_adc_grid` returned in ``"auto"`` mode (else None).
    """
    if mode == "off":
        return "values as written (ADC grid restoring off)"
    if isinstance(mode, float):
        return (f"values rounded to the given grid of 1/{mode:g} g "
                f"(each moved at most {500.0 / mode:.3g} mg)")
    if found is None:
        return "values as written (not provably rounded ADC steps)"
    lsb, d = found
    return (f"values restored to the device's ADC steps of 1/{lsb:g} g "
            f"(written to {d} decimals; each moved at most {0.5 * 10.0 ** (3 - d):g} mg)")
