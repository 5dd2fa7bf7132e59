"""Input adapters shared by the analysis modules (private).

Epoch tables may be a :class:`movereg.signal.EpochTable` (``.columns``) or any mapping
of column name -> 1-D numpy array. Events may be mappings or objects with attributes
(``id``, ``strategy``, ``started_at``, ``ended_at``, optional ``child_id``, ``voided``);
times may be UTC ns integers, aware ``datetime`` objects or ISO 8601 strings
(:func:`movereg.timeutil.to_ns`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

import numpy as np

from movereg.errors import ValidationError
from movereg.signal.table import EpochTable
from movereg.timeutil import NS_PER_S, to_ns

__all__: list[str] = []

#: Epochs as analysis reads them: an EpochTable, or a mapping of column name -> 1-D array
#: (what :meth:`movereg.storage.Store.epochs` returns: a chosen subset of columns).
Epochs: TypeAlias = EpochTable | Mapping[str, np.ndarray]


class EventRecord(Protocol):
    """An event object (e.g. :class:`movereg.storage.StrategyEvent`); ``id``,
    ``ended_at``, ``child_id`` and ``voided`` are read when present."""

    @property
    def strategy(self) -> str: ...

    @property
    def started_at(self) -> object: ...


#: A strategy event as analysis accepts it: an object or a mapping of its fields.
EventLike: TypeAlias = EventRecord | Mapping[str, object]


def columns_of(epochs: Epochs) -> Mapping[str, np.ndarray]:
    """The column mapping of an EpochTable or a column mapping."""
    cols = epochs.columns if isinstance(epochs, EpochTable) else epochs
    if not isinstance(cols, Mapping):
        raise ValidationError("epochs must be an EpochTable or a mapping of column arrays")
    if "epoch_start" not in cols:
        raise ValidationError("epochs: column 'epoch_start' missing")
    return cols


def col(cols: Mapping[str, np.ndarray], name: str, n: int, default: float = np.nan) -> np.ndarray:
    """Column ``name`` as a float64 array, or ``default`` everywhere when absent."""
    if name in cols:
        return np.asarray(cols[name], dtype=np.float64)
    return np.full(n, default, dtype=np.float64)


def epoch_lengths_s(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per-epoch length in s (``epoch_s`` column, else the median start spacing)."""
    starts = np.asarray(cols["epoch_start"], dtype=np.int64)
    n = starts.shape[0]
    if "epoch_s" in cols:
        return np.asarray(cols["epoch_s"], dtype=np.float64)
    if n > 1:
        return np.full(n, float(np.median(np.diff(starts))) / NS_PER_S)
    return np.full(n, 1.0)


def valid_mask(cols: Mapping[str, np.ndarray], min_coverage: float) -> np.ndarray:
    """Epochs with enough samples that the band was worn."""
    n = np.asarray(cols["epoch_start"]).shape[0]
    cov = col(cols, "coverage", n, 1.0)
    nonwear = col(cols, "nonwear", n, 0.0)
    mask: np.ndarray = (cov >= min_coverage) & (nonwear == 0)
    return mask


@dataclass(frozen=True)
class Event:
    """A normalised strategy event."""

    id: str
    strategy: str
    onset_ns: int
    end_ns: int | None
    child_id: str | None
    source: object = field(default=None, compare=False, repr=False)  # the caller's event


def _get(obj: EventLike, key: str, default: object = None) -> object:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def as_events(events: Iterable[EventLike]) -> list[Event]:
    """Normalise events, dropping voided ones; sorted by onset then id."""
    out: list[Event] = []
    for i, ev in enumerate(events):
        if _get(ev, "voided", False):
            continue
        strategy = _get(ev, "strategy")
        if strategy is None:
            strategy = _get(ev, "strategy_id")
        if not isinstance(strategy, str) or not strategy:
            raise ValidationError(f"event {i}: 'strategy' missing")
        started = _get(ev, "started_at")
        if started is None:
            raise ValidationError(f"event {i}: 'started_at' missing")
        onset = to_ns(started, f"event {i} started_at")
        ended = _get(ev, "ended_at")
        end = to_ns(ended, f"event {i} ended_at") if ended is not None else None
        if end is not None and end < onset:
            raise ValidationError(f"event {i}: ended_at is before started_at")
        eid = _get(ev, "id")
        child = _get(ev, "child_id")
        out.append(Event(id=str(eid if eid is not None else i), strategy=strategy,
                         onset_ns=onset, end_ns=end,
                         child_id=None if child is None else str(child), source=ev))
    out.sort(key=lambda e: (e.onset_ns, e.id))
    return out
