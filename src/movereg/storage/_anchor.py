"""Anchors of the audit hash chain: what an attacker holding only the database cannot forge.

The chain (:mod:`movereg.storage._audit`) proves that no row in the *middle* changed, but
someone who can write the database can delete the last rows, append rows with correctly
computed hashes, or edit a row and re-hash everything after it. Two anchors catch that:

* the **database head**: ``meta.audit_head`` = the row count ``n``, the last ``hash`` and an
  HMAC-SHA256 of both under a key kept in the data directory's ``secrets.json`` (never in
  the database). Written in the same transaction as each entry. A head found not to match
  the log when an entry is written is carried forward as ``tainted`` (the flag is under the
  HMAC), so later writes cannot heal a tampered log.
* the **head file** ``audit-head.log``: one authenticated head per line, appended after each
  commit, never rewritten. A database rolled back or truncated shows a head file that is
  ahead of it; a rewritten history shows a different hash at the file's row ``n``. The file
  may lag the database by the entries committed just before a crash or while the disk was
  full; a lag is reported, not failed.

Backups carry the head too (:mod:`movereg.commands.backup`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "HEAD_FILE",
    "HEAD_KEY_NAME",
    "HEAD_META",
    "TRIGGERS",
    "Head",
    "append_head_file",
    "head_mac",
    "last_file_head",
    "parse_head",
    "same_sql",
]

HEAD_FILE = "audit-head.log"
HEAD_META = "audit_head"
HEAD_KEY_NAME = "audit_hmac_key"
_DOMAIN = b"movereg-audit-head-v1"

#: The append-only triggers of migration 0001, re-created on start when dropped or altered.
TRIGGERS: dict[str, str] = {
    "audit_log_no_update": ("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log\n"
                            "BEGIN\n    SELECT RAISE(ABORT, 'audit log is append-only');\n"
                            "END"),
    "audit_log_no_delete": ("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log\n"
                            "BEGIN\n    SELECT RAISE(ABORT, 'audit log is append-only');\n"
                            "END"),
}


def same_sql(a: str | None, b: str) -> bool:
    """True when two SQL texts differ at most in whitespace."""
    return a is not None and re.sub(r"\s+", " ", a).strip() == re.sub(r"\s+", " ", b).strip()


@dataclass(frozen=True, slots=True)
class Head:
    """The log's head: ``n`` entries, the last one's ``hash``; ``tainted`` when a write
    found the previous head not matching the log (the HMAC covers all three)."""

    n: int
    hash: str
    mac: str
    tainted: bool = False

    def valid(self, key: bytes) -> bool:
        """True when :attr:`mac` is this head's HMAC under ``key``."""
        return hmac.compare_digest(self.mac, head_mac(key, self.n, self.hash, self.tainted))

    def to_json(self) -> str:
        """Compact JSON (the meta value, one head-file line)."""
        d: dict[str, object] = {"n": self.n, "hash": self.hash, "mac": self.mac}
        if self.tainted:
            d["tainted"] = True
        return json.dumps(d, separators=(",", ":"), sort_keys=True)


def head_mac(key: bytes, n: int, last_hash: str, tainted: bool = False) -> str:
    """HMAC-SHA256 (hex) of a head under the data directory's key."""
    msg = b"|".join([_DOMAIN, str(int(n)).encode(), last_hash.encode(),
                     b"tainted" if tainted else b"clean"])
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def make_head(key: bytes, n: int, last_hash: str, tainted: bool = False) -> Head:
    """A head authenticated under ``key``."""
    return Head(int(n), last_hash, head_mac(key, n, last_hash, tainted), tainted)


def parse_head(text: str | None) -> Head | None:
    """A head from its JSON, or None when absent or unreadable."""
    if not text:
        return None
    try:
        d = json.loads(text)
        return Head(int(d["n"]), str(d["hash"]), str(d["mac"]), bool(d.get("tainted", False)))
    except (ValueError, KeyError, TypeError):
        return None


def append_head_file(data_dir: Path, head: Head) -> bool:
    """Append one head line to ``audit-head.log`` (False when the disk refused it)."""
    path = data_dir / HEAD_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (head.to_json() + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        return False
    return True


def last_file_head(data_dir: Path) -> tuple[Head | None, bool]:
    """The last complete line of the head file, and whether the file exists.

    A torn last line (a crash mid-append) is skipped in favour of the line before it.
    """
    path = data_dir / HEAD_FILE
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 4096))
            tail = fh.read()
    except FileNotFoundError:
        return None, False
    for line in reversed(tail.split(b"\n")):
        with contextlib.suppress(UnicodeDecodeError):
            head = parse_head(line.decode())
            if head is not None:
                return head, True
    return None, True
