"""Real movement: expert-labelled rocking/flapping in a classroom (Goodwin et al. 2014).

Data: tests/data/smm (see tests/data/README.md). Two wrists, irregular ~50-60 Hz sampling,
raw ADC units. Pre-processing (``validation/smm.py``, shared with ``python -m
validation.smm_auroc``), documented there because the features need g at a uniform rate:
samples are sorted by time and linearly interpolated to 60 Hz, then scaled to g by a
sphere fit of the still periods. The periodicity is scale-free (autocorrelations are
normalised); the movement gate (30 mg) and the flapping-band vigour (jerk reference 8 g/s)
use the scale. No parameter is tuned per wrist or on the labels.

An epoch (5 s) is SMM when >= 50 % of it lies inside a Rock/Flap/Flap-Rock episode, and
non-SMM when it lies inside `Good Data` and touches no episode. This test reads the first
session only; ``test_smm_invariance.py`` and the validation script read all six.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from movereg.signal import extract_features

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))    # the repository root

from validation.smm import auc as _auc
from validation.smm import load_annotations, load_wrist

SESSION = "URI-001-01-18-08"
FS = 60.0
pytestmark = pytest.mark.slow


def _annotations() -> list[tuple[str, float, float]]:
    return load_annotations(SESSION)


def _load(side: str) -> tuple[float, np.ndarray]:
    return load_wrist(SESSION, side, FS)


def test_auc_formula() -> None:
    assert _auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert _auc(np.array([1.0]), np.array([1.0])) == 0.5
    assert _auc(np.array([1.0, 4.0]), np.array([2.0, 3.0])) == 0.5


def test_rhythm_strength_separates_labelled_episodes_on_each_wrist() -> None:
    ann = _annotations()
    good = [(s, e) for lab, s, e in ann if lab == "Good Data"]
    episodes = [(lab, s, e) for lab, s, e in ann if lab != "Good Data"]
    results = {}
    for side in ("Left-wrist", "Right-wrist"):
        t0_ms, x = _load(side)
        tab = extract_features(x, FS, t0_ns=round(t0_ms * 1e6), epoch_s=5.0)
        st = tab["epoch_start"] / 1e6
        en = st + 5000.0
        label = np.full(tab.n, -1)
        kind = np.array([""] * tab.n, dtype=object)
        for i in range(tab.n):
            inside_good = any(s <= st[i] and en[i] <= e for s, e in good)
            overlap = 0.0
            for lab, s, e in episodes:
                o = max(0.0, min(e, en[i]) - max(s, st[i]))
                if o > 0:
                    overlap += o
                    kind[i] = lab
            if overlap >= 2500.0 and tab["coverage"][i] > 0.9:
                label[i] = 1
            elif inside_good and overlap == 0.0 and tab["coverage"][i] > 0.9:
                label[i] = 0
        rs = np.nan_to_num(tab["rhythm_strength"])
        auc = _auc(rs[label == 1], rs[label == 0])
        rock_hz = float(np.nanmedian(tab["rhythm_hz"][(label == 1) & (kind == "Rock")]))
        flapping = (label == 1) & ((kind == "Flap") | (kind == "Flap-Rock"))
        flap_hz = float(np.nanmedian(tab["rhythm_hz"][flapping]))
        flap = tab["flap_share"][flapping]
        results[side] = {"auc_rhythm_strength": round(auc, 3),
                         "n_smm": int((label == 1).sum()), "n_other": int((label == 0).sum()),
                         "median_rhythm_hz_rock": round(rock_hz, 3),
                         "median_rhythm_hz_flap": round(flap_hz, 3),
                         "median_flap_share_flap": round(float(np.nanmedian(flap)), 3),
                         "median_flap_share_other": round(float(np.nanmedian(
                             tab["flap_share"][label == 0])), 3)}
        print(side, results[side])
        assert (label == 1).sum() >= 30 and (label == 0).sum() >= 60
        assert auc >= 0.80, (side, auc)
        assert 0.5 <= rock_hz <= 1.5, (side, rock_hz)
        assert 2.0 <= flap_hz <= 4.0, (side, flap_hz)
        assert np.nanmedian(flap) > np.nanmedian(tab["flap_share"][label == 0]) + 0.3
    print(json.dumps(results))


def test_epoch_labels_rule() -> None:
    """>= 50 % inside episodes -> SMM of the type with most overlap; inside Good Data and
    touching no episode -> non-SMM; anything else (or coverage <= 0.9) is not scored."""
    from validation.smm import epoch_labels

    ann = [("Good Data", 0.0, 60_000.0), ("Rock", 1_000.0, 4_000.0),
           ("Flap", 4_000.0, 4_500.0), ("Flap", 12_000.0, 14_000.0),
           ("Flap", 20_000.0, 22_600.0)]
    starts = np.arange(0.0, 70_000.0, 5_000.0)
    cov = np.ones(starts.size)
    cov[6] = 0.5
    lab = epoch_labels(starts, cov, 5.0, ann)
    # 0: 3.5 s of episodes (Rock 3 s) | 1: none | 2: 2 s, not scored | 4: 2.6 s of Flap
    assert lab.label.tolist() == [1, 0, -1, 0, 1, 0, -1, 0, 0, 0, 0, 0, -1, -1]
    assert lab.kind[0] == "Rock" and lab.kind[4] == "Flap"
