"""MetaWearLogger against an emulated logging MetaMotion on Bumble's in-memory link.

Real bleak API (through movereg's BleakTransport and our Bumble backend) -> emulated GATT
board whose log holds entries made by movereg's own encoder. Every test checks that each
sample the board logged is in the downloaded file exactly once, at the right time.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from emulated import World
from emulated.metawear_logging import EmulatedMetaWearLogging
from emulated.peripherals import indices_from_counts
from movereg.errors import ConnectionLostError, ProtocolError
from movereg.models import DeviceFamily
from movereg.pipeline.importer import import_file
from movereg.recordings import open_recording
from movereg.recordings.mwlog import mwlog_samples
from movereg.sensors.decoders import metawear_log as ml
from movereg.sensors.metawear_logging import ClockBook, MetaWearLogger, bytes_per_hour
from movereg.sensors.offline import BandMemoryFullError, partial_path, recorder_for
from movereg.sensors.transport import BleakLink, BleakTransport
from movereg.storage import Store

pytestmark = pytest.mark.timeout(180)

#: set_clock adds half its (real) round trip to the host clock it is given; the emulated
#: clock stands still meanwhile, so times from a start reference may be this late (ns)
SET_SLACK = 1e8


@dataclass
class Rig:
    world: World
    emu: EmulatedMetaWearLogging
    book: ClockBook
    link: BleakLink
    logger: MetaWearLogger

    async def reconnect(self) -> MetaWearLogger:
        """A fresh link and logger (same host book), as the next sync would open."""
        await self.link.disconnect()
        tr = BleakTransport(self.world.backend)
        adv = await tr.find(self.emu.address, 5.0)
        self.link = await tr.connect(adv.device, disconnected_callback=lambda: None,
                                     max_attempts=2)
        self.logger = MetaWearLogger(self.link, "mw-1", book=self.book,
                                     clock=lambda: self.emu.utc_ns,
                                     flash_bytes=self.emu.flash_bytes)
        return self.logger


async def _rig(layout: ml.EntryLayout = ml.LAYOUT_9, mtu: int = 247, **kw: object) -> Rig:
    world = World(mtu=mtu)
    await world.start()
    emu = EmulatedMetaWearLogging(world, layout=layout, **kw)
    await emu.power_on()
    rig = Rig(world, emu, ClockBook(), None, None)  # type: ignore[arg-type]
    tr = BleakTransport(world.backend)
    adv = await tr.find(emu.address, 5.0)
    rig.link = await tr.connect(adv.device, disconnected_callback=lambda: None, max_attempts=2)
    rig.logger = MetaWearLogger(rig.link, "mw-1", book=rig.book, clock=lambda: emu.utc_ns,
                                flash_bytes=emu.flash_bytes)
    return rig


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = await _rig()
    yield r
    await r.link.disconnect()


def _identities(path: Path) -> tuple[np.ndarray, list[int]]:
    """Sample indices in the file (from the raw entries) and the reset_uid of each run."""
    runs = list(mwlog_samples(path))
    c = np.concatenate([counts for _, _, counts in runs])
    return indices_from_counts(c), [uid for uid, _, _ in runs]


@pytest.mark.parametrize("layout", [ml.LAYOUT_9, ml.LAYOUT_8], ids=["tick32", "tick24"])
async def test_record_list_download_import_remove(layout: ml.EntryLayout, tmp_path: Path
                                                  ) -> None:
    r = await _rig(layout)
    emu, lg = r.emu, r.logger
    assert recorder_for(DeviceFamily.METAWEAR, r.link, "mw-1").family is DeviceFamily.METAWEAR
    st = await lg.status()
    assert not st.recording and st.free_bytes == st.total_bytes == 8 << 20
    assert st.battery_pct == 87
    await lg.start_recording(25.0)
    t_start = emu.utc_ns
    assert emu.logging and emu.acc_on and emu.rate_hz == 25.0
    assert emu.record(120.0) == 3000
    st = await lg.status()
    assert st.recording and st.rate_hz == 25.0 and st.bytes_per_hour == bytes_per_hour(25.0)
    assert st.free_bytes == (8 << 20) - 6000 * 8
    assert st.hours_left() == pytest.approx(((8 << 20) - 48000) / (25 * 3600 * 16))
    await lg.stop_recording()
    assert not emu.logging and not emu.acc_on
    (rec,) = await lg.list_recordings()
    assert rec.size_bytes == 6000 * layout.size and rec.suffix == ".mwlog"
    assert rec.started_utc_ns == pytest.approx(t_start, abs=SET_SLACK)
    seen: list[tuple[int, int]] = []
    dest = tmp_path / "band.mwlog"
    assert await lg.download(rec, dest, lambda a, b: seen.append((a, b))) == dest
    assert not partial_path(dest).exists()
    assert seen[-1] == (rec.size_bytes, rec.size_bytes)
    assert all(a <= b for (a, _), (b, _) in itertools.pairwise(seen))
    idx, uids = _identities(dest)
    np.testing.assert_array_equal(idx, np.arange(3000))  # every sample once, in order
    assert uids == [0]
    fh = open_recording(dest)
    t0, x = fh.read_all()
    assert fh.meta["entry_layout"] == layout.name and not fh.meta["time_uncertain"]
    assert abs(t0 - t_start) < SET_SLACK and fh.qc.samples_read == 3000 and fh.qc.gaps == 0
    assert np.allclose(x[:, 2], 1.0) and x.shape[0] >= 2998
    # the import path a device file takes puts it in the child's record
    with Store(tmp_path / "m.sqlite3") as store:
        child = store.create_child(display_name="Ann")
        src = import_file(store, child.id, dest, actor="sync")
        assert src.status == "done" and src.samples_read == 3000
        assert src.device_type == "MbientLab MetaMotion R"
        assert src.first_sample_ns == fh.qc.first_sample_ns
        assert 118 <= src.n_epochs <= 121
    await lg.remove(rec)
    assert emu.n_entries == 0 and emu.removed == 6000
    assert await lg.list_recordings() == []
    await lg.remove(rec)  # a repeated remove (after a retry) removes nothing newer
    assert emu.removed == 6000
    await r.link.disconnect()


async def test_logging_goes_on_while_syncing_and_nothing_is_doubled(rig: Rig,
                                                                     tmp_path: Path) -> None:
    emu, lg = rig.emu, rig.logger
    await lg.start_recording(50.0)
    emu.record(30.0)
    (rec,) = await lg.list_recordings()
    emu.record(10.0)  # the board keeps logging while the host downloads
    await lg.download(rec, tmp_path / "a.mwlog")
    await lg.remove(rec)
    (rec2,) = await lg.list_recordings()
    assert rec2.recording_id != rec.recording_id
    await lg.download(rec2, tmp_path / "b.mwlog")
    a, _ = _identities(tmp_path / "a.mwlog")
    b, _ = _identities(tmp_path / "b.mwlog")
    np.testing.assert_array_equal(np.concatenate([a, b]), np.arange(2000))


async def test_disconnect_mid_transfer_restarts_with_nothing_doubled(rig: Rig,
                                                                     tmp_path: Path) -> None:
    emu, lg = rig.emu, rig.logger
    await lg.start_recording(50.0)
    emu.record(60.0)
    await lg.stop_recording()
    with pytest.raises(ProtocolError, match=r"holds entries logged at 50\.0 Hz"):
        await lg.start_recording(25.0)  # one rate per recording: sync first
    (rec,) = await lg.list_recordings()
    emu.drop_after = 1500
    dest = tmp_path / "x.mwlog"
    with pytest.raises(ConnectionLostError):
        await lg.download(rec, dest)
    assert not dest.exists() and emu.n_entries == 6000 and emu.removed == 0
    lg = await rig.reconnect()
    (again,) = await lg.list_recordings()
    assert again == rec  # the same recording, still whole on the band
    await lg.download(again, dest)
    idx, _ = _identities(dest)
    np.testing.assert_array_equal(idx, np.arange(3000))
    await lg.remove(again)
    assert emu.n_entries == 0
    await lg.start_recording(25.0)  # an empty band records at any rate
    assert emu.rate_hz == 25.0


async def test_full_band_refuses_a_start_and_keeps_what_it_logged(tmp_path: Path) -> None:
    r = await _rig(flash_bytes=2 * 8 * 4000)  # room for 4000 samples (80 s at 50 Hz)
    emu, lg = r.emu, r.logger
    await lg.start_recording(50.0)
    assert emu.record(120.0) == 4000  # the board stops logging when the flash is full
    st = await lg.status()
    assert st.free_bytes == 0 and st.hours_left() == 0
    with pytest.raises(BandMemoryFullError, match="free flash"):
        await lg.start_recording(50.0)
    (rec,) = await lg.list_recordings()
    await lg.download(rec, tmp_path / "full.mwlog")
    idx, _ = _identities(tmp_path / "full.mwlog")
    np.testing.assert_array_equal(idx, np.arange(4000))
    await lg.remove(rec)
    assert (await lg.status()).free_bytes == 64000
    await lg.start_recording(50.0)  # room again
    await r.link.disconnect()


async def test_reset_while_away_is_placed_and_flagged(rig: Rig, tmp_path: Path) -> None:
    emu, lg = rig.emu, rig.logger
    await lg.start_recording(25.0)
    await rig.link.disconnect()  # the child walks away
    emu.record(60.0)
    t_true = [emu.utc_ns - round(ml.TICK_NS * emu.tick_of(60.0))]
    emu.reset()  # a reset no host saw (reset_uid 1) ...
    t_true.append(emu.utc_ns)
    emu.record(30.0)
    emu.idle(300.0)  # ... off the wrist and quiet for five minutes ...
    emu.reset()  # ... and another reset (reset_uid 2): epoch 1 never got a reference
    t_true.append(emu.utc_ns)
    emu.record(40.0)
    lg = await rig.reconnect()
    (rec,) = await lg.list_recordings()
    dest = tmp_path / "reset.mwlog"
    await lg.download(rec, dest)
    idx, uids = _identities(dest)
    np.testing.assert_array_equal(idx, np.arange(1500 + 750 + 1000))
    assert uids == [0, 1, 2]
    fh = open_recording(dest)
    t0, _ = fh.read_all()
    assert abs(t0 - t_true[0]) < SET_SLACK  # epoch 0: the start reference
    (unsure,) = fh.meta["time_uncertain"]
    assert unsure["reset_uid"] == 1
    # placed to end just before the next reset; really it ended 5 min earlier, and the
    # recorded uncertainty covers that
    true_end = t_true[1] + 749 * 40e6
    assert unsure["last_ns"] > true_end
    assert unsure["last_ns"] - true_end <= unsure["uncertainty_s"] * 1e9 + 1e8
    dmg = {d.reason: d for d in fh.qc.damage}
    assert "clock_unknown" in dmg and dmg["clock_unknown"].samples == 0
    assert "board reset no host saw" in dmg["clock_unknown"].message
    assert fh.qc.samples_read == 3250 and fh.qc.gaps >= 2
    assert abs(fh.qc.last_sample_ns - (t_true[2] + 999 * 40e6)) < 2e6  # epoch 2: download ref


@pytest.mark.parametrize("layout", [ml.LAYOUT_9, ml.LAYOUT_8], ids=["tick32", "tick24"])
async def test_tick_rollover_keeps_time_running(layout: ml.EntryLayout, tmp_path: Path) -> None:
    r = await _rig(layout)
    emu, lg = r.emu, r.logger
    # the TIME counter is 32-bit; entries keep the low 24 or 32 bits
    emu.tick = (1 << 32) - 700 if layout.tick_bits == 32 else 5 * (1 << 24) - 700
    await lg.start_recording(50.0)
    t_start = emu.utc_ns
    emu.record(20.0)  # ~13,650 ticks: the entries' tick wraps after ~1 s
    emu.tick %= 1 << 32
    (rec,) = await lg.list_recordings()
    assert rec.started_utc_ns == pytest.approx(t_start, abs=SET_SLACK)
    await lg.download(rec, tmp_path / "roll.mwlog")
    idx, _ = _identities(tmp_path / "roll.mwlog")
    np.testing.assert_array_equal(idx, np.arange(1000))
    fh = open_recording(tmp_path / "roll.mwlog")
    fh.read_all()
    assert fh.qc.gaps == 0 and fh.qc.samples_read == 1000 and not fh.qc.damage
    assert abs(fh.qc.first_sample_ns - t_start) < SET_SLACK
    assert abs(fh.qc.last_sample_ns - (t_start + 999 * 20e6)) < SET_SLACK
    (drift,) = fh.meta["clock_drift_s"]  # start and download references agree
    assert abs(drift) < SET_SLACK / 1e9
    await r.link.disconnect()


async def test_a_host_without_the_start_reference_flags_the_old_epoch(rig: Rig,
                                                                      tmp_path: Path) -> None:
    """A relay that never saw the start: epoch 0 is placed before the reset it saw."""
    emu, lg = rig.emu, rig.logger
    await lg.start_recording(25.0)
    emu.record(40.0)
    emu.reset()  # the relay's download reads reset_uid 1's clock, not 0's
    emu.record(20.0)
    rig.book = ClockBook()  # another host: no references
    lg = await rig.reconnect()
    (rec,) = await lg.list_recordings()
    assert rec.started_utc_ns is None  # nothing known about when it began
    await lg.download(rec, tmp_path / "relay.mwlog")
    fh = open_recording(tmp_path / "relay.mwlog")
    fh.read_all()
    (unsure,) = fh.meta["time_uncertain"]
    assert unsure["reset_uid"] == 0 and unsure["uncertainty_s"] is None
    assert fh.qc.samples_read == 1500


def test_clock_book_keeps_references_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mw-clock.json"
    book = ClockBook(path)
    ref = ml.TimeRef(3, 12345, 1_796_025_600_000_000_000, "start")
    book.add("mw-1", ref)
    assert ClockBook(path).refs("mw-1") == [ref] and ClockBook(path).refs("other") == []
    for k in range(6):  # logging restarted at every sync: many references in epoch 4
        book.add("mw-1", ml.TimeRef(4, 100 * k, ref.utc_ns + k, "start"))
    kept = ClockBook(path).refs("mw-1")
    assert kept[0] == ref and [r.tick for r in kept[1:]] == [200, 300, 400, 500]
    path.write_text("{not json")
    assert ClockBook(path).refs("mw-1") == []  # a damaged book is ignored, not fatal


async def test_download_over_the_smallest_mtu(tmp_path: Path) -> None:
    """Without an MTU exchange (23 B, as BlueZ may leave it) a readout notification of
    two 9-byte entries (20 B) still fits."""
    r = await _rig(mtu=23)
    emu, lg = r.emu, r.logger
    await lg.start_recording(12.5)
    emu.record(80.0)
    (rec,) = await lg.list_recordings()
    await lg.download(rec, tmp_path / "mtu23.mwlog")
    idx, _ = _identities(tmp_path / "mtu23.mwlog")
    np.testing.assert_array_equal(idx, np.arange(1000))
    await r.link.disconnect()


async def test_a_pause_in_logging_is_a_gap_of_the_right_length(rig: Rig, tmp_path: Path) -> None:
    emu, lg = rig.emu, rig.logger
    await lg.start_recording(25.0)
    t_start = emu.utc_ns
    emu.record(20.0)
    await lg.stop_recording()
    emu.idle(600.0)  # off for ten minutes (stopped by a sync that then failed, say)
    await lg.start_recording(25.0)  # same rate: allowed with entries on the band
    t_again = emu.utc_ns
    emu.record(20.0)
    (rec,) = await lg.list_recordings()
    await lg.download(rec, tmp_path / "pause.mwlog")
    idx, uids = _identities(tmp_path / "pause.mwlog")
    np.testing.assert_array_equal(idx, np.arange(1000))
    assert uids == [0]  # one reset epoch, two logging spans
    fh = open_recording(tmp_path / "pause.mwlog")
    chunks = list(fh.chunks(10_000))
    assert fh.qc.gaps == 1 and len(chunks) == 2 and not fh.meta["time_uncertain"]
    assert abs(chunks[0][0] - t_start) < SET_SLACK and abs(chunks[1][0] - t_again) < SET_SLACK
