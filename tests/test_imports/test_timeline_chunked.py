"""The time line read a few whole hours at a time gives the rows of one whole read
(the precedence rule is decided per UTC hour, so chunks of whole hours cannot change it)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from movereg.storage import Child, IngestBatch, Store, _timeline

_NS = 10**9
_H = 3600 * _NS


def _epochs(t0: int, n: int, enmo: float, cov: float) -> dict[str, np.ndarray]:
    return {"epoch_start": t0 + np.arange(n, dtype=np.int64) * _NS, "epoch_s": np.ones(n),
            "coverage": np.full(n, cov), "enmo_mg": np.full(n, enmo),
            "nonwear": np.zeros(n, dtype=np.int8)}


def _table(t0: int, n: int, enmo: float, cov: float) -> SimpleNamespace:
    return SimpleNamespace(columns=_epochs(t0, n, enmo, cov), n=n)


def _fill(store: Store, child: Child) -> tuple[int, int]:
    t0 = 1_700_000_000 * _NS // _H * _H + 1234 * _NS   # not on an hour
    store.assign_device("band-c", child.id, at_ns=t0 - _H)
    # live: 5 h of full wear, then 3 h at low coverage
    store.write_batch(IngestBatch(epochs=[("band-c", _table(t0, 5 * 3600, 1.0, 1.0)),
                                          ("band-c", _table(t0 + 5 * _H, 3 * 3600, 2.0, 0.2))]))
    # a file over hours 3..8: loses to the live band early, wins late
    src = store.begin_import(child.id, file_name="f.csv", size_bytes=1, sha256="ef" * 32,
                             imported_by="t")
    store.commit_import(src.id, meta={"device_type": "CSV"},
                        epochs=[_table(t0 + 3 * _H + 17 * _NS, 5 * 3600, 3.0, 0.9)],
                        gaps=[], span=(t0 + 3 * _H, t0 + 9 * _H), actor="t")
    return t0, t0 + 9 * _H


@pytest.mark.parametrize("window", [None, (0, 9 * _H), (1234 * _NS, 4 * _H + 99 * _NS),
                                    (5 * _H + 1, 5 * _H + 2 * _NS), (-3 * _H, -_H)])
def test_chunked_timeline_equals_one_read(store: Store, child: Child, window: tuple[int, int]
                                          | None, monkeypatch: pytest.MonkeyPatch) -> None:
    t0, _ = _fill(store, child)
    a, b = (None, None) if window is None else (t0 + window[0], t0 + window[1])
    chunked = store.timeline(child.id, a, b, include_source=True, include_device=True)
    monkeypatch.setattr(_timeline, "_READ_HOURS", 10_000)   # one read of the whole range
    whole = store.timeline(child.id, a, b, include_source=True, include_device=True)
    assert list(chunked) == list(whole)
    for name, arr in whole.items():
        assert chunked[name].dtype == arr.dtype, name
        np.testing.assert_array_equal(chunked[name], arr, err_msg=name)
    if window is None:
        assert len(set(whole["source_id"].tolist())) == 2
        assert np.unique(whole["epoch_start"]).shape[0] == whole["epoch_start"].shape[0]
    if a is not None and b is not None:
        spans_chunked = store.timeline_sources(child.id, a, b)
        monkeypatch.setattr(_timeline, "_READ_HOURS", 1)
        assert spans_chunked == store.timeline_sources(child.id, a, b)
