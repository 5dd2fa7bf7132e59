"""A simulated wristband: plausible child wrist movement sent as real Polar PMD bytes.

The band behaves like a Verity Sense on the forearm: 52 Hz, ±8 g, 16-bit samples sent as
delta-compressed PMD frames (type ``0x80``, conversion factor 0.000244 g/count), each
stamped with the device time of its last sample. The frames decode through the very same
:class:`~movereg.sensors.decoders.polar_pmd.PolarPmdProfile` as a real band, so the demo
and the tests exercise the production decode path.

Movement is synthesised from a small physical model (:mod:`movereg.sensors._motion`), not
from pure sines: the forearm's pitch/roll set where gravity (1 g) appears on the three
axes, and linear acceleration of the wrist is added on top, with jittered frequencies,
amplitude modulation, bursts, impacts and sensor noise. Activities: ``rest``,
``walking`` (arm swing ~1 Hz, steps ~2 Hz), ``rocking`` (~0.75 Hz trunk sway tilting the
arm), ``flapping`` (~3.5 Hz bursts), ``jumping`` (push-off, free fall, landing impacts of
2.5-4.5 g), ``fidgeting`` (small irregular movements) and ``movement_break`` (walking and
jumping as a planned break).
Every scenario loops; each loop re-draws durations and movement from the seed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from movereg.errors import ParameterError
from movereg.models import DeviceFamily
from movereg.sensors import _encoders as enc
from movereg.sensors._motion import ACTIVITIES, GENERATORS, Motion, concat, still, synthesize, to_g
from movereg.sensors.decoders.base import StreamConfig
from movereg.sensors.decoders.polar_pmd import (
    POLAR_EPOCH_OFFSET_NS,
    MeasurementType,
    PmdOp,
    PolarPmdProfile,
)

__all__ = ["ACTIVITIES", "SCENARIOS", "Label", "SimBattery", "SimulatedBand", "synthesize"]

F64 = npt.NDArray[np.float64]

#: scenario -> (activity, nominal seconds) per loop; durations vary ±15 % by seed
SCENARIOS: dict[str, tuple[tuple[str, float], ...]] = {
    "session": (("rest", 40), ("walking", 30), ("rest", 20), ("rocking", 45),
                ("fidgeting", 30), ("flapping", 20), ("rest", 20), ("jumping", 15),
                ("rest", 25), ("movement_break", 60), ("fidgeting", 20), ("rest", 30)),
    **{a: ((a, 60.0),) for a in ACTIVITIES},
    # children who move in their own ways (the demo gives each child one of these)
    "calm": (("rest", 120), ("fidgeting", 20), ("rest", 90), ("walking", 20), ("rest", 60)),
    "rhythmic": (("rest", 30), ("rocking", 90), ("rest", 20), ("rocking", 60),
                 ("fidgeting", 20), ("rocking", 45)),
    "breaks": (("rest", 40), ("movement_break", 60), ("fidgeting", 30), ("jumping", 15),
               ("rest", 30), ("movement_break", 60), ("walking", 20)),
    "not_worn_stretch": (("rest", 60), ("walking", 30), ("not_worn", 720), ("fidgeting", 40),
                         ("rest", 40)),
}

_FACTOR = float(np.float32(0.000244))  # g per count, as a Verity Sense reports it
_MAX_FRAME = 229  # bytes that fit a notification at the MTU (232) PMD asks for


@dataclass(frozen=True, slots=True)
class Label:
    """Ground truth: ``label`` from ``start_ns`` (inclusive) to ``end_ns`` (exclusive), UTC ns."""

    start_ns: int
    end_ns: int
    label: str


class SimBattery:
    """A simulated band's battery: ``start_pct`` at creation, draining
    ``drain_pct_per_h`` % per hour of band time (real time times ``speed``), never below
    1 %. A full Verity Sense streams for about 20 h: 5 %/h by default."""

    def __init__(self, start_pct: float = 100.0, drain_pct_per_h: float = 5.0,
                 speed: float = 1.0) -> None:
        if not 0 < start_pct <= 100 or drain_pct_per_h < 0:
            raise ParameterError(f"battery must start at 1..100 % and drain >= 0 %/h, got "
                                 f"{start_pct} % and {drain_pct_per_h} %/h")
        self.start_pct = start_pct
        self.drain_pct_per_h = drain_pct_per_h
        self.speed = speed
        self._t0 = time.monotonic()

    def level(self, now_mono: float | None = None) -> int:
        """The level now, % (what the Battery Level characteristic reads)."""
        hours = ((time.monotonic() if now_mono is None else now_mono) - self._t0) \
            * self.speed / 3600.0
        left = self.start_pct - self.drain_pct_per_h * hours
        return max(1, min(100, math.ceil(left - 1e-9)))   # a whole % once it is used up


class SimulatedBand:
    """A simulated Polar-PMD wristband with ground-truth labels.

    Parameters
    ----------
    seed
        Everything (durations, poses, frequencies, noise, latency) follows from it.
    scenario
        A key of :data:`SCENARIOS` (``"session"``: a mixed ~6 min programme; or one
        activity). Every scenario loops forever; each loop is drawn afresh from the seed.
    fs_hz
        Sample rate (whole Hz, 1..1000; a Verity Sense streams 52 Hz).
    start_ns
        UTC ns of sample 0 (default: now).
    samples_per_frame
        Samples per PMD frame (a Verity frame carries 1 reference + 29 deltas).
    device_clock_offset_ns, drift_ppm
        How the band's clock differs from true time (default: set correctly, no drift).
    block_size
        Deltas per delta block (``None``: one block per frame, as the Verity sends).
    bursts_ns
        Scripted movement bursts (tests, demonstrations): at each of these UTC ns the
        band is still for the 3 s before, then moves vigorously for 2 s (about 400 mg of
        ENMO), whatever the scenario does there.

    Attributes
    ----------
    battery
        Its :class:`SimBattery` (None: the band has no Battery Level characteristic).
    profile
        A configured :class:`PolarPmdProfile` (it has seen the get-settings and start
        replies, so it knows the rate and the conversion factor): decode frames with it.
    """

    family = DeviceFamily.SIMULATED

    def __init__(self, seed: int = 0, scenario: str = "session", fs_hz: float = 52.0,
                 start_ns: int | None = None, *, samples_per_frame: int = 30,
                 device_clock_offset_ns: int = 0, drift_ppm: float = 0.0,
                 block_size: int | None = None, bursts_ns: Sequence[int] = ()) -> None:
        if scenario not in SCENARIOS:
            raise ParameterError(f"unknown scenario {scenario!r}; choose one of "
                                 f"{', '.join(SCENARIOS)}")
        if not (1 <= fs_hz <= 1000 and float(fs_hz).is_integer()):
            raise ParameterError(f"fs_hz must be a whole number of Hz in 1..1000, got {fs_hz}")
        if not 1 <= samples_per_frame <= 200:
            raise ParameterError("samples_per_frame must be 1..200")
        self.seed = int(seed)
        self.scenario = scenario
        self.fs_hz = float(fs_hz)
        self.start_ns = time.time_ns() if start_ns is None else int(start_ns)
        self.samples_per_frame = samples_per_frame
        self.device_clock_offset_ns = int(device_clock_offset_ns)
        self.drift_ppm = float(drift_ppm)
        self.block_size = block_size
        self.bursts_ns = tuple(int(b) for b in bursts_ns)
        # each burst's first moving sample, in the given order (a later one writes last)
        self._burst_at = np.array([round((b - self.start_ns) / self.period_ns)
                                   for b in self.bursts_ns], dtype=np.int64)
        self.battery: SimBattery | None = None
        self.device_id = f"sim-{self.seed}"
        self.name = f"Polar Sense SIM{self.seed % 10000:04d}"
        self._pos = 0  # index of the next sample to send
        self._cycle = -1
        self._cycle_start = 0
        self._cycle_g: F64 = np.zeros((0, 3))
        self._cycle_labels: list[tuple[int, int, str]] = []
        self._latency_rng = np.random.default_rng([self.seed, 0xBEEF])
        self._last_rx = 0
        self.profile = PolarPmdProfile(StreamConfig(fs_hz=self.fs_hz, range_g=8.0), model="verity")
        for reply in self.control_point_replies():
            self.profile.parse_reply(reply)
        self.profile.start_commands(StreamConfig(fs_hz=self.fs_hz, range_g=8.0))
        self._labels0 = self._plan(0)

    # ---- what an emulated peripheral needs ------------------------------------------
    def control_point_replies(self) -> list[bytes]:
        """The CP indications a Verity-style band sends: get-settings, then start."""
        settings = enc.encode_pmd_settings({0: [int(self.fs_hz)], 1: [16], 2: [8], 4: [3]})
        return [enc.encode_pmd_cp_response(PmdOp.GET_SETTINGS, MeasurementType.ACC, 0, settings),
                enc.pmd_start_reply(_FACTOR)]

    # ---- ground truth ---------------------------------------------------------------
    @property
    def period_ns(self) -> float:
        """Nominal sample spacing (ns)."""
        return 1e9 / self.fs_hz

    def _t(self, i: int) -> int:
        return self.start_ns + round(i * self.period_ns)

    def _plan(self, cycle: int) -> list[tuple[int, int, str]]:
        """(first sample, end sample, label) of each segment of loop ``cycle``."""
        rng = np.random.default_rng([self.seed, cycle, 1])
        out, i = [], 0
        for label, secs in SCENARIOS[self.scenario]:
            n = max(int(2 * self.fs_hz), round(secs * rng.uniform(0.85, 1.15) * self.fs_hz))
            out.append((i, i + n, label))
            i += n
        return out

    @property
    def cycle_samples(self) -> int:
        """Samples in the first loop of the scenario."""
        return self._labels0[-1][1]

    @property
    def labels(self) -> list[Label]:
        """Ground-truth labels of the first loop of the scenario (UTC ns)."""
        return [Label(self._t(a), self._t(b), lab) for a, b, lab in self._labels0]

    def labels_until(self, duration_s: float) -> list[Label]:
        """Labels covering the first ``duration_s`` seconds (loops included), clipped."""
        end = round(duration_s * self.fs_hz)
        out: list[Label] = []
        base, cycle = 0, 0
        while base < end:
            plan = self._plan(cycle)
            for a, b, lab in plan:
                if base + a >= end:
                    break
                out.append(Label(self._t(base + a), self._t(min(base + b, end)), lab))
            base += plan[-1][1]
            cycle += 1
        return out

    def _load_cycle(self, cycle: int) -> None:
        plan = self._plan(cycle)
        rng = np.random.default_rng([self.seed, cycle, 2])
        parts = [GENERATORS[lab](rng, b - a, self.fs_hz) for a, b, lab in plan]
        if self._cycle_g.size:  # continue the pose from the previous loop
            prev = self._cycle_g[-1]
            parts.insert(0, still(1, float(np.arcsin(np.clip(-prev[0], -1, 1))),
                                   float(np.arctan2(prev[1], prev[2]))))
            m = concat(parts, self.fs_hz)
            m = Motion(m.pitch[1:], m.roll[1:], m.lin[1:], m.vert[1:])
        else:
            m = concat(parts, self.fs_hz)
        self._cycle_start = 0 if cycle == 0 else self._cycle_start + len(self._cycle_g)
        self._cycle_g = to_g(m, rng)
        self._cycle_labels = plan
        self._cycle = cycle

    def _take(self, n: int) -> F64:
        """The next ``n`` true samples (g), advancing the stream."""
        first = self._pos
        x = self._take_scenario(n)
        return self._scripted(first, x) if self.bursts_ns else x

    def _scripted(self, first: int, x: F64) -> F64:
        """``x`` (samples from index ``first``, a new array) with the scripted bursts that
        reach into it written in."""
        fs = self.fs_hz
        pre, post = round(3 * fs), round(2 * fs)
        at = self._burst_at
        for ib in at[(at - pre < first + len(x)) & (at + post > first)].tolist():
            for a, z, burst in ((ib - pre, ib, False), (ib, ib + post, True)):
                lo, hi = max(a, first), min(z, first + len(x))
                if lo >= hi:
                    continue
                t = np.arange(lo - ib, hi - ib) / fs
                wave = np.sin(2 * np.pi * 2.5 * t)
                out = x[lo - first:hi - first]
                if burst:               # a jump-like burst: up to 2.2 g
                    out[:, 0], out[:, 1], out[:, 2] = 0.3 * wave, 0.0, 1.0 + 1.2 * wave
                else:                   # still on the wrist (a little tremor, not flat)
                    out[:, 0], out[:, 1] = 0.003 * wave, 0.0
                    out[:, 2] = 1.0 + 0.003 * np.cos(2 * np.pi * 7.0 * t)
        return x

    def _take_scenario(self, n: int) -> F64:
        out = []
        while n > 0:
            if self._cycle < 0 or self._pos >= self._cycle_start + len(self._cycle_g):
                self._load_cycle(self._cycle + 1)
            i = self._pos - self._cycle_start
            k = min(n, len(self._cycle_g) - i)
            out.append(self._cycle_g[i:i + k])
            self._pos += k
            n -= k
        return np.concatenate(out)

    # ---- frames ---------------------------------------------------------------------
    def _device_ts(self, i: int) -> int:
        """Band clock of sample ``i``, ns since 2000-01-01."""
        t = self.start_ns + round(i * self.period_ns * (1 + self.drift_ppm * 1e-6))
        return t + self.device_clock_offset_ns - POLAR_EPOCH_OFFSET_NS

    def _encode(self, counts: npt.NDArray[np.int64], last: int) -> list[bytes]:
        frame = enc.encode_pmd_delta_frame(counts, self._device_ts(last), block_size=self.block_size)
        if len(frame) <= _MAX_FRAME or len(counts) == 1:
            return [frame]
        half = len(counts) // 2
        return self._encode(counts[:half], last - (len(counts) - half)) + self._encode(
            counts[half:], last)

    def _next_frames(self, n: int) -> list[tuple[bytes, int]]:
        first = self._pos
        counts = enc.g_to_counts(self._take(n), _FACTOR)
        frames = self._encode(counts, first + n - 1)
        lat = int(20e6 + self._latency_rng.uniform(0, 15e6))
        rx = max(self._t(first + n - 1) + lat, self._last_rx + 1)
        self._last_rx = rx
        return [(f, rx) for f in frames]

    def frames(self, duration_s: float) -> Iterator[tuple[bytes, int]]:
        """The next ``duration_s`` seconds of the stream as ``(frame bytes, rx time ns)``.

        The rx time is the nominal host arrival time (UTC ns): the last sample's time
        plus a seeded 20-35 ms radio latency. Successive calls continue the stream.
        """
        remaining = round(duration_s * self.fs_hz)
        while remaining > 0:
            k = min(self.samples_per_frame, remaining)
            yield from self._next_frames(k)
            remaining -= k

    async def notifications(self, speed: float = 1.0) -> AsyncIterator[tuple[bytes, int]]:
        """Endless ``(frame, rx time ns)`` paced in real time divided by ``speed``."""
        if speed <= 0:
            raise ParameterError("speed must be > 0")
        loop = asyncio.get_running_loop()
        t0_loop: float | None = None
        rx0 = 0
        while True:
            t_first = self._t(self._pos)
            for frame, rx in self._next_frames(self.samples_per_frame):
                if t0_loop is None:   # anchor at the first sample: a frame leaves once its
                    # last sample has been taken (plus the radio latency), never before
                    t0_loop, rx0 = loop.time(), t_first
                delay = t0_loop + (rx - rx0) / 1e9 / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                yield frame, rx
