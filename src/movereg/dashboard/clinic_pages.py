"""Clinic-day pages: first-run setup, administration, bands, sessions (start, live group
view, review).

Server-rendered Jinja2; state changes go through the JSON API from small vanilla JS
(``admin.js``, ``bands.js``, ``session.js`` with the shared ``taplog.js``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from movereg.analysis import ZONE_WORDS
from movereg.dashboard.deps import (
    OptionalUser,
    Principal,
    SettingsDep,
    StoreDep,
    visible_children,
)
from movereg.dashboard.pages import _children_for, _error, _gate, _nickname, _render
from movereg.dashboard.routes.auth import _session_ttl_s, _set_cookies
from movereg.dashboard.routes.setup import finish_setup
from movereg.dashboard.schemas import MAX_ID
from movereg.errors import MoveregError, NotFoundError, ValidationError
from movereg.storage import Session, Store

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_CLINIC = ("therapist", "admin")
_MAX_TILES = 16


def _catalogue(store: Store) -> list[dict[str, Any]]:
    return [{"key": s.key, "label": s.label, "category": s.category, "caution": s.caution,
             "intended_effect": s.intended_effect, "active": s.active, "custom": s.custom}
            for s in store.list_strategies(include_inactive=True)]


def _child_rows(store: Store, user: Principal) -> list[dict[str, Any]]:
    labels = {s.key: s.label for s in store.list_strategies(include_inactive=True)}
    rows = []
    for c in _children_for(store, user):
        consent = store.current_consent(c.id)
        rows.append({"id": c.id, "code": c.code, "nickname": _nickname(c),
                     "band": store.child_band(c.id),
                     "favourites": [{"key": k, "label": labels.get(k, k)}
                                    for k in store.favourites(c.id)],
                     "consent": consent, "history": store.consent_history(c.id)})
    return rows


@router.get("/admin", response_model=None)
def admin_page(request: Request, store: StoreDep, user: OptionalUser,
               welcome: str = "") -> Response:
    """Users, children, links, research consent, strategies and pinned favourites."""
    gate = _gate(request, user, ("admin",))
    if not isinstance(gate, Principal):
        return gate
    users = store.list_users()
    links = {u.id: sorted(store.linked_children(u.id)) for u in users}
    store.audit(gate.actor, "view.admin")
    return _render(request, "admin.html", {
        "users": users, "links": links, "children": _child_rows(store, gate),
        "catalogue": _catalogue(store), "welcome": bool(welcome),
        "relays": _relay_rows(store)}, user=gate)


def _relay_rows(store: Store) -> list[dict[str, Any]]:
    """The admin page's home relay tokens (#23): never the tokens themselves."""
    def when(ns: int | None) -> str | None:
        return None if ns is None else datetime.fromtimestamp(ns / 1e9, UTC).strftime(
            "%d %b %Y %H:%M UTC")

    names = {c.id: c.code for c in store.list_children()}
    return [{"id": r.id, "name": r.name, "active": r.active,
             "children": ", ".join(names.get(c, f"#{c}") for c in r.child_ids),
             "created": when(r.created_at), "created_by": r.created_by,
             "last_used": when(r.last_used_at), "revoked": when(r.revoked_at),
             "revoked_by": r.revoked_by} for r in store.list_relay_tokens()]


@router.get("/bands", response_model=None)
def bands_page(request: Request, store: StoreDep, user: OptionalUser) -> Response:
    """Scan, connect, identify (shake), assign and unassign bands."""
    gate = _gate(request, user, _CLINIC)
    if not isinstance(gate, Principal):
        return gate
    settings = request.app.state.settings
    sims = [f"sim:{i}" for i in range(1, int(getattr(settings, "sim_bands", 0)) + 1)]
    if getattr(settings, "demo", False) and not sims:
        sims = [f"sim:{i}" for i in range(1, 5)]
    kids = [{"id": c.id, "nickname": _nickname(c), "band": store.child_band(c.id)}
            for c in _children_for(store, gate)]
    return _render(request, "bands.html", {"sims": sims, "kids": kids,
                                           "battery_low_pct": settings.alert_battery_pct},
                   user=gate)


@router.get("/sessions", response_model=None)
def sessions_page(request: Request, store: StoreDep, user: OptionalUser) -> Response:
    """Start a session for the children present; open and recent sessions."""
    gate = _gate(request, user, _CLINIC)
    if not isinstance(gate, Principal):
        return gate
    kids = _child_rows(store, gate)
    recent: dict[int, dict[str, Any]] = {}
    for k in kids:
        for s in store.list_sessions(child_id=k["id"])[:10]:
            if s.kind != "therapy":
                continue
            g = recent.setdefault(store.group_id(s.id), {"id": store.group_id(s.id),
                                                         "start_ns": s.started_at,
                                                         "open": False, "names": []})
            g["names"].append(k["nickname"])
            g["open"] = g["open"] or s.ended_at is None
    groups = sorted(recent.values(), key=lambda g: -g["start_ns"])[:20]
    return _render(request, "sessions.html", {"kids": kids, "groups": groups,
                                              "catalogue": _catalogue(store)}, user=gate)


def _group(store: Store, user: Principal, session_id: int) -> list[Session]:
    if not 1 <= session_id <= MAX_ID:     # beyond SQLite's integers: no such session
        raise NotFoundError(f"no session {session_id}")
    seen = visible_children(store, user)
    out = [s for s in store.group_sessions(session_id) if seen is None or s.child_id in seen]
    if not out:
        raise NotFoundError(f"no session {session_id}")
    return out


