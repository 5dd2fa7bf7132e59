"""The classroom SMM sessions (Goodwin et al. 2014): loading, epoch labels and ROC AUC.

Pre-processing (the features need g at a uniform rate; the sessions hold raw MITes ADC
units at an irregular ~50-60 Hz): samples are sorted by time and linearly interpolated to
a uniform rate; each axis has its median removed and is divided by one estimate of 1 g
from the data (half the central 95 % range of the per-axis means of the stillest 1-s
windows, median over the axes). Nothing here looks at the labels or the child.

An epoch is SMM when >= 50 % of it lies inside Rock/Flap/Flap-Rock episodes (its type:
the label with the most overlap), non-SMM when it lies inside ``Good Data`` and touches
no episode; both need coverage > 0.9. Other epochs are not scored.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

__all__ = ["DATA", "SESSIONS", "SIDES", "TYPES", "Session", "auc", "epoch_labels",
           "load_annotations", "load_wrist", "resample"]

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "smm"
SESSIONS = ("URI-001-01-18-08", "URI-001-01-25-08", "URI-002-01-18-08",
            "URI-002-01-24-08", "URI-003-01-18-08", "URI-003-02-08-08")
SIDES = ("Left-wrist", "Right-wrist")
TYPES = ("Rock", "Flap", "Flap-Rock")


def _ms(text: str) -> float:
    dt = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return dt.timestamp() * 1000.0


def load_annotations(session: str, data: Path = DATA) -> list[tuple[str, float, float]]:
    """``(label, start_ms, stop_ms)`` rows of a session's annotation file (Unix ms)."""
    with open(data / f"{session}_annotations.csv", encoding="utf-8") as fh:
        return [(r["label"], _ms(r["start_utc"]), _ms(r["stop_utc"]))
                for r in csv.DictReader(fh)]


def load_raw(session: str, side: str, data: Path = DATA) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(time_ms, xyz raw units)`` of one wrist."""
    with gzip.open(data / f"{session}_{side}.csv.gz", "rt") as fh:
        raw = np.loadtxt(fh, delimiter=",", skiprows=1)
    order = np.argsort(raw[:, 0], kind="stable")
    return raw[order, 0], raw[order, 1:]


def resample(t_ms: np.ndarray, v: np.ndarray, fs_hz: float) -> tuple[float, np.ndarray]:
    """Linear interpolation of ``v`` (n, 3) at times ``t_ms`` onto a uniform ``fs_hz`` grid."""
    tu = np.arange(t_ms[0], t_ms[-1], 1000.0 / fs_hz)
    x = np.column_stack([np.interp(tu, t_ms, v[:, a]) for a in range(3)])
    return float(tu[0]), x


def to_g(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """Median-centred axes divided by one 1-g estimate from the stillest 1-s windows."""
    x = x - np.median(x, axis=0)
    w = max(1, round(fs_hz))
    blocks = x[: x.shape[0] // w * w].reshape(-1, w, 3)
    sd = blocks.std(axis=1).max(axis=1)
    still_means = blocks.mean(axis=1)[sd < np.percentile(sd, 30)]
    one_g = np.median(np.percentile(still_means, 97.5, axis=0)
                      - np.percentile(still_means, 2.5, axis=0)) / 2.0
    return np.ascontiguousarray(x / one_g)


def load_wrist(session: str, side: str, fs_hz: float = 60.0,
               data: Path = DATA) -> tuple[float, np.ndarray]:
    """``(t0_ms, samples in g at fs_hz)`` of one wrist, pre-processed as the module says."""
    t, v = load_raw(session, side, data)
    t0, x = resample(t, v, fs_hz)
    return t0, to_g(x, fs_hz)


@dataclass(frozen=True)
class Session:
    """One session's label per epoch: 1 SMM, 0 non-SMM, -1 not scored; type of SMM epochs."""

    label: np.ndarray
    kind: np.ndarray


def epoch_labels(epoch_start_ms: np.ndarray, coverage: np.ndarray, epoch_s: float,
                 ann: list[tuple[str, float, float]]) -> Session:
    """Label epochs from the annotations (see the module docstring)."""
    good = [(s, e) for lab, s, e in ann if lab == "Good Data"]
    episodes = [(lab, s, e) for lab, s, e in ann if lab in TYPES]
    n = epoch_start_ms.size
    label = np.full(n, -1, dtype=np.int64)
    kind = np.array([""] * n, dtype=object)
    half = epoch_s * 500.0
    for i in range(n):
        st = float(epoch_start_ms[i])
        en = st + epoch_s * 1000.0
        per = dict.fromkeys(TYPES, 0.0)
        for lab, s, e in episodes:
            per[lab] += max(0.0, min(e, en) - max(s, st))
        overlap = sum(per.values())
        ok = coverage[i] > 0.9
        if overlap >= half and ok:
            label[i] = 1
            kind[i] = max(TYPES, key=lambda k: per[k])
        elif overlap == 0.0 and ok and any(s <= st and en <= e for s, e in good):
            label[i] = 0
    return Session(label, kind)


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC by the rank (Mann-Whitney) formula, ties counted half; NaN if a side is empty."""
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    order = np.argsort(allv, kind="mergesort")
    sv = allv[order]
    ranks = np.empty(allv.size)
    # average ranks of tied runs
    edges = np.flatnonzero(np.diff(sv) != 0) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [allv.size]])
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        ranks[order[s:e]] = (s + e - 1) / 2.0 + 1.0
    rp = ranks[: pos.size].sum()
    return float((rp - pos.size * (pos.size + 1) / 2.0) / (pos.size * neg.size))
