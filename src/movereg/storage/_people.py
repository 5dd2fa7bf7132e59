"""Users, links, tokens, children and sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from typing import Any, cast

from movereg.errors import NotFoundError, ValidationError
from movereg.storage._core import StoreCore, now_ns
from movereg.storage._db import NO_PARAM, map_errors, where
from movereg.storage.records import ROLES, Child, Role, Session, TokenInfo, User

__all__ = ["PeopleMixin"]

_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
_CODE_RE = re.compile(r"^[A-Za-z0-9-]{3,32}$")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
_USER_COLS = "id, username, role, disabled, created_at, password_hash"
_SESSION_COLS = "id, child_id, kind, started_at, ended_at, device_id, created_by, note"


def _user(row: tuple[Any, ...]) -> User:
    return User(int(row[0]), str(row[1]), cast(Role, row[2]), bool(row[3]), int(row[4]),
                str(row[5]))


def _session(row: tuple[Any, ...]) -> Session:
    return Session(int(row[0]), int(row[1]), row[2], int(row[3]),
                   None if row[4] is None else int(row[4]), row[5], row[6], str(row[7]))


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def refuse_last_admin(con: sqlite3.Connection, user_id: int,
                      change: str = "deactivated") -> None:
    """Raise when ``user_id`` is the only enabled administrator (inside the write tx)."""
    row = con.execute("SELECT role, disabled FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None or row[0] != "admin" or row[1]:
        return
    others = con.execute("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 "
                         "AND id != ?", (user_id,)).fetchone()[0]
    if not others:
        raise ValidationError(f"the last active administrator cannot be {change}: create "
                              "or reactivate another administrator first")


def new_child_code() -> str:
    """A random pseudonymous child code like ``C-7KQ2M9`` (30 bits)."""
    return "C-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))


class PeopleMixin(StoreCore):
    """Accounts, children, caseload / guardian links, sessions."""

    # --- users --------------------------------------------------------------------
    def create_user(self, username: str, password_hash: str, role: str) -> User:
        """Add a login. The caller hashes the password (argon2)."""
        if not _USERNAME_RE.match(username):
            raise ValidationError(f"bad username {username!r}",
                                  advice="2-64 letters, digits or . _ @ -")
        if role not in ROLES:
            raise ValidationError(f"unknown role {role!r}", advice=f"one of {', '.join(ROLES)}")
        if not password_hash.startswith("$argon2"):
            raise ValidationError("password must be stored as an argon2 hash")
        try:
            with self._tx("cannot create user") as con:
                cur = con.execute("INSERT INTO users(username, password_hash, role, created_at) "
                                  "VALUES (?, ?, ?, ?)", (username, password_hash, role, now_ns()))
                uid = int(cur.lastrowid or 0)
        except Exception as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise ValidationError(f"user {username!r} already exists") from exc
            raise
        return self.get_user(uid)

    def get_user(self, user_id: int) -> User:
        """One user by id."""
        return _user(self._get_one(
            "users", f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,),
            missing=f"no user {user_id}"))

    def find_user(self, username: str) -> User | None:
        """One user by name, or None."""
        row = self._fetch_one("users", f"SELECT {_USER_COLS} FROM users WHERE username = ?",
                              (username,))
        return None if row is None else _user(row)

    def list_users(self) -> list[User]:
        """All users, by name."""
        with map_errors("cannot read users"):
            rows = self._read().execute(f"SELECT {_USER_COLS} FROM users ORDER BY username")
            return [_user(r) for r in rows.fetchall()]

    def count_users(self) -> int:
        """How many enabled users exist."""
        with map_errors("cannot read users"):
            return int(self._read().execute(
                "SELECT COUNT(*) FROM users WHERE disabled = 0").fetchone()[0])

    def set_user_disabled(self, user_id: int, disabled: bool, *,
                          allow_last_admin: bool = False) -> User:
        """Disable or re-enable a login (disabling also ends its sessions and tokens).

        Raises
        ------
        ValidationError
            ``user_id`` is the last enabled administrator (disabling it would lock everyone
            out of the admin pages and reopen first-run setup), unless
            ``allow_last_admin`` (an operator's deliberate reset).
        """
        with self._tx("cannot update user") as con:
            if disabled and not allow_last_admin:
                refuse_last_admin(con, user_id)
            cur = con.execute("UPDATE users SET disabled = ? WHERE id = ?",
                              (int(disabled), user_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"no user {user_id}")
            if disabled:
                con.execute("DELETE FROM api_tokens WHERE user_id = ?", (user_id,))
        return self.get_user(user_id)

    def link_user_child(self, user_id: int, child_id: int) -> None:
        """Put a child on a therapist's caseload, or link a parent to their child."""
        self.get_user(user_id)
        self.get_child(child_id)
        with self._tx("cannot link user") as con:
            con.execute("INSERT OR IGNORE INTO user_children(user_id, child_id) VALUES (?, ?)",
                        (user_id, child_id))

    def unlink_user_child(self, user_id: int, child_id: int) -> None:
        """Remove a caseload / guardian link."""
        with self._tx("cannot unlink user") as con:
            con.execute("DELETE FROM user_children WHERE user_id = ? AND child_id = ?",
                        (user_id, child_id))

    def linked_children(self, user_id: int) -> set[int]:
        """Ids of the children linked to a user."""
        with map_errors("cannot read links"):
            rows = self._read().execute("SELECT child_id FROM user_children WHERE user_id = ?",
                                        (user_id,)).fetchall()
        return {int(r[0]) for r in rows}

    # --- tokens -------------------------------------------------------------------
    def create_token(self, user_id: int, kind: str, ttl_s: float) -> tuple[str, str | None]:
        """Issue a session or bearer token; returns ``(secret, csrf)``.

        Only a sha256 of the secret is stored. Session tokens carry a CSRF token.
        """
        if kind not in ("session", "bearer"):
            raise ValidationError(f"bad token kind {kind!r}")
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24) if kind == "session" else None
        ts = now_ns()
        with self._tx("cannot create token") as con:
            con.execute("INSERT INTO api_tokens(token_hash, user_id, kind, csrf, created_at, "
                        "expires_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (_token_hash(secret), user_id, kind, csrf, ts,
                         ts + int(ttl_s * 1e9), ts))
        return secret, csrf

    def resolve_token(self, secret: str, *, idle_s: float | None = None) -> TokenInfo | None:
        """The user behind a token, or None when unknown, expired, idle or disabled.

        ``idle_s`` logs a session out when it was not used for that long.
        """
        ts = now_ns()
        h = _token_hash(secret)
        row = self._fetch_one(
            "tokens",
            "SELECT t.kind, t.csrf, t.expires_at, t.last_seen, t.user_id FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND u.disabled = 0",
            (h,))
        if row is None:
            return None
        kind, csrf, expires, last_seen, uid = row
        if ts >= int(expires) or (idle_s is not None and ts - int(last_seen) > idle_s * 1e9):
            self.revoke_token(secret)
            return None
        if ts - int(last_seen) > 30 * 10**9:  # touch at most every 30 s (skipped: disk full)
            self._optional_write("cannot touch token",
                                 "UPDATE api_tokens SET last_seen = ? WHERE token_hash = ?", (ts, h))
        return TokenInfo(self.get_user(int(uid)), kind, csrf, int(expires))

    def revoke_user_tokens(self, user_id: int) -> int:
        """End every session and bearer token of a user (logout, password change,
        deactivation); returns how many ended."""
        with self._tx("cannot revoke tokens") as con:
            return int(con.execute("DELETE FROM api_tokens WHERE user_id = ?",
                                   (user_id,)).rowcount)

    def set_password(self, user_id: int, password_hash: str) -> int:
        """Store a new argon2 hash and end every session and token of the user (one
        transaction); returns how many sessions/tokens ended."""
        if not password_hash.startswith("$argon2"):
            raise ValidationError("password must be stored as an argon2 hash")
        with self._tx("cannot change password") as con:
            if con.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                           (password_hash, user_id)).rowcount == 0:
                raise NotFoundError(f"no user {user_id}")
            return int(con.execute("DELETE FROM api_tokens WHERE user_id = ?",
                                   (user_id,)).rowcount)

    def revoke_token(self, secret: str) -> None:
        """Delete a token (logout)."""
        with self._tx("cannot revoke token") as con:
            con.execute("DELETE FROM api_tokens WHERE token_hash = ?", (_token_hash(secret),))

    # --- children -----------------------------------------------------------------
    def create_child(self, *, code: str | None = None, display_name: str | None = None,
                     age_band: str | None = None) -> Child:
        """Add a child under a pseudonymous code (random when not given)."""
        if code is not None and not _CODE_RE.match(code):
            raise ValidationError(f"bad child code {code!r}",
                                  advice="3-32 letters, digits or '-'; no names")
        if display_name is not None and not 0 < len(display_name.strip()) <= 80:
            raise ValidationError("display name must be 1-80 characters")
        for _ in range(10):
            c = code or new_child_code()
            try:
                with self._tx("cannot create child") as con:
                    cur = con.execute("INSERT INTO children(code, age_band, created_at) "
                                      "VALUES (?, ?, ?)", (c, age_band, now_ns()))
                    cid = int(cur.lastrowid or 0)
                    if display_name is not None:
                        con.execute("INSERT INTO child_names(child_id, display_name) "
                                    "VALUES (?, ?)", (cid, display_name.strip()))
                return self.get_child(cid, with_name=True)
            except Exception as exc:
                if not isinstance(exc.__cause__, sqlite3.IntegrityError):
                    raise
                if code is not None:
                    raise ValidationError(f"child code {code!r} already exists") from exc
        raise ValidationError("could not allocate a unique child code")  # pragma: no cover

    def get_child(self, child_id: int, *, with_name: bool = False) -> Child:
        """One child by id."""
        row = self._get_one(
            "children",
            "SELECT c.id, c.code, c.age_band, c.created_at, n.display_name FROM children c "
            "LEFT JOIN child_names n ON n.child_id = c.id WHERE c.id = ?",
            (child_id,), missing=f"no child {child_id}")
        return Child(int(row[0]), str(row[1]), row[2], int(row[3]),
                     row[4] if with_name else None)

    def find_child(self, code: str) -> Child | None:
        """One child by pseudonymous code, or None."""
        row = self._fetch_one("children", "SELECT id FROM children WHERE code = ?", (code,))
        return None if row is None else self.get_child(int(row[0]))

    def list_children(self, ids: set[int] | None = None, *,
                      with_name: bool = False) -> list[Child]:
        """Children (all, or only ``ids``), by code."""
        rows = self._fetch(
            "children",
            "SELECT c.id, c.code, c.age_band, c.created_at, n.display_name FROM children c "
            "LEFT JOIN child_names n ON n.child_id = c.id ORDER BY c.code")
        return [Child(int(r[0]), str(r[1]), r[2], int(r[3]), r[4] if with_name else None)
                for r in rows if ids is None or int(r[0]) in ids]

    # --- sessions -----------------------------------------------------------------
    def start_session(self, child_id: int, *, kind: str = "therapy",
                      started_at: int | None = None, device_id: str | None = None,
                      created_by: int | None = None, note: str = "") -> Session:
        """Open a therapy session or a day of wear for a child."""
        if kind not in ("therapy", "wear"):
            raise ValidationError(f"bad session kind {kind!r}", advice="therapy or wear")
        self.get_child(child_id)
        ts = now_ns() if started_at is None else int(started_at)
        with self._tx("cannot start session") as con:
            if device_id is not None:
                con.execute("INSERT OR IGNORE INTO devices(device_id, created_at) VALUES (?, ?)",
                            (device_id, ts))
            cur = con.execute("INSERT INTO sessions(child_id, kind, started_at, device_id, "
                              "created_by, note) VALUES (?, ?, ?, ?, ?, ?)",
                              (child_id, kind, ts, device_id, created_by, note))
            sid = int(cur.lastrowid or 0)
        return self.get_session(sid)

    def stop_session(self, session_id: int, *, ended_at: int | None = None) -> Session:
        """Close a session (idempotent: a closed session keeps its end time)."""
        s = self.get_session(session_id)
        if s.ended_at is not None:
            return s
        ts = now_ns() if ended_at is None else int(ended_at)
        if ts < s.started_at:
            raise ValidationError("a session cannot end before it starts")
        with self._tx("cannot stop session") as con:
            con.execute("UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
                        (ts, session_id))
        return self.get_session(session_id)

    def get_session(self, session_id: int) -> Session:
        """One session by id."""
        return _session(self._get_one(
            "sessions", f"SELECT {_SESSION_COLS} FROM sessions WHERE id = ?", (session_id,),
            missing=f"no session {session_id}"))

    def list_sessions(self, *, child_id: int | None = None,
                      open_only: bool = False) -> list[Session]:
        """Sessions, newest first."""
        clause, params = where([("child_id = ?", child_id),
                                ("ended_at IS NULL", NO_PARAM if open_only else None)])
        sql = f"SELECT {_SESSION_COLS} FROM sessions{clause}"
        rows = self._fetch("sessions", sql + " ORDER BY started_at DESC", params)
        return [_session(r) for r in rows]
