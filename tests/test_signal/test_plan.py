"""The feature plan's parameter vectors: every layout slot gets its value."""

from __future__ import annotations

import numpy as np
import pytest

from movereg.errors import SignalError
from movereg.signal._kernels import layout as _ly
from movereg.signal._plan import _vector, make_plan
from movereg.signal.params import FeatureConfig


def test_plan_vectors_hold_the_configured_values() -> None:
    cfg = FeatureConfig()
    plan = make_plan(100.0, 5.0, cfg)
    assert plan.pi.dtype == np.int64 and plan.pi.shape == (_ly.N_PI,)
    assert plan.pf.dtype == np.float64 and plan.pf.shape == (_ly.N_PF,)
    assert plan.pi[_ly.PI_L] == 500
    assert plan.pi[_ly.PI_N10] == 50
    assert plan.pi[_ly.PI_NSOS] == 2
    assert plan.pf[_ly.PF_FS] == 100.0
    assert plan.pf[_ly.PF_EPOCH_NS] == 5e9
    assert plan.pf[_ly.PF_IMPACT] == cfg.impact_g
    assert plan.pf[_ly.PF_NWSD] == cfg.nonwear_sd_mg / 1000.0
    np.testing.assert_array_equal(plan.pf[_ly.PF_CUTS:_ly.PF_CUTS + 3],
                                  [cfg.light_mg, cfg.moderate_mg, cfg.vigorous_mg])


def test_a_slot_without_value_is_refused() -> None:
    np.testing.assert_array_equal(_vector(3, np.int64, {2: 7, 0: 5, 1: 6}), [5, 6, 7])
    with pytest.raises(SignalError, match=r"slots \[1\] of 3"):
        _vector(3, np.int64, {0: 5, 2: 7})
