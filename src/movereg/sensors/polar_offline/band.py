"""A Polar band that records on its own: a pure state machine, no Bluetooth, no I/O.

:class:`PolarBandModel` is what the band does (PMD offline start/stop/status on the
control point, the file-transfer server, memory accounting, the ~5-minute write buffer);
:class:`PftpServer` puts RFC76 framing around its file-transfer side. Both the Bumble
emulated peripheral in the tests and the demo's simulated band (:mod:`..sim_link`) drive
one model, so the recorder meets the same band in both.

Time: the model reads ``clock()`` (host UTC ns; tests and the demo pass a clock they can
move forward) and catches up lazily whenever it is asked anything: the samples a
recording took since the last question are encoded as PMD delta frames (36 samples per
frame), held in a buffer, and written to ``ACC<k>.REC`` once the buffer is
``flush_s`` (default 300 s) old, as the public SDK documentation describes ("up to five
minutes"). A part grows up to ``part_max_bytes`` and then the next part starts.

Behaviour from Polar's public documentation (SdkOfflineRecordingExplained.md): the band
never deletes by itself; a start below memory limit 1 (2 MB on a Verity Sense) is
refused with DISK FULL; below limit 2 (300 KB) the recording stops; a file read before
it is written gives PFTP error 103. What the band does when ``busy`` (error 202), its
memory size (``total_bytes``, default 16 MiB) and the status reply layout are movereg's
assumptions (see firmware_notes/polar.md).
"""

from __future__ import annotations

import datetime as dt
import itertools
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from movereg.errors import DecodeError
from movereg.sensors import _encoders as enc
from movereg.sensors.decoders.polar_pmd import (
    POLAR_EPOCH_OFFSET_NS,
    MeasurementType,
    PmdOp,
    PmdSetting,
    parse_settings,
)
from movereg.sensors.polar_offline.pftp import (
    DirEntry,
    DiskSpace,
    Op,
    PftpError,
    Query,
    Rfc76Assembler,
    decode_operation,
    decode_system_time,
    encode_directory,
    encode_disk_space,
    parse_rfc60,
    rfc76_error,
    rfc76_packets,
)
from movereg.sensors.polar_offline.recfile import encode_rec

__all__ = [
    "OFFLINE_RATES_HZ",
    "PMD_FACTOR",
    "PftpServer",
    "PolarBandModel",
    "SampleSource",
    "index_source",
    "scenario_source",
]

#: ``source(first_index, n, fs_hz)`` -> (n, 3) int64 counts (1 count = PMD_FACTOR g)
SampleSource = Callable[[int, int, float], npt.NDArray[np.int64]]

#: Offline ACC rates of a Verity Sense, Hz (issue #23 / SDK offline settings; to check)
OFFLINE_RATES_HZ = (13, 26, 52)
PMD_FACTOR = float(np.float32(0.000244))
_OFFLINE = 0x80
_ACC_OFFLINE = _OFFLINE | MeasurementType.ACC
_ST_OK, _ST_ALREADY, _ST_BAD_RATE, _ST_DISK_FULL = 0, 6, 8, 14
_FRAME_N = 36
_MB = 1_000_000


