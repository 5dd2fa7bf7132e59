"""A clinic day: pinned favourites, group sessions and the one-time setup token."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from movereg.errors import AuthError, NotFoundError, ValidationError
from movereg.storage._core import now_ns
from movereg.storage._db import map_errors
from movereg.storage._events import EventsMixin
from movereg.storage._people import refuse_last_admin
from movereg.storage.records import ROLES, Session, User

__all__ = ["ClinicMixin"]

_MAX_FAVOURITES = 12
_SETUP_KEY = "setup_token_sha256"


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ClinicMixin(EventsMixin):
    """Favourites (ordered by the therapist), group sessions, first-run setup."""

    # --- favourites -----------------------------------------------------------------
    def favourites(self, child_id: int) -> list[str]:
        """A child's pinned strategy keys in the therapist's order (may be empty)."""
        rows = self._fetch(
            "favourites",
            "SELECT strategy FROM child_favourites WHERE child_id = ? ORDER BY position",
            (child_id,))
        return [str(r[0]) for r in rows]

    def set_favourites(self, child_id: int, keys: list[str]) -> list[str]:
        """Replace a child's pinned strategies with ``keys`` in this order."""
        self.get_child(child_id)
        if len(keys) > _MAX_FAVOURITES:
            raise ValidationError(f"at most {_MAX_FAVOURITES} pinned strategies per child")
        if len(set(keys)) != len(keys):
            raise ValidationError("a strategy is pinned twice")
        for k in keys:
            self.get_strategy(k)                     # NotFoundError for an unknown key
        with self._tx("cannot save favourites") as con:
            con.execute("DELETE FROM child_favourites WHERE child_id = ?", (child_id,))
            con.executemany("INSERT INTO child_favourites(child_id, position, strategy) "
                            "VALUES (?, ?, ?)", [(child_id, i, k) for i, k in enumerate(keys)])
        return self.favourites(child_id)

    def child_band(self, child_id: int) -> str | None:
        """The band assigned to a child now (the newest open assignment), or None."""
        row = self._fetch_one(
            "assignments",
            "SELECT device_id FROM assignments WHERE child_id = ? AND end_ns IS NULL "
            "ORDER BY start_ns DESC LIMIT 1", (child_id,))
        return None if row is None else str(row[0])

    # --- accounts (the admin pages) -------------------------------------------------
    def set_user_role(self, user_id: int, role: str) -> User:
        """Change a user's role; their sessions and tokens end at once.

        Raises
        ------
        ValidationError
            An unknown role, or the last enabled administrator would lose the role.
        """
        if role not in ROLES:
            raise ValidationError(f"unknown role {role!r}", advice=f"one of {', '.join(ROLES)}")
        with self._tx("cannot update user") as con:
            if role != "admin":
                refuse_last_admin(con, user_id, "given another role")
            if con.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id)).rowcount == 0:
                raise NotFoundError(f"no user {user_id}")
            con.execute("DELETE FROM api_tokens WHERE user_id = ?", (user_id,))
        return self.get_user(user_id)

    def set_user_password(self, user_id: int, password_hash: str) -> User:
        """Reset a password (argon2 hash from the caller); the user's sessions end at once
        (:meth:`set_password`: one transaction)."""
        self.set_password(user_id, password_hash)
        return self.get_user(user_id)

    # --- group sessions -------------------------------------------------------------
    def start_group(self, members: list[tuple[int, str | None]], *,
                    created_by: int | None = None, note: str = "",
                    started_at: int | None = None) -> list[Session]:
        """Start one therapy session per ``(child_id, device_id)``, sharing one group id.

        The group id is the first session's id; a single child makes a group of one.
        ``started_at`` (UTC ns) defaults to now.
        """
        if not members:
            raise ValidationError("choose at least one child")
        if len({c for c, _ in members}) != len(members):
            raise ValidationError("a child is listed twice")
        ts = now_ns() if started_at is None else int(started_at)
        out: list[Session] = []
        with self._tx("cannot start sessions") as con:
            for child_id, device_id in members:
                s = self.start_session(child_id, kind="therapy", started_at=ts,
                                       device_id=device_id, created_by=created_by, note=note)
                gid = out[0].id if out else s.id
                con.execute("UPDATE sessions SET group_id = ? WHERE id = ?", (gid, s.id))
                out.append(s)
        return out

    def group_id(self, session_id: int) -> int:
        """The group a session belongs to (its own id when started alone)."""
        row = self._get_one("sessions", "SELECT group_id FROM sessions WHERE id = ?",
                            (session_id,), missing=f"no session {session_id}")
        return int(row[0]) if row[0] is not None else session_id

    def group_sessions(self, session_id: int) -> list[Session]:
        """Every session of ``session_id``'s group, in start order (itself included)."""
        gid = self.group_id(session_id)
        rows = self._fetch(
            "sessions",
            "SELECT id FROM sessions WHERE id = ? OR group_id = ? ORDER BY id",
            (gid, gid))
        return [self.get_session(int(r[0])) for r in rows]

    def stop_group(self, session_id: int) -> list[Session]:
        """Stop every open session of the group (one transaction; stopped ones keep their end)."""
        ts = now_ns()
        with self._tx("cannot stop sessions"):
            return [self.stop_session(s.id, ended_at=max(ts, s.started_at))
                    for s in self.group_sessions(session_id)]

    # --- first run ------------------------------------------------------------------
    def new_setup_token(self) -> str:
        """Issue the one-time setup token (only its sha256 is stored); replaces an old one."""
        secret = secrets.token_urlsafe(24)
        self.meta_set(_SETUP_KEY, _sha(secret))
        return secret

    def setup_pending(self) -> bool:
        """True while no enabled administrator exists (the first-run page is open)."""
        with map_errors("cannot read users"):
            n = self._read().execute("SELECT COUNT(*) FROM users WHERE role = 'admin' "
                                     "AND disabled = 0").fetchone()[0]
        return int(n) == 0

    def check_setup_token(self, secret: str) -> None:
        """Raise :class:`AuthError` unless ``secret`` is the live setup token."""
        stored = self.meta_get(_SETUP_KEY)
        if not self.setup_pending() or not stored or stored == "used" or not hmac.compare_digest(
                stored, _sha(secret)):
            raise AuthError("this setup link is not valid (it works once, until an "
                            "administrator exists)",
                            advice="restart 'movereg serve' on an empty data directory for a "
                                   "new link, or sign in")

    def use_setup_token(self, secret: str) -> None:
        """Check the token and kill it (call inside the transaction that adds the admin)."""
        with self._tx("cannot finish setup"):
            self.check_setup_token(secret)
            self.meta_set(_SETUP_KEY, "used")
