"""Opening, migrations, pragmas and damaged files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from movereg.errors import StorageError
from movereg.storage import SCHEMA_VERSION, Store, load_default_strategies


def test_fresh_database_is_migrated_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "m.sqlite3"
    with Store(db) as store:
        assert store.schema_version == SCHEMA_VERSION >= 1
        con = store._read()
        assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert con.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert store.integrity_check()
    raw = sqlite3.connect(db)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        raw.close()
    assert {"children", "child_names", "devices", "assignments", "sessions", "raw_blocks",
            "epochs", "gaps", "strategies", "strategy_events", "users", "user_children",
            "api_tokens", "audit_log"} <= tables


def test_reopen_keeps_data_and_does_not_reseed(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    with Store(db) as store:
        n = len(store.list_strategies())
        assert n == len(load_default_strategies()) > 50
        store.set_strategy_active("ves.spin", False)
        store.create_child(code="KID-1")
    with Store(db) as store:
        assert len(store.list_strategies()) == n - 1  # the clinic's edit survived
        assert store.find_child("KID-1") is not None


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    with Store(tmp_path / "m.sqlite3") as store, pytest.raises(StorageError), \
            store.transaction() as con:
        con.execute("INSERT INTO user_children(user_id, child_id) VALUES (99, 99)")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    Store(db).close()
    con = sqlite3.connect(db)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    con.close()
    with pytest.raises(StorageError, match="newer"):
        Store(db)


def test_garbage_file_gives_storage_error_with_advice(tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    db.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StorageError) as info:
        Store(db)
    assert info.value.advice and "backup" in info.value.advice


def test_unwritable_data_dir_gives_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError):
        Store(blocker / "m.sqlite3")


def test_closed_store_refuses_work(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.sqlite3")
    store.close()
    store.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        store.list_children()


def test_full_database_gives_storage_error_and_writes_nothing(tmp_path: Path) -> None:
    import numpy as np

    from movereg.models import SampleBlock
    from movereg.storage import IngestBatch

    store = Store(tmp_path / "m.sqlite3")
    try:
        pages = store._wcon.execute("PRAGMA page_count").fetchone()[0]
        store._wcon.execute(f"PRAGMA max_page_count = {pages + 2}")  # a tiny "disk"
        noise = np.random.default_rng(0).normal(size=(20_000, 3)).astype(np.float32)
        batch = IngestBatch(raw=[("dev", SampleBlock("dev", 10**18, 50.0, noise))])
        with pytest.raises(StorageError) as info:
            store.write_batch(batch)
        assert "full" in str(info.value) and info.value.advice and "space" in info.value.advice
        assert list(store.iter_raw(device_id="dev")) == []
        store.audit("x", "still works")  # small writes still fit
    finally:
        store.close()


def test_locked_and_corrupt_errors_carry_advice() -> None:
    from movereg.storage._db import map_errors

    for message, word in (("database is locked", "another process"),
                          ("database disk image is malformed", "backup"),
                          ("attempt to write a readonly database", "writable")):
        with pytest.raises(StorageError) as info, map_errors("x"):
            raise sqlite3.OperationalError(message)
        assert info.value.advice is not None and word in info.value.advice
