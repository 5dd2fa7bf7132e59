"""Request-body limits per route (ASGI middleware): 413 before the body is read.

Every request body is limited to ``Settings.max_json_body_bytes`` (JSON and forms; the
largest real body is a strategy entry or an event note, a few kB). Routes that receive
files (the device-file import and relay uploads) register their path prefix in
:data:`UPLOAD_PREFIXES` (or a full-path pattern in :data:`UPLOAD_PATTERNS`) and get
``Settings.max_upload_body_bytes`` instead. A declared
``Content-Length`` over the limit is refused before reading anything; a chunked body is
counted as it arrives and refused as soon as it passes the limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["UPLOAD_PATTERNS", "UPLOAD_PREFIXES", "BodyLimit"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Path prefixes of upload routes, which get the larger limit (hook for the import work:
#: append e.g. "/api/imports" where that router is mounted).
UPLOAD_PREFIXES: list[str] = ["/api/relay/recordings"]   # a home relay's upload (#23)
#: Whole-path patterns of upload routes whose path has a parameter before the upload part
#: (the device-file import of #22: ``POST /api/children/{id}/imports``).
UPLOAD_PATTERNS: list[re.Pattern[str]] = [re.compile(r"/api/children/\d+/imports/?")]


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over a per-route limit with 413 (JSON error body).

    Parameters
    ----------
    app
        The wrapped ASGI app.
    default_bytes
        Limit for every route not under :data:`UPLOAD_PREFIXES`, bytes.
    upload_bytes
        Limit for upload routes, bytes.
    """

    def __init__(self, app: ASGIApp, *, default_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.upload_bytes = upload_bytes

    def limit_for(self, path: str) -> int:
        """The body limit of ``path``, bytes."""
        big = (any(path == p or path.startswith(p.rstrip("/") + "/") for p in UPLOAD_PREFIXES)
               or any(p.fullmatch(path) for p in UPLOAD_PATTERNS))
        return self.upload_bytes if big else self.default_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        seen = 0
        started = False
        too_large = False

        async def counted_receive() -> Message:
            nonlocal seen, too_large
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    too_large = True
                    raise _TooLarge
            return msg

        async def tracked_send(msg: Message) -> None:
            nonlocal started
            if too_large:   # the app turned the failed read into its own error: replace it
                if msg["type"] == "http.response.start" and not started:
                    started = True
                    await _refuse(send, limit)
                return
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _refuse(send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit} bytes",
                       "error": "PayloadTooLarge",
                       "advice": "send a smaller request"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-security-policy", b"default-src 'none'; "
                                                         b"frame-ancestors 'none'"),
                            (b"x-content-type-options", b"nosniff"),
                            (b"cache-control", b"no-store"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
