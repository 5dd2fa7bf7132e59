"""What a family reads: local days, "not worn" vs "no signal", plain activity words,
plan progress. Pure functions over the store's columns (no I/O, no units in the words).

* **Not worn**: the band reported data and its own non-wear rule says it was off the
  wrist (``nonwear`` = 1).
* **No signal**: no data reached us (out of radio range, switched off, a radio gap), or
  too little of an epoch arrived to use (``coverage`` < 0.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

import numpy as np

from movereg.analysis import strategy_label
from movereg.timeutil import NS_PER_S

__all__ = ["WEAR_WORDS", "PlanDay", "Wear", "activity_words", "day_bounds", "hour_labels",
           "plan_day", "response_words", "split_wear"]

NS = NS_PER_S   # ns per s, from the one time module
_MIN_COVERAGE = 0.5
#: Words and the legend colours for the two kinds of missing time.
WEAR_WORDS: dict[str, str] = {
    "not_worn": "Not worn (the band says it was off the wrist)",
    "no_signal": "No signal (out of range, switched off or a radio gap)",
}


def day_bounds(day: date, tz: tzinfo) -> tuple[int, int]:
    """UTC ns of local midnight starting ``day`` and the next local midnight (23 or 25 h
    apart on daylight-saving days)."""
    a = datetime.combine(day, time(0), tz)
    b = datetime.combine(day + timedelta(days=1), time(0), tz)
    return int(a.timestamp()) * NS, int(b.timestamp()) * NS


def hour_labels(d0: int, d1: int, tz: tzinfo) -> list[str]:
    """Local clock labels of each elapsed hour of the day (a DST day repeats or skips
    one: "01:00, 01:00" in autumn, no "01:00" in spring)."""
    n = round((d1 - d0) / (3600 * NS))
    return [datetime.fromtimestamp((d0 + h * 3600 * NS) / NS, tz).strftime("%H:%M")
            for h in range(n)]


@dataclass(frozen=True)
class Wear:
    """Per elapsed hour of a local day (s): ``not_worn`` and ``no_signal`` (time up to
    ``until_ns`` only: the future is neither), and the spans of each, local clock text."""

    not_worn_s: np.ndarray
    no_signal_s: np.ndarray
    not_worn_spans: tuple[tuple[str, str], ...]
    no_signal_spans: tuple[tuple[str, str], ...]

    @property
    def not_worn_total(self) -> float:
        """Seconds the band said it was off the wrist."""
        return float(self.not_worn_s.sum())

    @property
    def no_signal_total(self) -> float:
        """Seconds without usable data."""
        return float(self.no_signal_s.sum())


def _spans(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray, min_s: float,
           tz: tzinfo) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i = 0
    n = mask.shape[0]
    while i < n:
        if not mask[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and mask[j + 1]:
            j += 1
        if (ends[j] - starts[i]) / NS >= min_s:
            out.append(tuple(datetime.fromtimestamp(v / NS, tz).strftime("%H:%M")
                             for v in (int(starts[i]), int(ends[j]))))  # type: ignore[arg-type]
        i = j + 1
    return out


def split_wear(cols: Mapping[str, np.ndarray], d0: int, d1: int, tz: tzinfo, *,
               until_ns: int | None = None, min_span_s: float = 600.0) -> Wear:
    """Split a day's missing time into "not worn" and "no signal" (see the module doc).

    ``cols`` needs ``epoch_start`` (UTC ns), ``epoch_s``, ``coverage`` and ``nonwear``;
    spans shorter than ``min_span_s`` s are counted but not listed.
    """
    end = d1 if until_ns is None else max(d0, min(d1, int(until_ns)))
    n_hours = round((d1 - d0) / (3600 * NS))
    grid_s = 60  # one-minute grid: states per minute of the day
    n_min = (d1 - d0) // (grid_s * NS)
    state = np.full(n_min, 2, dtype=np.int8)   # 0 worn, 1 not worn, 2 no signal
    st = np.asarray(cols["epoch_start"], dtype=np.int64)
    keep = (st >= d0) & (st < d1)
    st = st[keep]
    cov = np.asarray(cols["coverage"], dtype=float)[keep]
    nw = np.asarray(cols["nonwear"])[keep]
    ok = np.nan_to_num(cov) >= _MIN_COVERAGE
    idx = ((st - d0) // (grid_s * NS)).astype(np.int64)
    # a minute is "not worn" if the band said so, "worn" if any usable epoch says worn
    np.minimum.at(state, idx[ok & (nw == 1)], 1)
    np.minimum.at(state, idx[ok & (nw != 1)], 0)
    minute_t = d0 + np.arange(n_min, dtype=np.int64) * grid_s * NS
    future = minute_t >= end
    hour = ((minute_t - d0) // (3600 * NS)).clip(0, max(n_hours - 1, 0))
    not_worn = np.bincount(hour[(state == 1) & ~future], minlength=n_hours) * float(grid_s)
    no_sig = np.bincount(hour[(state == 2) & ~future], minlength=n_hours) * float(grid_s)
    ends = minute_t + grid_s * NS
    return Wear(not_worn[:n_hours], no_sig[:n_hours],
                tuple(_spans((state == 1) & ~future, minute_t, ends, min_span_s, tz)),
                tuple(_spans((state == 2) & ~future, minute_t, ends, min_span_s, tz)))


def activity_words(today: Mapping[int, float], usual: Mapping[int, Sequence[float]],
                   labels: Mapping[int, str], *, min_days: int = 3,
                   ratio: float = 1.5) -> list[str]:
    """Plain sentences comparing today's activity with the child's usual for the same
    hours: "From 16:00 to 18:00: more active than usual for this time of day."

    ``today`` maps local hour-of-day -> mean activity (any unit: only ratios are used);
    ``usual`` maps local hour-of-day -> earlier days' means; ``labels`` hour -> "HH:00".
    Hours with fewer than ``min_days`` earlier days are not compared.
    """
    words: dict[int, str] = {}
    for h, v in today.items():
        past = [p for p in usual.get(h, ()) if p == p and p > 0]
        if len(past) < min_days or v != v:
            continue
        med = float(np.median(past))
        if v > med * ratio:
            words[h] = "more active than usual for this time of day"
        elif v * ratio < med:
            words[h] = "quieter than usual for this time of day"
        else:
            words[h] = "about as active as usual for this time of day"
    out: list[str] = []
    hours = sorted(words)
    i = 0
    while i < len(hours):
        j = i
        while j + 1 < len(hours) and hours[j + 1] == hours[j] + 1 and \
                words[hours[j + 1]] == words[hours[i]]:
            j += 1
        a, b = hours[i], hours[j] + 1
        end = labels.get(b, f"{b % 24:02d}:00")
        out.append(f"From {labels.get(a, f'{a:02d}:00')} to {end}: {words[hours[i]]}.")
        i = j + 1
    return out


def response_words(before: float, after: float, *, ratio: float = 1.25) -> str:
    """Movement after a strategy compared with before, in words (no units)."""
    if not (before == before and after == after):
        return "Not compared: not enough band data around it"
    if after > before * ratio:
        return "More movement after than before"
    if after * ratio < before:
        return "Less movement after than before"
    return "About the same movement before and after"


@dataclass(frozen=True)
class PlanDay:
    """A home plan on one local day: ``items`` of (plan id, label, when, done, planned)
    and the day's totals."""

    day: date
    items: tuple[tuple[int, str, str, int, int], ...]

    @property
    def planned(self) -> int:
        """Planned uses that day."""
        return sum(i[4] for i in self.items)

    @property
    def done(self) -> int:
        """Planned uses done (each item counts at most its planned number)."""
        return sum(i[3] for i in self.items)

    @property
    def sentence(self) -> str:
        """ "4 of 5 planned strategies done" (no judgement, nothing when none planned)."""
        if not self.planned:
            return "Nothing planned"
        return f"{self.done} of {self.planned} planned"


def plan_day(plan: Iterable[Any], events: Iterable[Any], day: date, d0: int,
             d1: int) -> PlanDay:
    """The plan items for ``day`` (weekday and the plan as it stood that day) with how
    many of each were done: non-voided events of that strategy starting in [d0, d1)."""
    evs = [e for e in events if not getattr(e, "voided", False) and d0 <= e.started_at < d1]
    items = []
    for p in plan:
        if not p.on_weekday(day.weekday()) or p.created_at >= d1 or (
                p.retired_at is not None and p.retired_at < d0):
            continue
        n = sum(1 for e in evs if e.strategy == p.strategy)
        items.append((p.id, strategy_label(p.strategy), p.when_text,
                      min(n, p.times_per_day), p.times_per_day))
    return PlanDay(day, tuple(items))
