"""``GET /api/children/{id}/day.pdf``: the day page printed by headless Chromium.

The same template as ``/day`` is rendered server-side and loaded into Debian's Chromium
(``/usr/bin/chromium``, driven by Playwright) on a private origin whose every request is
answered from this package (the page, ``/static/*``, Plotly.js): no network, no cookies,
no second login. Charts are laid out for paper by the page's own print handler, and the
PDF is one A4 or Letter page, black-and-white safe (patterns, not colour alone).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from movereg.dashboard.deps import Carer, Principal, StoreDep, check_child
from movereg.dashboard.routes._common import ChildId, run_sync
from movereg.dashboard.schemas import Day
from movereg.errors import StorageError
from movereg.storage import Store

__all__ = ["CHROMIUM", "render_pdf", "router"]

router = APIRouter(prefix="/api/children", tags=["families"])
CHROMIUM = "/usr/bin/chromium"
_ORIGIN = "http://movereg.print"
_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_STATIC = Path(__file__).resolve().parents[1] / "static"


def _chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        raise StorageError("Chromium is not installed, so PDFs cannot be made",
                           advice="apt-get install chromium (or print the day page)")
    return path


def _answer(route: Any, html: str) -> None:
    from movereg.dashboard.pages import _plotly_js

    path = route.request.url[len(_ORIGIN):].split("?")[0]
    if path == "/static/plotly.min.js":
        route.fulfill(body=_plotly_js()[0], content_type="text/javascript")
        return
    if path.startswith("/static/"):
        f = (_STATIC / path[len("/static/"):]).resolve()
        if f.is_file() and _STATIC in f.parents:
            kind = "text/css" if f.suffix == ".css" else "text/javascript"
            route.fulfill(body=f.read_bytes(), content_type=kind)
            return
    if path == "/day":
        route.fulfill(body=html, content_type="text/html; charset=utf-8")
        return
    route.fulfill(status=404, body="")


def render_pdf(html: str, *, paper: Literal["A4", "Letter"] = "A4") -> bytes:
    """Print one rendered day page to PDF bytes in headless Chromium (blocking)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright ships with the test extra
        raise StorageError("the Playwright package is missing, so PDFs cannot be made",
                           advice="pip install playwright") from exc
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1400})
            page.route(f"{_ORIGIN}/**", lambda route: _answer(route, html))
            page.goto(f"{_ORIGIN}/day", wait_until="load")
            n = page.evaluate("() => document.querySelectorAll('script[data-figure]').length")
            page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot')"
                                   f".length >= {int(n)}", timeout=20_000)
            page.emulate_media(media="print")
            page.wait_for_timeout(300)   # the print handler re-lays the charts out
            pdf: bytes = page.pdf(format=paper, print_background=False,
                                  margin={"top": "10mm", "bottom": "10mm", "left": "10mm",
                                          "right": "10mm"}, prefer_css_page_size=False)
            return pdf
        finally:
            browser.close()


def _html(store: Store, principal: Principal, child_id: int, day: date | None,
          tz: str | None) -> tuple[str, str]:
    from movereg.analysis import LIMITS_TEXT, NOT_MEDICAL_TEXT
    from movereg.dashboard import figures
    from movereg.dashboard.family_pages import day_context, zone_for
    from movereg.dashboard.pages import _TEMPLATES, _nickname

    c = check_child(store, principal, child_id, with_name=True)
    zone, zone_set = zone_for(store, c.id, tz)
    the_day = day or datetime.now(zone).date()
    ctx = day_context(store, c, the_day, zone, plain=principal.role == "parent")
    html = _TEMPLATES.env.get_template("day.html").render(
        **ctx, child=c, nickname=_nickname(c), day=the_day, tz=str(zone.key), tz_set=True,
        prev=the_day, next=the_day, kids=[], user=None, limits=LIMITS_TEXT,
        not_medical=NOT_MEDICAL_TEXT, plot_config=figures.PLOT_CONFIG)
    store.audit(principal.actor, "day.pdf", child_id=c.id,
                detail={"day": the_day.isoformat(), "tz_set": zone_set})
    return html, f"movereg-{c.code}-{the_day.isoformat()}.pdf"


@router.get("/{child_id}/day.pdf", operation_id="day_pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "the day page as one printed page"}})
async def day_pdf(child_id: ChildId, store: StoreDep, principal: Carer,
                  day: Day | None = None,
                  tz: Annotated[str | None, Query(max_length=64)] = None,
                  paper: Literal["A4", "Letter"] = "A4") -> Response:
    """The day page (strengths first, charts in patterns that survive black-and-white
    printing) as a one-page PDF, A4 or Letter."""
    html, name = await run_sync(_html, store, principal, child_id, day, tz)
    pdf = await run_sync(render_pdf, html, paper=paper)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})
