"""``PolarOfflineRecorder``: :class:`~movereg.sensors.offline.OfflineRecorder` for Polar
Verity Sense (and Polar 360 / Loop) bands over one :class:`~movereg.sensors.links.Link`.

* start / stop: the PMD control point with the offline bit (``02 82 …``, ``03 82``);
  recording state from the PMD status command (``05``);
* clock: file-transfer queries SET_SYSTEM_TIME and SET_LOCAL_TIME (UTC, offset 0: the
  band's clock, and so every ``.REC`` time, is UTC);
* free memory: the GET_DISK_SPACE query; battery: the standard Battery Service;
* list: ``/PMDFILES.TXT`` (newer firmware) or a walk of ``/U/0/YYYYMMDD/R/HHMMSS/``;
* download: every ``ACC<k>.REC`` part into one ``.polarrec`` container (``dest`` +
  ``.part`` first, whole parts only, then renamed), resumed after the last whole part
  when a link drop cut a transfer;
* remove: the parts, then the recording's directory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import time
from pathlib import Path

from movereg.errors import ConnectionLostError, DecodeError, ProtocolError
from movereg.models import DeviceFamily
from movereg.sensors.decoders.polar_pmd import (
    PMD_CP_UUID,
    MeasurementType,
    PmdOp,
    PmdSetting,
    parse_cp_response,
    start_command,
)
from movereg.sensors.links import BATTERY_LEVEL_UUID, Link
from movereg.sensors.offline import (
    RECORDERS,
    BandBusyError,
    BandMemoryFullError,
    BandRecording,
    RecorderStatus,
    RecordingNotReadyError,
    TransferProgress,
    partial_path,
)
from movereg.sensors.polar_offline.band import OFFLINE_RATES_HZ
from movereg.sensors.polar_offline.pftp import (
    PFTP_ERRORS,
    PFTP_MTU_UUID,
    DirEntry,
    Op,
    PftpError,
    Query,
    Rfc76Assembler,
    decode_directory,
    decode_disk_space,
    encode_local_time,
    encode_operation,
    encode_system_time,
    rfc60_query,
    rfc60_request,
    rfc76_packets,
)
from movereg.sensors.polar_offline.recfile import (
    CONTAINER_SUFFIX,
    container_header,
    container_record,
    parse_container,
    parse_rec,
)

__all__ = ["BYTES_PER_SAMPLE", "PolarOfflineRecorder"]

FAMILY = DeviceFamily.POLAR_PMD.value
#: Memory one ACC sample takes in a .REC file (delta frames of wrist movement; the
#: simulated band measures ~4.0 B); an estimate for "hours that fit", not a promise.
BYTES_PER_SAMPLE = 4.0
_ACC_OFFLINE = 0x80 | MeasurementType.ACC
_PART = re.compile(r"^ACC(\d*)\.REC$")
_DAY = re.compile(r"^\d{8}/$")
_TIME = re.compile(r"^\d{6}\d*/$")
_BUSY = (PftpError.SYSTEM_BUSY, PftpError.WAIT_FOR_IDLING, PftpError.TRY_AGAIN,
         PftpError.REBOOTING)
_CP_ADVICE = {
    6: "the band already records; stop it first",
    8: "record at 13, 26 or 52 Hz",
    12: "the band is busy (streaming ACC or recording); stop that first",
    13: "take the band off its charger",
    14: "the band's memory is full; sync and remove recordings first",
}


def _part_key(name: str) -> int:
    m = _PART.match(name)
    return int(m.group(1)) if m and m.group(1) else -1


def _started_ns(recording_id: str) -> int | None:
    """UTC ns from ``/U/0/YYYYMMDD/R/HHMMSS/`` (the band clock, set in UTC)."""
    m = re.search(r"/(\d{8})/R/(\d{6})\d*/$", recording_id)
    if not m:
        return None
    try:
        t = dt.datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return int(t.replace(tzinfo=dt.UTC).timestamp()) * 1_000_000_000


class PolarOfflineRecorder:
    """Offline ACC recording on a Polar band (see module doc).

    Parameters
    ----------
    link
        An open link to the band.
    device_id
        movereg's id of the band (written into downloaded files).
    timeout_s
        Seconds without a packet from the band before a request counts as lost.
    """

    family = DeviceFamily.POLAR_PMD

    def __init__(self, link: Link, device_id: str, *, timeout_s: float = 10.0) -> None:
        self.link = link
        self.device_id = device_id
        self.timeout_s = timeout_s
        self._rx = Rfc76Assembler()
        self._lock = asyncio.Lock()
        self._subscribed = False
        self._pending: asyncio.Future[bytes] | None = None
        self._cp_pending: asyncio.Future[bytes] | None = None
        self._last_rx = 0.0
        self._received = 0
        self._progress: TransferProgress | None = None
        self._progress_base = (0, 0)
        self._rate: float | None = None

    # ---- plumbing ----------------------------------------------------------------
    def rates_hz(self) -> tuple[float, ...]:
        """13, 26 and 52 Hz (offline ACC on a Verity Sense)."""
        return tuple(float(r) for r in OFFLINE_RATES_HZ)

    async def _ensure(self) -> None:
        if self._subscribed:
            return
        if not self.link.has_char(PFTP_MTU_UUID):
            raise ProtocolError("this Polar band has no file-transfer service", family=FAMILY,
                                advice="offline recording needs a Verity Sense with "
                                       "firmware 2.1 or later (or a Polar 360 / Loop)")
        await self.link.start_notify(PFTP_MTU_UUID, self._on_pftp)
        await self.link.start_notify(PMD_CP_UUID, self._on_cp)
        self._subscribed = True

    def _on_pftp(self, data: bytes) -> None:
        fut = self._pending
        self._last_rx = time.monotonic()
        if fut is None or fut.done():
            return
        try:
            got = self._rx.feed(bytes(data))
        except DecodeError as exc:
            fut.set_exception(exc)
            return
        self._received += max(0, len(data) - 1)
        if self._progress is not None:
            done, total = self._progress_base
            self._progress(done + self._received, total)
        if got is None:
            return
        code, message = got
        if code:
            fut.set_exception(_PftpRefused(code))
        else:
            fut.set_result(message)

    def _on_cp(self, data: bytes) -> None:
        fut = self._cp_pending
        if fut is not None and not fut.done() and bytes(data[:1]) == b"\xf0":
            fut.set_result(bytes(data))

    async def _wait(self, fut: asyncio.Future[bytes]) -> bytes:
        self._last_rx = time.monotonic()
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(fut), 0.1)
            except TimeoutError:
                pass
            if not self.link.is_connected:
                fut.cancel()
                raise ConnectionLostError(f"band {self.link.address} went out of range "
                                          "during a transfer",
                                          advice="bring the band closer; the next sync "
                                                 "continues where this one stopped")
            if time.monotonic() - self._last_rx > self.timeout_s:
                fut.cancel()
                raise ConnectionLostError(f"band {self.link.address} stopped answering",
                                          advice="bring the band closer and sync again")

    async def _pftp(self, message: bytes) -> bytes:
        async with self._lock:
            await self._ensure()
            self._rx.reset()
            self._received = 0
            fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self._pending = fut
            try:
                packets, _ = rfc76_packets(message, 20)
                for p in packets:
                    await self.link.write(PFTP_MTU_UUID, p, response=True)
                return await self._wait(fut)
            finally:
                self._pending = None

    async def _cp(self, command: bytes) -> bytes:
        async with self._lock:
            await self._ensure()
            fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            self._cp_pending = fut
            try:
                await self.link.write(PMD_CP_UUID, command, response=True)
                return await self._wait(fut)
            finally:
                self._cp_pending = None

    async def _get(self, path: str) -> bytes:
        return await self._pftp(rfc60_request(encode_operation(Op.GET, path)))

    async def _query(self, query: Query, params: bytes = b"") -> bytes:
        return await self._pftp(rfc60_query(query, params))

    # ---- control -----------------------------------------------------------------
    async def status(self) -> RecorderStatus:
        """Recording state (PMD status), free memory (disk-space query), battery."""
        try:
            reply = parse_cp_response(await self._cp(bytes([PmdOp.GET_STATUS])))
            recording = reply.ok and any(
                (b & 0x3F) == MeasurementType.ACC and (b >> 6) & 0b10 for b in reply.params)
            space = decode_disk_space(await self._query(Query.GET_DISK_SPACE))
        except _PftpRefused as exc:
            raise _mapped(exc.code, "read the band's memory") from None
        battery = None
        if self.link.has_char(BATTERY_LEVEL_UUID):
            raw = await self.link.read(BATTERY_LEVEL_UUID)
            battery = int(raw[0]) if raw else None
        if not recording:
            self._rate = None
        rate = self._rate if recording else None
        per_hour = (rate or 52.0) * 3600 * BYTES_PER_SAMPLE
        return RecorderStatus(recording=recording, rate_hz=rate, free_bytes=space.free_bytes,
                              total_bytes=space.total_bytes, battery_pct=battery,
                              bytes_per_hour=per_hour)

    async def set_clock(self, utc_ns: int) -> None:
        """Set the band's system time (UTC) and local time (UTC, offset 0)."""
        try:
            await self._query(Query.SET_SYSTEM_TIME, encode_system_time(utc_ns))
            await self._query(Query.SET_LOCAL_TIME, encode_local_time(utc_ns, 0))
        except _PftpRefused as exc:
            raise _mapped(exc.code, "set the band's clock") from None

    def _check_cp(self, raw: bytes, what: str, ok: tuple[int, ...] = (0,)) -> None:
        resp = parse_cp_response(raw)
        if resp.status in ok:
            return
        advice = _CP_ADVICE.get(resp.status, "update movereg or the band's firmware")
        msg = f"the Polar band refused to {what}: {resp.status_name} (status {resp.status})"
        if resp.status == 14:
            raise BandMemoryFullError(msg, family=FAMILY, code=14, advice=advice)
        if resp.status == 12:
            raise BandBusyError(msg, family=FAMILY, code=12, advice=advice)
        raise ProtocolError(msg, family=FAMILY, code=resp.status, advice=advice)

    async def start_recording(self, rate_hz: float) -> None:
        """Start offline ACC at 13, 26 or 52 Hz (16 bit, ±8 g, 3 channels)."""
        rate = round(rate_hz)
        if rate not in OFFLINE_RATES_HZ or abs(rate - rate_hz) > 1e-6:
            raise ProtocolError(f"a Polar band records at 13, 26 or 52 Hz, not {rate_hz:g}",
                                family=FAMILY, advice="pick 13, 26 or 52 Hz")
        cmd = start_command([(PmdSetting.SAMPLE_RATE, rate), (PmdSetting.RESOLUTION, 16),
                             (PmdSetting.RANGE, 8), (PmdSetting.CHANNELS, 3)],
                            MeasurementType.ACC, offline=True)
        self._check_cp(await self._cp(cmd), f"start recording at {rate} Hz")
        self._rate = float(rate)

    async def stop_recording(self) -> None:
        """Stop offline ACC (no-op when the band does not record)."""
        self._check_cp(await self._cp(bytes([PmdOp.STOP, _ACC_OFFLINE])), "stop recording",
                       ok=(0, 6, 12))
        self._rate = None

    # ---- files -------------------------------------------------------------------
    async def _listdir(self, path: str) -> list[DirEntry]:
        try:
            return decode_directory(await self._get(path))
        except _PftpRefused as exc:
            if exc.code == PftpError.NO_SUCH_FILE_OR_DIRECTORY:
                return []
            raise _mapped(exc.code, f"list {path}") from None

    async def _from_pmdfiles(self) -> dict[str, dict[str, int]] | None:
        try:
            raw = await self._get("/PMDFILES.TXT")
        except _PftpRefused as exc:
            if exc.code == PftpError.NO_SUCH_FILE_OR_DIRECTORY:
                return None
            raise _mapped(exc.code, "list the band's recordings") from None
        out: dict[str, dict[str, int]] = {}
        for line in raw.decode("utf-8", "replace").splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[0].isdigit():
                continue
            d, _, name = parts[1].rpartition("/")
            if _PART.match(name) and d.startswith("/U/"):
                out.setdefault(d + "/", {})[name] = int(parts[0])
        return out

    async def _walk(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for day in await self._listdir("/U/0/"):
            if not _DAY.match(day.name):
                continue
            if not any(e.name == "R/" for e in await self._listdir(f"/U/0/{day.name}")):
                continue
            base = f"/U/0/{day.name}R/"
            for tdir in await self._listdir(base):
                if not _TIME.match(tdir.name):
                    continue
                path = base + tdir.name
                out[path] = {e.name: e.size for e in await self._listdir(path)
                             if _PART.match(e.name)}
        return out

    async def list_recordings(self) -> list[BandRecording]:
        """Recordings on the band, oldest first (parts sorted ACC.REC, ACC0, ACC1…)."""
        found = await self._from_pmdfiles()
        if not found:
            found = await self._walk()
        out = []
        for path, parts in sorted(found.items()):
            names = tuple(sorted(parts, key=_part_key))
            out.append(BandRecording(path, _started_ns(path), sum(parts.values()), names,
                                     CONTAINER_SUFFIX))
        return out

    def _resume(self, part_file: Path, meta: dict[str, object]) -> tuple[int, int]:
        """(whole parts, their bytes) already in ``part_file`` for this recording."""
        if part_file.exists():
            try:
                c = parse_container(part_file.read_bytes())
            except DecodeError:
                c = None
            if c is not None and all(c.meta.get(k) == meta[k] for k in
                                     ("recording_id", "device_id", "parts")):
                with open(part_file, "r+b") as fh:
                    fh.truncate(c.whole_length)
                return len(c.parts), sum(len(p) for p in c.parts)
        with open(part_file, "wb") as fh:
            fh.write(container_header(meta))
            fh.flush()
            os.fsync(fh.fileno())
        return 0, 0

    async def download(self, rec: BandRecording, dest: Path,
                       progress: TransferProgress | None = None) -> Path:
        """Every part of ``rec`` into one ``.polarrec`` file at ``dest`` (see module doc)."""
        dest = Path(dest)
        parts = rec.parts or ("ACC0.REC",)  # nothing listed yet: the band answers 103
        meta: dict[str, object] = {"recording_id": rec.recording_id, "device_id": self.device_id,
                                   "parts": list(parts), "started_utc_ns": rec.started_utc_ns,
                                   "family": FAMILY}
        tmp = partial_path(dest)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        have, done = self._resume(tmp, meta)
        total = max(rec.size_bytes, 1)
        for name in parts[have:]:
            self._progress, self._progress_base = progress, (done, total)
            try:
                data = await self._get(rec.recording_id + name)
            except _PftpRefused as exc:
                raise _mapped(exc.code, f"send {rec.recording_id}{name}") from None
            finally:
                self._progress = None
            parse_rec(data)  # a part that does not parse is not kept
            _append(tmp, container_record(data))
            done += len(data)
        c = parse_container(tmp.read_bytes())
        if len(c.parts) != len(parts) or c.trailing:
            raise DecodeError(f"{tmp.name}: {len(c.parts)} of {len(parts)} parts after the "
                              "transfer", family=FAMILY, length=c.whole_length, offset=0)
        os.replace(tmp, dest)
        if progress is not None:
            progress(total, total)
        return dest

    async def remove(self, rec: BandRecording) -> None:
        """Remove the recording's parts, then its directory."""
        for path in [rec.recording_id + p for p in rec.parts] + [rec.recording_id]:
            try:
                await self._pftp(rfc60_request(encode_operation(Op.REMOVE, path)))
            except _PftpRefused as exc:
                if exc.code != PftpError.NO_SUCH_FILE_OR_DIRECTORY:
                    raise _mapped(exc.code, f"remove {path}") from None


def _append(path: Path, data: bytes) -> None:
    """Append and fsync (a whole part at a time)."""
    with open(path, "ab") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class _PftpRefused(Exception):
    """The band answered a file-transfer request with an error code (internal)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _mapped(code: int, what: str) -> ProtocolError:
    """The seam's exception for a PFTP error code, with advice."""
    try:
        name = PftpError(code).name
    except ValueError:
        name = f"error {code}"
    msg = f"the Polar band could not {what}: {name} ({code})"
    advice = PFTP_ERRORS.get(code, "update movereg or the band's firmware")
    if code == PftpError.NO_SUCH_FILE_OR_DIRECTORY:
        return RecordingNotReadyError(msg, family=FAMILY, code=code, advice=advice)
    if code in _BUSY:
        return BandBusyError(msg, family=FAMILY, code=code, advice=advice)
    if code == PftpError.DISK_FULL:
        return BandMemoryFullError(msg, family=FAMILY, code=code, advice=advice)
    return ProtocolError(msg, family=FAMILY, code=code, advice=advice)


RECORDERS[DeviceFamily.POLAR_PMD] = PolarOfflineRecorder
