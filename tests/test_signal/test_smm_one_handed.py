"""The validation script's one-handed diagnostic: the other wrist's jerk matched by epoch,
and SMM epochs in which a wrist barely moved counted and left out (``validation.smm_auroc``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))    # the repository root

from validation.smm import SIDES
from validation.smm_auroc import ONE_HANDED, concat, summary, with_other_wrist


def _wrist(side: str, starts: list[int], jerk: list[float], label: list[int],
           score: list[float]) -> dict[str, np.ndarray]:
    n = len(starts)
    return {"child": np.full(n, "009", dtype=object),
            "session": np.full(n, "URI-009-01-01-08", dtype=object),
            "side": np.full(n, side, dtype=object), "label": np.array(label),
            "kind": np.array(["Flap" if v == 1 else "" for v in label], dtype=object),
            "score": np.array(score), "rhythm_hz": np.full(n, 3.0),
            "flap_share": np.full(n, 0.5), "epoch_start": np.array(starts, dtype=np.int64),
            "jerk": np.array(jerk)}


def test_other_wrist_jerk_is_matched_by_epoch_start() -> None:
    left = _wrist(SIDES[0], [0, 5, 10], [1.0, 2.0, 3.0], [0, 1, 1], [0.1, 0.9, 0.8])
    right = _wrist(SIDES[1], [5, 10, 15], [20.0, 30.0, 40.0], [1, 1, 0], [0.9, 0.8, 0.1])
    a, b = with_other_wrist(left, right)
    np.testing.assert_array_equal(a["other_jerk"], [np.nan, 20.0, 30.0])
    np.testing.assert_array_equal(b["other_jerk"], [2.0, 3.0, np.nan])


def test_one_handed_epochs_are_counted_and_left_out() -> None:
    # left: SMM epochs 1-2 score low and the left barely moved (jerk < 0.25 x the right's)
    left = _wrist(SIDES[0], [0, 5, 10, 15, 20], [5.0, 1.0, 1.0, 10.0, 5.0],
                  [0, 1, 1, 1, 0], [0.5, 0.1, 0.2, 0.9, 0.3])
    right = _wrist(SIDES[1], [0, 5, 10, 15, 20], [5.0, 10.0, 10.0, 10.0, 5.0],
                   [0, 1, 1, 1, 0], [0.1, 0.9, 0.8, 0.7, 0.2])
    assert ONE_HANDED * 10.0 > 1.0
    s = summary(concat(with_other_wrist(left, right)))
    one = s["one_handed"]
    assert one["n"] == {SIDES[0]: 2, SIDES[1]: 0}
    assert one["session"] == {"URI-009-01-01-08": {SIDES[0]: 2, SIDES[1]: 0}}
    assert s["pooled"][SIDES[0]] == 1 / 3           # 0.1 and 0.2 lose to 0.3 and 0.5
    assert one["pooled"][SIDES[0]] == 1.0           # without them: 0.9 beats 0.5 and 0.3
    assert one["pooled"][SIDES[1]] == s["pooled"][SIDES[1]] == 1.0
