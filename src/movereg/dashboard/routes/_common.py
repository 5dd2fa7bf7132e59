"""Helpers shared by the routers (path parameter types, time ranges, awaiting hubs)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Path, Query

from movereg.dashboard.schemas import MAX_ID, Time, ns
from movereg.errors import ValidationError

__all__ = ["ChildId", "EventId", "FromQ", "SessionId", "ToQ", "maybe_await", "ns_range",
           "run_sync"]

ChildId = Annotated[int, Path(ge=1, le=MAX_ID, description="child id")]
EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="strategy event id")]
SessionId = Annotated[int, Path(ge=1, le=MAX_ID, description="session id")]
FromQ = Annotated[Time | None, Query(alias="from", description="start (ISO 8601 with offset, "
                                                                 "1678-2261)")]
ToQ = Annotated[Time | None, Query(alias="to", description="end, exclusive (ISO 8601 with "
                                                           "offset, 1678-2261)")]


def ns_range(start: datetime | None, end: datetime | None, *,
             max_days: float | None = None) -> tuple[int | None, int | None]:
    """Validate a query time range and convert to UTC ns."""
    a = None if start is None else ns(start)
    b = None if end is None else ns(end)
    if a is not None and b is not None and b <= a:
        raise ValidationError("'to' must be after 'from'")
    if max_days is not None:
        if a is None or b is None:
            raise ValidationError("give both 'from' and 'to'")
        if (b - a) > max_days * 86_400e9:
            raise ValidationError(f"time range longer than {max_days:g} days",
                                  advice="ask for a shorter range or use the export")
    return a, b


async def maybe_await(value: Any) -> Any:
    """Await ``value`` when a hub method returned an awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


_P = ParamSpec("_P")
_T = TypeVar("_T")


async def run_sync(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a blocking store call off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)
