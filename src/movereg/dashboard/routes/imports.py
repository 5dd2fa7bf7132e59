"""Imports of recording files into a child's record (upload, progress, removal).

``POST /api/children/{id}/imports`` streams a multipart upload to disk (bounded memory,
hashing as it goes), registers the import (the same file twice answers
``already_imported`` and changes nothing) and processes it as a background job;
``GET /api/imports/{id}`` reports its progress; ``DELETE /api/imports/{id}`` cancels a
running import or removes a stored one (with a reason, audit-logged). Who may: a
therapist or admin linked to the child, the child's parent; never a researcher.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from movereg.dashboard.deps import CurrentUser, Principal, SettingsDep, StoreDep, check_child
from movereg.dashboard.import_jobs import ImportJobs, discard, staging_path
from movereg.dashboard.routes._common import ChildId, FromQ, ToQ, ns_range, run_sync
from movereg.dashboard.schemas import MAX_ID, StrictIn
from movereg.errors import InputFileError, NotFoundError, ValidationError
from movereg.storage import AlreadyImported, SourceRecord, Store, upload_path

__all__ = ["router"]

router = APIRouter(tags=["imports"])

ImportId = Annotated[int, Path(ge=1, le=MAX_ID, description="import (source) id")]
#: what ``open_recording`` reads (``RECORDING_SUFFIXES``, not imported here: the server
#: starts without the readers), band recordings too (Polar ``.polarrec``, MetaWear ``.mwlog``)
_SUFFIXES = (".csv.gz", ".txt.gz", ".csv", ".txt", ".parquet", ".gt3x", ".cwa", ".bin",
             ".polarrec", ".mwlog")
_BLOCK = 1 << 20


class ImportOut(BaseModel):
    """One import: provenance, progress and outcome (times ISO 8601 UTC)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    child_id: int | None
    status: Literal["pending", "running", "done", "failed", "cancelled", "removed"]
    already_imported: bool = Field(False, description="this upload was the same file again")
    progress: float = Field(description="0..1")
    message: str
    file_name: str | None
    size_bytes: int | None
    sha256: str | None
    label: str = Field(description="how pages name this source")
    device_type: str | None
    serial_hash: str | None
    fs_hz: float | None
    measured_fs_hz: float | None
    tz: str | None
    first_sample: datetime | None
    last_sample: datetime | None
    samples_read: int | None
    samples_skipped: int | None
    damage: list[dict[str, Any]]
    n_epochs: int | None
    imported_by: str | None
    created_at: datetime
    removed_reason: str | None
    day_url: str | None = Field(description="the child's day page at the recording's start")


class RemoveIn(StrictIn):
    """Why an import is removed (kept in the audit log)."""

    reason: str = Field(min_length=1, max_length=500)


def _dt(v: int | None) -> datetime | None:
    return None if v is None else datetime.fromtimestamp(v / 1e9, UTC)


def _out(src: SourceRecord, *, again: bool = False) -> ImportOut:
    day_url = None
    if src.status == "done" and src.first_sample_ns is not None and src.child_id is not None:
        zone = src.tz or "UTC"
        try:
            day = datetime.fromtimestamp(src.first_sample_ns / 1e9, ZoneInfo(zone)).date()
        except (KeyError, ValueError):
            zone, day = "UTC", datetime.fromtimestamp(src.first_sample_ns / 1e9, UTC).date()
        day_url = f"/day?child={src.child_id}&day={day.isoformat()}&tz={zone}"
    return ImportOut(
        id=src.id, child_id=src.child_id, status=src.status,  # type: ignore[arg-type]
        already_imported=again, progress=src.progress, message=src.message,
        file_name=src.file_name, size_bytes=src.size_bytes, sha256=src.sha256,
        label=src.label, device_type=src.device_type, serial_hash=src.serial_hash,
        fs_hz=src.fs_hz, measured_fs_hz=src.measured_fs_hz, tz=src.tz,
        first_sample=_dt(src.first_sample_ns), last_sample=_dt(src.last_sample_ns),
        samples_read=src.samples_read, samples_skipped=src.samples_skipped,
        damage=src.damage_list, n_epochs=src.n_epochs, imported_by=src.imported_by,
        created_at=_dt(src.created_at) or datetime.now(UTC),
        removed_reason=src.removed_reason, day_url=day_url)


