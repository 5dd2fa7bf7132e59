"""Picking a device's stream up again after a restart (clean or after a crash).

Where the stored samples of a device end, and the raw samples needed to recompute the
epochs that a crash left unfinished: the feature engine emits an epoch only
``lag_s`` (about 6.5 s) after it ends, so a ``kill -9`` leaves the last few seconds of
stored samples without epochs. On restart the hub replays the stored tail (with
``WARMUP_S`` of earlier samples to fill the filters and rhythm windows) through a fresh
engine and stores the epochs after the last stored one. The recomputed epochs equal the
uninterrupted ones except for look-backs longer than the warm-up (the 45-60 min
non-wear window).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

from movereg.models import SampleBlock
from movereg.sensors.clock import gap_between, with_gaps

__all__ = ["STATE_FILE", "WARMUP_S", "mark_state", "overlap_samples", "recovery_blocks", "stored_end_ns", "table_tail",
           "trimmed"]

log = logging.getLogger(__name__)

#: Marker in the data directory: did the last process using it stop cleanly?
STATE_FILE = "pipeline-state.json"
#: Seconds of stored samples fed before the first epoch to recompute.
WARMUP_S = 30.0
#: Only recompute when the last stored epoch is at most this long (s) before the end of
#: the stored samples (otherwise the tail is not a crash remnant).
_MAX_TAIL_S = 120.0


def stored_end_ns(store: Any, db_path: Path, device_id: str) -> int | None:
    """Exclusive end (UTC ns) of the device's last stored sample block, if any."""
    fn = getattr(store, "last_sample_end_ns", None)
    if fn is not None:
        value = fn(device_id)
        return None if value is None else int(value)
    if not Path(db_path).exists():
        return None
    try:  # a read-only look at the raw_blocks table (storage schema v1)
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5.0)
        try:
            row = con.execute("SELECT t0_ns, fs_hz, n FROM raw_blocks WHERE device_id = ? "
                              "ORDER BY t0_ns DESC LIMIT 1", (device_id,)).fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        log.warning("cannot read the last stored sample of %s: %s", device_id, exc)
        return None
    if row is None:
        return None
    t0, fs, n = int(row[0]), float(row[1]), int(row[2])
    return t0 + round(n * 1e9 / fs)


def recovery_blocks(store: Any, device_id: str, end_ns: int,
                    epoch_s: float) -> tuple[list[SampleBlock], int | None]:
    """Stored blocks to replay and the last stored epoch start (``None``: nothing to do).

    Returns ``([], None)`` when the store cannot tell, when no epoch was stored in the
    last ``_MAX_TAIL_S`` before ``end_ns``, or when every stored sample already has its
    epoch.
    """
    epochs = getattr(store, "epochs", None)
    iter_raw = getattr(store, "iter_raw", None)
    if epochs is None or iter_raw is None:
        return [], None
    ep = epochs(device_id=device_id, start_ns=end_ns - round(_MAX_TAIL_S * 1e9),
                end_ns=end_ns, features=["coverage"])
    starts = ep["epoch_start"]
    if len(starts) == 0:
        return [], None
    last = int(starts.max())
    if last + round(epoch_s * 1e9) >= end_ns:
        return [], None
    blocks: list[SampleBlock] = []
    for c in iter_raw(device_id=device_id, start_ns=last - round(WARMUP_S * 1e9)):
        block = SampleBlock(device_id=device_id, t0_ns=c.t0_ns, fs_hz=c.fs_hz,
                            samples=c.samples)
        gap = gap_between(blocks[-1].t_end_ns, c.t0_ns, c.fs_hz, "stored") if blocks else None
        blocks.append(block if gap is None else with_gaps(block, (gap,)))
    return blocks, last


def trimmed(block: SampleBlock, skip: int) -> SampleBlock:
    """``block`` without its first ``skip`` samples."""
    t0 = block.t0_ns + round(skip * 1e9 / block.fs_hz)
    return SampleBlock(device_id=block.device_id, t0_ns=t0, fs_hz=block.fs_hz,
                       samples=block.samples[skip:], gap_before_s=0.0, gaps=())


def overlap_samples(block: SampleBlock, prev_end_ns: int) -> int:
    """Samples at the start of ``block`` that lie before ``prev_end_ns`` (already stored)."""
    dt_ns = 1e9 / block.fs_hz
    if block.t0_ns >= prev_end_ns - dt_ns / 2:
        return 0
    return min(block.n, math.ceil((prev_end_ns - block.t0_ns) / dt_ns - 0.5))


def table_tail(table: Any, start: int) -> Any:
    """Rows ``start:`` of an epoch table (an EpochTable or any ``.columns``/``.n`` table)."""
    if start == 0:
        return table
    if hasattr(table, "slice"):
        return table.slice(start, int(table.n))
    return type(table)({k: np.asarray(v)[start:] for k, v in table.columns.items()})


def mark_state(data_dir: Path, *, clean: bool) -> bool:
    """Write the clean/dirty marker; return whether the previous run ended cleanly.

    The hub marks the data directory dirty at start and clean after its final flush, so
    a run that is killed leaves it dirty and the next run records ``"crash"`` gaps.
    """
    path = Path(data_dir) / STATE_FILE
    previous = True
    with contextlib.suppress(OSError, ValueError):
        previous = bool(json.loads(path.read_text(encoding="utf-8")).get("clean", True))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"clean": clean, "pid": os.getpid(),
                                   "ts_ns": time.time_ns()}), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc)
    return previous
