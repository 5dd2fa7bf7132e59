"""The hub's book-keeping for one connected band, and the sinks it writes to.

:class:`BandRun` is everything the hub knows about one band's stream; :class:`Writer` and
:class:`Engine` are the shapes of the storage sink and the feature engine it feeds.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from movereg.models import BandState, BandStatus, Gap, SampleBlock
from movereg.pipeline.activity import ActivityTrace
from movereg.pipeline.health import SignalHealth
from movereg.sensors.band import Band
from movereg.signal.table import EpochTable

__all__ = ["BandRun", "Engine", "Writer", "band_status", "maybe_await"]


class Writer(Protocol):
    """A BatchWriter-like storage sink (start/stop may be plain or ``async``)."""

    def start(self) -> Awaitable[None] | None: ...
    def stop(self) -> Awaitable[None] | None: ...
    def add_samples(self, device_id: str, block: SampleBlock) -> None: ...
    def add_epochs(self, device_id: str, table: EpochTable) -> None: ...
    def add_gap(self, device_id: str, gap: Gap) -> None: ...


class Engine(Protocol):
    """A FeatureEngine-like streaming feature engine."""

    def push(self, samples: np.ndarray, t0_ns: int | None = None,
             gaps: Sequence[Gap] | None = None) -> EpochTable: ...
    def flush(self) -> EpochTable: ...


@dataclass
class BandRun:
    """Book-keeping for one connected band."""

    device_id: str
    target: str
    band: Band
    child_id: int | None
    session_id: int | None
    task: asyncio.Task[None] | None = None
    engine: Engine | None = None
    engine_fs: float = 0.0
    last_end_ns: int | None = None      # exclusive end of the last block written
    resume_from_ns: int | None = None   # end of stored samples from an earlier run
    resume_reason: str = "disconnect"
    backlog: list[SampleBlock] = field(default_factory=list)   # stored tail to replay
    replay_after: int | None = None     # epochs up to this start are already stored
    samples: int = 0
    epochs: int = 0
    blocks: int = 0
    error: str | None = None
    stopping: bool = False
    activity: ActivityTrace = field(default_factory=ActivityTrace)
    held: list[SampleBlock] = field(default_factory=list)   # waiting for the kernels
    health: SignalHealth = field(default_factory=SignalHealth)
    connected_ns: int = field(default_factory=time.time_ns)
    last_rx_ns: int | None = None       # host time of the last block
    #: the band's accepted calibration (a storage.DeviceCalibration), applied to every
    #: block before the activity trace and the features; None: samples as the band sent
    calibration: Any = None


def band_status(run: BandRun) -> BandStatus:
    """The band's own status, or ``stopped`` with the reason when its pipeline failed."""
    try:
        st = run.band.status()
    except Exception as exc:  # a broken band still gets a row
        st = BandStatus(device_id=run.device_id, family="unknown",
                        state=BandState.STOPPED, reason=f"status failed: {exc}")
    if run.error is not None:
        st = BandStatus(device_id=st.device_id, family=st.family, state=BandState.STOPPED,
                        rate_hz=None, battery_pct=st.battery_pct,
                        last_data_ns=st.last_data_ns, reason=run.error,
                        samples_lost=st.samples_lost)
    return st


async def maybe_await(value: Awaitable[None] | None) -> None:
    """Await ``value`` if it is awaitable (a sink's plain or ``async`` start/stop)."""
    if inspect.isawaitable(value):
        await value
