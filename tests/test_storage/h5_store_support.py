"""Builders shared by the storage tests (not a test module)."""

from __future__ import annotations

import numpy as np

from movereg.models import Gap, SampleBlock
from movereg.signal import EpochTable
from movereg.signal.schema import EPOCH_COLUMNS

T0 = 1_750_000_000 * 10**9  # a whole second, UTC ns


def epochs(t0_ns: int, n: int, *, epoch_s: float = 1.0, enmo: np.ndarray | None = None,
           seed: int = 0) -> EpochTable:
    """A schema-complete EpochTable of ``n`` back-to-back epochs."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for name, dtype in EPOCH_COLUMNS:
        if np.dtype(dtype).kind == "f":
            cols[name] = rng.random(n).astype(dtype)
        else:
            cols[name] = rng.integers(0, 100, n).astype(dtype)
    cols["epoch_start"] = t0_ns + np.arange(n, dtype=np.int64) * round(epoch_s * 1e9)
    cols["epoch_s"] = np.full(n, epoch_s)
    cols["coverage"] = np.ones(n)
    cols["zone"] = rng.integers(0, 4, n).astype(np.int8)
    if enmo is not None:
        cols["enmo_mg"] = np.asarray(enmo, dtype=np.float64)
    return EpochTable(cols)


def block(device_id: str, t0_ns: int, n: int = 52, fs_hz: float = 52.0,
          seed: int = 0) -> SampleBlock:
    """A SampleBlock of Gaussian samples (float32, g)."""
    rng = np.random.default_rng(seed)
    return SampleBlock(device_id, t0_ns, fs_hz,
                       rng.normal(0, 0.5, (n, 3)).astype(np.float32))


def gap(start_ns: int, end_ns: int, missing: int = 10, reason: str = "frame_loss") -> Gap:
    """A Gap record."""
    return Gap(start_ns, end_ns, missing, reason)
