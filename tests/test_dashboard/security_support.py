"""Helpers for the security tests (not a test module): a hub with a real broadcaster."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from h5_api_support import PASSWORD, T0, FakeHub

from movereg.config import Settings
from movereg.pipeline import Broadcaster

__all__ = ["LiveHub", "Req", "enable_live", "make_alert", "valid_bodies"]


@dataclass
class Req:
    """One request of the authorization tests."""

    method: str
    url: str
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, Any] | None = None


_n = itertools.count()


def valid_bodies(child_id: int, *, login_as: str) -> dict[str, Any]:
    """A valid JSON body per operation id, about ``child_id``."""
    return {
        "login": {"username": login_as, "password": PASSWORD},
        "create_token": {"password": PASSWORD},
        "change_password": {"current_password": PASSWORD, "new_password": PASSWORD + " 2"},
        "create_user": {"username": f"u{next(_n)}", "password": PASSWORD, "role": "parent"},
        "update_user": {"disabled": False},
        "link_user_child": {"child_id": child_id},
        "create_child": {"display_name": "Kim"},
        "connect_band": {"target": "sim", "child_id": child_id},
        "assign_band": {"child_id": child_id},
        "start_session": {"child_id": child_id, "kind": "wear"},
        "create_event": {"child_id": child_id, "strategy": "mov.break"},
        "correct_event": {"reason": "typo", "note": "fixed"},
        "void_event": {"reason": "duplicate"},
        "put_strategy": {"label": "Movement break", "category": "Movement break"},
        "set_strategy_active": {"active": True},
        "record_consent": {"consented": True, "scope": "features"},
        "setup_admin": {"token": "not-the-token", "username": "boss", "password": PASSWORD},
        "start_group_session": {"child_ids": [child_id]},
        "set_favourites": {"keys": ["mov.break"]},
        "set_user_role": {"role": "parent"},
        "reset_user_password": {"password": PASSWORD},
        "delete_child": {"password": PASSWORD, "confirm": "Erin"},
        "set_child_settings": {"tz": "Europe/London"},
        "add_plan_item": {"strategy": "pro.carry", "when": "after school"},
        "add_checkin": {"rating": 3, "note": "a calm evening"},
        "remove_import": {"reason": "test"},
        "start_band_recording": {"rate_hz": 26}, "set_band_range": {"in_range": True},
    }


class LiveHub(FakeHub):
    """FakeHub plus a real Broadcaster, as the live router needs.

    ``ended`` subscriptions are closed as soon as they are made, so a WebSocket or SSE
    request that passes the access checks answers its hello and ends (the authorization
    matrix needs each request to finish).
    """

    def __init__(self, settings: Settings, *, ended: bool = False) -> None:
        super().__init__()
        self.settings = settings
        self.broadcaster = Broadcaster()
        self.ended = ended

    def subscribe(self, maxsize: int = 256, *, message_filter: Any = None) -> Any:
        sub = self.broadcaster.subscribe(maxsize, message_filter=message_filter)
        if self.ended:
            sub.close()
        return sub


def enable_live(hub: FakeHub, settings: Settings) -> None:
    """Give an app's FakeHub the live-feed methods of an ended :class:`LiveHub` (the
    app keeps its hub object, whoever runs its lifespan)."""
    live = LiveHub(settings, ended=True)
    hub.settings = settings  # type: ignore[attr-defined]
    hub.broadcaster = live.broadcaster  # type: ignore[attr-defined]
    hub.subscribe = live.subscribe  # type: ignore[attr-defined,method-assign]


def make_alert(hub: Any, child_id: int | None) -> int:
    """A fresh battery alert of a new band of ``child_id`` (None: an alert about no
    child) in the fake hub's alert book, which this gives the hub on first use."""
    from movereg.pipeline.alerts import AlertBook, Condition

    if not hasattr(hub, "alerts"):
        hub.alerts = AlertBook()

        async def ack(alert_id: int, actor: str) -> Any:
            return hub.alerts.acknowledge(alert_id, actor, T0)

        hub.acknowledge_alert = ack
    book = hub.alerts
    active = [Condition(a.kind, a.device_id, a.child_id, None, a.started_ns, a.text)
              for a in book.list(active_only=True)]
    [(_, alert)] = book.update([*active, Condition("battery_low", f"dev-{next(_n)}",
                                                   child_id, None, T0, "battery low")], T0)
    return int(alert.id)
