"""Families at home: the data bundle, erasure, child settings, home plan, check-ins and
the child's access log.

Who may do what (object-level, through :func:`movereg.dashboard.deps.check_child`, so
another family's child answers 404):

* bundle and erasure: the child's guardian (a parent linked to the child) or an admin;
  a therapist gets 403 (they ask the family or an admin).
* settings: the child's carers (guardian, therapist, admin).
* home plan: carers read it; therapists and admins set it.
* check-ins: carers, when check-ins are switched on for the child (off by default).
* access log: see :mod:`movereg.dashboard.routes.audit` (guardian or admin).
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from movereg.dashboard.auth import verify_password
from movereg.dashboard.deps import Carer, Clinician, Principal, StoreDep, check_child
from movereg.dashboard.routes._common import ChildId, maybe_await, run_sync
from movereg.dashboard.schemas import MAX_ID, Password, StrictIn, ns
from movereg.errors import ForbiddenError, NotFoundError, ValidationError
from movereg.storage import Checkin, ChildSettings, PlanItem, Store
from movereg.storage.bundle import bundle_name, stream_bundle

__all__ = ["guardian_or_admin", "router"]

router = APIRouter(prefix="/api/children", tags=["families"])


class DeleteChildIn(StrictIn):
    password: Password
    confirm: Annotated[str, StringConstraints(min_length=1, max_length=80)] = Field(
        description="the child's display name, as on the pages")


class DeletedOut(BaseModel):
    deleted: bool
    code: str
    rows_removed: dict[str, int]


class SettingsIn(StrictIn):
    tz: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="IANA time zone, e.g. Europe/London")
    checkins_enabled: bool | None = None


class SettingsOut(BaseModel):
    child_id: int
    tz: str | None
    checkins_enabled: bool

    @classmethod
    def of(cls, s: ChildSettings) -> SettingsOut:
        return cls(child_id=s.child_id, tz=s.tz, checkins_enabled=s.checkins_enabled)


class PlanIn(StrictIn):
    strategy: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=100)]
    when: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] = ""
    times_per_day: int = Field(default=1, ge=1, le=12)
    weekdays: Annotated[str, StringConstraints(pattern=r"^[0-6]{1,7}$")] = Field(
        default="0123456", description="digits, 0 = Monday .. 6 = Sunday")


class PlanOut(BaseModel):
    id: int
    child_id: int
    strategy: str
    when: str
    times_per_day: int
    weekdays: str
    retired: bool

    @classmethod
    def of(cls, p: PlanItem) -> PlanOut:
        return cls(id=p.id, child_id=p.child_id, strategy=p.strategy, when=p.when_text,
                   times_per_day=p.times_per_day, weekdays=p.weekdays,
                   retired=p.retired_at is not None)


class CheckinIn(StrictIn):
    at: AwareDatetime | None = Field(default=None, description="when (default: now)")
    part: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)] = ""
    rating: int | None = Field(default=None, ge=1, le=5,
                               description="how was this part of the day, 1-5 (neutral)")
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class CheckinOut(BaseModel):
    id: int
    child_id: int
    at: datetime
    part: str
    rating: int | None
    note: str

    @classmethod
    def of(cls, c: Checkin) -> CheckinOut:
        return cls(id=c.id, child_id=c.child_id,
                   at=datetime.fromtimestamp(c.at_ns / 1e9, UTC), part=c.part,
                   rating=c.rating, note=c.note)


def guardian_or_admin(store: Store, principal: Principal, child_id: int) -> None:
    """The caller is the child's guardian (linked parent) or an admin; 404 when the child
    is not theirs, 403 for therapists and researchers."""
    check_child(store, principal, child_id)
    if principal.role not in ("parent", "admin"):
        raise ForbiddenError("only the child's parent or an administrator can do this",
                             advice="ask the family or an administrator")


# --- bundle and erasure ----------------------------------------------------------------
@router.get("/{child_id}/bundle", operation_id="child_bundle",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}},
                             "description": "everything held about the child, streamed"}})
def child_bundle(child_id: ChildId, store: StoreDep, principal: Carer) -> StreamingResponse:
    """A zip of everything held about the child: epochs and events as CSV and Parquet,
    raw samples, sessions, gaps, consent history, home plan, check-ins, the access log,
    a plain README and ``manifest.json`` (sha256, bytes and rows of every file)."""
    guardian_or_admin(store, principal, child_id)
    at = time.time_ns()
    code = store.get_child(child_id).code
    store.audit(principal.actor, "bundle", child_id=child_id)
    manifest: dict[str, Any] = {}

    def body() -> Any:
        done = False
        try:
            yield from stream_bundle(store, child_id, at_ns=at, manifest=manifest)
            done = True
        finally:
            rows = {f["name"]: f["rows"] for f in manifest.get("files", [])}
            store.audit(principal.actor, "bundle.done" if done else "export.aborted",
                        child_id=child_id, detail={"rows": rows},
                        outcome="ok" if done else "aborted")

    return StreamingResponse(body(), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{bundle_name(code, at)}"'})


def _delete(store: Store, principal: Principal, child_id: int,
            body: DeleteChildIn) -> DeletedOut:
    guardian_or_admin(store, principal, child_id)
    child = store.get_child(child_id, with_name=True)
    shown = (child.display_name or child.code).strip()
    if not verify_password(principal.user.password_hash, body.password):
        store.audit(principal.actor, "child.delete.refused", child_id=child_id,
                    detail={"reason": "wrong password"}, outcome="denied")
        raise ForbiddenError("that password is not right, nothing was deleted",
                             advice="type the password you sign in with")
    if body.confirm.strip().casefold() != shown.casefold():
        store.audit(principal.actor, "child.delete.refused", child_id=child_id,
                    detail={"reason": "name did not match"}, outcome="denied")
        raise ValidationError("the name typed does not match the child's name as shown on "
                              "the pages; nothing was deleted")
    counts = store.delete_child(child_id, actor=principal.actor)
    return DeletedOut(deleted=True, code=child.code, rows_removed=counts)


@router.delete("/{child_id}", operation_id="delete_child", response_model=DeletedOut)
async def delete_child(child_id: ChildId, body: DeleteChildIn, request: Request,
                       store: StoreDep, principal: Carer) -> DeletedOut:
    """Erase the child and all their data (guardian or admin; the caller's password and
    the child's display name confirm it). The audit log keeps a tombstone."""
    devices = [d.device_id for d in await run_sync(store.list_devices)
               if d.child_id == child_id]
    out: DeletedOut = await run_sync(_delete, store, principal, child_id, body)
    hub = getattr(request.app.state, "hub", None)
    stop = getattr(hub, "disconnect", None)
    if stop is not None:
        for dev in devices:  # a band still streaming for the erased child stops at once
            with contextlib.suppress(Exception):
                await maybe_await(stop(dev))
    return out


# --- settings ------------------------------------------------------------------------
@router.get("/{child_id}/settings", operation_id="child_settings", response_model=SettingsOut)
def get_settings(child_id: ChildId, store: StoreDep, principal: Carer) -> SettingsOut:
    """The child's time zone and check-in switch."""
    check_child(store, principal, child_id)
    store.audit(principal.actor, "read.settings", child_id=child_id)
    return SettingsOut.of(store.child_settings(child_id))


@router.put("/{child_id}/settings", operation_id="set_child_settings",
            response_model=SettingsOut)
def put_settings(child_id: ChildId, body: SettingsIn, store: StoreDep,
                 principal: Carer) -> SettingsOut:
    """Set the family's time zone (IANA) and/or switch check-ins on or off."""
    check_child(store, principal, child_id)
    with store.transaction("cannot save settings"):
        s = store.set_child_settings(child_id, by=principal.actor, tz=body.tz,
                                     checkins_enabled=body.checkins_enabled)
        store.audit(principal.actor, "child.settings", child_id=child_id,
                    detail=body.model_dump(exclude_none=True))
    return SettingsOut.of(s)


# --- home plan ------------------------------------------------------------------------
@router.get("/{child_id}/plan", operation_id="home_plan", response_model=list[PlanOut])
def get_plan(child_id: ChildId, store: StoreDep, principal: Carer,
             include_retired: bool = False) -> list[PlanOut]:
    """The child's home plan, in the therapist's order."""
    check_child(store, principal, child_id)
    store.audit(principal.actor, "read.plan", child_id=child_id)
    return [PlanOut.of(p) for p in store.list_plan(child_id, include_retired=include_retired)]


@router.post("/{child_id}/plan", operation_id="add_plan_item", response_model=PlanOut,
             status_code=201)
def add_plan(child_id: ChildId, body: PlanIn, store: StoreDep,
             principal: Clinician) -> PlanOut:
    """Add a strategy to the home plan (therapists and admins)."""
    check_child(store, principal, child_id)
    with store.transaction("cannot save plan item"):
        p = store.add_plan_item(child_id, body.strategy, by=principal.actor,
                                when_text=body.when, times_per_day=body.times_per_day,
                                weekdays=body.weekdays)
        store.audit(principal.actor, "plan.add", child_id=child_id,
                    detail={"plan_id": p.id, "strategy": p.strategy})
    return PlanOut.of(p)


@router.delete("/{child_id}/plan/{plan_id}", operation_id="retire_plan_item",
               response_model=PlanOut)
def retire_plan(child_id: ChildId, plan_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                store: StoreDep, principal: Clinician) -> PlanOut:
    """Take an item off the plan (kept as history for earlier weeks)."""
    check_child(store, principal, child_id)
    item = store.get_plan_item(plan_id)
    if item.child_id != child_id:   # as a missing item: another child's ids never leak
        raise NotFoundError(f"no plan item {plan_id}")
    with store.transaction("cannot update plan"):
        p = store.retire_plan_item(item.id, by=principal.actor)
        store.audit(principal.actor, "plan.retire", child_id=child_id,
                    detail={"plan_id": p.id})
    return PlanOut.of(p)


# --- check-ins ------------------------------------------------------------------------
@router.post("/{child_id}/checkins", operation_id="add_checkin", response_model=CheckinOut,
             status_code=201)
def add_checkin(child_id: ChildId, body: CheckinIn, store: StoreDep,
                principal: Carer) -> CheckinOut:
    """A neutral check-in (1-5 "how was this part of the day" and/or a note)."""
    check_child(store, principal, child_id)
    if not store.child_settings(child_id).checkins_enabled:
        raise ValidationError("check-ins are switched off for this child",
                              advice="switch them on in the child's settings first")
    with store.transaction("cannot save check-in"):
        c = store.add_checkin(child_id, at_ns=None if body.at is None else ns(body.at),
                              part=body.part, rating=body.rating, note=body.note,
                              logged_by=principal.user.id)
        store.audit(principal.actor, "checkin.create", child_id=child_id,
                    detail={"checkin_id": c.id})
    return CheckinOut.of(c)


@router.get("/{child_id}/checkins", operation_id="list_checkins",
            response_model=list[CheckinOut])
def list_checkins(child_id: ChildId, store: StoreDep, principal: Carer) -> list[CheckinOut]:
    """The child's check-ins, oldest first."""
    check_child(store, principal, child_id)
    store.audit(principal.actor, "read.checkins", child_id=child_id)
    return [CheckinOut.of(c) for c in store.list_checkins(child_id)]
