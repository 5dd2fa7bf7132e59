"""Login, logout, password change, who-am-I and bearer tokens.

Failed logins slow down per (account, client address) with growing delays (never a lock
of the account); the client address is the socket peer unless it is one of
``Settings.trusted_proxies``. Refused logins are aggregated in the audit log. Logout,
password change and deactivation end every session and token of the user.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse

from movereg.config import Settings
from movereg.dashboard.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    RefusedLogins,
    client_address,
    hash_password,
    verify_password,
)
from movereg.dashboard.deps import CurrentUser, SettingsDep, StoreDep
from movereg.dashboard.schemas import (
    LoginIn,
    LoginOut,
    PasswordChangeIn,
    TokenIn,
    TokenOut,
    UserOut,
    dt,
)
from movereg.errors import AuthError, ValidationError
from movereg.storage import Store, User

__all__ = ["router"]

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _limiter(request: Request) -> LoginLimiter:
    lim = getattr(request.app.state, "login_limiter", None)
    if lim is None:
        lim = request.app.state.login_limiter = LoginLimiter()
    return lim


def refused_logins(request: Request) -> RefusedLogins:
    """The app's aggregator of refused-login audit entries."""
    agg = getattr(request.app.state, "refused_logins", None)
    if agg is None:
        agg = request.app.state.refused_logins = RefusedLogins()
    return agg


def _address(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return client_address(request.client.host if request.client else None,
                          request.headers.get("x-forwarded-for"), settings.trusted_proxies)


def _authenticate(request: Request, store: Store, username: str, password: str) -> User:
    lim = _limiter(request)
    refused = refused_logins(request)
    address = _address(request)
    key = f"{username.lower()}|{address}"
    wait = lim.retry_after(key)
    if wait > 0:
        known = store.find_user(username)
        refused.add(store, address, "refused", known.username if known else None)
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            detail=f"too many failed logins; try again in {int(wait) + 1} s",
                            headers={"Retry-After": str(int(wait) + 1)})
    user = store.find_user(username)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        lim.failed(key)
        refused.add(store, address, "failed", user.username if user else None)
        raise AuthError("wrong username or password")
    lim.succeeded(key)
    refused.flush(store)
    store.audit(f"{user.username}({user.role})", "login", detail={"address": address})
    return user


def _session_ttl_s(settings: Settings) -> float:
    return settings.session_ttl_hours * 3600.0


def _set_cookies(response: Response, secret: str, csrf: str, settings: Settings) -> None:
    ttl = int(_session_ttl_s(settings))
    response.set_cookie(SESSION_COOKIE, secret, max_age=ttl, httponly=True,
                        samesite="strict", secure=settings.secure_cookies, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=ttl, httponly=False,
                        samesite="strict", secure=settings.secure_cookies, path="/")


def _clear_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.post("/login", operation_id="login", response_model=LoginOut)
def login(body: LoginIn, request: Request, response: Response, store: StoreDep,
          settings: SettingsDep) -> LoginOut:
    """Log in; sets the session and CSRF cookies (see ``movereg.dashboard.auth``)."""
    user = _authenticate(request, store, body.username, body.password)
    secret, csrf = store.create_token(user.id, "session", _session_ttl_s(settings))
    assert csrf is not None
    _set_cookies(response, secret, csrf, settings)
    info = store.resolve_token(secret)
    assert info is not None
    return LoginOut(user=UserOut.of(user), csrf_token=csrf, expires_at=dt(info.expires_at))


def _safe_next(next_url: str) -> str:
    if not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return "/"
    return next_url


@router.post("/login/form", operation_id="login_form", status_code=303,
             response_class=RedirectResponse)
def login_form(request: Request, store: StoreDep, settings: SettingsDep,
               username: Annotated[str, Form(min_length=1, max_length=64)],
               password: Annotated[str, Form(min_length=1, max_length=1024)],
               next_url: Annotated[str, Form(alias="next", max_length=500)] = "/"
               ) -> RedirectResponse:
    """HTML-form login: redirects to ``next`` (same site only) or to ``/login?error=1``."""
    try:
        user = _authenticate(request, store, username, password)
    except AuthError:
        return RedirectResponse("/login?error=1", status_code=303)
    except HTTPException:
        return RedirectResponse("/login?error=rate", status_code=303)
    secret, csrf = store.create_token(user.id, "session", _session_ttl_s(settings))
    assert csrf is not None
    resp = RedirectResponse(_safe_next(next_url), status_code=303)
    _set_cookies(resp, secret, csrf, settings)
    return resp


@router.post("/logout", operation_id="logout", status_code=204)
def logout(response: Response, store: StoreDep, principal: CurrentUser) -> None:
    """Log out everywhere: end every session and bearer token of this user (their open
    live feeds close within seconds) and clear the cookies."""
    n = store.revoke_user_tokens(principal.user.id)
    store.audit(principal.actor, "logout", detail={"ended": n})
    _clear_cookies(response)


@router.get("/me", operation_id="me", response_model=UserOut)
def me(principal: CurrentUser) -> UserOut:
    """The logged-in user."""
    return UserOut.of(principal.user)


@router.post("/tokens", operation_id="create_token", response_model=TokenOut, status_code=201)
def create_token(body: TokenIn, request: Request, store: StoreDep, settings: SettingsDep,
                 principal: CurrentUser) -> TokenOut:
    """Issue a bearer token for scripts (password re-entry required). It lasts
    ``ttl_hours`` (at most ``Settings.bearer_ttl_max_hours``) and ends earlier when unused
    for ``Settings.bearer_idle_timeout_min`` minutes."""
    if body.ttl_hours > settings.bearer_ttl_max_hours:
        raise ValidationError(f"ttl_hours above this server's limit of "
                              f"{settings.bearer_ttl_max_hours:g} h")
    _authenticate(request, store, principal.user.username, body.password)
    secret, _ = store.create_token(principal.user.id, "bearer", body.ttl_hours * 3600.0)
    info = store.resolve_token(secret)
    assert info is not None
    store.audit(principal.actor, "token.create", detail={"ttl_hours": body.ttl_hours})
    return TokenOut(token=secret, expires_at=dt(info.expires_at))


@router.post("/password", operation_id="change_password", status_code=204)
def change_password(body: PasswordChangeIn, request: Request, response: Response,
                    store: StoreDep, principal: CurrentUser) -> None:
    """Change your own password (the current one is asked again). Every session and
    token of the account ends, this one too: log in again with the new password."""
    _authenticate(request, store, principal.user.username, body.current_password)
    if body.new_password == body.current_password:
        raise ValidationError("the new password is the same as the current one")
    n = store.set_password(principal.user.id, hash_password(body.new_password))
    store.audit(principal.actor, "password.change", detail={"ended": n})
    _clear_cookies(response)
