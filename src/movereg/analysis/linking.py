"""Event-locked windows around strategy events (shaped like NeuroKit2's epochs).

Each event gets a time axis relative to its onset: a **baseline** of ``pre_s`` seconds
before onset, the **during** span (onset to the logged end: "strategy movement", never
counted as a response, because a movement break raises activity by construction), and a
**response** window ending ``post_s`` seconds after onset (``anchor="onset"``, default)
or after the end (``anchor="end"``). Per event and feature the change is
``response - baseline``.

Overlaps are explicit: another event that is active in (or starts within) this event's
baseline or response window *contaminates* it. ``overlap="exclude"`` (default) keeps the
numbers but marks the event ``status="overlap"`` and ``included=False`` so it does not
enter the statistics; ``overlap="flag"`` includes it and still names the other events in
``contaminated_by``. Windows with too little worn, covered data get
``status="insufficient_baseline"`` / ``"insufficient_response"``. Voided events are
dropped before anything else (they neither count nor contaminate).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from movereg.analysis._inputs import (
    Epochs,
    Event,
    EventLike,
    as_events,
    col,
    columns_of,
    epoch_lengths_s,
    valid_mask,
)
from movereg.errors import ParameterError
from movereg.timeutil import NS_PER_S

__all__ = [
    "COUNT_FEATURES",
    "DEFAULT_FEATURES",
    "FEATURE_UNITS",
    "FEATURE_WORDS",
    "NOT_COMPARED_WORDS",
    "POST_S",
    "PRE_S",
    "EventChange",
    "EventEpochs",
    "event_changes",
    "event_epochs",
    "window_span_ns",
]

#: Default baseline before onset and response end after onset, s.
PRE_S: Final[float] = 300.0
POST_S: Final[float] = 600.0
#: Features compared before vs after by default.
DEFAULT_FEATURES: Final[tuple[str, ...]] = (
    "enmo_mg", "rhythm_strength", "rhythmic_fraction", "flap_share", "impacts")
#: Count columns: summarised as a rate per minute of valid data, not as a mean.
COUNT_FEATURES: Final[frozenset[str]] = frozenset(
    {"impacts", "hard_impacts", "posture_changes", "counts_x", "counts_y", "counts_z"})
#: Plain words for each feature (describe movement; no judgement).
FEATURE_WORDS: Final[dict[str, str]] = {
    "enmo_mg": "activity",
    "mad_mg": "activity (MAD)",
    "counts_vm": "activity counts",
    "rhythm_strength": "rhythm strength",
    "rhythmic_fraction": "rhythmic movement",
    "flap_share": "quick hand movement",
    "impacts": "impacts (jumps, bumps)",
    "hard_impacts": "hard impacts",
    "jerk_g_s": "sudden movement (jerk)",
    "posture_changes": "posture changes",
}
FEATURE_UNITS: Final[dict[str, str]] = {
    "enmo_mg": "mg", "mad_mg": "mg", "counts_vm": "counts", "rhythm_strength": "0-1",
    "rhythmic_fraction": "share of time", "flap_share": "share of power",
    "impacts": "per min", "hard_impacts": "per min", "jerk_g_s": "g/s",
    "posture_changes": "per min",
}

Phase = Literal["before", "during", "after"]
Status = Literal["ok", "overlap", "insufficient_baseline", "insufficient_response",
                 "no_response_window"]
#: Why an event is not compared, in plain words (one wording for every page and API).
NOT_COMPARED_WORDS: Final[dict[str, str]] = {
    "overlap": "another strategy close in time",
    "insufficient_baseline": "too little band data before",
    "insufficient_response": "too little band data after",
    "no_response_window": "the strategy ran the whole window",
}


def window_span_ns(onset_ns: int, *, pre_s: float = PRE_S, post_s: float = POST_S,
                   margin_s: float = 60.0) -> tuple[int, int]:
    """``[start, end)`` (UTC ns) of the epochs :func:`event_changes` reads for one event
    with ``anchor="onset"``: baseline and response window plus ``margin_s`` each side."""
    return (onset_ns - round((pre_s + margin_s) * NS_PER_S),
            onset_ns + round((post_s + margin_s) * NS_PER_S))


@dataclass(frozen=True)
class EventChange:
    """Before/after summary of one strategy event.

    Attributes
    ----------
    event_id, strategy, child_id
        Identify the event.
    onset_ns, end_ns
        UTC ns; ``end_ns`` is ``None`` when no end was logged.
    status
        ``"ok"`` or why the event is not compared (see module docstring).
    included
        Whether statistics use this event.
    contaminated_by
        Ids of other events inside this event's baseline or response window.
    contaminated_phases
        Which windows they touch (``"before"``, ``"after"``).
    before_s, during_s, after_s
        Seconds of valid (worn, covered) data in each window.
    before, after, change
        ``{feature: value}``; rates per minute for count features; ``change`` is
        ``after - before`` (NaN when either side is missing).
    source
        The event object this row was computed from, as the caller passed it (so a
        caller gets its own record back without mapping ids).
    """

    event_id: str
    strategy: str
    child_id: str | None
    onset_ns: int
    end_ns: int | None
    status: Status
    included: bool
    contaminated_by: tuple[str, ...]
    contaminated_phases: tuple[str, ...]
    before_s: float
    during_s: float
    after_s: float
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    change: dict[str, float] = field(default_factory=dict)
    source: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class EventEpochs:
    """Tidy long table: one row per (event, epoch) inside the event's windows.

    ``columns`` holds ``event`` (index into ``event_ids``), ``t_rel_s`` (epoch start
    relative to onset, s), ``phase`` (``"before"``/``"during"``/``"after"``), ``valid``
    (bool) and one float column per requested feature.
    """

    event_ids: tuple[str, ...]
    columns: dict[str, np.ndarray]


def _check(pre_s: float, post_s: float, min_window_fraction: float,
           min_epoch_coverage: float) -> None:
    if not (pre_s > 0 and post_s > 0):
        raise ParameterError("pre_s and post_s must be > 0 seconds")
    if not 0 < min_window_fraction <= 1:
        raise ParameterError("min_window_fraction must be in (0, 1]")
    if not 0 <= min_epoch_coverage <= 1:
        raise ParameterError("min_epoch_coverage must be in [0, 1]")


def _windows(ev: Event, pre_s: float, post_s: float,
             anchor: str) -> tuple[int, int, int, int]:
    """(baseline start, onset, response start, response end) in UTC ns."""
    end = ev.end_ns if ev.end_ns is not None else ev.onset_ns
    if anchor == "onset":
        return ev.onset_ns - int(pre_s * NS_PER_S), ev.onset_ns, end, ev.onset_ns + int(post_s * NS_PER_S)
    return ev.onset_ns - int(pre_s * NS_PER_S), ev.onset_ns, end, end + int(post_s * NS_PER_S)


def _contamination(ev: Event, others: Sequence[Event], pre_s: float, post_s: float,
                   anchor: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    b0, onset, r0, r1 = _windows(ev, pre_s, post_s, anchor)
    ids: list[str] = []
    phases: set[str] = set()
    for other in others:
        if other is ev:
            continue
        o0 = other.onset_ns
        o1 = max(other.end_ns if other.end_ns is not None else o0, o0)
        hit = False
        # active at any time in [b0, onset): starts before onset and runs into baseline
        if o0 < onset and o1 >= b0:
            phases.add("before")
            hit = True
        # starts with this event, while it runs or in its response, or still running into it
        if o0 == onset or (onset < o0 < max(r0, r1)) or (o0 < onset and o1 > r0 and r1 > r0):
            phases.add("after")
            hit = True
        if hit:
            ids.append(other.id)
    return tuple(ids), tuple(p for p in ("before", "after") if p in phases)


def _summarise(values: np.ndarray, seconds: np.ndarray, feature: str) -> float:
    ok = np.isfinite(values)
    if not ok.any():
        return float("nan")
    if feature in COUNT_FEATURES:
        return float(values[ok].sum() / (seconds[ok].sum() / 60.0))
    return float(values[ok].mean())


def _epoch_grid(epochs: Epochs, features: Sequence[str], min_epoch_coverage: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                           dict[str, np.ndarray]]:
    """Epoch starts and mid-points (UTC ns), lengths (s), usable mask, feature columns."""
    cols = columns_of(epochs)
    starts = np.asarray(cols["epoch_start"], dtype=np.int64)
    lengths = epoch_lengths_s(cols)
    mids = starts + (lengths * NS_PER_S / 2).astype(np.int64)
    valid = valid_mask(cols, min_epoch_coverage)
    return starts, mids, lengths, valid, {f: col(cols, f, starts.shape[0]) for f in features}


def event_changes(epochs: Epochs, events: Iterable[EventLike], *,
                  features: Sequence[str] = DEFAULT_FEATURES,
                  pre_s: float = PRE_S, post_s: float = POST_S,
                  anchor: Literal["onset", "end"] = "onset",
                  overlap: Literal["exclude", "flag"] = "exclude",
                  min_window_fraction: float = 0.5,
                  min_epoch_coverage: float = 0.5) -> list[EventChange]:
    """Per-event change of each feature from baseline to response.

    Parameters
    ----------
    epochs
        EpochTable-like (``epoch_start`` UTC ns, ``epoch_s``, ``coverage``, ``nonwear``
        and the feature columns) for ONE child.
    events
        Strategy events of that child (mappings or objects; voided ones are ignored).
    features
        Column names to compare; count columns become rates per minute.
    pre_s, post_s
        Baseline length before onset and response end after onset (or after the end
        with ``anchor="end"``), s.
    overlap
        ``"exclude"`` contaminated events from statistics, or only ``"flag"`` them.
    min_window_fraction
        Share of a window that must hold valid epochs (worn, coverage >=
        ``min_epoch_coverage``) for the window to count.

    Returns
    -------
    list of EventChange, in onset order.
    """
    _check(pre_s, post_s, min_window_fraction, min_epoch_coverage)
    if anchor not in ("onset", "end") or overlap not in ("exclude", "flag"):
        raise ParameterError("anchor must be 'onset'/'end' and overlap 'exclude'/'flag'")
    _, mids, lengths, valid, feats = _epoch_grid(epochs, features, min_epoch_coverage)
    evs = as_events(events)
    out: list[EventChange] = []
    for ev in evs:
        b0, onset, r0, r1 = _windows(ev, pre_s, post_s, anchor)
        in_b = valid & (mids >= b0) & (mids < onset)
        in_d = valid & (mids >= onset) & (mids < r0)
        in_a = valid & (mids >= r0) & (mids < r1)
        before_s = float(lengths[in_b].sum())
        during_s = float(lengths[in_d].sum())
        after_s = float(lengths[in_a].sum())
        before = {f: _summarise(v[in_b], lengths[in_b], f) for f, v in feats.items()}
        after = {f: _summarise(v[in_a], lengths[in_a], f) for f, v in feats.items()}
        change = {f: after[f] - before[f] for f in feats}
        ids, phases = _contamination(ev, evs, pre_s, post_s, anchor)
        status: Status
        if r1 <= r0:
            status = "no_response_window"
        elif before_s < min_window_fraction * pre_s:
            status = "insufficient_baseline"
        elif after_s < min_window_fraction * (r1 - r0) / NS_PER_S:
            status = "insufficient_response"
        elif ids and overlap == "exclude":
            status = "overlap"
        else:
            status = "ok"
        out.append(EventChange(
            event_id=ev.id, strategy=ev.strategy, child_id=ev.child_id,
            onset_ns=ev.onset_ns, end_ns=ev.end_ns, status=status,
            included=status == "ok", contaminated_by=ids, contaminated_phases=phases,
            before_s=before_s, during_s=during_s, after_s=after_s,
            before=before, after=after, change=change, source=ev.source))
    return out


def event_epochs(epochs: Epochs, events: Iterable[EventLike], *,
                 features: Sequence[str] = DEFAULT_FEATURES,
                 pre_s: float = PRE_S, post_s: float = POST_S,
                 anchor: Literal["onset", "end"] = "onset",
                 min_epoch_coverage: float = 0.5) -> EventEpochs:
    """The epochs inside each event's windows as a tidy long table (for plots/exports)."""
    _check(pre_s, post_s, 0.5, min_epoch_coverage)
    starts, mids, _, valid, feats = _epoch_grid(epochs, features, min_epoch_coverage)
    evs = as_events(events)
    idx_parts: list[np.ndarray] = []
    phase_parts: list[np.ndarray] = []
    event_parts: list[np.ndarray] = []
    for k, ev in enumerate(evs):
        b0, onset, r0, r1 = _windows(ev, pre_s, post_s, anchor)
        idx = np.flatnonzero((mids >= b0) & (mids < max(r1, r0)))
        phase = np.where(mids[idx] < onset, "before",
                         np.where(mids[idx] < r0, "during", "after"))
        idx_parts.append(idx)
        phase_parts.append(phase.astype(object))
        event_parts.append(np.full(idx.shape[0], k, dtype=np.int64))
    idx_all = np.concatenate(idx_parts) if idx_parts else np.empty(0, dtype=np.int64)
    ev_all = np.concatenate(event_parts) if event_parts else np.empty(0, dtype=np.int64)
    onsets = np.array([e.onset_ns for e in evs], dtype=np.int64)
    columns: dict[str, np.ndarray] = {
        "event": ev_all,
        "t_rel_s": ((starts[idx_all] - onsets[ev_all]) / NS_PER_S) if evs else np.empty(0),
        "phase": np.concatenate(phase_parts) if phase_parts else np.empty(0, dtype=object),
        "valid": valid[idx_all],
    }
    for f, v in feats.items():
        columns[f] = v[idx_all]
    return EventEpochs(event_ids=tuple(e.id for e in evs), columns=columns)
