"""The :class:`Store`: one SQLite file holding everything movereg records."""

from __future__ import annotations

from pathlib import Path

from movereg.storage._audit import AuditMixin
from movereg.storage._clinic import ClinicMixin
from movereg.storage._consent import ConsentMixin
from movereg.storage._events import EventsMixin
from movereg.storage._ingest import IngestMixin

__all__ = ["Store"]


class Store(IngestMixin, ClinicMixin, EventsMixin, AuditMixin, ConsentMixin):
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
