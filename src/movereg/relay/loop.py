"""``movereg relay``: a home relay's loop. No database; no pages.

One cycle:

1. upload what waits in the spool (a server that cannot be reached leaves it there);
2. ask the server which bands to look for (offline: the list it gave last time, kept in
   ``bands.json`` in the spool, so a relay offline for days keeps emptying the bands);
3. for each band in reach: download its recordings into the spool through the
   :class:`~movereg.sensors.offline.OfflineRecorder` protocol
   (:func:`movereg.sensors.offline_fetch.fetch_recordings`: checked, sha256 and a JSON
   sidecar), flush them to disk (fsync of file, sidecar and directory), and only then
   remove each from the band;
4. upload again. A spooled file is deleted only after the server answered with the same
   sha256 (stored there, its import registered); the same file twice is a no-op there.

A file the server refuses for good (not a band of the relay's children at that time, too
large, not a recording) is moved to ``_refused/`` in the spool, never deleted. A revoked
token stops the relay with one clear sentence (:class:`~movereg.relay.client.RelayRevoked`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from movereg.errors import MoveregError
from movereg.fsutil import fsync_path, write_json_atomic
from movereg.relay.client import (
    RelayBandInfo,
    RelayClient,
    ServerUnreachable,
    UploadRefused,
)
from movereg.sensors.offline import BandRecording, OfflineRecorder
from movereg.sensors.offline_fetch import (
    FetchedRecording,
    discard_spooled,
    fetch_recordings,
    spooled,
)

__all__ = ["CycleReport", "Relay", "RelayOpener"]

log = logging.getLogger(__name__)

_BANDS_FILE = "bands.json"
_REFUSED = "_refused"


class RelayOpener(Protocol):
    """Reaches bands (``movereg.relay.openers``)."""

    def can_record(self, device_id: str, family: str | None) -> bool:
        """True when the band's family records on the band."""
        ...

    def open(self, device_id: str, family: str | None
             ) -> AbstractAsyncContextManager[OfflineRecorder]:
        """Connect and yield the band's recorder (DeviceNotFoundError: out of range)."""
        ...


@dataclass(slots=True)
class CycleReport:
    """What one cycle did."""

    downloaded: int = 0
    removed: int = 0
    uploaded: int = 0
    refused: int = 0
    waiting: int = 0
    online: bool = True
    problems: list[str] = field(default_factory=list)


def make_durable(f: FetchedRecording) -> None:
    """fsync a spooled recording, its sidecar and their directory."""
    fsync_path(f.path, with_dir=False)
    fsync_path(f.path.with_name(f.path.name + ".json"))


