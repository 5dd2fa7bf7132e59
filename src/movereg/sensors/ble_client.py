"""WristbandClient: one band, connected and kept streaming until stopped.

Life of a client (DESIGN §2, §5.2–5.3)::

    start() -> [scan] -> connect (bleak-retry-connector, a FRESH BleakClient each time)
            -> subscribe data (+ control) -> setup -> STOP -> START -> streaming
            -> link drop / watchdog stall -> STOP (if still up) -> disconnect
            -> reconnecting (backoff 0.5 s .. 30 s, forever) -> ... -> stop()

The notification callback only copies the bytes and the host receive time into a
bounded queue (drop-oldest when full, counted). A decode task turns each frame into a
:class:`~movereg.models.RawBlock` (the family's pure decoder) and places it on the UTC
time line with :class:`~movereg.sensors.clock.DeviceClock`, which also de-duplicates
frames and records every gap (including the span lost while disconnected).

The band is reached through a :class:`~movereg.sensors.links.Transport`: Bluetooth
(the default) or a simulated band, which so runs exactly the code a real one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING

from movereg.errors import (
    BluetoothUnavailableError,
    ConnectionLostError,
    DecodeError,
    ProtocolError,
    SensorError,
)
from movereg.models import BandState, BandStatus, DeviceFamily, SampleBlock
from movereg.sensors._session import CTRL, DATA, MARK, Fatal, Frame, RateWindow, Session
from movereg.sensors.clock import DeviceClock
from movereg.sensors.decoders import match_advertisement, profile_for
from movereg.sensors.decoders.base import Command, StreamConfig
from movereg.sensors.links import BATTERY_LEVEL_UUID, Transport

if TYPE_CHECKING:
    from movereg.sensors.transport import Backend, BLEDevice

__all__ = ["RawHook", "WristbandClient"]

_LOG = logging.getLogger(__name__)

#: raw-capture hook: called with (frame bytes, host receive time in UTC ns)
RawHook = Callable[[bytes, int], None]

class WristbandClient:
    """Connect to one band and stream decoded, UTC-stamped sample blocks.

    Parameters
    ----------
    address_or_device
        Bluetooth address (scanned for on every (re)connect) or a bleak ``BLEDevice``.
    family
        Device family; ``None`` = recognise it from the advertisement.
    config
        Requested rate/range (default 52 Hz, ±8 g).
    backend
        Injected bleak backend classes (tests); None = the host's Bluetooth stack.
    device_id
        Stable key for the SampleBlocks (default: the address).
    watchdog_s
        Reconnect when no notification arrives for this long (s). Default: 10 expected
        frame intervals, at least 5 s (60 s for InfiniTime, which is silent when still).
    queue_size
        Bound of the notification queue (frames); the oldest is dropped when full.
    scan_timeout_s, reply_timeout_s
        How long one scan / one control-point reply may take (s).
    backoff_s
        (first, max) delay between reconnect attempts (s); doubles each attempt.
    raw_hook
        Called from the decode task with every data notification (raw capture).
    clock_options
        Extra keyword arguments for :class:`DeviceClock` (e.g. ``speed`` for an
        accelerated emulator).
    connect_attempts
        ``max_attempts`` handed to bleak-retry-connector per reconnect round.
    out_queue_size
        Decoded blocks kept for a slow consumer before the oldest is dropped (counted in
        ``blocks_dropped``).
    transport
        How to reach the band (default: Bluetooth through bleak with ``backend``).
    """

    #: the Battery Level is read at connect and again this often while streaming, s
    battery_interval_s = 60.0

    def __init__(
        self,
        address_or_device: str | BLEDevice,
        family: DeviceFamily | str | None = None,
        *,
        config: StreamConfig | None = None,
        backend: Backend | None = None,
        device_id: str | None = None,
        watchdog_s: float | None = None,
        queue_size: int = 4096,
        scan_timeout_s: float = 10.0,
        reply_timeout_s: float = 5.0,
        backoff_s: tuple[float, float] = (0.5, 30.0),
        raw_hook: RawHook | None = None,
        clock_options: Mapping[str, float] | None = None,
        connect_attempts: int = 3,
        out_queue_size: int = 65536,
        transport: Transport | None = None,
    ) -> None:
        self._target = address_or_device
        self.address = (address_or_device if isinstance(address_or_device, str)
                        else address_or_device.address)
        self.family: DeviceFamily | None = DeviceFamily(family) if family is not None else None
        self.config = config or StreamConfig()
        self.backend = backend
        if transport is None:
            from movereg.sensors.transport import BleakTransport

            transport = BleakTransport(backend)
        self.transport = transport
        self.device_id = device_id or self.address
        self.watchdog_s = watchdog_s
        self.scan_timeout_s = scan_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.backoff_s = backoff_s
        self.raw_hook = raw_hook
        self.clock_options = dict(clock_options or {})
        self.connect_attempts = connect_attempts
        self._in: asyncio.Queue[Frame | None] = asyncio.Queue(maxsize=queue_size)  # None: end
        # decoded blocks wait here for the consumer; ~10 h at 52 Hz before the oldest is
        # dropped (counted), so a stalled consumer can never block the decoder or stop()
        self._out: asyncio.Queue[SampleBlock | None] = asyncio.Queue(maxsize=out_queue_size)
        self._clock: DeviceClock | None = None
        self._state = BandState.IDLE
        self._reason: str | None = None
        self._attempt = 0
        self._next_try_mono: float | None = None
        self._battery: int | None = None
        self._battery_read_mono = 0.0
        self._last_data_ns: int | None = None
        self._rate_window = RateWindow(speed=float(self.clock_options.get("speed", 1.0)))
        self._frame_interval_s: float | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._state_evt = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._decoder: asyncio.Task[None] | None = None
        self._session: Session | None = None
        self._name: str | None = None
        #: the fatal error that ended the client (no Bluetooth), if any
        self.error: SensorError | None = None
        #: the last error that caused a reconnect (protocol error, link failure)
        self.last_error: SensorError | None = None
        #: counters for status pages and tests
        self.frames_dropped = 0
        self.blocks_dropped = 0
        self.decode_errors = 0
        self.connections = 0

    # ------------------------------------------------------------------ public API ---
    async def start(self) -> None:
        """Start connecting and streaming in the background (returns immediately)."""
        if self._runner is not None:
            return
        self._stopping = False
        self._decoder = asyncio.create_task(self._decode_loop(), name=f"decode-{self.device_id}")
        self._runner = asyncio.create_task(self._run(), name=f"band-{self.device_id}")

    async def stop(self, reason: str = "stopped") -> None:
        """Send STOP, disconnect, finish decoding what arrived; ``blocks()`` then ends."""
        self._stopping = True
        if self._reason is None or self._state != BandState.STOPPED:
            self._reason = reason
        self._wake.set()
        if self._runner is None:  # never started: just end blocks()
            self._set_state(BandState.STOPPED, reason)
            self._put_out(None)
            return
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
        if self._decoder is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._decoder

    def status(self) -> BandStatus:
        """A snapshot for status displays."""
        next_try = None
        if self._state == BandState.RECONNECTING and self._next_try_mono is not None:
            next_try = max(0.0, self._next_try_mono - time.monotonic())
        return BandStatus(
            device_id=self.device_id,
            family=self.family.value if self.family is not None else "unknown",
            state=self._state,
            rate_hz=self._rate_window.rate() if self._state == BandState.STREAMING else None,
            battery_pct=self._battery,
            last_data_ns=self._last_data_ns,
            attempt=self._attempt,
            next_try_s=next_try,
            reason=self._reason,
            samples_lost=self._clock.stats.samples_missing if self._clock else 0,
        )

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        """Decoded blocks in order; ends after :meth:`stop` (raises the fatal error, if any)."""
        while True:
            item = await self._out.get()
            if item is None:
                break
            yield item
        if self.error is not None:
            raise self.error

    async def wait_for_state(self, state: BandState, timeout_s: float) -> BandStatus:
        """Wait until the client is in ``state`` (or stopped); returns the status.

        Raises
        ------
        TimeoutError
            The state was not reached within ``timeout_s``.
        """
        async with asyncio.timeout(timeout_s):
            while self._state != state and not (
                    self._state == BandState.STOPPED and self._runner is not None
                    and self._runner.done()):
                evt = self._state_evt
                await evt.wait()
        return self.status()

    @property
    def clock(self) -> DeviceClock | None:
        """The device clock (gap/duplicate counters in ``clock.stats``)."""
        return self._clock

    # ------------------------------------------------------------------- internals ---
    def _set_state(self, state: BandState, reason: str | None = None) -> None:
        self._state = state
        if reason is not None or state in (BandState.STREAMING, BandState.CONNECTING):
            self._reason = reason
        evt, self._state_evt = self._state_evt, asyncio.Event()
        evt.set()

    def _enqueue(self, session: Session, kind: int, data: bytes | bytearray,
                 rx_ns: int | None = None) -> None:
        """The notification callback: copy, stamp (``rx_ns``: now), enqueue (drop-oldest)."""
        item = (session, kind, bytes(data), time.time_ns() if rx_ns is None else rx_ns)
        session.last_rx_mono = time.monotonic()
        if self._in.full():
            self._in.get_nowait()
            self.frames_dropped += 1
        self._in.put_nowait(item)

    async def _run(self) -> None:
        try:
            while not self._stopping:
                try:
                    await self._connect_and_stream()
                except Fatal as fatal:
                    self.error = fatal.error
                    self._reason = str(fatal.error)
                    break
                except BluetoothUnavailableError as exc:
                    if self.connections == 0:  # never worked here: tell the user now
                        self.error = exc
                        self._reason = str(exc)
                        break
                    self.last_error = exc  # adapter went away mid-session: keep trying
                    self._reason = str(exc)
                except SensorError as exc:
                    self.last_error = exc
                    self._reason = str(exc)
                    _LOG.info("%s: %s", self.device_id, exc)
                if self._stopping:
                    break
                self._attempt += 1
                lo, hi = self.backoff_s
                delay = min(hi, lo * 2 ** min(self._attempt - 1, 16))
                self._next_try_mono = time.monotonic() + delay
                self._set_state(BandState.RECONNECTING, self._reason or "link lost")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
        finally:
            self._set_state(BandState.STOPPED, self._reason or "stopped")
            await self._in.put(None)

    async def _resolve(self) -> object:
        if not isinstance(self._target, str):
            if self.family is None:
                self.family = match_advertisement(self._target.name, [])
            self._name = self._target.name
            return self._target
        self._set_state(BandState.SCANNING)
        found = await self.transport.find(self._target, self.scan_timeout_s)
        self._name = found.name
        if self.family is None:
            self.family = match_advertisement(self._name, list(found.service_uuids))
            if self.family is None:
                raise Fatal(ProtocolError(
                    f"{self._target} ({self._name or 'no name'}) is not a band movereg can read",
                    family="unknown", advice="`movereg scan` lists the bands movereg can read"))
        return found.device

    async def _connect_and_stream(self) -> None:
        device = await self._resolve()
        if self.family is None:
            raise Fatal(ProtocolError(f"cannot tell which kind of band {self.address} is",
                                       family="unknown", advice="pass the family explicitly"))
        self._set_state(BandState.CONNECTING)
        self._wake.clear()
        disconnected = asyncio.Event()

        def _on_disconnect() -> None:
            disconnected.set()
            self._wake.set()

        link = await self.transport.connect(device, disconnected_callback=_on_disconnect,
                                            max_attempts=self.connect_attempts)
        self.connections += 1
        session = Session(profile_for(self.family, self.config, name=self._name), link)
        self._session = session
        why = "link lost"
        try:
            await self._configure(session)
            self._set_state(BandState.STREAMING)
            self._attempt = 0
            why = await self._watch(session, disconnected)
        finally:
            await self._in.put((session, MARK, why.encode(), time.time_ns()))
            if link.is_connected and not disconnected.is_set():
                await self._send_stop(session)
                await link.disconnect()
            self._session = None
        if why == "protocol" and session.failure is not None:
            raise session.failure
        if why == "stall":
            raise ConnectionLostError(
                f"band {self.address} stopped sending data",
                advice="reconnecting; if it repeats, check the band's battery")
        if why == "disconnect":
            raise ConnectionLostError(f"link to band {self.address} dropped",
                                      advice="reconnecting; bring the band closer")

    async def _configure(self, session: Session) -> None:
        p, link = session.profile, session.link
        assert link is not None
        await link.start_notify(p.data_char_uuid, lambda d: self._enqueue(session, DATA, d))
        if p.reply_char_uuid and p.reply_char_uuid != p.data_char_uuid:
            await link.start_notify(p.reply_char_uuid, lambda d: self._enqueue(session, CTRL, d))
        await self._read_battery(session)
        for cmd in p.setup_commands():
            await self._command(session, cmd, required=False)
        await self._send_stop(session)  # STOP before START (Polar: avoids ALREADY IN STATE)
        for cmd in p.start_commands(self.config):
            await self._command(session, cmd, required=True)

    async def _send_stop(self, session: Session) -> None:
        for cmd in session.profile.stop_commands():
            with contextlib.suppress(SensorError, TimeoutError):
                await asyncio.wait_for(self._command(session, cmd, required=False),
                                       self.reply_timeout_s + 1)

    async def _command(self, session: Session, cmd: Command, *, required: bool) -> None:
        link = session.link
        assert link is not None
        while not session.replies.empty():
            session.replies.get_nowait()
        session.awaiting = cmd.expect_reply
        try:
            await link.write(cmd.char_uuid, cmd.data, response=cmd.response)
            if not cmd.expect_reply:
                return
            reply = await asyncio.wait_for(session.replies.get(), self.reply_timeout_s)
        except TimeoutError:
            if required:
                raise ConnectionLostError(
                    f"band {self.address} did not answer command {cmd.data.hex(' ')}",
                    advice="reconnecting; switch the band off and on if it repeats") from None
            return
        finally:
            session.awaiting = False
        try:
            session.profile.parse_reply(reply)
        except (ProtocolError, DecodeError):
            if required:
                raise

    def _watchdog_timeout(self, session: Session) -> float:
        if self.watchdog_s is not None:
            return self.watchdog_s
        if session.profile.family == DeviceFamily.INFINITIME:
            return 60.0  # notifies only when the values change: a still watch is quiet
        if session.frames == 0 or self._frame_interval_s is None:
            return 10.0
        return max(5.0, 10 * self._frame_interval_s)

    async def _read_battery(self, session: Session) -> None:
        """Read the standard Battery Level (0x2A19) when the band has it; the watch loop
        reads it again every :attr:`battery_interval_s` (a level that drains shows)."""
        link = session.link
        self._battery_read_mono = time.monotonic()
        if link is None or not link.has_char(BATTERY_LEVEL_UUID):
            return
        with contextlib.suppress(SensorError, TimeoutError):
            raw = await asyncio.wait_for(link.read(BATTERY_LEVEL_UUID), self.reply_timeout_s)
            self._battery = raw[0] if raw else self._battery

    async def _watch(self, session: Session, disconnected: asyncio.Event) -> str:
        session.last_rx_mono = time.monotonic()
        while True:
            if time.monotonic() - self._battery_read_mono >= self.battery_interval_s:
                await self._read_battery(session)
            if self._stopping:
                return "stopped"
            if disconnected.is_set():
                return "disconnect"
            if session.failure is not None:
                return "protocol"
            timeout = self._watchdog_timeout(session)
            idle = time.monotonic() - session.last_rx_mono
            if idle > timeout:
                _LOG.info("%s: no data for %.1f s; reconnecting", self.device_id, idle)
                return "stall"
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(1.0, timeout - idle + 0.01))

    async def _decode_loop(self) -> None:
        try:
            while True:
                item = await self._in.get()
                if item is None:
                    break
                session, kind, data, rx = item
                if kind == MARK:
                    if self._clock is not None:
                        self._clock.mark_disconnect("stall" if data == b"stall" else "disconnect")
                    continue
                p = session.profile
                if kind == CTRL or (p.reply_char_uuid == p.data_char_uuid and p.is_reply(data)):
                    if session.awaiting:
                        session.replies.put_nowait(data)
                    else:
                        self._unsolicited(session, data)
                    continue
                if self.raw_hook is not None:
                    try:
                        self.raw_hook(data, rx)
                    except Exception as exc:  # a full disk must not stop the stream
                        _LOG.warning("%s: raw capture stopped: %s", self.device_id, exc)
                        self.raw_hook = None
                block = self._decode(session, data, rx)
                if block is not None:
                    self._put_out(block)
        finally:
            self._put_out(None)

    def _unsolicited(self, session: Session, data: bytes) -> None:
        """A reply no command waits for (e.g. a Movesense subscribe result): check it."""
        try:
            session.profile.parse_reply(data)
        except ProtocolError as exc:
            session.failure = exc
            self._wake.set()
        except DecodeError as exc:
            _LOG.warning("%s: malformed reply ignored: %s", self.device_id, exc)

    def _put_out(self, item: SampleBlock | None) -> None:
        """Hand a block to the consumer without ever blocking (drop-oldest, counted)."""
        if self._out.full():
            self._out.get_nowait()
            self.blocks_dropped += 1
            if self.blocks_dropped == 1:
                _LOG.warning("%s: nobody is reading the blocks; dropping the oldest",
                             self.device_id)
        self._out.put_nowait(item)

    def _decode(self, session: Session, data: bytes, rx: int) -> SampleBlock | None:
        try:
            raw = session.profile.decode(data)
        except DecodeError as exc:
            self.decode_errors += 1
            _LOG.warning("%s: undecodable frame skipped: %s", self.device_id, exc)
            return None
        clock = self._clock
        if clock is None or clock.fs_hz != raw.fs_hz:
            clock = self._clock = DeviceClock(self.device_id, raw.fs_hz,
                                              session.profile.has_device_time,
                                              **self.clock_options)
        session.frames += 1
        if raw.n:
            self._frame_interval_s = raw.n / raw.fs_hz
        block = clock.push(raw, rx)
        if block is not None:
            self._last_data_ns = block.t_end_ns
            self._rate_window.add(rx, block.n)
        return block
