"""The hub's device and data-health alerts (a mixin of :class:`~movereg.pipeline.Hub`).

Each status tick the hub gathers the conditions of its bands and of the data disk
(:mod:`movereg.pipeline.alerts`), raises and clears alerts, and stores, publishes and
audit-logs every transition. Other code raises and clears alerts of its own through
:meth:`HubAlerts.raise_alert` and :meth:`HubAlerts.clear_alert`.
"""

from __future__ import annotations

import asyncio
import logging
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

log = logging.getLogger("movereg.pipeline.hub")


class HubAlerts:
    """Alert checks for the hub (state lives on the hub)."""

    store: Any
    settings: Any
    broadcaster: Broadcaster
    alerts: AlertBook
    _runs: dict[str, Any]
    _storage: tuple[int, Condition | None]
    started_ns: int | None

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
        grace_ns = int(2 * s.alert_disconnected_s * 1e9)
        up_since = self.started_ns or now

        def keep(a: Alert) -> bool:       # after a restart, until the band is back
            return (a.device_id is not None and a.device_id not in self._runs
                    and now - up_since < grace_ns)

        changes = self.alerts.update(conds, now, keep=keep)
        for action, alert in changes:
            await self._alert_out(action, alert, "system")
        return changes

    async def raise_alert(self, kind: str, device_id: str | None, text: str, *,
                          child_id: int | None = None, session_id: int | None = None,
                          since_ns: int | None = None) -> Alert | None:
        """Raise a device alert from outside the hub's own checks (for example a band
        that records offline: ``"band_memory_full"``, ``"battery_low"``).

        It stays active, is stored, listed, published live and audit-logged like every
        alert, until :meth:`clear_alert` (the status checks never clear it). ``kind`` is
        one of :data:`~movereg.pipeline.alerts.ALERT_KINDS` (:class:`ValueError`
        otherwise); ``text`` is shown as is (describe the device, never the child);
        ``since_ns`` defaults to now. Returns the new alert, or ``None`` when one of this
        kind and device is already active (raising twice is harmless)."""
        now = time.time_ns()
        alert = self.alerts.raise_alert(Condition(kind, device_id, child_id, session_id,
                                                  now if since_ns is None else since_ns,
                                                  text))
        if alert is not None:
            await self._alert_out("raised", alert, "system")
        return alert

    async def clear_alert(self, kind: str, device_id: str | None) -> Alert | None:
        """End the active alert of ``kind`` and ``device_id`` (the condition is over);
        ``None`` when there is none. Stored, published and audit-logged."""
        alert = self.alerts.clear_alert(kind, device_id, time.time_ns())
        if alert is not None:
            await self._alert_out("cleared", alert, "system")
        return alert

    async def _load_alerts(self) -> None:
        """Read the stored active alerts back (start-up)."""
        from movereg.errors import MoveregError

        try:
            loaded = await asyncio.to_thread(self.alerts.load)
        except MoveregError as exc:
            log.warning("hub: cannot read the stored alerts: %s", exc)
            return
        if loaded:
            log.info("hub: %d alert(s) still active from before the restart", len(loaded))

    async def acknowledge_alert(self, alert_id: int, actor: str) -> Alert | None:
        """A tap on an alert: who and when, audit-logged and published."""
        before = self.alerts.get(alert_id, stored=False)
        if before is None:                  # cleared before a restart: the stored row
            before = await asyncio.to_thread(self.alerts.get, alert_id)
        alert = self.alerts.acknowledge(alert_id, actor, time.time_ns(), stored=before)
        if alert is not None and before is not None and before.acked_by is None:
            await self._alert_out("acknowledged", alert, actor)
        return alert

    async def _alert_out(self, action: str, alert: Alert, actor: str) -> None:
        await asyncio.to_thread(self.alerts.save, alert)
        msg = alert_message(action, alert)
        self.broadcaster.publish(msg)
        audit = getattr(self.store, "audit", None)
        if audit is not None:
            detail = {k: msg[k] for k in ("alert_id", "kind", "device_id", "text",
                                          "started_iso")}
            await asyncio.to_thread(audit, actor, f"alert.{action}",
                                    child_id=alert.child_id, detail=detail)
