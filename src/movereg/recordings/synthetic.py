"""Deterministic synthetic recordings, generated on the fly (benchmarks and memory tests).

A :class:`SyntheticSpec` is a tiny picklable description (name, days, rate, seed); a
Dask worker opens it into a :class:`SyntheticRecording` and generates samples block by
block, so a month-long recording never exists in memory. Block ``k`` (65,536 samples)
is generated from ``seed`` and ``k`` only, so the samples do not depend on chunk size.

The signal: gravity on a slowly turning wrist (z-angle drifting over minutes), plus
bouts of rhythmic movement (0.7–3.5 Hz, 0.05–0.8 g) and sensor noise (0.01 g). It
exercises every feature; it is not a model of any child.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from movereg.recordings.base import Recording

__all__ = ["SyntheticRecording", "SyntheticSpec"]

_BLOCK = 1 << 16
_T0 = 1_700_000_000 * 1_000_000_000  # 2023-11-14T22:13:20Z


@dataclass(frozen=True)
class SyntheticSpec:
    """Description of a synthetic recording; usable as a :func:`run_cohort` input."""

    name: str
    days: float = 1.0
    fs_hz: float = 30.0
    seed: int = 0
    t0_ns: int = _T0

    @property
    def stem(self) -> str:
        """Output file stem."""
        return self.name

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this input for resuming (no file to stat)."""
        return {"kind": "synthetic", "days": self.days, "fs_hz": self.fs_hz, "seed": self.seed,
                "t0_ns": self.t0_ns}

    def open(self, fs_hz: float | None = None) -> SyntheticRecording:
        """A recording over this spec (``fs_hz`` is ignored: the spec fixes the rate)."""
        return SyntheticRecording(self)


class SyntheticRecording(Recording):
    """Samples of a :class:`SyntheticSpec`, generated per block."""

    def __init__(self, spec: SyntheticSpec) -> None:
        n = round(spec.days * 86_400 * spec.fs_hz)
        super().__init__(Path(spec.name), spec.fs_hz, spec.t0_ns, n,
                         {"format": "synthetic", "device": "synthetic", "serial": spec.name})
        self.spec = spec

    def block(self, k: int) -> np.ndarray:
        """Samples ``[k * 65536, (k + 1) * 65536)`` (clipped to the end), float64 (n, 3) g."""
        n_total = self.n_samples or 0
        a = k * _BLOCK
        m = min(_BLOCK, n_total - a)
        rng = np.random.default_rng([self.spec.seed, k])
        fs = self.fs_hz
        t = (a + np.arange(m)) / fs
        angle = 0.6 * np.sin(2 * np.pi * t / 1800.0 + self.spec.seed) + 0.3 * np.sin(
            2 * np.pi * t / 97.0)
        out = np.empty((m, 3))
        out[:, 0] = np.sin(angle)
        out[:, 1] = 0.1 * np.sin(angle * 0.5)
        out[:, 2] = np.cos(angle)
        # movement bouts: the block is cut in ~20-s pieces, each still or moving
        piece = max(1, int(20 * fs))
        for s in range(0, m, piece):
            e = min(m, s + piece)
            if rng.random() < 0.45:
                hz = rng.uniform(0.7, 3.5)
                amp = rng.uniform(0.05, 0.8)
                phase = rng.uniform(0, 2 * np.pi)
                axis = rng.normal(size=3)
                axis /= np.linalg.norm(axis)
                out[s:e] += amp * np.sin(2 * np.pi * hz * t[s:e] + phase)[:, None] * axis
        out += rng.normal(0.0, 0.01, size=(m, 3))
        return out

    def _blocks(self) -> Iterator[tuple[bool, np.ndarray, np.ndarray | None]]:
        n_total = self.n_samples or 0
        for k in range((n_total + _BLOCK - 1) // _BLOCK):
            yield k == 0, self.block(k), None
