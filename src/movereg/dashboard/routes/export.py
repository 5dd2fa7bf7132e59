"""Streamed pseudonymous exports (CSV / Parquet) and the data dictionary."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from movereg.dashboard.deps import CurrentUser, Principal, StoreDep, visible_children
from movereg.dashboard.routes._common import FromQ, ToQ, ns_range
from movereg.errors import NotFoundError
from movereg.storage import Store
from movereg.storage.export import export_chunks, media_type, stream_csv, stream_parquet

__all__ = ["router"]

router = APIRouter(prefix="/api/export", tags=["export"])


class DictionaryEntryOut(BaseModel):
    name: str
    unit: str
    definition: str
    reference: str


def _children(store: Store, principal: Principal, code: str | None) -> list[int]:
    allowed = visible_children(store, principal)
    if code is None:
        return [c.id for c in store.list_children(allowed)]
    child = store.find_child(code)
    if child is None or (allowed is not None and child.id not in allowed):
        raise NotFoundError(f"no child {code!r}")
    return [child.id]


def _audited(body: Iterator[bytes], store: Store, principal: Principal,
             detail: dict[str, Any]) -> Iterator[bytes]:
    digest = hashlib.sha256()
    size = 0
    complete = False
    try:
        for part in body:
            digest.update(part)
            size += len(part)
            yield part
        complete = True
    finally:
        store.audit(principal.actor, "export.done" if complete else "export.aborted",
                    detail={**detail, "bytes": size, "sha256": digest.hexdigest()},
                    outcome="ok" if complete else "aborted")


@router.get("/dictionary", operation_id="data_dictionary",
            response_model=list[DictionaryEntryOut])
def data_dictionary(principal: CurrentUser,
                    fs_hz: Annotated[float | None, Query(gt=0, le=10_000)] = None
                    ) -> list[DictionaryEntryOut]:
    """Name, unit, definition and reference of every epoch column."""
    from movereg.signal import data_dictionary as dd

    return [DictionaryEntryOut(name=str(e.get("name", "")), unit=str(e.get("unit", "")),
                               definition=str(e.get("definition", "")),
                               reference=str(e.get("reference", "")))
            for e in dd(fs_hz)]


@router.get("/{what}", operation_id="export_data", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {},
                                         "application/vnd.apache.parquet": {}},
                             "description": "the export file, streamed"}})
def export_data(what: Literal["epochs", "breaks", "events", "raw"], store: StoreDep,
                principal: CurrentUser, start: FromQ = None, end: ToQ = None,
                format: Annotated[Literal["csv", "parquet"], Query()] = "csv",  # noqa: A002
                child: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{3,32}$",
                                                   description="pseudonymous child code")]
                = None) -> StreamingResponse:
    """Export one table for the caller's children (all for admins and researchers).

    Children appear only by pseudonymous code, devices by salted hash; event notes are
    never exported. Every export is audit-logged (request, then size and sha256).
    """
    a, b = ns_range(start, end)
    ids = _children(store, principal, child)
    codes = [store.get_child(i).code for i in ids]
    detail = {"what": what, "format": format, "children": codes, "from": a, "to": b}
    store.audit(principal.actor, "export", child_id=ids[0] if len(ids) == 1 else None,
                detail=detail)
    chunks = export_chunks(store, what, ids, start_ns=a, end_ns=b)
    body = stream_csv(what, chunks) if format == "csv" else stream_parquet(what, chunks)
    filename = f"movereg-{what}.{format}"
    return StreamingResponse(_audited(body, store, principal, detail),
                             media_type=media_type(format),
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
