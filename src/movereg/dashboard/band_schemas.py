"""API schemas of bands that record on their own (#23): the recorder, its recordings, sync."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from movereg.dashboard.schemas import StrictIn

__all__ = ["BandRecordingOut", "RangeIn", "RecordIn", "RecorderOut", "SyncOut"]


class RecordIn(StrictIn):
    """Start recording on the band at this rate (Hz; the band's clock is set first)."""

    rate_hz: float = Field(gt=0, le=1000)


class RangeIn(StrictIn):
    """Demo: a simulated band walks out of range (false) or comes back (true)."""

    in_range: bool


class SyncOut(BaseModel):
    """Where a band's sync is: ``running``, then ``ok`` and ``message`` in plain words."""

    device_id: str
    running: bool
    phase: str
    recording: int = Field(description="which recording is being downloaded (1-based)")
    recordings: int
    bytes_done: int
    bytes_total: int
    imported: int
    started_at: datetime | None
    finished_at: datetime | None
    ok: bool | None
    message: str


class BandRecordingOut(BaseModel):
    """One recording the band held, and how far it got."""

    recording_id: str
    state: str = Field(description="on_band, downloaded, imported, removed or failed")
    reason: str
    started_at: datetime | None
    ended_at: datetime | None
    size_bytes: int | None
    child_id: int | None
    source_id: int | None


class RecorderOut(BaseModel):
    """A band's recording on the band: can it, is it, memory, battery, last sync."""

    device_id: str
    can_record: bool
    simulated: bool
    in_range: bool
    child_id: int | None
    recording: bool
    rate_hz: float | None
    rates_hz: list[float]
    started_at: datetime | None
    started_by: str | None
    free_bytes: int | None
    total_bytes: int | None
    battery_pct: int | None
    hours_left: dict[str, float] = Field(
        description="hours of recording that fit in the free memory, per rate (Hz)")
    status_at: datetime | None
    last_sync_at: datetime | None
    last_sync_ok: bool | None
    last_sync_message: str
    sync: SyncOut | None
    recordings: list[BandRecordingOut]
    live: str = Field(default="", description="after a start or stop: what became of the "
                      "band's live stream, in words (empty: nothing to say)")
