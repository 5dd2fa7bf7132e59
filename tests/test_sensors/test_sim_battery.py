"""Simulated bands report their battery through the standard Battery Level
characteristic (0x2A19), which drains slowly; a low one raises the battery alert."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from movereg.config import Settings
from movereg.errors import ParameterError
from movereg.pipeline import Hub
from movereg.sensors import SimulatedTransport, open_band
from movereg.sensors.links import BATTERY_LEVEL_UUID
from movereg.sensors.simulated import SimBattery, SimulatedBand
from movereg.storage.store import Store


def test_battery_drains_with_band_time() -> None:
    b = SimBattery(50.0, drain_pct_per_h=10.0, speed=2.0)
    t0 = b._t0
    assert [b.level(t0 + h * 1800) for h in (0, 1, 2, 9, 99)] == [50, 40, 30, 1, 1]
    assert SimBattery(100.0).level() == 100
    with pytest.raises(ParameterError):
        SimBattery(0.0)


async def test_the_link_serves_the_battery_level_characteristic() -> None:
    band = SimulatedBand(1)
    band.battery = SimBattery(37.0)
    link = await SimulatedTransport(band).connect("sim:1", disconnected_callback=lambda: None,
                                   max_attempts=1)
    assert link.has_char(BATTERY_LEVEL_UUID)
    assert await link.read(BATTERY_LEVEL_UUID) == bytes([37])
    bare = await SimulatedTransport(SimulatedBand(1)).connect(
        "sim:1", disconnected_callback=lambda: None, max_attempts=1)
    assert not bare.has_char(BATTERY_LEVEL_UUID)


async def _status_battery(band: object, want: int) -> None:
    for _ in range(500):
        if band.status().battery_pct == want:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"battery never read as {want}: {band.status()}")  # type: ignore[attr-defined]


async def test_the_client_reads_the_level_at_connect_and_again_while_streaming() -> None:
    band = open_band("sim:3", speed=5.0, battery_pct=14)
    band.battery_interval_s = 0.0                       # read again on every watch tick
    await band.start()
    try:
        await _status_battery(band, 14)
        band.transport.band.battery.start_pct = 9       # the level drops
        await _status_battery(band, 9)
    finally:
        await band.stop()


async def test_a_low_simulated_band_raises_the_battery_alert(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    store = Store(settings.db_path)
    kid = store.create_child(display_name="Robin").id
    hub = Hub(store, settings, status_interval_s=3600.0)
    await hub.start()
    try:
        dev = await hub.connect("sim:5", child_id=kid, device_id="sim-5",
                                options={"battery_pct": 12})
        for _ in range(500):
            if hub.status()[0].battery_pct is not None:
                break
            await asyncio.sleep(0.01)
        [(action, alert)] = [c for c in await hub.check_alerts() if c[1].kind == "battery_low"]
        assert (action, alert.device_id, alert.child_id) == ("raised", dev, kid)
        assert "12 %" in alert.text
    finally:
        await hub.stop()
        store.close()
