"""Children: pseudonymous records, scoped by caseload / guardianship."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from movereg.dashboard.deps import (
    CurrentUser,
    Principal,
    StoreDep,
    check_child,
    require_role,
    visible_children,
)
from movereg.dashboard.routes._common import ChildId
from movereg.dashboard.schemas import ChildIn, ChildOut
from movereg.errors import ForbiddenError

__all__ = ["router"]

router = APIRouter(prefix="/api/children", tags=["children"])
Clinician = Annotated[Principal, Depends(require_role("admin", "therapist"))]


@router.get("", operation_id="list_children", response_model=list[ChildOut])
def list_children(store: StoreDep, principal: CurrentUser) -> list[ChildOut]:
    """The children the caller may see (caseload, own child, or all for admins)."""
    if principal.role == "researcher":
        raise ForbiddenError("researchers see pseudonymous exports only")
    ids = visible_children(store, principal)
    children = store.list_children(ids, with_name=True)
    store.audit(principal.actor, "read.children", detail={"n": len(children)})
    return [ChildOut.of(c) for c in children]


@router.post("", operation_id="create_child", response_model=ChildOut, status_code=201)
def create_child(body: ChildIn, store: StoreDep, principal: Clinician) -> ChildOut:
    """Add a child; a therapist's new child joins their caseload."""
    child = store.create_child(code=body.code, display_name=body.display_name,
                               age_band=body.age_band)
    if principal.role == "therapist":
        store.link_user_child(principal.user.id, child.id)
    store.audit(principal.actor, "child.create", child_id=child.id)
    return ChildOut.of(child)


@router.get("/{child_id}", operation_id="get_child", response_model=ChildOut)
def get_child(child_id: ChildId, store: StoreDep, principal: CurrentUser) -> ChildOut:
    """One child (404 when not on the caller's caseload / not their child)."""
    child = check_child(store, principal, child_id, with_name=True)
    store.audit(principal.actor, "read.child", child_id=child_id)
    return ChildOut.of(child)
