"""Bands that record on their own: their recording setting and each recording's way home.

``band_recorders`` holds, per band, whether it records on its own (rate, started at and
by whom), what it last told about its memory and battery, and the last sync's outcome in
words. ``band_recordings`` follows every recording a band held: ``on_band`` ->
``downloaded`` -> ``imported`` (the import :class:`~movereg.storage.SourceRecord` it
became) -> ``removed`` (from the band), or ``failed`` with a reason in words. A recording
is keyed by ``(band, recording id)`` and its sha256, so it is never imported twice. The
child a recording belongs to is the band's assignment **at the time of recording**.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from movereg.errors import NotFoundError, ValidationError
from movereg.storage._audit import AuditMixin
from movereg.storage._core import now_ns
from movereg.storage._db import is_in, where
from movereg.storage._ingest import IngestMixin

__all__ = ["RECORDING_STATES", "BandRecorderRecord", "BandRecordingRecord",
           "BandRecordingsMixin"]

RECORDING_STATES = ("on_band", "downloaded", "imported", "removed", "failed")

_REC_COLS = ("device_id", "family", "recording", "rate_hz", "started_at", "started_by",
             "stopped_at", "stopped_by", "free_bytes", "total_bytes", "battery_pct",
             "bytes_per_hour", "bph_rate_hz", "status_at", "last_sync_at", "last_sync_ok",
             "last_sync_message")
_ROW_COLS = ("id", "device_id", "recording_id", "started_ns", "end_ns", "size_bytes",
             "sha256", "state", "reason", "attempts", "child_id", "source_id",
             "first_seen_at", "updated_at")
_SELECT_RECORDERS = f"SELECT {', '.join(_REC_COLS)} FROM band_recorders"
_SELECT_RECORDINGS = f"SELECT {', '.join(_ROW_COLS)} FROM band_recordings"
_SET_OK = frozenset({"started_ns", "end_ns", "size_bytes", "sha256", "reason", "child_id",
                     "source_id"})


@dataclass(frozen=True, slots=True)
class BandRecorderRecord:
    """A recording-capable band as last seen (times UTC ns; memory bytes; rate Hz)."""

    device_id: str
    family: str | None
    recording: bool
    rate_hz: float | None
    started_at: int | None
    started_by: str | None
    stopped_at: int | None
    stopped_by: str | None
    free_bytes: int | None
    total_bytes: int | None
    battery_pct: int | None
    bytes_per_hour: float | None
    bph_rate_hz: float | None
    status_at: int | None
    last_sync_at: int | None
    last_sync_ok: bool | None
    last_sync_message: str

    def hours_left(self, rate_hz: float | None = None) -> float | None:
        """Hours of recording that fit in the free memory at ``rate_hz`` (Hz; memory use is
        linear in the rate) or at the rate the band last stated, or None when unknown."""
        if self.free_bytes is None or not self.bytes_per_hour:
            return None
        bph = self.bytes_per_hour
        if rate_hz and self.bph_rate_hz:
            bph = bph * rate_hz / self.bph_rate_hz
        return self.free_bytes / bph


@dataclass(frozen=True, slots=True)
class BandRecordingRecord:
    """One recording a band held, and how far it got (see the module docstring)."""

    id: int
    device_id: str
    recording_id: str
    started_ns: int | None
    end_ns: int | None
    size_bytes: int | None
    sha256: str | None
    state: str
    reason: str
    attempts: int
    child_id: int | None
    source_id: int | None
    first_seen_at: int
    updated_at: int


def _recorder(row: tuple[Any, ...]) -> BandRecorderRecord:
    r = list(row)
    r[2] = bool(r[2])
    r[15] = None if r[15] is None else bool(r[15])
    return BandRecorderRecord(*r)


class BandRecordingsMixin(IngestMixin, AuditMixin):
    """Bookkeeping of bands that record on their own (``band_recorders``,
    ``band_recordings``)."""

    # --- the band ------------------------------------------------------------------------
    def band_recorder(self, device_id: str) -> BandRecorderRecord | None:
        """A band's recording bookkeeping (None: never seen as able to record)."""
        row = self._fetch_one(
            "band recorders",
            f"{_SELECT_RECORDERS} WHERE device_id = ?",
            (device_id,))
        return None if row is None else _recorder(row)

    def list_band_recorders(self) -> list[BandRecorderRecord]:
        """Every band known to be able to record on its own."""
        rows = self._fetch(
            "band recorders",
            f"{_SELECT_RECORDERS} ORDER BY device_id")
        return [_recorder(r) for r in rows]

    def _ensure_recorder(self, con: Any, device_id: str, family: str | None) -> None:
        now = now_ns()
        con.execute("INSERT OR IGNORE INTO devices(device_id, family, created_at) "
                    "VALUES (?, ?, ?)", (device_id, family, now))
        con.execute("INSERT OR IGNORE INTO band_recorders(device_id, family) VALUES (?, ?)",
                    (device_id, family))
        if family is not None:
            con.execute("UPDATE band_recorders SET family = ? WHERE device_id = ?",
                        (family, device_id))

    def save_recorder_status(self, device_id: str, *, family: str | None, recording: bool,
                             rate_hz: float | None, free_bytes: int | None,
                             total_bytes: int | None, battery_pct: int | None,
                             bytes_per_hour: float | None,
                             bph_rate_hz: float | None) -> BandRecorderRecord:
        """What the band just told about itself (recording, memory, battery;
        ``bytes_per_hour`` at ``bph_rate_hz``)."""
        with self._tx("cannot save the band's status") as con:
            self._ensure_recorder(con, device_id, family)
            con.execute(
                "UPDATE band_recorders SET recording = ?, rate_hz = COALESCE(?, rate_hz), "
                "free_bytes = ?, total_bytes = ?, battery_pct = ?, bytes_per_hour = ?, "
                "bph_rate_hz = ?, status_at = ? WHERE device_id = ?",
                (int(recording), rate_hz, free_bytes, total_bytes, battery_pct,
                 bytes_per_hour, bph_rate_hz, now_ns(), device_id))
        out = self.band_recorder(device_id)
        assert out is not None
        return out

    def note_recording_started(self, device_id: str, *, family: str | None, rate_hz: float,
                               actor: str, child_id: int | None) -> None:
        """The band was told to record at ``rate_hz`` (Hz); audit-logged."""
        with self._tx("cannot save the band's recording") as con:
            self._ensure_recorder(con, device_id, family)
            con.execute("UPDATE band_recorders SET recording = 1, rate_hz = ?, started_at = ?, "
                        "started_by = ?, stopped_at = NULL, stopped_by = NULL "
                        "WHERE device_id = ?", (float(rate_hz), now_ns(), actor, device_id))
            self.audit(actor, "band.record.start", child_id=child_id,
                       detail={"device_id": device_id, "rate_hz": float(rate_hz)})

    def note_recording_stopped(self, device_id: str, *, actor: str,
                               child_id: int | None) -> None:
        """The band was told to stop recording; audit-logged."""
        with self._tx("cannot save the band's recording") as con:
            self._ensure_recorder(con, device_id, None)
            con.execute("UPDATE band_recorders SET recording = 0, stopped_at = ?, "
                        "stopped_by = ? WHERE device_id = ?", (now_ns(), actor, device_id))
            self.audit(actor, "band.record.stop", child_id=child_id,
                       detail={"device_id": device_id})

    def note_sync(self, device_id: str, *, ok: bool, message: str) -> None:
        """The outcome of a sync of the band, in words."""
        with self._tx("cannot save the sync's outcome") as con:
            self._ensure_recorder(con, device_id, None)
            con.execute("UPDATE band_recorders SET last_sync_at = ?, last_sync_ok = ?, "
                        "last_sync_message = ? WHERE device_id = ?",
                        (now_ns(), int(ok), message[:500], device_id))

    # --- its recordings ------------------------------------------------------------------
    def band_recordings(self, device_id: str | None = None, *,
                        states: Iterable[str] | None = None) -> list[BandRecordingRecord]:
        """Recordings bands held (oldest first), of one band and/or some states."""
        clause, params = where([("device_id = ?", device_id), is_in("state", states)])
        rows = self._fetch(
            "band recordings",
            f"{_SELECT_RECORDINGS}{clause} ORDER BY id",
            params)
        return [BandRecordingRecord(*r) for r in rows]

    def band_recording(self, device_id: str, recording_id: str) -> BandRecordingRecord | None:
        """One recording by the band's id for it (None: never seen)."""
        row = self._fetch_one(
            "band recordings",
            f"{_SELECT_RECORDINGS} WHERE device_id = ? AND "
            "recording_id = ?", (device_id, recording_id))
        return None if row is None else BandRecordingRecord(*row)

    def get_band_recording(self, row_id: int) -> BandRecordingRecord:
        """One recording by its row id (404 when missing)."""
        return BandRecordingRecord(*self._get_one(
            "band recordings", f"{_SELECT_RECORDINGS} WHERE id = ?",
            (int(row_id),), missing=f"no band recording {row_id}"))

    def note_on_band(self, device_id: str, recording_id: str, *, started_ns: int | None,
                     size_bytes: int | None, family: str | None = None
                     ) -> BandRecordingRecord:
        """A recording the band lists (added as ``on_band`` the first time it is seen)."""
        now = now_ns()
        with self._tx("cannot save the band's recordings") as con:
            self._ensure_recorder(con, device_id, family)
            con.execute("INSERT OR IGNORE INTO band_recordings(device_id, recording_id, "
                        "started_ns, size_bytes, state, first_seen_at, updated_at) "
                        "VALUES (?, ?, ?, ?, 'on_band', ?, ?)",
                        (device_id, recording_id, started_ns, size_bytes, now, now))
        out = self.band_recording(device_id, recording_id)
        assert out is not None
        return out

    def set_recording_state(self, row_id: int, state: str, *, count_attempt: bool = False,
                            **fields: Any) -> BandRecordingRecord:
        """Move a recording on (``reason``, ``sha256``, ``source_id`` ... alongside)."""
        if state not in RECORDING_STATES:
            raise ValidationError(f"bad recording state {state!r}")
        bad = set(fields) - _SET_OK
        if bad:
            raise ValidationError(f"cannot set {', '.join(sorted(bad))} on a band recording")
        sets = ["state = ?", "updated_at = ?"] + [f"{k} = ?" for k in fields]
        params: list[Any] = [state, now_ns(), *fields.values()]
        if count_attempt:
            sets.append("attempts = attempts + 1")
        with self._tx("cannot save the recording's state") as con:
            if con.execute(f"UPDATE band_recordings SET {', '.join(sets)} WHERE id = ?",
                           (*params, int(row_id))).rowcount == 0:
                raise NotFoundError(f"no band recording {row_id}")
        return self.get_band_recording(row_id)
