"""Movement breaks of a child (bouts of light-or-above movement)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query

from movereg.dashboard.deps import CurrentUser, StoreDep, check_child
from movereg.dashboard.routes._common import ChildId, FromQ, ToQ, ns_range
from movereg.dashboard.schemas import BreakOut, dt
from movereg.storage import Store

__all__ = ["child_breaks", "router"]

router = APIRouter(prefix="/api/children", tags=["breaks"])


def _num(v: float) -> float | None:
    return v if math.isfinite(v) else None


def child_breaks(store: Store, child_id: int, start_ns: int | None, end_ns: int | None, *,
                 min_s: float = 60.0, max_dip_s: float = 10.0) -> list[BreakOut]:
    """Movement breaks from the stored epochs (``movereg.signal.movement_breaks``)."""
    from movereg.signal import movement_breaks

    table = store.epoch_table(child_id=child_id, start_ns=start_ns, end_ns=end_ns)
    return [BreakOut(start=dt(b.start_ns), end=dt(b.end_ns), duration_s=b.duration_s,
                     peak_enmo_mg=_num(b.peak_enmo_mg), mean_enmo_mg=_num(b.mean_enmo_mg))
            for b in movement_breaks(table, min_duration_s=min_s, max_dip_s=max_dip_s)]


@router.get("/{child_id}/breaks", operation_id="get_breaks", response_model=list[BreakOut])
def get_breaks(child_id: ChildId, store: StoreDep, principal: CurrentUser,
               start: FromQ, end: ToQ,
               min_s: Annotated[float, Query(ge=0, le=3600)] = 60.0,
               max_dip_s: Annotated[float, Query(ge=0, le=600)] = 10.0) -> list[BreakOut]:
    """Bouts of light-or-above movement lasting at least ``min_s`` seconds (<= 7 days)."""
    check_child(store, principal, child_id)
    a, b = ns_range(start, end, max_days=7)
    out = child_breaks(store, child_id, a, b, min_s=min_s, max_dip_s=max_dip_s)
    store.audit(principal.actor, "read.breaks", child_id=child_id,
                detail={"from": a, "to": b, "n": len(out)})
    return out
