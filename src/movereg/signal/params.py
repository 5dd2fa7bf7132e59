"""Every threshold of the feature set, in one frozen dataclass (units in the names)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from movereg.errors import ParameterError

__all__ = ["FeatureConfig"]


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of :func:`movereg.signal.extract_features` and the streaming engine.

    Defaults follow ``reference/signal-methods.md``: Hildebrand 2014/2017 child
    non-dominant-wrist ENMO cut-points (not validated for this population or device),
    van Hees 2013 / GGIR non-wear criteria, the rhythmic-movement index of §2.2, impacts
    and jerk of §2.5, posture changes of §2.6, GGIR-like bout rules of §2.4.
    """

    # intensity zone (ENMO, mg): still < light_mg <= light < moderate_mg <= ... vigorous
    light_mg: float = 35.6
    moderate_mg: float = 201.4
    vigorous_mg: float = 707.0
    # non-wear (van Hees 2013 / GGIR defaults): per-axis SD and range over the window
    nonwear_window_s: float = 3600.0
    nonwear_step_s: float = 900.0
    nonwear_sd_mg: float = 13.0
    nonwear_range_mg: float = 50.0
    nonwear_min_axes: int = 2
    nonwear_min_coverage: float = 0.5
    # rhythmic movement (vector autocorrelation of the moving-average high-passed signal)
    rhythm_window_s: float = 5.0
    rhythm_hop_s: float = 1.0
    rhythm_ma_s: float = 2.0
    rhythm_min_lag_s: float = 0.2
    rhythm_max_lag_s: float = 2.5
    # no rhythm below this movement (RMS of the high-passed signal, mg): above the noise
    # floor of a classroom wrist sensor at rest (12-20 mg, Goodwin 2014, in g); was 10
    rhythm_gate_mg: float = 30.0
    rhythm_gate: str = "vector_rms"          # or "resultant_sd"
    rhythm_threshold: float = 0.5
    rhythm_min_valid: float = 0.8
    rhythm_rate_hz: float = 15.0            # minimum rate of the decimated rhythm signal
    # flapping band share (of high-passed power)
    flap_low_hz: float = 1.5
    flap_high_hz: float = 6.0
    # flapping evidence in rhythm_strength: the flap band's jerk RMS j (g/s) against this
    # reference, j^2/(j^2+ref^2); 8 g/s = a 0.42-g RMS movement at 3 Hz (a hand flapping
    # about 1.7 cm either way)
    flap_jerk_ref_g_s: float = 8.0
    # impacts and jerk (causal Butterworth low-pass first)
    lowpass_hz: float = 10.0
    lowpass_order: int = 4                  # fixed: two second-order sections
    impact_g: float = 2.0
    hard_impact_g: float = 3.0
    impact_refractory_s: float = 0.25
    # posture changes: |z-angle difference| between consecutive 1-s hops, degrees
    posture_change_deg: float = 5.0
    # clipping (GGIR clipthres for a +-8 g sensor)
    clip_g: float = 7.5
    # movement breaks: light-or-above bouts
    break_min_duration_s: float = 60.0
    break_max_dip_s: float = 10.0
    # vigorous bouts (GGIR-like 80 % rule)
    bout_min_duration_s: float = 10.0
    bout_min_fraction: float = 0.8

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if (isinstance(v, (int, float)) and not isinstance(v, bool)
                    and (not math.isfinite(v) or v < 0)):
                raise ParameterError(f"FeatureConfig.{f.name} must be finite and >= 0, "
                                         f"got {v!r}")
        if not self.light_mg <= self.moderate_mg <= self.vigorous_mg:
            raise ParameterError("FeatureConfig: need light_mg <= moderate_mg <= vigorous_mg")
        if not 0 < self.rhythm_min_lag_s < self.rhythm_max_lag_s:
            raise ParameterError("FeatureConfig: need 0 < rhythm_min_lag_s < rhythm_max_lag_s")
        if not (min(self.rhythm_hop_s, self.rhythm_window_s, self.rhythm_ma_s) > 0
                and 0 < self.nonwear_step_s <= self.nonwear_window_s):
            raise ParameterError("FeatureConfig: window, hop and step lengths must be > 0 "
                                 "(nonwear_step_s <= nonwear_window_s)")
        if not (0 <= self.rhythm_min_valid <= 1 and 0 <= self.nonwear_min_coverage <= 1
                and 0 <= self.bout_min_fraction <= 1):
            raise ParameterError("FeatureConfig: shares must be within 0..1")
        if not 0 < self.flap_low_hz < self.flap_high_hz:
            raise ParameterError("FeatureConfig: need 0 < flap_low_hz < flap_high_hz")
        if not self.flap_jerk_ref_g_s > 0:
            raise ParameterError("FeatureConfig.flap_jerk_ref_g_s must be > 0")
        if self.nonwear_min_axes not in (1, 2, 3):
            raise ParameterError("FeatureConfig.nonwear_min_axes must be 1, 2 or 3")
