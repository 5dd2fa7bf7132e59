"""movereg.analysis: strategy catalogue, event-locked linking, statistics, summaries.

Pure functions over EpochTable-like column tables and event lists; descriptive only.
"""

from movereg.analysis.aggregate import AGGREGATION_RULES, aggregate_epochs
from movereg.analysis.explore import (
    EXPLORE_FEATURES,
    event_spans_ns,
    merge_epochs,
    not_compared_text,
    response_text,
    strategy_overview,
)
from movereg.analysis.linking import (
    COUNT_FEATURES,
    DEFAULT_FEATURES,
    FEATURE_UNITS,
    FEATURE_WORDS,
    NOT_COMPARED_WORDS,
    POST_S,
    PRE_S,
    EventChange,
    EventEpochs,
    event_changes,
    event_epochs,
    window_span_ns,
)
from movereg.analysis.stats import (
    StrategyStat,
    bootstrap_median_ci,
    change_sentence,
    strategy_stats,
)
from movereg.analysis.strategies import (
    Strategy,
    catalogue_path,
    default_catalogue,
    load_catalogue,
    strategy_label,
)
from movereg.analysis.summary import (
    LIMITS_TEXT,
    NOT_MEDICAL_TEXT,
    ZONE_WORDS,
    Bout,
    DailySummary,
    Episode,
    WeekSummary,
    daily_summary,
    day_breaks,
    format_duration,
    seeking_episodes,
    week_summary,
)

__all__ = [
    "AGGREGATION_RULES",
    "COUNT_FEATURES",
    "DEFAULT_FEATURES",
    "EXPLORE_FEATURES",
    "FEATURE_UNITS",
    "FEATURE_WORDS",
    "LIMITS_TEXT",
    "NOT_COMPARED_WORDS",
    "NOT_MEDICAL_TEXT",
    "POST_S",
    "PRE_S",
    "ZONE_WORDS",
    "Bout",
    "DailySummary",
    "Episode",
    "EventChange",
    "EventEpochs",
    "Strategy",
    "StrategyStat",
    "WeekSummary",
    "aggregate_epochs",
    "bootstrap_median_ci",
    "catalogue_path",
    "change_sentence",
    "daily_summary",
    "day_breaks",
    "default_catalogue",
    "event_changes",
    "event_epochs",
    "event_spans_ns",
    "format_duration",
    "load_catalogue",
    "merge_epochs",
    "not_compared_text",
    "response_text",
    "seeking_episodes",
    "strategy_label",
    "strategy_overview",
    "strategy_stats",
    "week_summary",
    "window_span_ns",
]
