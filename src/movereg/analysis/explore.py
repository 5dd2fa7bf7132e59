"""Strategy linking as the pages and the API show it: typed results, one wording.

The day page, the strategy explorer and ``GET /api/children/{id}/strategies`` all read
these functions, so the event windows, the features compared and the words for "not
compared" are decided here once (from :data:`~movereg.analysis.linking.PRE_S` /
:data:`~movereg.analysis.linking.POST_S`), not in the pages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import numpy as np

from movereg.analysis._inputs import Epochs, EventLike
from movereg.analysis.linking import (
    NOT_COMPARED_WORDS,
    POST_S,
    PRE_S,
    EventChange,
    event_changes,
    window_span_ns,
)
from movereg.analysis.stats import StrategyStat, strategy_stats
from movereg.analysis.strategies import Strategy
from movereg.signal.table import EpochTable

__all__ = [
    "EXPLORE_FEATURES",
    "event_spans_ns",
    "merge_epochs",
    "not_compared_text",
    "response_text",
    "strategy_overview",
]

#: Features the strategy explorer offers (before vs after).
EXPLORE_FEATURES: Final[tuple[str, ...]] = ("enmo_mg", "rhythmic_fraction", "impacts",
                                            "flap_share")


def not_compared_text(counts: Mapping[str, int]) -> str:
    """``{"overlap": 2}`` -> ``"2 × another strategy close in time"`` (``; ``-joined)."""
    return "; ".join(f"{n} × {NOT_COMPARED_WORDS.get(k, k)}" for k, n in sorted(counts.items()))


def response_text(change: EventChange) -> str:
    """One event's before/after activity in words, or why it was not compared."""
    if change.status != "ok" and change.status in NOT_COMPARED_WORDS:
        return f"Not compared: {NOT_COMPARED_WORDS[change.status]}"
    before, after = change.before.get("enmo_mg"), change.after.get("enmo_mg")
    if before is None or after is None or not (math.isfinite(before) and math.isfinite(after)):
        return "Not compared: too little band data"
    return f"Activity {before:.0f} mg before, {after:.0f} mg after"


def event_spans_ns(onsets_ns: Iterable[int], *, pre_s: float = PRE_S,
                   post_s: float = POST_S) -> list[tuple[int, int]]:
    """The ``[start, end)`` UTC ns ranges of epochs linking needs around each onset."""
    return [window_span_ns(t, pre_s=pre_s, post_s=post_s) for t in onsets_ns]


def merge_epochs(parts: Sequence[EpochTable]) -> EpochTable:
    """Epoch tables joined: one row per ``epoch_start``, in time order."""
    merged = EpochTable.concat(parts).columns
    _, keep = np.unique(merged["epoch_start"], return_index=True)
    return EpochTable({k: v[keep] for k, v in merged.items()})


def strategy_overview(epochs: Epochs, events: Iterable[EventLike], *, feature: str = "enmo_mg",
                      catalogue: Iterable[Strategy] | None = None) -> list[StrategyStat]:
    """Before vs after each strategy of one child for ``feature`` (explorer and API).

    Parameters
    ----------
    epochs
        The child's epochs around the events (see :func:`event_spans_ns`).
    events
        The child's strategy events (voided ones ignored).
    feature
        One of :data:`EXPLORE_FEATURES`.
    """
    features = EXPLORE_FEATURES if feature in EXPLORE_FEATURES else (*EXPLORE_FEATURES, feature)
    changes = event_changes(epochs, events, features=features)
    return strategy_stats(changes, features=(feature,), catalogue=catalogue)
