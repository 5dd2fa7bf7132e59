"""Live WebSocket feed (owned by the pipeline work; see movereg.pipeline)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["live"])
