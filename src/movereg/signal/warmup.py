"""Compile every signal kernel before the first device connects."""

from __future__ import annotations

import numpy as np

__all__ = ["warmup"]


def warmup() -> None:
    """Run each kernel once on tiny inputs (compiles or loads Numba's cache)."""
    from movereg.signal.calibration import calibrate
    from movereg.signal.counts import activity_counts
    from movereg.signal.features import FeatureEngine

    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.05, (300, 3))
    x[:, 2] += 1.0
    x[5] = np.nan
    eng = FeatureEngine(25.0, epoch_s=1.0)
    eng.push(x, 0)
    eng.flush()
    activity_counts(x, 30.0, 1.0)
    calibrate(x, 25.0)
