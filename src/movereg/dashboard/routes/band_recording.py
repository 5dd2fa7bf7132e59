"""Recording on the band and sync (#23): admin and therapists, on the bands they may see.

Every operation checks the band as :mod:`movereg.dashboard.routes.bands` does (a band worn
by a child not on the caller's caseload answers 404). Starting a recording needs the band
to be assigned to a child (the recording belongs to whoever wears it while it records).
Starts, stops, syncs and removals from the band are audit-logged by the sync service.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from movereg.dashboard.band_schemas import (
    BandRecordingOut,
    RangeIn,
    RecorderOut,
    RecordIn,
    SyncOut,
)
from movereg.dashboard.deps import Clinician, Principal, StoreDep
from movereg.dashboard.routes._common import run_sync
from movereg.dashboard.routes._live_again import (
    LIVE_PAUSED,
    forget,
    live_now,
    reconnect,
    remember,
)
from movereg.dashboard.routes.bands import check_band
from movereg.dashboard.schemas import dt, dt_or_none
from movereg.errors import NotFoundError, StorageError, ValidationError
from movereg.storage import Store

__all__ = ["router"]

router = APIRouter(prefix="/api/bands", tags=["band recording"])
_RECENT = 20


def _sync_service(request: Request) -> Any:
    svc = getattr(request.app.state, "band_sync", None)
    if svc is None:
        raise StorageError("band sync is not running in this server")
    return svc


SyncDep = Annotated[Any, Depends(_sync_service)]


def _sync_out(p: Any) -> SyncOut | None:
    if p is None:
        return None
    return SyncOut(device_id=p.device_id, running=p.running, phase=p.phase,
                   recording=p.recording, recordings=p.recordings, bytes_done=p.bytes_done,
                   bytes_total=p.bytes_total, imported=p.imported,
                   started_at=dt(p.started_ns) if p.started_ns else None,
                   finished_at=dt_or_none(p.finished_ns),
                   ok=p.ok, message=p.message)


def _recorder_out(store: Store, svc: Any, device_id: str) -> RecorderOut:
    rec = store.band_recorder(device_id)
    fam = svc.family(device_id)
    opener = svc.opener
    can = bool(svc.can_record(device_id, fam))
    sim = bool(getattr(opener, "is_simulated", lambda _d: False)(device_id))
    in_range = bool(getattr(opener, "in_range", lambda _d: True)(device_id))
    rates = [float(r) for r in svc.rates(device_id, fam)] if can else []
    hours = {f"{r:g}": round(h, 1) for r in rates
             if rec is not None and (h := rec.hours_left(r)) is not None}
    rows = store.band_recordings(device_id)[-_RECENT:]
    return RecorderOut(
        device_id=device_id, can_record=can, simulated=sim, in_range=in_range,
        child_id=store.device_child(device_id),
        recording=bool(rec and rec.recording), rate_hz=rec.rate_hz if rec else None,
        rates_hz=rates, started_at=dt_or_none(rec.started_at) if rec else None,
        started_by=rec.started_by if rec else None,
        free_bytes=rec.free_bytes if rec else None, total_bytes=rec.total_bytes if rec else None,
        battery_pct=rec.battery_pct if rec else None, hours_left=hours,
        status_at=dt_or_none(rec.status_at) if rec else None,
        last_sync_at=dt_or_none(rec.last_sync_at) if rec else None,
        last_sync_ok=rec.last_sync_ok if rec else None,
        last_sync_message=rec.last_sync_message if rec else "",
        sync=_sync_out(svc.progress(device_id)),
        recordings=[BandRecordingOut(recording_id=r.recording_id, state=r.state,
                                     reason=r.reason, started_at=dt_or_none(r.started_ns),
                                     ended_at=dt_or_none(r.end_ns), size_bytes=r.size_bytes,
                                     child_id=r.child_id, source_id=r.source_id)
                    for r in reversed(rows)])


def _check_recorder(store: Store, principal: Principal, svc: Any, device_id: str) -> int | None:
    """:func:`check_band` (the band's child, 404 when the caller may not act on it), and
    422 unless the band records on its own."""
    child = check_band(store, principal, device_id)
    if not svc.can_record(device_id):
        raise ValidationError(f"band {device_id} cannot record on its own: it only streams",
                              advice="keep it in range of movereg while it is worn")
    return child


@router.get("/{device_id}/recorder", operation_id="get_band_recorder",
            response_model=RecorderOut)
async def get_band_recorder(device_id: str, store: StoreDep, svc: SyncDep,
                            principal: Clinician) -> RecorderOut:
    """What is known of the band's own recording (no radio traffic): state, memory,
    battery, the hours that fit per rate, the last sync in words, recent recordings."""
    await run_sync(check_band, store, principal, device_id)
    return await run_sync(_recorder_out, store, svc, device_id)


@router.post("/{device_id}/recorder/refresh", operation_id="refresh_band_recorder",
             response_model=RecorderOut)
async def refresh_band_recorder(device_id: str, store: StoreDep, svc: SyncDep,
                                principal: Clinician) -> RecorderOut:
    """Ask the band for its recording state, memory and battery (404 when out of range)."""
    await run_sync(_check_recorder, store, principal, svc, device_id)
    await svc.status(device_id)
    return await run_sync(_recorder_out, store, svc, device_id)


@router.post("/{device_id}/record", operation_id="start_band_recording",
             response_model=RecorderOut)
async def start_band_recording(device_id: str, body: RecordIn, request: Request,
                               store: StoreDep, svc: SyncDep,
                               principal: Clinician) -> RecorderOut:
    """Set the band's clock and start recording on the band at ``rate_hz`` (the band must
    be assigned to a child; audit-logged). A band records on its own or streams live, not
    both: its live stream ends, and comes back when the recording stops (or when it could
    not start)."""
    child = await run_sync(_check_recorder, store, principal, svc, device_id)
    if child is None:
        raise ValidationError(f"band {device_id} is not assigned to a child",
                              advice="assign the band to the child who wears it first")
    hub = getattr(request.app.state, "hub", None)
    live = ""
    if live_now(hub, device_id):
        remember(request.app.state, device_id)
        live = LIVE_PAUSED
    try:
        await svc.start_recording(device_id, body.rate_hz, actor=principal.actor,
                                  child_id=child)
    except Exception:
        if live and forget(request.app.state, device_id):   # not recording: live again
            await reconnect(hub, store, device_id, actor=principal.actor)
        raise
    out = await run_sync(_recorder_out, store, svc, device_id)
    return out.model_copy(update={"live": live})


@router.post("/{device_id}/record/stop", operation_id="stop_band_recording",
             response_model=RecorderOut)
async def stop_band_recording(device_id: str, request: Request, store: StoreDep,
                              svc: SyncDep, principal: Clinician) -> RecorderOut:
    """Stop the band's own recording (what it holds stays until synced; audit-logged).
    A band whose live stream ended for this recording streams again (``live`` says so)."""
    child = await run_sync(_check_recorder, store, principal, svc, device_id)
    await svc.stop_recording(device_id, actor=principal.actor, child_id=child)
    live = ""
    if forget(request.app.state, device_id):
        live = await reconnect(getattr(request.app.state, "hub", None), store, device_id,
                               actor=principal.actor)
    out = await run_sync(_recorder_out, store, svc, device_id)
    return out.model_copy(update={"live": live})


@router.post("/{device_id}/sync", operation_id="sync_band", response_model=SyncOut,
             status_code=202)
async def sync_band(device_id: str, store: StoreDep, svc: SyncDep,
                    principal: Clinician) -> SyncOut:
    """Sync now: the band's recordings are downloaded, checked, added to the record of
    the child who wore it when it recorded, then removed from the band (in the
    background; ``GET .../sync`` shows the progress)."""
    await run_sync(_check_recorder, store, principal, svc, device_id)
    out = _sync_out(svc.sync_now(device_id, actor=principal.actor))
    assert out is not None
    return out


@router.get("/{device_id}/sync", operation_id="get_band_sync", response_model=SyncOut | None)
async def get_band_sync(device_id: str, store: StoreDep, svc: SyncDep,
                        principal: Clinician) -> SyncOut | None:
    """The running or last sync of the band in this server run (null: none yet)."""
    await run_sync(check_band, store, principal, device_id)
    return _sync_out(svc.progress(device_id))


@router.post("/{device_id}/range", operation_id="set_band_range", status_code=204)
async def set_band_range(device_id: str, body: RangeIn, store: StoreDep, svc: SyncDep,
                         principal: Clinician) -> None:
    """Demo and tests: a simulated band walks out of range (its live stream stops) or
    comes back (404 for a real band)."""
    await run_sync(check_band, store, principal, device_id)
    move = getattr(svc.opener, "set_in_range", None)
    if move is None:
        raise NotFoundError(f"no simulated band {device_id!r}")
    await move(device_id, body.in_range)
    await run_sync(store.audit, principal.actor, "band.range",
                   detail={"device_id": device_id, "in_range": body.in_range})
