"""Streaming == batch: any chunking and any gap positions give exactly the batch table."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from movereg.errors import ParameterError
from movereg.signal import EpochTable, FeatureEngine, extract_features


def _signal(seed: int, fs: float, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = rng.normal(0, 0.05, (n, 3)) + np.array([0.1, 0.2, 0.97])
    x[:, 0] += 0.4 * np.sin(2 * np.pi * 1.1 * t) * (t % 12 < 7)
    x[:, 1] += 0.3 * np.sin(2 * np.pi * 3.2 * t) * (t % 9 > 5)
    x[rng.integers(0, n, 6)] += [0.0, 0.0, 2.5]
    return x


T0 = 1_800_000_000_000_000_000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fs=st.sampled_from([25.0, 30.0, 52.0]),
    epoch_s=st.sampled_from([1.0, 2.0, 5.0]),
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.integers(1, 1199), min_size=0, max_size=12, unique=True),
    gaps=st.lists(st.tuples(st.integers(0, 1100), st.integers(1, 200)), max_size=3),
)
def test_any_chunking_and_gaps_equal_batch(fs: float, epoch_s: float, seed: int,
                                           cuts: list[int],
                                           gaps: list[tuple[int, int]]) -> None:
    n = 1200
    x = _signal(seed, fs, n)
    missing = np.zeros(n, dtype=bool)
    for start, length in gaps:
        missing[start:start + length] = True
    missing[0] = False          # the stream's time origin is its first sample
    missing[-1] = False         # and it ends at its last one
    batch_in = x.copy()
    batch_in[missing] = np.nan
    want = extract_features(batch_in, fs, t0_ns=T0, epoch_s=epoch_s)

    # stream: blocks split at `cuts`; missing samples are simply not sent (time gap)
    eng = FeatureEngine(fs, epoch_s=epoch_s)
    bounds = [0, *sorted(cuts), n]
    parts = []
    for a, b in itertools.pairwise(bounds):
        idx = np.arange(a, b)
        keep = idx[~missing[a:b]]
        # split the block further at its missing runs: each run of present samples is
        # one push with its own t0
        if keep.size == 0:
            continue
        runs = np.split(keep, np.flatnonzero(np.diff(keep) > 1) + 1)
        for run in runs:
            t0 = T0 + round(run[0] * 1e9 / fs)
            parts.append(eng.push(x[run], t0))
    parts.append(eng.flush())
    got = EpochTable.concat(parts)
    assert got.n == want.n
    assert got.equals(want, rtol=1e-9), _diff(got, want)


def _diff(a: EpochTable, b: EpochTable) -> str:
    out = []
    for name in a.names:
        if not np.array_equal(a[name], b[name], equal_nan=True):
            out.append(f"{name}: {a[name]} != {b[name]}")
    return "\n".join(out)


_LONG_BLOCK_CHECK = """
import ctypes, sys
import numpy as np
# M_MMAP_THRESHOLD fixed at 64 KiB: every large buffer is unmapped as soon as it is freed,
# so a kernel reading a buffer after freeing it crashes instead of reading stale data
assert ctypes.CDLL("libc.so.6").mallopt(-3, 65536) == 1
sys.path.insert(0, sys.argv[1])
from test_features_stream import T0, _signal
from movereg.signal import EpochTable, FeatureEngine, extract_features
fs, n = 100.0, 300_000
x = _signal(7, fs, n)
x[123_456:124_000] = np.nan
want = extract_features(x, fs, t0_ns=T0)          # kernel calls of 262,144 samples
eng = FeatureEngine(fs)
parts = [eng.push(x[i:i + 100], T0 + i * 10_000_000) for i in range(0, n, 100)]
got = EpochTable.concat([*parts, eng.flush()])
assert got.n == want.n == 600, (got.n, want.n)
assert got.equals(want, rtol=1e-9)
print("ok")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_long_blocks_never_read_freed_buffers() -> None:
    """Long blocks (the kernel's working arrays become large allocations) equal 1-s
    pushes, in a process whose allocator unmaps large buffers when they are freed: the
    kernels must not use a buffer after Numba has freed it (a borrowed local would)."""
    here = str(Path(__file__).resolve().parent)       # the signal generator: _signal
    r = subprocess.run([sys.executable, "-c", _LONG_BLOCK_CHECK, here], capture_output=True,
                       text=True, timeout=600, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])


def test_push_returns_only_final_epochs_and_flush_the_rest() -> None:
    fs = 25.0
    x = _signal(1, fs, 25 * 23)
    eng = FeatureEngine(fs, epoch_s=5.0)
    first = eng.push(x[: 25 * 5])
    assert first.n == 0                       # rhythm needs look-ahead (lag_s)
    assert 5.0 < eng.lag_s < 8.0
    mid = eng.push(x[25 * 5:])
    assert mid.n >= 2
    tail = eng.flush()
    assert mid.n + tail.n == 5
    assert tail["coverage"][-1] == pytest.approx(3 / 5)
    assert eng.flush().n == 0
    with pytest.raises(ParameterError):
        eng.push(x[:10])


def test_gap_fills_missing_and_overlap_is_contiguous() -> None:
    fs = 25.0
    x = _signal(2, fs, 250)
    eng = FeatureEngine(fs, epoch_s=1.0)
    eng.push(x[:100], 0)
    eng.push(x[100:], round(150 * 1e9 / fs))     # 50 samples missing
    assert eng.samples_seen == 300
    tab = EpochTable.concat([eng.flush()])
    eng2 = FeatureEngine(fs, epoch_s=1.0)
    eng2.push(x[:100], 0)
    eng2.push(x[100:], round(99.8 * 1e9 / fs))   # slightly early: contiguous
    assert eng2.samples_seen == 250
    assert tab.n >= 0


