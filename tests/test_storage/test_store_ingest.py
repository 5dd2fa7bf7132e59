"""Raw blocks (lossless), epochs (idempotent), gaps, queries by device and child."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from h5_store_support import T0, block, epochs, gap
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from movereg.errors import ValidationError
from movereg.models import SampleBlock
from movereg.signal import EpochTable
from movereg.storage import IngestBatch, Store, decode_samples, encode_samples


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "m.sqlite3")
    yield s  # type: ignore[misc]
    s.close()


@given(arrays(np.float32, st.tuples(st.integers(0, 300), st.just(3))))
@settings(max_examples=60, deadline=None)
def test_sample_codec_is_bit_exact(samples: np.ndarray) -> None:
    back = decode_samples(encode_samples(samples), samples.shape[0])
    assert back.dtype == np.float32
    assert back.tobytes() == np.ascontiguousarray(samples, dtype="<f4").tobytes()


def test_raw_blocks_round_trip_losslessly_in_time_order(store: Store) -> None:
    blocks = [block("dev", T0 + i * 10**9, n=52, seed=i) for i in range(150)]
    store.write_batch(IngestBatch(raw=[("dev", b) for b in reversed(blocks)]))
    got = list(store.iter_raw(device_id="dev", page_blocks=7))  # many pages
    assert [c.t0_ns for c in got] == [b.t0_ns for b in blocks]
    for c, b in zip(got, blocks, strict=True):
        assert c.fs_hz == b.fs_hz
        assert np.array_equal(c.samples, b.samples)
    assert store.last_sample_end_ns("dev") == blocks[-1].t_end_ns
    assert store.last_sample_end_ns("other") is None
    sub = list(store.iter_raw(device_id="dev", start_ns=T0 + 10 * 10**9,
                              end_ns=T0 + 20 * 10**9))
    assert len(sub) == 10


def test_epochs_are_idempotent_and_round_trip(store: Store) -> None:
    table = epochs(T0, 120)
    batch = IngestBatch(epochs=[("dev", table)])
    for _ in range(3):
        store.write_batch(batch)
    store.write_batch(IngestBatch(epochs=[("dev", table.slice(50, 70))]))  # overlap
    assert store.count_epochs("dev") == (120, 120)
    got = store.epochs(device_id="dev")
    for name, col in table.columns.items():
        assert got[name].dtype == col.dtype
        np.testing.assert_array_equal(got[name], col)


def test_nan_features_come_back_as_nan(store: Store) -> None:
    enmo = np.array([1.0, np.nan, 3.0])
    store.write_batch(IngestBatch(epochs=[("dev", epochs(T0, 3, enmo=enmo))]))
    got = store.epochs(device_id="dev", features=["enmo_mg"])
    np.testing.assert_array_equal(got["enmo_mg"], enmo)
    assert set(got) == {"epoch_start", "epoch_s", "enmo_mg"}


def test_a_bad_table_writes_nothing_from_the_batch(store: Store) -> None:
    good = epochs(T0, 5)
    cols = dict(good.columns)
    bad = type("Bad", (), {"columns": {**cols, "enmo_mg": np.zeros(2)}, "n": 5})()
    with pytest.raises(ValidationError):
        store.write_batch(IngestBatch(raw=[("dev", block("dev", T0))],
                                      epochs=[("dev", good), ("dev", bad)]))
    assert store.count_epochs("dev") == (0, 0)
    assert list(store.iter_raw(device_id="dev")) == []
    with pytest.raises(ValidationError):
        store.write_batch(IngestBatch(epochs=[("dev", type("U", (), {
            "columns": {**cols, "mystery": np.zeros(5)}, "n": 5})())]))
    with pytest.raises(ValidationError):
        store.write_batch(IngestBatch(raw=[("dev", SampleBlock(
            "dev", T0, 0.0, np.zeros((3, 3), np.float32)))]))


def test_child_queries_follow_assignments(store: Store) -> None:
    a = store.create_child(code="KID-A")
    b = store.create_child(code="KID-B")
    store.write_batch(IngestBatch(epochs=[("dev", epochs(T0, 100))],
                                  raw=[("dev", block("dev", T0 + i * 10**9)) for i in range(100)],
                                  gaps=[("dev", gap(T0 + 10 * 10**9, T0 + 11 * 10**9)),
                                        ("dev", gap(T0 + 70 * 10**9, T0 + 71 * 10**9))]))
    store.assign_device("dev", a.id, at_ns=T0)
    store.assign_device("dev", a.id, at_ns=T0 + 5)  # same child: no new assignment
    store.assign_device("dev", b.id, at_ns=T0 + 60 * 10**9)  # band handed over at 60 s
    ea = store.epochs(child_id=a.id)
    eb = store.epochs(child_id=b.id, features=["zone"], include_device=True)
    assert ea["epoch_start"].shape[0] == 60 and eb["epoch_start"].shape[0] == 40
    assert eb["epoch_start"][0] == T0 + 60 * 10**9
    assert set(eb["device_id"].tolist()) == {"dev"}
    assert len(list(store.iter_raw(child_id=a.id))) == 60
    assert [g.start_ns for g in store.gaps(child_id=b.id)] == [T0 + 70 * 10**9]
    assert store.device_child("dev", T0 + 30 * 10**9) == a.id
    assert store.device_child("dev") == b.id
    assert store.epoch_bounds(child_id=a.id) == (T0, T0 + 59 * 10**9)
    store.unassign_device("dev")
    assert store.device_child("dev") is None
    with pytest.raises(ValidationError):
        store.epochs(child_id=a.id, features=["nope"])
    with pytest.raises(ValidationError):
        store.epochs()


def test_duplicate_gaps_and_blocks_are_ignored(store: Store) -> None:
    batch = IngestBatch(raw=[("dev", block("dev", T0))], gaps=[("dev", gap(T0, T0 + 5))])
    store.write_batch(batch)
    store.write_batch(batch)
    assert len(store.gaps(device_id="dev")) == 1
    assert len(list(store.iter_raw(device_id="dev"))) == 1


def test_empty_table_and_empty_batch_are_fine(store: Store) -> None:
    store.write_batch(IngestBatch())
    store.write_batch(IngestBatch(epochs=[("dev", EpochTable.empty())]))
    assert store.count_epochs("dev") == (0, 0)


def test_an_open_read_never_blocks_ingestion(store: Store) -> None:
    import threading

    store.write_batch(IngestBatch(epochs=[("dev", epochs(T0, 10))]))
    reader = store._read()
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM epochs").fetchone()[0] == 10
    done = threading.Event()

    def write() -> None:
        store.write_batch(IngestBatch(epochs=[("dev", epochs(T0 + 10 * 10**9, 10))]))
        done.set()

    t = threading.Thread(target=write)
    t.start()
    assert done.wait(5.0), "a reader's open transaction blocked the writer"
    t.join()
    # the reader keeps its snapshot until it ends its transaction (WAL)
    assert reader.execute("SELECT COUNT(*) FROM epochs").fetchone()[0] == 10
    reader.execute("COMMIT")
    assert store.count_epochs("dev") == (20, 20)


def test_threads_write_and_read_concurrently(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(k: int) -> int:
        for j in range(5):
            t = T0 + (k * 5 + j) * 10 * 10**9
            store.write_batch(IngestBatch(epochs=[(f"dev{k % 2}", epochs(t, 10))]))
            store.epochs(device_id=f"dev{(k + 1) % 2}", features=["zone"])
        return k

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sorted(pool.map(work, range(12))) == list(range(12))
    assert store.count_epochs("dev0") == (300, 300)
    assert store.count_epochs("dev1") == (300, 300)


def test_raw_retention_keeps_epochs(store: Store) -> None:
    store.write_batch(IngestBatch(raw=[("dev", block("dev", T0 + i * 10**9)) for i in range(10)],
                                  epochs=[("dev", epochs(T0, 10))]))
    assert store.delete_raw_before(T0 + 4 * 10**9) == 4
    assert next(c.t0_ns for c in store.iter_raw(device_id="dev")) == T0 + 4 * 10**9
    assert store.count_epochs("dev") == (10, 10)


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 20)), min_size=1, max_size=8),
       st.randoms(use_true_random=False))
@settings(max_examples=30, deadline=None)
def test_overlapping_rewrites_store_each_epoch_once(writes: list[tuple[int, int]],
                                                     rnd: object) -> None:
    import random
    import tempfile

    assert isinstance(rnd, random.Random)
    with tempfile.TemporaryDirectory() as d, Store(Path(d) / "m.sqlite3") as store:
        batches = [IngestBatch(epochs=[("dev", epochs(T0 + off * 10**9, n, seed=off))])
                   for off, n in writes]
        rnd.shuffle(batches)
        for b in batches:
            store.write_batch(b)
        want = sorted({T0 + (off + i) * 10**9 for off, n in writes for i in range(n)})
        got = store.epochs(device_id="dev", features=["zone"])["epoch_start"].tolist()
        assert got == want


def test_epoch_table_is_the_stored_epochs_as_an_epoch_table(store: Store) -> None:
    table = epochs(T0, 30)
    store.write_batch(IngestBatch(epochs=[("dev", table)]))
    got = store.epoch_table(device_id="dev", start_ns=T0 + 10 * 10**9)
    assert isinstance(got, EpochTable) and got.n == 20
    assert got.equals(table.slice(10, 30))
    assert store.epoch_table(device_id="nobody").n == 0
