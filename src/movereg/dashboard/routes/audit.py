"""The audit log: list and verify (admins); a child's access log (admin, parent)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from movereg.dashboard.deps import Admin, Guardian, StoreDep, check_child
from movereg.dashboard.routes._common import ChildId
from movereg.dashboard.schemas import MAX_ID, AuditEntryOut, AuditVerifyOut, dt
from movereg.storage import AuditEntry

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["audit"])
Limit = Annotated[int, Query(ge=1, le=1000)]


def _out(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(id=e.id, at=dt(e.ts_ns), actor=e.actor, action=e.action,
                         child_id=e.child_id, detail=e.detail, outcome=e.outcome)


@router.get("/audit", operation_id="list_audit", response_model=list[AuditEntryOut])
def list_audit(request: Request, store: StoreDep, admin: Admin, limit: Limit = 100,
               before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
               child_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
               ) -> list[AuditEntryOut]:
    """Newest entries first."""
    from movereg.dashboard.routes.auth import refused_logins

    refused_logins(request).flush(store, force=True)   # counts of refused logins so far
    return [_out(e) for e in store.list_audit(limit=limit, before_id=before_id,
                                              child_id=child_id)]


@router.get("/audit/verify", operation_id="verify_audit", response_model=AuditVerifyOut)
def verify_audit(store: StoreDep, admin: Admin) -> AuditVerifyOut:
    """Re-compute the hash chain over the whole log."""
    v = store.verify_audit()
    store.audit(admin.actor, "audit.verify", outcome="ok" if v.ok else "broken")
    return AuditVerifyOut(ok=v.ok, entries=v.entries, first_bad_id=v.first_bad_id,
                          problem=v.problem)


@router.get("/children/{child_id}/access-log", operation_id="child_access_log",
            response_model=list[AuditEntryOut])
def child_access_log(child_id: ChildId, store: StoreDep, principal: Guardian,
                     limit: Limit = 100) -> list[AuditEntryOut]:
    """Who looked at or changed this child's data (for the child's parent)."""
    check_child(store, principal, child_id)
    # only entries since the child was added: a reused id never shows an erased child's
    return [_out(e) for e in store.access_log(child_id, limit=limit)]
