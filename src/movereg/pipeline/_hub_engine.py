"""The hub's signal engines (a mixin of :class:`~movereg.pipeline.Hub`).

One :class:`~movereg.signal.FeatureEngine` per band, started on the epoch grid and
restarted when the rate changes or the band was away too long to bridge. The kernels
compile (or load from Numba's cache) in a background thread, so the server answers at
once; blocks that arrive meanwhile are stored, drawn on the activity trace and held,
and their epochs follow as soon as the engine is ready. Epochs go to storage and to
the live feed; after a crash the unfinished epochs are recomputed from stored samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from movereg.config import Settings
from movereg.models import SampleBlock
from movereg.pipeline._hub_run import BandRun, Engine, Writer
from movereg.pipeline.broadcast import Broadcaster
from movereg.pipeline.device_calibration import calibrated_block
from movereg.pipeline.messages import epoch_messages
from movereg.pipeline.resume import table_tail
from movereg.signal.table import EpochTable, columns_as_lists

__all__ = ["MAX_BRIDGE_S", "HubEngine"]

log = logging.getLogger("movereg.pipeline.hub")

#: A jump longer than this (s) starts a fresh feature engine instead of filling the gap
#: with missing-data rows (which would emit one empty epoch per second of the gap).
MAX_BRIDGE_S = 300.0


class HubEngine:
    """Feature engines and their background warm-up for the hub (state lives on the hub)."""

    settings: Settings
    broadcaster: Broadcaster
    _engine_factory: Callable[[float], Engine] | None
    _warm_task: asyncio.Task[None] | None
    _warm_delay_s: float
    _warm_gate: asyncio.Event | None = None
    _engine_ready: bool
    engine_ready_s: float | None
    _writer: Writer | None
    _runs: dict[str, BandRun]

    def _publish_status(self) -> None:
        raise NotImplementedError

    # --- warm-up -----------------------------------------------------------------------
    @property
    def engine_state(self) -> str:
        """``"starting"`` while the signal kernels compile in the background, then
        ``"ready"``."""
        return "ready" if self._engine_ready else "starting"

    def warm_after(self, gate: asyncio.Event, max_wait_s: float) -> None:
        """Start compiling the kernels once ``gate`` is set (the app sets it when it has
        answered its first request) or ``max_wait_s`` passed; call before :meth:`start`.
        The compile thread then does not compete with the first page for the GIL."""
        self._warm_gate = gate
        self._warm_delay_s = max_wait_s

    async def _warm(self) -> None:
        t0 = time.perf_counter()
        if self._warm_gate is None:               # let the server answer its first page
            await asyncio.sleep(self._warm_delay_s)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._warm_gate.wait(), self._warm_delay_s)
        try:
            await _in_daemon_thread()
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

    # --- one engine per band -----------------------------------------------------------
    def _engine_for(self, run: BandRun, block: SampleBlock, writer: Writer) -> Engine:
        engine = run.engine
        if engine is not None and (block.fs_hz != run.engine_fs
                                   or block.gap_before_s > MAX_BRIDGE_S):
            self._finish_engine(run, writer)
            engine = None
        if engine is None:
            engine = self._new_engine(block.fs_hz)
            # align epochs to the epoch grid (whole seconds for 1-s epochs)
            ep_ns = round(self.settings.epoch_s * 1e9)
            aligned = block.t0_ns - block.t0_ns % ep_ns
            if aligned < block.t0_ns:
                engine.push(np.zeros((0, 3), dtype=np.float32), aligned)
            run.engine, run.engine_fs = engine, block.fs_hz
        return engine

    def _new_engine(self, fs_hz: float) -> Engine:
        if self._engine_factory is not None:
            return self._engine_factory(fs_hz)
        from movereg.signal import FeatureEngine

        engine: Engine = FeatureEngine(fs_hz, epoch_s=self.settings.epoch_s)
        return engine

    def _push(self, run: BandRun, block: SampleBlock, writer: Writer, rx_ns: int) -> None:
        """One block through the band's engine; its finished epochs go out."""
        table = self._engine_for(run, block, writer).push(block.samples, block.t0_ns, block.gaps)
        self._emit(run, table, writer, rx_ns)

    def _push_held(self, run: BandRun, writer: Writer, rx_ns: int) -> None:
        held, run.held = run.held, []
        for block in held:
            self._push(run, block, writer, rx_ns)

    def _finish_engine(self, run: BandRun, writer: Writer) -> None:
        if run.held and self._engine_ready:
            self._push_held(run, writer, time.time_ns())
        if run.engine is None:
            return
        engine, run.engine = run.engine, None
        try:
            self._emit(run, engine.flush(), writer, time.time_ns())
        except Exception:
            log.exception("hub: flushing the feature engine of %s", run.device_id)

    def _replay(self, run: BandRun, writer: Writer) -> None:
        """Recompute the epochs a crash left unfinished from the stored samples."""
        blocks, run.backlog = run.backlog, []
        after = run.replay_after
        recovered = 0
        for stored in blocks:
            block = calibrated_block(stored, run.calibration)   # stored as the band sent it
            table = self._engine_for(run, block, writer).push(block.samples, block.t0_ns,
                                                              block.gaps)
            starts = np.asarray(table.columns["epoch_start"])
            keep = int(np.searchsorted(starts, after, side="right")) if after is not None else 0
            if keep < table.n:
                tail = table_tail(table, keep)
                writer.add_epochs(run.device_id, tail)
                recovered += int(tail.n)
        run.epochs += recovered
        log.info("hub: %s: recomputed %d epochs from stored samples", run.device_id, recovered)

    def _emit(self, run: BandRun, table: EpochTable, writer: Writer, rx_ns: int) -> None:
        n = int(table.n)
        if n == 0:
            return
        writer.add_epochs(run.device_id, table)
        run.epochs += n
        for msg in epoch_messages(columns_as_lists(table), n, device_id=run.device_id,
                                  child_id=run.child_id, session_id=run.session_id,
                                  rx_ns=rx_ns):
            self.broadcaster.publish(msg)


async def _in_daemon_thread() -> None:
    """Run :func:`movereg.signal.warmup` in a daemon thread: a server stopped (Ctrl+C)
    during a first, cold compile exits at once instead of waiting for it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def finish(exc: BaseException | None) -> None:
        if not done.done():
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

    def work() -> None:
        error: BaseException | None = None
        try:
            from movereg._imports import import_heavy

            # the modules warmup() compiles, imported while no other thread imports SciPy
            import_heavy("movereg.signal.features", "movereg.signal.counts",
                         "movereg.signal.calibration")
            from movereg import signal as msignal

            msignal.warmup()
        except Exception as exc:  # handed to the awaiting task
            error = exc
        with contextlib.suppress(RuntimeError):    # the loop has closed: nobody waits
            loop.call_soon_threadsafe(finish, error)

    threading.Thread(target=work, name="movereg-kernels", daemon=True).start()
    await done
