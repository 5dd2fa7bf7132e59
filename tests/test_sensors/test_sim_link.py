"""The simulated band runs through the one real client, on a simulated transport."""

from __future__ import annotations

import asyncio

import numpy as np

from movereg.models import BandState
from movereg.sensors import SimulatedBandConnection, SimulatedTransport, WristbandClient, open_band
from movereg.sensors.decoders import PMD_CP_UUID, PMD_DATA_UUID, PolarPmdProfile, parse_cp_response
from movereg.sensors.simulated import SimulatedBand


async def test_sim_band_is_the_wristband_client_on_a_fake_transport() -> None:
    band = open_band("sim:2", speed=100.0, duration_s=5)
    assert isinstance(band, WristbandClient) and isinstance(band, SimulatedBandConnection)
    assert isinstance(band.transport, SimulatedTransport)
    await band.start()
    blocks = [b async for b in band.blocks()]
    assert sum(b.n for b in blocks) >= 5 * 52
    assert band.connections == 1 and band.decode_errors == 0
    st = band.status()
    assert st.state == BandState.STOPPED and st.reason == "duration reached"
    assert band.clock is not None and band.clock.stats.gaps == 0


async def test_sim_link_answers_the_pmd_control_point_like_a_band() -> None:
    sim = SimulatedBand(4)
    link = await SimulatedTransport(sim, speed=50.0).connect(
        "sim:4", disconnected_callback=lambda: None, max_attempts=1)
    replies: list[bytes] = []
    frames: list[bytes] = []
    await link.start_notify(PMD_CP_UUID, replies.append)
    await link.start_notify(PMD_DATA_UUID, frames.append)
    profile = PolarPmdProfile()
    await link.write(PMD_CP_UUID, b"\x03\x02", response=True)       # STOP while idle
    for cmd in profile.setup_commands() + profile.start_commands(profile.config):
        await link.write(cmd.char_uuid, cmd.data, response=True)
    await link.write(PMD_CP_UUID, profile.start_commands(profile.config)[0].data, response=True)
    for _ in range(200):
        if frames:
            break
        await asyncio.sleep(0.01)
    await link.disconnect()
    statuses = [parse_cp_response(r).status for r in replies]
    assert statuses == [6, 0, 0, 6]  # ALREADY IN STATE, settings, started, already started
    for r in replies[1:3]:
        profile.parse_reply(r)
    assert profile.factor is not None and frames
    xyz = profile.decode(frames[0]).samples
    assert xyz.shape[1] == 3 and np.all(np.abs(xyz) < 8)
    assert not link.is_connected
