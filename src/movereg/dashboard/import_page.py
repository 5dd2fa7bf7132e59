"""The child's recordings page: add a recording made away from the clinic, see its progress,
and the imports already in the record (therapist or admin linked to the child, the
child's parent). Server-rendered; ``static/imports.js`` uploads with a progress bar and
polls ``GET /api/imports/{id}``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from movereg.analysis import LIMITS_TEXT, NOT_MEDICAL_TEXT
from movereg.dashboard.deps import OptionalUser, StoreDep, check_child
from movereg.dashboard.routes._common import ChildId
from movereg.errors import ForbiddenError, NotFoundError
from movereg.storage import PRECEDENCE_RULE

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def _page(request: Request, name: str, ctx: dict[str, object], status: int = 200) -> Response:
    resp = _TEMPLATES.TemplateResponse(request, name, {
        "limits": LIMITS_TEXT, "not_medical": NOT_MEDICAL_TEXT, **ctx}, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/children/{child_id}/imports", response_model=None)
def imports_page(child_id: ChildId, request: Request, store: StoreDep,
                 user: OptionalUser) -> Response:
    """Upload form with progress, and the child's imports."""
    if user is None:
        target = quote(request.url.path, safe="")
        return RedirectResponse(f"/login?next={target}", status_code=303)
    try:
        if user.role not in ("admin", "therapist", "parent"):
            raise ForbiddenError("This page is not available for your role.")
        child = check_child(store, user, child_id, with_name=True)
    except (ForbiddenError, NotFoundError) as exc:
        status = 403 if isinstance(exc, ForbiddenError) else 404
        return _page(request, "error.html", {"user": user, "status": status,
                                             "message": exc.message}, status)
    from movereg.dashboard.routes.imports import _out

    imports = [_out(s) for s in store.list_sources(child_id=child_id, kind="file")]
    resp = _page(request, "imports.html", {
        "user": user, "child": child, "nickname": child.display_name or child.code,
        "imports": imports, "precedence": PRECEDENCE_RULE,
        "child_tz": store.child_settings(child_id).tz})
    assert isinstance(resp, HTMLResponse)
    return resp
