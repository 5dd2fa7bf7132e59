"""HTML pages: login, therapist live session, strategy explorer, researcher export (the
family pages, day and week included, live in :mod:`movereg.dashboard.family_pages`).

Server-rendered Jinja2 templates with Plotly figures built by
:mod:`movereg.dashboard.figures` and embedded as JSON; Plotly.js is served from the
plotly package at ``/static/plotly.min.js`` (no CDN). State changes go through the JSON
API with the session cookie and the ``X-CSRF-Token`` header (see
:mod:`movereg.dashboard.auth`). Access follows :mod:`movereg.dashboard.deps`: a parent
sees only their own child (another child's id answers 404), researchers only the export
page, therapists their caseload.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from movereg.analysis import (
    EXPLORE_FEATURES,
    FEATURE_UNITS,
    FEATURE_WORDS,
    LIMITS_TEXT,
    NOT_MEDICAL_TEXT,
    ZONE_WORDS,
    not_compared_text,
)
from movereg.dashboard.deps import OptionalUser, Principal, StoreDep, check_child
from movereg.dashboard.linking import explore_strategies
from movereg.errors import ForbiddenError, NotFoundError
from movereg.storage import Child, Store, StrategyEvent
from movereg.timeutil import NS_PER_S, now_ns

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
_LIVE_WINDOW_S = 600.0
_DEFAULT_FAVOURITES = ("mov.break", "pro.wall_push", "ves.bounce", "pro.crash", "int.breathe",
                       "pro.carry", "tac.fidget", "env.calm_corner")
_HISTORY_S = 90 * 86_400
_LIVE_FEATURES = ("enmo_mg", "rhythmic_fraction", "impacts", "zone", "coverage", "nonwear")


# --- helpers ------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _plotly_js() -> tuple[bytes, str]:
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode("utf-8")
    return body, hashlib.sha256(body).hexdigest()[:16]


def _fig_json(fig: go.Figure) -> Markup:
    """Figure JSON safe inside ``<script type="application/json">``."""
    import plotly.io as pio

    return Markup(pio.to_json(fig, validate=False).replace("</", "<\\/"))


def _render(request: Request, name: str, ctx: dict[str, Any], status: int = 200,
            user: Principal | None = None) -> HTMLResponse:
    base = {"user": user, "limits": LIMITS_TEXT, "not_medical": NOT_MEDICAL_TEXT}
    resp = _TEMPLATES.TemplateResponse(request, name, {**base, **ctx}, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _error(request: Request, user: Principal | None, status: int, message: str) -> HTMLResponse:
    return _render(request, "error.html", {"status": status, "message": message}, status, user)


def _gate(request: Request, user: Principal | None,
          roles: tuple[str, ...]) -> Response | Principal:
    if user is None:
        return _login_redirect(request)
    if user.role not in roles:
        return _error(request, user, 403, "This page is not available for your role.")
    return user


def _tz(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _children_for(store: Store, user: Principal) -> list[Child]:
    ids = None if user.role == "admin" else store.linked_children(user.user.id)
    return store.list_children(ids, with_name=True)


def _nickname(child: Child) -> str:
    return str(child.display_name or child.code)


def _favourites(store: Store, child_id: int, active: dict[str, str]) -> list[dict[str, str]]:
    used = Counter(e.strategy for e in store.list_events(child_id=child_id))
    keys = [k for k, _ in used.most_common(8) if k in active]
    keys += [k for k in _DEFAULT_FAVOURITES if k in active and k not in keys]
    return [{"key": k, "label": active[k]} for k in keys[:8]]


# --- routes -------------------------------------------------------------------------------
@router.get("/static/plotly.min.js")
def plotly_js(request: Request) -> Response:
    """Plotly.js from the installed plotly package (cached; works offline)."""
    body, etag = _plotly_js()
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/", response_model=None)
def home(request: Request, user: OptionalUser, store: StoreDep) -> Response:
    """Send each role to its page (to the first-run setup until an administrator exists)."""
    if user is None and store.setup_pending():
        return RedirectResponse("/setup", status_code=303)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    target = {"parent": "/home", "researcher": "/export"}.get(user.role, "/live")
    return RedirectResponse(target, status_code=303)


@router.get("/login", response_model=None)
def login_page(request: Request, user: OptionalUser,
               next_url: Annotated[str, Query(alias="next")] = "/",
               error: str | None = None) -> Response:
    """The sign-in form (posts to ``/api/auth/login/form``)."""
    message = {"1": "That username and password did not match. Please try again.",
               "rate": "Too many attempts. Please wait a few minutes and try again.",
               "changed": "Your password was changed. Please sign in again."}.get(
        error or "")
    safe_next = next_url if next_url.startswith("/") and not next_url.startswith("//") else "/"
    return _render(request, "login.html", {"next": safe_next, "message": message}, user=user)


@router.get("/live", response_model=None)
def live_page(request: Request, store: StoreDep, user: OptionalUser,
              child: Annotated[list[int] | None, Query()] = None) -> Response:
    """Therapist live session: a tile per child with strip chart, status and strategies."""
    from movereg.dashboard import figures  # plotly: loaded with the first figure

    gate = _gate(request, user, ("therapist", "admin"))
    if not isinstance(gate, Principal):
        return gate
    kids = _children_for(store, gate)
    if child:
        try:
            kids = [check_child(store, gate, int(c), with_name=True) for c in child]
        except NotFoundError:
            return _error(request, gate, 404, "No such child on your caseload.")
    not_shown = max(0, len(kids) - 6)     # said on the page, never a silent cap
    kids = kids[:6]
    active = {s.key: s.label for s in store.list_strategies()}
    catalogue = [{"key": s.key, "label": s.label, "category": s.category,
                  "caution": s.caution} for s in store.list_strategies()]
    now = now_ns()
    t0 = now - int(_LIVE_WINDOW_S * NS_PER_S)
    tiles = []
    for c in kids:
        ep = store.epochs(child_id=c.id, start_ns=t0, end_ns=now, features=list(_LIVE_FEATURES))
        evs = store.list_events(child_id=c.id, start_ns=t0)
        history = {"t_ms": (ep["epoch_start"] // 1_000_000).tolist(),
                   "epoch_s": ep["epoch_s"].tolist(),
                   "enmo_mg": [None if v != v else round(v, 1) for v in ep["enmo_mg"].tolist()],
                   "rhythmic_fraction": [None if v != v else round(v, 3)
                                         for v in ep["rhythmic_fraction"].tolist()],
                   "impacts": ep["impacts"].tolist(), "zone": ep["zone"].tolist()}
        spans = [{"id": e.id, "strategy": e.strategy, "label": active.get(e.strategy, e.strategy),
                  "start_ms": e.started_at // 1_000_000,
                  "end_ms": None if e.ended_at is None else e.ended_at // 1_000_000}
                 for e in evs]
        fig = figures.live_strip({}, (), now_ns=now, window_s=_LIVE_WINDOW_S,
                                 title=f"{_nickname(c)}: movement, last 10 minutes")
        tiles.append({"id": c.id, "code": c.code, "nickname": _nickname(c),
                      "figure": _fig_json(fig), "history": history, "spans": spans,
                      "favourites": _favourites(store, c.id, active)})
    store.audit(gate.actor, "view.live", detail={"children": [c.id for c in kids]})
    return _render(request, "live.html", {
        "tiles": tiles, "catalogue": catalogue, "zone_words": list(ZONE_WORDS),
        "window_s": _LIVE_WINDOW_S, "not_shown": not_shown,
        "battery_low_pct": request.app.state.settings.alert_battery_pct,
        "plot_config": figures.PLOT_CONFIG,
        "engine": str(getattr(request.app.state.hub, "engine_state", "ready"))}, user=gate)


def _pick_child(store: Store, user: Principal, child: int | None) -> Child:
    if child is None:
        kids = _children_for(store, user)
        if not kids:
            raise NotFoundError("no child is linked to your account yet")
        return kids[0]
    return check_child(store, user, child, with_name=True)


def _history(store: Store, child_id: int, before_ns: int,
             strategies: set[str]) -> list[StrategyEvent]:
    """Earlier uses (last 90 days, newest 200) of the strategies used today, so the
    sentences count every use so far."""
    if not strategies:
        return []
    evs = store.list_events(child_id=child_id, start_ns=before_ns - _HISTORY_S * NS_PER_S,
                            end_ns=before_ns)
    return [e for e in evs if e.strategy in strategies and e.started_at < before_ns][-200:]


def _open_child_page(request: Request, store: Store, user: Principal | None,
                     child: int | None) -> Response | tuple[Principal, Child]:
    """Gate a one-child page (parent, therapist, admin) and pick the child, or a response."""
    gate = _gate(request, user, ("parent", "therapist", "admin"))
    if not isinstance(gate, Principal):
        return gate
    try:
        return gate, _pick_child(store, gate, child)
    except (NotFoundError, ForbiddenError) as exc:
        return _error(request, gate, 404, exc.message)


@router.get("/export", response_model=None)
def export_page(request: Request, store: StoreDep, user: OptionalUser) -> Response:
    """Researcher export builder with the data dictionary (pseudonymous codes only)."""
    gate = _gate(request, user, ("researcher", "admin"))
    if not isinstance(gate, Principal):
        return gate
    from movereg.analysis import AGGREGATION_RULES
    from movereg.signal import data_dictionary
    from movereg.storage.export import SELECTABLE_FEATURES

    # researchers: only children whose family consented to research use (privacy by default)
    ids = None if gate.role == "admin" else store.consented_children("features")
    raw_ok = store.consented_children("features+raw")
    codes = [{"id": c.id, "code": c.code, "raw": gate.role == "admin" or c.id in raw_ok}
             for c in store.list_children(ids)]
    settings = request.app.state.settings
    stored = float(settings.epoch_s)
    lengths = [stored] + [x for x in (5.0, 10.0, 15.0, 30.0, 60.0, 300.0)
                          if x > stored and abs(x / stored - round(x / stored)) < 1e-9]
    dictionary = [{**d, "aggregation": AGGREGATION_RULES.get(str(d.get("name")), "")}
                  for d in data_dictionary()]
    from movereg.storage.export import CSV_TEXT_NOTE  # #21: formula-looking CSV cells

    dictionary.append({"name": "csv_text_cells", "definition": CSV_TEXT_NOTE,
                       "reference": "OWASP: CSV injection"})
    return _render(request, "export.html", {
        "children": codes, "dictionary": dictionary, "epoch_s": stored,
        "epoch_lengths": lengths, "features": [
            {"name": f, "words": FEATURE_WORDS.get(f, "")}
            for f in SELECTABLE_FEATURES],
        "researcher": gate.role == "researcher"}, user=gate)


_CONFOUNDS = (
    "The strategy is itself movement: the minutes while it runs are left out, and only "
    "before and after are compared.",
    "Time of day, place and demands change around strategies.",
    "Strategies are often used when movement is at a peak, so some drop afterwards is "
    "expected anyway.",
    "One child's pattern does not tell us about other children.",
)


@router.get("/strategies", response_model=None)
def strategies_page(request: Request, store: StoreDep, user: OptionalUser,
                    child: int | None = None, days: Annotated[int, Query(ge=1, le=365)] = 30,
                    feature: str = "enmo_mg") -> Response:
    """Strategy and movement explorer: before vs after each strategy across sessions, with
    n and 95% intervals (descriptive; therapists and admins)."""
    from movereg.dashboard import figures

    gate = _gate(request, user, ("therapist", "admin"))
    if not isinstance(gate, Principal):
        return gate
    if feature not in EXPLORE_FEATURES:
        feature = "enmo_mg"
    try:
        c = _pick_child(store, gate, child)
    except (NotFoundError, ForbiddenError) as exc:
        return _error(request, gate, 404, exc.message)
    stats = explore_strategies(store, c.id, start_ns=now_ns() - days * 86_400 * NS_PER_S,
                               feature=feature)
    fig = figures.before_after(stats)
    rows = [{"label": st.label, "n_uses": st.n_uses, "n_compared": st.n_compared,
             "median": st.median_change, "lo": st.ci_low, "hi": st.ci_high, "unit": st.unit,
             "sentence": st.sentence, "skipped": not_compared_text(st.not_compared)}
            for st in stats]
    store.audit(gate.actor, "view.strategies", child_id=c.id, detail={"days": days})
    return _render(request, "strategies.html", {
        "child": c, "nickname": _nickname(c), "days": days, "feature": feature,
        "features": [(f, FEATURE_WORDS.get(f, f)) for f in EXPLORE_FEATURES],
        "feature_words": FEATURE_WORDS.get(feature, feature),
        "unit": FEATURE_UNITS.get(feature, ""), "rows": rows,
        "figure": _fig_json(fig) if any(st.n_compared for st in stats) else None,
        "alt": fig.layout.meta["alt"], "confounds": _CONFOUNDS,
        "kids": _children_for(store, gate)}, user=gate)
