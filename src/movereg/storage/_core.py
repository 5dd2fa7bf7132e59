"""Connection handling shared by the Store mixins: one writer, a reader per thread."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

from movereg.errors import DiskFullError, NotFoundError, StorageError
from movereg.storage._db import connect, map_errors, migrate
from movereg.timeutil import now_ns

__all__ = ["AuditItem", "StoreCore", "now_ns"]

log = logging.getLogger("movereg.storage")

#: An audit entry waiting to be written: (ts_ns, actor, action, child_id, detail, outcome).
AuditItem = tuple[int, str, str, int | None, str, str]


class StoreCore:
    """Owns the connections.

    Writes go through one connection guarded by a re-entrant lock (SQLite has one writer
    anyway); each thread that reads gets its own query-only connection, so in WAL mode
    reads never wait for ingestion and ingestion never waits for reads.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create data directory {self.path.parent}: {exc}",
                               advice="choose a writable --data-dir") from exc
        self._wlock = threading.RLock()
        self._depth = 0
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        #: UTC ns since when writes fail for lack of disk space (None: writes work)
        self.disk_full_since: int | None = None
        self._audit_pending: list[AuditItem] = []
        self._disk_tried_ns = 0
        #: called after the outer transaction commits (dropped on rollback)
        self._on_commit: list[Callable[[], object]] = []
        #: UTC ns when a write found the audit log not matching its head (None: never)
        self.audit_mismatch_ns: int | None = None
        _make_private(self.path)    # children's health data: owner-only (0600), #21
        self._wcon = connect(self.path)
        try:
            self.schema_version = migrate(self._wcon)
            self._check_integrity()
        except BaseException:
            self._wcon.close()
            raise

    # --- lifecycle ----------------------------------------------------------------
    def _check_integrity(self) -> None:
        with map_errors("integrity check failed"):
            rows = self._wcon.execute("PRAGMA quick_check").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            raise StorageError(f"database {self.path} failed its integrity check: "
                               f"{rows[0][0] if rows else 'no answer'}",
                               advice="restore the file from a backup")

    def integrity_check(self) -> bool:
        """Run the full ``PRAGMA integrity_check``; True when the file is sound."""
        with self._wlock, map_errors("integrity check failed"):
            rows = self._wcon.execute("PRAGMA integrity_check").fetchall()
        return [r[0] for r in rows] == ["ok"]

    def close(self) -> None:
        """Close every connection (checkpointing the WAL)."""
        if self._closed:
            return
        self._closed = True
        with self._readers_lock:
            for con in self._readers:
                with contextlib.suppress(sqlite3.Error):
                    con.close()
            self._readers.clear()
        with self._wlock:
            with contextlib.suppress(sqlite3.Error):
                self._wcon.execute("PRAGMA optimize")
            self._wcon.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- connections --------------------------------------------------------------
    @contextlib.contextmanager
    def _tx(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (nested calls join the outer one).

        A full disk raises :class:`DiskFullError` and marks :attr:`disk_full_since`; the
        next committed transaction clears it (writing resumes by itself).
        """
        if self._closed:
            raise StorageError("the store is closed", advice="restart movereg")
        try:
            with self._wlock, map_errors(what):
                con = self._wcon
                if self._depth:
                    self._depth += 1
                    try:
                        yield con
                    finally:
                        self._depth -= 1
                    return
                con.execute("BEGIN IMMEDIATE")
                self._depth = 1
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    self._depth = 0
                    self._on_commit.clear()
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
                self._depth = 0
                self._note_disk(full=False)
                hooks, self._on_commit = self._on_commit, []
                for hook in hooks:
                    hook()
        except DiskFullError:
            self._note_disk(full=True)
            raise

    def _note_disk(self, *, full: bool) -> None:
        """Track the disk-full condition; queue its audit entries for when space is back."""
        since = self.disk_full_since
        if full:
            self._disk_tried_ns = now_ns()
        if full and since is None:
            self.disk_full_since = now_ns()
            log.warning("the disk of %s is full: reads continue, audit entries wait in "
                        "memory, sensor data waits in the batch writer", self.path.parent)
            self._audit_pending.append((self.disk_full_since, "system", "storage.disk_full",
                                        None, "{}", "failed"))
        elif not full and since is not None:
            self.disk_full_since = None
            until = now_ns()
            log.warning("disk space is back after %.1f s: writing resumed", (until - since) / 1e9)
            detail = json.dumps({"since_ns": since, "until_ns": until}, sort_keys=True,
                                separators=(",", ":"))
            self._audit_pending.append((until, "system", "storage.disk_space_back", None,
                                        detail, "ok"))

    def conditions(self) -> list[dict[str, object]]:
        """Data-health conditions (empty when all is well), for ``/api/health`` and alerts.

        Each is ``{"key", "since_ns", "message", "advice", ...}``; keys: ``disk_full``
        (writes refused for lack of space) and ``audit_mismatch`` (the audit log did not
        match its anchored head when an entry was written).
        """
        out: list[dict[str, object]] = []
        since = self.disk_full_since
        if since is not None:
            out.append({"key": "disk_full", "since_ns": since,
                        "message": "The disk is full. Reading works; new sensor data and "
                                   f"{len(self._audit_pending)} audit entries wait in memory "
                                   "and are written when space returns.",
                        "advice": "Free disk space on the drive that holds the data "
                                  "directory. movereg resumes by itself; no restart needed.",
                        "audit_pending": len(self._audit_pending)})
        if self.audit_mismatch_ns is not None:
            out.append({"key": "audit_mismatch", "since_ns": self.audit_mismatch_ns,
                        "message": "The audit log does not match its anchored head: entries "
                                   "may have been removed, added or rewritten outside "
                                   "movereg.",
                        "advice": "Run `movereg user verify-audit` and keep a copy of the "
                                  "data directory for investigation."})
        return out

    def _disk_retry_due(self) -> bool:
        """False while the disk is full and the last failed write is under 1 s old (so
        waiting audit entries are not re-tried on every request)."""
        return self.disk_full_since is None or now_ns() - self._disk_tried_ns >= 10**9

    def _optional_write(self, what: str, sql: str, params: tuple[object, ...]) -> bool:
        """A write that may be skipped while the disk is full (False when skipped)."""
        try:
            with self._tx(what) as con:
                con.execute(sql, params)
        except DiskFullError:
            return False
        return True

    def transaction(self, what: str = "cannot write") -> contextlib.AbstractContextManager[
            sqlite3.Connection]:
        """Group several Store calls into ONE transaction (all or nothing).

        Store methods called inside join it; reads inside see its uncommitted writes.
        """
        return self._tx(what)

    def _read(self) -> sqlite3.Connection:
        """This thread's read connection (the writer's, inside a write transaction)."""
        if self._closed:
            raise StorageError("the store is closed", advice="restart movereg")
        if self._depth and self._wlock_held():
            return self._wcon
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = connect(self.path, readonly=True)
            self._local.con = con
            with self._readers_lock:
                self._readers.append(con)
        return con

    def _wlock_held(self) -> bool:
        # RLock has no public owner query; _is_owned exists on the C implementation.
        owned = getattr(self._wlock, "_is_owned", None)
        return bool(owned()) if owned is not None else False

    # --- reads ----------------------------------------------------------------------
    def _fetch_one(self, what: str, sql: str,
                   params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a read (None: no row); an SQLite error becomes a
        :class:`StorageError` "cannot read ``what``"."""
        with map_errors(f"cannot read {what}"):
            row: tuple[Any, ...] | None = self._read().execute(sql, params).fetchone()
        return row

    def _fetch(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a read; an SQLite error becomes a :class:`StorageError` "cannot read
        ``what``"."""
        with map_errors(f"cannot read {what}"):
            rows: list[tuple[Any, ...]] = self._read().execute(sql, params).fetchall()
        return rows

    def _get_one(self, what: str, sql: str, params: Sequence[Any], *,
                 missing: str) -> tuple[Any, ...]:
        """The first row of a read; :class:`NotFoundError` ``missing`` when there is none."""
        row = self._fetch_one(what, sql, params)
        if row is None:
            raise NotFoundError(missing)
        return row

    # --- meta -----------------------------------------------------------------------
    def meta_get(self, key: str) -> str | None:
        """A value from the ``meta`` table."""
        row = self._fetch_one("meta", "SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def meta_set(self, key: str, value: str) -> None:
        """Set a value in the ``meta`` table."""
        with self._tx("cannot write meta") as con:
            con.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                        "DO UPDATE SET value = excluded.value", (key, value))

    def export_salt(self) -> str:
        """Per-install random salt for hashing device identifiers in exports."""
        with self._tx("cannot read salt") as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'export_salt'").fetchone()
            if row is not None:
                return str(row[0])
            salt = secrets.token_hex(16)
            con.execute("INSERT INTO meta(key, value) VALUES ('export_salt', ?)", (salt,))
            return salt


def _make_private(path: Path) -> None:
    """Create the database file owner-only (0600), or tighten an existing one and its
    WAL/SHM files (SQLite gives those the database file's mode)."""
    import os

    if str(path) == ":memory:":
        return
    try:
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if p.exists() and p.stat().st_mode & 0o077:
                p.chmod(0o600)
    except OSError as exc:
        raise StorageError(f"cannot create {path} owner-only: {exc}",
                           advice="check the data directory's owner and permissions") from exc
