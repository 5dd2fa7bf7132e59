"""Sample generators for the band model: what a simulated or emulated band measures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from movereg.sensors import _encoders as enc

__all__ = ["PMD_FACTOR", "SampleSource", "index_source", "scenario_source"]

#: ``source(first_index, n, fs_hz)`` -> (n, 3) int64 counts (1 count = PMD_FACTOR g)
SampleSource = Callable[[int, int, float], npt.NDArray[np.int64]]

#: g per count of a Verity Sense's ACC (its START reply's conversion factor)
PMD_FACTOR = float(np.float32(0.000244))


def index_source(first: int, n: int, fs_hz: float) -> npt.NDArray[np.int64]:
    """Counts that encode the sample index (x = k mod 8192, y = k // 8192 mod 8192,
    z = 4098 ≈ 1 g): a test recovers every sample's index from the decoded values."""
    k = np.arange(first, first + n, dtype=np.int64)
    return np.stack([k % 8192, (k // 8192) % 8192, np.full(n, 4098, np.int64)], axis=1)


def scenario_source(seed: int, scenario: str = "session") -> SampleSource:
    """Plausible wrist movement (the simulated band's scenarios), as counts."""
    from movereg.sensors.simulated import SCENARIOS, synthesize

    plan = list(SCENARIOS[scenario])
    cache: dict[tuple[float, int], npt.NDArray[np.int64]] = {}

    def loop(fs: float, i: int) -> npt.NDArray[np.int64]:
        key = (fs, i)
        if key not in cache:
            if len(cache) > 4:
                cache.clear()
            g = synthesize(plan, fs, [seed, i, 7])
            cache[key] = enc.g_to_counts(g, PMD_FACTOR)
        return cache[key]

    def source(first: int, n: int, fs_hz: float) -> npt.NDArray[np.int64]:
        per = loop(fs_hz, 0).shape[0]
        out = []
        k = first
        while k < first + n:
            i, j = divmod(k, per)
            take = min(per - j, first + n - k)
            out.append(loop(fs_hz, i)[j:j + take])
            k += take
        return np.concatenate(out)

    return source
