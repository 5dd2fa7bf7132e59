"""movereg.analysis: strategy catalogue, event-locked linking, statistics, summaries.

Pure functions over EpochTable-like column tables and event lists; descriptive only.
"""

from movereg.analysis.aggregate import AGGREGATION_RULES, aggregate_epochs
from movereg.analysis.linking import (
    COUNT_FEATURES,
    DEFAULT_FEATURES,
    FEATURE_UNITS,
    FEATURE_WORDS,
    EventChange,
    EventEpochs,
    event_changes,
    event_epochs,
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
    "FEATURE_UNITS",
    "FEATURE_WORDS",
    "LIMITS_TEXT",
    "NOT_MEDICAL_TEXT",
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
    "format_duration",
    "load_catalogue",
    "seeking_episodes",
    "strategy_label",
    "strategy_stats",
    "week_summary",
]
