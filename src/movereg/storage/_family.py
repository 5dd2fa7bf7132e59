"""Families at home: child settings (time zone, check-ins), the home plan, check-ins,
the child's access log, and erasure of a child with all their data (migration 0004_families)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from movereg.errors import ValidationError
from movereg.storage._audit import AuditMixin
from movereg.storage._core import now_ns
from movereg.storage._db import map_errors, where
from movereg.storage._events import EventsMixin
from movereg.storage.records import AuditEntry

__all__ = ["Checkin", "ChildSettings", "FamilyMixin", "PlanItem", "check_tz"]

_WEEKDAYS_RE = re.compile(r"^[0-6]{1,7}$")
_PLAN_COLS = ("id, child_id, strategy, when_text, times_per_day, weekdays, position, "
              "created_at, created_by, retired_at, retired_by")
_CHECKIN_COLS = "id, child_id, at_ns, part, rating, note, logged_by, logged_at"
_AUDIT_COLS = "id, ts_ns, actor, action, child_id, detail, outcome, prev_hash, hash"
_MAX_NS = 2**63 - 1


@dataclass(frozen=True, slots=True)
class ChildSettings:
    """A child's family settings: IANA time zone (None = not set) and check-ins on/off."""

    child_id: int
    tz: str | None
    checkins_enabled: bool


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One home-plan entry: a strategy planned ``times_per_day`` times on ``weekdays``
    (digits, 0 = Monday), "when" in the therapist's words."""

    id: int
    child_id: int
    strategy: str
    when_text: str
    times_per_day: int
    weekdays: str
    position: int
    created_at: int
    created_by: str
    retired_at: int | None
    retired_by: str | None

    def on_weekday(self, weekday: int) -> bool:
        """Planned on this weekday (0 = Monday)?"""
        return str(weekday) in self.weekdays


@dataclass(frozen=True, slots=True)
class Checkin:
    """A neutral check-in: ``rating`` 1-5 ("how was this part of the day") or None, and
    a free note. Never combined into a score."""

    id: int
    child_id: int
    at_ns: int
    part: str
    rating: int | None
    note: str
    logged_by: int | None
    logged_at: int


def check_tz(name: str) -> str:
    """The IANA zone name if known (raises :class:`ValidationError` otherwise)."""
    if not 0 < len(name) <= 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValidationError(f"unknown time zone {name!r}", advice="an IANA name such as "
                              "'Europe/London' or 'America/New_York'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"unknown time zone {name!r}",
                              advice="an IANA name such as 'Europe/London'") from exc
    return name


def _plan(row: tuple[Any, ...]) -> PlanItem:
    return PlanItem(int(row[0]), int(row[1]), str(row[2]), str(row[3]), int(row[4]),
                    str(row[5]), int(row[6]), int(row[7]), str(row[8]),
                    None if row[9] is None else int(row[9]), row[10])


def _checkin(row: tuple[Any, ...]) -> Checkin:
    return Checkin(int(row[0]), int(row[1]), int(row[2]), str(row[3]),
                   None if row[4] is None else int(row[4]), str(row[5]),
                   None if row[6] is None else int(row[6]), int(row[7]))


