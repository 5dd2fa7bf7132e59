"""The OpenAPI document as the server really answers.

FastAPI documents 422 as its own ``HTTPValidationError`` (``detail`` a list) and leaves
out the errors that dependencies raise. movereg answers every error with
:class:`~movereg.dashboard.schemas.ErrorOut` (``detail`` one line, ``problems`` the list),
so the document is rewritten once: 422 everywhere, 401/403 on operations that need a
login, 404 where an id, a child or a user is looked up, 413 where a body is sent, 429 on
the password checks and 503 where a live hub or the database is needed. Recording on the
band and sync (#23) use 404 for a band out of range, 503 for a busy band or a dropped
link, 422 for a band that cannot record (or is not assigned, to start), 202 for a sync
accepted to run in the background.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from movereg.dashboard.schemas import ErrorOut

__all__ = ["ERROR_STATUSES", "install_openapi", "route_statuses", "walk_routes"]

#: Status -> description of the error answers documented by :func:`install_openapi`.
ERROR_STATUSES: dict[int, str] = {
    401: "not signed in, or the session / token has ended",
    403: "signed in, but this role may not do this (or a cookie request lacks the CSRF "
         "token)",
    404: "no such record, or not one the caller may see (the same answer for both); for "
         "a band's recorder (#23) also: the band is not in range",
    413: "request body too large",
    422: "invalid request: `detail` says what, `problems` lists every invalid field",
    429: "too many failed password attempts from this address: wait `Retry-After` s",
    503: "the database or the live band hub is not available; for a band's recorder "
         "(#23) also: the band is busy or the connection to it dropped (try again)",
}
_PASSWORD_OPS = frozenset({"login", "login_form", "create_token", "change_password"})
_NO_403 = frozenset({"me", "list_strategies", "data_dictionary", "logout",
                     "change_password", "create_token"})
_LOOKUP_FIELDS = frozenset({"child_id", "child_ids", "session_id", "child", "event_id"})
#: Operations that take a one-time token instead of a sign-in (401 once it is used).
_TOKEN_OPS = frozenset({"setup_admin"})
#: Operations that authenticate by hand instead of through a dependency.
_MANUAL_AUTH = frozenset({"live_sse"})
#: Operations a home relay's token calls (#23): 401 without a valid relay token, 403 when
#: the band was not one of its children's when recording.
_RELAY_OPS = frozenset({"relay_bands", "relay_upload"})


def walk_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI >= 0.16x nests them)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):
            yield from walk_routes(r.original_router.routes)


def _needs_login(route: APIRoute) -> bool:
    from movereg.dashboard.deps import current_user

    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        if d.call is current_user:
            return True
        stack.extend(d.dependencies)
    return route.operation_id in _MANUAL_AUTH


def _body_fields(op: dict[str, Any], components: dict[str, Any]) -> set[str]:
    content = op.get("requestBody", {}).get("content", {})
    names: set[str] = set()
    for media in content.values():
        schema = media.get("schema", {})
        ref = schema.get("$ref", "")
        if ref:
            schema = components.get(ref.rsplit("/", 1)[-1], {})
        names |= set(schema.get("properties", {}))
    return names


def route_statuses(op_id: str, op: dict[str, Any], needs_login: bool,
                   components: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer (see the module docstring)."""
    out = {422, 503}
    if needs_login:
        out.add(401)
        if op_id not in _NO_403:
            out.add(403)
    params = {p.get("name") for p in op.get("parameters", ())}
    looked_up = any(p.get("in") == "path" for p in op.get("parameters", ()))
    if looked_up or (params | _body_fields(op, components)) & _LOOKUP_FIELDS:
        out.add(404)
    if "requestBody" in op:
        out.add(413)
    if op_id in _PASSWORD_OPS:
        out |= {401, 429}
    if op_id in _TOKEN_OPS:
        out.add(401)
    if op_id in _RELAY_OPS:
        out.add(401)
        if op_id == "relay_upload":
            out.add(403)
    if op_id == "export_data":
        out.add(404)
    return out


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` document the real error answers."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version,
                          description=app.description, routes=app.routes)
        comps = doc.setdefault("components", {}).setdefault("schemas", {})
        err = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        comps.update(err.pop("$defs", {}))
        comps["ErrorOut"] = err
        login = {r.operation_id: _needs_login(r) for r in walk_routes(app.routes)}
        for ops in doc.get("paths", {}).values():
            for op in ops.values():
                op_id = op.get("operationId", "")
                responses = op.setdefault("responses", {})
                for code in sorted(route_statuses(op_id, op, login.get(op_id, False),
                                                  comps)):
                    entry: dict[str, Any] = {
                        "description": ERROR_STATUSES[code],
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
                    if code == 429:
                        entry["headers"] = {"Retry-After": {
                            "schema": {"type": "integer"}, "description": "seconds"}}
                    responses[str(code)] = entry
        for unused in ("HTTPValidationError", "ValidationError"):
            comps.pop(unused, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
