"""Helpers for building synthetic epoch tables (1-s epochs unless told)."""

from __future__ import annotations

import numpy as np
import pytest

from movereg.signal.schema import EPOCH_COLUMNS

NS = 1_000_000_000
T0 = 1_780_000_000 * NS  # 2026-05-28T20:26:40Z, an arbitrary UTC ns origin


def make_epochs(n: int, *, t0: int = T0, epoch_s: float = 1.0, enmo: float | np.ndarray = 50.0,
                **overrides: np.ndarray) -> dict[str, np.ndarray]:
    """A full EPOCH_COLUMNS table; ``overrides`` replace columns."""
    cols: dict[str, np.ndarray] = {}
    for name, dt in EPOCH_COLUMNS:
        cols[name] = np.zeros(n, dtype=dt)
    cols["epoch_start"] = t0 + (np.arange(n) * epoch_s * NS).astype(np.int64)
    cols["epoch_s"] = np.full(n, epoch_s)
    cols["coverage"] = np.ones(n)
    cols["enmo_mg"] = np.broadcast_to(np.asarray(enmo, dtype=np.float64), (n,)).copy()
    cols["zone"] = np.searchsorted([35.6, 201.4, 707.0], cols["enmo_mg"],
                                   side="right").astype(np.int8)
    cols["rhythm_hz"] = np.full(n, np.nan)
    for k, v in overrides.items():
        cols[k] = np.asarray(v, dtype=dict(EPOCH_COLUMNS).get(k, "float64"))
    return cols


@pytest.fixture
def epochs_factory():
    return make_epochs
