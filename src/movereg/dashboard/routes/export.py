"""Streamed pseudonymous exports (CSV / Parquet) and the data dictionary."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from movereg.dashboard.deps import CurrentUser, Principal, StoreDep, visible_children
from movereg.dashboard.routes._common import FromQ, ToQ, ns_range
from movereg.errors import ForbiddenError, NotFoundError, ValidationError
from movereg.storage import Store
from movereg.storage.export import (
    CSV_TEXT_NOTE,
    check_epoch_length,
    epoch_export_columns,
    export_chunks,
    media_type,
    parse_features,
    stream_csv,
    stream_parquet,
)
from movereg.storage.export_dataset import why_empty

__all__ = ["router"]

router = APIRouter(prefix="/api/export", tags=["export"])


class DictionaryEntryOut(BaseModel):
    name: str
    unit: str
    definition: str
    reference: str
    aggregation: str = ""


def consent_scope(what: str) -> str:
    """The research-consent scope an export kind needs (raw samples need their own)."""
    return "features+raw" if what == "raw" else "features"


def _children(store: Store, principal: Principal, code: str | None, what: str) -> list[int]:
    """Children of an export. Researchers get only children whose current research
    consent covers the export (privacy by default); others their visible children."""
    allowed = visible_children(store, principal)
    if principal.role == "researcher":
        allowed = store.consented_children(consent_scope(what))
    if code is None:
        return [c.id for c in store.list_children(allowed)]
    child = store.find_child(code)
    if child is None or (principal.role != "researcher" and allowed is not None
                         and child.id not in allowed):
        raise NotFoundError(f"no child {code!r}")
    if allowed is not None and child.id not in allowed:
        scope = consent_scope(what)
        store.audit(principal.actor, "export.denied", child_id=child.id,
                    detail={"what": what, "reason": "no research consent", "scope": scope},
                    outcome="denied")
        need = ("research consent covering raw samples (scope 'features+raw')"
                if scope == "features+raw" else "research consent")
        raise ForbiddenError(f"child {code} has no current {need}",
                             advice="only children whose family consented to research use "
                                    "can be exported; ask the child's therapist")
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
    from movereg.analysis import AGGREGATION_RULES
    from movereg.signal import data_dictionary as dd

    out = [DictionaryEntryOut(name=str(e.get("name", "")), unit=str(e.get("unit", "")),
                              definition=str(e.get("definition", "")),
                              reference=str(e.get("reference", "")),
                              aggregation=AGGREGATION_RULES.get(str(e.get("name", "")), ""))
           for e in dd(fs_hz)]
    out.append(DictionaryEntryOut(name="csv_text_cells", unit="", definition=CSV_TEXT_NOTE,
                                  reference="OWASP: CSV injection"))
    return out


@router.get("/{what}", operation_id="export_data", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {},
                                         "application/vnd.apache.parquet": {},
                                         "application/x-ndjson": {}},
                             "description": "the export file, streamed"}})
def export_data(what: Literal["epochs", "breaks", "events", "raw"], store: StoreDep,
                principal: CurrentUser, start: FromQ = None, end: ToQ = None,
                format: Annotated[Literal["csv", "parquet", "omh"], Query(  # noqa: A002
                    description="omh: Open mHealth omh:acceleration:2.0 data points as "
                    "JSON lines (raw samples only)")] = "csv",
                child: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{3,32}$",
                                                   description="pseudonymous child code")]
                = None,
                epoch_s: Annotated[float | None, Query(
                    gt=0, le=86_400, description="epochs only: re-aggregate to this length "
                    "(s), a whole multiple of the recorded one")] = None,
                features: Annotated[str | None, Query(
                    max_length=2000, description="epochs only: comma-separated feature "
                    "columns (epoch_start, epoch_s, coverage always included)")] = None,
                ) -> StreamingResponse:
    """Export one table for the caller's children: a therapist's caseload, a parent's
    child, every child for admins, and for researchers only children with a current
    research consent (raw samples need the ``features+raw`` scope; another child is 403).

    Children appear only by pseudonymous code, devices by salted hash; event notes are
    never exported. Every export is audit-logged (request, then size and sha256).
    """
    a, b = ns_range(start, end)
    if what != "epochs" and (epoch_s is not None or features is not None):
        raise ValidationError("epoch_s and features apply to epoch exports only")
    if format == "omh" and what != "raw":
        raise ValidationError("the Open mHealth format applies to raw samples only",
                              advice="choose CSV or Parquet for this table")
    chosen = parse_features(features)
    ids = _children(store, principal, child, what)
    if epoch_s is not None:
        check_epoch_length(store, ids, epoch_s, start_ns=a, end_ns=b)
    codes = [store.get_child(i).code for i in ids]
    detail: dict[str, Any] = {"what": what, "format": format, "children": codes, "from": a,
                              "to": b}
    if principal.role == "researcher":
        detail["consent_scope"] = consent_scope(what)
    if epoch_s is not None:
        detail["epoch_s"] = epoch_s
    if chosen is not None:
        detail["features"] = chosen
    store.audit(principal.actor, "export", child_id=ids[0] if len(ids) == 1 else None,
                detail=detail)
    columns = epoch_export_columns(chosen) if what == "epochs" else None
    chunks = export_chunks(store, what, ids, start_ns=a, end_ns=b, epoch_s=epoch_s)
    first = next(chunks, None)   # peek: an export with no rows says why
    why = None if first is not None else why_empty(
        store, what, ids, principal.role == "researcher", a is not None or b is not None)
    chunks = itertools.chain([] if first is None else [first], chunks)
    prov = _provenance(store, what, format, ids, a, b, epoch_s, chosen, why)
    if format == "omh":
        from movereg.storage.export_omh import OmhWriter

        body = OmhWriter(what).stream(chunks)
    else:
        body = (stream_csv(what, chunks, columns=columns) if format == "csv"
                else stream_parquet(what, chunks, columns=columns, metadata={
                    **_metadata(what, epoch_s, columns),
                    "movereg.provenance": json.dumps(prov, default=str)}))
    filename = f"movereg-{what}.{'jsonl' if format == 'omh' else format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if epoch_s is not None:
        headers["X-Movereg-Epoch-S"] = f"{epoch_s:g}"
    headers["X-Movereg-Provenance"] = json.dumps(prov, default=str, separators=(",", ":"))
    if why is not None:
        headers["X-Movereg-Why-Empty"] = why
    return StreamingResponse(_audited(body, store, principal, detail),
                             media_type=media_type(format), headers=headers)


def _provenance(store: Store, what: str, fmt: str, ids: list[int], a: int | None,
                b: int | None, epoch_s: float | None, features: list[str] | None,
                why: str | None) -> dict[str, Any]:
    """What a downloaded export states about itself (as the CLI's; the database is named
    but not hashed here: hashing it would make every download read the whole file)."""
    from movereg.storage.export_dataset import calibration_provenance, provenance

    params: dict[str, Any] = {
        "what": what, "children": [store.get_child(i).code for i in ids],
        "from": a, "to": b, "epoch_s": epoch_s, "features": features, "tz": "UTC",
        "nonwear_method": "movereg causal 60-min window (column nonwear)",
        "calibration": ("raw samples as the bands sent them (never calibrated)"
                        if what == "raw" else calibration_provenance(store, ids, a, b))}
    prov = provenance(what, fmt, params, [], rows=0, why_empty=why)
    prov["sources"] = [{"path": "this server's database", "sha256": None}]
    del prov["rows"]            # not known before the rows are streamed
    return prov


def _metadata(what: str, epoch_s: float | None, columns: list[str] | None) -> dict[str, str]:
    """Parquet key-value metadata: epoch length and how each column was aggregated."""
    if what != "epochs" or epoch_s is None:
        return {}
    from movereg.analysis import AGGREGATION_RULES

    rules = {c: r for c, r in AGGREGATION_RULES.items() if columns is None or c in columns}
    return {"movereg.epoch_s": f"{epoch_s:g}",
            "movereg.aggregation": json.dumps(rules, sort_keys=True)}