def index_source(first: int, n: int, fs_hz: float) -> npt.NDArray[np.int64]:
    """Counts that encode the sample index (x = k mod 8192, y = k // 8192 mod 8192,
    z = 4098 ≈ 1 g): a test recovers every sample's index from the decoded values."""
    k = np.arange(first, first + n, dtype=np.int64)
    return np.stack([k % 8192, (k // 8192) % 8192, np.full(n, 4098, np.int64)], axis=1)


def scenario_source(seed: int, scenario: str = "session") -> SampleSource:
    """Plausible wrist movement (the simulated band's scenarios), as counts."""
    from movereg.sensors.simulated import SCENARIOS, synthesize

    plan = list(SCENARIOS[scenario])
    cache: dict[tuple[float, int], npt.NDArray[np.int64]] = {}

    def loop(fs: float, i: int) -> npt.NDArray[np.int64]:
        key = (fs, i)
        if key not in cache:
            if len(cache) > 4:
                cache.clear()
            g = synthesize(plan, fs, [seed, i, 7])
            cache[key] = enc.g_to_counts(g, PMD_FACTOR)
        return cache[key]

    def source(first: int, n: int, fs_hz: float) -> npt.NDArray[np.int64]:
        per = loop(fs_hz, 0).shape[0]
        out = []
        k = first
        while k < first + n:
            i, j = divmod(k, per)
            take = min(per - j, first + n - k)
            out.append(loop(fs_hz, i)[j:j + take])
            k += take
        return np.concatenate(out)

    return source


@dataclass
class _Recording:
    dir: str
    rate: float
    start_polar_ns: int  #: band time of sample 0, ns since 2000-01-01
    settings: bytes
    next_k: int = 0
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0
    last_flush_polar_ns: int = 0
    part: int = 0
    part_bytes: bytearray = field(default_factory=bytearray)
    n_frames_in_part: int = 0


class PolarBandModel:
    """A Verity-Sense-like band's offline recording and file system (see module doc).

    Parameters
    ----------
    clock
        Host UTC ns now (default :func:`time.time_ns`).
    source
        Sample generator (default :func:`index_source`).
    total_bytes
        Memory for files, bytes.
    flush_s
        Band seconds the write buffer holds before a file is written.
    part_max_bytes
        A ``.REC`` part's size limit before the next part starts, bytes.
    pmdfiles
        Keep ``/PMDFILES.TXT`` (newer firmware) listing every recording file.
    device_clock_offset_ns
        Band clock minus true time before anyone sets it, ns.

    Attributes
    ----------
    busy
        Test switch: every file-transfer request is answered SYSTEM_BUSY (202).
    battery
        Battery level, percent (the Battery Service reads it).
    """

    limit_start_bytes = 2 * _MB
    limit_stop_bytes = 300_000
    fragment_size = 4096

    def __init__(self, *, clock: Callable[[], int] = time.time_ns,
                 source: SampleSource | None = None, total_bytes: int = 16 * 1024 * 1024,
                 flush_s: float = 300.0, part_max_bytes: int = 1 << 20, pmdfiles: bool = True,
                 device_clock_offset_ns: int = 0) -> None:
        self.clock = clock
        self.source = source or index_source
        self.total_bytes = int(total_bytes)
        self.flush_ns = round(flush_s * 1e9)
        self.part_max_bytes = int(part_max_bytes)
        self.pmdfiles = pmdfiles
        self.clock_offset_ns = int(device_clock_offset_ns)
        self.busy = False
        self.battery = 87
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = set()
        self.recording: _Recording | None = None
        self.stopped_by_memory = False
        #: every recording ever made: dir -> samples taken (for tests)
        self.samples_taken: dict[str, int] = {}
        self.requests: list[tuple[bool, int, str]] = []  #: (is_query, op/id, path)

    # ---- clock -------------------------------------------------------------------
    def band_polar_ns(self) -> int:
        """The band's clock now, ns since 2000-01-01."""
        return self.clock() + self.clock_offset_ns - POLAR_EPOCH_OFFSET_NS

    def set_band_time(self, utc_ns: int) -> None:
        """What SET_SYSTEM_TIME does: the band's clock reads ``utc_ns`` now."""
        self.catch_up()
        self.clock_offset_ns = int(utc_ns) - self.clock()

    # ---- memory ------------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes held in files and in the write buffer."""
        pending = self.recording.pending_bytes if self.recording else 0
        return sum(len(v) for v in self.files.values()) + pending

    def free_bytes(self) -> int:
        """Free memory, bytes."""
        return max(0, self.total_bytes - self.used_bytes())

    def disk_space(self) -> DiskSpace:
        """The disk-space query's answer (whole fragments)."""
        self.catch_up()
        return DiskSpace(self.fragment_size, self.total_bytes // self.fragment_size,
                         self.free_bytes() // self.fragment_size)

    # ---- recording ---------------------------------------------------------------
    def catch_up(self) -> None:
        """Take the samples due since the last call; write the buffer when it is old."""
        rec = self.recording
        if rec is None:
            return
        now = self.band_polar_ns()
        due = int((now - rec.start_polar_ns) * rec.rate // 1_000_000_000) + 1
        while rec.next_k + _FRAME_N <= due:
            n = min(_FRAME_N * 200, (due - rec.next_k) // _FRAME_N * _FRAME_N)
            self._take(rec, n)
            if self.recording is None:
                return
            # a flush is due once the oldest buffered sample is flush_s old
            if self._sample_ns(rec, rec.next_k - 1) - rec.last_flush_polar_ns >= self.flush_ns:
                self._flush(rec)
            if self.free_bytes() < self.limit_stop_bytes:
                self.stopped_by_memory = True
                self.stop()
                return
        if rec.pending and now - rec.last_flush_polar_ns >= self.flush_ns:
            self._flush(rec)

    def _sample_ns(self, rec: _Recording, k: int) -> int:
        return rec.start_polar_ns + round(k * 1e9 / rec.rate)

    def _take(self, rec: _Recording, n: int) -> None:
        counts = self.source(rec.next_k, n, rec.rate)
        for a in range(0, n, _FRAME_N):
            last = rec.next_k + a + _FRAME_N - 1
            frame = enc.encode_pmd_delta_frame(counts[a:a + _FRAME_N],
                                               self._sample_ns(rec, last))
            rec.pending.append(frame)
            rec.pending_bytes += len(frame) + 2
        rec.next_k += n
        self.samples_taken[rec.dir] = rec.next_k

    def _part_path(self, rec: _Recording) -> str:
        return f"{rec.dir}ACC{rec.part}.REC"

    def _flush(self, rec: _Recording) -> None:
        """Write the buffer to the current part (and later parts when it grows)."""
        start_unix = rec.start_polar_ns + POLAR_EPOCH_OFFSET_NS
        for frame in rec.pending:
            if rec.n_frames_in_part and len(rec.part_bytes) + len(frame) > self.part_max_bytes:
                rec.part += 1
                rec.part_bytes = bytearray()
                rec.n_frames_in_part = 0
            if not rec.n_frames_in_part:
                rec.part_bytes = bytearray(encode_rec(start_unix, rec.settings, [frame]))
            else:
                rec.part_bytes += struct.pack("<H", len(frame)) + frame
            rec.n_frames_in_part += 1
            self.files[self._part_path(rec)] = bytes(rec.part_bytes)
        rec.pending.clear()
        rec.pending_bytes = 0
        rec.last_flush_polar_ns = self._sample_ns(rec, rec.next_k - 1)
        self._write_pmdfiles()

    def start(self, rate_hz: float) -> int:
        """Start offline ACC; a PMD status (0, 6 already, 8 bad rate, 14 disk full)."""
        self.catch_up()
        if self.recording is not None:
            return _ST_ALREADY
        if int(rate_hz) not in OFFLINE_RATES_HZ:
            return _ST_BAD_RATE
        if self.free_bytes() < self.limit_start_bytes:
            return _ST_DISK_FULL
        now = self.band_polar_ns()
        t = dt.datetime.fromtimestamp((now + POLAR_EPOCH_OFFSET_NS) // 1_000_000_000, dt.UTC)
        base = f"/U/0/{t:%Y%m%d}/R/{t:%H%M%S}/"
        path = base
        for i in itertools.count(1):  # two starts in one second: never reuse a directory
            if path not in self.dirs and not any(p.startswith(path) for p in self.files):
                break
            path = f"{base[:-1]}{i}/"
        settings = enc.encode_pmd_settings({PmdSetting.SAMPLE_RATE: [int(rate_hz)],
                                            PmdSetting.RESOLUTION: [16], PmdSetting.RANGE: [8],
                                            PmdSetting.CHANNELS: [3]}) + enc.encode_pmd_factor(
                                                PMD_FACTOR)
        whole_s = (now // 1_000_000_000) * 1_000_000_000
        self.recording = _Recording(path, float(rate_hz), whole_s, settings,
                                    last_flush_polar_ns=whole_s)
        self.dirs.add(path)
        self.samples_taken[path] = 0
        self.stopped_by_memory = False
        return _ST_OK

    def stop(self) -> int:
        """Stop offline ACC and write what the buffer holds; 0, or 6 when not recording."""
        rec = self.recording
        if rec is None:
            return _ST_ALREADY
        if self.recording is rec and not self.stopped_by_memory:
            self.catch_up()
        rec = self.recording or rec
        if rec.pending:
            self._flush(rec)
        self.recording = None
        if not any(p.startswith(rec.dir) for p in self.files):
            self.dirs.discard(rec.dir)
        return _ST_OK

    # ---- PMD control point ---------------------------------------------------------
    def handle_pmd_cp(self, cmd: bytes) -> bytes | None:
        """The reply to an offline (or status) CP command; None for online ones."""
        if not cmd:
            return None
        op = cmd[0]
        if op == PmdOp.GET_STATUS:
            self.catch_up()
            active = [(2 << 6) | MeasurementType.ACC] if self.recording else []
            return enc.encode_pmd_cp_response(PmdOp.GET_STATUS, 0, 0, bytes(active))
        if len(cmd) < 2 or cmd[1] != _ACC_OFFLINE:
            return None
        if op == PmdOp.GET_SETTINGS:
            tlv = enc.encode_pmd_settings({PmdSetting.SAMPLE_RATE: list(OFFLINE_RATES_HZ),
                                           PmdSetting.RESOLUTION: [16], PmdSetting.RANGE: [8],
                                           PmdSetting.CHANNELS: [3]})
            return enc.encode_pmd_cp_response(op, _ACC_OFFLINE, 0, tlv)
        if op == PmdOp.START:
            try:
                rate = parse_settings(cmd[2:]).get(PmdSetting.SAMPLE_RATE, (0,))[0]
            except DecodeError:
                return enc.encode_pmd_cp_response(op, _ACC_OFFLINE, 4)
            status = self.start(float(rate) if isinstance(rate, int | float) else 0.0)
            return enc.encode_pmd_cp_response(
                op, _ACC_OFFLINE, status, enc.encode_pmd_factor(PMD_FACTOR) if not status else b"")
        if op == PmdOp.STOP:
            return enc.encode_pmd_cp_response(op, _ACC_OFFLINE, self.stop())
        return enc.encode_pmd_cp_response(op, _ACC_OFFLINE, 1)

    # ---- file system ---------------------------------------------------------------
    def _write_pmdfiles(self) -> None:
        if not self.pmdfiles:
            return
        lines = [f"{len(v)} {p}" for p, v in sorted(self.files.items()) if p.endswith(".REC")]
        self.files["/PMDFILES.TXT"] = ("\n".join(lines) + "\n").encode("ascii") if lines else b""

    def _children(self, path: str) -> list[DirEntry] | None:
        names: dict[str, int] = {}
        found = path == "/"
        for p in itertools.chain(self.files, self.dirs):
            if not p.startswith(path) or p == path:
                if p == path:
                    found = True
                continue
            found = True
            rest = p[len(path):]
            if "/" in rest:
                names.setdefault(rest.split("/", 1)[0] + "/", 0)
            else:
                names[rest] = len(self.files[p])
        if not found:
            return None
        return [DirEntry(n, s) for n, s in sorted(names.items())]

    def _get(self, path: str) -> tuple[int, bytes]:
        if path.endswith("/"):
            entries = self._children(path)
            if entries is None:
                return PftpError.NO_SUCH_FILE_OR_DIRECTORY, b""
            return 0, encode_directory(entries)
        data = self.files.get(path)
        if data is None:
            return PftpError.NO_SUCH_FILE_OR_DIRECTORY, b""
        return 0, data

    def _remove(self, path: str) -> int:
        if path.endswith("/"):
            entries = self._children(path)
            if entries is None:
                return PftpError.NO_SUCH_FILE_OR_DIRECTORY
            if entries:
                return PftpError.OPERATION_NOT_PERMITTED
            if self.recording is not None and self.recording.dir == path:
                return PftpError.OPERATION_NOT_PERMITTED
            self.dirs.discard(path)
            return 0
        if path not in self.files or path == "/PMDFILES.TXT":
            return (PftpError.NO_SUCH_FILE_OR_DIRECTORY if path not in self.files
                    else PftpError.OPERATION_NOT_PERMITTED)
        del self.files[path]
        self._write_pmdfiles()
        return 0

    def handle_pftp(self, message: bytes) -> tuple[int, bytes]:
        """One whole host message -> ``(error code, response payload)`` (code 0 = ok)."""
        try:
            is_query, qid, head, _data = parse_rfc60(message)
            if is_query:
                self.requests.append((True, qid, ""))
                return self._query(qid, head)
            op, path = decode_operation(head)
        except DecodeError:
            return PftpError.INVALID_COMMAND, b""
        self.requests.append((False, op, path))
        if self.busy:
            return PftpError.SYSTEM_BUSY, b""
        self.catch_up()
        if op == Op.GET:
            return self._get(path)
        if op == Op.REMOVE:
            return self._remove(path), b""
        return PftpError.OPERATION_NOT_PERMITTED, b""

    def _query(self, qid: int, params: bytes) -> tuple[int, bytes]:
        if self.busy:
            return PftpError.SYSTEM_BUSY, b""
        if qid in (Query.SET_SYSTEM_TIME, Query.SET_LOCAL_TIME):
            try:
                t = decode_system_time(params)
            except DecodeError:
                return PftpError.INVALID_PARAMETER, b""
            if qid == Query.SET_SYSTEM_TIME:
                self.set_band_time(t)
            return 0, b""
        if qid == Query.GET_DISK_SPACE:
            return 0, encode_disk_space(self.disk_space())
        return PftpError.NOT_IMPLEMENTED, b""

    def recording_paths(self) -> Iterator[str]:
        """Every recording directory on the band."""
        seen = {p.rsplit("/", 1)[0] + "/" for p in self.files if p.endswith(".REC")}
        yield from sorted(seen | self.dirs)


class PftpServer:
    """RFC76 framing around :meth:`PolarBandModel.handle_pftp` (one link).

    ``feed(packet)`` takes one packet the host wrote and returns the packets to notify
    (empty until a request is complete).
    """

    def __init__(self, model: PolarBandModel, packet_size: int = 244) -> None:
        self.model = model
        self.packet_size = packet_size
        self._rx = Rfc76Assembler()

    def feed(self, packet: bytes) -> list[bytes]:
        """A written packet in; response packets out."""
        try:
            got = self._rx.feed(packet)
        except DecodeError:
            return [rfc76_error(PftpError.INVALID_COMMAND)]
        if got is None:
            return []
        code, message = got
        if code:
            return [rfc76_error(PftpError.INVALID_COMMAND)]
        err, payload = self.model.handle_pftp(message)
        if err:
            return [rfc76_error(err)]
        packets, _ = rfc76_packets(payload, self.packet_size)
        return packets
