"""Encrypted backup and restore: every table comes back, the audit head travels and is
checked, bad passphrases and damaged files give one line and exit 2."""

from __future__ import annotations

import io
import sqlite3
import threading
from pathlib import Path

import pytest
from h5_store_support import T0, block, epochs, gap

from movereg.cli import main
from movereg.storage import IngestBatch, Store, create_backup, restore_backup

PASS = "a long clinic passphrase"


def _clinic(data: Path) -> Path:
    """A data directory with something in every kind of table."""
    db = data / "movereg.sqlite3"
    with Store(db) as store:
        kid = store.create_child(code="KID-1", display_name="Robin")
        user = store.create_user("tess", "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "therapist")
        store.link_user_child(user.id, kid.id)
        store.record_consent(kid.id, consented=True, scope="features+raw", recorded_by="tess")
        store.assign_device("dev-1", kid.id, at_ns=T0 - 10**9)
        sess = store.start_session(kid.id, created_by=user.id)
        store.write_batch(IngestBatch(raw=[("dev-1", block("dev-1", T0 + i * 10**9))
                                           for i in range(30)],
                                      epochs=[("dev-1", epochs(T0, 30))],
                                      gaps=[("dev-1", gap(T0 + 31 * 10**9, T0 + 40 * 10**9))]))
        store.create_event(kid.id, "mov.break", started_at=T0 + 5 * 10**9,
                           session_id=sess.id, logged_by=user.id, note="swing")
        store.create_token(user.id, "bearer", 3600)
        for i in range(20):
            store.audit("tess(therapist)", "read.epochs", child_id=kid.id, detail={"i": i})
    return db


def _dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = "
                                           "'table' ORDER BY name")]
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall()
                for t in names}
    finally:
        con.close()


def _cli(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def test_backup_and_restore_give_back_every_table(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    db = _clinic(data)
    out = tmp_path / "clinic.movereg-backup"
    assert _cli(["backup", "--data-dir", str(data), "--out", str(out), "--passphrase-stdin"],
                PASS + "\n", monkeypatch) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    blob = out.read_bytes()
    assert b"KID-1" not in blob and b"Robin" not in blob and b"SQLite format" not in blob
    new = tmp_path / "restored"
    assert _cli(["restore", str(out), "--data-dir", str(new), "--passphrase-stdin"],
                PASS + "\n", monkeypatch) == 0
    text = capsys.readouterr().out
    assert "audit log of 20 entries ends at the head recorded in the backup" in text
    want, got = _dump(db), _dump(new / "movereg.sqlite3")
    assert set(got) == set(want) and len(want) >= 15
    for table in want:
        assert got[table] == want[table], table
    assert (new / "secrets.json").read_text() == (data / "secrets.json").read_text()
    assert (new / "secrets.json").stat().st_mode & 0o777 == 0o600
    with Store(new / "movereg.sqlite3") as store:
        v = store.verify_audit()
        assert v.ok and v.rows == 20
        assert all(c.ok and c.note is None for c in v.anchors)   # head file starts in step


def test_backup_while_the_server_writes_is_consistent(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = _clinic(data)
    stop = threading.Event()
    with Store(db) as live:
        def writer() -> None:
            i = 0
            while not stop.is_set():
                with live.transaction():
                    live.write_batch(IngestBatch(raw=[("dev-1", block("dev-1",
                                                                      T0 + (100 + i) * 10**9))]))
                    live.audit("system", "ingest", detail={"i": i})
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        try:
            infos = [create_backup(data, tmp_path / f"b{k}", PASS) for k in range(3)]
        finally:
            stop.set()
            t.join()
    assert infos[-1].audit_n > 20
    for k, info in enumerate(infos):
        assert info.head_ok
        new = tmp_path / f"r{k}"
        got = restore_backup(tmp_path / f"b{k}", new, PASS)
        # the audit head and the raw blocks of the same transactions came together
        assert got.tables["raw_blocks"] - 30 == got.audit_n - 20
        with Store(new / "movereg.sqlite3") as store:
            assert store.integrity_check() and store.verify_audit().ok


@pytest.mark.parametrize("case", ["wrong passphrase", "flipped byte", "cut short",
                                  "dropped segment", "not a backup"])
def test_bad_input_gives_one_line_and_exit_2(case: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    _clinic(data)
    with Store(data / "movereg.sqlite3") as store:    # > 1 segment of 1 MiB
        store.write_batch(IngestBatch(raw=[("dev-1", block("dev-1", T0 + (60 + i) * 10**9,
                                                           n=52 * 20)) for i in range(400)]))
    out = tmp_path / "b"
    create_backup(data, out, PASS)
    blob = bytearray(out.read_bytes())
    assert len(blob) > 2 * (1 << 20)
    passphrase = PASS
    if case == "wrong passphrase":
        passphrase = "not the passphrase"
    elif case == "flipped byte":
        blob[len(blob) // 2] ^= 0x01
    elif case == "cut short":
        del blob[-1000:]
    elif case == "dropped segment":
        hlen = int.from_bytes(blob[16:20], "big")
        first = 20 + hlen + 16
        seg = int.from_bytes(blob[first:first + 4], "big")
        del blob[first + 4 + seg:first + 4 + seg + 4 + seg]       # the second segment
    else:
        blob = bytearray(b"PK\x03\x04" + bytes(blob[4:]))
    out.write_bytes(bytes(blob))
    capsys.readouterr()
    new = tmp_path / "new"
    code = _cli(["restore", str(out), "--data-dir", str(new), "--passphrase-stdin"],
                passphrase + "\n", monkeypatch)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("movereg restore: error: "), err
    expect = {"wrong passphrase": "wrong passphrase", "not a backup": "not a movereg backup"}
    assert expect.get(case, "damaged") in err
    assert not new.exists()                                       # nothing left behind


def test_restore_refuses_a_non_empty_directory(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    _clinic(data)
    create_backup(data, tmp_path / "b", PASS)
    code = _cli(["restore", str(tmp_path / "b"), "--data-dir", str(data),
                 "--passphrase-stdin"], PASS + "\n", monkeypatch)
    assert code == 2 and "is not empty" in capsys.readouterr().err
    assert _dump(data / "movereg.sqlite3")["audit_log"]           # untouched


def test_restore_checks_the_audit_head_carried_in_the_backup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backup whose database does not end at the head it carries is refused."""
    import movereg.storage._backup as bk

    data = tmp_path / "data"
    _clinic(data)
    real = bk._head_of

    def one_more(con: sqlite3.Connection, key: bytes | None) -> tuple[int, str, bool]:
        n, last, ok = real(con, key)
        return n + 1, last, ok                 # a head the database does not reach

    monkeypatch.setattr(bk, "_head_of", one_more)
    create_backup(data, tmp_path / "b", PASS)
    monkeypatch.setattr(bk, "_head_of", real)
    with pytest.raises(Exception, match="does not end at the head recorded in the backup"):
        restore_backup(tmp_path / "b", tmp_path / "new", PASS)
    assert not (tmp_path / "new").exists()


def test_backup_refuses_short_passphrases_and_existing_files(tmp_path: Path) -> None:
    from movereg.errors import ValidationError

    data = tmp_path / "data"
    _clinic(data)
    with pytest.raises(ValidationError, match="at least 8"):
        create_backup(data, tmp_path / "b", "short")
    (tmp_path / "b").write_text("keep me")
    with pytest.raises(ValidationError, match="already exists"):
        create_backup(data, tmp_path / "b", PASS)
    assert (tmp_path / "b").read_text() == "keep me"
