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

import functools
import ipaddress
import threading
import time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from movereg.errors import ValidationError

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "MIN_PASSWORD_LEN",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "LoginLimiter",
    "RefusedLogins",
    "check_password_strength",
    "client_address",
    "hash_password",
    "verify_password",
]

SESSION_COOKIE = "movereg_session"
CSRF_COOKIE = "movereg_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MIN_PASSWORD_LEN = 10

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A real hash to verify against when the user does not exist (equal timing); made
    on first use, not at import (it costs ~0.3 s of CPU before the server could answer)."""
    return _hasher.hash("movereg-timing-equaliser")


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
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class LoginLimiter:
    """Growing delays after failed logins, per key (the caller uses ``account|address``).

    The first ``max_failures`` failures cost nothing; after that each further attempt
    must wait ``base_s * 2**(n - max_failures)`` seconds (at most ``max_delay_s``) after
    the last failure. A key is forgotten ``window_s`` after its last failure and cleared
    by a good login. Nothing is ever locked: the right password from another address, or
    another account from the same address (a clinic's shared Wi-Fi), is never refused.

    Parameters
    ----------
    max_failures
        Failures without any delay.
    window_s
        Seconds after the last failure at which a key's failures are forgotten.
    base_s, max_delay_s
        First delay and the cap of the doubling delays, s.
    """

    def __init__(self, max_failures: int = 5, window_s: float = 900.0, *,
                 base_s: float = 1.0, max_delay_s: float = 60.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.base_s = base_s
        self.max_delay_s = max_delay_s
        self._fails: dict[str, tuple[int, float]] = {}   # key -> (count, last failure)
        self._lock = threading.Lock()

    def _state(self, key: str, now: float) -> tuple[int, float]:
        n, last = self._fails.get(key, (0, 0.0))
        if n and now - last > self.window_s:
            self._fails.pop(key, None)
            return 0, 0.0
        return n, last

    def delay_s(self, failures: int) -> float:
        """Wait required after ``failures`` failures, s."""
        if failures < self.max_failures:
            return 0.0
        return min(self.max_delay_s, self.base_s * 2.0 ** (failures - self.max_failures))

    def retry_after(self, *keys: str) -> float:
        """Seconds until another attempt is allowed (0 when allowed now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                n, last = self._state(key, now)
                if n:
                    wait = max(wait, last + self.delay_s(n) - now)
        return wait

    def failed(self, *keys: str) -> None:
        """Record a failed attempt."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                n, _ = self._state(key, now)
                self._fails[key] = (n + 1, now)
            if len(self._fails) > 10_000:  # bound memory under a spray attack: oldest out
                for k, _ in sorted(self._fails.items(), key=lambda kv: kv[1][1])[:5000]:
                    del self._fails[k]

    def succeeded(self, key: str) -> None:
        """Clear a key's failures after a good login."""
        with self._lock:
            self._fails.pop(key, None)


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted_proxies: list[str]) -> str:
    """The client's address: the socket peer, unless the peer is a configured proxy, in
    which case the right-most ``X-Forwarded-For`` hop that is not a trusted proxy.

    A forged ``X-Forwarded-For`` from anyone else is ignored.
    """
    nets = []
    for p in trusted_proxies:
        try:
            nets.append(ipaddress.ip_network(p, strict=False))
        except ValueError:
            continue

    def trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in n for n in nets)

    addr = peer or "?"
    if not nets or not trusted(addr) or not forwarded_for:
        return addr
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return addr     # garbage in the header: fall back to the proxy itself
        addr = hop
    return addr


class RefusedLogins:
    """Refused logins, aggregated into audit entries per client address and outcome.

    The first refusal from an address in a window is written at once; further ones are
    counted and written as one entry when the window ends (checked on the next login
    attempt, on :meth:`flush`). Attacker-chosen names never reach the log: only existing
    account names are listed, unknown names are counted.
    """

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._open: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, store: Any, address: str, outcome: str, account: str | None) -> None:
        """Count one refusal (``outcome`` 'failed' or 'refused'); ``account`` is the
        name of an existing account, None for an unknown name."""
        now = time.monotonic()
        self.flush(store)
        with self._lock:
            key = (address, outcome)
            agg = self._open.get(key)
            first = agg is None
            if agg is None:
                agg = self._open[key] = {"since": now, "attempts": 0, "accounts": set(),
                                         "unknown_names": 0}
            if not first:
                agg["attempts"] += 1
                if account is None:
                    agg["unknown_names"] += 1
                elif len(agg["accounts"]) < 20:
                    agg["accounts"].add(account)
        if first:
            store.audit("anonymous", "login", outcome=outcome,
                        detail={"address": address, "attempts": 1,
                                "accounts": [account] if account else [],
                                "unknown_names": 0 if account else 1})

    def flush(self, store: Any, *, force: bool = False) -> None:
        """Write the counts of windows that have ended (all with ``force``)."""
        now = time.monotonic()
        with self._lock:
            done = [k for k, v in self._open.items()
                    if force or now - v["since"] >= self.window_s]
            rows = [(k, self._open.pop(k)) for k in done]
        for (address, outcome), agg in rows:
            if agg["attempts"]:
                store.audit("anonymous", "login", outcome=outcome,
                            detail={"address": address, "attempts": agg["attempts"],
                                    "accounts": sorted(agg["accounts"]),
                                    "unknown_names": agg["unknown_names"],
                                    "window_s": self.window_s, "aggregated": True})
