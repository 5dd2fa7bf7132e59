"""The SMM sessions' raw units reach g by a sphere fit of their still periods.

The features' absolute parameters (the movement gate in mg, the jerk reference in g/s) are
only meaningful if the validation feeds them g. Every wrist of the six sessions (MITes ADC
units, ~60 counts per g) must come out with its still windows 1 g long, and the result
must not depend on the raw units' offset or scale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))    # the repository root

from validation.smm import SESSIONS, SIDES, STILL_SD_G, load_raw, resample, to_g

FS = 60.0


def _still_norms(x: np.ndarray) -> np.ndarray:
    w = round(FS)
    b = x[: x.shape[0] // w * w].reshape(-1, w, 3)
    return np.linalg.norm(b.mean(axis=1)[b.std(axis=1).max(axis=1) < STILL_SD_G], axis=1)


@pytest.mark.slow
@pytest.mark.parametrize("session", SESSIONS)
@pytest.mark.parametrize("side", SIDES)
def test_still_windows_measure_one_g(session: str, side: str) -> None:
    t, v = load_raw(session, side)
    _, x = resample(t, v, FS)
    n = _still_norms(to_g(x, FS))
    assert n.size >= 100
    # the median within 2.5 %, the mean error below 60 mg (left wrists 6-17 mg, right
    # 25-45 mg: those sensors read 0.93-1.10 g still in different orientations, which one
    # scale cannot undo; an axis-by-axis fit is unstable on them); the former estimate
    # (half the range of the still means) was off by a factor of 1.4-2.6
    assert abs(float(np.median(n)) - 1.0) < 0.025
    assert float(np.mean(np.abs(n - 1.0))) < 0.060


_T, _V = load_raw(SESSIONS[0], SIDES[0])
_, _X = resample(_T[:60_000], _V[:60_000], FS)
_G = to_g(_X, FS)


@settings(max_examples=15, deadline=None)
@given(scale=st.floats(0.001, 1000.0), offset=st.floats(-5000.0, 5000.0))
def test_independent_of_raw_offset_and_scale(scale: float, offset: float) -> None:
    np.testing.assert_allclose(to_g(_X * scale + offset, FS), _G, atol=1e-6)


def test_no_still_period_is_an_error() -> None:
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="still"):
        to_g(rng.standard_normal((6000, 3)) * 300.0, FS)
