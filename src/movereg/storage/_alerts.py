"""Device and data-health alerts kept across restarts (table ``alerts``, migration 0007).

The hub's :class:`~movereg.pipeline.alerts.AlertBook` writes every transition (raised,
acknowledged, cleared) as an upsert of the whole row and reads the active ones back on
start, so an alert still true after a restart stays one alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from movereg.storage._core import StoreCore
from movereg.storage._db import NO_PARAM, is_in, where

__all__ = ["ALERT_COLUMNS", "AlertsMixin"]

#: Columns of an alert row, in the order :meth:`AlertsMixin.list_alerts` returns them.
ALERT_COLUMNS = ("id", "kind", "source", "device_id", "child_id", "session_id", "started_ns",
                 "text", "ended_ns", "acked_by", "acked_ns")
_COLS = ", ".join(ALERT_COLUMNS)


class AlertsMixin(StoreCore):
    """Persisted alerts."""

    def save_alert(self, row: dict[str, Any]) -> None:
        """Insert or replace the alert ``row`` (keys :data:`ALERT_COLUMNS`) by its id.

        A new active alert for a kind and device that already has an active row ends the
        older row first (one active alert per kind and device)."""
        values = [row[c] for c in ALERT_COLUMNS]
        with self._tx("cannot save an alert") as con:
            if row["ended_ns"] is None:
                con.execute("UPDATE alerts SET ended_ns = ? WHERE ended_ns IS NULL AND kind = ?"
                            " AND COALESCE(device_id, '') = COALESCE(?, '') AND id != ?",
                            (row["started_ns"], row["kind"], row["device_id"], row["id"]))
            con.execute(f"INSERT OR REPLACE INTO alerts({_COLS}) VALUES "
                        f"({', '.join('?' * len(ALERT_COLUMNS))})", values)

    def list_alerts(self, *, active_only: bool = True, child_ids: Iterable[int] | None = None,
                    before_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Alerts newest first (by id), as dicts of :data:`ALERT_COLUMNS`.

        ``child_ids``: only alerts of these children and alerts about no child (storage);
        ``None``: all. ``before_id``: the next page after the last id of this one."""
        kids = None if child_ids is None else sorted({int(k) for k in child_ids})
        in_kids, kid_ids = is_in("child_id", kids or None)
        clause, params = where([
            ("ended_ns IS NULL", NO_PARAM if active_only else None),
            ("id < ?", before_id),
            (f"(child_id IS NULL OR {in_kids})", kid_ids),       # some children (and none)
            ("child_id IS NULL", NO_PARAM if kids == [] else None),  # no children: none
        ])
        rows = self._fetch(
            "alerts",
            f"SELECT {_COLS} FROM alerts{clause} ORDER BY id DESC LIMIT ?",
            [*params, int(limit)])
        return [dict(zip(ALERT_COLUMNS, r, strict=True)) for r in rows]

    def max_alert_id(self) -> int:
        """The largest alert id ever stored (0 for none)."""
        return int(self._fetch("alerts", "SELECT MAX(id) FROM alerts")[0][0] or 0)