def _carer(principal: Principal) -> None:
    if principal.role not in ("admin", "therapist", "parent"):
        from movereg.errors import ForbiddenError

        raise ForbiddenError(f"the {principal.role} role cannot add recordings")


def _may_import(store: Store, principal: Principal, child_id: int) -> None:
    _carer(principal)
    check_child(store, principal, child_id)


def _jobs(request: Request) -> ImportJobs:
    jobs = getattr(request.app.state, "import_jobs", None)
    if jobs is None:
        jobs = ImportJobs(request.app.state.store, request.app.state.settings)
        request.app.state.import_jobs = jobs
    return jobs


def _upload_name(upload: UploadFile) -> tuple[str, str]:
    """The upload's file name (no directory, at most 200 characters) and its recording
    suffix (:func:`_suffix`)."""
    name = FsPath(upload.filename or "recording").name[:200] or "recording"
    return name, _suffix(name)


def _suffix(name: str) -> str:
    low = name.lower()
    for suf in _SUFFIXES:
        if low.endswith(suf):
            return suf
    raise InputFileError(name, "unknown recording type; expected one of "
                         + ", ".join(_SUFFIXES))


async def _save(upload: UploadFile, dest: FsPath, max_bytes: int) -> tuple[int, str]:
    """Copy the upload to ``dest`` in 1 MiB blocks, hashing; (size, sha256)."""
    h = hashlib.sha256()
    size = 0
    await asyncio.to_thread(dest.parent.mkdir, parents=True, exist_ok=True)
    fh = await asyncio.to_thread(open, dest, "wb")
    try:
        while block := await upload.read(_BLOCK):
            size += len(block)
            if size > max_bytes:
                raise _TooLarge(max_bytes)
            h.update(block)
            await asyncio.to_thread(fh.write, block)
    finally:
        fh.close()
    return size, h.hexdigest()


class _TooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes


def _too_large(max_bytes: int) -> JSONResponse:
    return JSONResponse({"detail": f"The file is larger than the import limit of "
                                   f"{max_bytes / 1e9:.2f} GB.", "error": "TooLarge"},
                        status_code=413)


@router.post("/api/children/{child_id}/imports", operation_id="add_import",
             response_model=ImportOut, status_code=202,
             responses={200: {"model": ImportOut, "description": "the same file again"},
                        413: {"description": "over the size limit"}})
async def add_import(child_id: ChildId, request: Request, store: StoreDep,
                     settings: SettingsDep, principal: CurrentUser, file: UploadFile,
                     tz: Annotated[str | None, Form(max_length=64)] = None,
                     device: Annotated[str | None, Form(max_length=64)] = None,
                     ) -> Any:
    """Upload a recording (CWA, GT3X, GENEActiv BIN, CSV/CSV.gz, movereg Parquet) for
    the child; it is processed in the background (poll ``GET /api/imports/{id}``)."""
    _may_import(store, principal, child_id)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > settings.import_max_bytes + 1_000_000:
        return _too_large(settings.import_max_bytes)
    name, suffix = _upload_name(file)
    if tz:
        from movereg.recordings.devicetime import parse_tz

        parse_tz(tz)
    tmp = staging_path(settings)
    try:
        size, sha = await _save(file, tmp, settings.import_max_bytes)
    except _TooLarge as exc:
        discard(tmp)
        return _too_large(exc.max_bytes)
    except BaseException:
        discard(tmp)
        raise
    try:
        if size == 0:
            raise InputFileError(name, "empty file")
        src = await run_sync(store.begin_import, child_id, file_name=name, size_bytes=size,
                             sha256=sha, imported_by=principal.actor, tz=tz or None,
                             device=device or None)
    except AlreadyImported as exc:
        discard(tmp)
        return JSONResponse(_out(exc.source, again=True).model_dump(mode="json"),
                            status_code=200)
    except BaseException:
        discard(tmp)
        raise
    dest = upload_path(settings.data_dir, src.id, suffix)
    await asyncio.to_thread(os.replace, tmp, dest)
    _jobs(request).start(src.id, dest, tz=tz or None, device=device or None,
                         actor=principal.actor)
    return _out(store.get_source(src.id))


