"""The classroom SMM sessions (Goodwin et al. 2014): loading, epoch labels and ROC AUC.

Pre-processing (the features need g at a uniform rate; the sessions hold raw MITes ADC
units at an irregular ~50-60 Hz): samples are sorted by time and linearly interpolated to
a uniform rate and converted to g by a sphere fit (van Hees et al. 2014) of the still
periods: the means of still 1-s windows (every axis SD < 50 mg) must lie 1 g from an
offset, so an offset per axis and one scale are fitted by linear least squares and the fit
repeated on the rescaled data until it settles (a rough first scale, half the central 95 %
range of the stillest windows' means, starts it). Nothing here looks at the labels or the
child.

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

__all__ = ["DATA", "SESSIONS", "SIDES", "STILL_SD_G", "TYPES", "Session", "auc",
           "epoch_labels", "load_annotations", "load_wrist", "resample", "to_g"]

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


#: A 1-s window is still when every axis has SD below this (g); the sessions' sensor noise
#: is about 10-20 mg.
STILL_SD_G = 0.05
#: Fewest still windows the fit needs, and its iterations.
_MIN_STILL = 20
_ITER = 20


def _still_means(x: np.ndarray, fs_hz: float, sd: float | None) -> np.ndarray:
    """Means of the 1-s windows whose every axis has SD below ``sd``, or (``sd`` None) of
    the stillest 30 %."""
    w = max(1, round(fs_hz))
    blocks = x[: x.shape[0] // w * w].reshape(-1, w, 3)
    spread = blocks.std(axis=1).max(axis=1)
    limit = np.percentile(spread, 30) if sd is None else sd
    return blocks.mean(axis=1)[spread < limit]


def _sphere(m: np.ndarray) -> tuple[np.ndarray, float]:
    """Offset and radius of the sphere through points ``m`` (k, 3), linear least squares:
    |m - o|^2 = r^2 as 2 m . o + (r^2 - |o|^2) = |m|^2."""
    a = np.column_stack([2.0 * m, np.ones(m.shape[0])])
    sol, *_ = np.linalg.lstsq(a, (m * m).sum(axis=1), rcond=None)
    o = sol[:3]
    return o, float(np.sqrt(sol[3] + o @ o))


def to_g(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """Raw units to g: a rough scale, then the still periods' sphere fit until it settles.

    Raises ``ValueError`` when fewer than 20 still windows are found (no scale can be
    known then).
    """
    x = x - np.median(x, axis=0)
    m = _still_means(x, fs_hz, None)
    x = x / (np.median(np.percentile(m, 97.5, axis=0) - np.percentile(m, 2.5, axis=0)) / 2.0)
    for _ in range(_ITER):
        m = _still_means(x, fs_hz, STILL_SD_G)
        if m.shape[0] < _MIN_STILL:
            raise ValueError(f"only {m.shape[0]} still 1-s windows: cannot scale to g")
        o, r = _sphere(m)
        x = (x - o) / r
        if abs(r - 1.0) < 1e-6 and float(np.abs(o).max()) < 1e-6:
            break
    return np.ascontiguousarray(x)


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
