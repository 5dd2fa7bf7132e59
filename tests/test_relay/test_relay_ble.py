"""The relay over Bluetooth (#23): the real bleak client, through the relay's BLE opener,
empties an emulated Polar Verity Sense on Bumble's in-memory link (file transfer 0xFEEE),
and the recording reaches the child's record through the in-process server once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from h5_api_support import Api
from relay_support import client_for, relay_token, wait_imports

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulated import World
from emulated.polar_files import EmulatedPolarFiles
from movereg.relay import BleOpener, Relay
from movereg.sensors.polar_offline import PolarBandModel

pytestmark = pytest.mark.timeout(180)

T0 = 1_790_000_000 * 10**9  # 2026-09-21 14:13:20 UTC


async def test_relay_empties_an_emulated_polar_band_over_bleak(api: Api, tmp_path: Path) -> None:
    now = [T0]
    world = World()
    await world.start()
    emu = EmulatedPolarFiles(world, PolarBandModel(clock=lambda: now[0], part_max_bytes=30_000))
    await emu.power_on()
    # the band recorded 40 minutes on its own, while assigned to child A
    api.store.upsert_device(emu.address, family="polar_pmd")
    api.store.assign_device(emu.address, api.child_a.id, at_ns=T0 - 3600 * 10**9)
    emu.model.set_band_time(now[0])
    assert emu.model.start(52) == 0
    now[0] += 40 * 60 * 10**9
    emu.model.stop()

    said: list[str] = []
    relay = Relay(client_for(api, relay_token(api)), tmp_path / "spool",
                  BleOpener(backend=world.backend, scan_timeout_s=5.0), say=said.append)
    report = await relay.cycle()
    assert (report.downloaded, report.removed, report.uploaded) == (1, 1, 1), said
    assert not [p for p in emu.model.files if p.endswith(".REC")]   # the band is empty
    [src] = wait_imports(api, api.child_a.id, 1)
    assert src.status == "done" and src.first_sample_ns == T0
    assert src.device_type and src.n_epochs == 40 * 60
