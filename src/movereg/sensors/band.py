"""One interface for every band the pipeline reads: real (BLE) or simulated.

:func:`open_band` turns a target string into a :class:`Band`: ``"sim"`` / ``"sim:<seed>"``
gives a :class:`SimulatedBandConnection` (the simulated band's real Polar PMD bytes run
through the same decode -> clock path, no Bluetooth); anything else is a Bluetooth
address for a :class:`~movereg.sensors.ble_client.WristbandClient`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from movereg.errors import DecodeError, ParameterError
from movereg.models import BandState, BandStatus, DeviceFamily, SampleBlock
from movereg.sensors.clock import DeviceClock
from movereg.sensors.decoders.base import StreamConfig

if TYPE_CHECKING:
    from movereg.sensors.ble_client import RawHook
    from movereg.sensors.transport import Backend

__all__ = ["Band", "SimulatedBandConnection", "open_band", "parse_sim_target"]

_END: Any = object()


@runtime_checkable
class Band(Protocol):
    """What a consumer (pipeline hub, ``movereg record``) needs from a band."""

    device_id: str

    async def start(self) -> None:
        """Begin connecting/streaming in the background."""
        ...

    async def stop(self) -> None:
        """Stop; :meth:`blocks` ends after the blocks already decoded."""
        ...

    def status(self) -> BandStatus:
        """A snapshot for status displays."""
        ...

    def blocks(self) -> AsyncIterator[SampleBlock]:
        """Decoded, UTC-stamped sample blocks in order (gaps marked)."""
        ...


def parse_sim_target(target: str) -> int | None:
    """``"sim"`` -> 0, ``"sim:7"`` -> 7, anything else -> None.

    Raises
    ------
    ParameterError
        ``sim:`` followed by something that is not an integer seed.
    """
    t = target.strip().lower()
    if t == "sim":
        return 0
    if t.startswith("sim:"):
        try:
            return int(t[4:])
        except ValueError:
            raise ParameterError(f"bad simulated band {target!r}: use sim or sim:<seed>, "
                                 "e.g. sim:3") from None
    return None


class SimulatedBandConnection:
    """A simulated band behind the :class:`Band` interface.

    Parameters
    ----------
    seed
        Seed of the simulated child's movement.
    scenario
        Scenario name for :class:`~movereg.sensors.simulated.SimulatedBand` (None = its
        default).
    speed
        Replay speed (1.0 = real time).
    device_id
        Key of the SampleBlocks (default ``sim-<seed>``).
    config
        Requested rate (Hz).
    raw_hook
        Called with every raw notification (capture).
    duration_s
        Stop by itself after this many seconds of simulated data (None = run until stop).
    """

    def __init__(self, seed: int = 0, *, scenario: str | None = None, speed: float = 1.0,
                 device_id: str | None = None, config: StreamConfig | None = None,
                 raw_hook: RawHook | None = None, duration_s: float | None = None) -> None:
        if not speed > 0:
            raise ParameterError(f"speed must be > 0, got {speed}")
        self.seed = seed
        self.scenario = scenario
        self.speed = speed
        self.device_id = device_id or f"sim-{seed}"
        self.config = config or StreamConfig()
        self.raw_hook = raw_hook
        self.duration_s = duration_s
        self.family = DeviceFamily.SIMULATED
        self._out: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)
        self._task: asyncio.Task[None] | None = None
        self._state = BandState.IDLE
        self._reason: str | None = None
        self._clock: DeviceClock | None = None
        self._rate: deque[tuple[int, int]] = deque()
        self._last_data_ns: int | None = None
        self.decode_errors = 0

    async def start(self) -> None:
        """Start producing blocks in the background."""
        if self._task is None:
            self._state = BandState.STREAMING
            self._task = asyncio.create_task(self._run(), name=f"sim-band-{self.device_id}")

    async def stop(self) -> None:
        """Stop producing; :meth:`blocks` ends."""
        if self._task is None:  # never started
            self._task = asyncio.create_task(asyncio.sleep(0))
            self._out.put_nowait(_END)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._state = BandState.STOPPED
        self._reason = self._reason or "stopped"

    def status(self) -> BandStatus:
        """A snapshot (rate achieved over the last 5 s of host time)."""
        rate = None
        if len(self._rate) >= 2:
            span = (self._rate[-1][0] - self._rate[0][0]) / 1e9
            if span > 0:
                rate = sum(n for _, n in list(self._rate)[1:]) / span / self.speed
        return BandStatus(
            device_id=self.device_id, family=self.family.value, state=self._state,
            rate_hz=rate if self._state == BandState.STREAMING else None,
            last_data_ns=self._last_data_ns, reason=self._reason,
            samples_lost=self._clock.stats.samples_missing if self._clock else 0)

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        """Decoded blocks until stopped (or ``duration_s`` reached)."""
        while True:
            item = await self._out.get()
            if item is _END:
                return
            yield item

    async def _run(self) -> None:
        from movereg.sensors.simulated import SimulatedBand

        kwargs: dict[str, Any] = {"fs_hz": self.config.fs_hz}
        if self.scenario is not None:
            kwargs["scenario"] = self.scenario
        band = SimulatedBand(self.seed, **kwargs)
        profile = band.profile
        clock = self._clock = DeviceClock(self.device_id, profile.fs_hz, profile.has_device_time)
        t_end: int | None = None
        try:
            async for data, rx in band.notifications(self.speed):
                if self.raw_hook is not None:
                    self.raw_hook(data, rx)
                try:
                    raw = profile.decode(data)
                except DecodeError:
                    self.decode_errors += 1
                    continue
                block = clock.push(raw, rx)
                if block is None:
                    continue
                now = time.time_ns()
                self._rate.append((now, block.n))
                while now - self._rate[0][0] > 5_000_000_000:
                    self._rate.popleft()
                self._last_data_ns = block.t_end_ns
                await self._out.put(block)
                if self.duration_s is not None:
                    t_end = t_end if t_end is not None else block.t0_ns + round(
                        self.duration_s * 1e9)
                    if block.t_end_ns >= t_end:
                        self._reason = "duration reached"
                        break
        finally:
            self._state = BandState.STOPPED
            if self._out.full():  # nobody is reading: make room for the end marker
                self._out.get_nowait()
            self._out.put_nowait(_END)


def open_band(target: str, *, family: DeviceFamily | str | None = None,
              config: StreamConfig | None = None, backend: Backend | None = None,
              device_id: str | None = None, seed: int = 0, speed: float = 1.0,
              raw_hook: RawHook | None = None, **options: Any) -> Band:
    """A band for ``target``: ``"sim"``, ``"sim:<seed>"`` or a Bluetooth address.

    Parameters
    ----------
    target
        ``sim`` / ``sim:<seed>`` (simulated, no Bluetooth) or a band's address.
    family
        Device family of a real band (None = recognise it from its advertisement).
    config
        Requested rate/range.
    backend
        Injected bleak backend (tests).
    device_id
        Key of the SampleBlocks (default: address, or ``sim-<seed>``).
    seed
        Seed when ``target`` is plain ``sim``.
    speed
        Simulated bands only: replay speed.
    raw_hook
        Called with every raw notification ``(bytes, rx_time_ns)``.
    options
        Passed on to :class:`WristbandClient` (e.g. ``watchdog_s``) or
        :class:`SimulatedBandConnection` (``scenario``, ``duration_s``).
    """
    sim_seed = parse_sim_target(target)
    if sim_seed is not None:
        if target.strip().lower() == "sim":
            sim_seed = seed
        return SimulatedBandConnection(sim_seed, speed=speed, device_id=device_id,
                                       config=config, raw_hook=raw_hook, **options)
    from movereg.sensors.ble_client import WristbandClient

    return WristbandClient(target, family, config=config, backend=backend,
                           device_id=device_id, raw_hook=raw_hook, **options)