def _source_for(store: Store, principal: Principal, import_id: int) -> SourceRecord:
    _carer(principal)               # before the lookup: no import id's existence leaks
    src = store.get_source(import_id)
    if src.kind != "file" or src.child_id is None:
        raise NotFoundError(f"no import {import_id}")
    _may_import(store, principal, src.child_id)
    return src


@router.get("/api/imports/{import_id}", operation_id="get_import", response_model=ImportOut)
def get_import(import_id: ImportId, store: StoreDep, principal: CurrentUser) -> ImportOut:
    """One import's progress and outcome."""
    return _out(_source_for(store, principal, import_id))


@router.get("/api/children/{child_id}/imports", operation_id="list_imports",
            response_model=list[ImportOut])
def list_imports(child_id: ChildId, store: StoreDep, principal: CurrentUser) -> list[ImportOut]:
    """The child's imports, newest first."""
    _may_import(store, principal, child_id)
    out = [_out(s) for s in store.list_sources(child_id=child_id, kind="file")]
    store.audit(principal.actor, "read.imports", child_id=child_id, detail={"n": len(out)})
    return out


@router.delete("/api/imports/{import_id}", operation_id="remove_import",
               response_model=ImportOut)
def remove_import(import_id: ImportId, body: RemoveIn, request: Request, store: StoreDep,
                  principal: CurrentUser) -> ImportOut:
    """Cancel a running import, or remove a stored one and all its data (reason kept)."""
    src = _source_for(store, principal, import_id)
    if src.status in ("pending", "running"):
        if not _jobs(request).cancel(src.id):
            store.fail_import(src.id, f"cancelled: {body.reason}", status="cancelled",
                              actor=principal.actor)
        return _out(store.get_source(src.id))
    if src.status != "done":
        raise ValidationError(f"import {src.id} is {src.status}; there is nothing to remove")
    return _out(store.remove_import(src.id, reason=body.reason, actor=principal.actor))


class SourceSpanOut(BaseModel):
    """A stretch of the child's time line and the source it is shown from."""

    model_config = ConfigDict(extra="forbid")

    source_id: int
    kind: Literal["live", "file"]
    label: str
    start: datetime
    end: datetime


@router.get("/api/children/{child_id}/sources", operation_id="list_source_spans",
            response_model=list[SourceSpanOut])
def list_source_spans(child_id: ChildId, store: StoreDep, principal: CurrentUser,
                      start: FromQ, end: ToQ) -> list[SourceSpanOut]:
    """Which source (live band or imported file) the time line shows when, in
    ``[from, to)`` (<= 31 days): each moment is counted once (the per-hour rule)."""
    check_child(store, principal, child_id)
    a, b = ns_range(start, end, max_days=31)
    assert a is not None and b is not None  # ns_range insists on both with max_days
    store.audit(principal.actor, "read.sources", child_id=child_id,
                detail={"from": a, "to": b})
    return [SourceSpanOut(source_id=sp.source.id, kind=sp.source.kind,  # type: ignore[arg-type]
                          label=sp.source.label, start=_dt(sp.start_ns) or datetime.now(UTC),
                          end=_dt(sp.end_ns) or datetime.now(UTC))
            for sp in store.timeline_sources(child_id, a, b)]
