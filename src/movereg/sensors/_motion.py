"""The movement model behind the simulated band: a child's forearm pose and wrist motion.

The forearm's pitch/roll (rad) set where gravity (1 g) appears on the three axes; linear
acceleration of the wrist (g) is added on top, with jittered frequencies, amplitude
modulation, bursts, impacts and sensor noise. One generator per activity (see
:data:`ACTIVITIES`, plus ``not_worn``); :func:`concat` glides segments into each other and
:func:`to_g` turns a :class:`Motion` into the specific force a wrist accelerometer reads.
Pure functions of a seeded :class:`numpy.random.Generator`: the same seed, the same signal.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

__all__ = ["ACTIVITIES", "GENERATORS", "Motion", "concat", "still", "synthesize", "to_g"]

F64 = npt.NDArray[np.float64]

ACTIVITIES = ("rest", "walking", "rocking", "flapping", "jumping", "fidgeting", "movement_break")


def _smoothstep(x: F64) -> F64:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _ou(rng: np.random.Generator, n: int, fs: float, tau_s: float, sigma: float) -> F64:
    """Ornstein-Uhlenbeck noise (smooth random wander) with std ``sigma``."""
    a = np.exp(-1.0 / (fs * tau_s))
    e = rng.normal(0.0, sigma * np.sqrt(1 - a * a), n)
    x0 = rng.normal(0.0, sigma)
    out, _ = lfilter([1.0], [1.0, -a], e, zi=[a * x0])
    return np.asarray(out, dtype=np.float64)


def _phase(rng: np.random.Generator, n: int, fs: float, f_hz: float, jitter: float) -> F64:
    """Phase (rad) of an oscillator whose frequency wanders by ~``jitter`` (fraction)."""
    f = f_hz * (1 + _ou(rng, n, fs, 3.0, jitter))
    return 2 * np.pi * np.cumsum(f) / fs + rng.uniform(0, 2 * np.pi)


@dataclass
class Motion:
    """A forearm's movement, one value (or row) per sample."""

    pitch: F64  # rad
    roll: F64  # rad
    lin: F64  # (n, 3) g, device frame
    vert: F64  # specific force along vertical, in g (1 = still)


def still(n: int, pitch: float, roll: float) -> Motion:
    """``n`` samples held at one pose (rad), no linear acceleration."""
    return Motion(np.full(n, pitch), np.full(n, roll), np.zeros((n, 3)), np.ones(n))


def _rest(rng: np.random.Generator, n: int, fs: float) -> Motion:
    m = still(n, rng.uniform(-0.3, 0.3), rng.uniform(-0.7, 0.7))
    m.pitch += _ou(rng, n, fs, 8.0, 0.01)
    m.roll += _ou(rng, n, fs, 8.0, 0.01)
    if n > 10 * fs and rng.random() < 0.7:  # one slow posture shift
        at = int(rng.uniform(0.3, 0.7) * n)
        ramp = _smoothstep((np.arange(n) - at) / (1.5 * fs))
        m.roll += ramp * rng.uniform(-0.5, 0.5)
        m.pitch += ramp * rng.uniform(-0.2, 0.2)
    return m


def _walking(rng: np.random.Generator, n: int, fs: float) -> Motion:
    f_arm = rng.uniform(0.85, 1.1)
    ph = _phase(rng, n, fs, f_arm, 0.03)
    amp = rng.uniform(0.25, 0.45) * (1 + _ou(rng, n, fs, 4.0, 0.1))
    m = still(n, rng.uniform(1.0, 1.3), rng.uniform(-0.3, 0.3))  # arm hanging
    m.pitch += amp * np.sin(ph)
    m.roll += 0.08 * np.sin(ph + 0.7)
    m.lin[:, 0] = 0.25 * amp / 0.35 * np.cos(ph)  # tangential swing acceleration
    step = 2 * ph
    m.vert += 0.22 * np.sin(step) + 0.08 * np.sin(2 * step + 0.6)  # heel strikes
    m.lin += rng.normal(0, 0.02, (n, 3))
    return m


def _rocking(rng: np.random.Generator, n: int, fs: float) -> Motion:
    ph = _phase(rng, n, fs, rng.uniform(0.7, 0.8), 0.02)
    am = 1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.03, 0.08) * np.arange(n) / fs)
    m = still(n, rng.uniform(-0.2, 0.4), rng.uniform(-0.5, 0.5))
    m.pitch += 0.22 * am * np.sin(ph)
    m.roll += 0.04 * am * np.sin(ph + 1.2)
    m.lin[:, 0] = 0.07 * am * np.cos(ph)  # trunk sway carries the wrist
    m.vert += 0.02 * am * np.cos(2 * ph)  # centripetal part at 2f
    m.lin += rng.normal(0, 0.008, (n, 3))
    return m


def _flapping(rng: np.random.Generator, n: int, fs: float) -> Motion:
    m = still(n, rng.uniform(-1.1, -0.7), rng.uniform(-0.3, 0.3))  # hands up
    env = np.zeros(n)
    i = int(rng.uniform(0.2, 1.0) * fs)
    while i < n:
        dur = int(rng.uniform(2.0, 5.0) * fs)
        k = np.arange(min(dur, n - i))
        env[i:i + len(k)] = _smoothstep(k / (0.2 * fs)) * _smoothstep((dur - k) / (0.2 * fs))
        i += dur + int(rng.uniform(0.5, 2.0) * fs)
    ph = _phase(rng, n, fs, rng.uniform(3.2, 3.8), 0.03)
    a = rng.uniform(0.7, 1.2)
    m.roll += 0.5 * env * np.sin(ph)
    m.lin[:, 1] = a * env * (np.sin(ph) + 0.3 * np.sin(2 * ph + 0.4))
    m.lin[:, 2] = 0.25 * a * env * np.cos(ph)
    m.pitch += _ou(rng, n, fs, 2.0, 0.05)
    m.lin += rng.normal(0, 0.01, (n, 3))
    return m


