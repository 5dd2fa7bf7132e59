"""Hub behaviour with fake bands: fan-out, drop-oldest, failures, resume gaps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from movereg.config import Settings
from movereg.errors import NotFoundError, ValidationError
from movereg.models import BandState
from movereg.pipeline import Broadcaster, Hub


class NoStore:
    """A store without stored samples (the fake writer does the writing)."""

    def __init__(self, ends: dict[str, int] | None = None) -> None:
        self.ends = ends or {}

    def last_sample_end_ns(self, device_id: str) -> int | None:
        return self.ends.get(device_id)


def make_hub(tmp_path: Path, factory: Any, writer: Any, engine: Any,
             store: Any = None, **kw: Any) -> Hub:
    settings = Settings(data_dir=tmp_path, epoch_s=1.0)
    return Hub(store or NoStore(), settings, band_factory=factory, writer=writer,
               engine_factory=engine, **kw)


async def test_epochs_reach_storage_and_subscribers(
        tmp_path: Path, fake_band_factory: Any, recording_writer: Any,
        fake_engine_factory: Any, until: Any) -> None:
    factory = fake_band_factory(n_blocks=40, block_n=13, delay_s=0.001)
    hub = make_hub(tmp_path, factory, recording_writer, fake_engine_factory)
    await hub.start()
    sub = hub.subscribe(maxsize=1000)
    dev = await hub.connect("sim", child_id=7, session_id=3)
    band = factory.bands[dev]
    await until(lambda: band.sent == 40 * 13 and hub.metrics()["samples"] == 520)
    await hub.disconnect(dev)
    await hub.stop()

    stored = sum(b.n for _, b in recording_writer.samples)
    assert stored == band.sent == 520
    epochs = [m for m in _drain(sub) if m["type"] == "epoch"]
    n_tab = sum(t.n for _, t in recording_writer.epochs)
    # 520 samples at 52 Hz = 10 s, t0 on a whole second: 10 full epochs, no partial one
    assert n_tab == len(epochs) == 10
    starts = [m["epoch_start"] for m in epochs]
    assert starts == sorted(starts) and all(s % 1_000_000_000 == 0 for s in starts)
    m = epochs[0]
    assert (m["device_id"], m["child_id"], m["session_id"]) == (dev, 7, 3)
    assert m["rhythm_hz"] is None           # NaN becomes JSON null
    assert isinstance(m["enmo_mg"], float) and m["rx_ns"] > 0
    json.dumps(m, allow_nan=False)          # strictly JSON-able


async def test_partial_epoch_aligned_and_flushed(
        tmp_path: Path, fake_band_factory: Any, recording_writer: Any,
        fake_engine_factory: Any, until: Any) -> None:
    # first sample half a second after a whole second; 2.5 s of data
    factory = fake_band_factory(n_blocks=5, block_n=26, t0_ns=1_750_000_000_500_000_000)
    hub = make_hub(tmp_path, factory, recording_writer, fake_engine_factory)
    await hub.start()
    dev = await hub.connect("sim")
    await until(lambda: hub.metrics()["samples"] == 130)
    await hub.stop()
    tabs = [t for _, t in recording_writer.epochs]
    starts = np.concatenate([t.columns["epoch_start"] for t in tabs])
    cover = np.concatenate([t.columns["coverage"] for t in tabs])
    assert starts.tolist() == [1_750_000_000_000_000_000 + k * 1_000_000_000 for k in range(3)]
    assert cover[0] == pytest.approx(0.5) and cover[1] == 1.0 and cover[2] == 1.0
    assert hub.status() == [] and factory.bands[dev].stopped


async def test_slow_subscriber_drops_oldest_and_never_slows_ingestion(
        tmp_path: Path, fake_band_factory: Any, recording_writer: Any,
        fake_engine_factory: Any, until: Any) -> None:
    factory = fake_band_factory(n_blocks=600, block_n=52, delay_s=0.0)
    hub = make_hub(tmp_path, factory, recording_writer, fake_engine_factory,
                   status_interval_s=3600.0)
    await hub.start()
    slow = hub.subscribe(maxsize=5)       # never read while streaming
    fast = hub.subscribe(maxsize=10_000)
    dev = await hub.connect("sim")
    band = factory.bands[dev]
    await until(lambda: hub.metrics()["samples"] == 600 * 52)
    # ingestion finished every block although one subscriber never read a message
    assert sum(b.n for _, b in recording_writer.samples) == band.sent == 600 * 52
    got_fast = [m for m in _drain(fast) if m["type"] == "epoch"]
    assert len(got_fast) == 600
    assert slow.qsize() == 5
    got_slow = _drain(slow)
    assert slow.dropped == hub.broadcaster.published - 5 > 0
    # drop-OLDEST: what is left are the newest messages, in order
    assert [m["id"] for m in got_slow] == [m["id"] for m in _all_since(hub, 5)]
    assert hub.metrics()["dropped"] >= slow.dropped
    await hub.stop()


async def test_band_failure_is_surfaced_and_isolated(
        tmp_path: Path, fake_band_factory: Any, recording_writer: Any,
        fake_engine_factory: Any, until: Any) -> None:
    bad = fake_band_factory(n_blocks=100, fail_after=3, delay_s=0.001)
    good = fake_band_factory(forever=True, delay_s=0.001)

    def factory(target: str, *, device_id: str | None = None, **kw: Any) -> Any:
        return (bad if target == "sim:bad" else good)(target, device_id=device_id)

    hub = make_hub(tmp_path, factory, recording_writer, fake_engine_factory)
    await hub.start()
    sub = hub.subscribe(maxsize=10_000)
    d_bad = await hub.connect("sim:bad")
    d_good = await hub.connect("sim:good")
    await until(lambda: any(s.state == BandState.STOPPED for s in hub.status()))
    before = good.bands[d_good].sent
    await until(lambda: good.bands[d_good].sent > before + 13 * 5)   # the other band goes on
    st = {s.device_id: s for s in hub.status()}
    assert st[d_bad].state == BandState.STOPPED
    assert st[d_bad].reason is not None and "band exploded" in st[d_bad].reason
    assert st[d_good].state == BandState.STREAMING
    assert bad.bands[d_bad].stopped            # the failed band was stopped
    await until(lambda: any(m["type"] == "status" for m in list(_peek(sub))), 5)
    status_msgs = [m for m in _drain(sub) if m["type"] == "status"]
    last = {b["device_id"]: b for b in status_msgs[-1]["bands"]}
    assert "band exploded" in last[d_bad]["error"] and last[d_bad]["state"] == "stopped"
    assert "dropped" in status_msgs[-1] and "hub" in status_msgs[-1]
    await hub.stop()
    assert hub.status() == []


async def test_events_and_per_child_filter(
        tmp_path: Path, fake_band_factory: Any, recording_writer: Any,
        fake_engine_factory: Any, until: Any) -> None:
    factory = fake_band_factory(n_blocks=20, block_n=52)
    hub = make_hub(tmp_path, factory, recording_writer, fake_engine_factory)
    await hub.start()

    def only_child_1(msg: dict[str, Any]) -> dict[str, Any] | None:
        if msg["type"] == "status":
            return {**msg, "bands": [b for b in msg["bands"] if b["child_id"] == 1]}
        return msg if msg.get("child_id") == 1 else None

    sub = hub.subscribe(maxsize=1000, message_filter=only_child_1)
    await hub.connect("sim", child_id=1)
    await hub.connect("sim", child_id=2)
    hub.publish_event({"child_id": 2, "strategy": "swing", "id": 1})
    hub.publish_event({"child_id": 1, "strategy": "breathing", "id": 2,
                       "weight": np.float64("nan")})
    await until(lambda: hub.metrics()["samples"] == 2 * 20 * 52)
    await hub.stop()
    msgs = _drain(sub)
    assert {m.get("child_id") for m in msgs if m["type"] != "status"} == {1}
    events = [m for m in msgs if m["type"] == "event"]
    assert [e["event_id"] for e in events] == [2] and events[0]["weight"] is None
    assert sum(m["type"] == "epoch" for m in msgs) == 20


async def test_resume_after_crash_records_gap_and_trims_overlap(
        tmp_path: Path, fake_band_factory: Any, recording_writer: Any,
        fake_engine_factory: Any, until: Any) -> None:
    t0 = 1_750_000_000_000_000_000
    # the stored data of device sim-1 ends 0.5 s AFTER the band's first new sample
    store = NoStore({"sim-1": t0 + 500_000_000, "sim-2": t0 - 3_000_000_000})
    (tmp_path / "pipeline-state.json").write_text('{"clean": false}')   # previous run died
    factory = fake_band_factory(n_blocks=4, block_n=52, t0_ns=t0)
    hub = make_hub(tmp_path, factory, recording_writer, fake_engine_factory, store=store)
    await hub.start()
    await hub.connect("sim", device_id="sim-1")
    await hub.connect("sim", device_id="sim-2")
    await until(lambda: hub.metrics()["samples"] == 4 * 52 * 2 - 26)
    await hub.stop()
    first = {d: b for d, b in reversed(recording_writer.samples)}
    assert first["sim-1"].t0_ns == t0 + 500_000_000 and first["sim-1"].n == 26
    assert first["sim-2"].t0_ns == t0
    gaps = dict(recording_writer.gaps)
    assert set(gaps) == {"sim-2"}
    g = gaps["sim-2"]
    assert (g.start_ns, g.end_ns, g.samples_missing, g.reason) == (
        t0 - 3_000_000_000, t0, 156, "crash")
    assert json.loads((tmp_path / "pipeline-state.json").read_text())["clean"] is True


async def test_clean_restart_gap_is_a_disconnect(
        tmp_path: Path, fake_band_factory: Any, recording_writer: Any,
        fake_engine_factory: Any, until: Any) -> None:
    t0 = 1_750_000_000_000_000_000
    (tmp_path / "pipeline-state.json").write_text('{"clean": true}')
    store = NoStore({"sim-9": t0 - 1_000_000_000})
    factory = fake_band_factory(n_blocks=2, block_n=52, t0_ns=t0)
    hub = make_hub(tmp_path, factory, recording_writer, fake_engine_factory, store=store)
    async with hub:
        await hub.connect("sim", device_id="sim-9")
        await until(lambda: hub.metrics()["samples"] == 104)
    assert [g.reason for _, g in recording_writer.gaps] == ["disconnect"]


def test_broadcaster_replay_ring() -> None:
    b = Broadcaster(ring_size=3)
    for i in range(5):
        b.publish({"type": "epoch", "k": i})
    b.publish({"type": "status"}, replayable=False)
    assert [m["k"] for m in b.replay(0)] == [2, 3, 4]
    assert [m["k"] for m in b.replay(4)] == [4]
    assert b.last_id == 5


def _drain(sub: Any) -> list[dict[str, Any]]:
    out = []
    while (m := sub.get_nowait()) is not None:
        out.append(m)
    return out


def _peek(sub: Any) -> list[dict[str, Any]]:
    return list(sub._queue)


def _all_since(hub: Hub, k: int) -> list[dict[str, Any]]:
    """Ids of the last ``k`` published messages (ids count every publish from 1; the
    ring keeps neither status ticks nor the activity trace, so it cannot say)."""
    n = hub.broadcaster.published
    return [{"id": i} for i in range(n - k + 1, n + 1)]


async def test_reconnect_in_the_same_run_is_a_disconnect_gap(
        tmp_path: Path, fake_band_factory: Any, recording_writer: Any,
        fake_engine_factory: Any, until: Any) -> None:
    t0 = 1_750_000_000_000_000_000
    (tmp_path / "pipeline-state.json").write_text('{"clean": false}')   # previous run died
    store = NoStore({"sim-5": t0 - 2_000_000_000})
    factory = fake_band_factory(n_blocks=2, block_n=52, t0_ns=t0, hang=True)
    hub = make_hub(tmp_path, factory, recording_writer, fake_engine_factory, store=store)
    async with hub:
        await hub.connect("sim", device_id="sim-5")
        with pytest.raises(ValidationError, match="already connected"):
            await hub.connect("sim", device_id="sim-5")
        await until(lambda: hub.metrics()["samples"] == 104)
        await hub.disconnect("sim-5")
        store.ends["sim-5"] = t0 + 2_000_000_000
        factory.kwargs["t0_ns"] = t0 + 5_000_000_000
        await hub.connect("sim", device_id="sim-5")
        await until(lambda: hub.metrics()["samples"] == 104)
    assert [g.reason for _, g in recording_writer.gaps] == ["crash", "disconnect"]


async def test_device_ids(tmp_path: Path, fake_band_factory: Any, recording_writer: Any,
                          fake_engine_factory: Any) -> None:
    factory = fake_band_factory(n_blocks=1, hang=True)
    hub = make_hub(tmp_path, factory, recording_writer, fake_engine_factory)
    async with hub:
        ids = [await hub.connect("sim"), await hub.connect("sim:7"),
               await hub.connect("AA:BB:CC:DD:EE:FF"), await hub.connect("sim"),
               await hub.connect("sim", device_id="band-x")]
        assert ids == ["sim-1", "sim-7", "AA:BB:CC:DD:EE:FF", "sim-2", "band-x"]
        assert sorted(s.device_id for s in hub.status()) == sorted(ids)
        await hub.disconnect("sim-7")
        with pytest.raises(NotFoundError):
            await hub.disconnect("sim-7")
