"""Scripted movement bursts of a simulated band (the live browser test's known burst):
3 s still, then 2 s of vigorous movement at a given UTC time, wherever frames fall."""

from __future__ import annotations

import numpy as np
import pytest

from movereg.sensors.simulated import SimulatedBand

T0 = 1_750_000_000_000_000_000
S = 1_000_000_000


def _enmo_mg(x: np.ndarray) -> float:
    return float(np.mean(np.maximum(np.linalg.norm(x, axis=1) - 1.0, 0.0)) * 1000)


@pytest.mark.parametrize("chunk", [1, 30, 37, 520])
def test_burst_is_still_then_vigorous_at_its_time(chunk: int) -> None:
    burst = T0 + 20 * S + 123_456_789
    band = SimulatedBand(3, "walking", start_ns=T0, bursts_ns=[burst])
    plain = SimulatedBand(3, "walking", start_ns=T0)
    n = 30 * 52
    x = np.concatenate([band._take(min(chunk, n - i)) for i in range(0, n, chunk)])
    y = plain._take(n)
    ib = round((burst - T0) / band.period_ns)
    still, moving = x[ib - 3 * 52:ib], x[ib:ib + 2 * 52]
    assert _enmo_mg(still) < 5 and np.ptp(still, axis=0).max() > 0   # still, not flat
    assert _enmo_mg(moving) > 300
    untouched = np.r_[0:ib - 3 * 52, ib + 2 * 52:n]
    np.testing.assert_array_equal(x[untouched], y[untouched])     # the scenario elsewhere
