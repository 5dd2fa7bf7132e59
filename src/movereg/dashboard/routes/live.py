"""Live feed: WebSocket ``/api/live`` and Server-Sent Events ``/api/live/sse``.

Both carry the same JSON messages from the pipeline hub
(:meth:`movereg.pipeline.Hub.subscribe`), limited to the children the signed-in user
may see: a parent their own child(ren), a therapist their caseload, an admin every
child; researchers are refused (pseudonymous exports only). Authentication is the API's
own: the session cookie or an ``Authorization: Bearer <token>`` header. A
cookie-authenticated WebSocket must come from the same origin (cross-site WebSocket
hijacking guard). A refused WebSocket handshake is closed before it is accepted (code
1008; HTTP clients see 403); SSE answers 401 (not signed in) or 403.

Query parameters (both endpoints): ``child_id`` (repeatable) narrows the feed to those
children (each must be visible to the user, else refused).

Messages (one JSON object per WebSocket text frame / per SSE ``data:`` line; every
message has ``type`` and a monotonically increasing integer ``id``, which is also the SSE
event id; times are UTC; ``*_ns`` are integer ns since the Unix epoch, ``*_ms`` the same
in ms for JavaScript, ``*_iso`` ISO 8601 text)::

    {"type": "hello", "user": "ana", "role": "therapist", "children": [1, 2],
     "epoch_s": 1.0, "last_id": 41,    # first message, once (SSE: not on a resume);
     "engine": "ready"}                # children null = all (admin); engine as in status

    {"type": "epoch", "id": 42, "device_id": "sim-1", "child_id": 1, "session_id": 3,
     "epoch_start": 1750000054000000000, "epoch_start_ms": 1750000054000,
     "epoch_start_iso": "2025-06-15T15:07:34.000+00:00", "epoch_s": 1.0,
     "coverage": 1.0, "enmo_mg": 184.5, "mad_mg": 241.5, "zone": 1, ...every column of
     movereg.signal.schema.EPOCH_COLUMNS..., "rhythm_hz": null,   # NaN -> null
     "rx_ns": 1750000061512345678,   # when the hub received the block completing it
     "tx_ns": 1750000061513345678}   # WebSocket only: when this server sent the frame

    {"type": "activity", "id": 45, "device_id": "sim-1", "child_id": 1, "session_id": 3,
     "t_end_ms": 1750000060480, "t_end_ns": ..., "t_start_ms": 1750000059500,
     "value": 212.4, "unit": "mg", "n": 52, "rx_ns": ..., "tx_ns": ...}
                    # the fast trace: ENMO over the last 1 s of samples received, one per
                    # arriving block; t_end_ms is the last sample it covers (no later
                    # sample is used). Not replayed on SSE resume.

    {"type": "alert", "id": 46, "action": "raised", "alert_id": 3, "kind": "not_worn",
     "device_id": "sim-4", "child_id": 4, "session_id": 7, "text": "Band sim-4: not worn for
     more than 10 min", "active": true, "started_ms": ..., "started_iso": "...",
     "ended_ms": null, "acked_by": null, "acked_ms": null}
                    # device and data-health alerts (movereg.pipeline.alerts); action:
                    # raised / acknowledged / cleared; alerts without a child (storage)
                    # go to every viewer. The list: GET /api/alerts.

    {"type": "status", "id": 43, "ts_ns": ..., "dropped": 0,   # dropped: this client's
     "bands": [{"device_id", "child_id", "session_id", "family", "state",
                "rate_hz", "battery_pct", "last_data_ns", "last_data_ms", "attempt",
                "next_try_s", "reason", "samples_lost", "samples", "epochs", "error"}],
     "hub": {"bands", "samples", "epochs", "subscribers", "published", "dropped",
             "storage_pending", "storage_failures", "storage_dropped", "storage_error",
             "engine"}}     # engine: "starting" while the kernels compile, then "ready"
                                                     # about once a second

    {"type": "event", "id": 44, "action": "created", "event_id": 9, "child_id": 1,
     "strategy": "swing", "started_at": "...", ..., "ts_ns": ...}
                    # a strategy event as the events API published it (EventOut fields;
                    # its own id is renamed event_id); action: created/ended/corrected/...

Epochs are 1-s (``Settings.epoch_s``) and arrive ``FeatureEngine.lag_s`` (about 6.5 s)
after the epoch ends: rhythm features need a few seconds of look-ahead. Status ticks are
not replayed on SSE resume; epochs and events are (``Last-Event-ID``, from a small ring).
A client that reads too slowly loses the oldest queued messages (counted in
``dropped``); it never slows the bands. A WebSocket client may send ``"ping"`` and gets
``{"type": "pong"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.requests import HTTPConnection

from movereg.dashboard.routes._live_access import audit_live, stop_watch, watch_access
from movereg.dashboard.schemas import MAX_ID
from movereg.errors import NotFoundError

__all__ = ["router"]

router = APIRouter(tags=["live"])

_QUEUE = 512            # messages buffered per client before drop-oldest
_SSE_KEEPALIVE_S = 15.0
_STAMPED = frozenset({"epoch", "activity"})     # WebSocket frames that get ``tx_ns``


@dataclass(frozen=True)
class _Viewer:
    username: str
    role: str
    children: frozenset[int] | None     # None: every child (admin)
    via_cookie: bool


def _hub(conn: HTTPConnection) -> Any:
    hub = getattr(conn.app.state, "hub", None)
    if hub is None:
        raise HTTPException(503, "the live feed is not running")
    return hub


def _resolve(conn: HTTPConnection) -> _Viewer:
    """The caller from ``Authorization: Bearer`` or the session cookie (as the API's
    :func:`movereg.dashboard.deps.optional_user`); 401/403 on failure."""
    from movereg.dashboard.auth import SESSION_COOKIE

    store = conn.app.state.store
    settings = conn.app.state.settings
    header = conn.headers.get("authorization", "")
    info = None
    via_cookie = False
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            info = store.resolve_token(token.strip(),
                                       idle_s=settings.bearer_idle_timeout_min * 60.0)
            if info is not None and info.kind != "bearer":
                info = None
    else:
        cookie = conn.cookies.get(SESSION_COOKIE)
        if cookie:
            info = store.resolve_token(cookie, idle_s=settings.session_idle_logout_min * 60.0)
            if info is not None and info.kind != "session":
                info = None
            via_cookie = True
    if info is None:
        raise HTTPException(401, "sign in to see the live feed")
    user = info.user
    if user.role == "researcher":
        raise HTTPException(403, "researchers see pseudonymous exports only")
    if user.role == "admin":
        return _Viewer(user.username, user.role, None, via_cookie)
    return _Viewer(user.username, user.role, frozenset(store.linked_children(user.id)),
                   via_cookie)


async def _viewer(conn: HTTPConnection) -> _Viewer:
    return await asyncio.to_thread(_resolve, conn)


def _must_exist(conn: HTTPConnection, viewer: _Viewer, wanted: list[int] | None) -> None:
    """404 for a child id that is not (or no longer) in the store, to an admin; others get
    :func:`_narrow`'s 403 for any child not theirs, so existence never leaks."""
    if viewer.children is not None:
        return
    store = conn.app.state.store
    for cid in wanted or ():
        if not 1 <= cid <= MAX_ID:   # no such id can exist (and SQLite holds 64 bits)
            raise HTTPException(404, f"no child {cid}")
        try:
            store.get_child(int(cid))
        except NotFoundError:
            raise HTTPException(404, f"no child {cid}") from None


