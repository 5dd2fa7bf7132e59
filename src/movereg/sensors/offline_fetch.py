"""Fetch a band's recordings to a spool directory: the step sync and ``movereg relay`` share.

:func:`fetch_recordings` needs no store: it lists what an
:class:`~movereg.sensors.offline.OfflineRecorder` holds, downloads each recording to
``spool_dir/<band>/<recording>.<suffix>`` (a recording already complete there is not
downloaded again), checks it (the file opens with
:func:`~movereg.recordings.open_recording`, holds samples, and its time span is plausible)
and writes a small JSON sidecar next to it, so a relay that is offline for days still
knows, without the band, which band and recording each spooled file came from
(:func:`spooled`). Nothing is removed from the band here: callers remove a recording only
after its import (server) or the server's sha256 confirmation (relay) has committed.

A download cut by a dropped link, or refused because the band is busy, ends the fetch:
what was fetched before it is returned with :attr:`FetchResult.stopped` saying why, and the
recorder resumes or restarts the unfinished file next time (never doubling data).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from movereg.errors import (
    BluetoothUnavailableError,
    ConnectionLostError,
    DecodeError,
    DeviceNotFoundError,
    InputFileError,
    MoveregError,
    SensorError,
)
from movereg.fsutil import file_sha256, write_json_atomic
from movereg.sensors.offline import (
    BandBusyError,
    BandRecording,
    OfflineRecorder,
    RecordingNotReadyError,
    partial_path,
)
from movereg.timeutil import device_clock_plausible

__all__ = ["FetchProgress", "FetchResult", "FetchedRecording", "check_recording",
           "discard_spooled", "fetch_recordings", "spool_path", "spooled"]

log = logging.getLogger(__name__)

#: ``progress(recording_id, bytes_done, bytes_total)`` during a fetch.
FetchProgress = Callable[[str, int, int], None]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SIDECAR = ".json"
#: Largest distance between the band's stated start and the file's first sample, ns.
_START_SLACK_NS = 6 * 3600 * 10**9
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class FetchedRecording:
    """One recording, downloaded and checked.

    Attributes
    ----------
    device_id, family
        The band it came from.
    recording_id
        Its id on the band (:attr:`BandRecording.recording_id`).
    path
        The spooled file (``open_recording`` reads it).
    sha256, size_bytes
        Of the spooled file.
    start_ns, end_ns
        First sample and end of the last sample, UTC ns.
    fs_hz
        Sampling rate, Hz.
    samples
        Samples read.
    """

    device_id: str
    family: str
    recording_id: str
    path: Path
    sha256: str
    size_bytes: int
    start_ns: int
    end_ns: int
    fs_hz: float
    samples: int

    def to_json(self) -> dict[str, Any]:
        """The sidecar's content (``path`` as a string)."""
        out = asdict(self)
        out["path"] = str(self.path)
        return out


@dataclass(slots=True)
class FetchResult:
    """What :func:`fetch_recordings` did.

    Attributes
    ----------
    fetched
        Recordings now in the spool, checked (including ones already there).
    not_ready
        Recording ids the band has not finished writing (try again in a few minutes).
    failed
        ``(recording_id, reason in words)`` for recordings that could not be read.
    skipped
        Recording ids the caller asked to skip (already handled).
    stopped
        Why the fetch ended early (a dropped link, a busy band), or None.
    listed
        Everything the band listed.
    """

    fetched: list[FetchedRecording] = field(default_factory=list)
    not_ready: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    stopped: SensorError | None = None
    listed: list[BandRecording] = field(default_factory=list)


def _safe(text: str) -> str:
    """A file-name-safe form of a device or recording id (stable, readable)."""
    s = _SAFE.sub("_", text.strip("/")).strip("._") or "rec"
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]   # two ids never share a name
    return f"{s[:80]}-{digest}"


def spool_path(spool_dir: Path, device_id: str, rec: BandRecording) -> Path:
    """Where ``rec`` of ``device_id`` is spooled."""
    return Path(spool_dir) / _safe(device_id) / (_safe(rec.recording_id) + rec.suffix)



def check_recording(path: Path, rec: BandRecording | None = None) -> tuple[int, int, float, int]:
    """Read a downloaded recording whole: ``(start_ns, end_ns, fs_hz, samples)``.

    Raises
    ------
    InputFileError
        Empty, unreadable, without samples, or its times are implausible (a clock years
        off, or far from the start the band stated).
    """
    from movereg.recordings import open_recording

    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        raise InputFileError(str(p), "the downloaded recording is empty")
    r = open_recording(p)
    n = 0
    first: int | None = None
    end = 0
    dt = 1e9 / r.fs_hz
    for t0, x in r.chunks(_CHUNK):
        if x.shape[0] == 0:
            continue
        first = t0 if first is None else first
        n += int(x.shape[0])
        end = t0 + round(x.shape[0] * dt)
    if first is None or n == 0:
        raise InputFileError(str(p), "the downloaded recording holds no samples")
    if not device_clock_plausible(first, end):
        raise InputFileError(str(p), "the band's clock was years off for this recording, so "
                             "its times cannot be placed")
    if end < first:
        raise InputFileError(str(p), "the recording ends before it starts")
    if rec is not None and rec.started_utc_ns is not None \
            and abs(first - rec.started_utc_ns) > _START_SLACK_NS:
        raise InputFileError(str(p), "the recording's samples do not start when the band "
                             "says it started")
    return int(first), int(end), float(r.fs_hz), n


