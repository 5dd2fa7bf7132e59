"""Encrypted backups of a data directory, and their restore.

A backup holds a consistent copy of the database (SQLite's online backup API: one read
transaction, so it is consistent while the server writes), the data directory's
``secrets.json`` (the audit HMAC key) and the audit log's anchored head, all encrypted
under a passphrase. Nothing is home-made: the key comes from **scrypt** (n=2^15, r=8,
p=1, a random 16-byte salt per backup) and the data is sealed with **AES-256-GCM** from
the `cryptography` package, in 1 MiB segments as in the STREAM construction (Hoang et
al. 2015; the segmented mode of Tink and age): nonce = 7 random bytes, a 4-byte segment
counter and a last-segment flag, with the file header as associated data, so reordered,
dropped, appended or altered segments and a truncated file are all refused.

File layout::

    b"MOVEREG-BACKUP\\x00\\x01" | u32 header length | header JSON | 16-byte key check
    | (u32 segment length | segment ciphertext)...

Plaintext: u32 manifest length | manifest JSON | the database file.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from movereg.errors import StorageError, ValidationError
from movereg.fsutil import file_sha256
from movereg.storage._anchor import HEAD_FILE, HEAD_KEY_NAME, HEAD_META, make_head, parse_head
from movereg.storage._secrets import SECRETS_FILE, load_secrets, write_secrets

__all__ = ["BackupInfo", "create_backup", "restore_backup"]

DB_NAME = "movereg.sqlite3"
_MAGIC = b"MOVEREG-BACKUP\x00\x01"
_SEGMENT = 1 << 20
_SCRYPT = {"n": 1 << 15, "r": 8, "p": 1}
_GENESIS = "0" * 64
MIN_PASSPHRASE = 8


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """What a backup holds: audit entries (``audit_n``) ending in ``audit_hash``, the
    database size (bytes), row counts per table, and whether the audit head matched."""

    audit_n: int
    audit_hash: str
    db_bytes: int
    tables: dict[str, int]
    head_ok: bool


# --- crypto --------------------------------------------------------------------------
def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


_CHECK_NONCE_COUNTER = 0xFFFFFFFF   # never a segment number (segments stop far below)


def _damaged(what: str) -> StorageError:
    return StorageError(f"the backup is damaged: {what}",
                        advice="use another copy of the backup")


# --- reading the database copy --------------------------------------------------------
def _head_of(con: sqlite3.Connection, key: bytes | None) -> tuple[int, str, bool]:
    """``(entries, last hash, matches its anchored head)`` of a database copy."""
    n = int(con.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
    row = con.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    last = _GENESIS if row is None else str(row[0])
    meta = con.execute("SELECT value FROM meta WHERE key = ?", (HEAD_META,)).fetchone()
    head = parse_head(None if meta is None else str(meta[0]))
    ok = (head is not None and key is not None and head.valid(key) and not head.tainted
          and head.n == n and head.hash == last)
    return n, last, ok


def _facts(db: Path, hex_key: str | None, *, check: bool = False
           ) -> tuple[int, str, bool, dict[str, int]]:
    """:func:`_head_of` and :func:`_tables` of the database file ``db`` (``hex_key``: the
    audit head key, hex). ``check``: refuse a file that fails ``PRAGMA integrity_check``."""
    con = sqlite3.connect(db)
    try:
        if check and [r[0] for r in con.execute("PRAGMA integrity_check")] != ["ok"]:
            raise _damaged("the database inside fails PRAGMA integrity_check")
        n, last, ok = _head_of(con, bytes.fromhex(hex_key) if hex_key else None)
        return n, last, ok, _tables(con)
    finally:
        con.close()


def _tables(con: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {t: int(con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]) for t in names}


def _snapshot(db: Path, tmp: Path) -> None:
    """Copy ``db`` into ``tmp`` with SQLite's online backup API (one consistent step)."""
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        src.execute("PRAGMA busy_timeout = 30000")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)          # pages=-1: the whole file in one read transaction
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


