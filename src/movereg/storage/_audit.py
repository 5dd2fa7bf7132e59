"""Append-only, hash-chained audit log.

Each entry's ``hash`` is sha256 over the previous entry's hash and this entry's fields,
so editing, deleting or re-ordering any row breaks the chain from that row on
(:meth:`AuditMixin.verify_audit`). SQL triggers also refuse UPDATE and DELETE.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from movereg.storage._core import StoreCore, now_ns
from movereg.storage._db import map_errors, where
from movereg.storage.records import AuditEntry, AuditVerification

__all__ = ["GENESIS", "AuditMixin"]

GENESIS = "0" * 64
_COLS = "id, ts_ns, actor, action, child_id, detail, outcome, prev_hash, hash"


def _digest(prev: str, ts_ns: int, actor: str, action: str, child_id: int | None,
            detail: str, outcome: str) -> str:
    payload = json.dumps([prev, ts_ns, actor, action, child_id, detail, outcome],
                         separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class AuditMixin(StoreCore):
    """Audit writes and verification."""

    def audit(self, actor: str, action: str, *, child_id: int | None = None,
              detail: dict[str, Any] | None = None, outcome: str = "ok") -> AuditEntry:
        """Append one entry (what, when, who, outcome, which child)."""
        text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str)
        ts = now_ns()
        with self._tx("cannot write audit log") as con:
            row = con.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
            prev = GENESIS if row is None else str(row[0])
            h = _digest(prev, ts, actor, action, child_id, text, outcome)
            cur = con.execute("INSERT INTO audit_log(ts_ns, actor, action, child_id, detail, "
                              "outcome, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              (ts, actor, action, child_id, text, outcome, prev, h))
            eid = int(cur.lastrowid or 0)
        return AuditEntry(eid, ts, actor, action, child_id, text, outcome, prev, h)

    def list_audit(self, *, limit: int = 100, before_id: int | None = None,
                   child_id: int | None = None, actor: str | None = None) -> list[AuditEntry]:
        """Newest entries first."""
        clause, params = where([("id < ?", before_id), ("child_id = ?", child_id),
                                ("actor = ?", actor)])
        sql = f"SELECT {_COLS} FROM audit_log{clause}"
        with map_errors("cannot read audit log"):
            rows = self._read().execute(sql + " ORDER BY id DESC LIMIT ?",
                                        [*params, int(limit)]).fetchall()
        return [AuditEntry(*r) for r in rows]

    def verify_audit(self) -> AuditVerification:
        """Walk the whole chain; reports the first entry whose hash does not match."""
        prev = GENESIS
        n = 0
        last_id = 0
        with map_errors("cannot read audit log"):
            cur = self._read().execute(f"SELECT {_COLS} FROM audit_log ORDER BY id")
            while True:
                rows = cur.fetchmany(1000)
                if not rows:
                    break
                for r in rows:
                    e = AuditEntry(*r)
                    if e.id <= last_id:
                        return AuditVerification(False, n, e.id, "entries out of order")
                    if e.prev_hash != prev:
                        return AuditVerification(False, n, e.id,
                                                 "previous-hash link broken (row removed?)")
                    want = _digest(prev, e.ts_ns, e.actor, e.action, e.child_id, e.detail,
                                   e.outcome)
                    if want != e.hash:
                        return AuditVerification(False, n, e.id, "entry content altered")
                    prev = e.hash
                    last_id = e.id
                    n += 1
        return AuditVerification(True, n)
