"""The :class:`Store`: one SQLite file holding everything movereg records."""

from __future__ import annotations

from pathlib import Path

from movereg.signal.table import EpochTable
from movereg.storage._alerts import AlertsMixin
from movereg.storage._audit import AuditMixin
from movereg.storage._band_recordings import BandRecordingsMixin
from movereg.storage._calibration import CalibrationMixin
from movereg.storage._clinic import ClinicMixin
from movereg.storage._consent import ConsentMixin
from movereg.storage._events import EventsMixin
from movereg.storage._family import FamilyMixin
from movereg.storage._ingest import IngestMixin
from movereg.storage._relays import RelayMixin
from movereg.storage._timeline import TimelineMixin

__all__ = ["Store"]


class Store(BandRecordingsMixin,
            TimelineMixin, IngestMixin, ClinicMixin, FamilyMixin, EventsMixin, RelayMixin,
            AuditMixin, ConsentMixin, AlertsMixin, CalibrationMixin):
    """Synchronous, thread-safe access to the movereg database.

    Open it once per process (``Store(settings.db_path)``); call it from asyncio through
    ``asyncio.to_thread``. Opening applies pending migrations, runs ``PRAGMA quick_check``
    and seeds the default strategy catalogue on first use.

    Parameters
    ----------
    path
        The SQLite file (created with its directory when missing).

    Raises
    ------
    StorageError
        The file cannot be opened, is damaged, or is from a newer movereg.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        try:
            self._open_audit()
            self.seed_strategies()
        except BaseException:
            self.close()
            raise

    def epoch_table(self, *, device_id: str | None = None, child_id: int | None = None,
                    start_ns: int | None = None, end_ns: int | None = None) -> EpochTable:
        """Every schema column of the epochs in ``[start_ns, end_ns)`` as an
        :class:`~movereg.signal.EpochTable`. For a child this is the child's time line
        (:meth:`timeline`: each moment once, live bands and imported recordings by the
        documented precedence rule); for a device, that device's own rows."""
        if child_id is not None and device_id is None:
            return EpochTable(self.timeline(child_id, start_ns, end_ns))
        return IngestMixin.epoch_table(self, device_id=device_id, child_id=child_id,
                                       start_ns=start_ns, end_ns=end_ns)