# --- backup -----------------------------------------------------------------------------
def create_backup(data_dir: Path, out: Path, passphrase: str) -> BackupInfo:
    """Write an encrypted backup of ``data_dir`` to ``out`` (mode 0600).

    Raises
    ------
    ValidationError
        Passphrase too short, or ``out`` already exists.
    StorageError
        No database in ``data_dir``, or it cannot be read.
    """
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValidationError(f"the passphrase must have at least {MIN_PASSPHRASE} "
                              "characters")
    db = data_dir / DB_NAME
    if not db.is_file():
        raise StorageError(f"no movereg database in {data_dir}",
                           advice="give the data directory that holds movereg.sqlite3")
    if out.exists():
        raise ValidationError(f"{out} already exists", advice="choose a new file name")
    values = load_secrets(data_dir)
    hex_key = values.get(HEAD_KEY_NAME)
    tmp = data_dir / f".backup-{secrets.token_hex(6)}.sqlite3"
    try:
        try:
            _snapshot(db, tmp)
            n, last, ok, tables = _facts(tmp, hex_key)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot copy {db}: {exc}",
                               advice="check the disk; stop other tools using the file"
                               ) from exc
        info = BackupInfo(n, last, tmp.stat().st_size, tables, ok)
        manifest = {"format": 1, "secrets": values, "tables": tables, "db_bytes": info.db_bytes,
                    "audit_head": {"n": n, "hash": last, "matched": ok},
                    "db_sha256": file_sha256(tmp)}
        _seal(tmp, out, passphrase, json.dumps(manifest, sort_keys=True).encode())
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return info


def _plain(manifest: bytes, db: Path) -> Iterator[bytes]:
    """The plaintext in segments of :data:`_SEGMENT` bytes."""
    buf = struct.pack(">I", len(manifest)) + manifest
    with open(db, "rb") as fh:
        while True:
            while len(buf) < _SEGMENT:
                more = fh.read(_SEGMENT)
                if not more:
                    break
                buf += more
            if len(buf) <= _SEGMENT:
                yield buf
                return
            yield buf[:_SEGMENT]
            buf = buf[_SEGMENT:]


