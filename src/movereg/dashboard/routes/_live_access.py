"""Access re-checks and audit entries for the live feed (``routes/live.py``).

A live subscription is a read of a child's data that lasts: it is audit-logged once when
it starts, and the caller's access is re-checked every :data:`RECHECK_S` seconds. When
the session or token has ended (logout, password change, deactivation, expiry) or a
child the feed carries is no longer visible to the caller (unlinked), the subscription
is emptied and closed, so the WebSocket closes / the SSE stream ends within a few
seconds; a client that reconnects is authenticated again and sees only what it may.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["RECHECK_S", "audit_live", "stop_watch", "watch_access"]

log = logging.getLogger(__name__)

#: Seconds between access re-checks of an open live connection.
RECHECK_S = 2.0


class _Viewer(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def children(self) -> frozenset[int] | None: ...


def _covers(allowed: frozenset[int] | None, shown: frozenset[int] | None) -> bool:
    """True when a caller allowed ``allowed`` may still see every child in ``shown``."""
    if allowed is None:
        return True
    return shown is not None and shown <= allowed


def _end(sub: Any) -> None:
    sub.close()
    while sub.get_nowait() is not None:    # drop what was queued for the old access
        pass


async def _watch(sub: Any, resolve: Callable[[], _Viewer], shown: frozenset[int] | None,
                 what: str) -> None:
    while not sub.closed:
        await asyncio.sleep(RECHECK_S)
        try:
            viewer = await asyncio.to_thread(resolve)
            ok = _covers(viewer.children, shown)
        except Exception as exc:    # 401/403 from the resolver: the credential has ended
            log.info("live %s closed: %s", what, getattr(exc, "detail", exc))
            ok = False
        if not ok:
            _end(sub)
            return


def watch_access(sub: Any, resolve: Callable[[], _Viewer], shown: frozenset[int] | None,
                 what: str = "feed") -> asyncio.Task[None]:
    """Start re-checking ``resolve()`` (the caller, as at connect) every
    :data:`RECHECK_S` s; end ``sub`` when the caller may no longer see ``shown``
    (None: every child). Cancel the returned task when the connection ends."""
    return asyncio.create_task(_watch(sub, resolve, shown, what),
                               name=f"movereg-live-access-{what}")


async def stop_watch(task: asyncio.Task[None]) -> None:
    """Cancel a :func:`watch_access` task."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def audit_live(store: Any, viewer: _Viewer, shown: frozenset[int] | None,
                     via: str) -> None:
    """One audit entry per live subscription (never per message)."""
    child = next(iter(shown)) if shown is not None and len(shown) == 1 else None
    detail = {"via": via, "children": "all" if shown is None else sorted(shown)}
    await asyncio.to_thread(store.audit, f"{viewer.username}({viewer.role})", "read.live",
                            child_id=child, detail=detail)
