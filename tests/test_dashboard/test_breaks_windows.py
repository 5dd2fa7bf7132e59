"""The breaks export reads the time line a window at a time, carrying a break that goes
on past a window's edge: the same breaks as one whole-range movement_breaks."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest

from movereg.signal import EpochTable, movement_breaks
from movereg.signal.schema import EPOCH_COLUMNS
from movereg.storage import IngestBatch, Store
from movereg.storage.export import _breaks

_NS = 10**9
T0 = 1_750_000_000 * _NS


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, int]]:
    store = Store(tmp_path_factory.mktemp("breaks") / "db.sqlite3")
    child = store.create_child(code="KID-W")
    store.assign_device("dev-w", child.id, at_ns=T0 - _NS)
    rng = np.random.default_rng(7)
    n = 5 * 3600
    enmo = np.where(rng.random(n) < 0.5, 5.0, 200.0)
    enmo[600:3000] = 150.0          # a long break over the first window edges
    enmo[3000:3008] = 1.0           # joined over a short dip
    enmo[3008:3700] = 150.0
    enmo[7190:7215] = np.nan        # missing epochs in a break at an edge
    enmo[7215:7400] = 150.0
    enmo[10_790:10_820] = 150.0     # a short run across an edge (too short: dropped)
    enmo[14_000:] = 150.0           # still moving at the end of the data
    keep = np.ones(n, dtype=bool)
    keep[5000:5003] = False         # a hole: rows on either side never join
    t = T0 + np.arange(n, dtype=np.int64) * _NS
    cols = {"epoch_start": t[keep], "epoch_s": np.ones(int(keep.sum())),
            "coverage": np.ones(int(keep.sum())), "enmo_mg": enmo[keep],
            "nonwear": np.zeros(int(keep.sum()), dtype=np.int8)}
    store.write_batch(IngestBatch(epochs=[("dev-w", SimpleNamespace(columns=cols,
                                                                    n=int(keep.sum())))]))
    yield store, child.id
    store.close()


def _whole(store: Store, cid: int, lo: int | None, hi: int | None) -> list[tuple[float, ...]]:
    cols = store.timeline(cid, lo, hi, features=["epoch_start", "epoch_s", "enmo_mg"])
    n = cols["epoch_start"].shape[0]
    full = {k: cols[k] if k in cols else np.zeros(n, dtype=dt) for k, dt in EPOCH_COLUMNS}
    return [(b.start_ns, b.end_ns, b.duration_s, b.peak_enmo_mg, b.mean_enmo_mg)
            for b in movement_breaks(EpochTable(full))]


def _windowed(store: Store, cid: int, lo: int | None, hi: int | None,
              window_s: int) -> list[tuple[float, ...]]:
    out: list[tuple[float, ...]] = []
    for ch in _breaks(store, cid, "KID-W", lo, hi, window_ns=window_s * _NS):
        out.extend(zip(ch["start"].tolist(), ch["end"].tolist(), ch["duration_s"].tolist(),
                       ch["peak_enmo_mg"].tolist(), ch["mean_enmo_mg"].tolist(),
                       strict=True))
        assert set(ch["child_code"].tolist()) == {"KID-W"}
    return out


@pytest.mark.parametrize("window_s", [601, 1800, 3600, 6 * 3600])
@pytest.mark.parametrize("rng_s", [None, (100, 17_000)])
def test_windowed_breaks_equal_the_whole_range(filled: tuple[Store, int], window_s: int,
                                               rng_s: tuple[int, int] | None) -> None:
    store, cid = filled
    lo, hi = (None, None) if rng_s is None else (T0 + rng_s[0] * _NS, T0 + rng_s[1] * _NS)
    whole = _whole(store, cid, lo, hi)
    assert len(whole) > 5
    got = _windowed(store, cid, lo, hi, window_s)
    assert len(got) == len(whole)
    for g, w in zip(got, whole, strict=True):
        assert g[:2] == w[:2]
        np.testing.assert_allclose(g[2:], w[2:], rtol=1e-12, equal_nan=True)