def _seal(db: Path, out: Path, passphrase: str, manifest: bytes) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt, prefix = secrets.token_bytes(16), secrets.token_bytes(7)
    header = json.dumps({"format": 1, "cipher": "AES-256-GCM-STREAM", "segment": _SEGMENT,
                         "kdf": {"name": "scrypt", **_SCRYPT,
                                 "salt": base64.b64encode(salt).decode()},
                         "nonce_prefix": base64.b64encode(prefix).decode()},
                        sort_keys=True).encode()
    aead = AESGCM(_key(passphrase, salt, **_SCRYPT))
    part = out.with_name(out.name + ".part")
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + struct.pack(">I", len(header)) + header)
            fh.write(aead.encrypt(_nonce(prefix, _CHECK_NONCE_COUNTER, True), b"", header))
            pending: bytes | None = None
            i = 0
            for seg in _plain(manifest, db):
                if pending is not None:
                    _write_segment(fh, aead.encrypt(_nonce(prefix, i, False), pending, header))
                    i += 1
                pending = seg
            assert pending is not None
            _write_segment(fh, aead.encrypt(_nonce(prefix, i, True), pending, header))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(part, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            part.unlink()
        raise StorageError(f"cannot write {out}: {exc.strerror or exc}",
                           advice="check free space and permissions") from exc


def _write_segment(fh: IO[bytes], data: bytes) -> None:
    fh.write(struct.pack(">I", len(data)) + data)


# --- restore ----------------------------------------------------------------------------
def _open_sealed(fh: IO[bytes], passphrase: str) -> tuple[Any, bytes, bytes]:
    """Read the header and check the passphrase; returns ``(aead, prefix, header)``."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if fh.read(len(_MAGIC)) != _MAGIC:
        raise StorageError("this is not a movereg backup (or its first bytes are damaged)")
    raw = fh.read(4)
    if len(raw) != 4:
        raise _damaged("the header is cut short")
    (size,) = struct.unpack(">I", raw)
    header = fh.read(size) if size <= 65536 else b""
    try:
        h = json.loads(header)
        kdf = h["kdf"]
        salt = base64.b64decode(kdf["salt"], validate=True)
        prefix = base64.b64decode(h["nonce_prefix"], validate=True)
        params = {"n": int(kdf["n"]), "r": int(kdf["r"]), "p": int(kdf["p"])}
        if (h.get("format") != 1 or kdf.get("name") != "scrypt" or len(prefix) != 7
                or not 2 <= params["n"] <= 1 << 20 or params["r"] * params["p"] > 64):
            raise ValueError("unsupported parameters")
    except (ValueError, KeyError, TypeError) as exc:
        raise _damaged(f"unreadable header ({exc})") from exc
    aead = AESGCM(_key(passphrase, salt, **params))
    try:
        aead.decrypt(_nonce(prefix, _CHECK_NONCE_COUNTER, True), fh.read(16), header)
    except InvalidTag:
        raise ValidationError("wrong passphrase for this backup",
                              advice="type the passphrase used when the backup was made"
                              ) from None
    return aead, prefix, header


def _segments(fh: IO[bytes], aead: Any, prefix: bytes, header: bytes) -> Iterator[bytes]:
    from cryptography.exceptions import InvalidTag

    i = 0
    raw = fh.read(4)
    while True:
        if len(raw) != 4:
            raise _damaged("it is cut short (the last part is missing)")
        (size,) = struct.unpack(">I", raw)
        if size > _SEGMENT + 16:
            raise _damaged(f"part {i} has an impossible length")
        data = fh.read(size)
        raw = fh.read(4)
        last = not raw
        try:
            yield aead.decrypt(_nonce(prefix, i, last), data, header)
        except InvalidTag:
            raise _damaged(f"part {i} fails its authentication check"
                           + (" (or the file is cut short)" if last else "")) from None
        if last:
            return
        i += 1


def restore_backup(backup: Path, data_dir: Path, passphrase: str) -> BackupInfo:
    """Restore ``backup`` into the new or empty directory ``data_dir``.

    The database is checked (``PRAGMA integrity_check``) and its audit log must end at
    the head recorded in the backup; nothing is left behind when a check fails.

    Raises
    ------
    ValidationError
        ``data_dir`` is not empty, or the passphrase is wrong.
    StorageError
        The file is not a movereg backup, is damaged, or fails a check.
    """
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise ValidationError(f"{data_dir} is not empty",
                              advice="restore into a new or empty directory")
    try:
        fh = open(backup, "rb")  # noqa: SIM115 - closed below, after the long loop
    except OSError as exc:
        raise StorageError(f"cannot read {backup}: {exc.strerror or exc}") from exc
    made_dir = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    part = data_dir / (DB_NAME + ".restoring")
    try:
        with fh:
            aead, prefix, header = _open_sealed(fh, passphrase)
            manifest = _unseal_into(_segments(fh, aead, prefix, header), part)
        info = _check_restored(part, manifest)
        write_secrets(data_dir, {str(k): str(v) for k, v in manifest["secrets"].items()})
        _write_head_file(data_dir, manifest, info)
        os.replace(part, data_dir / DB_NAME)
        os.chmod(data_dir / DB_NAME, 0o600)
    except BaseException:
        for name in (part.name, SECRETS_FILE, HEAD_FILE, DB_NAME):
            with contextlib.suppress(OSError):
                (data_dir / name).unlink()
        if made_dir:
            with contextlib.suppress(OSError):
                data_dir.rmdir()
        raise
    return info


def _unseal_into(plain: Iterator[bytes], part: Path) -> dict[str, Any]:
    first = b""
    for seg in plain:
        first += seg
        if len(first) >= 4 and len(first) >= 4 + struct.unpack(">I", first[:4])[0]:
            break
    if len(first) < 4:
        raise _damaged("no manifest")
    size = struct.unpack(">I", first[:4])[0]
    if len(first) < 4 + size:
        raise _damaged("the manifest is cut short")
    try:
        manifest = json.loads(first[4:4 + size])
        if not isinstance(manifest, dict) or manifest.get("format") != 1:
            raise ValueError("unknown format")
    except ValueError as exc:
        raise _damaged(f"unreadable manifest ({exc})") from exc
    h = hashlib.sha256()
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        rest = first[4 + size:]
        out.write(rest)
        h.update(rest)
        for seg in plain:
            out.write(seg)
            h.update(seg)
        out.flush()
        os.fsync(out.fileno())
    if h.hexdigest() != manifest.get("db_sha256"):
        raise _damaged("the database inside does not match its checksum")
    return manifest


def _check_restored(db: Path, manifest: dict[str, Any]) -> BackupInfo:
    want = manifest.get("audit_head") or {}
    hex_key = (manifest.get("secrets") or {}).get(HEAD_KEY_NAME)
    try:
        n, last, ok, tables = _facts(db, hex_key, check=True)
    except sqlite3.Error as exc:
        raise _damaged(f"the database inside cannot be read ({exc})") from exc
    if (n, last) != (want.get("n"), want.get("hash")):
        raise StorageError(
            f"the restored audit log ({n} entries ending {last[:12]}) does not end at the "
            f"head recorded in the backup ({want.get('n')} entries ending "
            f"{str(want.get('hash'))[:12]})", advice="use another copy of the backup")
    return BackupInfo(n, last, db.stat().st_size, tables, ok)


def _write_head_file(data_dir: Path, manifest: dict[str, Any], info: BackupInfo) -> None:
    """Start the new directory's head file at the restored head (when it was anchored)."""
    hex_key = (manifest.get("secrets") or {}).get(HEAD_KEY_NAME)
    if not hex_key or not info.head_ok:
        return
    head = make_head(bytes.fromhex(hex_key), info.audit_n, info.audit_hash)
    fd = os.open(data_dir / HEAD_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(head.to_json() + "\n")
