"""Family pages: the parent's home page (phone first), the day and week in the family's
time zone, the child's data page (access log, bundle, erasure) and the therapist's home
plan page.

Parents read plain words only (no mg, ENMO, counts or cut-points); therapists and
admins see the same pages with units. "Not worn" (the band's own reading) and "no
signal" (no data reached us) are always told apart.
"""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from movereg.analysis import (
    ZONE_WORDS,
    daily_summary,
    format_duration,
    response_text,
    strategy_label,
    week_summary,
)
from movereg.dashboard.deps import OptionalUser, Principal, StoreDep
from movereg.dashboard.family_view import (
    WEAR_WORDS,
    activity_words,
    day_bounds,
    hour_labels,
    plan_day,
    response_words,
    split_wear,
)
from movereg.dashboard.linking import epochs_around
from movereg.dashboard.pages import (
    _children_for,
    _error,
    _fig_json,
    _gate,
    _history,
    _nickname,
    _open_child_page,
    _render,
)
from movereg.dashboard.schemas import Day  # 1678-2261 only: ns timestamps (#21)
from movereg.signal.table import EpochTable
from movereg.storage import PRECEDENCE_RULE, Child, Store
from movereg.storage.bundle import access_words
from movereg.timeutil import NS_PER_S

__all__ = ["CHECKIN_WORDS", "day_context", "router", "zone_for"]

router = APIRouter(include_in_schema=False)
#: A neutral 5-point "how was this part of the day" (never averaged or scored).
CHECKIN_WORDS = {1: "hard", 2: "a bit hard", 3: "okay", 4: "fairly easy", 5: "easy"}
_AGO = ((0, "just now"), (300, "5 min ago"), (900, "15 min ago"), (1800, "30 min ago"),
        (3600, "1 hour ago"), (7200, "2 hours ago"), (10800, "3 hours ago"))
_HOME_STRATEGIES = ("mov.break", "pro.carry", "pro.wall_push", "ves.bounce", "tac.fidget",
                    "int.breathe", "env.calm_corner")


def zone_for(store: Store, child_id: int, tz: str | None) -> tuple[ZoneInfo, bool]:
    """The time zone to show a child's day in: an explicit valid ``tz``, else the
    child's setting, else UTC; and whether the child has a zone set."""
    setting = store.child_settings(child_id).tz
    for name in (tz, setting):
        if name:
            try:
                return ZoneInfo(name), setting is not None
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC"), setting is not None


def _open_family_page(request: Request, store: Store, user: Principal | None,
                      child: int | None, tz: str | None
                      ) -> Response | tuple[Principal, Child, ZoneInfo, bool]:
    """Gate a one-child page and pick the child (or a response), with the zone to show
    its days in and whether the child has one set (:func:`zone_for`)."""
    opened = _open_child_page(request, store, user, child)
    if isinstance(opened, Response):
        return opened
    gate, c = opened
    return (gate, c, *zone_for(store, c.id, tz))


