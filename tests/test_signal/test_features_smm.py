"""Real movement: expert-labelled rocking/flapping in a classroom (Goodwin et al. 2014).

Data: tests/data/smm (see tests/data/README.md). Two wrists, irregular ~50-60 Hz sampling,
raw ADC units. Pre-processing, documented here because the features need g at a uniform
rate: samples are sorted by time and linearly interpolated to 60 Hz; each axis has its
median removed and is divided by one estimate of 1 g from the data (half the central 95 %
range of the per-axis means of the stillest 1-s windows, median over the axes). The
rhythm measures are scale-free (autocorrelations are normalised); only the movement gate
(10 mg) depends on the scale. No parameter is tuned per wrist or on the labels.

An epoch (5 s) is SMM when >= 50 % of it lies inside a Rock/Flap/Flap-Rock episode, and
non-SMM when it lies inside `Good Data` and touches no episode.
"""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from movereg.signal import extract_features

DATA = Path(__file__).resolve().parents[1] / "data" / "smm"
SESSION = "URI-001-01-18-08"
FS = 60.0
pytestmark = pytest.mark.slow


def _ms(text: str) -> float:
    dt = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return dt.timestamp() * 1000.0


def _annotations() -> list[tuple[str, float, float]]:
    with open(DATA / f"{SESSION}_annotations.csv", encoding="utf-8") as fh:
        return [(r["label"], _ms(r["start_utc"]), _ms(r["stop_utc"])) for r in csv.DictReader(fh)]


def _load(side: str) -> tuple[float, np.ndarray]:
    with gzip.open(DATA / f"{SESSION}_{side}.csv.gz", "rt") as fh:
        raw = np.loadtxt(fh, delimiter=",", skiprows=1)
    order = np.argsort(raw[:, 0], kind="stable")
    t, v = raw[order, 0], raw[order, 1:]
    tu = np.arange(t[0], t[-1], 1000.0 / FS)
    x = np.column_stack([np.interp(tu, t, v[:, a]) for a in range(3)])
    x -= np.median(x, axis=0)
    w = int(FS)
    blocks = x[: x.shape[0] // w * w].reshape(-1, w, 3)
    sd = blocks.std(axis=1).max(axis=1)
    still_means = blocks.mean(axis=1)[sd < np.percentile(sd, 30)]
    one_g = np.median(np.percentile(still_means, 97.5, axis=0) -
                      np.percentile(still_means, 2.5, axis=0)) / 2.0
    return float(tu[0]), x / one_g


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC by the rank (Mann-Whitney) formula, ties counted half."""
    allv = np.concatenate([pos, neg])
    order = np.argsort(allv, kind="mergesort")
    ranks = np.empty(allv.size)
    sorted_v = allv[order]
    i = 0
    while i < allv.size:
        j = i
        while j + 1 < allv.size and sorted_v[j + 1] == sorted_v[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    rp = ranks[: pos.size].sum()
    return float((rp - pos.size * (pos.size + 1) / 2.0) / (pos.size * neg.size))


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
