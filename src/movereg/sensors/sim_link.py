"""A simulated band behind the transport seam: no Bluetooth, the real client code.

:class:`SimulatedTransport` implements :class:`~movereg.sensors.links.Transport` for one
:class:`~movereg.sensors.simulated.SimulatedBand`. Its link answers the Polar PMD control
point (get-settings, START, STOP) the way a Verity Sense does and, while started, sends
the band's PMD frames as notifications paced in real time divided by ``speed``. It also
serves the standard Battery Level characteristic (0x2A19, a read: one byte, %), which
drains slowly (:class:`~movereg.sensors.simulated.SimBattery`).
:class:`SimulatedBandConnection` is a :class:`~movereg.sensors.ble_client.WristbandClient`
on that transport, so a simulated band is decoded, clocked, watched and rate-counted by
exactly the code a real band goes through.

The simulated band can also record on its own, as a Verity Sense does: its transport
holds a :class:`~movereg.sensors.polar_offline.band.PolarBandModel` (``transport.offline``)
that answers the PMD offline commands (``02 82`` start, ``03 82`` stop, ``05`` status)
and Polar's file-transfer characteristic, so
:class:`~movereg.sensors.polar_offline.PolarOfflineRecorder` records, lists, downloads
and removes on it exactly as on a real band.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from movereg.errors import ParameterError
from movereg.models import BandStatus, DeviceFamily, SampleBlock
from movereg.sensors import _encoders as enc
from movereg.sensors._session import DATA, Session
from movereg.sensors.ble_client import RawHook, WristbandClient
from movereg.sensors.decoders.base import StreamConfig
from movereg.sensors.decoders.polar_pmd import (
    PMD_CP_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    PmdOp,
)
from movereg.sensors.links import BATTERY_LEVEL_UUID, Advert
from movereg.sensors.polar_offline.band import PftpServer, PolarBandModel, scenario_source
from movereg.sensors.polar_offline.pftp import PFTP_MTU_UUID
from movereg.sensors.simulated import SimBattery, SimulatedBand

__all__ = ["SimulatedBandConnection", "SimulatedTransport"]

_ALREADY_IN_STATE = 6
_INVALID_OP = 1


class _SimLink:
    """One connection to the simulated band (the PMD service only)."""

    def __init__(self, band: SimulatedBand, speed: float, address: str,
                 offline: PolarBandModel | None = None) -> None:
        self.address = address
        self._offline = offline
        self._pftp = PftpServer(offline) if offline is not None else None
        self._band = band
        self._speed = speed
        self._connected = True
        self._callbacks: dict[str, Callable[[bytes], None]] = {}
        self._stream: asyncio.Task[None] | None = None
        #: host time (UTC ns) the frame being delivered was due, from the band's schedule
        self.rx_ns: int | None = None

    @property
    def is_connected(self) -> bool:
        """True until :meth:`disconnect`."""
        return self._connected

    def has_char(self, uuid: str) -> bool:
        """The PMD control point and data characteristics, file transfer and the battery
        level."""
        if self._pftp is not None and uuid == PFTP_MTU_UUID:
            return True
        return uuid in (PMD_CP_UUID, PMD_DATA_UUID) or (
            uuid == BATTERY_LEVEL_UUID and self._band.battery is not None)

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        """Subscribe to the control point (indications) or the data characteristic."""
        self._callbacks[uuid] = callback

    async def write(self, uuid: str, data: bytes, *, response: bool) -> None:
        """A control-point command; the reply is indicated like a real band's."""
        if uuid == PFTP_MTU_UUID and self._pftp is not None:
            self._notify(PFTP_MTU_UUID, self._pftp.feed(bytes(data)))
            return
        if uuid != PMD_CP_UUID:
            return
        reply = self._offline.handle_pmd_cp(bytes(data)) if self._offline else None
        if reply is None:
            op = data[0] if data else 0
            settings, start = self._band.control_point_replies()
            if op == PmdOp.GET_SETTINGS:
                reply = settings
            elif op == PmdOp.START:
                reply = self._start() or start
            elif op == PmdOp.STOP:
                reply = enc.encode_pmd_cp_response(PmdOp.STOP, status=self._stop())
            else:
                reply = enc.encode_pmd_cp_response(op, status=_INVALID_OP)
        self._notify(PMD_CP_UUID, [reply])

    async def read(self, uuid: str) -> bytes:
        """The battery level (one byte, %); nothing else is readable."""
        if uuid == BATTERY_LEVEL_UUID and self._band.battery is not None:
            return bytes([self._band.battery.level()])
        return b""

    def _notify(self, uuid: str, packets: list[bytes]) -> None:
        """Packets to ``uuid``'s subscriber, in order, as the band's notifications or
        indications (soon after the write that caused them, like a real reply)."""
        cb = self._callbacks.get(uuid)
        if cb is None:
            return
        loop = asyncio.get_running_loop()
        for p in packets:
            loop.call_soon(cb, p)

    async def disconnect(self, timeout_s: float = 5.0) -> None:
        """Stop streaming and close."""
        self._stop()
        if self._stream is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stream
        self._connected = False

    def _start(self) -> bytes | None:
        """Start streaming; an error reply when it already streams."""
        if self._stream is not None and not self._stream.done():
            return enc.encode_pmd_cp_response(PmdOp.START, status=_ALREADY_IN_STATE)
        if self._offline is not None and self._offline.refuses_online_start():
            # as a real band: online ACC does not start while offline ACC records
            return enc.encode_pmd_cp_response(PmdOp.START, status=_ALREADY_IN_STATE)
        self._stream = asyncio.get_running_loop().create_task(
            self._send(), name=f"sim-link-{self.address}")
        if self._offline is not None:
            self._offline.online_streaming = True
        return None

    def _stop(self) -> int:
        """Stop streaming; the CP status (0, or ALREADY IN STATE when not streaming)."""
        if self._offline is not None:
            self._offline.online_streaming = False
        if self._stream is None or self._stream.done():
            return _ALREADY_IN_STATE
        self._stream.cancel()
        return 0

    async def _send(self) -> None:
        # a frame is stamped with the host time it was due (its last sample taken, plus
        # the radio latency), not with when the event loop got round to it: a late first
        # frame (a busy start-up) would otherwise put every later sample in the future
        band = self._band
        t_first, host0 = band._t(band._pos), time.time_ns()
        async for frame, rx in band.notifications(self._speed):
            self.rx_ns = host0 + round((rx - t_first) / self._speed)
            cb = self._callbacks.get(PMD_DATA_UUID)
            if cb is not None:
                cb(frame)