def _usual_words(store: Store, cid: int, d0: int, d1: int, tz: ZoneInfo,
                 labels: list[str], until: int) -> list[str]:
    """Plain words: this day's hours against the same hours of the 14 days before."""
    rows = store.hourly_activity(cid, d0 - 14 * 86_400 * NS_PER_S, min(d1, until))
    today: dict[int, float] = {}
    usual: dict[int, list[float]] = {}
    by_label: dict[int, str] = {}
    for t, mean, secs in rows:
        local = datetime.fromtimestamp(t / NS_PER_S, tz)
        if t >= d0:
            if secs >= 600:
                today[local.hour] = mean
                by_label[local.hour] = labels[min(len(labels) - 1, (t - d0) // (3600 * NS_PER_S))]
        elif secs >= 600:
            usual.setdefault(local.hour, []).append(mean)
    return activity_words(today, usual, by_label)


def _event_rows(store: Store, s: Any, events: list[Any], tz: ZoneInfo,
                plain: bool) -> list[dict[str, Any]]:
    by_id = {str(e.id): e for e in events}
    rows = []
    for ch in s.events:
        ev = by_id.get(ch.event_id)
        before, after = ch.before.get("enmo_mg", np.nan), ch.after.get("enmo_mg", np.nan)
        # one wording for every page (analysis.response_text); the plain words for parents
        response = (response_words(before, after) if plain and ch.status == "ok"
                    else response_text(ch))
        rows.append({
            "time": datetime.fromtimestamp(ch.onset_ns / NS_PER_S, tz).strftime("%H:%M"),
            "label": strategy_label(ch.strategy),
            "who": (ev.initiated_by if ev else None) or "not recorded",
            "planned": "planned" if ev and ev.planned else
            "as needed" if ev and ev.planned is False else "not recorded",
            "duration": format_duration((ch.end_ns - ch.onset_ns) / NS_PER_S) if ch.end_ns
            else "open", "response": response, "note": ev.note if ev else ""})
    return rows


def _checkin_rows(store: Store, cid: int, s: Any, d0: int, d1: int, tz: ZoneInfo
                  ) -> list[dict[str, str]]:
    out = []
    for c in store.list_checkins(cid, start_ns=d0, end_ns=d1):
        h = min(s.hourly_zone_s.shape[0] - 1, (c.at_ns - d0) // (3600 * NS_PER_S))
        row = s.hourly_zone_s[h]
        moving = ("no band data that hour" if row[:4].sum() < 60 else
                  f"mostly {ZONE_WORDS[int(np.argmax(row[:4]))]} that hour")
        out.append({"time": datetime.fromtimestamp(c.at_ns / NS_PER_S, tz).strftime("%H:%M"),
                    "part": c.part or "this part of the day",
                    "answer": "" if c.rating is None else
                    f"{CHECKIN_WORDS[c.rating]} ({c.rating} of 5)",
                    "note": c.note, "movement": moving})
    return out


def day_context(store: Store, c: Any, day: date, tz: ZoneInfo, *, plain: bool,
                now_ns: int | None = None) -> dict[str, Any]:
    """Everything the day page (and its print / PDF) shows for one child and local day."""
    from movereg.dashboard import figures  # plotly: loaded with the first figure
    from movereg.dashboard.family_figures import MISSING_STYLE, day_ribbon

    now = time.time_ns() if now_ns is None else now_ns
    d0, d1 = day_bounds(day, tz)
    margin = 15 * 60 * NS_PER_S
    ep = store.timeline(child_id=c.id, start_ns=d0 - margin, end_ns=d1 + margin)
    events = store.list_events(child_id=c.id, start_ns=d0, end_ns=d1)
    history = _history(store, c.id, d0, {e.strategy for e in events})
    s = daily_summary(epochs_around(store, c.id, history, EpochTable(ep)) if history else ep,
                      events, day=day, tz=tz, nickname=_nickname(c), history_events=history)
    labels = hour_labels(d0, d1, tz)
    wear = split_wear(ep, d0, d1, tz, until_ns=now)
    ribbon = day_ribbon(s, wear, labels, tz)
    hours = [{"hour": labels[h], "values": [format_duration(v) for v in row[:4]]
              + [format_duration(wear.not_worn_s[h]), format_duration(wear.no_signal_s[h])]}
             for h, row in enumerate(s.hourly_zone_s.tolist())]
    plan = plan_day(store.list_plan(c.id, include_retired=True), events, day, d0, d1)
    first_last = None
    if s.first_worn_ns is not None and s.last_worn_ns is not None:
        first_last = tuple(datetime.fromtimestamp(v / NS_PER_S, tz).strftime("%H:%M")
                           for v in (s.first_worn_ns, s.last_worn_ns))
    zones = figures.zones_bar(s.zone_s)
    used: dict[str, int] = {}
    for e in s.events:
        used[strategy_label(e.strategy)] = used.get(strategy_label(e.strategy), 0) + 1
    ctx = {
        "s": s, "d0": d0, "d1": d1, "hours_in_day": len(labels), "plan": plan,
        "rows": _event_rows(store, s, events, tz, plain), "used": used,
        "checkins": _checkin_rows(store, c.id, s, d0, d1, tz), "hours": hours,
        "first_last": first_last, "wear": format_duration(s.wear_s), "wear_split": wear,
        "not_worn": format_duration(wear.not_worn_total),
        "no_signal": format_duration(wear.no_signal_total),
        "wear_words": WEAR_WORDS, "missing_style": MISSING_STYLE,
        "moving": format_duration(sum(s.zone_s[1:])),
        "active": format_duration(s.zone_s[2] + s.zone_s[3]),
        "breaks": [{"start": datetime.fromtimestamp(b.start_ns / NS_PER_S, tz).strftime("%H:%M"),
                    "duration": format_duration(b.duration_s)} for b in s.breaks],
        "break_total": format_duration(s.break_total_s),
        "usual": _usual_words(store, c.id, d0, d1, tz, labels, now),
        "ribbon": _fig_json(ribbon), "ribbon_alt": ribbon.layout.meta["alt"],
        "zones": _fig_json(zones), "zones_alt": zones.layout.meta["alt"],
        "zone_rows": list(zip(ZONE_WORDS, [format_duration(v) for v in s.zone_s],
                              strict=True)),
        "before_after": None if plain or not any(st.n_compared for st in s.stats)
        else _fig_json(figures.before_after(s.stats)), "plain": plain,
        "sources": _source_spans(store, c.id, d0, d1, tz), "precedence": PRECEDENCE_RULE,
        "can_import": True}
    return ctx


def _source_spans(store: Store, child_id: int, d0: int, d1: int,
                  tz: ZoneInfo) -> list[dict[str, str]]:
    """Which source the day shows when (#22); empty when it is all live band data."""
    spans = [{"start": datetime.fromtimestamp(sp.start_ns / NS_PER_S, tz).strftime("%H:%M"),
              "end": datetime.fromtimestamp(sp.end_ns / NS_PER_S, tz).strftime("%H:%M"),
              "kind": sp.source.kind, "label": sp.source.label}
             for sp in store.timeline_sources(child_id, d0, d1)]
    return [] if all(sp["kind"] == "live" for sp in spans) else spans


def _day_sources(runs: list[Any], a: int, b: int, tz: ZoneInfo) -> list[dict[str, str]]:
    """The source runs of one local day ``[a, b)``, clipped to it, as the week page names
    them (``00:00–24:00`` when a run covers the day to midnight)."""
    out = []
    for sp in runs:
        lo, hi = max(sp.start_ns, a), min(sp.end_ns, b)
        if hi <= lo:
            continue
        end = "24:00" if hi == b else datetime.fromtimestamp(hi / NS_PER_S, tz).strftime("%H:%M")
        out.append({"start": datetime.fromtimestamp(lo / NS_PER_S, tz).strftime("%H:%M"),
                    "end": end, "kind": sp.source.kind, "label": sp.source.label})
    return out


@router.get("/day", response_model=None)
def day_page(request: Request, store: StoreDep, user: OptionalUser, child: int | None = None,
             day: Day | None = None, tz: str | None = None) -> Response:
    """One printable page for one child and local day (parent, therapist or admin)."""
    page = _open_family_page(request, store, user, child, tz)
    if isinstance(page, Response):
        return page
    gate, c, zone, zone_set = page
    the_day = day or datetime.now(zone).date()
    ctx = day_context(store, c, the_day, zone, plain=gate.role == "parent")
    store.audit(gate.actor, "view.day", child_id=c.id, detail={"day": the_day.isoformat()})
    return _render(request, "day.html", {
        "checkins_on": store.child_settings(c.id).checkins_enabled,
        "is_today": the_day == datetime.now(zone).date(), "checkin_words": CHECKIN_WORDS,
        **ctx, "child": c, "nickname": _nickname(c), "day": the_day, "tz": str(zone.key),
        "tz_set": zone_set, "prev": the_day - timedelta(days=1),
        "next": the_day + timedelta(days=1), "kids": _children_for(store, gate)}, user=gate)


@router.get("/week", response_model=None)
def week_page(request: Request, store: StoreDep, user: OptionalUser, child: int | None = None,
              end: Day | None = None, tz: str | None = None) -> Response:
    """Seven local days side by side: wear, not worn, no signal, strategy uses, movement
    breaks and the home plan (planned vs done, no judgement, no scores)."""
    from movereg.dashboard import figures  # plotly: loaded with the first figure
    from movereg.dashboard.family_figures import MISSING_STYLE

    page = _open_family_page(request, store, user, child, tz)
    if isinstance(page, Response):
        return page
    gate, c, zone, zone_set = page
    last = end or datetime.now(zone).date()
    days_list = [last - timedelta(days=k) for k in range(6, -1, -1)]
    w0, _ = day_bounds(days_list[0], zone)
    _, w1 = day_bounds(last, zone)
    ep = store.timeline(child_id=c.id, start_ns=w0, end_ns=w1, include_source=True)
    runs = store.source_runs(ep)
    del ep["source_id"]
    evs = store.list_events(child_id=c.id, start_ns=w0, end_ns=w1)
    plan = store.list_plan(c.id, include_retired=True)
    days = [daily_summary(ep, evs, day=d, tz=zone, nickname=_nickname(c)) for d in days_list]
    week = week_summary(days)
    fig = figures.week_view(week)
    fig.update_yaxes(title_text="how many", secondary_y=True)   # uses and breaks, in words
    now = time.time_ns()
    rows = []
    for d, summary in zip(days_list, days, strict=True):
        a, b = day_bounds(d, zone)
        wear = split_wear(ep, a, b, zone, until_ns=now)
        pd = plan_day(plan, evs, d, a, b)
        rows.append({"day": d.strftime("%a %d %b"), "iso": d.isoformat(),
                     "wear": format_duration(summary.wear_s),
                     "not_worn": format_duration(wear.not_worn_total),
                     "no_signal": format_duration(wear.no_signal_total),
                     "uses": len(summary.events), "breaks": summary.break_count,
                     "plan": pd.sentence, "plan_items": pd.items,
                     "hours": round((b - a) / (3600 * NS_PER_S)),
                     "sources": _day_sources(runs, a, b, zone)})
    any_import = any(sp.source.kind != "live" for sp in runs)
    store.audit(gate.actor, "view.week", child_id=c.id, detail={"end": last.isoformat()})
    return _render(request, "week.html", {
        "child": c, "nickname": _nickname(c), "week": week, "figure": _fig_json(fig),
        "alt": fig.layout.meta["alt"], "rows": rows, "tz": str(zone.key), "tz_set": zone_set,
        "missing_style": MISSING_STYLE, "wear_words": WEAR_WORDS,
        "any_import": any_import,
        "precedence": PRECEDENCE_RULE,
        "prev": last - timedelta(days=7), "next": last + timedelta(days=7)}, user=gate)


def _home_buttons(store: Store, cid: int, plan: list[Any]) -> list[dict[str, str]]:
    from movereg.dashboard import figures

    active = {s.key: s.label for s in store.list_strategies()}
    keys: list[str] = []
    for p in plan:
        if p.strategy not in keys:
            keys.append(p.strategy)
    keys += [k for k in _HOME_STRATEGIES if k in active and k not in keys]
    return [{"key": k, "label": figures.short_label(active.get(k, strategy_label(k)))}
            for k in keys[:8]]


@router.get("/home", response_model=None)
def home_page(request: Request, store: StoreDep, user: OptionalUser,
              child: int | None = None, tz: str | None = None) -> Response:
    """The parent's phone page: today so far, today's plan to tick, big buttons to log
    what helped (tap, undo, back-date, note, offline queue), an optional check-in."""
    page = _open_family_page(request, store, user, child, tz)
    if isinstance(page, Response):
        return page
    gate, c, zone, zone_set = page
    today = datetime.now(zone).date()
    ctx = day_context(store, c, today, zone, plain=gate.role == "parent")
    plan_items = store.list_plan(c.id)
    settings = store.child_settings(c.id)
    store.audit(gate.actor, "view.home", child_id=c.id)
    labels = {b["key"]: b["label"] for b in _home_buttons(store, c.id, plan_items)}
    labels.update({p.strategy: strategy_label(p.strategy) for p in plan_items})
    return _render(request, "home.html", {
        **ctx, "child": c, "nickname": _nickname(c), "day": today, "tz": str(zone.key),
        "tz_set": zone_set, "buttons": _home_buttons(store, c.id, plan_items),
        "plan_strategies": {p.id: p.strategy for p in plan_items},
        "labels": Markup(json.dumps(labels).replace("</", "<\\/")),
        "ago": _AGO, "checkins_on": settings.checkins_enabled,
        "checkin_words": CHECKIN_WORDS, "kids": _children_for(store, gate)}, user=gate)


@router.get("/family/data", response_model=None)
def data_page(request: Request, store: StoreDep, user: OptionalUser,
              child: int | None = None) -> Response:
    """The child's data page: settings, who looked at the data (access log), download
    everything (the bundle), and delete everything (asks twice, offers the bundle first)."""
    page = _open_family_page(request, store, user, child, None)
    if isinstance(page, Response):
        return page
    gate, c, zone, _ = page
    entries = store.access_log(c.id, limit=200)
    log = [{"when": datetime.fromtimestamp(e.ts_ns / NS_PER_S, zone).strftime("%d %b %Y %H:%M"),
            "who": e.actor.replace("(", " (", 1), "what": access_words(e.action),
            "outcome": e.outcome}
           for e in entries]
    settings = store.child_settings(c.id)
    store.audit(gate.actor, "view.child_data", child_id=c.id)
    return _render(request, "child_data.html", {
        "child": c, "nickname": _nickname(c), "log": log, "tz": str(zone.key),
        "settings": settings, "guardian": gate.role in ("parent", "admin"),
        "zones": sorted(_common_zones()), "kids": _children_for(store, gate)}, user=gate)


def _common_zones() -> set[str]:
    from zoneinfo import available_timezones

    return {z for z in available_timezones() if "/" in z and not z.startswith(("Etc/",
                                                                                "SystemV/"))}


@router.get("/plan", response_model=None)
def plan_page(request: Request, store: StoreDep, user: OptionalUser,
              child: int | None = None) -> Response:
    """The therapist's home-plan page for one child (strategies planned at home, when,
    how often, which days), with the child's time zone and check-in switch."""
    gate = _gate(request, user, ("therapist", "admin"))
    if not isinstance(gate, Principal):
        return gate
    opened = _open_child_page(request, store, gate, child)
    if isinstance(opened, Response):
        return opened
    _, c = opened
    items = [{"id": p.id, "label": strategy_label(p.strategy), "when": p.when_text,
              "times": p.times_per_day,
              "days": ", ".join(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[int(d)]
                                for d in p.weekdays)} for p in store.list_plan(c.id)]
    catalogue = [{"key": s.key, "label": s.label, "category": s.category}
                 for s in store.list_strategies()]
    store.audit(gate.actor, "read.plan", child_id=c.id)
    if not catalogue:
        return _error(request, gate, 404, "The strategy catalogue is empty.")
    return _render(request, "plan.html", {
        "child": c, "nickname": _nickname(c), "items": items, "catalogue": catalogue,
        "settings": store.child_settings(c.id), "zones": sorted(_common_zones()),
        "kids": _children_for(store, gate)}, user=gate)
