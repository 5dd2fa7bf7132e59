"""Home relays (#23): tokens the admin makes, and the two routes a relay may call.

Admin: ``POST /api/relay-tokens`` makes a token for chosen children (the token is in that
answer only; the database keeps its sha256), ``GET /api/relay-tokens`` lists them,
``POST /api/relay-tokens/{id}/revoke`` ends one at once. All audit-logged.

A relay authenticates with ``Authorization: Bearer mrr_...``; that token is not a user
session (every other route answers 401 to it). It may:

* ``GET /api/relay/bands``: the bands assigned now to its children (what to look for);
* ``POST /api/relay/recordings``: upload a band's recording (multipart ``file``, ``band``,
  ``started``, ``recording_id``, optional ``sha256``). The child is the one the band was
  assigned to when the recording started; it must be one of the token's children (403
  otherwise, audit-logged). The upload takes the import API's path (streamed to disk,
  sha256, background job, resumed after a restart) and is fsync'd before the answer,
  which carries the stored file's sha256: the relay deletes its copy only when that
  matches. The same file again answers 200 ``already_imported`` (nothing changes).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from movereg.dashboard.deps import Admin, SettingsDep, StoreDep
from movereg.dashboard.import_jobs import discard, staging_path
from movereg.dashboard.routes._common import run_sync
from movereg.dashboard.routes.imports import (
    _dt,
    _jobs,
    _save,
    _too_large,
    _TooLarge,
    _upload_name,
)
from movereg.dashboard.schemas import MAX_ID, StrictIn
from movereg.errors import AuthError, ForbiddenError, InputFileError, ValidationError
from movereg.fsutil import fsync_path
from movereg.storage import AlreadyImported, RelayToken, Store, is_relay_token, upload_path

__all__ = ["router"]

router = APIRouter(tags=["relay"])

RelayId = Annotated[int, Path(ge=1, le=MAX_ID, description="relay token id")]
_HEX = "^[0-9a-f]{64}$"


def relay_caller(request: Request, store: StoreDep) -> RelayToken:
    """The calling relay, from ``Authorization: Bearer mrr_...`` (401 otherwise)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not is_relay_token(token):
        raise AuthError("this route is for home relays: send the relay's token",
                        advice="an admin makes relay tokens on the admin page")
    relay = store.resolve_relay_token(token)
    if relay is None:
        raise AuthError("this relay token is not valid: it was revoked or never made here",
                        advice="ask the clinic's admin for a new relay token")
    return relay


Relay = Annotated[RelayToken, Depends(relay_caller)]


class RelayTokenIn(StrictIn):
    """A new relay token: its name (e.g. the family's home) and the children it serves."""

    name: str = Field(min_length=1, max_length=100)
    child_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1,
                                                                    max_length=20)


class RelayTokenOut(BaseModel):
    """A relay token (never the token itself)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    name: str
    child_ids: list[int]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None


class RelayTokenCreated(BaseModel):
    """The new token, shown this once, and its record."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(description="put this in the relay's token file; it is not shown "
                                   "again")
    relay: RelayTokenOut


class RelayBandOut(BaseModel):
    """A band to look for."""

    model_config = ConfigDict(extra="forbid")

    device_id: str
    family: str | None


class RelayBandsOut(BaseModel):
    """What a relay looks for."""

    model_config = ConfigDict(extra="forbid")

    relay: str = Field(description="the relay's name")
    bands: list[RelayBandOut]


class RelayUploadOut(BaseModel):
    """The server's receipt: delete the relay's copy only when ``sha256`` matches it."""

    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(description="sha256 of the file as stored here")
    size_bytes: int
    already_imported: bool
    import_id: int
    status: str


def _relay_out(r: RelayToken) -> RelayTokenOut:
    return RelayTokenOut(id=r.id, name=r.name, child_ids=list(r.child_ids),
                         created_at=_dt(r.created_at) or datetime.now(UTC), created_by=r.created_by,
                         revoked_at=_dt(r.revoked_at), revoked_by=r.revoked_by,
                         last_used_at=_dt(r.last_used_at))


@router.post("/api/relay-tokens", operation_id="create_relay_token", status_code=201,
             response_model=RelayTokenCreated)
def create_relay_token(body: RelayTokenIn, store: StoreDep, admin: Admin) -> RelayTokenCreated:
    """Make a home relay's token for chosen children (admin); the token is shown once."""
    token, relay = store.create_relay_token(body.name, body.child_ids, actor=admin.actor)
    return RelayTokenCreated(token=token, relay=_relay_out(relay))


