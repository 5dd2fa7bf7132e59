"""Login, logout, who-am-I and bearer tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse

from movereg.dashboard.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL_S,
    LoginLimiter,
    verify_password,
)
from movereg.dashboard.deps import CurrentUser, SettingsDep, StoreDep
from movereg.dashboard.schemas import LoginIn, LoginOut, TokenIn, TokenOut, UserOut, dt
from movereg.errors import AuthError
from movereg.storage import Store, User

__all__ = ["router"]

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _limiter(request: Request) -> LoginLimiter:
    lim = getattr(request.app.state, "login_limiter", None)
    if lim is None:
        lim = request.app.state.login_limiter = LoginLimiter()
    return lim


def _authenticate(request: Request, store: Store, username: str, password: str) -> User:
    lim = _limiter(request)
    ukey = "u:" + username.lower()
    ikey = "ip:" + (request.client.host if request.client else "?")
    wait = lim.retry_after(ukey, ikey)
    if wait > 0:
        store.audit(username[:64], "login", detail={"reason": "rate limited"}, outcome="refused")
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            detail=f"too many failed logins; try again in {int(wait) + 1} s",
                            headers={"Retry-After": str(int(wait) + 1)})
    user = store.find_user(username)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        lim.failed(ukey, ikey)
        store.audit(username[:64], "login", outcome="failed")
        raise AuthError("wrong username or password")
    lim.succeeded(ukey)
    store.audit(f"{user.username}({user.role})", "login")
    return user


def _set_cookies(response: Response, secret: str, csrf: str, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(SESSION_TTL_S), httponly=True,
                        samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=int(SESSION_TTL_S), httponly=False,
                        samesite="strict", secure=secure, path="/")


@router.post("/login", operation_id="login", response_model=LoginOut)
def login(body: LoginIn, request: Request, response: Response, store: StoreDep,
          settings: SettingsDep) -> LoginOut:
    """Log in; sets the session and CSRF cookies (see ``movereg.dashboard.auth``)."""
    user = _authenticate(request, store, body.username, body.password)
    secret, csrf = store.create_token(user.id, "session", SESSION_TTL_S)
    assert csrf is not None
    _set_cookies(response, secret, csrf, settings.secure_cookies)
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
    secret, csrf = store.create_token(user.id, "session", SESSION_TTL_S)
    assert csrf is not None
    resp = RedirectResponse(_safe_next(next_url), status_code=303)
    _set_cookies(resp, secret, csrf, settings.secure_cookies)
    return resp


@router.post("/logout", operation_id="logout", status_code=204)
def logout(request: Request, response: Response, store: StoreDep,
           principal: CurrentUser) -> None:
    """End this session (or revoke the bearer token used) and clear the cookies."""
    if principal.via == "session":
        store.revoke_token(request.cookies.get(SESSION_COOKIE, ""))
    else:
        store.revoke_token(request.headers.get("authorization", "").partition(" ")[2].strip())
    store.audit(principal.actor, "logout")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/me", operation_id="me", response_model=UserOut)
def me(principal: CurrentUser) -> UserOut:
    """The logged-in user."""
    return UserOut.of(principal.user)


@router.post("/tokens", operation_id="create_token", response_model=TokenOut, status_code=201)
def create_token(body: TokenIn, request: Request, store: StoreDep,
                 principal: CurrentUser) -> TokenOut:
    """Issue a bearer token for scripts (password re-entry required)."""
    _authenticate(request, store, principal.user.username, body.password)
    secret, _ = store.create_token(principal.user.id, "bearer", body.ttl_hours * 3600.0)
    info = store.resolve_token(secret)
    assert info is not None
    store.audit(principal.actor, "token.create", detail={"ttl_hours": body.ttl_hours})
    return TokenOut(token=secret, expires_at=dt(info.expires_at))
