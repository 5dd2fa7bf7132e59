"""Strategy events: log (server time), end a span, correct (void + new), void, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from movereg.dashboard.deps import Carer, Principal, StoreDep, check_child
from movereg.dashboard.routes._common import EventId, FromQ, ToQ, maybe_await, ns_range, run_sync
from movereg.dashboard.schemas import MAX_ID, EventCorrectionIn, EventIn, EventOut, VoidIn, ns
from movereg.errors import ValidationError
from movereg.storage import Store, StrategyEvent
from movereg.timeutil import now_ns

__all__ = ["router"]

router = APIRouter(prefix="/api/events", tags=["events"])
IdemKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
    description="client-made unique key (a UUID); a retry with the same key answers the "
                "first event (200) instead of logging a second one")]


async def _publish(request: Request, kind: str, ev: StrategyEvent) -> None:
    hub = getattr(request.app.state, "hub", None)
    fn = getattr(hub, "publish_event", None)
    if fn is None:
        return
    msg: dict[str, Any] = EventOut.of(ev).model_dump(mode="json")
    msg.update(type="event", action=kind)
    await maybe_await(fn(msg))


def _event_for(store: Store, principal: Principal, event_id: int) -> StrategyEvent:
    ev = store.get_event(event_id)
    check_child(store, principal, ev.child_id)
    return ev


def _create(store: Store, principal: Principal, body: EventIn,
            key: str | None = None) -> tuple[StrategyEvent, bool]:
    """Log the event, or find the one an earlier request with ``key`` logged (-> False)."""
    with store.transaction("cannot log event"):
        first = None if key is None else store.event_by_key(key)
        if first is None:
            return _create_tx(store, principal, body, key), True
        if (first.logged_by != principal.user.id or first.child_id != body.child_id
                or first.strategy != body.strategy):
            raise ValidationError("this Idempotency-Key was already used for another event",
                                  advice="make a new key for every new event")
        return first, False


def _create_tx(store: Store, principal: Principal, body: EventIn,
               key: str | None = None) -> StrategyEvent:
    check_child(store, principal, body.child_id)
    if body.session_id is not None and body.session_id not in {
            s.id for s in store.list_sessions(child_id=body.child_id)}:
        # one answer for a missing session and another child's (no existence leak, #21)
        raise ValidationError(f"no session {body.session_id} for this child",
                              advice="leave session_id out or use one of this child's")
    start = now_ns() - round(body.started_ago_s * 1e9)
    end = None if body.duration_s is None else start + round(body.duration_s * 1e9)
    ev = store.create_event(body.child_id, body.strategy, started_at=start, ended_at=end,
                            session_id=body.session_id, logged_by=principal.user.id,
                            note=body.note, initiated_by=body.initiated_by,
                            planned=body.planned, idempotency_key=key)
    store.audit(principal.actor, "event.create", child_id=ev.child_id,
                detail={"event_id": ev.id, "strategy": ev.strategy})
    return ev


@router.post("", operation_id="create_event", response_model=EventOut, status_code=201,
             responses={200: {"model": EventOut,
                              "description": "a repeated Idempotency-Key: the first event"}})
async def create_event(body: EventIn, request: Request, response: Response, store: StoreDep,
                       principal: Carer, idempotency_key: IdemKey = None) -> EventOut:
    """Log a strategy in one request; the start time is the server's clock minus
    ``started_ago_s`` (a queued tap sends the seconds since the tap, so the event keeps the
    tap's own time). With an ``Idempotency-Key`` a retry never doubles the event."""
    ev, created = await run_sync(_create, store, principal, body, idempotency_key)
    if created:
        await _publish(request, "created", ev)
    else:
        response.status_code = 200
    return EventOut.of(ev)


@router.get("", operation_id="list_events", response_model=list[EventOut])
def list_events(store: StoreDep, principal: Carer,
                child_id: Annotated[int, Query(ge=1, le=MAX_ID)],
                start: FromQ = None, end: ToQ = None,
                session_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                include_voided: bool = False) -> list[EventOut]:
    """A child's events overlapping the range (voided ones only when asked)."""
    check_child(store, principal, child_id)
    a, b = ns_range(start, end)
    evs = store.list_events(child_id=child_id, start_ns=a, end_ns=b, session_id=session_id,
                            include_voided=include_voided)
    store.audit(principal.actor, "read.events", child_id=child_id, detail={"n": len(evs)})
    return [EventOut.of(e) for e in evs]


@router.get("/{event_id}", operation_id="get_event", response_model=EventOut)
def get_event(event_id: EventId, store: StoreDep, principal: Carer) -> EventOut:
    """One event (voided or not)."""
    ev = _event_for(store, principal, event_id)
    store.audit(principal.actor, "read.event", child_id=ev.child_id,
                detail={"event_id": event_id})
    return EventOut.of(ev)


@router.get("/{event_id}/history", operation_id="event_history", response_model=list[EventOut])
def event_history(event_id: EventId, store: StoreDep, principal: Carer) -> list[EventOut]:
    """Every version of an event, oldest first (voided versions keep their reason)."""
    ev = _event_for(store, principal, event_id)
    store.audit(principal.actor, "read.event_history", child_id=ev.child_id,
                detail={"event_id": event_id})
    return [EventOut.of(e) for e in store.event_history(event_id)]


def _end(store: Store, principal: Principal, event_id: int) -> StrategyEvent:
    with store.transaction("cannot end event"):
        return _end_tx(store, principal, event_id)


def _end_tx(store: Store, principal: Principal, event_id: int) -> StrategyEvent:
    _event_for(store, principal, event_id)
    ev = store.end_event(event_id)
    store.audit(principal.actor, "event.end", child_id=ev.child_id,
                detail={"event_id": event_id})
    return ev


@router.post("/{event_id}/end", operation_id="end_event", response_model=EventOut)
async def end_event(event_id: EventId, request: Request, store: StoreDep,
                    principal: Carer) -> EventOut:
    """Close an open span now (server time)."""
    ev = await run_sync(_end, store, principal, event_id)
    await _publish(request, "ended", ev)
    return EventOut.of(ev)


def _correct(store: Store, principal: Principal, event_id: int,
             body: EventCorrectionIn) -> StrategyEvent:
    with store.transaction("cannot correct event"):
        return _correct_tx(store, principal, event_id, body)


def _correct_tx(store: Store, principal: Principal, event_id: int,
                body: EventCorrectionIn) -> StrategyEvent:
    _event_for(store, principal, event_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"reason"})
    for key in ("strategy", "started_at", "note"):  # null means "keep", never "erase"
        if key in changes and changes[key] is None:
            del changes[key]
    for key in ("started_at", "ended_at"):
        if changes.get(key) is not None:
            changes[key] = ns(changes[key])
    new = store.correct_event(event_id, reason=body.reason, by=principal.user.id,
                              changes=changes)
    store.audit(principal.actor, "event.correct", child_id=new.child_id,
                detail={"event_id": event_id, "new_id": new.id, "reason": body.reason,
                        "changed": sorted(changes)})
    return new


