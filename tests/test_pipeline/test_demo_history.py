"""The demo's past week: written through the engine and store, each child their own way."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from movereg.commands._demo_history import (
    _STRATEGIES,
    HISTORY_EPOCH_S,
    HISTORY_FS_HZ,
    day_plan,
    seed_history,
)
from movereg.sensors.simulated import synthesize
from movereg.signal import extract_features
from movereg.storage.store import Store

DAY = 86_400 * 1_000_000_000
NOW = 1_750_000_000 * 1_000_000_000 + DAY // 2          # a Sunday, midday UTC


def test_history_days_sessions_strategies_gaps_and_non_wear(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.sqlite3")
    try:
        kids = [(store.create_child(code=f"DEMO-{k}", display_name=n).id, f"DEMO-{k}", n)
                for k, n in enumerate(("Robin", "Sky"))]
        counts = seed_history(store, kids, seed=0, now_ns=NOW, days=3)
        assert counts["gaps"] == 2 and counts["events"] >= 6
        today = NOW - NOW % DAY
        for k, (cid, _, _) in enumerate(kids):
            ep = store.epochs(child_id=cid)
            assert set(np.unique(ep["epoch_s"])) == {HISTORY_EPOCH_S}
            assert ep["epoch_start"].min() >= today - 3 * DAY
            assert ep["epoch_start"].max() < today
            [gap] = store.gaps(child_id=cid)
            assert gap.reason == "disconnect" and gap.end_ns - gap.start_ns == 900 * 10**9
            # the afternoon the band stayed in the bag is flagged by the engine's own rule
            back = 1 + (k + 2) % 3
            day0 = today - back * DAY
            hour = (ep["epoch_start"] - day0) / 3.6e12
            same_day = (ep["epoch_start"] >= day0) & (ep["epoch_start"] < day0 + DAY)
            assert ep["nonwear"][same_day & (hour >= 13.75) & (hour < 15.0)].mean() > 0.9
            assert ep["nonwear"][same_day & (hour < 12.0)].sum() == 0
            events = store.list_events(child_id=cid)
            assert {e.strategy for e in events} <= {s[0] for s in _STRATEGIES}
            assert all(e.ended_at is not None and e.note == "demo history" for e in events)
            kinds = {s.kind for s in store.list_sessions(child_id=cid)}
            assert "wear" in kinds
        # each child moves in their own way: the rocking child shows more rhythmic movement
        rf = [float(np.nanmean(store.epochs(child_id=cid)["rhythmic_fraction"]))
              for cid, _, _ in kids]
        assert rf[1] > rf[0]
    finally:
        store.close()


def test_history_epochs_are_the_engines_own(tmp_path: Path) -> None:
    """A stored day equals the batch features of the same simulated movement."""
    store = Store(tmp_path / "m.sqlite3")
    try:
        cid = store.create_child(code="DEMO-A1", display_name="Robin").id
        seed_history(store, [(cid, "DEMO-A1", "Robin")], seed=5, now_ns=NOW, days=3)
        back = 1                                 # neither the gap day nor the bag day
        assert back not in (1 + 2 % 3, 1 + 4 % 3)
        day0 = NOW - NOW % DAY - back * DAY
        weekday = time.gmtime(day0 / 1e9).tm_wday < 5
        pool = tuple(_STRATEGIES[j % len(_STRATEGIES)] for j in range(3))
        plan, _ = day_plan("calm", 5 * 1000, back, weekday=weekday, not_worn_afternoon=False,
                           pool=pool)
        x = synthesize(plan, HISTORY_FS_HZ, [5, 0, back]).astype(np.float32)
        start = day0 + int(8.5 * 3600 * 1e9)
        batch = extract_features(x, HISTORY_FS_HZ, t0_ns=start, epoch_s=HISTORY_EPOCH_S)
        ep = store.epochs(child_id=cid, start_ns=day0, end_ns=day0 + DAY)
        assert ep["epoch_start"].tolist() == batch.columns["epoch_start"].tolist()
        np.testing.assert_array_equal(ep["enmo_mg"], batch.columns["enmo_mg"])
        np.testing.assert_array_equal(ep["nonwear"], batch.columns["nonwear"])
    finally:
        store.close()
