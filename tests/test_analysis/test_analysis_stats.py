from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movereg.analysis import bootstrap_median_ci, change_sentence, strategy_stats
from movereg.analysis.linking import EventChange


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=40),
       st.integers(0, 2**32 - 1))
def test_ci_brackets_the_sample_median(values: list[float], seed: int) -> None:
    med, lo, hi = bootstrap_median_ci(values, n_boot=300, seed=seed)
    assert med == pytest.approx(float(np.median(values)))
    assert min(values) <= lo <= med <= hi <= max(values)


def test_ci_covers_the_true_median_about_95_percent() -> None:
    rng = np.random.default_rng(42)
    true_median = 3.0
    hits = 0
    trials = 200
    for k in range(trials):
        x = true_median + rng.standard_normal(30) * 2.0
        _, lo, hi = bootstrap_median_ci(x, n_boot=500, seed=k)
        hits += lo <= true_median <= hi
    # percentile bootstrap of a median: near nominal; far below would be a bug
    assert 0.88 <= hits / trials <= 1.0


def test_bootstrap_is_seeded_and_handles_edges() -> None:
    x = [1.0, 5.0, 2.0, 8.0, 3.0]
    assert bootstrap_median_ci(x, seed=7) == bootstrap_median_ci(x, seed=7)
    assert bootstrap_median_ci([4.0]) == (4.0, 4.0, 4.0)
    assert all(np.isnan(v) for v in bootstrap_median_ci([float("nan")]))


@pytest.mark.parametrize("kw, expected", [
    ({"n_uses": 0, "n_compared": 0, "n_lower": 0, "n_higher": 0}, "No uses of"),
    ({"n_uses": 2, "n_compared": 2, "n_lower": 2, "n_higher": 0},
     "Only 2 uses so far — too few to see a pattern."),
    ({"n_uses": 1, "n_compared": 1, "n_lower": 1, "n_higher": 0},
     "Only 1 use so far — too few to see a pattern."),
    ({"n_uses": 3, "n_compared": 0, "n_lower": 0, "n_higher": 0}, "none with enough band data"),
    ({"n_uses": 4, "n_compared": 2, "n_lower": 1, "n_higher": 1},
     "4 uses of structured movement break so far, 2 with enough band data around it — too few"),
    ({"n_uses": 9, "n_compared": 9, "n_lower": 7, "n_higher": 2},
     "After structured movement break, rhythmic movement was lower in 7 of 9 uses."),
    ({"n_uses": 5, "n_compared": 5, "n_lower": 1, "n_higher": 4},
     "was higher in 4 of 5 uses."),
    ({"n_uses": 4, "n_compared": 4, "n_lower": 2, "n_higher": 2}, "no clear pattern"),
])
def test_sentences(kw: dict, expected: str) -> None:
    s = change_sentence("Structured movement break (jumping jacks, marching)",
                        "rhythmic_fraction", **kw)
    assert expected in s
    assert "p =" not in s and "p<" not in s


def _change(i: int, strategy: str, delta: float, status: str = "ok") -> EventChange:
    return EventChange(event_id=str(i), strategy=strategy, child_id="c", onset_ns=i,
                       end_ns=None, status=status, included=status == "ok",  # type: ignore[arg-type]
                       contaminated_by=(), contaminated_phases=(), before_s=300,
                       during_s=0, after_s=600, before={"enmo_mg": 100.0},
                       after={"enmo_mg": 100.0 + delta}, change={"enmo_mg": delta})


def test_strategy_stats_groups_counts_and_excludes() -> None:
    changes = [_change(i, "pro.wall_push", d) for i, d in enumerate([-30, -20, -12, 40, -1])]
    changes += [_change(10, "pro.wall_push", -50, status="overlap"),
                _change(11, "mov.break", -10), _change(12, "mov.break", -25)]
    rows = {r.strategy: r for r in strategy_stats(changes, seed=1)}
    wp = rows["pro.wall_push"]
    assert (wp.n_uses, wp.n_compared, wp.n_lower, wp.n_higher, wp.n_same) == (6, 5, 3, 1, 1)
    assert wp.not_compared == {"overlap": 1}
    assert wp.median_change == -12.0 and wp.ci_low <= -12.0 <= wp.ci_high
    assert wp.sentence == "After wall push-ups, activity was lower in 3 of 5 uses."
    assert rows["mov.break"].sentence == "Only 2 uses so far — too few to see a pattern."
