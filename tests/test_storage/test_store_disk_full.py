"""Sensor data and the audit log on a full disk: nothing stored is damaged, nothing
waiting is lost, and writing resumes by itself when space returns (#21 hole 6)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from h5_store_support import T0, block

from movereg.storage import BatchWriter, IngestBatch, Store


def _blocks(db: Path) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT device_id, t0_ns, n, data FROM raw_blocks "
                           "ORDER BY t0_ns").fetchall()
    finally:
        con.close()


async def _until(cond: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_batch_writer_waits_out_a_full_disk(small_fs: Path,
                                                  fill_disk: Callable[[Path], Path],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    db = small_fs / "data" / "movereg.sqlite3"
    store = Store(db)
    store.write_batch(IngestBatch(raw=[("dev-1", block("dev-1", T0 + i * 10**9))
                                       for i in range(60)]))
    store.audit("tess(therapist)", "read.epochs")
    stored = _blocks(db)
    writer = BatchWriter(store, interval_s=0.05)
    await writer.start()
    filler = fill_disk(small_fs)
    with caplog.at_level(logging.WARNING):
        for i in range(60, 160):                       # two seconds of a 52 Hz band ...
            writer.add_samples("dev-1", block("dev-1", T0 + i * 10**9))
            store.audit("tess(therapist)", "read.day")     # ... and reads meanwhile
            await asyncio.sleep(0.01)
        await _until(lambda: store.disk_full_since is not None and writer.stats.failures > 0,
                     "the writer to notice the full disk")
        assert [c["key"] for c in store.conditions()] == ["disk_full"]
        assert store.audit_pending > 0                 # reads went on; their audit waits
        # the writer holds what did not fit (a retry may already have fitted some blocks
        # into pages SQLite freed: those must follow the stored ones, none touched)
        assert _blocks(db)[:len(stored)] == stored     # nothing already written touched

        filler.unlink()                                # no restart: the loop notices
        await _until(lambda: not (writer.pending or store.audit_pending
                                  or store.conditions()), "writing to resume")
    await writer.stop()
    rows = _blocks(db)
    assert rows[:60] == stored
    assert [r[1] for r in rows] == [T0 + i * 10**9 for i in range(160)]   # none lost, none twice
    assert writer.stats.dropped_items == 0
    assert store.integrity_check()
    v = store.verify_audit()
    assert v.ok, v.problem
    actions = [e.action for e in store.list_audit(limit=200)][::-1]
    assert actions.count("read.day") == 100
    assert actions.index("storage.disk_full") < actions.index("storage.disk_space_back")
    assert any("writing resumed" in r.getMessage() for r in caplog.records)
    store.close()


def test_reads_are_refused_with_a_reason_once_the_buffer_is_full(
        small_fs: Path, fill_disk: Callable[[Path], Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import movereg.storage._audit as audit_mod
    from movereg.errors import DiskFullError

    monkeypatch.setattr(audit_mod, "AUDIT_BUFFER_MAX", 5)
    db = small_fs / "data" / "movereg.sqlite3"
    store = Store(db)
    store.audit("tess(therapist)", "read.epochs")
    filler = fill_disk(small_fs)
    waiting = 0
    with pytest.raises(DiskFullError, match="cannot be recorded, so it is refused"):
        for _ in range(10):
            assert store.audit("tess(therapist)", "read.day") is None
            waiting += 1
    assert store.audit_pending == 5 and waiting >= 4      # 'disk full' + the reads
    filler.unlink()
    store.close()                                         # closing writes what waited
    with Store(db) as again:
        actions = [e.action for e in again.list_audit(limit=20)][::-1]
        assert actions[:2] == ["read.epochs", "storage.disk_full"]
        assert actions.count("read.day") == waiting
        assert again.verify_audit().ok
