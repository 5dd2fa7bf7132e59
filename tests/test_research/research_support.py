"""A small cohort in a movereg database, shared by the research tests (not a test module)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from movereg.config import Settings
from movereg.signal import EpochTable
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.storage import IngestBatch, Store

T0 = int(datetime(2025, 6, 6, 0, 0, tzinfo=UTC).timestamp()) * 10**9   # a Friday
EPOCH_S = 60.0


def epochs(seed: int, t0: int, n: int) -> EpochTable:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for name, dtype in EPOCH_COLUMNS:
        kind = np.dtype(dtype).kind
        cols[name] = (rng.random(n).astype(dtype) if kind == "f"
                      else rng.integers(0, 100, n).astype(dtype))
    cols["epoch_start"] = t0 + np.arange(n, dtype=np.int64) * round(EPOCH_S * 1e9)
    cols["epoch_s"] = np.full(n, EPOCH_S)
    cols["coverage"] = np.where(rng.random(n) < 0.05, 0.5, 1.0)
    cols["zone"] = rng.integers(0, 4, n).astype(np.int8)
    hours = (np.arange(n) // 60) % 24
    off = (hours < 2 + seed * 3) | (rng.random(n) < 0.02)                 # nights off
    cols["nonwear"] = off.astype(np.int8)
    cols["rhythmic_fraction"] = rng.random(n) * (rng.random(n) < 0.1)
    return EpochTable(cols)


def cohort(tmp_path: Path) -> str:
    """Three children, each with a band: 2.5, 3 and 1.7 days of 60-s epochs."""
    with Store(Settings(data_dir=tmp_path).db_path) as store:
        for k, days in enumerate((2.5, 3.0, 1.7)):
            child = store.create_child(code=f"KID-{k + 1}")
            dev = f"AA:BB:CC:DD:EE:0{k}"
            start = T0 + k * 3 * 3600 * 10**9
            store.write_batch(IngestBatch(epochs=[(dev, epochs(k, start, int(days * 1440)))]))
            store.assign_device(dev, child.id, at_ns=T0 - 10**9)
        kid1 = store.find_child("KID-1")
        assert kid1 is not None
        hour = 3600 * 10**9
        for h, key in ((9, "mov.break"), (10, "sen.weighted"), (11, "mov.break")):
            store.create_event(kid1.id, key, started_at=T0 + h * hour,
                               ended_at=T0 + h * hour + 600 * 10**9 if h < 11 else None)
        store.create_child(code="KID-EMPTY")
    return str(tmp_path)




def still_spells(seed: int, fs: float, n_orient: int, still_s: float,
                 move_s: float) -> np.ndarray:
    """Still spells (1 g, 1 mg noise) in ``n_orient`` random orientations with movement
    (0.3 g noise) between, ``(n, 3)`` in g at ``fs`` Hz: what a sphere fit needs."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(n_orient):
        v = rng.normal(size=3)
        v /= np.linalg.norm(v)
        n_still, n_move = int(still_s * fs), int(move_s * fs)
        parts.append(np.tile(v, (n_still, 1)) + rng.normal(0, 0.001, (n_still, 3)))
        parts.append(v + rng.normal(0, 0.3, (n_move, 3)))
    return np.vstack(parts)
