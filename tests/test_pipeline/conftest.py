"""Small fakes for the hub tests: a band that yields SampleBlocks, a recording writer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from movereg.models import BandState, BandStatus, Gap, SampleBlock

T0_NS = 1_750_000_000_000_000_000  # a whole second


class FakeBand:
    """Yields ``n_blocks`` contiguous blocks of ``block_n`` samples at ``fs_hz``.

    ``delay_s`` between blocks (0 = as fast as the loop allows); ``fail_after`` raises a
    RuntimeError after that many blocks; ``t0_ns`` is the first sample's time.
    """

    def __init__(self, device_id: str, *, fs_hz: float = 52.0, block_n: int = 13,
                 n_blocks: int = 40, delay_s: float = 0.0, fail_after: int | None = None,
                 t0_ns: int = T0_NS, seed: int = 0, forever: bool = False,
                 hang: bool = False) -> None:
        self.device_id = device_id
        self.fs_hz = fs_hz
        self.block_n = block_n
        self.n_blocks = n_blocks
        self.delay_s = delay_s
        self.fail_after = fail_after
        self.t0_ns = t0_ns
        self.rng = np.random.default_rng(seed)
        self.forever = forever
        self.hang = hang          # after n_blocks: stay connected, send nothing
        self.sent = 0
        self.started = False
        self.stopped = False
        self.generated: list[SampleBlock] = []

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def status(self) -> BandStatus:
        state = BandState.STOPPED if self.stopped else BandState.STREAMING
        return BandStatus(device_id=self.device_id, family="simulated", state=state,
                          rate_hz=self.fs_hz)

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        i = 0
        while self.forever or i < self.n_blocks:
            if self.fail_after is not None and i >= self.fail_after:
                raise RuntimeError("band exploded")
            t0 = self.t0_ns + round(i * self.block_n * 1e9 / self.fs_hz)
            x = self.rng.normal(0.0, 0.3, (self.block_n, 3)).astype(np.float32)
            x[:, 2] += 1.0
            block = SampleBlock(device_id=self.device_id, t0_ns=t0, fs_hz=self.fs_hz,
                                samples=x)
            self.generated.append(block)
            self.sent += self.block_n
            yield block
            i += 1
            await asyncio.sleep(self.delay_s)
        if self.hang:
            await asyncio.Event().wait()


class RecordingWriter:
    """BatchWriter stand-in that keeps everything it is given."""

    def __init__(self) -> None:
        self.samples: list[tuple[str, SampleBlock]] = []
        self.epochs: list[tuple[str, Any]] = []
        self.gaps: list[tuple[str, Gap]] = []
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def add_samples(self, device_id: str, block: SampleBlock) -> None:
        self.samples.append((device_id, block))

    def add_epochs(self, device_id: str, table: Any) -> None:
        self.epochs.append((device_id, table))

    def add_gap(self, device_id: str, gap: Gap) -> None:
        self.gaps.append((device_id, gap))


class BandFactory:
    """``factory(target, device_id=...)`` handing out preconfigured FakeBands."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.bands: dict[str, FakeBand] = {}

    def __call__(self, target: str, *, device_id: str | None = None, **_: Any) -> FakeBand:
        assert device_id is not None
        band = FakeBand(device_id, **self.kwargs)
        self.bands[device_id] = band
        return band


@pytest.fixture
def fake_band_factory() -> type[BandFactory]:
    return BandFactory


@pytest.fixture
def recording_writer() -> RecordingWriter:
    return RecordingWriter()


async def wait_until(cond: Any, timeout_s: float = 10.0) -> None:
    """Poll ``cond()`` on the loop until true (fails the test after ``timeout_s``)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def until() -> Any:
    return wait_until


class FakeTable:
    """Minimal EpochTable stand-in: ``columns`` (every EPOCH_COLUMNS name) and ``n``."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = columns
        self.n = len(columns["epoch_start"])


class FakeEngine:
    """Emits one epoch per full ``epoch_s`` of samples, ENMO only, no look-ahead lag."""

    def __init__(self, fs_hz: float, epoch_s: float = 1.0) -> None:
        from movereg.signal.schema import EPOCH_COLUMNS

        self.fs_hz = fs_hz
        self.epoch_s = epoch_s
        self.L = round(fs_hz * epoch_s)
        self.buf = np.zeros((0, 3))
        self.t0: int | None = None
        self.done = 0
        self.cols = EPOCH_COLUMNS

    def _table(self, rows: list[np.ndarray]) -> FakeTable:
        n = len(rows)
        cols = {name: np.zeros(n, dtype=dt) for name, dt in self.cols}
        for i, x in enumerate(rows):
            assert self.t0 is not None
            cols["epoch_start"][i] = self.t0 + round((self.done + i) * self.epoch_s * 1e9)
            cols["epoch_s"][i] = self.epoch_s
            ok = np.isfinite(x).all(axis=1)
            cols["coverage"][i] = ok.mean() if len(x) else 0.0
            mag = np.linalg.norm(x[ok], axis=1)
            cols["enmo_mg"][i] = np.maximum(mag - 1, 0).mean() * 1000 if ok.any() else np.nan
            cols["rhythm_hz"][i] = np.nan
        self.done += n
        return FakeTable(cols)

    def push(self, samples: Any, t0_ns: int | None = None, gaps: Any = None) -> FakeTable:
        x = np.asarray(samples, dtype=np.float64)
        if self.t0 is None:
            self.t0 = int(t0_ns or 0)
        elif t0_ns is not None:
            expected = self.t0 + (self.done * self.L + len(self.buf)) * 1e9 / self.fs_hz
            gap = round((t0_ns - expected) * self.fs_hz / 1e9)
            if gap > 0:
                self.buf = np.vstack([self.buf, np.full((gap, 3), np.nan)])
        self.buf = np.vstack([self.buf, x])
        rows = []
        while len(self.buf) >= self.L:
            rows.append(self.buf[: self.L])
            self.buf = self.buf[self.L:]
        return self._table(rows)

    def flush(self) -> FakeTable:
        rows = [self.buf] if len(self.buf) else []
        self.buf = np.zeros((0, 3))
        return self._table(rows)


@pytest.fixture
def fake_engine_factory() -> Any:
    return lambda fs_hz: FakeEngine(fs_hz, 1.0)
