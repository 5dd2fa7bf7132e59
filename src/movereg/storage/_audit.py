"""Append-only, hash-chained, anchored audit log.

Each entry's ``hash`` is sha256 over the previous entry's hash and this entry's fields,
so editing, deleting or re-ordering a row in the middle breaks the chain from that row on.
SQL triggers refuse UPDATE and DELETE (re-created on start when someone dropped them).
The chain's head is anchored outside the reach of someone holding only the database
(:mod:`movereg.storage._anchor`): an HMAC under a key in ``secrets.json`` and an
append-only head file. :meth:`AuditMixin.verify_audit` checks the chain and both anchors
and says which one failed.

While the disk is full, entries wait in memory (up to :data:`AUDIT_BUFFER_MAX`) and are
written, in order and with their original times, as soon as a write succeeds again; a
read that cannot even be buffered is refused (:class:`~movereg.errors.DiskFullError`,
HTTP 507). A crash while entries wait loses them: the log then shows the
``storage.disk_full`` entry without its ``storage.disk_space_back``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import sqlite3
from typing import Any

from movereg.errors import DiskFullError, StorageError
from movereg.storage._anchor import (
    HEAD_FILE,
    HEAD_KEY_NAME,
    HEAD_META,
    TRIGGERS,
    Head,
    append_head_file,
    last_file_head,
    make_head,
    parse_head,
    same_sql,
)
from movereg.storage._core import AuditItem, StoreCore, now_ns
from movereg.storage._db import map_errors, where
from movereg.storage._secrets import secret_bytes
from movereg.storage.records import AnchorCheck, AuditEntry, AuditVerification

__all__ = ["AUDIT_BUFFER_MAX", "GENESIS", "AuditMixin"]

log = logging.getLogger("movereg.storage")

GENESIS = "0" * 64
#: Audit entries kept in memory while the disk is full; beyond it audited reads get 507.
AUDIT_BUFFER_MAX = 10_000
_COLS = "id, ts_ns, actor, action, child_id, detail, outcome, prev_hash, hash"


def _digest(prev: str, ts_ns: int, actor: str, action: str, child_id: int | None,
            detail: str, outcome: str) -> str:
    payload = json.dumps([prev, ts_ns, actor, action, child_id, detail, outcome],
                         separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _short(h: str) -> str:
    return h[:12]


class AuditMixin(StoreCore):
    """Audit writes, anchoring and verification."""

    _audit_key: bytes

    # --- start-up -------------------------------------------------------------------
    def _open_audit(self) -> None:
        """Load (or create) the HMAC key, restore dropped triggers, anchor an old log."""
        key, created = secret_bytes(self.path.parent, HEAD_KEY_NAME)
        self._audit_key = key
        restored = self._restore_triggers()
        if created:
            self._anchor_first_time()
        self._catch_up_head_file()
        if restored:
            log.warning("audit log triggers %s were missing or altered and have been "
                        "re-created", ", ".join(restored))
            self.audit("system", "audit.triggers_recreated", detail={"triggers": restored},
                       outcome="failed")

    def _restore_triggers(self) -> list[str]:
        with self._tx("cannot check audit triggers") as con:
            have = dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = "
                                    "'trigger' AND tbl_name = 'audit_log'").fetchall())
            bad = [n for n, sql in TRIGGERS.items() if not same_sql(have.get(n), sql)]
            for name in bad:
                con.execute(f"DROP TRIGGER IF EXISTS {name}")
                con.execute(TRIGGERS[name])
        return bad

    def _anchor_first_time(self) -> None:
        """A new key: anchor the log as it is now (only when nothing anchored it before)."""
        _, file_exists = last_file_head(self.path.parent)
        with self._tx("cannot anchor audit log") as con:
            if con.execute("SELECT 1 FROM meta WHERE key = ?", (HEAD_META,)).fetchone():
                return              # anchored under a key that is gone: verify reports it
            if file_exists:
                return
            n = int(con.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
            row = con.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
            head = make_head(self._audit_key, n, GENESIS if row is None else str(row[0]))
            self._put_head(con, head)
        append_head_file(self.path.parent, head)

    def _catch_up_head_file(self) -> None:
        """Bring a lagging head file up to date; a missing one is logged and audited."""
        head = self._db_head()
        if head is None or not head.valid(self._audit_key):
            return
        file_head, exists = last_file_head(self.path.parent)
        if not exists and head.n > 0:
            log.warning("%s is missing although the audit log has %d entries: started a "
                        "new one", self.path.parent / HEAD_FILE, head.n)
            self.audit("system", "audit.head_file_missing", detail={"entries": head.n},
                       outcome="failed")
        elif file_head is None or file_head.n < head.n:
            append_head_file(self.path.parent, head)

    # --- head -------------------------------------------------------------------------
    def _db_head(self) -> Head | None:
        row = self._fetch_one("audit head", "SELECT value FROM meta WHERE key = ?", (HEAD_META,))
        return parse_head(None if row is None else str(row[0]))

    @staticmethod
    def _put_head(con: sqlite3.Connection, head: Head) -> None:
        con.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                    "DO UPDATE SET value = excluded.value", (HEAD_META, head.to_json()))

    def _next_head_base(self, con: sqlite3.Connection, prev: str) -> tuple[int, bool]:
        """``(n so far, tainted)`` for the entry about to be written after ``prev``."""
        row = con.execute("SELECT value FROM meta WHERE key = ?", (HEAD_META,)).fetchone()
        head = parse_head(None if row is None else str(row[0]))
        if head is not None and head.valid(self._audit_key) and head.hash == prev:
            return head.n, head.tainted
        if head is None and prev == GENESIS:
            return 0, False
        if self.audit_mismatch_ns is None:
            self.audit_mismatch_ns = now_ns()
            log.warning("the audit log does not match its anchored head (entries removed, "
                        "added or rewritten outside movereg?): run `movereg user "
                        "verify-audit`")
        if head is not None:
            return head.n, True
        file_head, _ = last_file_head(self.path.parent)
        return (file_head.n if file_head is not None else 0), True

    # --- writing ----------------------------------------------------------------------
    def audit(self, actor: str, action: str, *, child_id: int | None = None,
              detail: dict[str, Any] | None = None, outcome: str = "ok") -> AuditEntry | None:
        """Append one entry (what, when, who, outcome, which child).

        Returns the entry, or None when the disk is full and it waits in memory. Inside a
        :meth:`transaction` the entry is part of it and never waits: a full disk fails
        the whole transaction.

        Raises
        ------
        DiskFullError
            The disk is full and :data:`AUDIT_BUFFER_MAX` entries already wait.
        """
        text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)
        item: AuditItem = (now_ns(), actor, action, child_id, text, outcome)
        with self._wlock:
            if self._depth:
                # inside the caller's transaction: the entry shares its fate (a write
                # refused for lack of space takes its audit entry with it)
                return self._write_audit([item])[-1]
            try:
                if self._audit_pending:
                    if not self._disk_retry_due():
                        raise DiskFullError("the disk is still full")
                    self._flush_audit_pending()
                return self._write_audit([item])[-1]
            except DiskFullError:
                if len(self._audit_pending) >= AUDIT_BUFFER_MAX:
                    raise DiskFullError(
                        f"the disk is full and {len(self._audit_pending)} audit entries are "
                        "already waiting: this request cannot be recorded, so it is refused",
                        advice="free disk space on the data directory's drive; movereg "
                               "resumes by itself") from None
                self._audit_pending.append(item)
                return None

    def _flush_audit_pending(self) -> int:
        """Write the entries waiting for disk space (all or none); returns how many."""
        done = 0
        with self._wlock:
            while items := list(self._audit_pending):
                self._write_audit(items)     # its commit may queue "disk space back"
                del self._audit_pending[:len(items)]
                done += len(items)
        return done

    def retry_pending(self) -> int:
        """Try to write what waits for disk space now; returns the entries written.

        While the disk is marked full and nothing waits, a tiny probe write tells whether
        space is back (so the condition clears without any other write).
        """
        if (self.disk_full_since is None and not self._audit_pending) or \
                not self._disk_retry_due():
            return 0
        try:
            if self._audit_pending:
                return self._flush_audit_pending()
            self._optional_write("disk probe", "INSERT INTO meta(key, value) VALUES "
                                 "('disk_probe_ns', ?) ON CONFLICT(key) DO UPDATE SET "
                                 "value = excluded.value", (str(now_ns()),))
        except DiskFullError:
            return 0
        if self._audit_pending:  # the probe's commit queued the "space back" entry
            return self.retry_pending()
        return 0

    def _write_audit(self, items: list[AuditItem]) -> list[AuditEntry]:
        out: list[AuditEntry] = []
        with self._tx("cannot write audit log") as con:
            row = con.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
            prev = GENESIS if row is None else str(row[0])
            n, tainted = self._next_head_base(con, prev)
            for ts, actor, action, child_id, text, outcome in items:
                h = _digest(prev, ts, actor, action, child_id, text, outcome)
                cur = con.execute("INSERT INTO audit_log(ts_ns, actor, action, child_id, "
                                  "detail, outcome, prev_hash, hash) VALUES "
                                  "(?, ?, ?, ?, ?, ?, ?, ?)",
                                  (ts, actor, action, child_id, text, outcome, prev, h))
                out.append(AuditEntry(int(cur.lastrowid or 0), ts, actor, action, child_id,
                                      text, outcome, prev, h))
                prev = h
                n += 1
            head = make_head(self._audit_key, n, prev, tainted)
            self._put_head(con, head)
            # the file learns the head only once it is committed (maybe by an outer
            # transaction), never a head that a rollback takes back
            self._on_commit.append(functools.partial(append_head_file, self.path.parent,
                                                     head))
        return out

    def close(self) -> None:
        """Write audit entries still waiting for disk space (if there is space), then close."""
        if not self._closed and self._audit_pending:
            with contextlib.suppress(StorageError):
                self._flush_audit_pending()
            if self._audit_pending:
                log.warning("closing with %d audit entries that never found disk space",
                            len(self._audit_pending))
        super().close()

    @property
    def audit_pending(self) -> int:
        """Audit entries waiting in memory for disk space."""
        return len(self._audit_pending)

    # --- reading ----------------------------------------------------------------------
    def list_audit(self, *, limit: int = 100, before_id: int | None = None,
                   child_id: int | None = None, actor: str | None = None) -> list[AuditEntry]:
        """Newest entries first."""
        clause, params = where([("id < ?", before_id), ("child_id = ?", child_id),
                                ("actor = ?", actor)])
        sql = f"SELECT {_COLS} FROM audit_log{clause}"
        rows = self._fetch("audit log", sql + " ORDER BY id DESC LIMIT ?", [*params, int(limit)])
        return [AuditEntry(*r) for r in rows]

    def verify_audit(self) -> AuditVerification:
        """Walk the whole chain, then check both anchors; every check is reported."""
        file_head, file_exists = last_file_head(self.path.parent)
        want_at = file_head.n if file_head is not None else -1
        chain, rows, last_hash, hash_at = self._walk(want_at)
        checks = (chain.check, self._check_db_head(rows, last_hash),
                  _check_file(file_head, file_exists, rows, hash_at, self._audit_key))
        bad = next((c for c in checks if not c.ok), None)
        return AuditVerification(bad is None, chain.entries, chain.first_bad_id,
                                 None if bad is None else f"{bad.name}: {bad.problem}",
                                 checks, rows)

    def _walk(self, want_at: int) -> tuple[_Chain, int, str, str | None]:
        """``(chain result, rows, last hash, hash of row number want_at)``."""
        prev = GENESIS
        n = 0
        last_id = 0
        chain = _Chain()
        hash_at = GENESIS if want_at == 0 else None
        with map_errors("cannot read audit log"):
            cur = self._read().execute(f"SELECT {_COLS} FROM audit_log ORDER BY id")
            while rows := cur.fetchmany(1000):
                for r in rows:
                    e = AuditEntry(*r)
                    if chain.ok:
                        problem = None
                        if e.id <= last_id:
                            problem = "entries out of order"
                        elif e.prev_hash != prev:
                            problem = "previous-hash link broken (row removed?)"
                        elif _digest(prev, e.ts_ns, e.actor, e.action, e.child_id, e.detail,
                                     e.outcome) != e.hash:
                            problem = "entry content altered"
                        if problem is None:
                            chain.entries += 1
                        else:
                            chain.fail(e.id, problem)
                    prev = e.hash
                    last_id = e.id
                    n += 1
                    if n == want_at:
                        hash_at = e.hash
        return chain, n, prev, hash_at

    def _check_db_head(self, rows: int, last_hash: str) -> AnchorCheck:
        name = "database head"
        head = self._db_head()
        if head is None:
            _, file_exists = last_file_head(self.path.parent)
            if rows == 0 and not file_exists:
                return AnchorCheck(name, True, note="empty log, nothing anchored yet")
            return AnchorCheck(name, False, "the anchored head is missing from the database")
        if not head.valid(self._audit_key):
            return AnchorCheck(name, False, "the head's HMAC does not match: the head was "
                                            "forged, or secrets.json was replaced")
        if head.tainted:
            return AnchorCheck(name, False, "movereg found the log not matching its head "
                                            f"when it wrote entry {head.n} (tampered before)")
        if rows < head.n:
            return AnchorCheck(name, False, f"the head records {head.n} entries, the log has "
                                            f"{rows}: {head.n - rows} removed at the end")
        if rows > head.n:
            return AnchorCheck(name, False, f"the head records {head.n} entries, the log has "
                                            f"{rows}: {rows - head.n} added outside movereg")
        if head.hash != last_hash:
            return AnchorCheck(name, False, f"the head's last hash {_short(head.hash)} differs "
                                            f"from the log's {_short(last_hash)}: entries "
                                            "rewritten and re-hashed")
        return AnchorCheck(name, True)


class _Chain:
    """Result of the hash-chain walk."""

    def __init__(self) -> None:
        self.ok = True
        self.entries = 0
        self.first_bad_id: int | None = None
        self.problem: str | None = None

    def fail(self, entry_id: int, problem: str) -> None:
        self.ok = False
        self.first_bad_id = entry_id
        self.problem = f"entry {entry_id}: {problem}"

    @property
    def check(self) -> AnchorCheck:
        return AnchorCheck("chain", self.ok, self.problem)


def _check_file(head: Head | None, exists: bool, rows: int, hash_at: str | None,
                key: bytes) -> AnchorCheck:
    name = "head file"
    if not exists:
        if rows == 0:
            return AnchorCheck(name, True, note="empty log, no head file yet")
        return AnchorCheck(name, False, "audit-head.log is missing from the data directory")
    if head is None:
        return AnchorCheck(name, False, "audit-head.log holds no readable head")
    if not head.valid(key):
        return AnchorCheck(name, False, "the last line of audit-head.log is not authentic")
    if head.tainted:
        return AnchorCheck(name, False, f"movereg found the log tampered with when it wrote "
                                        f"entry {head.n}")
    if head.n > rows:
        return AnchorCheck(name, False, f"audit-head.log records {head.n} entries, the log "
                                        f"has {rows}: entries removed (or an older copy of "
                                        "the database)")
    if hash_at != head.hash:
        return AnchorCheck(name, False, f"entry number {head.n} differs from the one "
                                        "audit-head.log recorded: history rewritten")
    note = None if head.n == rows else (f"the file lags the log by {rows - head.n} entries "
                                        "(a crash or a full disk right after a write)")
    return AnchorCheck(name, True, note=note)
