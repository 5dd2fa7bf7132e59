"""The hub's signal engine start-up (a mixin of :class:`~movereg.pipeline.Hub`).

The kernels compile (or load from Numba's cache) in a background thread, so the server
answers at once; blocks that arrive meanwhile are stored, drawn on the activity trace
and held, and their epochs follow as soon as the engine is ready.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

__all__ = ["HubEngine"]

log = logging.getLogger("movereg.pipeline.hub")


class HubEngine:
    """Background kernel warm-up for the hub (state lives on the hub)."""

    _warm_task: asyncio.Task[None] | None
    _warm_delay_s: float
    _engine_ready: bool
    engine_ready_s: float | None
    _writer: Any
    _runs: dict[str, Any]

    def _push_held(self, run: Any, writer: Any, rx_ns: int) -> None:
        raise NotImplementedError

    def _publish_status(self) -> None:
        raise NotImplementedError

    @property
    def engine_state(self) -> str:
        """``"starting"`` while the signal kernels compile in the background, then
        ``"ready"``."""
        return "ready" if self._engine_ready else "starting"

    async def _warm(self) -> None:
        from movereg import signal as msignal

        t0 = time.perf_counter()
        await asyncio.sleep(self._warm_delay_s)   # let the server answer its first page
        try:
            await asyncio.to_thread(msignal.warmup)
        except Exception:  # kernels then compile on first use
            log.exception("hub: compiling the signal kernels failed")
        self.engine_ready_s = time.perf_counter() - t0
        self._engine_ready = True
        log.info("hub: signal engine ready after %.1f s", self.engine_ready_s)
        if self._writer is not None:         # epochs of the blocks that arrived meanwhile
            for run in list(self._runs.values()):
                if run.held:
                    self._push_held(run, self._writer, time.time_ns())
        self._publish_status()

    async def wait_engine(self) -> None:
        """Wait until the signal kernels are compiled (returns at once when they are)."""
        if self._warm_task is not None and not self._engine_ready:
            await asyncio.shield(self._warm_task)
