"""Audit tampering that a hash chain alone cannot see (#21 hole 7), each case detected.

The attacker holds the database file (any SQLite client, triggers dropped) but not the
data directory's ``secrets.json``, and cannot rewrite the append-only ``audit-head.log``.
Every case here passed ``verify-audit`` before the chain was anchored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest

from movereg.cli import main
from movereg.storage import AuditVerification, Store

N = 12


def _filled(tmp_path: Path, n: int = N) -> Path:
    db = tmp_path / "data" / "movereg.sqlite3"
    with Store(db) as store:
        child = store.create_child(code="KID-1")
        for i in range(n):
            store.audit("tess(therapist)", "read.epochs",
                        child_id=child.id if i % 2 else None, detail={"i": i})
        assert store.verify_audit().ok
    return db


class _Attacker:
    """A raw SQLite connection with the append-only triggers dropped; ``close`` puts them
    back as they were (a careful attacker leaves no trace in the schema)."""

    def __init__(self, db: Path, *, restore_triggers: bool = True) -> None:
        self.con = sqlite3.connect(db, isolation_level=None)
        self.triggers = self.con.execute("SELECT sql FROM sqlite_master WHERE type = "
                                         "'trigger' AND tbl_name = 'audit_log'").fetchall()
        self.restore = restore_triggers
        self.con.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        self.con.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        self.execute = self.con.execute

    def close(self) -> None:
        if self.restore:
            for (sql,) in self.triggers:
                self.con.execute(sql)
        self.con.close()


def _attacker(db: Path, *, restore_triggers: bool = True) -> _Attacker:
    return _Attacker(db, restore_triggers=restore_triggers)


def _hash(prev: str, ts: int, actor: str, action: str, child: int | None, detail: str,
          outcome: str) -> str:
    """The chain's published formula (anyone reading the source can recompute it)."""
    payload = json.dumps([prev, ts, actor, action, child, detail, outcome],
                         separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _rehash_from(con: _Attacker, first_id: int) -> None:
    prev = con.execute("SELECT hash FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT 1",
                       (first_id,)).fetchone()
    prev_h = prev[0] if prev else "0" * 64
    rows = con.execute("SELECT id, ts_ns, actor, action, child_id, detail, outcome FROM "
                       "audit_log WHERE id >= ? ORDER BY id", (first_id,)).fetchall()
    for rid, ts, actor, action, child, detail, outcome in rows:
        h = _hash(prev_h, ts, actor, action, child, detail, outcome)
        con.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?",
                    (prev_h, h, rid))
        prev_h = h


def _verify(db: Path) -> AuditVerification:
    with Store(db) as store:
        return store.verify_audit()


def _anchor(v: AuditVerification, name: str) -> tuple[bool, str | None]:
    check = next(c for c in v.anchors if c.name == name)
    return check.ok, check.problem


