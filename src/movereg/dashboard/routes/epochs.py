"""Epoch features of a child over a time range."""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query

from movereg.dashboard.deps import CurrentUser, StoreDep, check_child
from movereg.dashboard.routes._common import ChildId, FromQ, ToQ, ns_range
from movereg.dashboard.schemas import EpochsOut, GapOut, dt
from movereg.errors import ValidationError
from movereg.storage import EPOCH_NAMES

__all__ = ["MAX_JSON_DAYS", "router"]

router = APIRouter(prefix="/api/children", tags=["epochs"])

#: Longest range one JSON answer covers; use the export for more.
MAX_JSON_DAYS = 2.0


def _parse_features(raw: list[str] | None) -> list[str] | None:
    if not raw:
        return None
    names = [n.strip() for item in raw for n in item.split(",") if n.strip()]
    bad = [n for n in names if n not in EPOCH_NAMES]
    if bad:
        raise ValidationError(f"unknown features {bad}",
                              advice=f"choose from {', '.join(EPOCH_NAMES)}")
    return names


def _jsonable(arr: np.ndarray) -> list[float | int | None]:
    if arr.dtype.kind == "f":
        return [None if not math.isfinite(v) else v for v in arr.tolist()]
    return list(arr.tolist())


@router.get("/{child_id}/epochs", operation_id="get_epochs", response_model=EpochsOut)
def get_epochs(child_id: ChildId, store: StoreDep, principal: CurrentUser,
               start: FromQ, end: ToQ,
               features: Annotated[list[str] | None, Query(
                   description="feature names (repeat or comma-separate); all by default")]
               = None) -> EpochsOut:
    """Epoch features of the bands assigned to the child, in ``[from, to)``.

    ``from`` and ``to`` are required; at most two days per request.
    """
    check_child(store, principal, child_id)
    a, b = ns_range(start, end, max_days=MAX_JSON_DAYS)
    names = _parse_features(features)
    cols = store.timeline(child_id=child_id, start_ns=a, end_ns=b, features=names)
    store.audit(principal.actor, "read.epochs", child_id=child_id,
                detail={"from": a, "to": b, "features": names or "all",
                        "n": int(cols["epoch_start"].shape[0])})
    keep = [n for n in EPOCH_NAMES if n in cols]  # epoch_s always comes along
    return EpochsOut(child_id=child_id, start=start, end=end,
                     n=int(cols["epoch_start"].shape[0]),
                     epoch_start=[dt(int(v)) for v in cols["epoch_start"].tolist()],
                     columns={k: _jsonable(cols[k]) for k in keep if k != "epoch_start"})


@router.get("/{child_id}/gaps", operation_id="get_gaps", response_model=list[GapOut])
def get_gaps(child_id: ChildId, store: StoreDep, principal: CurrentUser,
             start: FromQ, end: ToQ) -> list[GapOut]:
    """Spans with no data from the child's bands in ``[from, to)`` (<= 31 days)."""
    check_child(store, principal, child_id)
    a, b = ns_range(start, end, max_days=31)
    gaps = store.gaps(child_id=child_id, start_ns=a, end_ns=b)
    store.audit(principal.actor, "read.gaps", child_id=child_id,
                detail={"from": a, "to": b, "n": len(gaps)})
    return [GapOut(start=dt(g.start_ns), end=dt(g.end_ns),
                   duration_s=(g.end_ns - g.start_ns) / 1e9, samples_missing=g.samples_missing,
                   reason=g.reason) for g in gaps]
