"""MetaWear / MetaMotion on-band logging: :class:`MetaWearLogger` (an ``OfflineRecorder``).

The band logs its accelerometer into flash through the logging module (``0x0B``; codecs
in :mod:`movereg.sensors.decoders.metawear_log`); movereg downloads the log into one
``.mwlog`` file (:mod:`movereg.recordings.mwlog`) that ``open_recording`` reads. Commands
and replies go through a :class:`~movereg.sensors.metawear_channel.MetaWearChannel`.

What a "recording" is here. The logging module keeps ONE first-in-first-out log and
has no index: where a logging span or a board reset begins is only known after reading
every entry. So :meth:`MetaWearLogger.list_recordings` names at most one recording: the
oldest ``n`` entries the band holds at list time (``n`` from the LENGTH register, even,
so a sample's two entries stay together), identified by the first entry's reset_uid and
tick and by ``n`` — stable, and never reused for other data because ``remove`` drops
exactly those ``n`` oldest entries (REMOVE_ENTRIES). Reset epochs and logging spans
inside it become separate, gap-separated segments of the file.

Clock. MetaWear boards have no settable wall clock: :meth:`set_clock` reads the tick
and reset_uid (TIME register) and keeps the (tick, reset_uid) <-> UTC reference in a
:class:`ClockBook` (per process, optionally a JSON file); every download stores all the
references known for the band plus one taken at download time.

Download. READOUT always starts at the oldest entry (the protocol has no offset), so a
transfer cut by a disconnect is restarted from the beginning: the ``.part`` file is
discarded, and nothing is doubled. Entries stay on the band until :meth:`remove`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from movereg.errors import DecodeError, ProtocolError
from movereg.models import DeviceFamily
from movereg.sensors.decoders import metawear_log as ml
from movereg.sensors.decoders.metawear import (
    BMI160,
    LSB_PER_G,
    acc_config_command,
    acc_config_from_reply,
    chip_from_reply,
)
from movereg.sensors.decoders.metawear_log import MWLOG_SUFFIX, TimeRef, write_mwlog_header
from movereg.sensors.links import BATTERY_LEVEL_UUID, Link
from movereg.sensors.metawear_channel import MetaWearChannel
from movereg.sensors.metawear_logging_clock import ClockBook, default_book, use_clock_book
from movereg.sensors.offline import (
    RECORDERS,
    BandMemoryFullError,
    BandRecording,
    RecorderStatus,
    TransferProgress,
    partial_path,
)

__all__ = ["ENTRY_FLASH_BYTES", "FLASH_BYTES", "MODEL_NUMBER_UUID", "RATES_HZ", "ClockBook",
           "MetaWearLogger", "bytes_per_hour", "use_clock_book"]

FAMILY = DeviceFamily.METAWEAR.value
#: Device Information Service, model number string
MODEL_NUMBER_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
#: DIS model number -> (model name, recording flash bytes); MetaMotion R/RL/C 8 MB,
#: MetaMotion S 512 MB (MbientLab product pages; check on the board you buy)
FLASH_BYTES = {"5": ("MetaMotion R", 8 << 20), "6": ("MetaMotion C", 8 << 20),
               "8": ("MetaMotion S", 512 << 20)}
#: flash bytes one log entry takes (8 MB ≈ 2.8 h at 50 Hz: 2 entries a sample)
ENTRY_FLASH_BYTES = 8
#: accelerometer rates movereg records at on the band, Hz
RATES_HZ = (12.5, 25.0, 50.0, 100.0)
_RANGE_G = 8.0
_ACC = 0x03
_ACC_DATA = (_ACC, 0x04, 0xFF)  # accelerometer data signal: module, register, data id
_XY, _Z = (0, 4), (4, 2)  # (offset, length) of the two loggers of one sample
_POLL_S = 0.25  # how often a readout checks that the link is still up, s
_MIN_FREE_MIN = 1.0  # refuse a start with less than this many minutes of free flash


def bytes_per_hour(rate_hz: float) -> float:
    """Flash one hour of raw logging takes at ``rate_hz``, bytes (2 entries a sample)."""
    return rate_hz * 3600.0 * 2 * ENTRY_FLASH_BYTES


class MetaWearLogger:
    """On-band logging of a MetaWear/MetaMotion over one open link (see module doc).

    Parameters
    ----------
    link
        An open link to the band.
    device_id
        movereg's id of the band.
    book
        Where clock references live (default: the process-wide book,
        :func:`~movereg.sensors.metawear_logging_clock.use_clock_book`).
    reply_timeout_s
        How long to wait for a reply or for the next readout notification, s.
    clock
        The host's UTC clock, ns (tests pass the emulated band's).
    flash_bytes
        The board's log flash, bytes, when known better than :data:`FLASH_BYTES` (by
        model number) says.
    """

    family = DeviceFamily.METAWEAR

    def __init__(self, link: Link, device_id: str, *, book: ClockBook | None = None,
                 reply_timeout_s: float = 5.0,
                 clock: Callable[[], int] = time.time_ns,
                 flash_bytes: int | None = None) -> None:
        self.link = link
        self.device_id = device_id
        self.book = book or default_book()
        self.timeout_s = reply_timeout_s
        self._clock = clock
        self._flash = flash_bytes
        self._chip: str | None = None
        self._ch = MetaWearChannel(link, device_id, reply_timeout_s)

    # -- facts ------------------------------------------------------------------------
    def rates_hz(self) -> tuple[float, ...]:
        """Accelerometer rates movereg logs at, Hz."""
        return RATES_HZ

    async def _chip_name(self) -> str:
        if self._chip is None:
            self._chip = chip_from_reply(await self._ch.ask(bytes([_ACC, 0x80]))) or BMI160
        return self._chip

    async def _acc_config(self) -> tuple[float, float]:
        return acc_config_from_reply(await self._chip_name(),
                                     await self._ch.ask(bytes([_ACC, 0x83])))

    async def _model(self) -> tuple[str, int | None]:
        if self.link.has_char(MODEL_NUMBER_UUID):
            num = (await self.link.read(MODEL_NUMBER_UUID)).decode("ascii", "replace").strip()
            name, flash = FLASH_BYTES.get(num, (f"MetaWear model {num}", None))
            return name, self._flash or flash
        return "MetaWear", self._flash

    async def _battery(self) -> int | None:
        if self.link.has_char(BATTERY_LEVEL_UUID):
            b = await self.link.read(BATTERY_LEVEL_UUID)
            return int(b[0]) if b else None
        return None

    async def _length(self) -> int:
        return ml.parse_length_reply(await self._ch.ask(bytes([ml.LOGGING, ml.READ | ml.LENGTH])))

    async def _time(self) -> tuple[int, int]:
        return ml.parse_time_reply(await self._ch.ask(bytes([ml.LOGGING, ml.READ | ml.TIME])))

    async def _loggers(self) -> dict[tuple[int, int], int]:
        """(offset, length) -> logger id of the accelerometer loggers on the board."""
        info = await self._ch.ask(bytes([ml.LOGGING, 0x80]))
        slots = info[4] if len(info) > 4 else 8
        out: dict[tuple[int, int], int] = {}
        for i in range(min(slots, 32)):
            src = ml.parse_logger_query(await self._ch.ask(bytes([ml.LOGGING, ml.READ | ml.TRIGGER,
                                                               i])))
            if src is not None and src[:3] == _ACC_DATA:
                out.setdefault((src[3], src[4]), i)
        return out

    # -- OfflineRecorder --------------------------------------------------------------
    async def status(self) -> RecorderStatus:
        """Logging state, flash used/free (from the entry count) and battery."""
        on = await self._enabled()
        used = await self._length() * ENTRY_FLASH_BYTES
        _, flash = await self._model()
        rate = (await self._acc_config())[0] if on else None
        return RecorderStatus(recording=on, rate_hz=rate,
                              free_bytes=None if flash is None else max(0, flash - used),
                              total_bytes=flash, battery_pct=await self._battery(),
                              bytes_per_hour=bytes_per_hour(rate or 50.0))

    async def set_clock(self, utc_ns: int) -> None:
        """Keep the board's (tick, reset_uid) <-> ``utc_ns`` reference.

        A MetaWear has no settable wall clock; the reference is what later places the
        entries of this reset epoch in UTC.
        """
        t_call = time.monotonic_ns()
        tick, uid = await self._time()
        self.book.add(self.device_id,
                      TimeRef(uid, tick, utc_ns + (time.monotonic_ns() - t_call) // 2, "start"))

    async def start_recording(self, rate_hz: float) -> None:
        """Configure the accelerometer (±8 g), add its two loggers, start logging.

        Raises BandMemoryFullError with less than a minute of free flash at the rate, and
        ProtocolError for another rate than the one the entries still on the band were
        logged at (one file has one rate: sync and remove them first).
        """
        if rate_hz not in RATES_HZ:
            raise ProtocolError(f"MetaWear logs at {', '.join(map(str, RATES_HZ))} Hz, not "
                                f"{rate_hz}", family=FAMILY, advice="pick one of these rates")
        st = await self.status()
        if st.free_bytes is not None and st.free_bytes < bytes_per_hour(rate_hz) * (
                _MIN_FREE_MIN / 60):
            raise BandMemoryFullError(
                f"MetaWear {self.device_id} has {st.free_bytes} bytes of free flash",
                family=FAMILY, advice="sync the band's recordings and remove them first")
        if await self._length():
            was = (await self._acc_config())[0]
            if was != rate_hz:
                raise ProtocolError(
                    f"MetaWear {self.device_id} holds entries logged at {was} Hz",
                    family=FAMILY, advice=f"sync the band before recording at {rate_hz} Hz")
        await self.set_clock(self._clock())
        await self._ch.send(acc_config_command(await self._chip_name(), rate_hz, _RANGE_G))
        have = await self._loggers()
        for off, ln in (_XY, _Z):
            if (off, ln) not in have:
                ml.parse_trigger_reply(await self._ch.ask(ml.add_logger_command(
                    *_ACC_DATA, off, ln)))
        await self._ch.send(ml.simple_command(ml.CIRCULAR_BUFFER, 0))  # stop when full
        await self._ch.send(ml.simple_command(ml.ENABLE, 1))
        await self._ch.send(bytes([_ACC, 0x02, 0x01, 0x00]))
        await self._ch.send(bytes([_ACC, 0x01, 0x01]))
        if not await self._enabled():  # a round trip: the writes above have been handled
            raise ProtocolError(f"MetaWear {self.device_id} did not start logging",
                                family=FAMILY, advice="reconnect the band and try again")

    async def stop_recording(self) -> None:
        """Accelerometer off, logging off (the entries stay on the band)."""
        await self._ch.send(bytes([_ACC, 0x01, 0x00]))
        await self._ch.send(bytes([_ACC, 0x02, 0x00, 0x01]))
        await self._ch.send(ml.simple_command(ml.ENABLE, 0))
        if await self._enabled():
            raise ProtocolError(f"MetaWear {self.device_id} did not stop logging",
                                family=FAMILY, advice="reconnect the band and try again")

    async def _enabled(self) -> bool:
        return ml.parse_enable_reply(await self._ch.ask(bytes([ml.LOGGING, ml.READ | ml.ENABLE])))

    async def _first_entry(self) -> tuple[ml.EntryLayout, ml.LogEntry] | None:
        got: list[bytes] = []
        done = asyncio.Event()

        def sink(b: bytes) -> None:
            if b[1] == ml.READOUT_NOTIFY:
                got.append(b)
            elif b[1] == ml.PAGE_COMPLETED:
                self._ch.confirm_page()
            elif b[1] == ml.READOUT_PROGRESS and b[2:] == b"\0" * (len(b) - 2):
                done.set()

        await self._ch.readout_setup()
        self._ch.sink = sink
        try:
            await self._ch.send(ml.readout_command(1, 1))
            await self._ch.wait(done)
        finally:
            self._ch.sink = None
        if not got:
            return None
        lay, entries = ml.parse_readout(got[0])
        return lay, entries[0]

    async def list_recordings(self) -> list[BandRecording]:
        """The band's log as one recording: its oldest even number of entries."""
        n = await self._length() & ~1
        if n == 0:
            return []
        first = await self._first_entry()
        if first is None:
            return []
        lay, e = first
        started = self._started(e, lay)
        rid = f"{self.device_id}/log/{e.reset_uid}-{e.tick}-{n}"
        return [BandRecording(rid, started, n * lay.size, (f"entries 0..{n - 1}",),
                              MWLOG_SUFFIX)]

    def _started(self, e: ml.LogEntry, lay: ml.EntryLayout) -> int | None:
        """UTC of the first entry from the newest start reference of its epoch (a 24-bit
        tick is taken as the first one at or after the reference), else None."""
        for r in reversed(self.book.refs(self.device_id)):
            if r.reset_uid != e.reset_uid or r.kind != "start":
                continue
            if lay.tick_bits == 32 and r.tick > e.tick:
                continue  # a reference from after this entry (or another epoch)
            return round(r.utc_ns + ((e.tick - r.tick) % lay.tick_mod) * ml.TICK_NS)
        return None

    @staticmethod
    def _parse_id(rec: BandRecording) -> tuple[int, int, int]:
        try:
            uid, tick, n = (int(x) for x in rec.recording_id.rsplit("/", 1)[1].split("-"))
        except (IndexError, ValueError) as exc:
            raise ProtocolError(f"{rec.recording_id!r} is not a MetaWear log recording",
                                family=FAMILY) from exc
        return uid, tick, n

    async def _check_head(self, rec: BandRecording) -> bool:
        """True when the band still starts with ``rec`` (its first entry, >= n entries)."""
        uid, tick, n = self._parse_id(rec)
        if await self._length() < n:
            return False
        first = await self._first_entry()
        return first is not None and (first[1].reset_uid, first[1].tick) == (uid, tick)

    async def download(self, rec: BandRecording, dest: Path,
                       progress: TransferProgress | None = None) -> Path:
        """Read the recording's ``n`` oldest entries into one ``.mwlog`` file at ``dest``.

        Writes ``dest.part`` as entries arrive and renames when all ``n`` came in; a
        ``.part`` left by a dropped link is discarded (READOUT restarts at the oldest
        entry), so nothing is doubled.
        """
        _, _, n = self._parse_id(rec)
        if not await self._check_head(rec):
            raise ProtocolError(f"the band no longer holds {rec.recording_id}",
                                family=FAMILY, advice="list the band's recordings again")
        chip = await self._chip_name()
        rate, rng = await self._acc_config()
        loggers = await self._loggers()
        if _XY not in loggers or _Z not in loggers:
            raise ProtocolError("the band's accelerometer loggers are gone; its entries "
                                "cannot be told apart", family=FAMILY)
        part = partial_path(dest)
        _discard(part)  # READOUT restarts at the oldest entry: an old .part is useless
        layout = await self._readout(n, part, progress)
        tick, uid = await self._time()
        refs = [*self.book.refs(self.device_id), TimeRef(uid, tick, self._clock(), "download")]
        model, flash = await self._model()
        head = write_mwlog_header({
            "device_id": self.device_id, "model": model, "flash_bytes": flash, "chip": chip,
            "entry_size": layout.size, "range_g": rng, "rate_hz": rate,
            "lsb_per_g": LSB_PER_G[int(rng)], "logger_xy": loggers[_XY],
            "logger_z": loggers[_Z], "n_entries": n, "downloaded_utc_ns": refs[-1].utc_ns,
            "time_refs": [dataclasses.asdict(r) for r in refs],
            "recording_id": rec.recording_id})
        _finish(part, dest, head)
        return dest

    async def _readout(self, n: int, part: Path, progress: TransferProgress | None
                       ) -> ml.EntryLayout:
        state: dict[str, Any] = {"layout": None, "got": 0, "err": None, "next": 0}
        step = max(1, n // 200)  # progress at most ~200 times a download
        done = asyncio.Event()
        arrived = asyncio.Event()
        out = part.open("wb")

        def sink(b: bytes) -> None:
            arrived.set()
            try:
                if b[1] == ml.READOUT_NOTIFY:
                    lay, entries = ml.parse_readout(b, state["layout"])
                    state["layout"] = lay
                    out.write(b[2:])
                    state["got"] += len(entries)
                    if progress is not None and (state["got"] >= state["next"]
                                                 or state["got"] == n):
                        state["next"] = state["got"] + step
                        progress(state["got"] * lay.size, n * lay.size)
                elif b[1] == ml.PAGE_COMPLETED:
                    self._ch.confirm_page()
                elif b[1] == ml.READOUT_PROGRESS and ml.parse_progress(b) == 0:
                    done.set()
            except DecodeError as exc:
                state["err"] = exc
                done.set()

        try:
            await self._ch.readout_setup()
            self._ch.sink = sink
            await self._ch.send(ml.readout_command(n, max(1, n // 50)))
            quiet = 0.0
            while not done.is_set():
                arrived.clear()
                try:
                    await asyncio.wait_for(arrived.wait(), _POLL_S)
                    quiet = 0.0
                except TimeoutError as exc:
                    quiet += _POLL_S
                    if quiet >= self.timeout_s or not self.link.is_connected:
                        raise self._ch.silent(ml.readout_command(n)) from exc
        finally:
            self._ch.sink = None
            out.close()
        if state["err"] is not None:
            _discard(part)
            raise state["err"]
        if state["got"] != n or state["layout"] is None:
            _discard(part)
            raise ProtocolError(f"readout ended after {state['got']} of {n} entries",
                                family=FAMILY, advice="sync again; nothing was removed")
        layout: ml.EntryLayout = state["layout"]
        return layout

    async def remove(self, rec: BandRecording) -> None:
        """Drop the recording's ``n`` oldest entries (REMOVE_ENTRIES).

        When the band no longer starts with the recording (already removed) nothing is
        sent, so a repeated remove never deletes newer entries.
        """
        _, _, n = self._parse_id(rec)
        if not await self._check_head(rec):
            return
        await self._ch.send(ml.remove_entries_command(n))
        await self._length()  # a round trip: the removal is done when this answers


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    partial_path(part).unlink(missing_ok=True)  # a cut-off _finish


def _finish(part: Path, dest: Path, head: bytes) -> None:
    """Header + the entries in ``part`` -> ``dest`` (via a second ``.part``, streamed)."""
    whole = partial_path(part)
    with open(whole, "wb") as out, open(part, "rb") as body:
        out.write(head)
        shutil.copyfileobj(body, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
    os.replace(whole, dest)
    part.unlink(missing_ok=True)


def _factory(link: Link, device_id: str) -> MetaWearLogger:
    return MetaWearLogger(link, device_id)


RECORDERS[DeviceFamily.METAWEAR] = _factory