class FamilyMixin(EventsMixin, AuditMixin):
    """Per-child settings, home plan, check-ins, access log and erasure."""

    # --- settings -------------------------------------------------------------------
    def child_settings(self, child_id: int) -> ChildSettings:
        """The child's settings (defaults: no time zone set, check-ins off)."""
        self.get_child(child_id)
        row = self._fetch_one("child settings", "SELECT tz, checkins_enabled FROM child_settings "
                              "WHERE child_id = ?", (child_id,))
        if row is None:
            return ChildSettings(child_id, None, False)
        return ChildSettings(child_id, row[0], bool(row[1]))

    def set_child_settings(self, child_id: int, *, by: str, tz: str | None = None,
                           checkins_enabled: bool | None = None) -> ChildSettings:
        """Change the time zone and/or the check-in switch (``None`` keeps the value)."""
        if tz is not None:
            check_tz(tz)
        with self._tx("cannot save child settings") as con:
            cur = self.child_settings(child_id)
            new_tz = cur.tz if tz is None else tz
            new_on = cur.checkins_enabled if checkins_enabled is None else checkins_enabled
            con.execute("INSERT INTO child_settings(child_id, tz, checkins_enabled, updated_at, "
                        "updated_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT(child_id) DO UPDATE SET "
                        "tz = excluded.tz, checkins_enabled = excluded.checkins_enabled, "
                        "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                        (child_id, new_tz, int(new_on), now_ns(), by))
        return self.child_settings(child_id)

    # --- home plan ------------------------------------------------------------------
    def add_plan_item(self, child_id: int, strategy: str, *, by: str, when_text: str = "",
                      times_per_day: int = 1, weekdays: str = "0123456") -> PlanItem:
        """Add a strategy to the child's home plan."""
        strategy = strategy.strip()
        if not 0 < len(strategy) <= 100:
            raise ValidationError("a plan item needs a strategy (1-100 characters)")
        if len(when_text) > 120:
            raise ValidationError("'when' is at most 120 characters")
        if not 1 <= int(times_per_day) <= 12:
            raise ValidationError("times per day must be 1 to 12")
        if not _WEEKDAYS_RE.match(weekdays) or len(set(weekdays)) != len(weekdays):
            raise ValidationError("weekdays are digits 0 (Monday) to 6 (Sunday), each once")
        self.get_child(child_id)
        with self._tx("cannot save plan item") as con:
            pos = con.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM home_plan WHERE "
                              "child_id = ?", (child_id,)).fetchone()[0]
            cur = con.execute(
                "INSERT INTO home_plan(child_id, strategy, when_text, times_per_day, weekdays, "
                "position, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (child_id, strategy, when_text.strip(), int(times_per_day),
                 "".join(sorted(weekdays)), int(pos), now_ns(), by))
            pid = int(cur.lastrowid or 0)
        return self.get_plan_item(pid)

    def get_plan_item(self, plan_id: int) -> PlanItem:
        """One plan item (retired or not)."""
        return _plan(self._get_one(
            "home plan", f"SELECT {_PLAN_COLS} FROM home_plan WHERE id = ?", (plan_id,),
            missing=f"no plan item {plan_id}"))

    def list_plan(self, child_id: int, *, at_ns: int | None = None,
                  include_retired: bool = False) -> list[PlanItem]:
        """The child's plan, in the therapist's order; ``at_ns`` = the plan as it stood
        then (created before, not yet retired)."""
        clause, params = where([
            ("child_id = ?", child_id),
            ("created_at <= ?", at_ns),
            ("(retired_at IS NULL OR retired_at > ?)", at_ns),
        ])
        if at_ns is None and not include_retired:
            clause += " AND retired_at IS NULL"
        rows = self._fetch("home plan", f"SELECT {_PLAN_COLS} FROM home_plan{clause} "
                           "ORDER BY position, id", params)
        return [_plan(r) for r in rows]

    def retire_plan_item(self, plan_id: int, *, by: str) -> PlanItem:
        """Take an item off the plan (the row stays, so earlier weeks still show it)."""
        with self._tx("cannot update home plan") as con:
            item = self.get_plan_item(plan_id)
            if item.retired_at is None:
                con.execute("UPDATE home_plan SET retired_at = ?, retired_by = ? WHERE id = ?",
                            (now_ns(), by, plan_id))
        return self.get_plan_item(plan_id)

    # --- check-ins ------------------------------------------------------------------
    def add_checkin(self, child_id: int, *, at_ns: int | None = None, part: str = "",
                    rating: int | None = None, note: str = "",
                    logged_by: int | None = None) -> Checkin:
        """Record a check-in (a rating 1-5 and/or a note)."""
        if rating is not None and not 1 <= int(rating) <= 5:
            raise ValidationError("a check-in rating is 1 to 5")
        if len(note) > 2000 or len(part) > 60:
            raise ValidationError("note at most 2000 characters, part of day at most 60")
        if rating is None and not note.strip():
            raise ValidationError("a check-in needs a rating or a note")
        self.get_child(child_id)
        ts = now_ns()
        with self._tx("cannot save check-in") as con:
            cur = con.execute(
                f"INSERT INTO checkins({_CHECKIN_COLS.split(', ', 1)[1]}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?)",
                (child_id, ts if at_ns is None else int(at_ns), part.strip(), rating,
                 note.strip(), logged_by, ts))
            cid = int(cur.lastrowid or 0)
            row = con.execute(f"SELECT {_CHECKIN_COLS} FROM checkins WHERE id = ?",
                              (cid,)).fetchone()
        return _checkin(row)

    def list_checkins(self, child_id: int, *, start_ns: int | None = None,
                      end_ns: int | None = None) -> list[Checkin]:
        """Check-ins in ``[start_ns, end_ns)``, by time."""
        clause, params = where([("child_id = ?", child_id), ("at_ns >= ?", start_ns),
                                ("at_ns < ?", end_ns)])
        rows = self._fetch("check-ins", f"SELECT {_CHECKIN_COLS} FROM checkins{clause} "
                           "ORDER BY at_ns, id", params)
        return [_checkin(r) for r in rows]

    # --- access log -----------------------------------------------------------------
    def access_log(self, child_id: int, *, limit: int = 100,
                   before_id: int | None = None) -> list[AuditEntry]:
        """Audit entries about this child (who looked at or changed what, when), newest
        first. Only entries since the child was added: a reused id never inherits an
        erased child's history."""
        child = self.get_child(child_id)
        clause, params = where([("child_id = ?", child_id), ("ts_ns >= ?", child.created_at),
                                ("id < ?", before_id)])
        rows = self._fetch("audit log", f"SELECT {_AUDIT_COLS} FROM audit_log{clause} "
                           "ORDER BY id DESC LIMIT ?",
                           [*params, int(limit)])
        return [AuditEntry(*r) for r in rows]

    # --- erasure --------------------------------------------------------------------
    def _child_spans(self, child_id: int) -> list[tuple[str, int, int]]:
        rows = self._fetch(
            "assignments",
            "SELECT device_id, start_ns, COALESCE(end_ns, ?) FROM assignments WHERE "
            "child_id = ?", (_MAX_NS, child_id))
        return [(str(d), int(a), int(b)) for d, a, b in rows]

    def child_row_counts(self, child_id: int) -> dict[str, int]:
        """How many rows each table holds about the child (what an erasure removes)."""
        self.get_child(child_id)
        counts: dict[str, int] = {"raw_blocks": 0, "epochs": 0, "gaps": 0}
        con = self._read()
        with map_errors("cannot count the child's data"):
            for dev, a, b in self._child_spans(child_id):
                for table, col in (("raw_blocks", "t0_ns"), ("epochs", "epoch_start"),
                                   ("gaps", "start_ns")):
                    counts[table] += int(con.execute(
                        f"SELECT COUNT(*) FROM {table} WHERE device_id = ? AND {col} >= ? "
                        f"AND {col} < ?", (dev, a, b)).fetchone()[0])
            for table in ("strategy_events", "sessions", "research_consent", "home_plan",
                          "checkins", "assignments", "user_children", "child_settings",
                          "child_names"):
                counts[table] = int(con.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE child_id = ?",
                    (child_id,)).fetchone()[0])
        return counts

    @staticmethod
    def _ungroup_sessions(con: Any, child_id: int) -> None:
        """Other children's group sessions led by one of this child's sessions get the
        group's next session as leader (group sessions come with migration clinic_day)."""
        cols = {r[1] for r in con.execute("PRAGMA table_info(sessions)")}
        if "group_id" not in cols:
            return
        leads = con.execute("SELECT id FROM sessions WHERE child_id = ?", (child_id,)).fetchall()
        for (lead,) in leads:
            row = con.execute("SELECT MIN(id) FROM sessions WHERE group_id = ? AND "
                              "child_id != ?", (lead, child_id)).fetchone()
            if row[0] is not None:
                con.execute("UPDATE sessions SET group_id = ? WHERE group_id = ? AND "
                            "child_id != ?", (int(row[0]), lead, child_id))

    def delete_child(self, child_id: int, *, actor: str) -> dict[str, int]:
        """Erase a child and everything held about them, in ONE transaction: raw samples,
        epochs and gaps recorded while a band was theirs, events, sessions, consent
        history, home plan, check-ins, settings, links and the name.

        The audit log is append-only and hash-chained, so it is not edited: a tombstone
        entry (pseudonymous code, who, when, rows removed) is appended. Returns the row
        counts removed.
        """
        with self._tx("cannot delete child") as con:
            child = self.get_child(child_id)
            counts = self.child_row_counts(child_id)
            for dev, a, b in self._child_spans(child_id):
                con.execute("DELETE FROM raw_blocks WHERE device_id = ? AND t0_ns >= ? AND "
                            "t0_ns < ?", (dev, a, b))
                con.execute("DELETE FROM epochs WHERE device_id = ? AND epoch_start >= ? AND "
                            "epoch_start < ?", (dev, a, b))
                con.execute("DELETE FROM gaps WHERE device_id = ? AND start_ns >= ? AND "
                            "start_ns < ?", (dev, a, b))
            discard = getattr(self, "discard_child_imports", None)
            if discard is not None:  # the child's imports, finished or not (#22)
                discard(con, child_id)
            con.execute("DELETE FROM strategy_events WHERE child_id = ?", (child_id,))
            self._ungroup_sessions(con, child_id)
            con.execute("DELETE FROM sessions WHERE child_id = ?", (child_id,))
            con.execute("INSERT OR REPLACE INTO deleted_children(child_id, code, deleted_at) "
                        "VALUES (?, ?, ?)", (child_id, child.code, now_ns()))
            # the rest cascades: names, links, assignments, consent, plan, check-ins
            con.execute("DELETE FROM children WHERE id = ?", (child_id,))
            self.audit(actor, "child.delete", child_id=child_id,
                       detail={"code": child.code, "rows_removed": counts})
        return counts

    # --- activity by hour ---------------------------------------------------------------
    def hourly_activity(self, child_id: int, start_ns: int, end_ns: int
                        ) -> list[tuple[int, float, float]]:
        """``(UTC hour start ns, mean enmo_mg, worn s)`` per hour with worn epochs in
        ``[start_ns, end_ns)`` (aggregated in SQL: cheap for weeks of 1-s epochs)."""
        hour = 3600 * 10**9
        acc: dict[int, tuple[float, float]] = {}
        con = self._read()
        with map_errors("cannot read epochs"):
            for dev, a, b in self._child_spans(child_id):
                lo, hi = max(a, start_ns), min(b, end_ns)
                if lo >= hi:
                    continue
                rows = con.execute(
                    "SELECT epoch_start / ? AS h, SUM(enmo_mg * epoch_s), SUM(epoch_s) FROM "
                    "epochs WHERE device_id = ? AND epoch_start >= ? AND epoch_start < ? AND "
                    "coverage >= 0.5 AND COALESCE(nonwear, 0) = 0 AND enmo_mg IS NOT NULL "
                    "GROUP BY h", (hour, dev, lo, hi)).fetchall()
                for h, tot, secs in rows:
                    t0, s0 = acc.get(int(h), (0.0, 0.0))
                    acc[int(h)] = (t0 + float(tot), s0 + float(secs))
        return [(h * hour, tot / secs, secs) for h, (tot, secs) in sorted(acc.items())
                if secs > 0]
