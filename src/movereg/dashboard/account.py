"""The account page: change your own password (posts to ``POST /api/auth/password``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from movereg.analysis import LIMITS_TEXT, NOT_MEDICAL_TEXT
from movereg.dashboard.auth import MIN_PASSWORD_LEN
from movereg.dashboard.deps import OptionalUser

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


@router.get("/account/password", response_model=None)
def password_page(request: Request, user: OptionalUser) -> Response:
    """A small form: current password, new password twice."""
    if user is None:
        return RedirectResponse("/login?next=%2Faccount%2Fpassword", status_code=303)
    resp: HTMLResponse = _TEMPLATES.TemplateResponse(
        request, "password.html", {"user": user, "limits": LIMITS_TEXT,
                                    "not_medical": NOT_MEDICAL_TEXT,
                                    "min_len": MIN_PASSWORD_LEN})
    resp.headers["Cache-Control"] = "no-store"
    return resp
