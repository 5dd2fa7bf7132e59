"""Audit log: hash chain verifies, tampering is detected, rows are append-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from movereg.errors import StorageError
from movereg.storage import Store


def _filled(tmp_path: Path, n: int = 12) -> tuple[Path, Store]:
    db = tmp_path / "m.sqlite3"
    store = Store(db)
    child = store.create_child(code="KID-1")
    for i in range(n):
        store.audit("tess(therapist)", "read.epochs", child_id=child.id if i % 2 else None,
                    detail={"i": i})
    return db, store


def test_chain_verifies(tmp_path: Path) -> None:
    _, store = _filled(tmp_path)
    v = store.verify_audit()
    assert v.ok and v.entries == 12
    newest = store.list_audit(limit=3)
    assert [e.id for e in newest] == [12, 11, 10]
    assert newest[0].prev_hash == newest[1].hash
    assert len(store.list_audit(child_id=1, limit=100)) == 6
    store.close()


def test_update_and_delete_are_refused(tmp_path: Path) -> None:
    _, store = _filled(tmp_path)
    with pytest.raises(StorageError, match="append-only"), store.transaction() as con:
        con.execute("UPDATE audit_log SET actor = 'x' WHERE id = 3")
    with pytest.raises(StorageError, match="append-only"), store.transaction() as con:
        con.execute("DELETE FROM audit_log WHERE id = 3")
    assert store.verify_audit().ok
    store.close()


@pytest.mark.parametrize("tamper", ["edit", "delete", "swap"])
def test_tampering_is_detected(tmp_path: Path, tamper: str) -> None:
    db, store = _filled(tmp_path)
    store.close()
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("DROP TRIGGER audit_log_no_delete")
    if tamper == "edit":
        con.execute("UPDATE audit_log SET detail = '{\"i\":99}' WHERE id = 5")
    elif tamper == "delete":
        con.execute("DELETE FROM audit_log WHERE id = 5")
    else:
        con.execute("UPDATE audit_log SET actor = (SELECT actor FROM audit_log WHERE id = 1),"
                    " action = 'login' WHERE id = 5")
    con.commit()
    con.close()
    with Store(db) as store2:
        v = store2.verify_audit()
    assert not v.ok
    assert v.first_bad_id in (5, 6)
    assert v.entries == 4
