"""API schemas of strategy linking: movement before vs after each logged strategy use."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["StrategyLinkOut", "StrategyLinksOut"]


class StrategyLinkOut(BaseModel):
    strategy: str
    label: str
    feature: str
    unit: str
    n_uses: int = Field(description="logged (not voided) uses in the range")
    n_compared: int = Field(description="uses with enough band data before and after")
    n_lower: int
    n_higher: int
    n_same: int
    median_change: float | None = Field(description="median of after - before, in unit")
    ci_low: float | None = Field(description="95% bootstrap interval of the median")
    ci_high: float | None
    not_compared: dict[str, int] = Field(description="uses left out, by reason")
    not_compared_text: str
    sentence: str


class StrategyLinksOut(BaseModel):
    child_id: int
    start: datetime
    end: datetime
    feature: str
    pre_s: float = Field(description="baseline before each onset, s")
    post_s: float = Field(description="response window end after each onset, s")
    strategies: list[StrategyLinkOut]
    limits: str
