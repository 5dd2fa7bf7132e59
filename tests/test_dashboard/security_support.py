"""Helpers for the security tests (not a test module): a hub with a real broadcaster."""

from __future__ import annotations

from typing import Any

from h5_api_support import FakeHub

from movereg.config import Settings
from movereg.pipeline import Broadcaster

__all__ = ["LiveHub", "enable_live"]


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
