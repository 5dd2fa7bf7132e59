"""Signal health of one band from its arriving samples: still (off the wrist), flat, clipped.

Fed with every block (sample times in UTC ns); it keeps three runs:

- **still**: since when the range of at least ``min_axes`` axes has stayed under
  ``still_range_g`` (van Hees' non-wear criterion on range, GGIR's 50 mg default, applied
  to the run so far instead of fixed 60-min windows, so that a band left on a table shows
  after minutes, not an hour);
- **flat**: since when every axis has held exactly one value (a stuck sensor: a real band
  at rest still shows sensor noise);
- **clipped**: since when every sample has had an axis at or beyond ``clip_g`` (a sensor
  pinned at its range limit).

These describe the device and its data, never the child.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["SignalHealth"]

_FLAT_G = 1e-6


class SignalHealth:
    """Runs of still, flat and clipped signal for one band (times in UTC ns)."""

    def __init__(self, *, still_range_g: float = 0.05, min_axes: int = 2,
                 clip_g: float = 7.5) -> None:
        self.still_range_g = still_range_g
        self.min_axes = min_axes
        self.clip_g = clip_g
        self.last_ns: int | None = None
        self.still_since: int | None = None
        self.flat_since: int | None = None
        self.clipped_since: int | None = None
        self._lo = np.full(3, np.inf)
        self._hi = np.full(3, -np.inf)
        self._flat = np.zeros(3)

    def push(self, samples_g: npt.ArrayLike, t0_ns: int, t_last_ns: int) -> None:
        """Add a block: ``(n, 3)`` g, first sample at ``t0_ns``, last at ``t_last_ns``."""
        x = np.asarray(samples_g, dtype=np.float64).reshape(-1, 3)
        x = x[np.isfinite(x).all(axis=1)]
        if x.shape[0] == 0:
            return
        lo, hi = x.min(axis=0), x.max(axis=0)
        if self.still_since is None:
            self._lo, self._hi = lo, hi
            start = t0_ns
        else:
            self._lo, self._hi = np.minimum(self._lo, lo), np.maximum(self._hi, hi)
            start = self.still_since
        span = self._hi - self._lo
        if int((span < self.still_range_g).sum()) >= self.min_axes:
            self.still_since = start
        else:                                   # the run ends; this block may start one
            self._lo, self._hi = lo, hi
            still = int(((hi - lo) < self.still_range_g).sum()) >= self.min_axes
            self.still_since = t0_ns if still else None
        if not ((hi - lo) <= _FLAT_G).all():
            self.flat_since = None
        elif self.flat_since is None or not (np.abs(lo - self._flat) <= _FLAT_G).all():
            self.flat_since, self._flat = t0_ns, lo      # a new flat run starts here
        clipped = bool((np.abs(x) >= self.clip_g).any(axis=1).all())
        if clipped:
            self.clipped_since = self.clipped_since if self.clipped_since is not None else t0_ns
        else:
            self.clipped_since = None
        self.last_ns = int(t_last_ns)

    def _run_s(self, since: int | None) -> float:
        if since is None or self.last_ns is None:
            return 0.0
        return (self.last_ns - since) / 1e9

    @property
    def still_s(self) -> float:
        """Seconds of the current still run (0 when moving)."""
        return self._run_s(self.still_since)

    @property
    def flat_s(self) -> float:
        """Seconds of the current flat run."""
        return self._run_s(self.flat_since)

    @property
    def clipped_s(self) -> float:
        """Seconds of the current clipped run."""
        return self._run_s(self.clipped_since)
