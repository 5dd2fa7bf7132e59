"""Therapy sessions and days of wear: start, stop, list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from movereg.dashboard.deps import Principal, StoreDep, check_child, require_role
from movereg.dashboard.routes._common import SessionId
from movereg.dashboard.schemas import MAX_ID, SessionIn, SessionOut

__all__ = ["router"]

router = APIRouter(prefix="/api/sessions", tags=["sessions"])
Carer = Annotated[Principal, Depends(require_role("admin", "therapist", "parent"))]


@router.post("", operation_id="start_session", response_model=SessionOut, status_code=201)
def start_session(body: SessionIn, store: StoreDep, principal: Carer) -> SessionOut:
    """Start a session now (server time). Parents may start only 'wear' days."""
    check_child(store, principal, body.child_id)
    if principal.role == "parent" and body.kind != "wear":
        from movereg.errors import ForbiddenError

        raise ForbiddenError("parents can start 'wear' days, not therapy sessions")
    s = store.start_session(body.child_id, kind=body.kind, device_id=body.device_id,
                            created_by=principal.user.id, note=body.note)
    store.audit(principal.actor, "session.start", child_id=s.child_id,
                detail={"session_id": s.id, "kind": s.kind})
    return SessionOut.of(s)


@router.post("/{session_id}/stop", operation_id="stop_session", response_model=SessionOut)
def stop_session(session_id: SessionId, store: StoreDep, principal: Carer) -> SessionOut:
    """End a session now (server time); stopping twice keeps the first end."""
    s = store.get_session(session_id)
    check_child(store, principal, s.child_id)
    s = store.stop_session(session_id)
    store.audit(principal.actor, "session.stop", child_id=s.child_id,
                detail={"session_id": s.id})
    return SessionOut.of(s)


@router.get("", operation_id="list_sessions", response_model=list[SessionOut])
def list_sessions(store: StoreDep, principal: Carer,
                  child_id: Annotated[int, Query(ge=1, le=MAX_ID)],
                  open_only: bool = False) -> list[SessionOut]:
    """A child's sessions, newest first."""
    check_child(store, principal, child_id)
    store.audit(principal.actor, "read.sessions", child_id=child_id)
    return [SessionOut.of(s) for s in store.list_sessions(child_id=child_id,
                                                          open_only=open_only)]


@router.get("/{session_id}", operation_id="get_session", response_model=SessionOut)
def get_session(session_id: SessionId, store: StoreDep, principal: Carer) -> SessionOut:
    """One session."""
    s = store.get_session(session_id)
    check_child(store, principal, s.child_id)
    store.audit(principal.actor, "read.session", child_id=s.child_id,
                detail={"session_id": s.id})
    return SessionOut.of(s)
