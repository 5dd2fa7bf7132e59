"""rhythm_strength holds across sampling rates, sensor orientations and sensors on real recordings.

The six classroom SMM sessions (tests/data/smm, Goodwin et al. 2014; see
``validation/smm.py`` for the pre-processing and the epoch labels) resampled from their
irregular ~55 Hz to 30, 52 and 90 Hz instead of 60 Hz, and each wrist turned by its own
random rotation (after conversion to g: the band may sit any way round on the wrist):
the ROC AUC of ``rhythm_strength`` per wrist, pooled, per child and per movement type,
stays within 0.02 of the 60-Hz unrotated figures. So it does when the sessions are changed
as another sensor would record them (``validation/sensor_robustness.py``): a +-2 g range,
more noise, an 8-bit converter, per-axis gain errors, lost packets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))    # the repository root

from validation.smm import SESSIONS, SIDES, load_raw, resample, to_g
from validation.smm_auroc import concat, rotation, session_records, summary

pytestmark = pytest.mark.slow
RATES = (30.0, 52.0, 90.0)


def _figures(s: dict) -> dict[str, float]:
    out = {f"pooled {w}": v for w, v in s["pooled"].items()}
    for group in ("child", "type"):            # per child; per movement type (rock, flap, ...)
        out.update({f"{group} {k} {w}": v for k, per in s[group].items()
                    for w, v in per.items()})
    return out


def test_auroc_within_002_across_rates_and_rotations() -> None:
    rng = np.random.default_rng(24)
    parts: dict[float, list] = {fs: [] for fs in (60.0, *RATES)}
    for session in SESSIONS:
        for side in SIDES:
            t, v = load_raw(session, side)
            for fs in parts:
                t0, x = resample(t, v, fs)
                rot = rotation(rng) if fs != 60.0 else None
                parts[fs].append(session_records(session, side, fs_hz=fs, x=to_g(x, fs),
                                                 t0_ms=t0, rotate=rot))
    ref = _figures(summary(concat(parts[60.0])))
    assert min(ref.values()) > 0.8          # the comparison is between useful figures
    for fs in RATES:
        got = _figures(summary(concat(parts[fs])))
        for key, value in ref.items():
            assert abs(got[key] - value) <= 0.02, (fs, key, got[key], value)


def test_rotation_alone_changes_nothing_measurable() -> None:
    """The rhythm measures use only dot products of 3-axis vectors: orientation-free."""
    session, side = SESSIONS[2], SIDES[1]
    t, v = load_raw(session, side)
    t0, x = resample(t, v, 60.0)
    x = to_g(x, 60.0)
    a = session_records(session, side, x=x, t0_ms=t0)
    b = session_records(session, side, x=x, t0_ms=t0,
                        rotate=rotation(np.random.default_rng(7)))
    assert a["label"].size > 50
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a["rhythm_hz"], b["rhythm_hz"], rtol=1e-9, atol=1e-12)


# the ways a real sensor differs that a calibrated band can have (a wrong unit scale is
# shown in validation/results/sensor_robustness.md, not promised here)
SENSORS = ("range +-2 g", "+30 mg noise", "8 bits over +-4 g", "gains 0.9 / 1.0 / 1.1",
           "10 % lost in 0.5-s runs", "20 % lost in 0.1-s runs")


def test_auroc_within_002_as_other_sensors_would_record() -> None:
    from validation.sensor_robustness import CONDITIONS, figures, load

    data = load()
    ref = _figures(figures(CONDITIONS["as recorded"], data))
    for name in SENSORS:
        got = _figures(figures(CONDITIONS[name], data))
        for key, value in ref.items():
            assert abs(got[key] - value) <= 0.02, (name, key, got[key], value)
