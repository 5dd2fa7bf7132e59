"""Health check (no login needed; reveals nothing about data)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from movereg import __version__
from movereg.dashboard.deps import StoreDep
from movereg.errors import StorageError

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["system"])


class ConditionOut(BaseModel):
    """A data-health condition (``disk_full``, ``audit_mismatch``)."""

    key: str
    since: datetime
    message: str
    advice: str


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    schema_version: int
    conditions: list[ConditionOut] = Field(default_factory=list)


@router.get("/health", operation_id="health", response_model=HealthOut)
def health(store: StoreDep) -> HealthOut:
    """Liveness: the server answers and the database is open.

    ``status`` is ``degraded`` while a condition holds (the disk is full, the audit log
    does not match its anchor); each condition says what still works and what to do.
    Asking also retries what waits for disk space, so the answer is current.
    """
    with contextlib.suppress(StorageError):
        store.retry_pending()
    conds = [ConditionOut(key=str(c["key"]),
                          since=datetime.fromtimestamp(int(str(c["since_ns"])) / 1e9, UTC),
                          message=str(c["message"]), advice=str(c["advice"]))
             for c in store.conditions()]
    return HealthOut(status="degraded" if conds else "ok", version=__version__,
                     schema_version=store.schema_version, conditions=conds)
