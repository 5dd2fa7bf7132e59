"""The flap-band lag weights: band power (row 0) and second spectral moment (row 1).

Known answers on sinusoids inside the 1.5-6 Hz band: the band holds all the power, the
RMS band frequency is the sinusoid's frequency, and ``2 pi sqrt(moment)`` is its RMS jerk
(``2 pi f A / sqrt(2)`` for amplitude ``A`` g): what the flapping vigour of
``rhythm_strength`` weighs against ``flap_jerk_ref_g_s``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from movereg.signal._plan import flap_weights


def _lag_sums(x: np.ndarray, n: int, tmax: int) -> np.ndarray:
    """One-sided lag sums S(tau) = sum_{t < n} x(t) . x(t + tau), as the kernel forms them."""
    return np.array([float(np.sum(x[:n] * x[tau:tau + n])) for tau in range(tmax + 1)])


@pytest.mark.parametrize("rate", [15.0, 18.0, 26.0])
@pytest.mark.parametrize("f0", [2.0, 3.0, 4.5])
def test_sinusoid_power_frequency_and_jerk(rate: float, f0: float) -> None:
    tmax = math.floor(2.5 * rate)
    n = round(5.0 * rate)
    amp = 0.7                                            # g
    t = np.arange(n + tmax + 1) / rate
    x = np.zeros((t.size, 3))
    x[:, 0] = amp * np.sin(2 * np.pi * f0 * t)
    x[:, 2] = 0.3 * amp * np.cos(2 * np.pi * f0 * t)     # a second axis, in quadrature
    s = _lag_sums(x, n, tmax)
    w = flap_weights(1.5, 6.0, rate, tmax)
    power, moment = float(w[0] @ s), float(w[1] @ s)
    assert power / s[0] == pytest.approx(1.0, abs=0.02)
    assert math.sqrt(moment / power) == pytest.approx(f0, rel=0.01)
    jerk = 2 * math.pi * math.sqrt(moment / n)
    assert jerk == pytest.approx(2 * math.pi * f0 * amp * math.sqrt(1.09 / 2), rel=0.02)


def test_slow_movement_has_no_band_jerk() -> None:
    """A 0.7-Hz sway (rocking rhythm) puts next to nothing into the flap band's moment."""
    rate, tmax, n = 15.0, 37, 75
    t = np.arange(n + tmax + 1) / rate
    x = np.zeros((t.size, 3))
    x[:, 1] = np.sin(2 * np.pi * 0.7 * t)
    s = _lag_sums(x, n, tmax)
    w = flap_weights(1.5, 6.0, rate, tmax)
    fast = np.zeros_like(x)
    fast[:, 1] = np.sin(2 * np.pi * 3.0 * t)
    assert float(w[1] @ s) < 0.02 * float(w[1] @ _lag_sums(fast, n, tmax))