@router.get("/api/relay-tokens", operation_id="list_relay_tokens",
            response_model=list[RelayTokenOut])
def list_relay_tokens(store: StoreDep, admin: Admin) -> list[RelayTokenOut]:
    """Every relay token (admin), revoked ones too; never the tokens themselves."""
    return [_relay_out(r) for r in store.list_relay_tokens()]


@router.post("/api/relay-tokens/{relay_id}/revoke", operation_id="revoke_relay_token",
             response_model=RelayTokenOut)
def revoke_relay_token(relay_id: RelayId, store: StoreDep, admin: Admin) -> RelayTokenOut:
    """End a relay token at once (admin); its next request is refused."""
    return _relay_out(store.revoke_relay_token(relay_id, actor=admin.actor))


@router.get("/api/relay/bands", operation_id="relay_bands", response_model=RelayBandsOut)
def relay_bands(store: StoreDep, relay: Relay) -> RelayBandsOut:
    """The bands assigned now to the relay's children (relay token only)."""
    bands = [RelayBandOut(device_id=b.device_id, family=b.family)
             for b in store.relay_bands(relay)]
    return RelayBandsOut(relay=relay.name, bands=bands)


def _child_for(store: Store, relay: RelayToken, band: str, started: datetime) -> int:
    """The child wearing ``band`` when the recording started; one of the relay's, or 403."""
    at = int(started.timestamp() * 1e9)
    child = store.device_child(band, at)
    if child is None or child not in relay.child_ids:
        store.audit(relay.actor, "relay.refused", detail={
            "band": band[:64], "started": started.isoformat()}, outcome="denied")
        raise ForbiddenError(f"this relay may not upload recordings of band {band!r} made "
                             "at that time: the band was not assigned to one of its children",
                             advice="assign the band to the child on the bands page")
    return child


@router.post("/api/relay/recordings", operation_id="relay_upload", status_code=202,
             response_model=RelayUploadOut,
             responses={200: {"model": RelayUploadOut, "description": "the same file again"},
                        403: {"description": "not a band of the relay's children then"},
                        413: {"description": "over the size limit"}})
async def relay_upload(request: Request, store: StoreDep, settings: SettingsDep,
                       relay: Relay, file: UploadFile,
                       band: Annotated[str, Form(min_length=1, max_length=64)],
                       started: Annotated[datetime, Form(description="UTC start of the "
                                                         "recording (ISO 8601)")],
                       recording_id: Annotated[str, Form(max_length=200)] = "",
                       sha256: Annotated[str | None, Form(pattern=_HEX)] = None) -> Any:
    """Upload one recording of a band (relay token only); processed in the background."""
    if started.tzinfo is None:
        raise ValidationError("started: give the time with its UTC offset (ISO 8601)")
    child = await run_sync(_child_for, store, relay, band, started)
    name, suffix = _upload_name(file)
    tmp = staging_path(settings)
    try:
        size, sha = await _save(file, tmp, settings.import_max_bytes)
        if size == 0:
            raise InputFileError(name, "empty file")
        if sha256 is not None and sha256 != sha:
            raise ValidationError(f"{name}: the file changed on the way (sha256 "
                                  f"{sha[:12]}... here, {sha256[:12]}... sent)",
                                  advice="upload it again")
        await asyncio.to_thread(fsync_path, tmp)
        src = await run_sync(store.begin_import, child, file_name=name, size_bytes=size,
                             sha256=sha, imported_by=relay.actor, tz=None,
                             device=band)
    except _TooLarge as exc:
        discard(tmp)
        return _too_large(exc.max_bytes)
    except AlreadyImported as exc:
        discard(tmp)
        again = RelayUploadOut(sha256=exc.source.sha256 or "", size_bytes=size,
                               already_imported=True, import_id=exc.source.id,
                               status=exc.source.status)
        return JSONResponse(again.model_dump(mode="json"), status_code=200)
    except BaseException:
        discard(tmp)
        raise
    dest = upload_path(settings.data_dir, src.id, suffix)
    await asyncio.to_thread(os.replace, tmp, dest)
    await asyncio.to_thread(fsync_path, dest)
    _jobs(request).start(src.id, dest, tz=None, device=band, actor=relay.actor)
    store.audit(relay.actor, "relay.upload", child_id=child, detail={
        "source_id": src.id, "band": band[:64], "recording": recording_id[:200],
        "sha256": sha})
    return RelayUploadOut(sha256=sha, size_bytes=size, already_imported=False,
                          import_id=src.id, status=src.status)