class Relay:
    """The relay: spool directory, server client, band opener.

    Parameters
    ----------
    client
        The server's relay API.
    spool
        The relay's own disk (created when missing).
    opener
        How bands are reached.
    say
        Where one-line progress messages go (the CLI prints them).
    """

    def __init__(self, client: RelayClient, spool: Path, opener: RelayOpener, *,
                 say: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.spool = Path(spool)
        self.spool.mkdir(parents=True, exist_ok=True)
        self.opener = opener
        self.say = say or (lambda msg: log.info("%s", msg))

    # --- uploads --------------------------------------------------------------------
    def _set_aside(self, f: FetchedRecording, why: str) -> None:
        dest = self.spool / _REFUSED / f.path.parent.name
        dest.mkdir(parents=True, exist_ok=True)
        for p in (f.path, f.path.with_name(f.path.name + ".json")):
            if p.exists():
                shutil.move(str(p), str(dest / p.name))
        (dest / (f.path.name + ".why.txt")).write_text(why + "\n", encoding="utf-8")

    def upload_waiting(self, report: CycleReport) -> None:
        """Upload every spooled recording, oldest first (stops at the first sign the
        server cannot be reached; RelayRevoked propagates)."""
        for f in spooled(self.spool):
            def tell(done: int, total: int, name: str = f.path.name) -> None:
                pct = 100 * done // max(total, 1)
                self.say(f"uploading {name}: {pct}%")

            try:
                receipt = self.client.upload(f.path, band=f.device_id, start_ns=f.start_ns,
                                             recording_id=f.recording_id, sha256=f.sha256,
                                             progress=_every_tenth(tell))
            except ServerUnreachable as exc:
                report.online = False
                report.problems.append(exc.message)
                self.say(f"server not reachable, {f.path.name} waits: {exc.message}")
                return
            except UploadRefused as exc:
                report.refused += 1
                report.problems.append(exc.message)
                self._set_aside(f, exc.message)
                self.say(f"kept aside (never deleted): {exc.message}")
                continue
            if receipt.sha256 != f.sha256:
                report.problems.append(f"{f.path.name}: the server's sha256 differs; kept")
                self.say(f"{f.path.name}: the server's sha256 differs from ours; kept")
                continue
            discard_spooled(f)
            report.uploaded += 1
            word = "was already there" if receipt.already_imported else "uploaded"
            self.say(f"{f.path.name} {word} (import {receipt.import_id}, sha256 confirmed); "
                     "removed from the spool")

    # --- bands ------------------------------------------------------------------------
    def bands(self, report: CycleReport) -> list[RelayBandInfo]:
        """The server's band list (kept for offline days), or the last one kept."""
        path = self.spool / _BANDS_FILE
        try:
            bands = self.client.bands()
        except ServerUnreachable as exc:
            report.online = False
            try:
                kept = json.loads(path.read_text(encoding="utf-8"))
                return [RelayBandInfo(str(b["device_id"]), b.get("family")) for b in kept]
            except (OSError, ValueError, KeyError, TypeError):
                self.say(f"server not reachable and no band list kept yet: {exc.message}")
                return []
        write_json_atomic(path, [{"device_id": b.device_id, "family": b.family}
                                 for b in bands])
        return bands

    async def empty_band(self, band: RelayBandInfo, report: CycleReport) -> None:
        """Download a band's recordings into the spool; remove each from the band once
        its spool copy is durable and checked."""
        if not self.opener.can_record(band.device_id, band.family):
            return

        async def spooled_then_remove(f: FetchedRecording, rec: BandRecording) -> None:
            await asyncio.to_thread(make_durable, f)
            report.downloaded += 1
            await recorder.remove(rec)
            report.removed += 1
            self.say(f"band {band.device_id}: {rec.recording_id} is in the spool "
                     f"({f.size_bytes:,} bytes, sha256 {f.sha256[:12]}...) and was removed "
                     "from the band")

        try:
            async with self.opener.open(band.device_id, band.family) as recorder:
                result = await fetch_recordings(recorder, self.spool,
                                                on_fetched=spooled_then_remove)
        except MoveregError as exc:   # out of range, Bluetooth off, a dropped link
            report.problems.append(f"band {band.device_id}: {exc.message}")
            self.say(f"band {band.device_id} not emptied now: {exc.message}")
            return
        if result.stopped is not None:
            self.say(f"band {band.device_id}: stopped early ({result.stopped.message}); "
                     "the rest next time")
        for rid, why in result.failed:
            self.say(f"band {band.device_id}: {rid} could not be read: {why}")

    # --- the loop -----------------------------------------------------------------------
    async def cycle(self) -> CycleReport:
        """One pass (see the module doc). Raises RelayRevoked."""
        report = CycleReport()
        await asyncio.to_thread(self.upload_waiting, report)
        bands = await asyncio.to_thread(self.bands, report)
        for band in bands:
            await self.empty_band(band, report)
        if report.downloaded or not report.online:
            await asyncio.to_thread(self.upload_waiting, report)
        report.waiting = len(spooled(self.spool))
        return report

    async def run(self, *, once: bool = False, interval_s: float = 300.0) -> None:
        """Cycle until stopped (or once). Raises RelayRevoked."""
        while True:
            report = await self.cycle()
            self.say(f"cycle done: {report.downloaded} downloaded, {report.uploaded} "
                     f"uploaded, {report.waiting} waiting"
                     + ("" if report.online else " (server not reachable)"))
            if once:
                return
            await asyncio.sleep(interval_s)


def _every_tenth(tell: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """Report progress at each further 10 % only."""
    last = [-1]

    def inner(done: int, total: int) -> None:
        step = 10 * done // max(total, 1)
        if step != last[0]:
            last[0] = step
            tell(done, total)

    return inner
