"""MetaWear logging codecs, tick -> UTC placement and the .mwlog reader (pure; fuzzed)."""

from __future__ import annotations

import contextlib
import itertools
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from movereg.errors import DecodeError, InputFileError
from movereg.recordings import open_recording
from movereg.recordings._mwlog_time import Run, place_runs
from movereg.recordings.mwlog import MWLOG_MAGIC, write_mwlog_header
from movereg.sensors.decoders import metawear_log as ml
from movereg.sensors.decoders.metawear_log import TimeRef

T0 = 1_796_025_600_000_000_000  # 2026-11-30 08:00 UTC


# ------------------------------------------------------------------ codecs -----------
@pytest.mark.parametrize("layout", [ml.LAYOUT_9, ml.LAYOUT_8])
@pytest.mark.parametrize("n", [1, 2])
def test_readout_round_trip_both_layouts(layout: ml.EntryLayout, n: int) -> None:
    entries = [ml.LogEntry(3, 5, 0xABCDEF, b"\x01\x02\x03\x04"),
               ml.LogEntry(31, 7, 12, b"\xff\xfe\x00\x80")][:n]
    frame = ml.encode_readout(entries, layout)
    assert len(frame) == 2 + n * layout.size  # 11/20 (32-bit tick) or 10/18 (24-bit)
    lay, got = ml.parse_readout(frame)
    assert lay == layout and got == entries


def test_entry_byte_layout_is_the_published_one() -> None:
    # id 2, reset_uid 1 -> 0x22; tick 0x04030201 LE; data 4 bytes
    frame = bytes.fromhex("0b07" "22" "01020304" "aabbccdd")
    lay, (e,) = ml.parse_readout(frame)
    assert lay == ml.LAYOUT_9 and (e.logger_id, e.reset_uid, e.tick) == (2, 1, 0x04030201)
    assert e.data == bytes.fromhex("aabbccdd")
    lay, (e,) = ml.parse_readout(bytes.fromhex("0b07" "e5" "010203" "aabbccdd"))
    assert lay == ml.LAYOUT_8 and (e.logger_id, e.reset_uid, e.tick) == (5, 7, 0x030201)
    with pytest.raises(DecodeError, match="tick24 entry where the readout so far was tick32"):
        ml.parse_readout(bytes.fromhex("0b07" "e5" "010203" "aabbccdd"), ml.LAYOUT_9)


def test_commands_and_replies() -> None:
    assert ml.add_logger_command(3, 4, 0xFF, 0, 4) == bytes.fromhex("0b020304ff60")
    assert ml.add_logger_command(3, 4, 0xFF, 4, 2) == bytes.fromhex("0b020304ff24")
    assert ml.readout_command(6000, 120) == bytes.fromhex("0b06") + struct.pack("<II", 6000, 120)
    assert ml.remove_entries_command() == bytes.fromhex("0b09ffffffff")
    assert ml.parse_trigger_reply(bytes.fromhex("0b0205")) == 5
    assert ml.parse_logger_query(bytes.fromhex("0b820304ff24")) == (3, 4, 0xFF, 4, 2)
    assert ml.parse_logger_query(bytes.fromhex("0b82")) is None
    assert ml.parse_time_reply(ml.encode_time_reply(123456, 3)) == (123456, 3)
    assert ml.parse_length_reply(ml.encode_length_reply(70000)) == 70000
    assert ml.parse_progress(ml.encode_progress(9)) == 9
    assert ml.parse_enable_reply(bytes.fromhex("0b8101"))
    with pytest.raises(DecodeError):
        ml.parse_time_reply(bytes.fromhex("0b0401"))


def test_unwrap_ticks_24_and_32_bit() -> None:
    for bits in (24, 32):
        mod = 1 << bits
        true = np.arange(mod - 50, mod + 50, 7, dtype=np.int64)
        np.testing.assert_array_equal(ml.unwrap_ticks(true % mod, bits), true)


def test_sample_entries_pair_xy_then_z() -> None:
    raw = ml.encode_sample_entries(np.array([[1, -2, 4096]]), np.array([77]), 2, 0, 1,
                                   ml.LAYOUT_9)
    ids, uids, ticks, data = ml.entries_array(raw, ml.LAYOUT_9)
    assert ids.tolist() == [0, 1] and uids.tolist() == [2, 2] and ticks.tolist() == [77, 77]
    assert data[0].view("<i2").tolist() == [1, -2] and data[1, :2].view("<i2")[0] == 4096