def _jumping(rng: np.random.Generator, n: int, fs: float) -> Motion:
    m = still(n, rng.uniform(0.9, 1.3), rng.uniform(-0.3, 0.3))
    t = np.arange(n) / fs
    vert = np.ones(n)
    start = rng.uniform(0.3, 0.8)
    while start < t[-1]:
        period = rng.uniform(0.5, 0.65)
        push, flight = 0.16 * period / 0.55, 0.3 * period / 0.55
        k = (t >= start) & (t < start + push)
        vert[k] += 1.0 * np.sin(np.pi * (t[k] - start) / push)
        k = (t >= start + push) & (t < start + push + flight)
        vert[k] = 0.05  # free fall: the accelerometer reads ~0 g
        land = start + push + flight
        peak = rng.uniform(2.5, 4.5)
        vert += peak * np.exp(-0.5 * ((t - land) / 0.022) ** 2)
        after = t >= land
        vert[after] += 0.4 * np.exp(-(t[after] - land) / 0.08) * np.cos(
            2 * np.pi * 6 * (t[after] - land))
        start += period + rng.uniform(0.0, 0.25)
    m.vert = vert
    ph = _phase(rng, n, fs, 1.8, 0.05)
    m.pitch += 0.25 * np.sin(ph)
    m.lin += rng.normal(0, 0.03, (n, 3))
    return m


def _fidgeting(rng: np.random.Generator, n: int, fs: float) -> Motion:
    m = still(n, rng.uniform(-0.3, 0.3), rng.uniform(-0.6, 0.6))
    m.pitch += _ou(rng, n, fs, 0.6, 0.12)
    m.roll += _ou(rng, n, fs, 0.4, 0.18)
    on = _smoothstep((_ou(rng, n, fs, 1.5, 1.0) + 0.2) * 2)  # intermittent
    ph = _phase(rng, n, fs, rng.uniform(2.0, 5.0), 0.2)
    m.lin[:, 0] = 0.15 * on * np.sin(ph)
    m.lin[:, 1] = 0.10 * on * np.sin(1.3 * ph + 1)
    m.lin += on[:, None] * rng.normal(0, 0.04, (n, 3))
    return m


def _movement_break(rng: np.random.Generator, n: int, fs: float) -> Motion:
    parts = [(_walking, 0.4), (_jumping, 0.3), (_walking, 0.3)]
    sizes = [int(n * w) for _, w in parts]
    sizes[-1] = n - sum(sizes[:-1])
    return concat([gen(rng, k, fs) for (gen, _), k in zip(parts, sizes, strict=True)], fs)


def _not_worn(rng: np.random.Generator, n: int, fs: float) -> Motion:
    """The band lying on a table: still, face up (only sensor noise)."""
    return still(n, rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03))


#: activity name -> generator ``(rng, n samples, fs Hz) -> Motion``
GENERATORS = {"rest": _rest, "walking": _walking, "rocking": _rocking, "flapping": _flapping,
              "jumping": _jumping, "fidgeting": _fidgeting, "movement_break": _movement_break,
              "not_worn": _not_worn}


def concat(parts: list[Motion], fs: float) -> Motion:
    """Join segments; pose glides from the previous end over 1 s, movement fades in/out."""
    for prev, cur in itertools.pairwise(parts):
        n = len(cur.pitch)
        w = 1 - _smoothstep(np.arange(n) / fs)
        cur.pitch += (prev.pitch[-1] - cur.pitch[0]) * w
        cur.roll += (prev.roll[-1] - cur.roll[0]) * w
    for m in parts:
        n = len(m.pitch)
        k = np.arange(n)
        fade = _smoothstep(k / (0.3 * fs)) * _smoothstep((n - 1 - k) / (0.3 * fs))
        m.lin *= fade[:, None]
        m.vert = 1 + (m.vert - 1) * fade
    return Motion(np.concatenate([m.pitch for m in parts]), np.concatenate([m.roll for m in parts]),
                  np.concatenate([m.lin for m in parts]), np.concatenate([m.vert for m in parts]))


def to_g(m: Motion, rng: np.random.Generator) -> F64:
    """Specific force in the device frame (g): gravity direction × vertical + linear."""
    up = np.stack([-np.sin(m.pitch), np.cos(m.pitch) * np.sin(m.roll),
                   np.cos(m.pitch) * np.cos(m.roll)], axis=1)
    a = up * m.vert[:, None] + m.lin + rng.normal(0, 0.003, m.lin.shape)
    return np.clip(a, -7.99, 7.99)


def synthesize(plan: list[tuple[str, float]], fs_hz: float, seed: int | list[int]) -> F64:
    """Acceleration ``(n, 3)`` in g of the activities in ``plan`` (``(activity, seconds)``
    in order; activities as in :data:`ACTIVITIES` or ``"not_worn"``), without the radio:
    the demo's past week is made from it. Segments glide into each other as in a band's
    stream; ``seed`` fixes everything."""
    rng = np.random.default_rng(seed)
    parts = [GENERATORS[a](rng, max(2, round(s * fs_hz)), fs_hz) for a, s in plan]
    return to_g(concat(parts, fs_hz), rng)
