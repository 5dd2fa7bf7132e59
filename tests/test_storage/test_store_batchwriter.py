"""BatchWriter: non-blocking adds, periodic flush, final flush, retry after failure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from h5_store_support import T0, block, epochs, gap

from movereg.errors import StorageError
from movereg.signal import EpochTable
from movereg.storage import BatchWriter, IngestBatch, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "m.sqlite3")
    yield s  # type: ignore[misc]
    s.close()


async def test_flushes_periodically_and_on_stop(store: Store) -> None:
    w = BatchWriter(store, interval_s=0.05)
    await w.start()
    w.add_samples("dev", block("dev", T0))
    w.add_epochs("dev", epochs(T0, 10))
    w.add_gap("dev", gap(T0, T0 + 1))
    assert w.pending == 3
    for _ in range(100):
        if store.count_epochs("dev")[0] == 10:
            break
        await asyncio.sleep(0.02)
    assert store.count_epochs("dev") == (10, 10)
    assert w.stats.batches >= 1
    w.add_epochs("dev", epochs(T0 + 10 * 10**9, 5))
    w.add_epochs("dev", EpochTable.empty())  # ignored
    await w.stop()  # final flush
    assert store.count_epochs("dev") == (15, 15)
    assert len(list(store.iter_raw(device_id="dev"))) == 1
    assert len(store.gaps(device_id="dev")) == 1
    assert w.pending == 0


async def test_failed_flush_keeps_data_for_the_next_one(store: Store,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    w = BatchWriter(store, interval_s=10.0)
    real = store.write_batch
    calls = {"n": 0}

    def flaky(batch: IngestBatch) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StorageError("database or disk is full", advice="free space")
        real(batch)

    monkeypatch.setattr(store, "write_batch", flaky)
    w.add_epochs("dev", epochs(T0, 4))
    await w.flush()
    assert w.stats.failures == 1 and w.pending == 1
    assert store.count_epochs("dev") == (0, 0)
    w.add_epochs("dev", epochs(T0 + 4 * 10**9, 4))
    await w.flush()
    assert store.count_epochs("dev") == (8, 8)
    assert w.pending == 0


async def test_malformed_item_is_dropped_not_the_batch(store: Store) -> None:
    w = BatchWriter(store, interval_s=10.0)
    good = epochs(T0, 6)
    bad = type("Bad", (), {"columns": {**good.columns, "zone": np.zeros(1, np.int8)},
                           "n": 6})()
    w.add_epochs("dev", bad)
    w.add_epochs("dev", good)
    await w.flush()
    assert store.count_epochs("dev") == (6, 6)
    assert w.stats.dropped_items == 1


async def test_pending_is_bounded_while_storage_refuses(store: Store,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(batch: IngestBatch) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(store, "write_batch", broken)
    w = BatchWriter(store, interval_s=10.0, max_pending=10)
    for i in range(25):
        w.add_samples("dev", block("dev", T0 + i * 10**9))
        await w.flush()
    assert w.pending == 10
    assert w.stats.dropped_items == 15
