"""Per strategy and child: uses, median change with a seeded bootstrap 95% CI, a sentence.

Descriptive only: no p-values, no "it worked". Small numbers of uses are said plainly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from movereg.analysis.linking import FEATURE_UNITS, FEATURE_WORDS, EventChange
from movereg.analysis.strategies import Strategy, strategy_label
from movereg.errors import ParameterError

__all__ = [
    "SAME_TOLERANCE",
    "StrategyStat",
    "bootstrap_median_ci",
    "change_sentence",
    "strategy_stats",
]

#: |change| at or below this counts as "about the same" (feature units; counts per min).
SAME_TOLERANCE: Final[dict[str, float]] = {
    "enmo_mg": 5.0, "mad_mg": 5.0, "counts_vm": 50.0, "rhythm_strength": 0.05,
    "rhythmic_fraction": 0.05, "flap_share": 0.02, "impacts": 0.5, "hard_impacts": 0.2,
    "jerk_g_s": 0.05, "posture_changes": 0.2,
}


def bootstrap_median_ci(values: Sequence[float] | np.ndarray, *, n_boot: int = 2000,
                        level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Median and its percentile-bootstrap confidence interval.

    Parameters
    ----------
    values
        Finite observations (NaN are dropped).
    n_boot
        Bootstrap resamples.
    level
        Interval coverage, e.g. 0.95.
    seed
        Seed of the ``numpy.random.default_rng`` generator (same input -> same output).

    Returns
    -------
    (median, low, high); all NaN when no finite value is given; a single value gives a
    zero-width interval.
    """
    if n_boot < 1 or not 0 < level < 1:
        raise ParameterError("n_boot must be >= 1 and level in (0, 1)")
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    med = float(np.median(x))
    if x.size == 1:
        return med, med, med
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    meds = np.median(x[idx], axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(meds, [alpha, 1.0 - alpha])
    return med, float(lo), float(hi)


def _short(label: str) -> str:
    head = label.split(" (")[0].split(" / ")[0].strip()
    return head[:1].lower() + head[1:] if head[1:2].islower() else head


def change_sentence(label: str, feature: str, *, n_uses: int, n_compared: int,
                    n_lower: int, n_higher: int, min_n: int = 3) -> str:
    """A plain, descriptive sentence about the uses of one strategy.

    Examples: "After wall push-ups, rhythmic movement was lower in 7 of 9 uses."
    "Only 2 uses so far — too few to see a pattern."
    """
    words = FEATURE_WORDS.get(feature, feature)
    name = _short(label)
    if n_uses == 0:
        return f"No uses of {name} logged yet."
    if n_compared == 0:
        plural = "use" if n_uses == 1 else "uses"
        return (f"{n_uses} {plural} of {name} so far, none with enough band data around "
                "it to compare before and after.")
    if n_compared < min_n:
        plural = "use" if n_compared == 1 else "uses"
        if n_uses > n_compared:
            return (f"{n_uses} uses of {name} so far, {n_compared} with enough band data "
                    "around it — too few to see a pattern.")
        return f"Only {n_compared} {plural} so far — too few to see a pattern."
    n_same = n_compared - n_lower - n_higher
    if n_lower > n_higher and n_lower > n_same:
        return f"After {name}, {words} was lower in {n_lower} of {n_compared} uses."
    if n_higher > n_lower and n_higher > n_same:
        return f"After {name}, {words} was higher in {n_higher} of {n_compared} uses."
    return (f"After {name}, {words} showed no clear pattern: lower in {n_lower}, higher in "
            f"{n_higher} and about the same in {n_same} of {n_compared} uses.")


@dataclass(frozen=True)
class StrategyStat:
    """Descriptive statistics of one (child, strategy, feature).

    ``n_uses`` counts every logged (non-voided) use; ``n_compared`` only those with
    ``included`` before/after windows; ``not_compared`` counts the rest by status
    (e.g. ``{"overlap": 2}``). ``median_change``/``ci_low``/``ci_high`` are in
    ``unit`` (NaN when nothing was compared).
    """

    child_id: str | None
    strategy: str
    label: str
    feature: str
    unit: str
    n_uses: int
    n_compared: int
    n_lower: int
    n_higher: int
    n_same: int
    median_change: float
    ci_low: float
    ci_high: float
    not_compared: Mapping[str, int]
    sentence: str


def strategy_stats(changes: Iterable[EventChange], *, features: Sequence[str] = ("enmo_mg",),
                   min_n: int = 3, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
                   catalogue: Iterable[Strategy] | None = None) -> list[StrategyStat]:
    """Group event changes by child and strategy; one row per requested feature.

    Rows come sorted by child, then most-used strategy first, then feature order.
    """
    if min_n < 1:
        raise ParameterError("min_n must be >= 1")
    cat = tuple(catalogue) if catalogue is not None else None
    groups: dict[tuple[str | None, str], list[EventChange]] = {}
    for ch in changes:
        groups.setdefault((ch.child_id, ch.strategy), []).append(ch)
    keys = sorted(groups, key=lambda k: (str(k[0]), -len(groups[k]), k[1]))
    out: list[StrategyStat] = []
    for child, strategy in keys:
        items = groups[(child, strategy)]
        label = strategy_label(strategy, cat)
        used = [c for c in items if c.included]
        skipped: dict[str, int] = {}
        for c in items:
            if not c.included:
                skipped[c.status] = skipped.get(c.status, 0) + 1
        for feat in features:
            vals = np.array([c.change.get(feat, np.nan) for c in used], dtype=np.float64)
            vals = vals[np.isfinite(vals)]
            tol = SAME_TOLERANCE.get(feat, 0.0)
            n_lower = int(np.sum(vals < -tol))
            n_higher = int(np.sum(vals > tol))
            med, lo, hi = bootstrap_median_ci(vals, n_boot=n_boot, level=level, seed=seed)
            sentence = change_sentence(label, feat, n_uses=len(items), n_compared=vals.size,
                                       n_lower=n_lower, n_higher=n_higher, min_n=min_n)
            out.append(StrategyStat(
                child_id=child, strategy=strategy, label=label, feature=feat,
                unit=FEATURE_UNITS.get(feat, ""), n_uses=len(items), n_compared=int(vals.size),
                n_lower=n_lower, n_higher=n_higher,
                n_same=int(vals.size) - n_lower - n_higher, median_change=med, ci_low=lo,
                ci_high=hi, not_compared=dict(skipped), sentence=sentence))
    return out