class SimulatedTransport:
    """The transport to one simulated band (its stream continues across reconnects).

    Parameters
    ----------
    band
        The simulated band.
    speed
        Replay speed (1.0 = real time).
    offline
        The band's offline recorder and file system (default: a
        :class:`PolarBandModel` on the host clock recording this band's scenario).
    """

    def __init__(self, band: SimulatedBand, speed: float = 1.0,
                 offline: PolarBandModel | None = None) -> None:
        if not speed > 0:
            raise ParameterError(f"speed must be > 0, got {speed}")
        self.band = band
        self.speed = speed
        self.offline = offline if offline is not None else PolarBandModel(
            source=scenario_source(band.seed, band.scenario))
        self.link: _SimLink | None = None   # the current connection

    async def find(self, address: str, timeout_s: float) -> Advert:
        """The band advertises at once, as a Polar PMD band."""
        return Advert(address, self.band.name, (PMD_SERVICE_UUID,))

    async def connect(self, device: object, *, disconnected_callback: Callable[[], None],
                      max_attempts: int) -> _SimLink:
        """A fresh link to the band."""
        self.link = _SimLink(self.band, self.speed, str(device), self.offline)
        return self.link


class SimulatedBandConnection(WristbandClient):
    """A simulated band: :class:`WristbandClient` on a :class:`SimulatedTransport`.

    Parameters
    ----------
    seed
        Seed of the simulated child's movement.
    scenario
        Scenario name for :class:`~movereg.sensors.simulated.SimulatedBand` (None = its
        default).
    speed
        Replay speed (1.0 = real time); the device clock is told, so times stay real.
    device_id
        Key of the SampleBlocks (default ``sim-<seed>``).
    config
        Requested rate (Hz).
    raw_hook
        Called with every raw notification (capture).
    duration_s
        Stop by itself after this many seconds of simulated data (None = run until stop).
    battery_pct
        The battery level at start, % (a :class:`~movereg.sensors.simulated.SimBattery`:
        5 %/h of band time).
    bursts_ns
        Scripted movement bursts at these UTC ns (see
        :class:`~movereg.sensors.simulated.SimulatedBand`).
    options
        Passed on to :class:`WristbandClient` (e.g. ``watchdog_s``).
    """

    def __init__(self, seed: int = 0, *, scenario: str | None = None, speed: float = 1.0,
                 device_id: str | None = None, config: StreamConfig | None = None,
                 raw_hook: RawHook | None = None, duration_s: float | None = None,
                 battery_pct: float = 100.0, bursts_ns: Sequence[int] = (),
                 **options: Any) -> None:
        config = config or StreamConfig()
        # the band's own frames (30 samples, ~0.58 s at 52 Hz, as a Verity Sense sends and
        # as the demo streamed before the transport seam): the activity trace gets one
        # point per frame, so a shorter frame changes which points the live page draws
        band = (SimulatedBand(seed, fs_hz=config.fs_hz, bursts_ns=bursts_ns) if scenario is None
                else SimulatedBand(seed, scenario, fs_hz=config.fs_hz, bursts_ns=bursts_ns))
        band.battery = SimBattery(battery_pct, speed=speed)
        super().__init__(f"sim:{seed}", DeviceFamily.POLAR_PMD, config=config,
                         device_id=device_id or f"sim-{seed}", raw_hook=raw_hook,
                         clock_options={"speed": speed},
                         transport=SimulatedTransport(band, speed), **options)
        self._sim = self.transport
        self.seed = seed
        self.scenario = band.scenario
        self.speed = speed
        self.duration_s = duration_s
        self._end_ns: int | None = None  # with duration_s: band time at which to stop
        self._duration_done = False

    def status(self) -> BandStatus:
        """The client's status, reported as family ``simulated``."""
        return replace(super().status(), family=DeviceFamily.SIMULATED.value)

    def _enqueue(self, session: Session, kind: int, data: bytes | bytearray,
                 rx_ns: int | None = None) -> None:
        """As the client's, but a data frame carries the time it was due (see
        :meth:`_SimLink._send`), as the band's own loop stamped it before the seam."""
        link = self._sim.link if isinstance(self._sim, SimulatedTransport) else None
        if kind == DATA and link is not None and link.rx_ns is not None:
            rx_ns = link.rx_ns
        super()._enqueue(session, kind, data, rx_ns)

    def _decode(self, session: Session, data: bytes, rx: int) -> SampleBlock | None:
        """The client's decode path; with ``duration_s``, stop once that much band time
        has been delivered (what still arrives is dropped)."""
        block = super()._decode(session, data, rx)
        if block is None or self.duration_s is None:
            return block
        if self._end_ns is None:
            self._end_ns = block.t0_ns + round(self.duration_s * 1e9)
        if self._duration_done:
            return None
        if block.t_end_ns >= self._end_ns:
            self._duration_done = self._stopping = True
            self._reason = "duration reached"
            self._wake.set()
        return block
