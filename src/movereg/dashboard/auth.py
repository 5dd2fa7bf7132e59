"""Passwords (argon2), login rate limiting, cookie names and the CSRF contract.

Contract for pages and browser JS
---------------------------------
* ``POST /api/auth/login`` (JSON) or ``POST /api/auth/login/form`` (HTML form) sets two
  cookies: ``movereg_session`` (HttpOnly, SameSite=Strict, Secure when
  ``Settings.secure_cookies``) and ``movereg_csrf`` (readable by JS, SameSite=Strict).
* Every state-changing request (POST, PUT, PATCH, DELETE) authenticated by the session
  cookie must send the header ``X-CSRF-Token`` with the value of the ``movereg_csrf``
  cookie (it is bound to the session server-side); otherwise 403. Plain HTML forms cannot
  set headers, so pages post state changes with ``fetch`` (the login form is the one
  exception: it needs no session). Bearer-token requests (``Authorization: Bearer
  <token>``) need no CSRF token.
* Sessions expire after ``Settings.session_idle_logout_min`` minutes without use.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from movereg.errors import ValidationError

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "MIN_PASSWORD_LEN",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "SESSION_TTL_S",
    "LoginLimiter",
    "check_password_strength",
    "hash_password",
    "verify_password",
]

SESSION_COOKIE = "movereg_session"
CSRF_COOKIE = "movereg_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_TTL_S = 12 * 3600.0
MIN_PASSWORD_LEN = 10

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist (equal timing).
_DUMMY_HASH = _hasher.hash("movereg-timing-equaliser")


def check_password_strength(password: str) -> None:
    """Refuse short or trivially weak passphrases (raises ValidationError)."""
    if len(password) < MIN_PASSWORD_LEN:
        raise ValidationError(f"password must be at least {MIN_PASSWORD_LEN} characters",
                              advice="use a passphrase of several words")
    if len(password) > 1024:
        raise ValidationError("password longer than 1024 characters")
    if len(set(password)) < 4:
        raise ValidationError("password is too repetitive")


def hash_password(password: str) -> str:
    """argon2id hash (PHC string) of a password that passes the strength check."""
    check_password_strength(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; constant work when the user is unknown."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class LoginLimiter:
    """Sliding-window limit on failed logins, per username and per client address.

    Parameters
    ----------
    max_failures
        Failures allowed inside ``window_s`` before further attempts are refused.
    window_s
        Window length, s.
    """

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> float:
        """Seconds until another attempt is allowed (0 when allowed now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._recent(key, now)
                if len(q) >= self.max_failures:
                    wait = max(wait, self.window_s - (now - q[0]))
        return wait

    def failed(self, *keys: str) -> None:
        """Record a failed attempt."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._fails) > 10_000:  # bound memory under a spray attack
                for k in [k for k, q in self._fails.items() if not q][:5000]:
                    del self._fails[k]

    def succeeded(self, username_key: str) -> None:
        """Clear the username's failures after a good login."""
        with self._lock:
            self._fails.pop(username_key, None)
