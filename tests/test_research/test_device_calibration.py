"""Per-device calibration for live bands: fitted from stored raw, applied by the hub."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from research_support import still_spells

from movereg.cli import main
from movereg.config import Settings
from movereg.models import BandState, BandStatus, SampleBlock
from movereg.pipeline import Hub
from movereg.pipeline.device_calibration import fit_device
from movereg.storage import IngestBatch, Store

FS = 25.0
T0 = 1_750_000_000_000_000_000          # a whole second
OFFSET = np.array([0.04, -0.03, 0.02])   # g: raw = truth * SCALE + OFFSET
SCALE = np.array([1.03, 0.96, 1.02])
DEV = "AA:BB:CC:00:11:22"


def _truth(seed: int, n_orient: int = 24, still_s: float = 40.0,
           move_s: float = 10.0) -> np.ndarray:
    return still_spells(seed, FS, n_orient, still_s, move_s)


def _store_raw(store: Store, x: np.ndarray, t0: int = T0, block_n: int = 250,
               gap_every: int = 0) -> None:
    """``x`` as stored raw blocks of ``DEV`` (with a 1-s gap every ``gap_every`` blocks)."""
    store.upsert_device(DEV, family="polar")
    batch = []
    t = t0
    for k, lo in enumerate(range(0, x.shape[0], block_n)):
        part = x[lo:lo + block_n].astype(np.float32)
        batch.append((DEV, SampleBlock(DEV, t, FS, part)))
        t += round(part.shape[0] * 1e9 / FS)
        if gap_every and (k + 1) % gap_every == 0:
            t += 1_000_000_000
    store.write_batch(IngestBatch(raw=batch))


def test_known_offset_and_scale_corrected_within_1_mg_from_stored_raw(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = _truth(1)
    raw = truth * SCALE + OFFSET
    settings = Settings(data_dir=tmp_path)
    with Store(settings.db_path) as store:
        _store_raw(store, raw, gap_every=7)
        assert store.device_calibration(DEV) is None
    assert main(["calibrate", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{DEV}: calibration 1 accepted:" in out and "mg" in out
    with Store(settings.db_path) as store:
        cal = store.device_calibration(DEV)
        assert cal is not None and cal.accepted and cal.reason == ""
        assert cal.n_windows >= 24 * 3 and cal.n_samples == raw.shape[0]
        assert cal.span_start_ns == T0 and cal.span_end_ns > T0
        assert cal.error_before_mg is not None and cal.error_before_mg > 20.0
        assert cal.error_after_mg is not None and cal.error_after_mg < 1.0
        fixed = cal.apply(raw).astype(np.float64)
        assert np.max(np.abs(fixed - truth)) < 1e-3 * 1.5   # movement reaches 1.5 g
        still = np.abs(np.linalg.norm(truth, axis=1) - 1.0) < 0.01
        assert np.max(np.abs(fixed[still] - truth[still])) < 1e-3   # within 1 mg
        assert store.list_audit(limit=1)[0].action == "calibration.fit"
    assert main(["calibrate", "--data-dir", str(tmp_path), "--list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith(f"{DEV}: calibration 1 accepted:") and "fitted " in listed


def test_too_little_still_data_is_kept_but_never_applied(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path)
    with Store(settings.db_path) as store:
        _store_raw(store, _truth(2, n_orient=2, still_s=120.0) * SCALE + OFFSET)   # 2 poses
        cal = fit_device(store, DEV)
        assert not cal.accepted and "orientations" in cal.reason
        assert store.device_calibration(DEV) is None                  # nothing to apply
        assert store.device_calibration(DEV, accepted_only=False) == cal
        assert store.list_device_calibrations(DEV) == [cal]
    # a band without stored raw: one line, exit 2
    assert main(["calibrate", "--data-dir", str(tmp_path), "--device", "sim-9"]) == 2
    assert "no stored raw samples" in capsys.readouterr().err


class _ScriptBand:
    """Streams given samples (g) as the band would, in 25-sample blocks."""

    def __init__(self, device_id: str, x: np.ndarray) -> None:
        self.device_id, self.x, self.stopped = device_id, x.astype(np.float32), False

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.stopped = True

    def status(self) -> BandStatus:
        return BandStatus(device_id=self.device_id, family="polar",
                          state=BandState.STOPPED if self.stopped else BandState.STREAMING,
                          rate_hz=FS)

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        for lo in range(0, self.x.shape[0], 25):
            yield SampleBlock(self.device_id, T0 + round(lo * 1e9 / FS), FS,
                              self.x[lo:lo + 25])
            await asyncio.sleep(0)


async def _stream(tmp_path: Path, x: np.ndarray) -> Store:
    settings = Settings(data_dir=tmp_path, epoch_s=1.0, flush_interval_s=0.05)
    store = Store(settings.db_path)
    hub = Hub(store, settings,
              band_factory=lambda target, device_id=None, **_: _ScriptBand(DEV, x))
    await hub.start()
    await hub.wait_engine()
    await hub.connect(DEV, device_id=DEV)
    loop = asyncio.get_running_loop()
    end = loop.time() + 60
    while hub.metrics()["samples"] < x.shape[0]:
        assert loop.time() < end, "the band did not finish streaming"
        await asyncio.sleep(0.01)
    await hub.stop()
    return store


def _put_calibration(db: Path, offset: np.ndarray, scale: np.ndarray, *,
                     accepted: bool) -> int:
    with Store(db) as store:
        store.upsert_device(DEV, family="polar")
        return store.add_device_calibration(
            DEV, fitted_at=T0 - 1, span_start_ns=T0 - 10, span_end_ns=T0 - 1,
            n_samples=1000, n_windows=50, error_before_mg=40.0, error_after_mg=0.5,
            offset=offset.tolist(), scale=scale.tolist(), accepted=accepted,
            reason="" if accepted else "test: not accepted").id


@pytest.mark.parametrize("accepted", [True, False])
async def test_live_band_applies_its_accepted_calibration_and_streaming_equals_batch(
        tmp_path: Path, accepted: bool) -> None:
    from movereg.signal import extract_features

    truth = _truth(3, n_orient=4, still_s=8.0, move_s=4.0)
    raw = (truth * SCALE + OFFSET).astype(np.float32)
    off, sc = -OFFSET / SCALE, 1.0 / SCALE          # the exact inverse of the distortion
    cal_id = _put_calibration(Settings(data_dir=tmp_path).db_path, off, sc,
                              accepted=accepted)
    store = await _stream(tmp_path, raw)
    try:
        stored = np.concatenate([c.samples for c in store.iter_raw(device_id=DEV)])
        np.testing.assert_array_equal(stored, raw)      # raw kept as the band sent it
        ep = store.epochs(device_id=DEV)
        applied = (off + sc * raw.astype(np.float64)).astype(np.float32) if accepted else raw
        batch = extract_features(applied, FS, t0_ns=T0, epoch_s=1.0).columns
        n = ep["epoch_start"].shape[0]
        assert n == batch["epoch_start"].shape[0] > 0
        for name in ("enmo_mg", "mad_mg", "counts_vm", "zone", "nonwear"):
            np.testing.assert_allclose(ep[name], batch[name], rtol=1e-9, err_msg=name)
        if accepted:   # the features see the true signal, not the distorted one
            true_enmo = extract_features(truth.astype(np.float32), FS, t0_ns=T0,
                                         epoch_s=1.0).columns["enmo_mg"]
            assert np.nanmax(np.abs(ep["enmo_mg"] - true_enmo)) < 1.0
        uses = store.calibration_uses([DEV])
        assert len(uses) == 1
        got = uses[0].calibration
        assert (got.id if got is not None else None) == (cal_id if accepted else None)
    finally:
        store.close()


def test_export_provenance_names_the_calibration_applied(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from movereg.signal import extract_features

    db = Settings(data_dir=tmp_path).db_path
    cal_id = _put_calibration(db, -OFFSET / SCALE, 1.0 / SCALE, accepted=True)
    with Store(db) as store:
        child = store.create_child(code="KID-CAL")
        store.assign_device(DEV, child.id, at_ns=T0 - 10**9)
        store.record_calibration_use(DEV, T0, cal_id)
        x = _truth(4, n_orient=2, still_s=4.0, move_s=2.0).astype(np.float32)
        store.write_batch(IngestBatch(epochs=[(DEV, extract_features(x, FS, t0_ns=T0,
                                                                     epoch_s=1.0))]))
    out = tmp_path / "e.csv"
    assert main(["export", "--data-dir", str(tmp_path), "--what", "epochs", "--out",
                 str(out)]) == 0
    capsys.readouterr()
    prov = json.loads(out.with_name("e.csv.json").read_text())
    applied: Any = prov["parameters"]["calibration"]
    assert isinstance(applied, list) and len(applied) == 1
    assert applied[0]["calibration_id"] == cal_id and applied[0]["accepted"] is True
    assert applied[0]["device"] != DEV and len(applied[0]["device"]) >= 12   # hashed
    assert applied[0]["from"].startswith("2025-06-15T")


async def test_batchwriter_stop_waits_for_a_flush_in_progress(tmp_path: Path) -> None:
    """stop() used to cancel a running flush and return while its thread still wrote; a
    caller that read (or closed the store) right after saw a partial store."""
    import threading
    import time

    from movereg.storage import BatchWriter

    store = Store(Settings(data_dir=tmp_path).db_path)
    store.upsert_device(DEV, family="polar")
    real = store.write_batch
    writing = threading.Event()

    def slow(batch: IngestBatch) -> None:
        writing.set()
        time.sleep(0.3)
        real(batch)

    store.write_batch = slow  # type: ignore[method-assign]
    writer = BatchWriter(store, interval_s=0.01)
    await writer.start()
    writer.add_samples(DEV, SampleBlock(DEV, T0, FS, np.zeros((25, 3), np.float32)))
    assert await asyncio.to_thread(writing.wait, 10.0)
    await writer.stop()              # the periodic flush is inside its 0.3-s write now
    try:
        assert len(list(store.iter_raw(device_id=DEV))) == 1
    finally:
        store.close()
