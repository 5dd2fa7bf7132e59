"""Daily summary of a child (via ``movereg.analysis.daily_summary``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query

from movereg.dashboard.deps import CurrentUser, StoreDep, check_child
from movereg.dashboard.routes._common import ChildId
from movereg.dashboard.schemas import BreakOut, Day, SummaryOut, dt
from movereg.errors import ValidationError
from movereg.signal.schema import ZONE_LABELS

__all__ = ["router"]

router = APIRouter(prefix="/api/children", tags=["summary"])

_NS = 10**9


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"unknown time zone {name!r}",
                              advice="use an IANA name such as 'Europe/London'") from exc


def _num(v: float) -> float | None:
    return v if math.isfinite(v) else None


@router.get("/{child_id}/summary", operation_id="get_summary", response_model=SummaryOut)
def get_summary(child_id: ChildId, store: StoreDep, principal: CurrentUser,
                day: Annotated[Day | None, Query(description="local day; today by default")]
                = None,
                tz: Annotated[str, Query(min_length=1, max_length=64)] = "UTC") -> SummaryOut:
    """Wear time, time per intensity zone, movement breaks and strategies of one day."""
    from movereg.analysis import daily_summary

    child = check_child(store, principal, child_id, with_name=True)
    zone = _zone(tz)
    the_day = day or datetime.now(zone).date()
    d0 = datetime.combine(the_day, time(0), zone).astimezone(UTC)
    lo = int(d0.timestamp()) * _NS - 3600 * _NS
    hi = int((d0 + timedelta(days=1, hours=1)).timestamp()) * _NS + 3600 * _NS
    cols = store.timeline(child_id=child_id, start_ns=lo, end_ns=hi)
    events = store.list_events(child_id=child_id, start_ns=lo, end_ns=hi)
    s = daily_summary(cols, events, day=the_day, tz=tz,
                      nickname=child.display_name or "Your child")
    store.audit(principal.actor, "read.summary", child_id=child_id,
                detail={"day": the_day.isoformat(), "tz": tz})
    return SummaryOut(
        child_id=child_id, day=the_day.isoformat(), tz=tz, wear_s=s.wear_s,
        zone_s={ZONE_LABELS[i]: float(v) for i, v in enumerate(s.zone_s)},
        breaks=[BreakOut(start=dt(b.start_ns), end=dt(b.end_ns), duration_s=b.duration_s,
                         peak_enmo_mg=_num(b.peak_enmo_mg), mean_enmo_mg=_num(b.mean_enmo_mg))
                for b in s.breaks],
        break_count=s.break_count, strategy_counts=s.strategy_counts,
        narrative=list(s.narrative), limits=s.limits)
