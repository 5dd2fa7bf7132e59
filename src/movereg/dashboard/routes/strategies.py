"""The clinic's strategy catalogue (read: everyone logged in; edit: admin, therapist)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from movereg.dashboard.deps import Clinician, CurrentUser, StoreDep
from movereg.dashboard.schemas import StrategyActiveIn, StrategyIn, StrategyOut

__all__ = ["router"]

router = APIRouter(prefix="/api/strategies", tags=["strategies"])
Key = Annotated[str, Path(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", max_length=64)]


@router.get("", operation_id="list_strategies", response_model=list[StrategyOut])
def list_strategies(store: StoreDep, principal: CurrentUser,
                    include_inactive: bool = False) -> list[StrategyOut]:
    """The catalogue, by category then label."""
    return [StrategyOut.of(s) for s in store.list_strategies(include_inactive=include_inactive)]


@router.put("/{key}", operation_id="put_strategy", response_model=StrategyOut)
def put_strategy(key: Key, body: StrategyIn, store: StoreDep,
                 principal: Clinician) -> StrategyOut:
    """Add or edit a catalogue entry for this clinic."""
    with store.transaction("cannot save strategy"):
        s = store.put_strategy({"id": key, **body.model_dump()})
        store.audit(principal.actor, "strategy.put", detail={"key": key})
    return StrategyOut.of(s)


@router.patch("/{key}", operation_id="set_strategy_active", response_model=StrategyOut)
def set_strategy_active(key: Key, body: StrategyActiveIn, store: StoreDep,
                        principal: Clinician) -> StrategyOut:
    """Hide or show an entry (logged events keep their key)."""
    with store.transaction("cannot update strategy"):
        s = store.set_strategy_active(key, body.active)
        store.audit(principal.actor, "strategy.active", detail={"key": key,
                                                                "active": body.active})
    return StrategyOut.of(s)
