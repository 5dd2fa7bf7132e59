"""Strategy catalogue and strategy events (void-and-replace, never edited in place)."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import yaml

from movereg.errors import NotFoundError, StorageError, ValidationError
from movereg.storage._core import now_ns
from movereg.storage._db import NO_PARAM, where
from movereg.storage._people import PeopleMixin
from movereg.storage.records import Strategy, StrategyEvent

__all__ = ["EventsMixin", "load_default_strategies"]

_KEY_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_EVENT_COLS = ("id, child_id, session_id, strategy, started_at, ended_at, logged_by, logged_at, "
               "note, initiated_by, planned, voided, void_reason, voided_by, voided_at, "
               "replaces_id")
_STRATEGY_COLS = ("key, label, category, systems, intended_effect, expected_motion, caution, "
                  "setting, active, custom")
_MAX_NOTE = 2000


def load_default_strategies() -> list[dict[str, Any]]:
    """The shipped default catalogue (``strategies_default.yaml``, product notes §4.2)."""
    text = resources.files("movereg.storage").joinpath("strategies_default.yaml").read_text(
        encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("strategies"), list):
        raise StorageError("strategies_default.yaml: expected a 'strategies' list")
    return list(data["strategies"])


def _event(row: tuple[Any, ...]) -> StrategyEvent:
    return StrategyEvent(
        id=int(row[0]), child_id=int(row[1]), session_id=row[2], strategy=str(row[3]),
        started_at=int(row[4]), ended_at=row[5], logged_by=row[6], logged_at=int(row[7]),
        note=str(row[8]), initiated_by=row[9], planned=None if row[10] is None else bool(row[10]),
        voided=bool(row[11]), void_reason=row[12], voided_by=row[13], voided_at=row[14],
        replaces_id=row[15])


def _strategy(row: tuple[Any, ...]) -> Strategy:
    return Strategy(str(row[0]), str(row[1]), str(row[2]), tuple(json.loads(row[3])),
                    str(row[4]), tuple(json.loads(row[5])), str(row[6]),
                    tuple(json.loads(row[7])), bool(row[8]), bool(row[9]))


def _as_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise ValidationError(f"strategy field {name!r} must be a list of words")


class EventsMixin(PeopleMixin):
    """Catalogue and events."""

    # --- catalogue ----------------------------------------------------------------
    def seed_strategies(self, *, force: bool = False) -> int:
        """Insert the default catalogue once per database; returns rows inserted."""
        if not force and self.meta_get("strategies_seeded") is not None:
            return 0
        entries = load_default_strategies()
        n = 0
        with self._tx("cannot seed strategies") as con:
            for e in entries:
                row = self._strategy_row(e, custom=False)
                cur = con.execute(f"INSERT OR IGNORE INTO strategies({_STRATEGY_COLS}) VALUES "
                                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                n += cur.rowcount
            con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES "
                        "('strategies_seeded', '1')")
        return n

    @staticmethod
    def _strategy_row(e: dict[str, Any], *, custom: bool) -> tuple[Any, ...]:
        key = str(e.get("id") or e.get("key") or "")
        if not _KEY_RE.match(key) or len(key) > 64:
            raise ValidationError(f"bad strategy key {key!r}",
                                  advice="lower-case words joined by '.', e.g. 'mov.break'")
        label = str(e.get("label") or "").strip()
        category = str(e.get("category") or "").strip()
        if not label or len(label) > 120 or not category or len(category) > 60:
            raise ValidationError("a strategy needs a label (<= 120) and a category (<= 60)")
        return (key, label, category, json.dumps(_as_list(e.get("systems"), "systems")),
                str(e.get("intended_effect") or "varies"),
                json.dumps(_as_list(e.get("expected_motion"), "expected_motion")),
                str(e.get("caution") or ""), json.dumps(_as_list(e.get("setting"), "setting")),
                int(bool(e.get("active", True))), int(custom))

    def list_strategies(self, *, include_inactive: bool = False) -> list[Strategy]:
        """The clinic's catalogue, by category then label."""
        sql = f"SELECT {_STRATEGY_COLS} FROM strategies"
        if not include_inactive:
            sql += " WHERE active = 1"
        rows = self._fetch("strategies", sql + " ORDER BY category, label")
        return [_strategy(r) for r in rows]

    def get_strategy(self, key: str) -> Strategy:
        """One catalogue entry."""
        return _strategy(self._get_one(
            "strategies", f"SELECT {_STRATEGY_COLS} FROM strategies WHERE key = ?", (key,),
            missing=f"no strategy {key!r}"))

    def put_strategy(self, entry: dict[str, Any]) -> Strategy:
        """Create or replace a catalogue entry (clinic edit)."""
        row = self._strategy_row(entry, custom=True)
        with self._tx("cannot save strategy") as con:
            existing = con.execute("SELECT custom FROM strategies WHERE key = ?",
                                   (row[0],)).fetchone()
            if existing is not None:
                row = (*row[:-1], int(existing[0]))
            con.execute(f"INSERT OR REPLACE INTO strategies({_STRATEGY_COLS}) VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        return self.get_strategy(row[0])

    def set_strategy_active(self, key: str, active: bool) -> Strategy:
        """Hide (or show again) a catalogue entry; logged events keep their key."""
        with self._tx("cannot update strategy") as con:
            if con.execute("UPDATE strategies SET active = ? WHERE key = ?",
                           (int(active), key)).rowcount == 0:
                raise NotFoundError(f"no strategy {key!r}")
        return self.get_strategy(key)

    # --- events -------------------------------------------------------------------
    def _check_event_fields(self, child_id: int, strategy: str, started_at: int,
                            ended_at: int | None, session_id: int | None, note: str,
                            initiated_by: str | None) -> None:
        if not 0 < len(strategy) <= 100 or not strategy.strip():
            raise ValidationError("strategy must be a catalogue key or a short custom name")
        if ended_at is not None and ended_at < started_at:
            raise ValidationError("an event cannot end before it starts")
        if len(note) > _MAX_NOTE:
            raise ValidationError(f"note longer than {_MAX_NOTE} characters")
        if initiated_by not in (None, "child", "adult"):
            raise ValidationError("initiated_by must be 'child' or 'adult'")
        self.get_child(child_id)
        if session_id is not None and self.get_session(session_id).child_id != child_id:
            raise ValidationError(f"session {session_id} belongs to another child")

    def create_event(self, child_id: int, strategy: str, *, started_at: int | None = None,
                     ended_at: int | None = None, session_id: int | None = None,
                     logged_by: int | None = None, note: str = "",
                     initiated_by: str | None = None, planned: bool | None = None,
                     replaces_id: int | None = None,
                     idempotency_key: str | None = None) -> StrategyEvent:
        """Log a strategy use; ``started_at`` defaults to the server's clock now.

        ``idempotency_key`` (the client's ``Idempotency-Key``) is stored with the event;
        it is unique, so look it up first (:meth:`event_by_key`) to answer a retry.
        """
        ts = now_ns()
        start = ts if started_at is None else int(started_at)
        self._check_event_fields(child_id, strategy, start, ended_at, session_id, note,
                                 initiated_by)
        with self._tx("cannot save event") as con:
            cur = con.execute(
                "INSERT INTO strategy_events(child_id, session_id, strategy, started_at, "
                "ended_at, logged_by, logged_at, note, initiated_by, planned, replaces_id, "
                "idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (child_id, session_id, strategy, start, ended_at, logged_by, ts, note,
                 initiated_by, None if planned is None else int(planned), replaces_id,
                 idempotency_key))
            eid = int(cur.lastrowid or 0)
        return self.get_event(eid)

    def event_by_key(self, idempotency_key: str) -> StrategyEvent | None:
        """The event a request with this ``Idempotency-Key`` created, or None."""
        row = self._fetch_one("events", f"SELECT {_EVENT_COLS} FROM strategy_events "
                              "WHERE idempotency_key = ?", (idempotency_key,))
        return None if row is None else _event(row)

    def get_event(self, event_id: int) -> StrategyEvent:
        """One event (voided or not)."""
        return _event(self._get_one(
            "events", f"SELECT {_EVENT_COLS} FROM strategy_events WHERE id = ?", (event_id,),
            missing=f"no event {event_id}"))

    def list_events(self, *, child_id: int | None = None, start_ns: int | None = None,
                    end_ns: int | None = None, session_id: int | None = None,
                    include_voided: bool = False) -> list[StrategyEvent]:
        """Events overlapping ``[start_ns, end_ns)``, by start time."""
        clause, params = where([
            ("child_id = ?", child_id),
            ("session_id = ?", session_id),
            ("COALESCE(ended_at, started_at) >= ?", None if start_ns is None else int(start_ns)),
            ("started_at < ?", None if end_ns is None else int(end_ns)),
            ("voided = 0", None if include_voided else NO_PARAM),
        ])
        sql = f"SELECT {_EVENT_COLS} FROM strategy_events{clause}"
        rows = self._fetch("events", sql + " ORDER BY started_at, id", params)
        return [_event(r) for r in rows]

    def void_event(self, event_id: int, *, reason: str, by: int | None) -> StrategyEvent:
        """Void an event with a reason (the row stays, marked voided)."""
        reason = reason.strip()
        if not 0 < len(reason) <= 500:
            raise ValidationError("a void needs a reason (1-500 characters)")
        with self._tx("cannot void event") as con:
            ev = self.get_event(event_id)
            if ev.voided:
                raise ValidationError(f"event {event_id} is already voided")
            con.execute("UPDATE strategy_events SET voided = 1, void_reason = ?, voided_by = ?, "
                        "voided_at = ? WHERE id = ?", (reason, by, now_ns(), event_id))
        return self.get_event(event_id)

    def correct_event(self, event_id: int, *, reason: str, by: int | None,
                      changes: dict[str, Any]) -> StrategyEvent:
        """Void ``event_id`` and add a corrected copy (one transaction); returns the new one."""
        allowed = {"strategy", "started_at", "ended_at", "session_id", "note", "initiated_by",
                   "planned"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValidationError(f"cannot change {sorted(unknown)}")
        with self._tx("cannot correct event") as con:
            old = self.get_event(event_id)
            if old.voided:
                raise ValidationError(f"event {event_id} is voided; correct its replacement")
            fields: dict[str, Any] = {k: getattr(old, k) for k in allowed}
            fields.update(changes)
            self.void_event(event_id, reason=reason, by=by)
            new = self.create_event(old.child_id, fields["strategy"],
                                    started_at=fields["started_at"], ended_at=fields["ended_at"],
                                    session_id=fields["session_id"], logged_by=by,
                                    note=fields["note"], initiated_by=fields["initiated_by"],
                                    planned=fields["planned"], replaces_id=event_id)
            del con
        return new

    def end_event(self, event_id: int, *, ended_at: int | None = None) -> StrategyEvent:
        """Close an open span (the only in-place change allowed: NULL end -> a time)."""
        ts = now_ns() if ended_at is None else int(ended_at)
        with self._tx("cannot end event") as con:
            ev = self.get_event(event_id)
            if ev.voided:
                raise ValidationError(f"event {event_id} is voided")
            if ev.ended_at is not None:
                raise ValidationError(f"event {event_id} has already ended")
            if ts < ev.started_at:
                raise ValidationError("an event cannot end before it starts")
            con.execute("UPDATE strategy_events SET ended_at = ? WHERE id = ?", (ts, event_id))
        return self.get_event(event_id)

    def event_history(self, event_id: int) -> list[StrategyEvent]:
        """Every version of an event, oldest first (follows ``replaces_id`` both ways)."""
        ev = self.get_event(event_id)
        while ev.replaces_id is not None:
            ev = self.get_event(ev.replaces_id)
        chain = [ev]
        seen = {ev.id}
        while True:
            row = self._fetch_one(
                "events",
                f"SELECT {_EVENT_COLS} FROM strategy_events WHERE replaces_id = ? "
                "ORDER BY id LIMIT 1", (chain[-1].id,))
            if row is None or int(row[0]) in seen:
                return chain
            chain.append(_event(row))
            seen.add(chain[-1].id)
