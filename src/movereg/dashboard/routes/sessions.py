"""Therapy sessions and days of wear: start, stop, list; group sessions and note drafts."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from movereg.dashboard.deps import (
    Carer,
    Clinician,
    HubDep,
    Principal,
    StoreDep,
    check_child,
    visible_children,
)
from movereg.dashboard.routes._common import SessionId, maybe_await, run_sync
from movereg.dashboard.routes._live_again import live_now, live_target
from movereg.dashboard.schemas import MAX_ID, SessionIn, SessionOut, StrictIn, dt, dt_or_none
from movereg.errors import MoveregError, NotFoundError, ValidationError
from movereg.storage import Session, Store
from movereg.timeutil import now_ns

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


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


# --- group sessions (issue 15) ------------------------------------------------------------


class GroupIn(StrictIn):
    child_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=64, description="the children present (each with their band)")
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class GroupOut(BaseModel):
    group_id: int = Field(description="the first session's id; /sessions/{group_id}")
    started_at: datetime
    ended_at: datetime | None
    sessions: list[SessionOut]
    bands: dict[str, str | None] = Field(
        default_factory=dict, description="child id -> band connected for it, or why not")


class NoteOut(BaseModel):
    session_id: int
    sentences: list[str]
    text: str = Field(description="the sentences, one per line (editable draft)")


def _group_out(sessions: list[Session], bands: dict[str, str | None] | None = None) -> GroupOut:
    ends = [s.ended_at for s in sessions]
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    return GroupOut(group_id=sessions[0].id, started_at=dt(sessions[0].started_at),
                    ended_at=dt_or_none(end),
                    sessions=[SessionOut.of(s) for s in sessions], bands=bands or {})


def _start_group(store: Store, principal: Principal, body: GroupIn) -> list[Session]:
    with store.transaction("cannot start the session"):
        members = []
        for cid in body.child_ids:
            check_child(store, principal, cid)
            members.append((cid, store.child_band(cid)))
        sessions = store.start_group(members, created_by=principal.user.id, note=body.note)
        store.audit(principal.actor, "session.start_group",
                    detail={"group_id": sessions[0].id, "children": body.child_ids})
    return sessions


async def _attach_band(hub: Any, s: Session) -> str | None:
    """(Re)connect the child's band so its data carries the child and session (a demo
    band comes back as it was, memory and battery included: ``BandLinks.band_factory``)."""
    if s.device_id is None:
        return None
    target = live_target(s.device_id)
    try:
        if live_now(hub, s.device_id):
            await maybe_await(hub.disconnect(s.device_id))
        return str(await maybe_await(hub.connect(target, child_id=s.child_id,
                                                 session_id=s.id)))
    except MoveregError as exc:
        return f"not connected: {exc.message}"
    except Exception as exc:        # a band that fails must not undo the session start
        log.warning("session %s: band %s did not connect: %r", s.id, s.device_id, exc)
        return "not connected: the band did not answer"


@router.post("/group", operation_id="start_group_session", response_model=GroupOut,
             status_code=201)
async def start_group_session(body: GroupIn, store: StoreDep, hub: HubDep,
                              principal: Clinician) -> GroupOut:
    """Start one session for several children at once (or one), each with today's band."""
    sessions = await run_sync(_start_group, store, principal, body)
    bands = {str(s.child_id): await _attach_band(hub, s) for s in sessions}
    return _group_out(sessions, bands)


@router.get("/{session_id}/group", operation_id="get_group_session", response_model=GroupOut)
def get_group_session(session_id: SessionId, store: StoreDep, principal: Clinician) -> GroupOut:
    """Every session started together with this one."""
    sessions = _visible_group(store, principal, session_id)
    for s in sessions:
        store.audit(principal.actor, "read.session", child_id=s.child_id,
                    detail={"session_id": s.id, "group_id": sessions[0].id})
    return _group_out(sessions)


@router.post("/{session_id}/stop_group", operation_id="stop_group_session",
             response_model=GroupOut)
def stop_group_session(session_id: SessionId, store: StoreDep,
                       principal: Clinician) -> GroupOut:
    """Stop every session of the group the caller may see now (stopping twice keeps the
    first end); a therapist's stop leaves other caseloads' children running."""
    visible = _visible_group(store, principal, session_id)
    ts = now_ns()                                   # one end for the whole group
    with store.transaction("cannot stop sessions"):
        sessions = [store.stop_session(s.id, ended_at=max(ts, s.started_at)) for s in visible]
        store.audit(principal.actor, "session.stop_group",
                    detail={"group_id": store.group_id(session_id), "n": len(sessions)})
    return _group_out(sessions)


def _visible_group(store: Store, principal: Principal, session_id: int) -> list[Session]:
    """The group's sessions the caller may see (404 when none)."""
    sessions = store.group_sessions(session_id)
    seen = visible_children(store, principal)
    out = [s for s in sessions if seen is None or s.child_id in seen]
    if not out:
        raise NotFoundError(f"no session {session_id}")
    return out


@router.get("/{session_id}/note", operation_id="session_note_draft", response_model=NoteOut)
def session_note_draft(session_id: SessionId, store: StoreDep, principal: Clinician,
                       tz: Annotated[str, Query(max_length=64)] = "UTC",
                       numbers: bool = False) -> NoteOut:
    """Draft of the objective part of the session note: plain sentences with times."""
    from movereg.dashboard.session_review import note_sentences, session_timelines

    sessions = _visible_group(store, principal, session_id)
    labels = {s.key: s.label for s in store.list_strategies(include_inactive=True)}
    names = {c.id: str(c.display_name or c.code)
             for c in store.list_children({s.child_id for s in sessions}, with_name=True)}
    tls = session_timelines(store, sessions, labels, names)
    lines = note_sentences(store, tls, _zone(tz), with_numbers=numbers)
    store.audit(principal.actor, "read.session_note", detail={"group_id": sessions[0].id})
    return NoteOut(session_id=sessions[0].id, sentences=lines, text="\n".join(lines))


def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"unknown time zone {name!r}", advice="e.g. Europe/London") from exc
