"""Connection handling shared by the Store mixins: one writer, a reader per thread."""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from movereg.errors import StorageError
from movereg.storage._db import connect, map_errors, migrate
from movereg.timeutil import now_ns

__all__ = ["StoreCore", "now_ns"]


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
        """One write transaction (nested calls join the outer one)."""
        if self._closed:
            raise StorageError("the store is closed", advice="restart movereg")
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
            except BaseException:
                self._depth = 0
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            self._depth = 0
            con.execute("COMMIT")

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

    # --- meta -----------------------------------------------------------------------
    def meta_get(self, key: str) -> str | None:
        """A value from the ``meta`` table."""
        with map_errors("cannot read meta"):
            row = self._read().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def export_salt(self) -> str:
        """Per-install random salt for hashing device identifiers in exports."""
        with self._tx("cannot read salt") as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'export_salt'").fetchone()
            if row is not None:
                return str(row[0])
            salt = secrets.token_hex(16)
            con.execute("INSERT INTO meta(key, value) VALUES ('export_salt', ?)", (salt,))
            return salt
