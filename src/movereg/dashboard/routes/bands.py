"""Wristbands: scan, connect, disconnect, status, assignment (admin and therapists).

Every band operation checks the band's *current* child (its open assignment) as well as
any new one: a therapist may act only on bands that are unassigned or worn by a child on
their caseload. Bands of other children are invisible (listed nowhere, 404 by id), so a
band can never be taken over across caseloads and its data never lands in another
child's record.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from movereg.dashboard.deps import Clinician, HubDep, Principal, StoreDep, check_child
from movereg.dashboard.routes._common import maybe_await, run_sync
from movereg.dashboard.schemas import (
    AssignIn,
    BandOut,
    BandStatusOut,
    ConnectIn,
    ConnectOut,
    ScanResultOut,
    dt_or_none,
)
from movereg.errors import NotFoundError, ValidationError
from movereg.storage import Store

__all__ = ["router"]

router = APIRouter(prefix="/api/bands", tags=["bands"])


def _status_out(st: Any) -> BandStatusOut:
    last = getattr(st, "last_data_ns", None)
    return BandStatusOut(device_id=str(st.device_id), family=str(st.family), state=str(st.state),
                         rate_hz=st.rate_hz, battery_pct=st.battery_pct,
                         last_data_at=dt_or_none(last),
                         samples_lost=int(st.samples_lost), reason=st.reason)


def _device_id_for(target: str) -> str | None:
    """The device id ``Hub.connect`` gives ``target`` (None: a fresh simulated band)."""
    if target.startswith("sim:"):
        return "sim-" + target[4:].strip()
    return None if target.startswith("sim") else target


def _band_child(store: Store, device_id: str) -> int | None:
    """The child wearing ``device_id`` now (None: unknown or unassigned band)."""
    return store.device_child(device_id)


def _visible(store: Store, principal: Principal, child_id: int | None) -> bool:
    return (child_id is None or principal.role == "admin"
            or child_id in store.linked_children(principal.user.id))


def check_band(store: Store, principal: Principal, device_id: str, *,
               known: bool = False) -> int | None:
    """The band's current child when the caller may act on the band; 404 otherwise (the
    same answer for a band worn by another caseload's child as for one that does not
    exist, when ``known`` asks the band to be in the store)."""
    child = _band_child(store, device_id)
    exists = not known or any(d.device_id == device_id for d in store.list_devices())
    if not exists or not _visible(store, principal, child):
        raise NotFoundError(f"no band {device_id!r}")
    return child


@router.get("", operation_id="list_bands", response_model=list[BandOut])
async def list_bands(store: StoreDep, hub: HubDep, principal: Clinician) -> list[BandOut]:
    """Known bands, with live status for connected ones: every band for admins; for
    therapists the unassigned bands and those of children on their caseload."""
    live = {s.device_id: _status_out(s) for s in hub.status()}
    devices = await run_sync(store.list_devices)
    mine = None if principal.role == "admin" else await run_sync(store.linked_children,
                                                                  principal.user.id)
    out = []
    for d in devices:
        status = live.pop(d.device_id, None)
        if mine is None or d.child_id is None or d.child_id in mine:
            out.append(BandOut(device_id=d.device_id, family=d.family, label=d.label,
                               child_id=d.child_id, status=status))
    for k, v in live.items():   # connected but not yet stored: check the live assignment
        child = await run_sync(_band_child, store, k)
        if mine is None or child is None or child in mine:
            out.append(BandOut(device_id=k, family=v.family, label=None, child_id=child,
                               status=v))
    return out


@router.get("/scan", operation_id="scan_bands", response_model=list[ScanResultOut])
async def scan_bands(hub: HubDep, principal: Clinician,
                     timeout_s: Annotated[float, Query(ge=0.5, le=30.0)] = 5.0
                     ) -> list[ScanResultOut]:
    """Look for supported bands nearby (Bluetooth)."""
    scan_fn = getattr(hub, "scan", None)
    if scan_fn is None:
        import movereg.sensors.scanner as scanner

        scan_fn = scanner.scan
    results = await maybe_await(scan_fn(timeout_s))
    return [ScanResultOut(address=str(r.address), name=getattr(r, "name", None),
                          family=None if getattr(r, "family", None) is None else str(r.family),
                          rssi=getattr(r, "rssi", None)) for r in results]


@router.post("/connect", operation_id="connect_band", response_model=ConnectOut,
             status_code=201)
async def connect_band(body: ConnectIn, store: StoreDep, hub: HubDep,
                       principal: Clinician) -> ConnectOut:
    """Connect a band (optionally for a child and session) and start streaming."""
    known = _device_id_for(body.target)
    if known is not None:   # reconnecting a known band: its current child must be visible
        await run_sync(check_band, store, principal, known)
    if body.child_id is not None:
        await run_sync(check_child, store, principal, body.child_id)
    if body.session_id is not None:
        sessions = await run_sync(store.list_sessions, child_id=body.child_id) \
            if body.child_id is not None else []
        if body.session_id not in {s.id for s in sessions}:   # same answer: missing or not
            raise ValidationError(f"no session {body.session_id} for this child",  # theirs
                                  advice="start a session for the child first")
    device_id = await maybe_await(hub.connect(body.target, child_id=body.child_id,
                                              session_id=body.session_id))
    await run_sync(store.audit, principal.actor, "band.connect", child_id=body.child_id,
                   detail={"device_id": device_id, "session_id": body.session_id})
    return ConnectOut(device_id=str(device_id))


@router.post("/{device_id}/disconnect", operation_id="disconnect_band", status_code=204)
async def disconnect_band(device_id: str, store: StoreDep, hub: HubDep,
                          principal: Clinician) -> None:
    """Stop streaming from a band (404 when it is worn by a child not on your caseload)."""
    await run_sync(check_band, store, principal, device_id)
    try:
        await maybe_await(hub.disconnect(device_id))
    except NotFoundError as exc:   # one answer for "not connected" and "not yours"
        raise NotFoundError(f"no band {device_id!r}",
                            advice="the band is not connected") from exc
    await run_sync(store.audit, principal.actor, "band.disconnect",
                   detail={"device_id": device_id})


@router.post("/{device_id}/assign", operation_id="assign_band", status_code=204)
def assign_band(device_id: str, body: AssignIn, store: StoreDep,
                principal: Clinician) -> None:
    """Assign a known band to a child from now on (both its current and its new child
    must be on the caller's caseload)."""
    check_band(store, principal, device_id, known=True)
    check_child(store, principal, body.child_id)
    store.assign_device(device_id, body.child_id)
    store.audit(principal.actor, "band.assign", child_id=body.child_id,
                detail={"device_id": device_id})


@router.post("/{device_id}/unassign", operation_id="unassign_band", status_code=204)
def unassign_band(device_id: str, store: StoreDep, principal: Clinician) -> None:
    """End a band's assignment to its child."""
    child = check_band(store, principal, device_id, known=True)
    store.unassign_device(device_id)
    store.audit(principal.actor, "band.unassign", child_id=child,
                detail={"device_id": device_id})
