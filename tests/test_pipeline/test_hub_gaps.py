"""The hub's feature engine consumes ``block.gaps`` (the clock decides where gaps are)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from movereg.config import Settings
from movereg.models import BandState, BandStatus, Gap, SampleBlock
from movereg.pipeline import Hub
from movereg.signal import EpochTable, FeatureEngine, extract_features

T0 = 1_750_000_000_000_000_000      # a whole second
FS = 25.0


class SlewingBand:
    """25-Hz blocks whose t0 runs 2 ms later each block (a clock slewing, no gap), and
    one 40-sample gap that the clock reports on block 12."""

    def __init__(self, device_id: str, **_: Any) -> None:
        self.device_id = device_id
        rng = np.random.default_rng(3)
        self.x = rng.normal(0.0, 0.3, (30 * 25, 3)).astype(np.float32)
        self.x[:, 2] += 1.0
        self.sent = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status(self) -> BandStatus:
        return BandStatus(device_id=self.device_id, family="simulated",
                          state=BandState.STREAMING, rate_hz=FS)

    async def blocks(self) -> AsyncIterator[SampleBlock]:
        pos = 0                               # samples of the time line so far
        for k in range(30):
            gaps: tuple[Gap, ...] = ()
            if k == 12:
                start = T0 + round(pos * 1e9 / FS)
                gaps = (Gap(start, start + round(40 * 1e9 / FS), 40, "stall"),)
                pos += 40
            t0 = T0 + round(pos * 1e9 / FS) + k * 2_000_000
            yield SampleBlock(device_id=self.device_id, t0_ns=t0, fs_hz=FS,
                              samples=self.x[25 * k:25 * (k + 1)], gaps=gaps,
                              gap_before_s=sum(g.end_ns - g.start_ns for g in gaps) / 1e9)
            pos += 25
            self.sent += 25


class Writer:
    def __init__(self) -> None:
        self.epochs: list[EpochTable] = []
        self.gaps: list[Gap] = []

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def add_samples(self, device_id: str, block: SampleBlock) -> None: ...

    def add_epochs(self, device_id: str, table: EpochTable) -> None:
        self.epochs.append(table)

    def add_gap(self, device_id: str, gap: Gap) -> None:
        self.gaps.append(gap)


async def test_live_epochs_follow_the_clocks_gaps_not_t0(tmp_path: Path, until: Any) -> None:
    bands: dict[str, SlewingBand] = {}

    def factory(target: str, *, device_id: str, **kw: Any) -> SlewingBand:
        bands[device_id] = SlewingBand(device_id)
        return bands[device_id]

    writer = Writer()
    hub = Hub(_NoStore(), Settings(data_dir=tmp_path, epoch_s=1.0), band_factory=factory,
              writer=writer, engine_factory=lambda fs: FeatureEngine(fs, epoch_s=1.0))
    await hub.start()
    dev = await hub.connect("sim")
    await until(lambda: bands[dev].sent == 750)
    await hub.stop()
    x = bands[dev].x.astype(np.float64)
    want = extract_features(np.concatenate([x[:300], np.full((40, 3), np.nan), x[300:]]),
                            FS, t0_ns=T0, epoch_s=1.0)
    got = EpochTable.concat(writer.epochs)
    assert [g.samples_missing for g in writer.gaps] == [40]
    assert got.n == want.n == 32          # (750 + 40) samples: 31.6 s
    assert got.equals(want, rtol=1e-6)


class _NoStore:
    def last_sample_end_ns(self, device_id: str) -> int | None:
        return None
