"""Device and data-health alerts (never about a child's state).

Kinds, with their :class:`~movereg.config.Settings` thresholds:

========================  ==================================================  =========
kind                      raised when                                         setting
========================  ==================================================  =========
``battery_low``           the band reports battery <= ``alert_battery_pct``   15 %
``band_disconnected``     no data from a connected band for longer than       30 s
                          ``alert_disconnected_s``
``not_worn``              during a session, the band has been still (off the  10 min
                          wrist) for longer than ``alert_not_worn_min``
``signal_flat``           every axis has held one value (stuck sensor) for    10 s
                          ``alert_stuck_s``
``signal_clipped``        every sample at the sensor's range limit for        10 s
                          ``alert_stuck_s``
``storage_full``          free space of the data directory's disk <=          5 %
                          ``alert_storage_free_pct``
========================  ==================================================  =========

An :class:`AlertBook` keeps the alerts of this server process: :meth:`AlertBook.update`
takes the conditions that hold now, raises the new ones and clears (ends) the ones
that no longer hold; :meth:`AlertBook.acknowledge` records who tapped and when. Every
raise, acknowledgement and clear is returned as a transition, which the hub audit-logs
and publishes as a ``{"type": "alert", ...}`` live message. Alerts are not a record of
the child: the audit log holds their history.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from movereg.pipeline.messages import iso_from_ns

__all__ = ["ALERT_KINDS", "Alert", "AlertBook", "Condition", "alert_message", "band_conditions",
           "storage_condition"]

ALERT_KINDS = ("battery_low", "band_disconnected", "not_worn", "signal_flat",
               "signal_clipped", "storage_full")
_ENDED_KEEP = 200          # cleared alerts kept for the list


@dataclass(frozen=True, slots=True)
class Condition:
    """A device or data condition that holds now."""

    kind: str
    device_id: str | None
    child_id: int | None
    session_id: int | None
    since_ns: int
    text: str

    @property
    def key(self) -> tuple[str, str | None]:
        """One alert per kind and device."""
        return self.kind, self.device_id


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: raised at ``started_ns``, ``ended_ns`` once its condition ended."""

    id: int
    kind: str
    device_id: str | None
    child_id: int | None
    session_id: int | None
    started_ns: int
    text: str
    ended_ns: int | None = None
    acked_by: str | None = None
    acked_ns: int | None = None

    @property
    def active(self) -> bool:
        """True until the condition ends."""
        return self.ended_ns is None


class AlertBook:
    """The alerts of this process, keyed by (kind, device)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._active: dict[tuple[str, str | None], Alert] = {}
        self._ended: list[Alert] = []

    def update(self, conditions: Iterable[Condition], now_ns: int) -> list[tuple[str, Alert]]:
        """Raise new conditions, clear ended ones; returns ``(action, alert)``
        transitions (``"raised"`` / ``"cleared"``)."""
        now = {c.key: c for c in conditions}
        out: list[tuple[str, Alert]] = []
        for key in [k for k in self._active if k not in now]:
            ended = replace(self._active.pop(key), ended_ns=now_ns)
            self._ended.append(ended)
            out.append(("cleared", ended))
        del self._ended[:-_ENDED_KEEP]
        for key, c in now.items():
            if key not in self._active:
                alert = Alert(next(self._ids), c.kind, c.device_id, c.child_id, c.session_id,
                              c.since_ns, c.text)
                self._active[key] = alert
                out.append(("raised", alert))
        return out

    def get(self, alert_id: int) -> Alert | None:
        """An alert by id (active or recently cleared)."""
        for a in (*self._active.values(), *self._ended):
            if a.id == alert_id:
                return a
        return None

    def acknowledge(self, alert_id: int, by: str, now_ns: int) -> Alert | None:
        """Record the tap (first acknowledgement wins); ``None`` for an unknown id."""
        for key, a in self._active.items():
            if a.id == alert_id:
                if a.acked_by is None:
                    a = self._active[key] = replace(a, acked_by=by, acked_ns=now_ns)
                return a
        for i, a in enumerate(self._ended):
            if a.id == alert_id:
                if a.acked_by is None:
                    a = self._ended[i] = replace(a, acked_by=by, acked_ns=now_ns)
                return a
        return None

    def list(self, *, active_only: bool = False) -> list[Alert]:
        """Active alerts (oldest first), then recently cleared ones (newest first)."""
        active = sorted(self._active.values(), key=lambda a: (a.started_ns, a.id))
        return active if active_only else active + self._ended[::-1]


def alert_message(action: str, alert: Alert) -> dict[str, Any]:
    """The ``{"type": "alert", ...}`` live message of a transition."""
    def ms(ns: int | None) -> int | None:
        return None if ns is None else ns // 1_000_000

    return {"type": "alert", "action": action, "alert_id": alert.id, "kind": alert.kind,
            "device_id": alert.device_id, "child_id": alert.child_id,
            "session_id": alert.session_id, "text": alert.text, "active": alert.active,
            "started_ms": ms(alert.started_ns), "started_iso": iso_from_ns(alert.started_ns),
            "ended_ms": ms(alert.ended_ns), "acked_by": alert.acked_by,
            "acked_ms": ms(alert.acked_ns)}


def band_conditions(*, device_id: str, child_id: int | None, session_id: int | None,
                    now_ns: int, battery_pct: int | None, last_rx_ns: int | None,
                    health: Any, settings: Any) -> list[Condition]:
    """The conditions of one connected band (``health``: its
    :class:`~movereg.pipeline.health.SignalHealth`)."""
    out: list[Condition] = []

    def add(kind: str, since: int, text: str) -> None:
        out.append(Condition(kind, device_id, child_id, session_id, since, text))

    if battery_pct is not None and battery_pct <= settings.alert_battery_pct:
        add("battery_low", now_ns, f"Band {device_id}: battery low ({battery_pct} %)")
    if last_rx_ns is not None and now_ns - last_rx_ns > settings.alert_disconnected_s * 1e9:
        add("band_disconnected", last_rx_ns,
            f"Band {device_id}: no data for more than {settings.alert_disconnected_s:g} s")
    if session_id is not None and health.still_since is not None \
            and health.still_s > settings.alert_not_worn_min * 60:
        add("not_worn", health.still_since, f"Band {device_id}: not worn for more than "
                                            f"{settings.alert_not_worn_min:g} min")
    if health.flat_since is not None and health.flat_s >= settings.alert_stuck_s:
        add("signal_flat", health.flat_since,
            f"Band {device_id}: flat signal (the sensor may be stuck)")
    if health.clipped_since is not None and health.clipped_s >= settings.alert_stuck_s:
        add("signal_clipped", health.clipped_since,
            f"Band {device_id}: signal at the sensor's limit (clipped)")
    return out


def storage_condition(data_dir: Path, *, now_ns: int, free_pct: float,
                      usage: Callable[[Path], Any] | None = None) -> Condition | None:
    """``storage_full`` when the data directory's disk has ``free_pct`` % or less free
    (``usage``: :func:`shutil.disk_usage` by default)."""
    try:
        u = (usage or shutil.disk_usage)(data_dir)
    except OSError:
        return None
    left = 100.0 * u.free / u.total if u.total else 100.0
    if left > free_pct:
        return None
    return Condition("storage_full", None, None, None, now_ns,
                     f"Storage nearly full: {left:.1f} % free on the data disk")
