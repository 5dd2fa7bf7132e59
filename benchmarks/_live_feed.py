"""The live WebSocket feed as the benchmarks read it (shared by bench_load, bench_live)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any


async def live_feed(url: str, token: str, stop_at: float) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """``(client receive time ns, message)`` from ``url``'s ``/api/live`` until the
    monotonic time ``stop_at``."""
    import websockets

    ws_url = url.replace("http://", "ws://") + "/api/live"
    async with websockets.connect(ws_url, additional_headers={
            "Authorization": f"Bearer {token}"}, max_size=2**22) as ws:
        while time.monotonic() < stop_at:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, stop_at
                                                                    - time.monotonic()))
            except TimeoutError:
                break
            yield time.time_ns(), json.loads(raw)