def test_untouched_log_passes_every_anchor(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    v = _verify(db)
    assert v.ok and v.entries == N and v.rows == N
    with Store(db) as store:      # opening again re-creates nothing, writes no entry
        assert [e.action for e in store.list_audit(limit=1)] == ["read.epochs"]
    assert [(c.name, c.ok) for c in v.anchors] == [("chain", True), ("database head", True),
                                                    ("head file", True)]
    key_file = tmp_path / "data" / "secrets.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    # the key is nowhere in the database
    key = json.loads(key_file.read_text())["audit_hmac_key"]
    assert key.encode() not in (tmp_path / "data" / "movereg.sqlite3").read_bytes()


def test_deleting_the_last_rows_is_detected(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    con = _attacker(db)
    con.execute("DELETE FROM audit_log WHERE id > 9")
    con.close()
    v = _verify(db)
    assert not v.ok
    assert _anchor(v, "chain") == (True, None)       # the chain alone cannot see it
    ok, problem = _anchor(v, "database head")
    assert not ok and "3 removed at the end" in str(problem)
    ok, problem = _anchor(v, "head file")
    assert not ok and "entries removed" in str(problem)
    assert v.problem is not None and v.problem.startswith("database head:")


def test_deleting_every_row_is_detected(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    con = _attacker(db)
    con.execute("DELETE FROM audit_log")
    con.close()
    v = _verify(db)
    assert not v.ok and v.rows == 0
    assert not _anchor(v, "database head")[0]
    assert not _anchor(v, "head file")[0]


def test_deleting_every_row_and_the_head_is_detected(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    con = _attacker(db)
    con.execute("DELETE FROM audit_log")
    con.execute("DELETE FROM meta WHERE key = 'audit_head'")
    con.close()
    v = _verify(db)
    assert not v.ok
    ok, problem = _anchor(v, "database head")
    assert not ok and "missing" in str(problem)
    assert not _anchor(v, "head file")[0]


def test_appending_a_correctly_hashed_row_is_detected(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    con = _attacker(db)
    last = con.execute("SELECT hash, ts_ns FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    ts = last[1] + 1000
    h = _hash(last[0], ts, "ada(admin)", "user.disable", None, "{}", "ok")
    con.execute("INSERT INTO audit_log(ts_ns, actor, action, child_id, detail, outcome, "
                "prev_hash, hash) VALUES (?, 'ada(admin)', 'user.disable', NULL, '{}', 'ok', "
                "?, ?)", (ts, last[0], h))
    con.close()
    v = _verify(db)
    assert not v.ok
    assert _anchor(v, "chain")[0]
    ok, problem = _anchor(v, "database head")
    assert not ok and "1 added outside movereg" in str(problem)
    # the head file only proves nothing was removed or rewritten up to its head
    assert _anchor(v, "head file")[0]


def test_editing_a_row_and_rehashing_the_rest_is_detected(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    con = _attacker(db)
    con.execute("UPDATE audit_log SET actor = 'someone(else)' WHERE id = 5")
    _rehash_from(con, 5)
    con.close()
    v = _verify(db)
    assert not v.ok
    assert _anchor(v, "chain")[0]                    # re-hashed: the chain is consistent
    ok, problem = _anchor(v, "database head")
    assert not ok and "rewritten" in str(problem)
    ok, problem = _anchor(v, "head file")
    assert not ok and "history rewritten" in str(problem)


def test_a_forged_head_is_detected(tmp_path: Path) -> None:
    """Delete rows, then write a head that matches them: the HMAC key is not in the db."""
    db = _filled(tmp_path)
    con = _attacker(db)
    con.execute("DELETE FROM audit_log WHERE id > 6")
    last = con.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()[0]
    head = json.loads(con.execute("SELECT value FROM meta WHERE key = 'audit_head'")
                      .fetchone()[0])
    head.update(n=6, hash=last)
    con.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (json.dumps(head),))
    con.close()
    v = _verify(db)
    ok, problem = _anchor(v, "database head")
    assert not ok and "HMAC" in str(problem)
    assert not _anchor(v, "head file")[0]


def test_an_older_copy_of_the_database_is_detected(tmp_path: Path) -> None:
    """Swap in yesterday's copy (consistent head and all): the head file is ahead of it."""
    db = _filled(tmp_path)
    old = tmp_path / "old.sqlite3"
    shutil.copy(db, old)
    with Store(db) as store:
        store.audit("tess(therapist)", "read.day")
        store.audit("tess(therapist)", "export.csv")
    shutil.copy(old, db)
    v = _verify(db)
    assert _anchor(v, "chain")[0] and _anchor(v, "database head")[0]
    ok, problem = _anchor(v, "head file")
    assert not ok and "older copy" in str(problem)
    assert not v.ok


def test_tampering_stays_detected_after_later_writes(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    con = _attacker(db)
    con.execute("DELETE FROM audit_log WHERE id = 12")
    con.close()
    with Store(db) as store:
        for _ in range(3):                            # the service keeps writing
            store.audit("tess(therapist)", "read.epochs")
        v = store.verify_audit()
    assert not v.ok
    ok, problem = _anchor(v, "database head")
    assert not ok and "tampered" in str(problem)


def test_a_missing_head_file_is_detected(tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    """Found at verification; on the next start it is logged, audited and started anew."""
    db = _filled(tmp_path)
    with Store(db) as running:
        (db.parent / "audit-head.log").unlink()
        ok, problem = _anchor(running.verify_audit(), "head file")
        assert not ok and "missing" in str(problem)
    with caplog.at_level(logging.WARNING, logger="movereg.storage"), Store(db) as store:
        newest = store.list_audit(limit=1)[0]
        assert (newest.action, newest.outcome) == ("audit.head_file_missing", "failed")
        assert json.loads(newest.detail) == {"entries": N}
        assert store.verify_audit().ok
    assert any("is missing" in r.getMessage() for r in caplog.records)


def test_dropped_triggers_are_recreated_logged_and_audited(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = _filled(tmp_path)
    con = _attacker(db, restore_triggers=False)
    con.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                "BEGIN SELECT 1; END")                 # a harmless look-alike
    con.close()
    with caplog.at_level(logging.WARNING, logger="movereg.storage"), Store(db) as store:
        newest = store.list_audit(limit=1)[0]
        assert newest.action == "audit.triggers_recreated"
        assert json.loads(newest.detail)["triggers"] == ["audit_log_no_update",
                                                         "audit_log_no_delete"]
        assert store.verify_audit().ok                # re-creating is not tampering
        with store.transaction() as w, pytest.raises(sqlite3.IntegrityError,
                                                     match="append-only"):
            w.execute("DELETE FROM audit_log WHERE id = 1")
    assert any("re-created" in r.getMessage() for r in caplog.records)


def test_an_old_log_is_anchored_once_when_the_key_is_created(tmp_path: Path) -> None:
    """Upgrading a data directory from before the anchors: anchored as found, once."""
    db = _filled(tmp_path)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DELETE FROM meta WHERE key = 'audit_head'")
    con.close()
    (db.parent / "secrets.json").unlink()
    (db.parent / "audit-head.log").unlink()
    v = _verify(db)
    assert v.ok and v.rows == N
    # later tampering is caught as usual
    con = _attacker(db)
    con.execute("DELETE FROM audit_log WHERE id = 12")
    con.close()
    assert not _verify(db).ok


def test_cli_names_the_failed_anchor(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    db = _filled(tmp_path)
    assert main(["user", "--data-dir", str(db.parent), "verify-audit"]) == 0
    assert "intact" in capsys.readouterr().out
    con = _attacker(db)
    con.execute("DELETE FROM audit_log WHERE id > 10")
    con.close()
    assert main(["user", "--data-dir", str(db.parent), "verify-audit"]) == 1
    out = capsys.readouterr().out
    assert "chain: ok" in out
    assert "database head: FAILED" in out and "head file: FAILED" in out


def test_two_stores_starting_on_a_new_directory_share_one_key(tmp_path: Path) -> None:
    import threading

    data = tmp_path / "data"
    data.mkdir()
    stores: list[Store] = []
    barrier = threading.Barrier(4)

    def open_one() -> None:
        barrier.wait()
        stores.append(Store(data / "movereg.sqlite3"))

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        for i, s in enumerate(stores):
            s.audit("cli", "user.list", detail={"i": i})
        assert len({s._audit_key for s in stores}) == 1
        assert stores[0].verify_audit().ok
    finally:
        for s in stores:
            s.close()
    assert not list(data.glob("*.tmp"))


def test_an_entry_rolled_back_with_its_transaction_leaves_no_head(tmp_path: Path) -> None:
    """The head file only learns committed heads: a refused write is not 'rows removed'."""
    db = _filled(tmp_path)
    with Store(db) as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.audit("tess(therapist)", "event.create")
            raise RuntimeError("the write around the entry failed")
        v = store.verify_audit()
        assert v.ok and v.rows == N, v.problem
        store.audit("tess(therapist)", "read.day")
        assert store.verify_audit().ok
