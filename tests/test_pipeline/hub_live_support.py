"""Reading the live feed in the hub tests (imported by test_hub_app and test_hub_demo)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import websockets


async def read_live_epochs(url: str, headers: dict[str, str], *, n: int,
                           within_s: float) -> list[tuple[float, int, dict[str, Any]]]:
    """The first ``n`` epoch messages of ``url``'s WebSocket live feed, within ``within_s``.

    Each as ``(monotonic s, client receive time ns, message)``.
    """
    out: list[tuple[float, int, dict[str, Any]]] = []
    ws_url = url.replace("http://", "ws://") + "/api/live"
    async with asyncio.timeout(within_s), websockets.connect(
            ws_url, additional_headers=headers) as ws:
        while len(out) < n:
            raw = await ws.recv()
            rx = time.time_ns()
            msg = json.loads(raw)
            if msg["type"] == "epoch":
                out.append((time.monotonic(), rx, msg))
    return out
