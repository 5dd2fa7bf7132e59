"""The demo's past week: simulated days written through the same engine and store.

For every demo child, the seven days before today: a day of wear at school (08:30-15:00
UTC, a ``wear`` session), a therapy session on weekdays (10:00-10:45) with two
strategies and one more after lunch, from the child's three (a movement break during
which the child moves more; a calming strategy after which the child moves less), one afternoon
when the band stayed in the bag (the engine's non-wear rule flags it) and one radio gap
(recorded as a gap, as a real dropout is). The movement comes from the simulated band's
own generators (:func:`movereg.sensors.simulated.synthesize`) with the child's own seed,
style and daily rhythm; epochs come from :class:`~movereg.signal.FeatureEngine` and go
in through :meth:`Store.write_batch`, the call the live pipeline's writer makes.

Honest limits: the history is simulated at 25 Hz with 5-s epochs (live demo bands
stream 52 Hz into 1-s epochs; every reader weighs epochs by their own length) and keeps
epochs and gaps, not raw samples, so the demo stays small and seeds in the background
while the first pages are already answering.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from movereg.models import Gap
from movereg.timeutil import NS_PER_S

__all__ = ["HISTORY_EPOCH_S", "HISTORY_FS_HZ", "day_plan", "seed_history", "seed_history_later"]

HISTORY_FS_HZ = 25.0
HISTORY_EPOCH_S = 5.0
_DAY_NS = 86_400 * NS_PER_S
_WEAR_START_S = 8.5 * 3600            # 08:30 UTC
_WEAR_S = 6.5 * 3600                  # to 15:00
_STYLES = ("calm", "rhythmic", "breaks", "not_worn_stretch")
#: what a child does when not in a planned activity, by style: (activity, weight)
_BASE = {
    "calm": (("rest", 6), ("fidgeting", 2), ("walking", 1)),
    "rhythmic": (("rest", 3), ("rocking", 4), ("fidgeting", 2), ("walking", 1)),
    "breaks": (("rest", 2), ("fidgeting", 3), ("walking", 2), ("movement_break", 2),
               ("jumping", 1)),
    "not_worn_stretch": (("rest", 4), ("fidgeting", 3), ("walking", 2), ("flapping", 1)),
}
#: how long one free-time bout lasts, s (jumping: short bouts, as children jump)
_SPAN_S = {"rest": (120, 600), "jumping": (10, 30), "movement_break": (60, 120)}
#: (strategy key, activity during it, activity after it) used in sessions, in turn
_STRATEGIES = (("mov.break", "movement_break", "rest"),
               ("pro.blanket", "rest", "rest"),
               ("ves.swing_linear", "rocking", "rest"),
               ("int.breathe", "rest", "fidgeting"),
               ("pro.wall_push", "walking", "rest"))


def _base_segments(rng: np.random.Generator, style: str, seconds: float, hour: float,
                   peak_hour: float) -> list[tuple[str, float]]:
    """Free-time movement for ``seconds`` from ``hour``: more active near the child's
    ``peak_hour`` (each child's daily rhythm)."""
    acts, weights = zip(*_BASE[style], strict=True)
    w = np.asarray(weights, dtype=float)
    out: list[tuple[str, float]] = []
    left = seconds
    while left > 1:
        near = np.exp(-0.5 * ((hour - peak_hour) / 1.5) ** 2)      # 0..1
        ww = w.copy()
        ww[[a != "rest" for a in acts]] *= 0.6 + 1.4 * near
        a = str(rng.choice(acts, p=ww / ww.sum()))
        d = float(min(left, rng.uniform(*_SPAN_S.get(a, (60, 300)))))
        out.append((a, d))
        left -= d
        hour += d / 3600
    return out


def day_plan(style: str, seed: int, day: int, *, weekday: bool, not_worn_afternoon: bool,
             pool: tuple[tuple[str, str, str], ...] = _STRATEGIES[:3]
             ) -> tuple[list[tuple[str, float]], list[tuple[str, float, float]]]:
    """One wear day: ``(activity, seconds)`` from 08:30, and the strategies used
    ``(key, start_s, end_s)`` in seconds after 08:30 (two in the weekday session, one
    after lunch, from the child's ``pool``)."""
    rng = np.random.default_rng([seed, day, 7])
    peak = float(np.random.default_rng([seed, 3]).uniform(9.0, 14.0))
    plan: list[tuple[str, float]] = []
    uses: list[tuple[str, float, float]] = []
    t = 0.0

    def free(until_s: float) -> None:
        nonlocal t
        if until_s > t:
            plan.extend(_base_segments(rng, style, until_s - t, 8.5 + t / 3600, peak))
            t = until_s

    before = "rocking" if style == "rhythmic" else "fidgeting"

    def use(strategy: tuple[str, str, str]) -> None:
        nonlocal t
        key, during, after = strategy
        plan.extend([(before, 300.0), (during, 420.0), (after, 300.0)])
        uses.append((key, t + 300.0, t + 720.0))
        t += 1020.0

    if weekday:                                   # therapy session 10:00-10:45
        free(1.5 * 3600)
        use(pool[day % len(pool)])
        use(pool[(day + 1) % len(pool)])
        plan.append(("rest", 2700.0 - 2040.0))
        t = 1.5 * 3600 + 2700.0
    if not_worn_afternoon:                        # the band stays in the bag after lunch
        free(4.0 * 3600)
        plan.append(("not_worn", _WEAR_S - t))
        t = _WEAR_S
    else:                                         # one strategy after lunch, 13:30
        free(5.0 * 3600)
        use(pool[(day + 2) % len(pool)])
    free(_WEAR_S)
    return plan, uses


def seed_history(store: Any, children: list[tuple[int, str, str]], *, seed: int = 0,
                 now_ns: int | None = None, days: int = 7) -> dict[str, int]:
    """Write ``days`` past days for each ``(child id, code, nickname)``; returns counts."""
    from movereg.sensors.simulated import synthesize
    from movereg.signal import FeatureEngine
    from movereg.signal.table import EpochTable
    from movereg.storage._ingest import IngestBatch

    now = time.time_ns() if now_ns is None else int(now_ns)
    today = now - now % _DAY_NS
    therapist = store.find_user("therapist")
    by = None if therapist is None else therapist.id
    counts = {"epochs": 0, "events": 0, "sessions": 0, "gaps": 0}
    for k, (cid, code, _) in enumerate(children):
        style = _STYLES[k % len(_STYLES)]
        dev = f"sim-history-{code.lower()}"
        store.upsert_device(dev, family="simulated")
        store.assign_device(dev, cid, at_ns=today - (days + 1) * _DAY_NS)
        for back in range(days, 0, -1):
            day0 = today - back * _DAY_NS
            weekday = time.gmtime(day0 / NS_PER_S).tm_wday < 5
            pool = tuple(_STRATEGIES[(k + j) % len(_STRATEGIES)] for j in range(3))
            plan, uses = day_plan(style, seed * 1000 + k, back, weekday=weekday,
                                  not_worn_afternoon=back == 1 + (k + 2) % days, pool=pool)
            x = synthesize(plan, HISTORY_FS_HZ, [seed, k, back]).astype(np.float32)
            start = day0 + int(_WEAR_START_S * NS_PER_S)
            batch = IngestBatch()
            eng = FeatureEngine(HISTORY_FS_HZ, epoch_s=HISTORY_EPOCH_S)
            if back == 1 + (k + 4) % days:        # a 15-min radio gap at 11:10
                cut, miss = int(9600 * HISTORY_FS_HZ), int(900 * HISTORY_FS_HZ)
                t_cut = start + round(cut * NS_PER_S / HISTORY_FS_HZ)
                t_back = start + round((cut + miss) * NS_PER_S / HISTORY_FS_HZ)
                gap = Gap(start_ns=t_cut, end_ns=t_back, samples_missing=miss,
                          reason="disconnect")
                tables = [eng.push(x[:cut], start), eng.push(x[cut + miss:], t_back, (gap,))]
                batch.gaps.append((dev, gap))
                counts["gaps"] += 1
            else:
                tables = [eng.push(x, start)]
            table = EpochTable.concat([*tables, eng.flush()])
            batch.epochs.append((dev, table))
            store.write_batch(batch)
            counts["epochs"] += int(table.n)
            wear = store.start_session(cid, kind="wear", started_at=start, created_by=by,
                                       note="demo history: a day of wear")
            store.stop_session(wear.id, ended_at=start + int(_WEAR_S * NS_PER_S))
            counts["sessions"] += 1
            ses = None
            if weekday:
                s0 = start + int(1.5 * 3600 * NS_PER_S)
                ses = store.start_session(cid, kind="therapy", started_at=s0, created_by=by,
                                          note="demo history: therapy session")
                store.stop_session(ses.id, ended_at=s0 + 2700 * NS_PER_S)
                counts["sessions"] += 1
            for key, a, b in uses:
                in_session = ses is not None and a < 2.25 * 3600
                store.create_event(cid, key, started_at=start + int(a * NS_PER_S),
                                   ended_at=start + int(b * NS_PER_S),
                                   session_id=ses.id if ses is not None and in_session else None,
                                   logged_by=by, initiated_by="adult", planned=True,
                                   note="demo history")
                counts["events"] += 1
    return counts


async def seed_history_later(store: Any, hub: Any, children: list[tuple[int, str, str]], *,
                             seed: int, log: Callable[[str], None]) -> None:
    """Once the signal engine is ready, write the past week in a thread (the pages keep
    answering meanwhile) and say when it is done."""
    await hub.wait_engine()
    t0 = time.perf_counter()
    try:
        counts = await asyncio.to_thread(seed_history, store, children, seed=seed)
    except Exception as exc:   # the live demo goes on without a history
        log(f"  demo history: not written ({type(exc).__name__}: {exc})")
        return
    log(f"  demo history: a past week for {len(children)} children written in "
        f"{time.perf_counter() - t0:.1f} s ({counts['epochs']} epochs, {counts['events']} "
        f"strategy uses, {counts['sessions']} sessions, {counts['gaps']} radio gaps)")
