"""Strategy linking for one child, read from the store (pages and the API share it).

The epochs around each event come from the analysis windows
(:func:`movereg.analysis.event_spans_ns`), so the pages never restate ``pre_s`` /
``post_s``.
"""

from __future__ import annotations

from collections.abc import Sequence

from movereg.analysis import StrategyStat, event_spans_ns, merge_epochs, strategy_overview
from movereg.signal import EpochTable
from movereg.storage import Store, StrategyEvent

__all__ = ["EXPLORE_MAX_EVENTS", "epochs_around", "explore_strategies"]

#: newest events the strategy explorer reads
EXPLORE_MAX_EVENTS = 500


def epochs_around(store: Store, child_id: int, events: Sequence[StrategyEvent],
                  base: EpochTable | None = None) -> EpochTable:
    """``base`` (e.g. the day's epochs) plus the epochs of each event's linking windows
    (baseline and response only, not the weeks in between)."""
    parts = [] if base is None else [base]
    for a, b in event_spans_ns(e.started_at for e in events):
        parts.append(store.epoch_table(child_id=child_id, start_ns=a, end_ns=b))
    return merge_epochs(parts)


def explore_strategies(store: Store, child_id: int, *, start_ns: int, end_ns: int | None = None,
                       feature: str) -> list[StrategyStat]:
    """Before vs after each strategy the child used from ``start_ns`` to ``end_ns``
    (the newest :data:`EXPLORE_MAX_EVENTS` events)."""
    events = store.list_events(child_id=child_id, start_ns=start_ns,
                               end_ns=end_ns)[-EXPLORE_MAX_EVENTS:]
    return strategy_overview(epochs_around(store, child_id, events), events, feature=feature)