def _open_group(request: Request, store: Store, user: Principal | None, session_id: int
                ) -> Response | tuple[Principal, list[Session], dict[int, str], dict[str, str]]:
    """Gate a session page: (user, the group's visible sessions, nicknames, labels)."""
    gate = _gate(request, user, _CLINIC)
    if not isinstance(gate, Principal):
        return gate
    try:
        sessions = _group(store, gate, session_id)
    except NotFoundError:
        return _error(request, gate, 404, "No such session.")
    names = {c.id: _nickname(c) for c in store.list_children(
        {s.child_id for s in sessions}, with_name=True)}
    labels = {s.key: s.label for s in store.list_strategies(include_inactive=True)}
    return gate, sessions, names, labels


@router.get("/sw.js", response_model=None)
def service_worker() -> Response:
    """The offline helper for the live session page (scope ``/``; see ``static/sw.js``)."""
    from pathlib import Path

    body = Path(__file__).with_name("static").joinpath("sw.js").read_bytes()
    return Response(body, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@router.get("/sessions/{session_id}/live", response_model=None)
def session_live_page(request: Request, session_id: int, store: StoreDep, user: OptionalUser,
                      page: Annotated[int, Query(ge=1, le=100)] = 1) -> Response:
    """The live group view: a tile per child (16 per screen), timer, one-tap strategies."""
    opened = _open_group(request, store, user, session_id)
    if isinstance(opened, Response):
        return opened
    gate, sessions, names, labels = opened
    tiles = []
    for s in sessions:
        favs = store.favourites(s.child_id) or _default_favourites(store)
        tiles.append({"id": s.child_id, "session_id": s.id, "nickname": names[s.child_id],
                      "band": s.device_id, "ended": s.ended_at is not None,
                      "favourites": [{"key": k, "label": labels.get(k, k)} for k in favs]})
    first = (page - 1) * _MAX_TILES
    shown = tiles[first:first + _MAX_TILES]
    pages = max(1, -(-len(tiles) // _MAX_TILES))
    store.audit(gate.actor, "view.session_live", detail={"group_id": sessions[0].id})
    return _render(request, "session_live.html", {
        "group_id": sessions[0].id, "tiles": shown, "n_total": len(tiles), "page": page,
        "pages": pages, "hidden": len(tiles) - len(shown),
        "compact": len(shown) > 6, "started_ms": sessions[0].started_at // 1_000_000,
        "ended": all(s.ended_at is not None for s in sessions), "zone_words": list(ZONE_WORDS),
        "battery_low_pct": request.app.state.settings.alert_battery_pct,
        "catalogue": [c for c in _catalogue(store) if c["active"]]}, user=gate)


def _default_favourites(store: Store) -> list[str]:
    from movereg.dashboard.pages import _DEFAULT_FAVOURITES

    active = {s.key for s in store.list_strategies()}
    return [k for k in _DEFAULT_FAVOURITES if k in active][:4]


@router.get("/sessions/{session_id}", response_model=None)
def session_review_page(request: Request, session_id: int, store: StoreDep,
                        user: OptionalUser, tz: str = "") -> Response:
    """Review: per-child timeline, corrections, and the editable note draft."""
    from movereg.dashboard.session_review import session_timelines, timeline_rows

    opened = _open_group(request, store, user, session_id)
    if isinstance(opened, Response):
        return opened
    gate, sessions, names, labels = opened
    try:
        zone = ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    tls = session_timelines(store, sessions, labels, names)
    store.audit(gate.actor, "view.session_review", detail={"group_id": sessions[0].id})
    return _render(request, "session_review.html", {
        "group_id": sessions[0].id, "children": timeline_rows(tls, zone), "tz": str(zone),
        "tz_given": bool(tz), "open": any(s.ended_at is None for s in sessions),
        "catalogue": [c for c in _catalogue(store) if c["active"]],
        "now_ms": time.time_ns() // 1_000_000}, user=gate)


# --- first run -----------------------------------------------------------------------------
@router.get("/setup", response_model=None)
def setup_page(request: Request, store: StoreDep, user: OptionalUser,
               token: str = "", error: str = "") -> Response:
    """The first-run form (needs the link's token); after setup it sends you to sign in."""
    if not store.setup_pending():
        return RedirectResponse("/login" if user is None else "/", status_code=303)
    return _render(request, "setup.html", {"token": token[:200], "error": error[:300]},
                   user=user)


@router.post("/setup", response_model=None)
def setup_form(request: Request, store: StoreDep, settings: SettingsDep,
               token: Annotated[str, Form(max_length=200)],
               username: Annotated[str, Form(max_length=64)],
               password: Annotated[str, Form(max_length=1024)],
               password2: Annotated[str, Form(max_length=1024)]) -> Response:
    """Form post of the setup page: on success the new administrator is signed in."""
    from urllib.parse import urlencode

    try:
        if password != password2:
            raise ValidationError("the two passwords differ")
        user = finish_setup(store, token, username, password)
    except MoveregError as exc:
        q = urlencode({"token": token, "error": exc.message})
        return RedirectResponse(f"/setup?{q}", status_code=303)
    secret, csrf = store.create_token(user.id, "session", _session_ttl_s(settings))
    assert csrf is not None
    resp = RedirectResponse("/admin?welcome=1", status_code=303)
    _set_cookies(resp, secret, csrf, settings)
    return resp