@router.put("/{event_id}", operation_id="correct_event", response_model=EventOut)
async def correct_event(event_id: EventId, body: EventCorrectionIn, request: Request,
                        store: StoreDep, principal: Carer) -> EventOut:
    """Edit = void this record with a reason and add a corrected one (returned)."""
    new = await run_sync(_correct, store, principal, event_id, body)
    await _publish(request, "corrected", new)
    return EventOut.of(new)


def _void(store: Store, principal: Principal, event_id: int, reason: str) -> StrategyEvent:
    with store.transaction("cannot void event"):
        return _void_tx(store, principal, event_id, reason)


def _void_tx(store: Store, principal: Principal, event_id: int, reason: str) -> StrategyEvent:
    _event_for(store, principal, event_id)
    ev = store.void_event(event_id, reason=reason, by=principal.user.id)
    store.audit(principal.actor, "event.void", child_id=ev.child_id,
                detail={"event_id": event_id, "reason": reason})
    return ev


@router.post("/{event_id}/void", operation_id="void_event", response_model=EventOut)
async def void_event(event_id: EventId, body: VoidIn, request: Request, store: StoreDep,
                     principal: Carer) -> EventOut:
    """Delete = void with a reason; the record and its history stay."""
    ev = await run_sync(_void, store, principal, event_id, body.reason)
    await _publish(request, "voided", ev)
    return EventOut.of(ev)
