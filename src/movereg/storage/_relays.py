"""Home relay tokens (#23): a relay at a family's home uploads its bands' recordings.

A relay token is not a user session. An admin makes one for chosen children; the token
(``mrr_`` + 43 URL-safe characters, 256 bits) is shown once and only its sha256 is stored.
With it a relay may read which bands to look for (the bands assigned now to its
children) and upload recordings of those bands; nothing else. Making, revoking and every
refusal are audit-logged; a revoked token is kept (who, when) but answers nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from movereg.errors import NotFoundError, ValidationError
from movereg.storage._audit import AuditMixin
from movereg.storage._core import now_ns
from movereg.storage._db import is_in
from movereg.storage._people import _token_hash

__all__ = ["RELAY_TOKEN_PREFIX", "RelayBand", "RelayMixin", "RelayToken", "is_relay_token"]

#: Every relay token starts with this (a user's bearer token never does).
RELAY_TOKEN_PREFIX = "mrr_"
_COLS = "id, name, created_at, created_by, revoked_at, revoked_by, last_used_at"


def is_relay_token(token: str) -> bool:
    """True when ``token`` has the relay token's shape (not whether it is valid)."""
    return token.startswith(RELAY_TOKEN_PREFIX)


@dataclass(frozen=True, slots=True)
class RelayToken:
    """One relay token (times UTC ns); ``child_ids`` the children it may upload for."""

    id: int
    name: str
    created_at: int
    created_by: str
    revoked_at: int | None
    revoked_by: str | None
    last_used_at: int | None
    child_ids: tuple[int, ...]

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked_at is None

    @property
    def actor(self) -> str:
        """Name written to the audit log."""
        return f"relay:{self.id}({self.name})"


@dataclass(frozen=True, slots=True)
class RelayBand:
    """A band a relay looks for: assigned now to one of its children."""

    device_id: str
    family: str | None
    child_id: int


class RelayMixin(AuditMixin):
    """Relay tokens: make (shown once), list, revoke, resolve; the bands they may sync."""

    def _relay(self, row: tuple[Any, ...]) -> RelayToken:
        tid = int(row[0])
        kids = self._fetch("relay tokens", "SELECT child_id FROM relay_token_children WHERE "
                           "token_id = ? ORDER BY child_id", (tid,))
        return RelayToken(tid, str(row[1]), int(row[2]), str(row[3]),
                          None if row[4] is None else int(row[4]),
                          None if row[5] is None else str(row[5]),
                          None if row[6] is None else int(row[6]),
                          tuple(int(k[0]) for k in kids))

    def create_relay_token(self, name: str, child_ids: Iterable[int], *,
                           actor: str) -> tuple[str, RelayToken]:
        """Make a relay token for ``child_ids``; returns ``(token, record)``. The token is
        not stored (only its sha256): show it once.

        Raises
        ------
        ValidationError
            No name or no children.
        NotFoundError
            A child id that does not exist.
        """
        name = name.strip()
        kids = sorted({int(c) for c in child_ids})
        if not name:
            raise ValidationError("give the relay a name (e.g. the family's home)")
        if not kids:
            raise ValidationError("choose at least one child the relay may upload for")
        token = RELAY_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._tx("cannot make the relay token") as con:
            for cid in kids:
                if con.execute("SELECT 1 FROM children WHERE id = ?", (cid,)).fetchone() is None:
                    raise NotFoundError(f"no child {cid}")
            cur = con.execute("INSERT INTO relay_tokens(name, token_hash, created_at, "
                              "created_by) VALUES (?, ?, ?, ?)",
                              (name[:100], _token_hash(token), now_ns(), actor))
            tid = int(cur.lastrowid or 0)
            con.executemany("INSERT INTO relay_token_children(token_id, child_id) VALUES "
                            "(?, ?)", [(tid, c) for c in kids])
            self.audit(actor, "relay.create", detail={"relay_id": tid, "name": name[:100],
                                                      "children": kids})
        return token, self.get_relay_token(tid)

    def get_relay_token(self, token_id: int) -> RelayToken:
        """One relay token (404 when missing)."""
        return self._relay(self._get_one(
            "relay tokens", f"SELECT {_COLS} FROM relay_tokens WHERE id = ?", (int(token_id),),
            missing=f"no relay token {token_id}"))

    def list_relay_tokens(self) -> list[RelayToken]:
        """Every relay token, newest first (revoked ones too)."""
        rows = self._fetch("relay tokens", f"SELECT {_COLS} FROM relay_tokens ORDER BY id DESC")
        return [self._relay(r) for r in rows]

    def revoke_relay_token(self, token_id: int, *, actor: str) -> RelayToken:
        """Revoke a relay token at once (kept, stamped revoked; audit-logged)."""
        with self._tx("cannot revoke the relay token") as con:
            tok = self.get_relay_token(token_id)
            if tok.active:
                con.execute("UPDATE relay_tokens SET revoked_at = ?, revoked_by = ? WHERE "
                            "id = ?", (now_ns(), actor, tok.id))
                self.audit(actor, "relay.revoke", detail={"relay_id": tok.id,
                                                          "name": tok.name})
        return self.get_relay_token(token_id)

    def resolve_relay_token(self, token: str) -> RelayToken | None:
        """The active relay token ``token`` is, or None (unknown, revoked, malformed).

        Marks it used (``last_used_at``). Compared by its sha256, so the lookup's time does
        not depend on how much of a guess matches.
        """
        if not is_relay_token(token) or len(token) > 200:
            return None
        row = self._fetch_one(
            "relay tokens",
            f"SELECT {_COLS} FROM relay_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (_token_hash(token),))
        if row is None:
            return None
        with self._tx("cannot save the relay token's use") as con:
            con.execute("UPDATE relay_tokens SET last_used_at = ? WHERE id = ?",
                        (now_ns(), int(row[0])))
        return self._relay(row)

    def relay_bands(self, relay: RelayToken) -> list[RelayBand]:
        """The bands assigned now to the relay's children (what it looks for)."""
        if not relay.child_ids:
            return []
        kids, kid_ids = is_in("a.child_id", relay.child_ids)
        rows = self._fetch(
            "assignments",
            "SELECT a.device_id, d.family, a.child_id FROM assignments a JOIN devices d "
            f"ON d.device_id = a.device_id WHERE a.end_ns IS NULL AND {kids} "
            "AND a.device_id NOT IN (SELECT device_id FROM sources WHERE "
            "kind = 'file') ORDER BY a.device_id", kid_ids)
        return [RelayBand(str(d), None if f is None else str(f), int(c)) for d, f, c in rows]
