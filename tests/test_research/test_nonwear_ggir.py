"""``nonwear_ggir`` against an oracle: GGIR's documented rules, in plain Python.

The oracle follows GGIR's ``detect_nonwear_clipping`` (windowsizes c(5, 900, 3600),
sdcriter 0.013 g, racriter 0.05 g) and ``g.weardec`` (wearthreshold 2) step by step with
R's 1-based, inclusive indices and lists of floats, no numpy: a different route to the
same numbers.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from movereg.errors import ParameterError
from movereg.signal.nonwear_ggir import nonwear_ggir, nonwear_ggir_epochs

R3 = Path(__file__).resolve().parents[1] / "data" / "actilife" / "R3_raw.csv.gz"


def _sd(v: list[float]) -> float:
    m = sum(v) / len(v)
    return math.sqrt(sum((a - m) ** 2 for a in v) / (len(v) - 1))


def _r3() -> np.ndarray:
    """R3 (real wrist data, 30 Hz, all worn) with hours 8-11 as a band lying on a table:
    the orientation of the minute before, ActiGraph-like 1/256-g steps and 3 mg noise."""
    with gzip.open(R3, "rt") as fh:
        fh.readline()
        x = np.loadtxt(fh, delimiter=",", skiprows=1, dtype=np.float64)
    fs, rng = 30, np.random.default_rng(0)
    lo, hi = 8 * 3600 * fs, 11 * 3600 * fs
    rest = x[lo - 60 * fs:lo].mean(axis=0)
    x[lo:hi] = np.round((rest + rng.normal(0, 0.003, (hi - lo, 3))) * 256) / 256
    return x


def _synthetic(seed: int, fs: float, hours: float) -> np.ndarray:
    """Stretches of 5-150 min in one orientation, per-axis noise from 0.2 mg (lying
    still) through the thresholds (SD 13 mg, range 50 mg) to movement (300 mg)."""
    rng = np.random.default_rng(seed)
    parts, total = [], int(hours * 3600 * fs)
    n = 0
    while n < total:
        m = int(rng.integers(5, 151) * 60 * fs)
        v = rng.normal(size=3)
        v /= np.linalg.norm(v)
        noise = rng.choice([0.001, 0.003, 0.005, 0.008, 0.3], 3)
        parts.append(v + rng.normal(0, 1.0, (m, 3)) * noise)
        n += m
    x = np.vstack(parts)[:total]
    x[rng.integers(0, total, total // 500)] = np.nan                 # a few missing samples
    return x


@pytest.mark.parametrize("approach", ["2013", "2023"])
def test_real_recording_agrees_with_the_oracle(approach: str) -> None:
    x = _r3()                                                        # 30 Hz, 20.7 h
    got = nonwear_ggir(x, 30.0, approach=approach)
    want = oracle([x[:, j].tolist() for j in range(3)], 30.0, approach)
    assert got.nwav.tolist() == want
    assert len(want) == x.shape[0] // (900 * 30)
    # the file has both: still stretches and movement (the test can fail both ways)
    assert 0 < int(got.nonwear.sum()) < len(want)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("approach", ["2013", "2023"])
def test_synthetic_recordings_agree_with_the_oracle(seed: int, approach: str) -> None:
    fs = 2.0 + seed                                                  # 3-6 Hz keeps it quick
    x = _synthetic(seed, fs, hours=3.0 + 4 * seed)
    got = nonwear_ggir(x, fs, approach=approach)
    want = oracle([[None if v != v else v for v in x[:, j].tolist()] for j in range(3)],
                  fs, approach)
    assert got.nwav.tolist() == want
    assert got.nonwear.tolist() == [int(v >= 2) for v in want]
    assert set(want) & {0, 1} and set(want) & {2, 3}


def oracle(cols: list[list[float | None]], sf: float, approach: str) -> list[int]:
    """NWav per 15-min block, GGIR's rules read literally (R indices, 1-based).

    ``None`` is R's NA: removed before max, min and sd (``na.rm = TRUE``), as are indices
    beyond the data.
    """
    n = len(cols[0])
    window2, window = 900 * sf, 3600 * sf
    nmin = int(n // window2)
    crit = ((window / window2) / 2) + 1
    nw = [[0, 0, 0] for _ in range(nmin + 1)]          # row 0 unused (R is 1-based)
    nwav = [0] * (nmin + 1)
    for h in range(1, nmin + 1):
        if approach == "2013":
            flag = [h]
            if h <= crit:
                hoc1, hoc2 = 1, window
            elif h >= nmin - crit:
                hoc1, hoc2 = (nmin - crit) * window2, nmin * window2
            else:
                hoc1 = ((h - 1) * window2 + window2 * 0.5) - window * 0.5
                hoc2 = ((h - 1) * window2 + window2 * 0.5) + window * 0.5
            idx = list(range(int(1 + hoc1), int(hoc2) + 1))
        else:
            flag = [f for f in range(h, int(h + window / window2)) if f <= nmin]
            hoc1 = h * window2 - window2 + 1
            hoc2 = min(hoc1 + window - 1, n)
            idx = list(range(int(1 + hoc1), int(hoc2) + 1, math.ceil(sf / 5)))
        for jj in range(3):
            vals = [v for i in idx if i <= n and (v := cols[jj][i - 1]) is not None]
            if len(vals) < 2:
                continue
            if abs(max(vals) - min(vals)) < 0.05 and _sd(vals) < 0.013:
                for f in flag:
                    nw[f][jj] = 1
        nwav[h] = nw[h][0] + nw[h][1] + nw[h][2]
    out = nwav[1:]
    for i in [k for k, v in enumerate(out) if v == 1]:
        if 0 < i < len(out) - 1 and out[i - 1] > 1 and out[i + 1] > 1:
            out[i] = 2
    return out


def test_epochs_take_their_block_and_bad_input_is_refused() -> None:
    x = np.tile([0.0, 0.0, 1.0], (4 * 3600 * 2, 1))                  # 4 h still at 2 Hz
    res = nonwear_ggir(x, 2.0)
    assert res.nwav.tolist() == [3] * 16 and res.nonwear.tolist() == [1] * 16
    t0 = 10**18
    starts = t0 + np.array([-5, 0, 899, 900, 4 * 3600 - 1, 4 * 3600], dtype=np.int64) * 10**9
    assert nonwear_ggir_epochs(res, t0, starts).tolist() == [-1, 1, 1, 1, 1, -1]
    with pytest.raises(ParameterError):
        nonwear_ggir(x, 2.0, approach="2019")
    with pytest.raises(ParameterError):
        nonwear_ggir(x[:, :2], 2.0)
