"""The fast activity trace: causal, recomputable, and epochs stay equal to batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from movereg.config import Settings
from movereg.pipeline import Hub
from movereg.pipeline.activity import ActivityTrace, activity_mg, sample_times_ns
from movereg.signal import extract_features
from movereg.signal.table import EpochTable

T0_NS = 1_750_000_000_000_000_000   # as the FakeBand default (conftest)


class _NoStore:
    def last_sample_end_ns(self, device_id: str) -> int | None:
        return None


def _drain(sub: Any) -> list[dict[str, Any]]:
    out = []
    while (m := sub.get_nowait()) is not None:
        out.append(m)
    return out


def _recompute(blocks: list[Any], t_end_ns: int, window_ns: int = 1_000_000_000
               ) -> tuple[float | None, int, int]:
    """ENMO over the received samples with ``t_end - window < t <= t_end``."""
    t = np.concatenate([sample_times_ns(b.t0_ns, b.fs_hz, b.n) for b in blocks])
    x = np.concatenate([b.samples for b in blocks]).astype(np.float64)
    sel = (t > t_end_ns - window_ns) & (t <= t_end_ns)
    return activity_mg(x[sel]), int(sel.sum()), int(t.max())


async def test_activity_messages_recompute_from_the_samples_they_cover(
        tmp_path: Path, fake_band_factory: Any, recording_writer: Any, until: Any) -> None:
    """Through the hub with the real FeatureEngine: one activity message per block, its
    value recomputed from the samples up to ``t_end`` equals the message; epochs equal
    the batch table of the whole recording."""
    factory = fake_band_factory(n_blocks=60, block_n=17, delay_s=0.0, seed=4)
    hub = Hub(_NoStore(), Settings(data_dir=tmp_path, epoch_s=1.0), band_factory=factory,
              writer=recording_writer)
    await hub.start()
    sub = hub.subscribe(maxsize=10_000)
    dev = await hub.connect("sim", child_id=5, session_id=2, device_id="sim-9")
    band = factory.bands[dev]
    await until(lambda: hub.metrics()["samples"] == 60 * 17, 60)
    await hub.disconnect(dev)
    await hub.stop()
    msgs = _drain(sub)
    acts = [m for m in msgs if m["type"] == "activity"]
    assert len(acts) >= 30                    # 17 samples = 327 ms > the 100-ms folding
    seen: list[Any] = []
    blocks = iter(band.generated)
    for m in acts:
        assert (m["device_id"], m["child_id"], m["session_id"], m["unit"]) == (
            dev, 5, 2, "mg")
        # the blocks the hub had received when it sent this message
        while not seen or int(sample_times_ns(seen[-1].t0_ns, 52.0, seen[-1].n)[-1]) \
                < m["t_end_ns"]:
            seen.append(next(blocks))
        value, n, newest = _recompute(seen, m["t_end_ns"])
        assert newest == m["t_end_ns"]        # ends at the newest sample received
        assert m["t_end_ms"] == m["t_end_ns"] // 1_000_000
        # a full second (52 samples at 52 Hz) once the trace has filled
        assert m["n"] == n == min(52, sum(b.n for b in seen))
        assert m["value"] == value            # same numbers, same arithmetic
    epochs = EpochTable.concat([t for _, t in recording_writer.epochs])
    samples = np.concatenate([b.samples for b in band.generated])
    batch = extract_features(samples, 52.0, t0_ns=T0_NS, epoch_s=1.0)
    assert epochs.n == batch.n
    for name, col in batch.columns.items():
        np.testing.assert_array_equal(epochs.columns[name], col, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, 80), min_size=1, max_size=25),
       fs=st.sampled_from([25.0, 52.0, 100.0]), seed=st.integers(0, 2**16))
def test_trace_never_looks_ahead(cuts: list[int], fs: float, seed: int) -> None:
    """Changing every sample after a point's ``t_end`` never changes that point, and each
    value is ENMO over exactly the last second of samples up to ``t_end``."""
    rng = np.random.default_rng(seed)
    n = sum(cuts)
    x = rng.normal(0.0, 0.4, (n, 3))
    x[:, 2] += 1.0
    x[rng.random(n) < 0.05] = np.nan                     # a few missing samples
    starts = np.cumsum([0, *cuts[:-1]])
    t0s = sample_times_ns(T0_NS, fs, n)[starts]          # each block's first sample
    # sample times as the blocks place them (t0 + round(i / fs) within each block)
    t = np.concatenate([sample_times_ns(int(a), fs, k) for a, k in zip(t0s, cuts, strict=True)])

    def run(data: np.ndarray) -> list[Any]:
        trace, i, out = ActivityTrace(window_s=1.0, min_interval_s=0.0), 0, []
        for k in cuts:
            p = trace.push(data[i:i + k], int(t[i]), fs)
            assert p is not None
            out.append(p)
            i += k
        return out

    points = run(x)
    for j, p in enumerate(points):
        last = int(np.flatnonzero(t == p.t_end_ns)[0])
        assert last == sum(cuts[:j + 1]) - 1            # the block's own last sample
        sel = (t > p.t_end_ns - 1_000_000_000) & (t <= p.t_end_ns)
        assert p.n == int(sel.sum()) and p.t_start_ns == int(t[sel][0])
        assert p.value_mg == activity_mg(x[sel])
        future = x.copy()
        future[last + 1:] = rng.normal(0.0, 3.0, future[last + 1:].shape)
        assert run(future)[j] == p


def test_trace_folds_fast_blocks_and_ignores_missing_rows() -> None:
    trace = ActivityTrace(window_s=1.0, min_interval_s=0.25)
    still = np.tile([0.0, 0.0, 1.0], (5, 1))
    assert trace.push(still, T0_NS, 50.0) is not None            # 5 samples, 80 ms
    assert trace.push(still, T0_NS + 100_000_000, 50.0) is None  # within 250 ms: folded
    p = trace.push(still, T0_NS + 300_000_000, 50.0)
    assert p is not None and p.n == 15 and p.value_mg == 0.0
    assert activity_mg(np.full((4, 3), np.nan)) is None
    assert activity_mg([[0.0, 0.0, 2.0], [np.nan, 0.0, 0.0]]) == 1000.0