def _narrow(viewer: _Viewer, wanted: list[int] | None) -> frozenset[int] | None:
    if not wanted:
        return viewer.children
    if viewer.children is None:
        return frozenset(wanted)
    extra = set(wanted) - viewer.children
    if extra:
        raise HTTPException(403, f"not allowed to see child {min(extra)}")
    return frozenset(wanted)


def _filter_for(children: frozenset[int] | None) -> Any:
    if children is None:
        return None

    def keep(msg: dict[str, Any]) -> dict[str, Any] | None:
        if msg.get("type") == "status":
            return {**msg, "bands": [b for b in msg.get("bands", ())
                                     if b.get("child_id") in children]}
        if msg.get("type") == "alert" and msg.get("child_id") is None:
            return msg                     # storage alerts concern everyone
        return msg if msg.get("child_id") in children else None

    return keep


def _same_origin(conn: HTTPConnection) -> bool:
    origin = conn.headers.get("origin")
    if origin is None:          # non-browser client
        return True
    host = conn.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def _hello(viewer: _Viewer, children: frozenset[int] | None, hub: Any) -> dict[str, Any]:
    return {"type": "hello", "user": viewer.username, "role": viewer.role,
            "children": None if children is None else sorted(children), "epoch_s": float(hub.settings.epoch_s),
            "last_id": hub.broadcaster.last_id,
            "engine": str(getattr(hub, "engine_state", "ready"))}


