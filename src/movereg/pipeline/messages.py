"""Build the JSON-able live-feed messages (schema documented in
:mod:`movereg.dashboard.routes.live`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from movereg.models import BandStatus
from movereg.timeutil import iso_from_ns

if TYPE_CHECKING:
    from movereg.pipeline.activity import ActivityPoint

__all__ = ["activity_message", "epoch_messages", "iso_from_ns", "jsonable", "status_band"]


def _py(value: Any) -> Any:
    """numpy scalar -> Python scalar; NaN/inf -> ``None`` (JSON has no NaN)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def epoch_messages(columns: Any, n: int, *, device_id: str, child_id: int | None,
                   session_id: int | None, rx_ns: int) -> list[dict[str, Any]]:
    """One ``{"type": "epoch", ...}`` message per row of an epoch table.

    Parameters
    ----------
    columns
        ``{name: 1-D array or list}`` (an :class:`~movereg.signal.table.EpochTable`'s
        ``column_lists()`` or ``columns``).
    n
        Number of rows.
    device_id, child_id, session_id
        Who the epochs belong to.
    rx_ns
        Wall-clock UTC ns when the hub received the sample block that completed these
        epochs (for notify -> client latency measurements).
    """
    names = list(columns)
    lists = {k: v if isinstance(v := columns[k], list) else np.asarray(v).tolist()
             for k in names}
    out: list[dict[str, Any]] = []
    for i in range(n):
        msg: dict[str, Any] = {"type": "epoch", "device_id": device_id,
                               "child_id": child_id, "session_id": session_id}
        for k in names:
            msg[k] = _py(lists[k][i])
        start = int(msg["epoch_start"])
        msg["epoch_start_ms"] = start // 1_000_000
        msg["epoch_start_iso"] = iso_from_ns(start)
        msg["rx_ns"] = rx_ns
        out.append(msg)
    return out


def activity_message(point: ActivityPoint, *, device_id: str, child_id: int | None,
                     session_id: int | None, rx_ns: int) -> dict[str, Any]:
    """The ``{"type": "activity", ...}`` message of one point of the fast trace.

    ``t_end_ms`` / ``t_end_ns``: UTC time of the last sample covered; ``t_start_ms``: of
    the first; ``value`` in ``unit`` (mg, ENMO; ``None`` when no sample was finite);
    ``n``: samples covered; ``rx_ns``: when the hub received the block.
    """
    return {"type": "activity", "device_id": device_id, "child_id": child_id,
            "session_id": session_id, "t_end_ms": point.t_end_ns // 1_000_000,
            "t_end_ns": point.t_end_ns, "t_start_ms": point.t_start_ns // 1_000_000,
            "value": _py(point.value_mg), "unit": "mg", "n": point.n, "rx_ns": rx_ns}


def status_band(status: BandStatus, *, child_id: int | None, session_id: int | None,
                error: str | None, samples: int, epochs: int) -> dict[str, Any]:
    """One band's entry in a ``status`` message."""
    return {
        "device_id": status.device_id,
        "child_id": child_id,
        "session_id": session_id,
        "family": str(status.family),
        "state": str(status.state),
        "rate_hz": _py(status.rate_hz),
        "battery_pct": status.battery_pct,
        "last_data_ns": status.last_data_ns,
        "last_data_ms": None if status.last_data_ns is None else status.last_data_ns // 1_000_000,
        "attempt": status.attempt,
        "next_try_s": _py(status.next_try_s),
        "reason": status.reason,
        "samples_lost": status.samples_lost,
        "samples": samples,
        "epochs": epochs,
        "error": error,
    }


def jsonable(value: Any) -> Any:
    """Nested dicts/lists with numpy scalars -> plain JSON values (NaN/inf -> ``None``)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return _py(value)
