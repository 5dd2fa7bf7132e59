"""Per-child research-use consent: record, withdraw (history kept), query by scope."""

from __future__ import annotations

from typing import Any, cast

from movereg.errors import NotFoundError, ValidationError
from movereg.storage._core import StoreCore, now_ns
from movereg.storage.records import Consent, ConsentScope

__all__ = ["CONSENT_SCOPES", "ConsentMixin"]

CONSENT_SCOPES: tuple[ConsentScope, ...] = ("features", "features+raw")
_COLS = "id, child_id, consented, scope, recorded_at, recorded_by, withdrawn_at, withdrawn_by"


def _consent(row: tuple[Any, ...]) -> Consent:
    return Consent(int(row[0]), int(row[1]), bool(row[2]), cast(ConsentScope, row[3]),
                   int(row[4]), str(row[5]), None if row[6] is None else int(row[6]),
                   None if row[7] is None else str(row[7]))


class ConsentMixin(StoreCore):
    """Research consent records (table ``research_consent``, migration 0002)."""

    def record_consent(self, child_id: int, *, consented: bool, scope: str = "features",
                       recorded_by: str, at_ns: int | None = None) -> Consent:
        """Record research consent (or a refusal) for a child; it becomes the current one.

        Earlier records stay as history.
        """
        if scope not in CONSENT_SCOPES:
            raise ValidationError(f"unknown consent scope {scope!r}",
                                  advice=f"one of {', '.join(CONSENT_SCOPES)}")
        if not recorded_by:
            raise ValidationError("say who records the consent")
        ts = now_ns() if at_ns is None else int(at_ns)
        with self._tx("cannot record consent") as con:
            if con.execute("SELECT 1 FROM children WHERE id = ?", (child_id,)).fetchone() is None:
                raise NotFoundError(f"no child {child_id}")
            cur = con.execute("INSERT INTO research_consent(child_id, consented, scope, "
                              "recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?)",
                              (child_id, int(bool(consented)), scope, ts, recorded_by))
            cid = int(cur.lastrowid or 0)
            row = con.execute(f"SELECT {_COLS} FROM research_consent WHERE id = ?",
                              (cid,)).fetchone()
        return _consent(row)

    def withdraw_consent(self, child_id: int, *, withdrawn_by: str,
                         at_ns: int | None = None) -> Consent:
        """Withdraw the child's current consent (the record is kept, stamped withdrawn).

        Raises
        ------
        NotFoundError
            The child has no current, consented record to withdraw.
        """
        ts = now_ns() if at_ns is None else int(at_ns)
        with self._tx("cannot withdraw consent") as con:
            row = con.execute(f"SELECT {_COLS} FROM research_consent WHERE child_id = ? "
                              "ORDER BY id DESC LIMIT 1", (child_id,)).fetchone()
            if row is None or not _consent(row).active:
                raise NotFoundError(f"child {child_id} has no research consent to withdraw")
            current = _consent(row)
            con.execute("UPDATE research_consent SET withdrawn_at = ?, withdrawn_by = ? "
                        "WHERE id = ?", (max(ts, current.recorded_at), withdrawn_by,
                                         current.id))
            row = con.execute(f"SELECT {_COLS} FROM research_consent WHERE id = ?",
                              (current.id,)).fetchone()
        return _consent(row)

    def current_consent(self, child_id: int) -> Consent | None:
        """The child's latest consent record (maybe withdrawn or a refusal), or None."""
        row = self._fetch_one("consent", f"SELECT {_COLS} FROM research_consent WHERE "
                              "child_id = ? ORDER BY id DESC LIMIT 1",
                              (child_id,))
        return None if row is None else _consent(row)

    def consent_history(self, child_id: int) -> list[Consent]:
        """Every consent record of a child, oldest first."""
        rows = self._fetch("consent", f"SELECT {_COLS} FROM research_consent WHERE "
                           "child_id = ? ORDER BY id", (child_id,))
        return [_consent(r) for r in rows]

    def consented_children(self, scope: str = "features") -> set[int]:
        """Ids of the children whose current consent covers ``scope`` for research."""
        if scope not in CONSENT_SCOPES:
            raise ValidationError(f"unknown consent scope {scope!r}")
        scopes = CONSENT_SCOPES if scope == "features" else ("features+raw",)
        rows = self._fetch(
            "consent",
            "SELECT r.child_id, r.consented, r.scope, r.withdrawn_at FROM research_consent r "
            "JOIN (SELECT child_id, MAX(id) AS last FROM research_consent GROUP BY child_id)"
            " m ON m.last = r.id")
        return {int(r[0]) for r in rows if r[1] and r[3] is None and r[2] in scopes}
