"""Children: pseudonymous records, scoped by caseload / guardianship, and their
research-use consent (recorded and withdrawn by admins and the child's therapists)."""

from __future__ import annotations

from fastapi import APIRouter

from movereg.dashboard.deps import Clinician, CurrentUser, StoreDep, check_child, visible_children
from movereg.dashboard.routes._common import ChildId
from movereg.dashboard.schemas import ChildIn, ChildOut, ConsentIn, ConsentOut
from movereg.errors import ForbiddenError

__all__ = ["router"]

router = APIRouter(prefix="/api/children", tags=["children"])


@router.get("", operation_id="list_children", response_model=list[ChildOut])
def list_children(store: StoreDep, principal: CurrentUser) -> list[ChildOut]:
    """The children the caller may see (caseload, own child, or all for admins)."""
    if principal.role == "researcher":
        raise ForbiddenError("researchers see pseudonymous exports only")
    ids = visible_children(store, principal)
    children = store.list_children(ids, with_name=True)
    store.audit(principal.actor, "read.children", detail={"n": len(children)})
    return [ChildOut.of(c, store.current_consent(c.id)) for c in children]


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
    return ChildOut.of(child, store.current_consent(child_id))


@router.get("/{child_id}/consent", operation_id="consent_history",
            response_model=list[ConsentOut])
def consent_history(child_id: ChildId, store: StoreDep, principal: CurrentUser
                    ) -> list[ConsentOut]:
    """Every research-consent record of a child, oldest first (the last is current)."""
    check_child(store, principal, child_id)
    store.audit(principal.actor, "read.consent", child_id=child_id)
    return [ConsentOut.of(c) for c in store.consent_history(child_id)]


@router.post("/{child_id}/consent", operation_id="record_consent",
             response_model=ConsentOut, status_code=201)
def record_consent(child_id: ChildId, body: ConsentIn, store: StoreDep,
                   principal: Clinician) -> ConsentOut:
    """Record the family's research-use decision; it replaces the current one (history
    kept). Without an active consent a child never appears in a researcher's export."""
    check_child(store, principal, child_id)
    with store.transaction("cannot record consent"):
        c = store.record_consent(child_id, consented=body.consented, scope=body.scope,
                                 recorded_by=principal.actor)
        store.audit(principal.actor, "consent.record", child_id=child_id,
                    detail={"consented": body.consented, "scope": body.scope,
                            "record": c.id})
    return ConsentOut.of(c)


@router.post("/{child_id}/consent/withdraw", operation_id="withdraw_consent",
             response_model=ConsentOut)
def withdraw_consent(child_id: ChildId, store: StoreDep, principal: Clinician) -> ConsentOut:
    """Withdraw the current research consent (404 when there is none). The record stays
    in the history, stamped with who withdrew it and when; exports stop at once."""
    check_child(store, principal, child_id)
    with store.transaction("cannot withdraw consent"):
        c = store.withdraw_consent(child_id, withdrawn_by=principal.actor)
        store.audit(principal.actor, "consent.withdraw", child_id=child_id,
                    detail={"record": c.id, "scope": c.scope})
    return ConsentOut.of(c)
