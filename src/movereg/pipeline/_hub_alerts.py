"""The hub's device and data-health alerts (a mixin of :class:`~movereg.pipeline.Hub`).

Each status tick the hub gathers the conditions of its bands and of the data disk
(:mod:`movereg.pipeline.alerts`), raises and clears alerts, and publishes and
audit-logs every transition.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from movereg.models import BandStatus
from movereg.pipeline.alerts import (
    Alert,
    AlertBook,
    Condition,
    alert_message,
    band_conditions,
    storage_condition,
)
from movereg.pipeline.broadcast import Broadcaster

__all__ = ["HubAlerts"]


class HubAlerts:
    """Alert checks for the hub (state lives on the hub)."""

    store: Any
    settings: Any
    broadcaster: Broadcaster
    alerts: AlertBook
    _runs: dict[str, Any]
    _storage: tuple[int, Condition | None]

    def _band_status(self, run: Any) -> BandStatus:
        raise NotImplementedError

    async def check_alerts(self, now_ns: int | None = None) -> list[tuple[str, Alert]]:
        """Raise and clear alerts from the conditions that hold now (each status tick);
        transitions are published live and audit-logged."""
        now = time.time_ns() if now_ns is None else now_ns
        s = self.settings
        conds: list[Condition] = []
        for run in self._runs.values():
            conds += band_conditions(
                device_id=run.device_id, child_id=run.child_id, session_id=run.session_id,
                now_ns=now, battery_pct=self._band_status(run).battery_pct,
                last_rx_ns=run.last_rx_ns or run.connected_ns, health=run.health, settings=s)
        checked, disk = self._storage
        if now - checked >= 10_000_000_000 or now_ns is not None:    # a syscall per 10 s
            disk = storage_condition(s.data_dir, now_ns=now, free_pct=s.alert_storage_free_pct)
            self._storage = (now, disk)
        if disk is not None:
            conds.append(disk)
        changes = self.alerts.update(conds, now)
        for action, alert in changes:
            await self._alert_out(action, alert, "system")
        return changes

    async def acknowledge_alert(self, alert_id: int, actor: str) -> Alert | None:
        """A tap on an alert: who and when, audit-logged and published."""
        before = self.alerts.get(alert_id)
        alert = self.alerts.acknowledge(alert_id, actor, time.time_ns())
        if alert is not None and before is not None and before.acked_by is None:
            await self._alert_out("acknowledged", alert, actor)
        return alert

    async def _alert_out(self, action: str, alert: Alert, actor: str) -> None:
        msg = alert_message(action, alert)
        self.broadcaster.publish(msg)
        audit = getattr(self.store, "audit", None)
        if audit is not None:
            detail = {k: msg[k] for k in ("alert_id", "kind", "device_id", "text",
                                          "started_iso")}
            await asyncio.to_thread(audit, actor, f"alert.{action}",
                                    child_id=alert.child_id, detail=detail)
