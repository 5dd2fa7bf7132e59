"""A finished session: per-child timeline and the draft of the note's objective part.

The draft is plain, descriptive sentences with clock times ("10:05-10:12 movement break
(trampoline), planned; activity higher during it than in the 5 minutes before"): what was
logged and what the band recorded. It never diagnoses, judges or scores a child, and it
shows no sensor units (mg) unless asked (``with_numbers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

import numpy as np

from movereg.storage import Session, Store, StrategyEvent
from movereg.timeutil import NS_PER_S

__all__ = ["ChildTimeline", "Item", "compare_words", "note_sentences", "session_timelines",
           "store_now", "timeline_rows"]

_BEFORE_S = 300.0          # the "5 minutes before" baseline of every comparison
_MIN_COVER = 0.5           # a window needs band data for half its length to compare
_HIGHER, _LOWER = 1.25, 0.8
_ORDER = {"strategy": 0, "note": 1, "break": 2, "gap": 3, "correction": 4}
_GAP_WORDS = {"disconnect": "band out of range or switched off", "crash": "movereg restarted",
              "clock": "band clock jump", "nonwear": "band not worn"}


@dataclass(frozen=True)
class Item:
    """One row of a child's timeline (times in UTC ns)."""

    kind: str                   # strategy | break | gap | correction | note
    start_ns: int
    end_ns: int | None
    text: str
    event: StrategyEvent | None = None


@dataclass
class ChildTimeline:
    """Everything of one child's session, in time order."""

    session: Session
    child_id: int
    name: str
    items: list[Item] = field(default_factory=list)
    events: list[StrategyEvent] = field(default_factory=list)   # live (not voided) ones
    voided: list[StrategyEvent] = field(default_factory=list)


def _clock(ns: int, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ns / NS_PER_S, tz=UTC).astimezone(tz).strftime("%H:%M")


def _span(a: int, b: int | None, tz: tzinfo) -> str:
    if b is None or _clock(a, tz) == _clock(b, tz):
        return _clock(a, tz)
    return f"{_clock(a, tz)}-{_clock(b, tz)}"


def _mean_enmo(cols: dict[str, np.ndarray], a: int, b: int) -> float | None:
    """Mean ENMO (mg) over [a, b) ns, or None when under half the window has data."""
    t = cols["epoch_start"]
    sel = (t >= a) & (t < b)
    e = cols["enmo_mg"][sel]
    ok = np.isfinite(e)
    nonwear = cols.get("nonwear")
    if nonwear is not None:
        ok &= nonwear[sel] <= 0
    secs = float(np.sum(cols["epoch_s"][sel][ok]))
    if b <= a or secs < _MIN_COVER * (b - a) / NS_PER_S:
        return None
    return float(np.mean(e[ok]))


def compare_words(during: float | None, before: float | None, *, with_numbers: bool = False
                  ) -> str:
    """'activity higher during it than in the 5 minutes before' (or lower / about the same)."""
    if during is None or before is None:
        return "not enough band data to compare with the 5 minutes before"
    if during > max(before, 1.0) * _HIGHER:
        word = "higher"
    elif during < before * _LOWER:
        word = "lower"
    else:
        return "activity about the same during it as in the 5 minutes before" + (
            f" ({before:.0f} and {during:.0f} mg)" if with_numbers else "")
    tail = f" ({before:.0f} -> {during:.0f} mg)" if with_numbers else ""
    return f"activity {word} during it than in the 5 minutes before{tail}"


def _event_text(ev: StrategyEvent, label: str) -> str:
    bits = [label]
    if ev.planned is True:
        bits.append("planned")
    elif ev.planned is False:
        bits.append("as needed")
    if ev.initiated_by == "child":
        bits.append("started by the child")
    elif ev.initiated_by == "adult":
        bits.append("started by an adult")
    return ", ".join(bits)


