"""SQLite connections, pragmas, migrations and the sqlite3 -> StorageError boundary.

Durability choice: WAL with ``synchronous=NORMAL``. In WAL mode NORMAL never corrupts
the database on a crash or power loss; it may lose the transactions committed since the
last checkpoint-sync on *power loss* (not on a process crash: a ``kill -9`` keeps every
committed transaction because the WAL is in the OS page cache). Writes are batched every
0.5 s (``Settings.flush_interval_s``: half the "last second" the product promises, so a
busy machine's scheduling delays and the newest sample block still fit in it; the
20-kill test measures it), and NORMAL avoids an fsync per batch that would otherwise
compete with 64 bands of ingestion.
"""

from __future__ import annotations

import contextlib
import errno
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from movereg.errors import DiskFullError, StorageError
from movereg.signal.schema import EPOCH_COLUMNS

__all__ = ["NO_PARAM", "SCHEMA_VERSION", "Params", "connect", "is_disk_full", "is_in",
           "map_errors", "migrate", "where"]

_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_SQL_TYPES = {"int64": "INTEGER", "int8": "INTEGER", "int32": "INTEGER", "float64": "REAL",
              "float32": "REAL"}


def _migrations() -> list[tuple[int, str, str]]:
    files = resources.files("movereg.storage").joinpath("migrations")
    out = []
    for entry in files.iterdir():
        m = _MIGRATION_RE.match(entry.name)
        if m:
            out.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    out.sort()
    for i, (num, name, _) in enumerate(out, start=1):
        if num != i:
            raise StorageError(f"migration files out of order at {name}")
    return out


SCHEMA_VERSION = len(_migrations())


def _advice(exc: BaseException) -> str:
    text = str(exc).lower()
    if "full" in text:
        return ("the disk is full: free some space; movereg resumes by itself, "
                "no restart needed")
    if "locked" in text or "busy" in text:
        return ("another process holds the database: stop other movereg processes "
                "using this data directory")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return ("the database file is damaged: restore it from a backup, or move it aside "
                "and start with a fresh data directory")
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return "check that the data directory exists and is writable"
    return "check the data directory and the disk"


#: Value for a :func:`where` term that binds no parameter but still applies.
NO_PARAM: Any = object()


class Params(tuple[Any, ...]):
    """Values for a :func:`where` term with as many ``?`` (see :func:`is_in`)."""

    __slots__ = ()


def is_in(column: str, values: Iterable[Any] | None) -> tuple[str, Any]:
    """The :func:`where` term ``column IN (?, ...)`` binding ``values`` (None: no filter).

    ``column`` is the code's own column name, never user input; the values are bound."""
    if values is None:
        return column, None
    vals = Params(values)
    return f"{column} IN ({', '.join('?' * len(vals))})", vals


def where(terms: Iterable[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """Build `` WHERE a AND b ...`` from ``(sql, value)`` terms for optional filters.

    A term whose value is ``None`` is skipped; any other value is bound to the term's one
    ``?`` (``NO_PARAM`` applies a term that has no ``?``; :class:`Params` binds each of its
    values to the term's ``?`` in turn). No terms give ``""``.
    """
    sql: list[str] = []
    params: list[Any] = []
    for term, value in terms:
        if value is None:
            continue
        sql.append(term)
        if isinstance(value, Params):
            params.extend(value)
        elif value is not NO_PARAM:
            params.append(value)
    return (" WHERE " + " AND ".join(sql) if sql else ""), params


@contextlib.contextmanager
def map_errors(what: str) -> Iterator[None]:
    """Turn sqlite3 errors raised inside the block into :class:`StorageError`."""
    try:
        yield
    except sqlite3.Error as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"{what}: {exc}", advice=_advice(exc)) from exc
        raise StorageError(f"{what}: {exc}", advice=_advice(exc)) from exc


def is_disk_full(exc: BaseException) -> bool:
    """True for SQLite's SQLITE_FULL (and an ``ENOSPC`` OSError)."""
    if isinstance(exc, DiskFullError):
        return True
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and int(code) & 0xFF == sqlite3.SQLITE_FULL:
        return True
    return "database or disk is full" in str(exc)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open one connection with movereg's pragmas (WAL, NORMAL, foreign keys).

    Parameters
    ----------
    path
        Database file.
    readonly
        Open a query-only connection (reads never take the write lock in WAL mode).
    """
    with map_errors(f"cannot open database {path}"):
        con = sqlite3.connect(path, timeout=10.0, isolation_level=None,
                              check_same_thread=False)
        con.execute("PRAGMA busy_timeout = 10000")
        con.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            mode = _switch_to_wal(con)
            if str(mode).lower() != "wal":
                raise StorageError(f"cannot switch {path} to WAL mode (got {mode})",
                                   advice="put the data directory on a local disk")
        con.execute("PRAGMA synchronous = NORMAL")
        if readonly:
            con.execute("PRAGMA query_only = ON")
        return con


def _switch_to_wal(con: sqlite3.Connection, wait_s: float = 10.0) -> str:
    """``PRAGMA journal_mode = WAL``; the journal mode it answers. Retried for up to
    ``wait_s`` while it finds the file locked: SQLite answers "locked" at once there,
    without its busy handler (several processes opening a new file together)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return str(con.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def migrate(con: sqlite3.Connection) -> int:
    """Apply pending migrations in order; returns the resulting ``user_version``."""
    migs = _migrations()
    with map_errors("cannot migrate database"):
        while True:
            # the version is read under the write lock: processes opening a new database
            # at the same time apply each migration once
            con.execute("BEGIN IMMEDIATE")
            try:
                version = int(con.execute("PRAGMA user_version").fetchone()[0])
                if version > len(migs):
                    raise StorageError(
                        f"database schema v{version} is newer than this movereg "
                        f"(v{len(migs)})", advice="upgrade movereg")
                if version == len(migs):
                    _sync_epoch_columns(con)
                    con.execute("COMMIT")
                    return version
                num, _name, sql = migs[version]
                for stmt in _split_sql(sql):
                    con.execute(stmt)
                con.execute(f"PRAGMA user_version = {int(num)}")
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements (triggers contain ';' inside BEGIN..END)."""
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--") and not buf.strip():
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def _sync_epoch_columns(con: sqlite3.Connection) -> None:
    """Add epoch columns the signal schema gained since the last migration."""
    have = {row[1] for row in con.execute("PRAGMA table_info(epochs)")}
    for name, dtype in EPOCH_COLUMNS:
        if name not in have:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                raise StorageError(f"bad epoch column name {name!r}")
            con.execute(f"ALTER TABLE epochs ADD COLUMN {name} {_SQL_TYPES.get(dtype, 'REAL')}")