def _write_sidecar(fetched: FetchedRecording) -> None:
    write_json_atomic(fetched.path.with_name(fetched.path.name + _SIDECAR), fetched.to_json())


def _read_sidecar(path: Path) -> FetchedRecording | None:
    side = path.with_name(path.name + _SIDECAR)
    try:
        d = json.loads(side.read_text(encoding="utf-8"))
        d["path"] = Path(d["path"])
        out = FetchedRecording(**d)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if out.path != path or not path.is_file() or path.stat().st_size != out.size_bytes:
        return None
    return out


def spooled(spool_dir: Path) -> list[FetchedRecording]:
    """Every checked recording in the spool (with its sidecar), oldest start first."""
    out = []
    for side in Path(spool_dir).glob(f"*/*{_SIDECAR}"):
        f = _read_sidecar(side.with_name(side.name[: -len(_SIDECAR)]))
        if f is not None:
            out.append(f)
    return sorted(out, key=lambda f: (f.start_ns, f.device_id, f.recording_id))


def discard_spooled(fetched: FetchedRecording) -> None:
    """Delete a spooled recording and its sidecar (after it is safely elsewhere)."""
    for p in (fetched.path.with_name(fetched.path.name + _SIDECAR), fetched.path,
              partial_path(fetched.path)):
        p.unlink(missing_ok=True)


def _finish(recorder: OfflineRecorder, rec: BandRecording, dest: Path) -> FetchedRecording:
    """Check a complete download and write its sidecar (a thread: reads the whole file)."""
    start, end, fs, n = check_recording(dest, rec)
    fetched = FetchedRecording(
        device_id=recorder.device_id, family=str(recorder.family),
        recording_id=rec.recording_id, path=dest, sha256=file_sha256(dest),
        size_bytes=dest.stat().st_size, start_ns=start, end_ns=end, fs_hz=fs, samples=n)
    _write_sidecar(fetched)
    return fetched


async def fetch_recordings(recorder: OfflineRecorder, spool_dir: Path,
                           progress: FetchProgress | None = None, *,
                           skip: Collection[str] = (),
                           listed: list[BandRecording] | None = None,
                           on_fetched: Callable[[FetchedRecording, BandRecording],
                                                Awaitable[None]] | None = None
                           ) -> FetchResult:
    """Download and check every recording ``recorder`` holds into ``spool_dir``.

    Parameters
    ----------
    recorder
        An open :class:`~movereg.sensors.offline.OfflineRecorder`.
    spool_dir
        Directory for the files (``<band>/<recording><suffix>`` plus a JSON sidecar).
    progress
        ``progress(recording_id, bytes_done, bytes_total)`` while downloading.
    skip
        Recording ids not to fetch (the caller already holds them, e.g. imported but not
        yet removed from the band).
    listed
        The band's listing when the caller already has it (else it is asked for).
    on_fetched
        ``await on_fetched(fetched, rec)`` right after each recording is checked, before
        the next is downloaded (import or upload it, then remove it from the band), so
        the spool holds one recording at a time. An exception from it ends the fetch.

    Returns
    -------
    FetchResult
        Fetched (and checked) recordings; the rest say why not. Listing errors other
        than a dropped link or a busy band are raised.

    Raises
    ------
    SensorError
        The band could not even list its recordings for a reason other than
        :class:`~movereg.errors.ConnectionLostError` / :class:`BandBusyError` (those end
        up in :attr:`FetchResult.stopped`).
    """
    out = FetchResult()
    report = progress or (lambda _r, _d, _t: None)
    try:
        out.listed = list(await recorder.list_recordings()) if listed is None else list(listed)
    except (ConnectionLostError, BandBusyError, DeviceNotFoundError,
            BluetoothUnavailableError) as exc:
        out.stopped = exc
        return out
    for rec in out.listed:
        if rec.recording_id in skip:
            out.skipped.append(rec.recording_id)
            continue
        dest = spool_path(Path(spool_dir), recorder.device_id, rec)
        have = _read_sidecar(dest)
        if have is not None:   # already fully here and checked earlier
            report(rec.recording_id, have.size_bytes, have.size_bytes)
            out.fetched.append(have)
            if on_fetched is not None:
                await on_fetched(have, rec)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        rid = rec.recording_id
        try:
            if not dest.is_file():
                await recorder.download(rec, dest, _progress_of(report, rid))
            fetched = await asyncio.to_thread(_finish, recorder, rec, dest)
        except RecordingNotReadyError:
            out.not_ready.append(rid)
            continue
        except (ConnectionLostError, BandBusyError, DeviceNotFoundError,
                BluetoothUnavailableError) as exc:
            out.stopped = exc
            break
        except (DecodeError, InputFileError) as exc:
            # the file is bad as downloaded: drop it so the next try downloads it afresh
            dest.unlink(missing_ok=True)
            partial_path(dest).unlink(missing_ok=True)
            out.failed.append((rid, _words(exc)))
            continue
        except MoveregError as exc:   # any other refusal of this one recording
            out.failed.append((rid, _words(exc)))
            continue
        out.fetched.append(fetched)
        if on_fetched is not None:
            await on_fetched(fetched, rec)
    return out


def _progress_of(report: FetchProgress, rid: str) -> Callable[[int, int], None]:
    def tell(done: int, total: int) -> None:
        report(rid, done, total)
    return tell


def _words(exc: MoveregError) -> str:
    return str(getattr(exc, "message", "") or exc)[:300]
