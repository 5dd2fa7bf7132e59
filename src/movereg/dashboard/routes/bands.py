"""Wristbands: scan, connect, disconnect, status, assignment (admin and therapists)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from movereg.dashboard.deps import HubDep, Principal, StoreDep, check_child, require_role
from movereg.dashboard.routes._common import maybe_await, run_sync
from movereg.dashboard.schemas import (
    AssignIn,
    BandOut,
    BandStatusOut,
    ConnectIn,
    ConnectOut,
    ScanResultOut,
    dt,
)
from movereg.errors import NotFoundError, ValidationError

__all__ = ["router"]

router = APIRouter(prefix="/api/bands", tags=["bands"])
Clinician = Annotated[Principal, Depends(require_role("admin", "therapist"))]


def _status_out(st: Any) -> BandStatusOut:
    last = getattr(st, "last_data_ns", None)
    return BandStatusOut(device_id=str(st.device_id), family=str(st.family), state=str(st.state),
                         rate_hz=st.rate_hz, battery_pct=st.battery_pct,
                         last_data_at=None if last is None else dt(int(last)),
                         samples_lost=int(st.samples_lost), reason=st.reason)


@router.get("", operation_id="list_bands", response_model=list[BandOut])
async def list_bands(store: StoreDep, hub: HubDep, principal: Clinician) -> list[BandOut]:
    """Known bands, with live status for connected ones."""
    live = {s.device_id: _status_out(s) for s in hub.status()}
    devices = await run_sync(store.list_devices)
    out = [BandOut(device_id=d.device_id, family=d.family, label=d.label, child_id=d.child_id,
                   status=live.pop(d.device_id, None)) for d in devices]
    out += [BandOut(device_id=k, family=v.family, label=None, child_id=None, status=v)
            for k, v in live.items()]
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
    if body.child_id is not None:
        await run_sync(check_child, store, principal, body.child_id)
    if body.session_id is not None:
        sess = await run_sync(store.get_session, body.session_id)
        if body.child_id is None or sess.child_id != body.child_id:
            raise ValidationError("session_id needs the matching child_id")
    device_id = await maybe_await(hub.connect(body.target, child_id=body.child_id,
                                              session_id=body.session_id))
    await run_sync(store.audit, principal.actor, "band.connect", child_id=body.child_id,
                   detail={"device_id": device_id, "session_id": body.session_id})
    return ConnectOut(device_id=str(device_id))


@router.post("/{device_id}/disconnect", operation_id="disconnect_band", status_code=204)
async def disconnect_band(device_id: str, store: StoreDep, hub: HubDep,
                          principal: Clinician) -> None:
    """Stop streaming from a band."""
    await maybe_await(hub.disconnect(device_id))
    await run_sync(store.audit, principal.actor, "band.disconnect",
                   detail={"device_id": device_id})


@router.post("/{device_id}/assign", operation_id="assign_band", status_code=204)
def assign_band(device_id: str, body: AssignIn, store: StoreDep,
                principal: Clinician) -> None:
    """Assign a known band to a child from now on."""
    check_child(store, principal, body.child_id)
    if device_id not in {d.device_id for d in store.list_devices()}:
        raise NotFoundError(f"no band {device_id!r}")
    store.assign_device(device_id, body.child_id)
    store.audit(principal.actor, "band.assign", child_id=body.child_id,
                detail={"device_id": device_id})


@router.post("/{device_id}/unassign", operation_id="unassign_band", status_code=204)
def unassign_band(device_id: str, store: StoreDep, principal: Clinician) -> None:
    """End a band's assignment to its child."""
    dev = store.get_device(device_id)
    if dev.child_id is not None:
        check_child(store, principal, dev.child_id)
    store.unassign_device(device_id)
    store.audit(principal.actor, "band.unassign", child_id=dev.child_id,
                detail={"device_id": device_id})
