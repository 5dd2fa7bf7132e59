"""The production WristbandClient against emulated bands on Bumble's in-memory link.

Real bleak API (``BleakScanner`` / ``BleakClient`` via bleak-retry-connector's
``establish_connection``) -> our Bumble backend (tests/emulated) -> emulated GATT
peripherals serving each family's real bytes. Faults are injected on the peripheral
side. Every test checks the two invariants of the brief: each sample the band sent is
decoded exactly once and in order, and every span it did not send is reported as a gap
of the right length.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from emulated import (
    EMULATORS,
    EmulatedBand,
    EmulatedMetaWear,
    EmulatedPolar,
    World,
)
from movereg.errors import ProtocolError
from movereg.models import BandState, DeviceFamily, SampleBlock
from movereg.sensors import WristbandClient, open_band, scan

pytestmark = pytest.mark.timeout(120)

DEVICE_TIME = {DeviceFamily.POLAR_PMD, DeviceFamily.MOVESENSE}


async def until(cond: Callable[[], bool], limit_s: float = 20.0) -> None:
    """Event-loop friendly wait for a condition (generous timeout, no timing asserts)."""
    async with asyncio.timeout(limit_s):
        while not cond():  # noqa: ASYNC110 - conditions span objects; polling is simplest
            await asyncio.sleep(0.01)


class Collector:
    """Consume client.blocks() in the background (tracking the newest sample index)."""

    def __init__(self, client: WristbandClient, emu: EmulatedBand | None = None) -> None:
        self.blocks: list[SampleBlock] = []
        self.emu = emu
        self.max_index = -1
        self.task = asyncio.create_task(self._run(client))

    async def _run(self, client: WristbandClient) -> None:
        async for b in client.blocks():
            self.blocks.append(b)
            if self.emu is not None:
                self.max_index = int(self.emu.indices_from_g(b.samples[-1:])[0])

    @property
    def samples(self) -> int:
        return sum(b.n for b in self.blocks)


async def _setup(family: DeviceFamily, *, mtu: int = 247, speed: float = 0,
                 prepare: Callable[[EmulatedBand], None] | None = None,
                 **client_kw: object) -> tuple[World, EmulatedBand, WristbandClient, Collector]:
    world = World(mtu=mtu)
    await world.start()
    if speed == 0:  # default: bands with a device clock run 4x faster than real time
        speed = 4.0 if family in DEVICE_TIME else 1.0
    emu = EMULATORS[family](world, speed=speed)
    if prepare is not None:
        prepare(emu)
    await emu.power_on()
    kw: dict = {"scan_timeout_s": 3.0, "backoff_s": (0.02, 0.2), "reply_timeout_s": 3.0,
                # accelerated emulation on a loaded box: allow scheduling skew before a
                # device-time discontinuity counts as a clock jump (tests jump by days)
                "clock_options": {"speed": speed, "jump_tolerance_s": 60.0}}
    kw.update(client_kw)
    client = WristbandClient(emu.address, family, backend=world.backend, **kw)
    await client.start()
    return world, emu, client, Collector(client)


async def _finish(client: WristbandClient, col: Collector) -> None:
    await client.stop()
    await asyncio.wait_for(col.task, 20)


def check_exactly_once_and_gaps(emu: EmulatedBand, blocks: list[SampleBlock], *,
                                exact_gaps: bool = True,
                                in_flight_loss: bool = False) -> dict[str, int]:
    """Decoded == sent (once, in order); every jump in the index is a reported gap.

    ``in_flight_loss``: the client itself dropped the link (watchdog, reply timeout
    under CPU load), so frames the band sent during that teardown may never arrive;
    they must then be reported as gaps like any other loss.
    """
    idx = [emu.indices_from_g(b.samples) for b in blocks]
    got = np.concatenate(idx)
    sent = emu.sent_indices()
    assert len(got) == len(np.unique(got)), "a sample was decoded twice"
    assert np.all(np.diff(got) > 0), "samples out of order"
    assert np.isin(got, sent).all(), "decoded a sample that was never sent"
    unreceived = int(np.isin(sent[: np.searchsorted(sent, got[-1], "right")], got,
                             invert=True).sum())
    if not in_flight_loss:
        np.testing.assert_array_equal(got, sent[: len(got)])  # exactly what was sent
        assert len(sent) - len(got) <= emu.frame_n * 2  # at most the frames in flight at stop
    n_gaps = missing = lost = 0
    for prev, (b, ib) in zip(idx, list(zip(blocks, idx, strict=True))[1:], strict=False):
        jump = int(ib[0] - prev[-1] - 1)
        reported = sum(g.samples_missing for g in b.gaps)
        lost += jump
        if exact_gaps:
            assert reported == jump, (jump, b.gaps)
        if b.gaps:
            n_gaps += 1
            missing += reported
            span = b.gaps[-1].end_ns - b.gaps[0].start_ns
            assert abs(span - reported * 1e9 / b.fs_hz) <= 0.5e9 / b.fs_hz
    if not exact_gaps:
        # no device time: gap lengths come from arrival times. Each is an estimate (off by
        # the extra latency of the frame after it; under CPU load also split or merged with
        # arrival-jitter "gaps"), but the time line stays on host time, so the total
        # reported stays within a couple of seconds of the total lost.
        fs = blocks[0].fs_hz
        assert abs(missing - lost) <= max(2 * fs, 0.1 * lost), (missing, lost)
    return {"gaps": n_gaps, "missing": missing, "samples": len(got), "unreceived": unreceived}


# ------------------------------------------------------------------------------------
async def test_scan_finds_every_family_and_nothing_else() -> None:
    world = World()
    await world.start()
    emus = [cls(world) for cls in EMULATORS.values()]
    for e in emus:
        await e.power_on()
    results = await scan(1.0, backend=world.backend)
    assert {r.family for r in results} == set(EMULATORS)
    assert {r.address for r in results} == {e.address for e in emus}
    assert all(r.rssi is not None for r in results)


@pytest.mark.parametrize("family", list(EMULATORS), ids=[f.value for f in EMULATORS])
async def test_stream_each_family(family: DeviceFamily) -> None:
    _world, emu, client, col = await _setup(family)
    st = await client.wait_for_state(BandState.STREAMING, 20)
    assert st.state == BandState.STREAMING and st.battery_pct == 87
    want = 60 if family != DeviceFamily.INFINITIME else 12
    await until(lambda: col.samples >= want)
    assert client.status().rate_hz is not None
    await _finish(client, col)
    stats = check_exactly_once_and_gaps(emu, col.blocks, exact_gaps=family in DEVICE_TIME)
    if family in DEVICE_TIME:
        assert stats["gaps"] == 0
    assert client.status().state == BandState.STOPPED
    assert all(b.fs_hz == emu.fs_hz for b in col.blocks)
    if family == DeviceFamily.POLAR_PMD:
        assert isinstance(emu, EmulatedPolar)
        ops = [c[:2] for c in emu.cp_log]
        # settings, STOP before START, ..., STOP before disconnect
        assert ops[:3] == [b"\x01\x02", b"\x03\x02", b"\x02\x02"] and ops[-1] == b"\x03\x02"
        # samples are on the device's clock mapped to UTC: sample k at t0 + k/fs
        b0 = col.blocks[0]
        assert abs(b0.t0_ns - col.blocks[1].t0_ns + b0.n * 1e9 / 52) < 2e6


@pytest.mark.parametrize("family", [DeviceFamily.POLAR_PMD, DeviceFamily.MOVESENSE,
                                    DeviceFamily.METAWEAR], ids=lambda f: f.value)
async def test_link_drop_reconnects_and_reports_the_gap(family: DeviceFamily) -> None:
    _world, emu, client, col = await _setup(family)
    for k in range(2):
        await until(lambda k=k: emu.connections == k + 1 and col.samples > 60 * (k + 1))
        await emu.drop_link()
    await until(lambda: emu.connections == 3 and col.samples > 200)
    await _finish(client, col)
    stats = check_exactly_once_and_gaps(emu, col.blocks, exact_gaps=family in DEVICE_TIME)
    assert stats["missing"] > 0
    reasons = [g.reason for b in col.blocks for g in b.gaps]
    assert "disconnect" in reasons
    if family in DEVICE_TIME:
        assert stats["gaps"] == 2 and reasons == ["disconnect", "disconnect"]
    assert client.connections == 3


async def test_duplicated_notifications_after_reconnect_are_dropped() -> None:
    def dup(emu: EmulatedBand) -> None:
        emu.dup_frames = 6  # the BlueZ bug: each notification twice after (re)connect

    _world, emu, client, col = await _setup(DeviceFamily.POLAR_PMD, prepare=dup)
    await until(lambda: col.samples >= 8 * emu.frame_n)
    await emu.drop_link()
    frames = len(emu.sent)
    await until(lambda: emu.connections == 2 and col.samples >= (frames + 8) * emu.frame_n)
    await _finish(client, col)
    assert client.clock is not None and client.clock.stats.duplicates == emu.dups_sent == 12
    check_exactly_once_and_gaps(emu, col.blocks)


async def test_mtu_23_gives_a_clear_protocol_error_and_keeps_retrying() -> None:
    _world, emu, client, col = await _setup(DeviceFamily.POLAR_PMD, mtu=23)
    await until(lambda: client.last_error is not None and emu.connections >= 2)
    err = client.last_error
    assert isinstance(err, ProtocolError) and err.code == 10
    assert "MTU" in str(err)
    st = client.status()
    assert st.state in (BandState.RECONNECTING, BandState.SCANNING, BandState.CONNECTING)
    assert emu.sent == []
    await _finish(client, col)
    assert col.blocks == []


async def test_pmd_error_status_then_recovery_without_intervention() -> None:
    world = World()
    await world.start()
    emu = EmulatedPolar(world)
    emu.start_error = 13  # DEVICE IN CHARGER
    await emu.power_on()
    client = WristbandClient(emu.address, "polar_pmd", backend=world.backend,
                             scan_timeout_s=3.0, backoff_s=(0.02, 0.1))
    await client.start()
    col = Collector(client)
    st = await client.wait_for_state(BandState.RECONNECTING, 20)
    assert isinstance(client.last_error, ProtocolError) and client.last_error.code == 13
    assert "CHARGER" in str(client.last_error)
    assert st.state == BandState.RECONNECTING and st.attempt >= 1 and st.next_try_s is not None
    assert st.reason is not None and "CHARGER" in st.reason
    emu.start_error = None  # taken off the charger
    await until(lambda: col.samples > 60)
    assert client.status().state == BandState.STREAMING
    await _finish(client, col)
    check_exactly_once_and_gaps(emu, col.blocks)


async def test_silent_stall_triggers_watchdog_reconnect() -> None:
    _world, emu, client, col = await _setup(DeviceFamily.POLAR_PMD, watchdog_s=0.6)
    await until(lambda: col.samples > 60)
    emu.stalled = True  # connected, but no notifications
    await until(lambda: emu.connections >= 2)
    emu.stalled = False
    await until(lambda: col.samples > 200 and any(b.gaps for b in col.blocks))
    await _finish(client, col)
    check_exactly_once_and_gaps(emu, col.blocks)
    reasons = [g.reason for b in col.blocks for g in b.gaps]
    assert reasons and reasons[0] == "stall"


@pytest.mark.parametrize("jump_s", [-10 * 365 * 86400, 7 * 86400])
async def test_device_clock_jump_is_reanchored_and_recorded(jump_s: int) -> None:
    _world, emu, client, col = await _setup(DeviceFamily.POLAR_PMD)
    await until(lambda: col.samples > 100)
    emu.jump_clock(jump_s * 1_000_000_000)
    n_before = col.samples
    await until(lambda: col.samples > n_before + 150)
    await _finish(client, col)
    assert client.clock is not None and client.clock.stats.clock_jumps == 1
    # nothing lost, nothing doubled; the jump is recorded (not a data gap)
    idx = np.concatenate([emu.indices_from_g(b.samples) for b in col.blocks])
    np.testing.assert_array_equal(idx, emu.sent_indices()[: len(idx)])
    jumps = [g for b in col.blocks for g in b.gaps]
    assert [g.reason for g in jumps] == ["clock_jump"]
    # (where the re-anchored line continues is a clock unit test: it depends on arrival
    # times, which CPU load distorts here)
    t0 = [b.t0_ns for b in col.blocks]
    assert all(b >= a for a, b in itertools.pairwise(t0))


async def test_metawear_status_and_open_band_for_an_address() -> None:
    world = World()
    await world.start()
    emu = EmulatedMetaWear(world)
    await emu.power_on()
    band = open_band(emu.address, backend=world.backend, scan_timeout_s=3.0)  # family from adv
    assert isinstance(band, WristbandClient)
    await band.start()
    col = Collector(band)
    await until(lambda: col.samples > 50)
    st = band.status()
    assert st.family == "metawear" and st.state == BandState.STREAMING
    await band.stop()
    await asyncio.wait_for(col.task, 20)
    assert band.status().state == BandState.STOPPED and band.status().reason == "stopped"


# ------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_one_hour_accelerated_with_100_disconnects() -> None:
    """1 h of Polar data at 150x speed, 100 injected link drops.

    Every sample the band sent while connected is decoded exactly once and in order;
    every span it sampled while disconnected (its clock keeps running) is one gap with
    exactly the missing sample count.
    """
    speed = 150.0
    hour = 3600 * 52
    world = World()
    await world.start()
    emu = EmulatedPolar(world, speed=speed)
    emu.dup_frames = 2  # and the BlueZ duplicate bug after every reconnect
    await emu.power_on()
    client = WristbandClient(
        emu.address, "polar_pmd", backend=world.backend, scan_timeout_s=5.0,
        backoff_s=(0.01, 0.05), queue_size=1 << 16,
        clock_options={"speed": speed, "jump_tolerance_s": 1e9})  # no clock resets here
    await client.start()
    col = Collector(client, emu)
    for i in range(100):
        target = (i + 1) * hour // 101
        k = len(emu.sent)
        # the band has sent since the last drop, the client decoded it, and the emulated
        # clock reached the next drop time
        await until(lambda t=target, k=k: emu.index_now() >= t and len(emu.sent) > k
                    and col.max_index >= emu.sent[k][0], 180)
        await emu.drop_link()
    k = len(emu.sent)
    await until(lambda: emu.index_now() >= hour and len(emu.sent) > k
                and col.max_index >= emu.sent[k][0], 180)
    await _finish(client, col)
    # only the band's 100 drops (between frames) -> nothing lost in flight; if the
    # client itself had to reconnect (CPU starvation: reply timeout, watchdog), frames
    # in flight then are lost and must be reported as gaps like any other loss
    extra = emu.connections - 101
    stats = check_exactly_once_and_gaps(emu, col.blocks, in_flight_loss=extra > 0)
    assert extra >= 0 and stats["gaps"] >= 100
    assert client.clock is not None
    if extra == 0:
        assert stats["gaps"] == 100 and stats["unreceived"] == 0
        assert client.clock.stats.duplicates == emu.dups_sent > 100
    sent = emu.sent_indices()
    print(f"\n1 h accelerated: sent {len(sent)} samples, decoded {stats['samples']}, "
          f"100 disconnects (+{extra} client reconnects) -> {stats['gaps']} gaps, "
          f"{stats['missing']} samples missing ({stats['missing'] / 52:.0f} s), "
          f"duplicates dropped {client.clock.stats.duplicates}")


async def test_stop_never_hangs_when_nobody_reads_the_blocks() -> None:
    world = World()
    await world.start()
    emu = EmulatedPolar(world, speed=4.0)
    await emu.power_on()
    client = WristbandClient(emu.address, "polar_pmd", backend=world.backend,
                             scan_timeout_s=3.0, out_queue_size=2,
                             clock_options={"speed": 4.0})
    await client.start()
    await until(lambda: client.blocks_dropped > 0)  # the consumer never came
    await asyncio.wait_for(client.stop(), 20)
    left = [b async for b in client.blocks()]
    assert 1 <= len(left) <= 2
    assert emu.cp_log[-1] == b"\x03\x02"


async def test_an_unsupported_device_stops_with_a_clear_error() -> None:
    world = World()
    await world.start()
    emu = EmulatedPolar(world, name="Kettle 3000")  # serves PMD but advertises no match
    emu._adv = lambda: [(0x09, b"Kettle 3000")]  # type: ignore[method-assign]
    await emu.power_on()
    band = open_band(emu.address, backend=world.backend, scan_timeout_s=3.0)
    await band.start()
    with pytest.raises(ProtocolError, match="not a band movereg can read"):
        async with asyncio.timeout(20):
            async for _ in band.blocks():
                pass
    assert band.status().state == BandState.STOPPED
    assert emu.connections == 0


async def test_callback_queue_drops_oldest_when_full_and_counts() -> None:
    from movereg.sensors._session import DATA as _DATA
    from movereg.sensors._session import Session as _Session
    from movereg.sensors.decoders import profile_for

    client = WristbandClient("AA:BB:CC:DD:EE:FF", "polar_pmd", queue_size=2)
    session = _Session(profile_for("polar_pmd"))
    for k in range(5):
        client._enqueue(session, _DATA, bytearray([k]))
    assert client.frames_dropped == 3
    kept = [client._in.get_nowait()[2] for _ in range(2)]
    assert kept == [b"\x03", b"\x04"]  # the newest survive
    await client.stop()  # never started: blocks() ends at once
    assert [b async for b in client.blocks()] == []


async def test_movesense_subscribe_error_arrives_later_and_is_reported() -> None:
    """An error status the band sends on its own (no command waits) is still acted on."""
    def no_slot(emu: EmulatedBand) -> None:
        emu.subscribe_status = 507  # type: ignore[attr-defined]  # no free subscription slot

    _world, emu, client, col = await _setup(DeviceFamily.MOVESENSE, prepare=no_slot,
                                            watchdog_s=30.0)
    st = await client.wait_for_state(BandState.RECONNECTING, 20)
    err = client.last_error
    assert isinstance(err, ProtocolError) and err.code == 507
    assert st.reason is not None and "507" in st.reason
    emu.subscribe_status = 200  # type: ignore[attr-defined]  # the other app let go
    await until(lambda: col.samples > 60)
    await _finish(client, col)
    check_exactly_once_and_gaps(emu, col.blocks)
