"""Daily summary of a child (via ``movereg.analysis.daily_summary``)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query

from movereg.dashboard.deps import CurrentUser, StoreDep, check_child
from movereg.dashboard.link_schemas import StrategyLinkOut, StrategyLinksOut
from movereg.dashboard.routes._common import ChildId, FromQ, ToQ, ns_range
from movereg.dashboard.schemas import BreakOut, Day, SummaryOut, dt
from movereg.errors import ValidationError
from movereg.signal.schema import ZONE_LABELS
from movereg.timeutil import NS_PER_S, day_bounds_ns, now_ns

__all__ = ["router"]

router = APIRouter(prefix="/api/children", tags=["summary"])


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
    d0, _ = day_bounds_ns(the_day, zone)
    lo, hi = d0 - 3600 * NS_PER_S, d0 + 26 * 3600 * NS_PER_S
    cols = store.epoch_table(child_id=child_id, start_ns=lo, end_ns=hi)
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


ExploreFeature = Literal["enmo_mg", "rhythmic_fraction", "impacts", "flap_share"]


@router.get("/{child_id}/strategies", operation_id="get_strategy_links",
            response_model=StrategyLinksOut)
def get_strategy_links(child_id: ChildId, store: StoreDep, principal: CurrentUser,
                       start: FromQ = None, end: ToQ = None,
                       feature: ExploreFeature = "enmo_mg") -> StrategyLinksOut:
    """Before vs after each strategy the child used (default: the last 30 days).

    Descriptive only: per strategy the uses, how many could be compared, the median
    change with a 95% interval and a plain sentence.
    """
    from movereg.analysis import LIMITS_TEXT, POST_S, PRE_S, not_compared_text
    from movereg.dashboard.linking import explore_strategies

    check_child(store, principal, child_id)
    a, b = ns_range(start, end)
    b = now_ns() if b is None else b
    a = b - 30 * 86_400 * NS_PER_S if a is None else a
    if b <= a:
        raise ValidationError("'to' must be after 'from'")
    stats = explore_strategies(store, child_id, start_ns=a, end_ns=b, feature=feature)
    store.audit(principal.actor, "read.strategies", child_id=child_id,
                detail={"feature": feature})
    return StrategyLinksOut(
        child_id=child_id, start=dt(a), end=dt(b), feature=feature, pre_s=PRE_S,
        post_s=POST_S, limits=LIMITS_TEXT, strategies=[StrategyLinkOut(
            strategy=st.strategy, label=st.label, feature=st.feature, unit=st.unit,
            n_uses=st.n_uses, n_compared=st.n_compared, n_lower=st.n_lower,
            n_higher=st.n_higher, n_same=st.n_same, median_change=_num(st.median_change),
            ci_low=_num(st.ci_low), ci_high=_num(st.ci_high),
            not_compared=dict(st.not_compared),
            not_compared_text=not_compared_text(st.not_compared), sentence=st.sentence)
            for st in stats])
