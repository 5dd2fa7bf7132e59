"""Non-wear as GGIR computes it offline (van Hees 2013, centred windows): a batch pass.

The streaming engine's ``nonwear`` column is causal (the window ends at the epoch's end,
see :mod:`movereg.signal.features`). For a finished recording, :func:`detect_nonwear`
gives GGIR's centred variant: every ``step_s`` (15-min) block is flagged when, in the
``window_s`` (60-min) window centred on it, at least ``min_axes`` axes have SD <
``sd_mg`` and range < ``range_mg``. Epochs take the flag of the block holding their start.
"""

from __future__ import annotations

import numpy as np

from movereg.errors import ParameterError
from movereg.signal.params import FeatureConfig

__all__ = ["detect_nonwear"]


def detect_nonwear(samples: np.ndarray, fs_hz: float, *, epoch_s: float = 5.0,
                   config: FeatureConfig | None = None) -> np.ndarray:
    """GGIR-2013 non-wear flags per epoch (int8, 1 = non-wear) for a whole recording.

    Parameters
    ----------
    samples
        ``(n, 3)`` acceleration in g; NaN rows are missing and ignored.
    fs_hz
        Sampling rate, Hz.
    epoch_s
        Epoch length, s; the result has ``ceil(n / (fs_hz * epoch_s))`` entries, the
        epoch grid of :func:`movereg.signal.extract_features`.
    config
        ``nonwear_window_s``, ``nonwear_step_s``, ``nonwear_sd_mg``, ``nonwear_range_mg``,
        ``nonwear_min_axes`` are used.
    """
    cfg = config or FeatureConfig()
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ParameterError(f"samples must have shape (n, 3), got {x.shape}")
    if not (fs_hz > 0 and epoch_s > 0):
        raise ParameterError("fs_hz and epoch_s must be > 0")
    n = x.shape[0]
    step = max(1, round(cfg.nonwear_step_s * fs_hz))
    half_extra = max(0, round((cfg.nonwear_window_s - cfg.nonwear_step_s) * fs_hz / 2))
    n_blocks = -(-n // step)
    flags = np.zeros(n_blocks, dtype=np.int8)
    for b in range(n_blocks):
        lo = max(0, b * step - half_extra)
        hi = min(n, (b + 1) * step + half_extra)
        seg = x[lo:hi]
        seg = seg[~np.isnan(seg).any(axis=1)]
        if seg.shape[0] < 2:
            continue
        sd = seg.std(axis=0, ddof=1)
        rng = seg.max(axis=0) - seg.min(axis=0)
        ok = (sd < cfg.nonwear_sd_mg / 1000.0) & (rng < cfg.nonwear_range_mg / 1000.0)
        flags[b] = int(ok.sum() >= cfg.nonwear_min_axes)
    ep = epoch_s * fs_hz
    m = int(np.ceil(n / ep - 1e-9))
    starts = np.round(np.arange(m) * ep).astype(np.int64)
    return flags[np.minimum(starts // step, n_blocks - 1)] if m else np.zeros(0, np.int8)