_PARSERS = [ml.parse_readout, ml.parse_trigger_reply, ml.parse_logger_query,
            ml.parse_time_reply, ml.parse_length_reply, ml.parse_progress,
            ml.parse_enable_reply]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=24),
                 st.binary(max_size=22).map(lambda b: b"\x0b" + b),
                 st.sampled_from([7, 8, 2, 0x82, 0x84, 0x85, 0x81]).flatmap(
                     lambda r: st.binary(max_size=20).map(lambda b: bytes([0x0B, r]) + b))))
def test_fuzz_only_decode_error_escapes(data: bytes) -> None:
    for parse in _PARSERS:
        with contextlib.suppress(DecodeError):
            parse(data)
    with contextlib.suppress(DecodeError):
        ml.entries_array(data, ml.LAYOUT_8)


# ------------------------------------------------------------------ time -------------
def _run(uid: int, first_tick: int, n: int, bits: int, step: int = 14) -> Run:
    raw = (first_tick + np.arange(n, dtype=np.int64) * step) % (1 << bits)
    return Run(uid, ml.unwrap_ticks(raw, bits))


@pytest.mark.parametrize("bits", [24, 32])
def test_rollover_is_placed_by_the_start_reference(bits: int) -> None:
    mod = 1 << bits
    start = mod - 100 + 3 * mod * (bits == 24)  # the TIME counter is 32-bit: 3 wraps of 24
    run = _run(0, start + 10, 50, bits)
    (p,) = place_runs([run], [TimeRef(0, start, T0, "start")], bits, 50.0, T0 + 10**10)
    assert p.known
    expect = T0 + (10 + np.arange(50) * 14) * ml.TICK_NS
    np.testing.assert_allclose(p.t_ns, expect, atol=1)
    assert np.all(np.diff(p.t_ns) > 0)  # across the rollover


@pytest.mark.parametrize("bits", [24, 32])
def test_download_reference_alone_places_the_last_run(bits: int) -> None:
    run = _run(4, 5000, 40, bits)
    last_tick = 5000 + 39 * 14
    dl = TimeRef(4, last_tick + 700, T0, "download")
    (p,) = place_runs([run], [dl], bits, 50.0, T0)
    assert p.known and abs(p.t_ns[-1] - (T0 - 700 * ml.TICK_NS)) < 1


def test_unseen_reset_is_placed_before_the_next_epoch_and_flagged() -> None:
    bits = 32
    a = _run(0, 2000, 100, bits)       # started with a reference
    lost = _run(1, 50, 60, bits)       # reset while away, reset again before any host saw
    c = _run(2, 30, 80, bits)          # the epoch the download saw
    refs = [TimeRef(0, 1990, T0, "start"), TimeRef(2, 30 + 79 * 14 + 100, T0 + 3600 * 10**9,
                                                  "download")]
    pa, pl, pc = place_runs([a, lost, c], refs, bits, 50.0, T0 + 3600 * 10**9)
    assert pa.known and pc.known and not pl.known
    epoch2 = T0 + 3600 * 10**9 - (30 + 79 * 14 + 100) * ml.TICK_NS
    assert pl.t_ns[-1] == pytest.approx(epoch2 - 20e6)  # one period before the next reset
    assert pa.t_ns[-1] < pl.t_ns[0] < pl.t_ns[-1] < pc.t_ns[0]
    # it may be earlier by the slack between the previous run's end and its placement
    assert pl.uncertainty_s == pytest.approx((pl.t_ns[0] - 20e6 - pa.t_ns[-1]) / 1e9)


def test_a_stale_start_reference_is_not_used() -> None:
    run = _run(0, 100, 10, 32)  # tick 100 < the reference's 5000: another reset epoch
    (p,) = place_runs([run], [TimeRef(0, 5000, T0, "start")], 32, 50.0, T0 + 10**12)
    assert not p.known and p.uncertainty_s is None


