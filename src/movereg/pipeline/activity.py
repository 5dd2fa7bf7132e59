"""The fast activity trace: a causal value per arriving block, beside the epoch features.

Epoch features wait for their epoch to close and for the rhythm window's look-ahead
(``FeatureEngine.lag_s``, about 6.5 s). The live tile needs something that moves with
the child now, so for every arriving block the hub also computes ENMO (mg: the mean of
``max(0, |a| - 1 g)``) over the samples of the last ``window_s`` seconds that have
arrived so far. The window ends at the block's last sample: no look-ahead, nothing
waits for an epoch. Missing samples (NaN) are left out of the mean.

:func:`activity_mg` is the definition (the tests recompute messages with it);
:class:`ActivityTrace` keeps the last window of one band's samples and answers each block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ActivityPoint", "ActivityTrace", "activity_mg", "sample_times_ns"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def activity_mg(samples_g: npt.ArrayLike) -> float | None:
    """ENMO in mg of ``samples_g`` ((n, 3) acceleration in g); ``None`` when no sample is
    finite. Rows with a NaN are left out."""
    x = np.asarray(samples_g, dtype=np.float64).reshape(-1, 3)
    ok = np.isfinite(x).all(axis=1)
    if not ok.any():
        return None
    mag = np.sqrt((x[ok] ** 2).sum(axis=1))
    return float(np.maximum(mag - 1.0, 0.0).mean() * 1000.0)


def sample_times_ns(t0_ns: int, fs_hz: float, n: int) -> I64:
    """UTC ns of each of ``n`` samples starting at ``t0_ns`` (as :class:`SampleBlock`
    places them: ``t0 + round(i * 1e9 / fs)``)."""
    return t0_ns + np.round(np.arange(n) * (1e9 / fs_hz)).astype(np.int64)


@dataclass(frozen=True, slots=True)
class ActivityPoint:
    """One value of the trace.

    Attributes
    ----------
    t_end_ns
        UTC ns of the last sample covered (no later sample is used).
    t_start_ns
        UTC ns of the first sample covered.
    value_mg
        ENMO over the covered samples, mg (``None``: none was finite).
    n
        Samples covered.
    """

    t_end_ns: int
    t_start_ns: int
    value_mg: float | None
    n: int


class ActivityTrace:
    """One band's causal activity trace (ENMO over the last ``window_s`` seconds).

    Parameters
    ----------
    window_s
        Width of the window, s: samples with ``t_end - window_s < t <= t_end``.
    min_interval_s
        Blocks that end less than this after the last emitted point are folded into the
        next one (fast bands then send at most 1 / ``min_interval_s`` values a second).
    """

    def __init__(self, window_s: float = 1.0, min_interval_s: float = 0.1) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_ns = round(window_s * 1e9)
        self.min_interval_ns = round(min_interval_s * 1e9)
        self._t: I64 = np.zeros(0, dtype=np.int64)
        self._x: F64 = np.zeros((0, 3), dtype=np.float64)
        self._last_emit_ns: int | None = None

    def push(self, samples_g: npt.ArrayLike, t0_ns: int, fs_hz: float) -> ActivityPoint | None:
        """Add a block (``(n, 3)`` g, first sample at ``t0_ns``); the point it completes,
        or ``None`` (an empty block, or one folded into the next point)."""
        x = np.asarray(samples_g, dtype=np.float64).reshape(-1, 3)
        n = x.shape[0]
        if n == 0:
            return None
        t = sample_times_ns(int(t0_ns), fs_hz, n)
        t_end = int(t[-1])
        tt = np.concatenate((self._t, t))
        xx = np.concatenate((self._x, x))
        first = int(np.searchsorted(tt, t_end - self.window_ns, side="right"))
        self._t, self._x = tt[first:], xx[first:]
        if (self._last_emit_ns is not None
                and t_end - self._last_emit_ns < self.min_interval_ns):
            return None
        self._last_emit_ns = t_end
        return ActivityPoint(t_end_ns=t_end, t_start_ns=int(self._t[0]),
                             value_mg=activity_mg(self._x), n=int(self._t.size))
