"""Wall-clock time for MetaWear log entries: ticks, rollover, reset_uid and references.

The logging module stamps each entry with a tick (48/32768 s) counted since the board's
last reset, and the entry's 3-bit ``reset_uid`` names that reset. A host that reads the
TIME register learns one *reference*: (tick, reset_uid) at a UTC instant. movereg keeps
the references it took (at ``set_clock``/start: ``kind="start"``, entries come after it;
at download: ``kind="download"``, entries came before it) in the downloaded file.

Rules (:func:`place_runs`):

1. The log is split into *runs*: consecutive entries with the same ``reset_uid``.
   Inside a run, ticks are unwrapped (a rollover is a step back of more than half the
   counter: every 2^24 ticks ≈ 6.8 h with 24-bit ticks, 2^32 ≈ 72.8 days with 32-bit).
2. A reference belongs to the LAST run with its ``reset_uid`` (the download reference
   only to the last run of the log, and only when its ``reset_uid`` matches). With a
   start reference the first entry is the first tick at or after it; with a download
   reference the last entry is the last tick at or before it (this fixes how many
   24-bit wraps lie between reference and entries). The newest start reference that
   agrees with the download reference (within half a wrap) wins over it; the
   difference between them at the last sample is kept as ``drift_s``.
3. A run with no reference (the board reset while away and no host read its clock
   before the next reset) is **not** silently placed: it is put to end one sample
   period before the next known instant (the start of the next reset epoch, or the
   first sample of the next run), and marked ``known=False`` with the slack it could
   move by (``uncertainty_s``: the time between the previous run's end and the next
   instant not covered by the run; ``None`` when nothing earlier bounds it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from movereg.sensors.decoders.metawear_log import TICK_NS, TimeRef

__all__ = ["Placed", "Run", "TimeRef", "place_runs"]


@dataclass
class Run:
    """One reset epoch: the unwrapped ticks (int64) of its samples (or just its first and
    last: placing a run needs no more)."""

    reset_uid: int
    ticks: np.ndarray


@dataclass
class Placed:
    """A run with UTC times (float64 ns) and how sure they are."""

    run: Run
    t_ns: np.ndarray
    known: bool
    uncertainty_s: float | None = None
    drift_s: float | None = None
    refs: list[TimeRef] = field(default_factory=list)


def _with_ref(u: np.ndarray, ref: TimeRef, bits: int) -> np.ndarray:
    mod = 1 << bits
    if ref.kind == "download":
        m = (ref.tick - int(u[-1])) // mod
    else:
        m = -((int(u[0]) - ref.tick) // mod)  # ceil((T - u0) / mod)
    out: np.ndarray = ref.utc_ns + ((u + m * mod) - ref.tick).astype(np.float64) * TICK_NS
    return out


def _best(u: np.ndarray, starts: list[TimeRef], down: TimeRef | None,
          bits: int) -> tuple[np.ndarray, float | None]:
    """Times from the newest start reference that agrees with the download reference
    (within half a counter wrap at the last entry), else from the download reference.

    A host that restarted logging in the same reset epoch leaves several start
    references; one taken after the log's first entry (or a wrap before it) would put
    the entries a whole wrap off, which the download reference exposes.
    """
    if down is None:
        return _with_ref(u, max(starts, key=lambda r: r.utc_ns), bits), None
    by_down = _with_ref(u, down, bits)
    half = (1 << bits) * TICK_NS / 2
    for ref in sorted(starts, key=lambda r: r.utc_ns, reverse=True):
        t = _with_ref(u, ref, bits)
        if abs(float(t[-1] - by_down[-1])) < half:
            return t, float(by_down[-1] - t[-1]) / 1e9
    return by_down, None


def _epoch_start(ref: TimeRef) -> float:
    """UTC ns of the reset that started ``ref``'s epoch (tick 0)."""
    return ref.utc_ns - ref.tick * TICK_NS


def place_runs(runs: list[Run], refs: list[TimeRef], bits: int, fs_hz: float,
               downloaded_ns: int) -> list[Placed]:
    """UTC times for every run (see the module docstring for the rules)."""
    owned: dict[int, list[TimeRef]] = {i: [] for i in range(len(runs))}
    after_last: float | None = None  # a reset after the last run, seen at download
    for ref in refs:
        if ref.kind == "download":
            if runs and runs[-1].reset_uid == ref.reset_uid:
                owned[len(runs) - 1].append(ref)
            else:
                after_last = _epoch_start(ref)
            continue
        idx = [i for i, r in enumerate(runs) if r.reset_uid == ref.reset_uid]
        if idx:
            owned[idx[-1]].append(ref)
    placed: list[Placed | None] = [None] * len(runs)
    for i, run in enumerate(runs):
        if not run.ticks.shape[0]:
            placed[i] = Placed(run, np.zeros(0), True)
            continue
        starts = [r for r in owned[i] if r.kind != "download"
                  and (bits < 32 or r.tick <= int(run.ticks[0]))]  # a later tick: stale
        downs = [r for r in owned[i] if r.kind == "download"]
        if not starts and not downs:
            continue
        t, drift = _best(run.ticks, starts, downs[-1] if downs else None, bits)
        placed[i] = Placed(run, t, True, None, drift, [*starts, *downs])
    # unknown runs, from the last one back: end one period before the next instant
    period = 1e9 / fs_hz
    nxt: float = after_last if after_last is not None else float(downloaded_ns)
    for i in range(len(runs) - 1, -1, -1):
        p = placed[i]
        if p is not None:
            if p.t_ns.shape[0]:
                nxt = min(float(p.t_ns[0]), min((_epoch_start(r) for r in p.refs),
                                                default=float(p.t_ns[0])))
            continue
        run = runs[i]
        t = nxt - period - (int(run.ticks[-1]) - run.ticks).astype(np.float64) * TICK_NS
        lower = next((float(q.t_ns[-1]) for q in reversed(placed[:i])
                      if q is not None and q.known and q.t_ns.shape[0]), None)
        slack = None if lower is None else max(0.0, (float(t[0]) - period - lower) / 1e9)
        placed[i] = Placed(run, t, False, slack)
        nxt = float(t[0])
    return [p for p in placed if p is not None]
