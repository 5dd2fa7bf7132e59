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
``band_memory_full``      raised by other code (a band that records offline:  -
                          its memory is nearly full), see below
========================  ==================================================  =========

An :class:`AlertBook` keeps the alerts: :meth:`AlertBook.update` takes the conditions
that hold now, raises the new ones and clears (ends) the ones that no longer hold;
:meth:`AlertBook.acknowledge` records who tapped and when. Every raise, acknowledgement
and clear is returned as a transition, which the hub stores (table ``alerts``: they
survive a restart, and an alert still true afterwards stays one alert), audit-logs and
publishes as a ``{"type": "alert", ...}`` live message.

Other code raises and clears a device alert of its own with
:meth:`movereg.pipeline.Hub.raise_alert` and :meth:`~movereg.pipeline.Hub.clear_alert`
(the hub's checks never clear those).
"""

from __future__ import annotations

import itertools
import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from movereg.pipeline.messages import iso_from_ns

__all__ = ["ALERT_KINDS", "Alert", "AlertBook", "Condition", "alert_message", "band_conditions",
           "check_kind", "storage_condition"]

log = logging.getLogger("movereg.pipeline.alerts")

ALERT_KINDS = ("battery_low", "band_disconnected", "not_worn", "signal_flat",
               "signal_clipped", "storage_full", "band_memory_full")
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
    """One alert: raised at ``started_ns``, ``ended_ns`` once its condition ended.

    ``source``: ``"check"`` (the hub's checks raise and clear it) or ``"raised"`` (other
    code raised it with :meth:`AlertBook.raise_alert` and clears it)."""

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
    source: str = "check"

    @property
    def active(self) -> bool:
        """True until the condition ends."""
        return self.ended_ns is None

    @property
    def key(self) -> tuple[str, str | None]:
        """One active alert per kind and device."""
        return self.kind, self.device_id

    def row(self) -> dict[str, Any]:
        """The stored row (``movereg.storage`` ``alerts`` table): every field, as
        :meth:`AlertBook.load` reads it back with ``Alert(**row)``."""
        return asdict(self)


def check_kind(kind: str) -> str:
    """``kind`` if it is one of :data:`ALERT_KINDS` (device and data health only), else
    :class:`ValueError`."""
    if kind not in ALERT_KINDS:
        raise ValueError(f"unknown alert kind {kind!r}; one of {', '.join(ALERT_KINDS)}")
    return kind


class AlertBook:
    """The alerts of this server, keyed by (kind, device); with a ``store`` every
    transition is kept in its ``alerts`` table (:meth:`save`) and :meth:`load` reads the
    active ones back after a restart.

    The methods are synchronous; :meth:`load`, :meth:`save` and :meth:`page` touch the
    database (call them from a thread in asyncio code)."""

    def __init__(self, store: Any = None) -> None:
        self._store = store
        self._ids = itertools.count(1)
        self._active: dict[tuple[str, str | None], Alert] = {}
        self._ended: list[Alert] = []
        self._unsaved: dict[int, Alert] = {}     # saves that failed (disk full); retried

    def load(self) -> list[Alert]:
        """Read the active alerts and the next id from the store; returns them."""
        if self._store is None:
            return []
        rows = self._store.list_alerts(active_only=True, limit=100_000)
        for row in rows:
            a = Alert(**row)
            self._active[a.key] = a
        self._ids = itertools.count(self._store.max_alert_id() + 1)
        return list(self._active.values())

    def save(self, alert: Alert) -> bool:
        """Write ``alert``'s row (and any earlier write that failed); False while the store
        cannot write (kept in memory and retried with the next save)."""
        if self._store is None:
            return True
        self._unsaved[alert.id] = alert
        from movereg.errors import MoveregError

        for a in sorted(self._unsaved.values(), key=lambda x: x.id):
            try:
                self._store.save_alert(a.row())
            except MoveregError as exc:
                log.warning("alerts: cannot store alert %d (%s); kept in memory", a.id, exc)
                return False
            self._unsaved.pop(a.id, None)
        return True

    def update(self, conditions: Iterable[Condition], now_ns: int, *,
               keep: Callable[[Alert], bool] | None = None) -> list[tuple[str, Alert]]:
        """Raise new conditions, clear ended ones; returns ``(action, alert)``
        transitions (``"raised"`` / ``"cleared"``).

        Only alerts the checks raised (``source="check"``) are cleared here; ``keep(alert)``
        True leaves one active although its condition is not among ``conditions`` (a band
        not connected again yet after a restart)."""
        now = {c.key: c for c in conditions}
        out: list[tuple[str, Alert]] = []
        for key, a in list(self._active.items()):
            if key in now or a.source != "check" or (keep is not None and keep(a)):
                continue
            out.append(("cleared", self._end(key, now_ns)))
        for key, c in now.items():
            if key not in self._active:
                out.append(("raised", self._raise(c, "check")))
        return out

    def raise_alert(self, condition: Condition) -> Alert | None:
        """Raise ``condition`` until :meth:`clear_alert` (the checks leave it alone);
        ``None`` when an alert of its kind and device is already active."""
        check_kind(condition.kind)
        if condition.key in self._active:
            return None
        return self._raise(condition, "raised")

    def clear_alert(self, kind: str, device_id: str | None, now_ns: int) -> Alert | None:
        """End the active alert of ``kind`` and ``device_id``; ``None`` when there is none."""
        if (kind, device_id) not in self._active:
            return None
        return self._end((kind, device_id), now_ns)

    def _raise(self, c: Condition, source: str) -> Alert:
        alert = Alert(next(self._ids), c.kind, c.device_id, c.child_id, c.session_id,
                      c.since_ns, c.text, source=source)
        self._active[c.key] = alert
        return alert

    def _end(self, key: tuple[str, str | None], now_ns: int) -> Alert:
        ended = replace(self._active.pop(key), ended_ns=now_ns)
        self._ended.append(ended)
        del self._ended[:-_ENDED_KEEP]
        return ended

    def get(self, alert_id: int, *, stored: bool = True) -> Alert | None:
        """An alert by id: active, recently cleared, or (with a store, ``stored``) any
        stored one."""
        for a in (*self._active.values(), *self._ended, *self._unsaved.values()):
            if a.id == alert_id:
                return a
        if stored and self._store is not None:
            for row in self._store.list_alerts(active_only=False, before_id=alert_id + 1,
                                               limit=1):
                if row["id"] == alert_id:
                    return Alert(**row)
        return None

    def acknowledge(self, alert_id: int, by: str, now_ns: int, *,
                    stored: Alert | None = None) -> Alert | None:
        """Record the tap (first acknowledgement wins); ``None`` for an unknown id.

        ``stored``: the alert as read from the store (:meth:`get`) when it is no longer
        in memory (cleared before a restart)."""
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
        if stored is None or stored.id != alert_id:
            return None
        return stored if stored.acked_by is not None else replace(stored, acked_by=by,
                                                                   acked_ns=now_ns)

    def page(self, *, active_only: bool = True, child_ids: Iterable[int] | None = None,
             before_id: int | None = None, limit: int = 100) -> list[Alert]:
        """Alerts newest first (by id), at most ``limit``, ids below ``before_id``:
        from the store when there is one (history across restarts), else this process's.
        ``child_ids``: alerts of these children and about no child; ``None``: all."""
        kids = None if child_ids is None else set(child_ids)

        def wanted(a: Alert) -> bool:
            return ((not active_only or a.active)
                    and (before_id is None or a.id < before_id)
                    and (kids is None or a.child_id is None or a.child_id in kids))

        if self._store is None:
            mine = {a.id: a for a in self.list()}
        else:
            rows = self._store.list_alerts(active_only=active_only, child_ids=kids,
                                           before_id=before_id, limit=limit)
            mine = {int(r["id"]): Alert(**r) for r in rows}
            mine.update(self._unsaved)         # not written yet: memory is newer
        return sorted((a for a in mine.values() if wanted(a)), key=lambda a: -a.id)[:limit]

    def list(self, *, active_only: bool = False) -> list[Alert]:
        """Active alerts (oldest first), then recently cleared ones (newest first) of
        this process."""
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
