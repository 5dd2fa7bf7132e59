"""The hub's per-band task (a mixin of :class:`~movereg.pipeline.Hub`).

Each connected band runs :meth:`HubBands._run_band`: replay a crash's stored tail, then
for every block: the resume check (the gap since the stored data, no overlap), storage,
the fast activity trace and signal health, then the band's feature engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from movereg.models import BandStatus, SampleBlock
from movereg.pipeline._hub_engine import HubEngine
from movereg.pipeline._hub_run import BandRun, Writer, band_status
from movereg.pipeline.device_calibration import calibrated_block
from movereg.pipeline.messages import activity_message
from movereg.pipeline.resume import overlap_samples, trimmed
from movereg.sensors.clock import gap_between, with_gaps

if TYPE_CHECKING:
    from movereg.storage import Store

__all__ = ["HubBands"]

log = logging.getLogger("movereg.pipeline.hub")


class HubBands(HubEngine):
    """The task that streams one band into storage, the live feed and its engine."""

    store: Store

    def _band_status(self, run: BandRun) -> BandStatus:
        return band_status(run)

    async def _run_band(self, run: BandRun) -> None:
        writer = self._writer
        assert writer is not None
        try:
            if run.backlog:
                await self.wait_engine()
                self._replay(run, writer)
            await run.band.start()
            async for block in run.band.blocks():
                self._ingest(run, block, writer)
        except asyncio.CancelledError:
            if not run.stopping:
                raise
        except Exception as exc:
            run.error = f"pipeline stopped: {type(exc).__name__}: {exc}"
            log.exception("hub: band %s failed", run.device_id)
        finally:
            if run.held:             # the stream ended before the kernels were ready
                with contextlib.suppress(asyncio.CancelledError):
                    await self.wait_engine()
            self._finish_engine(run, writer)
            try:
                await asyncio.shield(run.band.stop())
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                log.warning("hub: stopping band %s: %s", run.device_id, exc)
        if run.error is None and not run.stopping:
            run.error = "stream ended"

    def _ingest(self, run: BandRun, block: SampleBlock, writer: Writer) -> None:
        rx_ns = time.time_ns()
        block = self._resume_check(run, block)
        if block.n == 0:
            return
        for gap in block.gaps:
            writer.add_gap(run.device_id, gap)
        writer.add_samples(run.device_id, block)      # stored as the band sent it
        block = calibrated_block(block, run.calibration)
        run.samples += block.n
        run.blocks += 1
        run.last_end_ns = block.t_end_ns
        self._emit_activity(run, block, rx_ns)
        if not self._engine_ready:          # kernels still compiling: epochs follow
            run.held.append(block)
            return
        if run.held:
            self._push_held(run, writer, rx_ns)
        self._push(run, block, writer, rx_ns)

    def _emit_activity(self, run: BandRun, block: SampleBlock, rx_ns: int) -> None:
        """The fast trace: one causal activity value per block (see
        :mod:`movereg.pipeline.activity`); not kept for SSE replay."""
        point = run.activity.push(block.samples, block.t0_ns, block.fs_hz)
        run.last_rx_ns = rx_ns
        run.health.push(block.samples, block.t0_ns,
                        block.t0_ns + round((block.n - 1) * 1e9 / block.fs_hz))
        if point is not None:
            self.broadcaster.publish(activity_message(
                point, device_id=run.device_id, child_id=run.child_id,
                session_id=run.session_id, rx_ns=rx_ns), replayable=False)

    @staticmethod
    def _resume_check(run: BandRun, block: SampleBlock) -> SampleBlock:
        """On the first block: attach the gap since the stored data; trim any overlap."""
        prev = run.resume_from_ns
        if prev is None:
            return block
        skip = overlap_samples(block, prev)
        if skip:                                    # overlap with stored data: trim it
            block = trimmed(block, skip)
            if block.n == 0:
                return block
        run.resume_from_ns = None
        gap = None if block.gaps else gap_between(prev, block.t0_ns, block.fs_hz,
                                                  run.resume_reason)
        return block if gap is None else with_gaps(block, (gap,))

    def _register(self, run: BandRun) -> None:
        """Record the band (and its wearer) in the store before data arrives."""
        from movereg.storage import Store

        if not isinstance(self.store, Store):   # a stand-in store without a device registry
            return
        try:
            family = str(run.band.status().family)
        except Exception:
            family = None
        self.store.upsert_device(run.device_id, family=family)
        if run.child_id is not None and self.store.device_child(run.device_id) != run.child_id:
            self.store.assign_device(run.device_id, run.child_id)
        # the band's calibration kept from earlier wear, and a note of what applies
        run.calibration = self.store.device_calibration(run.device_id)
        self.store.record_calibration_use(run.device_id, run.connected_ns,
                                          None if run.calibration is None
                                          else run.calibration.id)
