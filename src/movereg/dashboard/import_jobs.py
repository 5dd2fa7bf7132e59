"""Background import jobs of the web app: one ``asyncio.to_thread`` task per upload.

The uploaded file waits in ``<data dir>/imports/uploads/<source id><suffix>`` until its
import is stored or has failed, then it is deleted. Progress lives in the ``sources`` row
(``GET /api/imports/{id}`` reads it), so a page can be closed and reopened. When the
server stops (or is killed) mid-import nothing of it is stored; the next start runs it
again from the kept upload with what it was started with (:meth:`ImportJobs.resume`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from movereg.config import Settings
from movereg.errors import MoveregError
from movereg.storage import Store, uploads_dir

__all__ = ["ImportJobs", "discard", "staging_path"]

log = logging.getLogger(__name__)


def discard(path: Path) -> None:
    """Delete a file if it is there."""
    with contextlib.suppress(OSError):
        path.unlink()


def staging_path(settings: Settings) -> Path:
    """A new file for an upload while it streams in, before it is an import (one a stop
    cut off is deleted at the next start: :meth:`ImportJobs.resume`)."""
    return uploads_dir(settings.data_dir) / f"upload-{secrets.token_hex(8)}.part"


@dataclass
class _Job:
    task: asyncio.Task[None]
    cancel: threading.Event = field(default_factory=threading.Event)


class ImportJobs:
    """The running imports of one app (``app.state.import_jobs``)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._jobs: dict[int, _Job] = {}
        self._stopping = threading.Event()

    def start(self, source_id: int, path: Path, *, tz: str | None, device: str | None,
              actor: str) -> None:
        """Run the import in a worker thread (returns at once)."""
        cancel = threading.Event()
        task = asyncio.get_running_loop().create_task(
            self._run(source_id, path, tz, device, actor, cancel))
        self._jobs[source_id] = _Job(task, cancel)

    async def _run(self, source_id: int, path: Path, tz: str | None, device: str | None,
                   actor: str, cancel: threading.Event) -> None:
        from movereg.pipeline.importer import ImportCancelled, ImportInterrupted, run_import

        keep_upload = False
        try:
            await asyncio.to_thread(run_import, self.store, source_id, path, tz=tz,
                                    device=device, epoch_s=self.settings.epoch_s,
                                    raw_retention_days=self.settings.raw_retention_days,
                                    cancel=cancel, stop=self._stopping, actor=actor)
        except ImportInterrupted:
            keep_upload = True
        except ImportCancelled:
            pass
        except MoveregError as exc:
            log.info("import %d failed: %s", source_id, exc)
        except Exception:
            log.exception("import %d failed", source_id)
            with contextlib.suppress(MoveregError):
                self.store.fail_import(source_id, "the import stopped on an internal error")
        finally:
            self._jobs.pop(source_id, None)
            if not keep_upload:
                await asyncio.to_thread(discard, path)

    def cancel(self, source_id: int) -> bool:
        """Ask a running import to stop (nothing of it is stored); False if not running."""
        job = self._jobs.get(source_id)
        if job is None:
            return False
        job.cancel.set()
        return True

    def running(self, source_id: int) -> bool:
        """True while the import's task is alive in this process."""
        return source_id in self._jobs

    def resume(self) -> int:
        """Start again the imports a stopped or killed server left pending (returns how many)."""
        n = 0
        uploads = uploads_dir(self.settings.data_dir)
        for part in uploads.glob("upload-*.part") if uploads.is_dir() else []:
            discard(part)  # an upload cut off by the stop: never registered
        for src in self.store.interrupted_imports():
            found = sorted(uploads.glob(f"{src.id}.*")) if uploads.is_dir() else []
            if not found:
                self.store.fail_import(src.id, f"{src.file_name}: the upload was lost when "
                                       "the server stopped; add the file again")
                continue
            self.store.set_import_progress(src.id, 0.0, "starting again after a restart")
            # the same call the upload, relay upload or band sync made (tz, device and
            # actor kept with the import; epoch length and raw retention are the
            # server's settings, as for every import it runs now)
            self.start(src.id, found[0], tz=src.tz, device=src.import_device,
                       actor=src.imported_by or "system")
            n += 1
        return n

    async def stop(self) -> None:
        """Interrupt running imports (they resume at the next start) and wait for them."""
        self._stopping.set()
        tasks = [j.task for j in self._jobs.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