@pytest.mark.parametrize("bad", [np.zeros((5, 2)), np.zeros(6), np.array([["a", "b", "c"]])])
def test_bad_samples_raise_parameter_error(bad: np.ndarray) -> None:
    with pytest.raises(ParameterError):
        extract_features(bad, 25.0)


@pytest.mark.parametrize(("fs", "epoch_s"), [(25.0, 0.3), (0.0, 5.0), (float("nan"), 5.0),
                                             (12.5, 0.1)])
def test_bad_rate_or_epoch_raise(fs: float, epoch_s: float) -> None:
    with pytest.raises(ParameterError):
        FeatureEngine(fs, epoch_s=epoch_s)


def test_empty_and_all_missing() -> None:
    assert extract_features(np.zeros((0, 3)), 25.0).n == 0
    tab = extract_features(np.full((250, 3), np.nan), 25.0, epoch_s=5.0)
    assert tab.n == 2
    assert np.all(tab["coverage"] == 0)
    assert np.all(tab["zone"] == -1)
    assert np.all(np.isnan(tab["enmo_mg"]))


@pytest.mark.parametrize(("fs", "epoch_s"), [(25.0, 5.0), (52.0, 1.0)])
def test_epochs_arrive_within_the_declared_lag(fs: float, epoch_s: float) -> None:
    n = int(fs * 40)
    x = _signal(3, fs, n)
    eng = FeatureEngine(fs, epoch_s=epoch_s)
    step = int(fs)
    emitted = 0
    for i in range(0, n, step):
        emitted += eng.push(x[i:i + step]).n
        now_s = (i + step) / fs
        # every epoch that ended more than lag_s ago has been emitted
        due = int(max(0.0, now_s - eng.lag_s) // epoch_s)
        assert emitted >= due


@pytest.mark.parametrize("kw", [{"light_mg": -1.0}, {"moderate_mg": 10.0},
                                {"rhythm_min_lag_s": 3.0}, {"rhythm_min_valid": 1.5},
                                {"flap_low_hz": 7.0}, {"nonwear_min_axes": 4},
                                {"impact_g": float("nan")}, {"rhythm_gate": "other"},
                                {"lowpass_order": 2}])
def test_bad_config_raises(kw: dict[str, object]) -> None:
    from movereg.signal import FeatureConfig

    with pytest.raises(ParameterError):
        FeatureEngine(25.0, config=FeatureConfig(**kw))  # type: ignore[arg-type]


# --- staging: kernels run only when the next epoch can finish ----------------------------

def _unstaged(fs: float, epoch_s: float) -> FeatureEngine:
    """An engine that runs the kernels on every push (staging switched off)."""
    eng = FeatureEngine(fs, epoch_s=epoch_s)
    eng._fin = None
    eng._next = 0
    return eng


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fs=st.sampled_from([25.0, 30.0, 52.0, 90.0, 100.0]),
    epoch_s=st.sampled_from([1.0, 2.0, 5.0]),
    seed=st.integers(0, 10_000),
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=40),
    gap_at=st.lists(st.integers(0, 39), max_size=3),
    nan_rows=st.integers(0, 40),
)
def test_staged_pushes_emit_the_same_epochs_in_the_same_push(
        fs: float, epoch_s: float, seed: int, sizes: list[int], gap_at: list[int],
        nan_rows: int) -> None:
    n = sum(sizes)
    x = _signal(seed, fs, max(n, 1))
    rng = np.random.default_rng(seed)
    x[rng.integers(0, max(n, 1), nan_rows)] = np.nan
    staged, plain = FeatureEngine(fs, epoch_s=epoch_s), _unstaged(fs, epoch_s)
    assert staged._fin is not None          # every rate/epoch here can be staged
    pos, t_idx = 0, 0
    for i, m in enumerate(sizes):
        if i in gap_at:
            t_idx += 37                      # 37 samples never arrive: a time gap
        block = x[pos:pos + m]
        t0 = T0 + round(t_idx * 1e9 / fs)
        a, b = staged.push(block, t0), plain.push(block, t0)
        assert a.n == b.n, f"push {i}: staged emitted {a.n} epochs, unstaged {b.n}"
        assert a.equals(b, rtol=0.0), _diff(a, b)
        assert staged.samples_seen == plain.samples_seen
        pos += m
        t_idx += m
    a, b = staged.flush(), plain.flush()
    assert a.equals(b, rtol=0.0), _diff(a, b)


@pytest.mark.parametrize(("fs", "epoch_s"), [(25.0, 5.0), (30.0, 1.0), (52.0, 1.0),
                                             (90.0, 2.0), (100.0, 5.0), (64.0, 1.0)])
def test_emission_points_depend_on_sample_positions_only(fs: float, epoch_s: float) -> None:
    """What staging relies on: with missing data and any values, epoch e is final after
    exactly the measured number of samples (the first few measured, then every L)."""
    eng = FeatureEngine(fs, epoch_s=epoch_s)
    assert eng._fin is not None
    plain = _unstaged(fs, epoch_s)
    L = round(fs * epoch_s)
    n_epochs = 9
    x = _signal(7, fs, (n_epochs + 1) * L + int(eng.lag_s * fs) + 50)
    x[np.random.default_rng(1).random(x.shape[0]) < 0.1] = np.nan   # 10% missing rows
    x[L // 2:L // 2 + L] = np.nan                                      # a missing epoch
    emitted, at = 0, []
    for i in range(x.shape[0]):
        emitted += plain.push(x[i:i + 1]).n
        while len(at) < emitted:
            at.append(i + 1)
        if len(at) >= n_epochs:
            break
    assert at[:n_epochs] == [eng._final_at(e) for e in range(n_epochs)]