def _dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), allow_nan=False)


@router.websocket("/api/live")
async def live_ws(websocket: WebSocket,
                  child_id: list[int] | None = Query(default=None)) -> None:  # noqa: B008
    """Live epochs, band status and strategy events (JSON text frames)."""
    try:
        hub = _hub(websocket)
        viewer = await _viewer(websocket)
        await asyncio.to_thread(_must_exist, websocket, viewer, child_id)
        children = _narrow(viewer, child_id)
        if viewer.via_cookie and not _same_origin(websocket):
            raise HTTPException(403, "cross-origin WebSocket refused")
    except HTTPException as exc:
        await websocket.close(code=1008 if exc.status_code != 503 else 1013,
                              reason=str(exc.detail))
        return
    await websocket.accept()
    await audit_live(websocket.app.state.store, viewer, children, "websocket")  # #21
    sub = hub.subscribe(maxsize=_QUEUE, message_filter=_filter_for(children))
    guard = watch_access(sub, lambda: _resolve(websocket), children, "websocket")

    async def reader() -> None:
        while True:
            text = await websocket.receive_text()
            if text.strip().strip('"') == "ping":
                await websocket.send_text(_dumps({"type": "pong"}))

    read_task = asyncio.create_task(reader())
    try:
        await websocket.send_text(_dumps(_hello(viewer, children, hub)))
        while not read_task.done():
            msg = await sub.get(wait_s=1.0)
            if msg is None:
                if sub.closed:
                    break
                continue
            if msg["type"] in _STAMPED:
                msg = {**msg, "tx_ns": time.time_ns()}
            await websocket.send_text(_dumps(msg))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sub.close()
        await stop_watch(guard)
        read_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await read_task
    with contextlib.suppress(RuntimeError):
        await websocket.close()


@router.get("/api/live/sse", operation_id="live_sse",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "Server-Sent Events stream of live messages"}})
async def live_sse(request: Request,
                   child_id: list[int] | None = Query(default=None)  # noqa: B008
                   ) -> StreamingResponse:
    """The live feed as Server-Sent Events; resumes after ``Last-Event-ID``."""
    hub = _hub(request)
    viewer = await _viewer(request)
    await asyncio.to_thread(_must_exist, request, viewer, child_id)
    children = _narrow(viewer, child_id)
    keep = _filter_for(children)
    await audit_live(request.app.state.store, viewer, children, "sse")  # #21
    sub = hub.subscribe(maxsize=_QUEUE, message_filter=keep)
    try:
        last = int(request.headers.get("last-event-id", ""))
    except ValueError:
        last = None
    backlog: list[dict[str, Any]] = []
    if last is not None:
        for x in hub.broadcaster.replay(last):
            m = x if keep is None else keep(x)
            if m is not None:
                backlog.append(m)

    def frame(msg: dict[str, Any]) -> str:
        return f"id: {msg.get('id', 0)}\nevent: {msg['type']}\ndata: {_dumps(msg)}\n\n"

    async def stream() -> AsyncIterator[str]:
        guard = watch_access(sub, lambda: _resolve(request), children, "sse")  # #21
        try:
            yield "retry: 2000\n\n"
            if last is None:
                yield frame({**_hello(viewer, children, hub), "id": hub.broadcaster.last_id})
            sent = last or 0
            for msg in backlog:
                sent = msg["id"]
                yield frame(msg)
            while True:
                msg = await sub.get(wait_s=_SSE_KEEPALIVE_S)
                if msg is None:
                    if sub.closed:
                        break
                    yield ": keep-alive\n\n"
                    continue
                if msg["type"] != "status" and msg["id"] <= sent:
                    continue        # already sent from the backlog
                yield frame(msg)
        finally:
            sub.close()
            await stop_watch(guard)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
