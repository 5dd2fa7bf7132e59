"""Whole-day and week summaries for the parent page (product notes §4.5).

Words describe movement, never judge or label a child. Separate from the short
event-locked windows of :mod:`movereg.analysis.linking` (NeuroKit2's split between
epochs and interval-related analysis).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np

from movereg.analysis._inputs import Epochs, EventLike, col, columns_of, epoch_lengths_s, valid_mask
from movereg.analysis.linking import POST_S, PRE_S, EventChange, event_changes
from movereg.analysis.stats import StrategyStat, strategy_stats
from movereg.analysis.strategies import Strategy, strategy_label
from movereg.errors import ParameterError
from movereg.signal.bouts import Bout
from movereg.timeutil import NS_PER_S, clock_text, datetime_from_ns, day_bounds_ns

__all__ = [
    "LIMITS_TEXT",
    "NOT_MEDICAL_TEXT",
    "ZONE_CUTPOINTS_MG",
    "ZONE_WORDS",
    "Bout",
    "DailySummary",
    "Episode",
    "WeekSummary",
    "daily_summary",
    "day_breaks",
    "format_duration",
    "seeking_episodes",
    "week_summary",
]

LIMITS_TEXT: Final[str] = ("This band measures movement, not feelings. Patterns around a "
                           "strategy are not proof it worked. Talk to your therapist.")
NOT_MEDICAL_TEXT: Final[str] = ("movereg is a movement-logging and documentation aid for "
                                "therapists, families and researchers; not a medical device; "
                                "it does not diagnose, predict or treat.")
#: Words for zone index 0..3 (ZONE_LABELS still/light/moderate/vigorous).
ZONE_WORDS: Final[tuple[str, ...]] = ("still", "light movement", "active", "very active")
#: ENMO cut-points (mg) used when an epoch table has no ``zone`` column (Hildebrand).
ZONE_CUTPOINTS_MG: Final[tuple[float, float, float]] = (35.6, 201.4, 707.0)


@dataclass(frozen=True)
class Episode:
    """A movement-seeking episode: ``start_ns``/``end_ns`` UTC ns, ``duration_s``,
    ``kind`` (words) and ``peak_rhythmic_fraction`` (0..1)."""

    start_ns: int
    end_ns: int
    duration_s: float
    kind: str
    peak_rhythmic_fraction: float


@dataclass(frozen=True)
class DailySummary:
    """One day for one child. Durations in s; ``hourly_zone_s`` is (n_hours, 5): time
    per hour in zones 0..3 and "not worn / no data" (last column)."""

    day: date
    tz: str
    nickname: str
    day_start_ns: int
    day_end_ns: int
    wear_s: float
    first_worn_ns: int | None
    last_worn_ns: int | None
    not_worn: tuple[tuple[int, int], ...]
    zone_s: tuple[float, float, float, float]
    hourly_zone_s: np.ndarray
    breaks: tuple[Bout, ...]
    episodes: tuple[Episode, ...]
    events: tuple[EventChange, ...]
    stats: tuple[StrategyStat, ...]
    narrative: tuple[str, ...]
    limits: str = LIMITS_TEXT
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def break_count(self) -> int:
        """Number of movement breaks."""
        return len(self.breaks)

    @property
    def break_total_s(self) -> float:
        """Total time in movement breaks, s."""
        return float(sum(b.duration_s for b in self.breaks))

    @property
    def strategy_counts(self) -> dict[str, int]:
        """``{strategy id: uses today}``."""
        out: dict[str, int] = {}
        for e in self.events:
            out[e.strategy] = out.get(e.strategy, 0) + 1
        return out


def format_duration(seconds: float) -> str:
    """``"2 h 05 min"``, ``"12 min"``, ``"40 s"``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    h, m = divmod(round(s / 60), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def _tz(tz: str | tzinfo) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _runs(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray,
          max_gap_s: float) -> list[tuple[int, int]]:
    """Index runs [i0, i1] of True epochs; runs closer than ``max_gap_s`` s merge."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    runs: list[tuple[int, int]] = []
    i0 = prev = int(idx[0])
    for i in idx[1:].tolist():
        if (starts[i] - ends[prev]) / NS_PER_S <= max_gap_s:
            prev = i
            continue
        runs.append((i0, prev))
        i0 = prev = i
    runs.append((i0, prev))
    return runs


def _zones(cols: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    if "zone" in cols:
        return np.asarray(cols["zone"], dtype=np.int64)
    enmo = col(cols, "enmo_mg", n)
    z = np.searchsorted(np.asarray(ZONE_CUTPOINTS_MG), enmo, side="right").astype(np.int64)
    return np.where(np.isfinite(enmo), z, -1)


def day_breaks(epochs: Epochs, *, min_s: float = 60.0, max_dip_s: float = 10.0,
               min_epoch_coverage: float = 0.5) -> list[Bout]:
    """Movement breaks via :func:`movereg.signal.movement_breaks` (one definition: runs of
    light-or-above ENMO lasting >= ``min_s`` s, dips <= ``max_dip_s`` s bridged), with
    not-worn or poorly covered epochs treated as missing data."""
    from movereg.signal import EpochTable, movement_breaks
    from movereg.signal.schema import EPOCH_COLUMNS

    cols = columns_of(epochs)
    n = np.asarray(cols["epoch_start"]).shape[0]
    table_cols = {}
    for name, dt in EPOCH_COLUMNS:
        if name not in cols:
            raise ParameterError(f"epochs: column {name!r} missing")
        table_cols[name] = np.asarray(cols[name]).astype(dt, copy=False)
    enmo = table_cols["enmo_mg"].copy()
    enmo[~valid_mask(cols, min_epoch_coverage)] = np.nan
    table_cols["enmo_mg"] = enmo
    if n == 0:
        return []
    return movement_breaks(EpochTable(table_cols), min_duration_s=min_s, max_dip_s=max_dip_s)


def seeking_episodes(epochs: Epochs, *, rhythmic_min: float = 0.5, impacts_per_min: float = 10.0,
                     min_s: float = 15.0, max_gap_s: float = 10.0,
                     min_epoch_coverage: float = 0.5) -> list[Episode]:
    """Movement-seeking episodes: runs of rhythmic epochs (``rhythmic_fraction`` >=
    ``rhythmic_min``) or impact clusters (impact rate >= ``impacts_per_min``), lasting >=
    ``min_s`` s. ``kind`` is "rhythmic movement", "impacts" or "rhythmic movement and
    impacts"."""
    cols = columns_of(epochs)
    starts = np.asarray(cols["epoch_start"], dtype=np.int64)
    n = starts.shape[0]
    lengths = epoch_lengths_s(cols)
    ends = starts + (lengths * NS_PER_S).astype(np.int64)
    valid = valid_mask(cols, min_epoch_coverage)
    rf = col(cols, "rhythmic_fraction", n, 0.0)
    rate = col(cols, "impacts", n, 0.0) / np.maximum(lengths, 1e-9) * 60.0
    rhythmic = valid & (np.nan_to_num(rf) >= rhythmic_min)
    impact = valid & (np.nan_to_num(rate) >= impacts_per_min)
    out = []
    for i0, i1 in _runs(rhythmic | impact, starts, ends, max_gap_s):
        dur = (ends[i1] - starts[i0]) / NS_PER_S
        if dur < min_s:
            continue
        has_r, has_i = bool(rhythmic[i0:i1 + 1].any()), bool(impact[i0:i1 + 1].any())
        kind = ("rhythmic movement and impacts" if has_r and has_i
                else "rhythmic movement" if has_r else "impacts")
        peak = float(np.nanmax(np.nan_to_num(rf[i0:i1 + 1])))
        out.append(Episode(int(starts[i0]), int(ends[i1]), float(dur), kind, peak))
    return out


def _subset(cols: Mapping[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.asarray(v)[keep] for k, v in cols.items()}


def _narrative(s_nick: str, wear_s: float, zone_s: Sequence[float], breaks: Sequence[Bout],
               episodes: Sequence[Episode], counts: dict[str, int], stats: Sequence[StrategyStat],
               tz: tzinfo, cat: tuple[Strategy, ...] | None) -> tuple[str, ...]:
    if wear_s <= 0:
        return ("No band data for this day.",)
    lines = [f"{s_nick} wore the band for {format_duration(wear_s)}."]
    moving = sum(zone_s[1:])
    lines.append(f"Moving (light movement or more) for {format_duration(moving)}, "
                 f"including {format_duration(zone_s[2] + zone_s[3])} active or very active.")
    if breaks:
        longest = max(breaks, key=lambda b: b.duration_s)
        total = sum(b.duration_s for b in breaks)
        word = "movement break" if len(breaks) == 1 else "movement breaks"
        lines.append(f"{len(breaks)} {word} ({format_duration(total)} in all); the longest "
                     f"lasted {format_duration(longest.duration_s)} from "
                     f"{clock_text(longest.start_ns, tz)}.")
    else:
        lines.append("No movement breaks of a minute or more were recorded.")
    rhythmic = [e for e in episodes if "rhythmic" in e.kind]
    impacts = [e for e in episodes if "impacts" in e.kind]
    if rhythmic:
        lines.append(f"Rhythmic movement came in {len(rhythmic)} "
                     f"period{'s' if len(rhythmic) != 1 else ''} "
                     f"({format_duration(sum(e.duration_s for e in rhythmic))} in all).")
    if impacts:
        lines.append(f"Jumping or bumping (impacts) came in {len(impacts)} "
                     f"period{'s' if len(impacts) != 1 else ''}.")
    if counts:
        used = ", ".join(f"{strategy_label(k, cat)} ×{v}" for k, v in
                         sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"Strategies used: {used}.")
        lines.extend(st.sentence for st in stats)
    return tuple(lines)


def daily_summary(epochs: Epochs, events: Iterable[EventLike] = (), *, day: date,
                  tz: str | tzinfo = "UTC", nickname: str = "Your child",
                  history_events: Iterable[EventLike] | None = None,
                  break_min_s: float = 60.0, break_max_dip_s: float = 10.0,
                  not_worn_min_s: float = 600.0, min_epoch_coverage: float = 0.5,
                  pre_s: float = PRE_S, post_s: float = POST_S, min_n: int = 3,
                  seed: int = 0, catalogue: Iterable[Strategy] | None = None) -> DailySummary:
    """Summarise one local calendar day of one child.

    Parameters
    ----------
    epochs
        EpochTable-like for the child (may extend beyond the day; windows around early or
        late events use it).
    events
        That child's strategy events (voided ones ignored); those starting on ``day``
        are listed.
    day, tz
        The local calendar day and its time zone (name or tzinfo).
    history_events
        Optional earlier events too, so the per-strategy sentences count all uses so far
        (default: only today's).
    break_min_s, break_max_dip_s
        Movement-break rule (see :func:`day_breaks`).
    not_worn_min_s
        Shortest not-worn/no-data stretch between first and last wear to list, s.
    """
    zone = _tz(tz)
    d0, d1 = day_bounds_ns(day, zone)
    cat = tuple(catalogue) if catalogue is not None else None
    all_cols = columns_of(epochs)
    st_all = np.asarray(all_cols["epoch_start"], dtype=np.int64)
    cols = _subset(all_cols, (st_all >= d0) & (st_all < d1))
    starts = np.asarray(cols["epoch_start"], dtype=np.int64)
    n = starts.shape[0]
    lengths = epoch_lengths_s(cols) if n else np.empty(0)
    ends = starts + (lengths * NS_PER_S).astype(np.int64)
    worn = valid_mask(cols, min_epoch_coverage) if n else np.zeros(0, dtype=bool)
    zones = _zones(cols, n)
    wear_s = float(lengths[worn].sum())
    zone_s = tuple(float(lengths[worn & (zones == z)].sum()) for z in range(4))
    n_hours = round((d1 - d0) / (3600 * NS_PER_S))
    hourly = np.zeros((n_hours, 5))
    hour = np.clip((starts - d0) // (3600 * NS_PER_S), 0, max(n_hours - 1, 0)).astype(np.int64)
    for z in range(4):
        np.add.at(hourly[:, z], hour[worn & (zones == z)], lengths[worn & (zones == z)])
    hourly[:, 4] = 3600.0 - hourly[:, :4].sum(axis=1)
    hourly[:, 4] = np.clip(hourly[:, 4], 0.0, None)
    first = int(starts[worn][0]) if worn.any() else None
    last = int(ends[worn][-1]) if worn.any() else None
    gaps: list[tuple[int, int]] = []
    if worn.any():
        w_idx = np.flatnonzero(worn)
        for a, b in zip(w_idx[:-1].tolist(), w_idx[1:].tolist(), strict=True):
            if (starts[b] - ends[a]) / NS_PER_S >= not_worn_min_s:
                gaps.append((int(ends[a]), int(starts[b])))
    breaks = day_breaks(cols, min_s=break_min_s, max_dip_s=break_max_dip_s,
                        min_epoch_coverage=min_epoch_coverage)
    episodes = seeking_episodes(cols, min_epoch_coverage=min_epoch_coverage) if n else []
    ev_list = list(events)
    changes = event_changes(all_cols, ev_list, pre_s=pre_s, post_s=post_s,
                            min_epoch_coverage=min_epoch_coverage)
    today = tuple(c for c in changes if d0 <= c.onset_ns < d1)
    pool = today
    if history_events is not None:
        hist = event_changes(all_cols, list(history_events), pre_s=pre_s, post_s=post_s,
                             min_epoch_coverage=min_epoch_coverage)
        seen = {c.event_id for c in today}
        pool = today + tuple(c for c in hist if c.event_id not in seen and c.onset_ns < d1)
    today_ids = {c.strategy for c in today}
    stats = tuple(s for s in strategy_stats(pool, min_n=min_n, seed=seed, catalogue=cat)
                  if s.strategy in today_ids)
    counts: dict[str, int] = {}
    for c in today:
        counts[c.strategy] = counts.get(c.strategy, 0) + 1
    narrative = _narrative(nickname, wear_s, zone_s, breaks, episodes, counts, stats, zone, cat)
    return DailySummary(
        day=day, tz=str(tz) if isinstance(tz, str) else zone.tzname(datetime_from_ns(d0, zone)) or "local",
        nickname=nickname, day_start_ns=d0, day_end_ns=d1, wear_s=wear_s,
        first_worn_ns=first, last_worn_ns=last, not_worn=tuple(gaps),
        zone_s=(zone_s[0], zone_s[1], zone_s[2], zone_s[3]), hourly_zone_s=hourly,
        breaks=tuple(breaks), episodes=tuple(episodes), events=today, stats=stats,
        narrative=narrative)


@dataclass(frozen=True)
class WeekSummary:
    """Several days side by side; trend words cover wear time and strategy use only."""

    days: tuple[DailySummary, ...]
    wear_s: tuple[float, ...]
    strategy_uses: tuple[int, ...]
    break_counts: tuple[int, ...]
    sentences: tuple[str, ...]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def week_summary(days: Sequence[DailySummary],
                 previous: Sequence[DailySummary] | None = None) -> WeekSummary:
    """Summarise a run of days (e.g. 7) and, given ``previous`` days, a gentle
    "this week vs last week" for wear time and strategy use (no scores)."""
    wear = tuple(d.wear_s for d in days)
    uses = tuple(len(d.events) for d in days)
    breaks = tuple(d.break_count for d in days)
    worn_days = sum(1 for w in wear if w > 0)
    lines = [f"Band worn on {worn_days} of {len(days)} days, "
             f"{format_duration(sum(wear))} in all.",
             f"{_count(sum(uses), 'strategy use')} and "
             f"{_count(sum(breaks), 'movement break')} were recorded."]
    if previous:
        pw = sum(d.wear_s for d in previous)
        pu = sum(len(d.events) for d in previous)
        lines.append(f"Last week: {format_duration(pw)} worn and "
                     f"{_count(pu, 'strategy use')}.")
    return WeekSummary(days=tuple(days), wear_s=wear, strategy_uses=uses,
                       break_counts=breaks, sentences=tuple(lines))