# ------------------------------------------------------------------ file -------------
def _file(tmp: Path, raw: bytes, refs: list[dict], size: int = 9, **kw: object) -> Path:
    head = {"entry_size": size, "range_g": 8, "rate_hz": 50.0, "lsb_per_g": 4096.0,
            "logger_xy": 0, "logger_z": 1, "n_entries": len(raw) // size,
            "time_refs": refs, "downloaded_utc_ns": T0 + 10**12, "model": "MetaMotion R",
            "device_id": "mw-1", **kw}
    p = tmp / "a.mwlog"
    p.write_bytes(write_mwlog_header(head) + raw)
    return p


def test_reader_counts_unpaired_and_truncated(tmp_path: Path) -> None:
    n = 200
    c = np.stack([np.arange(n), np.zeros(n), np.full(n, 4096)], 1)
    ticks = 100 + np.arange(n) * 14
    raw = ml.encode_sample_entries(c, ticks, 0, 0, 1, ml.LAYOUT_9)
    raw = raw[:9 * 7] + raw[9 * 8:] + b"\x00\x01"  # lose one z entry, add a partial one
    p = _file(tmp_path, raw, [{"reset_uid": 0, "tick": 90, "utc_ns": T0, "kind": "start"}])
    rec = open_recording(p)
    t0, x = rec.read_all()
    assert rec.qc.samples_read == n - 1
    why = rec.qc.skipped_why()
    assert "unpaired_entry=1" in why and "truncated=1" in why
    assert abs(t0 - (T0 + 10 * ml.TICK_NS)) < 1e6
    assert np.allclose(x[:, 2], 1.0)


def test_reader_rejects_foreign_files(tmp_path: Path) -> None:
    p = tmp_path / "b.mwlog"
    p.write_bytes(b"not a log at all")
    with pytest.raises(InputFileError, match="magic"):
        open_recording(p)
    p.write_bytes(MWLOG_MAGIC + struct.pack("<I", 5) + b"{}   ")
    with pytest.raises(InputFileError, match="lacks"):
        open_recording(p)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_reader_only_input_file_error(tmp_path_factory: pytest.TempPathFactory,
                                           body: bytes) -> None:
    tmp = tmp_path_factory.mktemp("fz")
    p = _file(tmp, body, [{"reset_uid": 0, "tick": 0, "utc_ns": T0, "kind": "start"}])
    try:
        rec = open_recording(p)
        rec.read_all()
    except InputFileError:
        pass


def test_restarts_in_one_epoch_pick_the_reference_that_fits_24_bit() -> None:
    """Logging restarted at each sync leaves several start references in one epoch: the
    one taken after the log's first entry, and one more than a wrap before it, would
    put the entries a whole 6.8-h wrap off; the download reference settles it."""
    bits, mod = 24, 1 << 24
    first = 3 * mod + 5000
    run = _run(0, first, 100, bits)
    early = TimeRef(0, first - mod - 9000, T0 - round((mod + 9000) * ml.TICK_NS), "start")
    good = TimeRef(0, first - 10, T0 - round(10 * ml.TICK_NS), "start")
    late = TimeRef(0, first + 500, T0 + round(500 * ml.TICK_NS), "start")
    last = first + 99 * 14
    down = TimeRef(0, last + 20, T0 + round((99 * 14 + 20) * ml.TICK_NS), "download")
    (p,) = place_runs([run], [early, good, late, down], bits, 50.0, down.utc_ns)
    assert abs(p.t_ns[0] - T0) < 1e3 and abs(p.drift_s or 0) < 1e-5
    (q,) = place_runs([run], [late, down], bits, 50.0, down.utc_ns)  # none fits
    assert abs(q.t_ns[0] - T0) < 1e3 and q.drift_s is None


_OFFSET = st.one_of(st.integers(0, 5000), st.integers((1 << 24) - 3000, (1 << 24) + 3000),
                    st.integers(0, 1 << 26))
_EPOCH = st.tuples(_OFFSET,                          # ticks from the reset to the start
                   st.integers(1, 200),              # samples logged
                   st.integers(1, 1 << 16),          # ticks idle after the last sample
                   st.booleans())                    # a host took a start reference