def session_timelines(store: Store, sessions: list[Session], labels: dict[str, str],
                      names: dict[int, str]) -> list[ChildTimeline]:
    """One :class:`ChildTimeline` per session (strategies, breaks, gaps, corrections)."""
    from movereg.dashboard.routes.breaks import child_breaks

    out = []
    for s in sessions:
        end = s.ended_at if s.ended_at is not None else store_now()
        tl = ChildTimeline(s, s.child_id, names.get(s.child_id, f"child {s.child_id}"))
        evs = store.list_events(child_id=s.child_id, start_ns=s.started_at, end_ns=end + 1,
                                include_voided=True)
        evs = [e for e in evs if e.session_id in (None, s.id)]
        for e in evs:
            label = labels.get(e.strategy, e.strategy)
            if e.voided:
                tl.voided.append(e)
                what = "undone" if e.void_reason == "undone" else f"corrected: {e.void_reason}"
                tl.items.append(Item("correction", e.voided_at or e.started_at, None,
                                     f"{label} at {{t}} {what}", e))
                continue
            tl.events.append(e)
            tl.items.append(Item("strategy", e.started_at, e.ended_at, _event_text(e, label), e))
            if e.note:
                tl.items.append(Item("note", e.started_at, None, e.note, e))
        for b in child_breaks(store, s.child_id, s.started_at, end):
            a, z = int(b.start.timestamp() * NS_PER_S), int(b.end.timestamp() * NS_PER_S)
            tl.items.append(Item("break", a, z, "movement break seen by the band "
                                 f"({max(1, round(b.duration_s / 60))} min)"))
        for g in store.gaps(child_id=s.child_id, start_ns=s.started_at, end_ns=end):
            tl.items.append(Item("gap", g.start_ns, g.end_ns,
                                 "no band data (" + _GAP_WORDS.get(g.reason, g.reason) + ")"))
        if s.note:
            tl.items.append(Item("note", s.started_at, None, s.note))
        tl.items.sort(key=lambda i: (i.start_ns, _ORDER[i.kind]))
        out.append(tl)
    return out


def store_now() -> int:
    """Now, UTC ns (the end of a session still running)."""
    import time

    return time.time_ns()


def note_sentences(store: Store, timelines: list[ChildTimeline], tz: tzinfo, *,
                   with_numbers: bool = False) -> list[str]:
    """The objective part of the session note, one plain sentence per line."""
    if not timelines:
        return []
    start = min(t.session.started_at for t in timelines)
    ends = [t.session.ended_at for t in timelines]
    end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    who = ", ".join(t.name for t in timelines)
    kind = "Group session" if len(timelines) > 1 else "Session"
    lines = [f"{kind} {_span(start, end, tz)}" + ("" if end is None else
             f" ({max(1, round((end - start) / NS_PER_S / 60))} min)") + f" with {who}."]
    for tl in timelines:
        lines.extend(_child_sentences(store, tl, tz, with_numbers))
    return lines


def _child_sentences(store: Store, tl: ChildTimeline, tz: tzinfo,
                     with_numbers: bool) -> list[str]:
    s = tl.session
    end = s.ended_at if s.ended_at is not None else store_now()
    cols = store.epochs(child_id=tl.child_id, start_ns=s.started_at - int(_BEFORE_S * NS_PER_S),
                        end_ns=end, features=["enmo_mg", "nonwear"])
    out: list[str] = []
    for it in tl.items:
        span = _span(it.start_ns, it.end_ns, tz)
        if it.kind == "strategy":
            a = it.start_ns
            b = it.end_ns if it.end_ns is not None else min(end, a + int(_BEFORE_S * NS_PER_S))
            cmp_ = compare_words(_mean_enmo(cols, a, b),
                                 _mean_enmo(cols, a - int(_BEFORE_S * NS_PER_S), a),
                                 with_numbers=with_numbers)
            open_ = " (no end time logged)" if it.end_ns is None else ""
            out.append(f"{tl.name}: {span} {it.text}{open_}; {cmp_}.")
        elif it.kind == "note":
            out.append(f"{tl.name}: note at {_clock(it.start_ns, tz)}: {it.text}")
        elif it.kind in ("break", "gap"):
            out.append(f"{tl.name}: {span} {it.text}.")
    if not tl.events:
        out.append(f"{tl.name}: no strategies logged.")
    return out


def timeline_rows(timelines: list[ChildTimeline], tz: tzinfo) -> list[dict[str, Any]]:
    """Template rows: per child, items with clock text."""
    rows = []
    for tl in timelines:
        items = []
        for it in tl.items:
            text = it.text.replace("{t}", _clock(it.start_ns, tz))
            items.append({"kind": it.kind, "when": _span(it.start_ns, it.end_ns, tz),
                          "start_ms": it.start_ns // 1_000_000, "open": it.end_ns is None,
                          "text": text, "event_id": None if it.event is None else it.event.id,
                          "voided": bool(it.event and it.event.voided)})
        rows.append({"child_id": tl.child_id, "name": tl.name, "session_id": tl.session.id,
                     "items": items, "n_events": len(tl.events)})
    return rows
