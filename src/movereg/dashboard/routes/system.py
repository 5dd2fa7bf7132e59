"""Health check (no login needed; reveals nothing about data)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from movereg import __version__
from movereg.dashboard.deps import StoreDep

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["system"])


class HealthOut(BaseModel):
    status: str
    version: str
    schema_version: int


@router.get("/health", operation_id="health", response_model=HealthOut)
def health(store: StoreDep) -> HealthOut:
    """Liveness: the server answers and the database is open."""
    return HealthOut(status="ok", version=__version__, schema_version=store.schema_version)
