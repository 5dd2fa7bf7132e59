"""Hub with the real FeatureEngine, BatchWriter and a real SQLite Store in tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from movereg.config import Settings
from movereg.pipeline import Hub
from movereg.storage.store import Store

T0 = 1_750_000_000_000_000_000


async def _stream(tmp_path: Path, factory: Any, until: Any, *, child: bool = True,
                  **connect: Any) -> tuple[Hub, list[dict[str, Any]], str]:
    settings = Settings(data_dir=tmp_path, epoch_s=1.0, flush_interval_s=0.2)
    store = Store(settings.db_path)
    hub = Hub(store, settings, band_factory=factory)
    await hub.start()
    await hub.wait_engine()      # as before the kernels compiled in the background
    sub = hub.subscribe(maxsize=100_000)
    child_id = store.create_child(display_name="Robin").id if child else None
    dev = await hub.connect("sim", child_id=child_id, **connect)
    band = factory.bands[dev]
    await until(lambda: hub.metrics()["samples"] == band.n_blocks * band.block_n, 30)
    await hub.stop()
    msgs = []
    while (m := sub.get_nowait()) is not None:
        msgs.append(m)
    return hub, msgs, dev


async def test_real_engine_and_store(tmp_path: Path, fake_band_factory: Any,
                                     until: Any) -> None:
    factory = fake_band_factory(n_blocks=120, block_n=13, t0_ns=T0)   # 30 s at 52 Hz
    hub, msgs, dev = await _stream(tmp_path, factory, until)
    band = factory.bands[dev]
    store = hub.store
    raw = list(store.iter_raw(device_id=dev))
    assert sum(c.samples.shape[0] for c in raw) == band.sent
    got = np.concatenate([c.samples for c in raw])
    want = np.concatenate([b.samples for b in band.generated])
    np.testing.assert_array_equal(got, want)            # lossless
    ep = store.epochs(device_id=dev)
    # 30 s of data from a whole second: 30 epochs after the final flush, 1 s apart
    assert ep["epoch_start"].tolist() == [T0 + k * 1_000_000_000 for k in range(30)]
    assert store.count_epochs(dev) == (30, 30)
    live = [m for m in msgs if m["type"] == "epoch"]
    assert [m["epoch_start"] for m in live] == ep["epoch_start"].tolist()
    np.testing.assert_allclose([m["enmo_mg"] for m in live], ep["enmo_mg"])
    assert {m["child_id"] for m in live} == {store.device_child(dev)}
    assert store.integrity_check()
    store.close()


async def test_restart_after_crash_gap_in_store(tmp_path: Path, fake_band_factory: Any,
                                                until: Any) -> None:
    first = fake_band_factory(n_blocks=20, block_n=13, t0_ns=T0)       # 5 s
    hub, _, dev = await _stream(tmp_path, first, until, device_id="sim-7")
    hub.store.close()
    (tmp_path / "pipeline-state.json").write_text('{"clean": false}')   # as after kill -9
    later = T0 + 9_000_000_000
    second = fake_band_factory(n_blocks=20, block_n=13, t0_ns=later)
    hub2, _, dev2 = await _stream(tmp_path, second, until, device_id="sim-7")
    assert dev2 == dev
    gaps = hub2.store.gaps(device_id=dev)
    assert [(g.start_ns, g.end_ns, g.reason) for g in gaps] == [
        (T0 + 5_000_000_000, later, "crash")]
    assert gaps[0].samples_missing == 4 * 52
    n, distinct = hub2.store.count_epochs(dev)
    assert n == distinct == 10
    hub2.store.close()


async def test_epochs_lost_in_a_crash_are_recomputed(tmp_path: Path, fake_band_factory: Any,
                                                     until: Any) -> None:
    from movereg.signal import extract_features

    settings = Settings(data_dir=tmp_path, epoch_s=1.0, flush_interval_s=0.2)
    store = Store(settings.db_path)
    first = fake_band_factory(n_blocks=80, block_n=13, t0_ns=T0, hang=True)   # 20 s
    hub = Hub(store, settings, band_factory=first)
    await hub.start()
    await hub.wait_engine()      # as before the kernels compiled in the background
    dev = await hub.connect("sim", device_id="sim-3")
    await until(lambda: hub.metrics()["samples"] == 80 * 13, 30)
    hub._runs[dev].engine = None      # the process "dies": the engine's state is lost ...
    await hub.stop()                  # ... but the samples were flushed (BatchWriter)
    (tmp_path / "pipeline-state.json").write_text('{"clean": false}')
    n_before = store.count_epochs(dev)[0]
    assert 10 <= n_before < 20        # the engine's look-ahead: the tail has no epochs

    later = T0 + 25_000_000_000
    second = fake_band_factory(n_blocks=40, block_n=13, t0_ns=later)      # 10 s
    hub2 = Hub(store, settings, band_factory=second)
    await hub2.start()
    await hub2.wait_engine()
    await hub2.connect("sim", device_id="sim-3")
    await until(lambda: hub2.metrics()["samples"] == 40 * 13, 30)
    await hub2.stop()

    ep = store.epochs(device_id=dev)
    starts = ep["epoch_start"].tolist()
    assert starts == [T0 + k * 1_000_000_000 for k in range(35)]   # 20 + 5 gap + 10
    assert store.count_epochs(dev) == (35, 35)
    cov = ep["coverage"]
    assert (cov[20:25] == 0).all() and (cov[:20] == 1).all() and (cov[25:] == 1).all()
    samples = np.concatenate([b.samples for b in first.bands[dev].generated])
    batch = extract_features(samples, 52.0, t0_ns=T0, epoch_s=1.0)
    np.testing.assert_allclose(ep["enmo_mg"][:20], batch.columns["enmo_mg"], rtol=1e-9)
    np.testing.assert_allclose(ep["mad_mg"][:20], batch.columns["mad_mg"], rtol=1e-9)
    assert [g.reason for g in store.gaps(device_id=dev)] == ["crash"]
    store.close()
