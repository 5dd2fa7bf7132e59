"""FastAPI dependencies: store, settings, hub, the current user, roles, child access.

Access rules (object-level, on every child-scoped route):

* ``admin`` sees every child.
* ``therapist`` sees the children on their caseload; ``parent`` only their linked child.
  Another child's id answers 404 (the caller may not learn it exists).
* ``researcher`` never reads a child's records directly (403): only pseudonymous
  exports and the catalogue / data dictionary.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, cast

from fastapi import Depends, Request

from movereg.config import Settings
from movereg.dashboard.auth import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE
from movereg.errors import AuthError, ForbiddenError, NotFoundError
from movereg.pipeline.hub import Hub
from movereg.storage import Child, Role, Store, User

__all__ = [
    "Admin",
    "Carer",
    "Clinician",
    "CurrentUser",
    "Guardian",
    "HubDep",
    "OptionalUser",
    "Principal",
    "SettingsDep",
    "StoreDep",
    "check_child",
    "get_hub",
    "get_settings",
    "get_store",
    "optional_user",
    "require_role",
]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and how they authenticated."""

    user: User
    via: Literal["session", "bearer"]
    csrf: str | None = None

    @property
    def role(self) -> Role:
        """The user's role."""
        return self.user.role

    @property
    def actor(self) -> str:
        """Name written to the audit log."""
        return f"{self.user.username}({self.user.role})"


def get_store(request: Request) -> Store:
    """The app's open :class:`Store`."""
    return cast(Store, request.app.state.store)


def get_settings(request: Request) -> Settings:
    """The app's :class:`Settings`."""
    return cast(Settings, request.app.state.settings)


def get_hub(request: Request) -> Hub:
    """The app's pipeline hub (raises 503 when the app runs without one)."""
    hub = getattr(request.app.state, "hub", None)
    if hub is None:
        from movereg.errors import StorageError

        raise StorageError("live bands are not available in this server",
                           advice="start the server with `movereg serve` or `movereg demo`")
    return cast(Hub, hub)


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HubDep = Annotated[Hub, Depends(get_hub)]


def optional_user(request: Request, store: StoreDep, settings: SettingsDep) -> Principal | None:
    """The caller, from ``Authorization: Bearer`` or the session cookie; None if anonymous.

    Cookie-authenticated state-changing requests must carry ``X-CSRF-Token`` equal to
    the session's CSRF token (403 otherwise).
    """
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("malformed Authorization header", advice="use 'Bearer <token>'")
        info = store.resolve_token(token.strip(), idle_s=settings.bearer_idle_timeout_min * 60.0)
        if info is None or info.kind != "bearer":
            raise AuthError("invalid or expired token")
        return Principal(info.user, "bearer")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    info = store.resolve_token(cookie, idle_s=settings.session_idle_logout_min * 60.0)
    if info is None or info.kind != "session":
        return None
    principal = Principal(info.user, "session", info.csrf)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not info.csrf or not secrets.compare_digest(sent.encode(), info.csrf.encode()):
            raise ForbiddenError("missing or wrong CSRF token",
                                 advice=f"send the {CSRF_HEADER} header with the value of "
                                        "the movereg_csrf cookie")
    return principal


OptionalUser = Annotated[Principal | None, Depends(optional_user)]


def current_user(principal: OptionalUser) -> Principal:
    """The logged-in caller (401 when anonymous)."""
    if principal is None:
        raise AuthError("not logged in", advice="log in at /login or send a bearer token")
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits only ``roles`` (403 for other logged-in users)."""
    allowed = frozenset(roles)

    def _dep(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            raise ForbiddenError(f"the {principal.role} role cannot do this")
        return principal

    _dep.__name__ = "require_" + "_".join(sorted(allowed))
    return _dep


# The role sets of the API, named once (401 when anonymous, 403 for any other role).
#: Administrators only (accounts, relays, the whole audit log).
Admin = Annotated[Principal, Depends(require_role("admin"))]
#: Administrators and therapists (bands, consent, strategies, home plans).
Clinician = Annotated[Principal, Depends(require_role("admin", "therapist"))]
#: Everyone who cares for a child: administrators, therapists and parents.
Carer = Annotated[Principal, Depends(require_role("admin", "therapist", "parent"))]
#: Administrators and parents (a child's own access log).
Guardian = Annotated[Principal, Depends(require_role("admin", "parent"))]


def check_child(store: Store, principal: Principal, child_id: int, *,
                with_name: bool = False) -> Child:
    """The child if the caller may see it: 404 when missing or not theirs, 403 for
    researchers."""
    if principal.role == "researcher":
        raise ForbiddenError("researchers see pseudonymous exports only")
    if principal.role != "admin" and child_id not in store.linked_children(principal.user.id):
        raise NotFoundError(f"no child {child_id}")
    return store.get_child(child_id, with_name=with_name)


def visible_children(store: Store, principal: Principal) -> set[int] | None:
    """Ids the caller may see (None = all, for admins and researchers' exports)."""
    if principal.role in ("admin", "researcher"):
        return None
    return store.linked_children(principal.user.id)
