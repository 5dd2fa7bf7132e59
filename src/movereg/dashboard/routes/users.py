"""User accounts and caseload / guardian links (admin only)."""

from __future__ import annotations

from fastapi import APIRouter

from movereg.dashboard.auth import hash_password
from movereg.dashboard.deps import Admin, StoreDep
from movereg.dashboard.routes._common import ChildId
from movereg.dashboard.schemas import ChildOut, LinkIn, UserIn, UserOut, UserPatchIn
from movereg.errors import NotFoundError
from movereg.storage import Store, User

__all__ = ["router", "user_named"]

router = APIRouter(prefix="/api/users", tags=["users"])


def user_named(store: Store, username: str) -> User:
    """The account called ``username`` (404 when there is none)."""
    u = store.find_user(username)
    if u is None:
        raise NotFoundError(f"no user {username!r}")
    return u


@router.get("", operation_id="list_users", response_model=list[UserOut])
def list_users(store: StoreDep, admin: Admin) -> list[UserOut]:
    """Every account."""
    return [UserOut.of(u) for u in store.list_users()]


@router.post("", operation_id="create_user", response_model=UserOut, status_code=201)
def create_user(body: UserIn, store: StoreDep, admin: Admin) -> UserOut:
    """Create an account (argon2-hashed password, >= 10 characters)."""
    user = store.create_user(body.username, hash_password(body.password), body.role)
    store.audit(admin.actor, "user.create", detail={"username": user.username,
                                                    "role": user.role})
    return UserOut.of(user)


@router.patch("/{username}", operation_id="update_user", response_model=UserOut)
def update_user(username: str, body: UserPatchIn, store: StoreDep, admin: Admin) -> UserOut:
    """Disable or re-enable an account (disabling ends its sessions)."""
    user = store.set_user_disabled(user_named(store, username).id, body.disabled)
    store.audit(admin.actor, "user.disable" if body.disabled else "user.enable",
                detail={"username": username})
    return UserOut.of(user)


@router.get("/{username}/children", operation_id="list_user_children",
            response_model=list[ChildOut])
def list_user_children(username: str, store: StoreDep, admin: Admin) -> list[ChildOut]:
    """Children linked to a user (caseload or own child)."""
    ids = store.linked_children(user_named(store, username).id)
    return [ChildOut.of(c) for c in store.list_children(ids)]


@router.post("/{username}/children", operation_id="link_user_child", status_code=204)
def link_user_child(username: str, body: LinkIn, store: StoreDep, admin: Admin) -> None:
    """Add a child to a therapist's caseload or link a parent to their child."""
    user = user_named(store, username)
    store.link_user_child(user.id, body.child_id)
    store.audit(admin.actor, "user.link", child_id=body.child_id,
                detail={"username": username})


@router.delete("/{username}/children/{child_id}", operation_id="unlink_user_child",
               status_code=204)
def unlink_user_child(username: str, child_id: ChildId, store: StoreDep, admin: Admin) -> None:
    """Remove a caseload / guardian link."""
    store.unlink_user_child(user_named(store, username).id, child_id)
    store.audit(admin.actor, "user.unlink", child_id=child_id, detail={"username": username})