@settings(max_examples=150, deadline=None)
@given(st.lists(_EPOCH, min_size=1, max_size=7), st.sampled_from([24, 32]))
@example([((1 << 24) + 5, 10, 100, True), (3, 10, 100, False)], 24)  # start ref, a wrap in
def test_placement_property(epochs: list[tuple[int, int, int, bool]], bits: int) -> None:
    """Random resets, rollovers and references: known epochs land on the truth (within
    a tick); an epoch no host saw is never placed before its truth, by no more than its
    recorded uncertainty; the order of epochs is kept."""
    step = 20e6 / ml.TICK_NS  # 50 Hz in ticks
    reset_ns = float(T0)
    runs, refs, truth, known = [], [], [], []
    for e, (off, n, idle, seen) in enumerate(epochs):
        ticks = off + np.floor(np.arange(n) * step).astype(np.int64)
        runs.append(Run(e, ml.unwrap_ticks(ticks % (1 << bits), bits)))
        truth.append(reset_ns + ticks * ml.TICK_NS)
        last = e == len(epochs) - 1
        if seen:
            refs.append(TimeRef(e, off, round(reset_ns + off * ml.TICK_NS), "start"))
        end = int(ticks[-1]) + int(np.ceil(step)) + idle
        if last:
            refs.append(TimeRef(e, end, round(reset_ns + end * ml.TICK_NS), "download"))
        known.append(seen or last)
        reset_ns += end * ml.TICK_NS
    placed = place_runs(runs, refs, bits, 50.0, round(reset_ns))
    assert [p.run.reset_uid for p in placed] == list(range(len(epochs)))
    for p, t, k in zip(placed, truth, known, strict=True):
        assert p.known == k
        if k:
            np.testing.assert_allclose(p.t_ns, t, atol=2)
        else:
            shift = float(p.t_ns[-1] - t[-1])
            assert shift >= -ml.TICK_NS
            if p.uncertainty_s is not None:
                assert shift <= p.uncertainty_s * 1e9 + 2 * ml.TICK_NS
    ends = [(float(p.t_ns[0]), float(p.t_ns[-1])) for p in placed]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ends))


@pytest.mark.parametrize("chunk", [3, 7, 64])
def test_reader_in_small_chunks_reads_the_same(tmp_path: Path, chunk: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk borders inside a sample's pair, a rollover and a reset change nothing."""
    from movereg.recordings import mwlog

    n = 90
    c = np.stack([np.arange(n), np.zeros(n), np.full(n, 4096)], 1)
    mod = 1 << 24
    ticks = mod - 600 + np.arange(n) * 14
    raw = (ml.encode_sample_entries(c[:60], ticks[:60], 0, 0, 1, ml.LAYOUT_8)
           + ml.encode_sample_entries(c[60:], 50 + np.arange(30) * 14, 1, 0, 1, ml.LAYOUT_8))
    raw = raw[:8 * 11] + raw[8 * 12:]  # sample 5 loses its z entry
    refs = [{"reset_uid": 0, "tick": mod - 610, "utc_ns": T0, "kind": "start"},
            {"reset_uid": 1, "tick": 900, "utc_ns": T0 + 10**10, "kind": "download"}]
    p = _file(tmp_path, raw, refs, size=8)
    whole = open_recording(p)
    t_whole, x_whole = whole.read_all()
    monkeypatch.setattr(mwlog, "_CHUNK", chunk)
    small = open_recording(p)
    t_small, x_small = small.read_all()
    assert t_small == t_whole and np.array_equal(x_small, x_whole, equal_nan=True)
    assert small.qc.samples_read == whole.qc.samples_read == n - 1
    assert small.qc.skipped_why() == whole.qc.skipped_why() == "unpaired_entry=1"
    uids = [uid for uid, _, _ in mwlog.mwlog_samples(p)]
    assert uids == [0, 1]


def test_a_renamed_log_is_still_read(tmp_path: Path) -> None:
    raw = ml.encode_sample_entries(np.array([[1, 2, 4096]] * 5), np.arange(5) * 14, 0, 0, 1,
                                   ml.LAYOUT_9)
    p = _file(tmp_path, raw, [{"reset_uid": 0, "tick": 0, "utc_ns": T0, "kind": "start"}])
    renamed = p.rename(tmp_path / "upload.bin")
    assert open_recording(renamed).meta["format"] == "mwlog"
