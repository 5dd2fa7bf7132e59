"""Device and data-health alerts: list, and acknowledge with a tap.

Alerts are about bands and storage, never about a child's state
(:mod:`movereg.pipeline.alerts`). A caller sees the alerts of the bands of children
they may see, and alerts that concern no child (storage); researchers see none.
Acknowledging records who and when (audit-logged) and tells every live client; an
alert clears itself when its condition ends, acknowledged or not. Alerts are stored
(they survive a restart): the list shows the active ones, or with ``include=cleared``
the history too, newest first, a page at a time (``limit``, ``before_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from movereg.dashboard.deps import Carer, StoreDep, visible_children
from movereg.dashboard.routes._common import run_sync
from movereg.dashboard.schemas import MAX_ID, dt, dt_or_none
from movereg.errors import NotFoundError

__all__ = ["AlertOut", "router"]

router = APIRouter(prefix="/api/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=MAX_ID)]


class AlertOut(BaseModel):
    """One alert (times UTC)."""

    id: int
    kind: str
    device_id: str | None
    child_id: int | None
    session_id: int | None
    text: str
    active: bool
    started_at: datetime
    ended_at: datetime | None
    acked_by: str | None
    acked_at: datetime | None

    @classmethod
    def of(cls, a: Any) -> AlertOut:
        """From a :class:`movereg.pipeline.alerts.Alert`."""
        return cls(id=a.id, kind=a.kind, device_id=a.device_id, child_id=a.child_id,
                   session_id=a.session_id, text=a.text, active=a.active,
                   started_at=dt(a.started_ns), ended_at=dt_or_none(a.ended_ns),
                   acked_by=a.acked_by, acked_at=dt_or_none(a.acked_ns))


def _book(request: Request) -> Any:
    hub = getattr(request.app.state, "hub", None)
    return getattr(hub, "alerts", None)


def _may_see(alert: Any, kids: set[int] | None) -> bool:
    return alert.child_id is None or kids is None or alert.child_id in kids


@router.get("", operation_id="list_alerts", response_model=list[AlertOut])
async def list_alerts(request: Request, store: StoreDep, principal: Carer,
                      include: Annotated[Literal["active", "cleared"], Query()] = "active",
                      active: Annotated[bool | None, Query()] = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100,
                      before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                      ) -> list[AlertOut]:
    """The active alerts, newest first; ``include=cleared`` adds the cleared ones (the
    history, kept across restarts). A page holds ``limit`` alerts; the next page:
    ``before_id`` = the last id of this one. ``active=false`` is ``include=cleared``."""
    book = _book(request)
    if book is None:
        return []
    kids = await run_sync(visible_children, store, principal)
    active_only = include == "active" and active is not False
    page = await run_sync(book.page, active_only=active_only, child_ids=kids,
                          before_id=before_id, limit=limit)
    out = [AlertOut.of(a) for a in page]
    await run_sync(store.audit, principal.actor, "read.alerts", detail={"n": len(out)})
    return out


@router.post("/{alert_id}/ack", operation_id="ack_alert", response_model=AlertOut)
async def ack_alert(alert_id: AlertId, request: Request, store: StoreDep,
                    principal: Carer) -> AlertOut:
    """Acknowledge an alert (first tap wins; later taps answer the same record)."""
    book = _book(request)
    alert = None if book is None else await run_sync(book.get, alert_id)
    kids = await run_sync(visible_children, store, principal)
    if alert is None or not _may_see(alert, kids):
        raise NotFoundError(f"no alert {alert_id}")
    done = await request.app.state.hub.acknowledge_alert(alert_id, principal.actor)
    if done is None:
        raise NotFoundError(f"no alert {alert_id}")
    return AlertOut.of(done)
