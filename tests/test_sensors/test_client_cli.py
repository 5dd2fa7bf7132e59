"""`movereg scan` / `movereg record`, raw capture, open_band("sim") and error mapping."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulated import EMULATORS, EmulatedPolar, World
from movereg.errors import (
    BluetoothUnavailableError,
    ConnectionLostError,
    DeviceNotFoundError,
    InputFileError,
    ParameterError,
)
from movereg.models import BandState
from movereg.sensors import (
    CaptureWriter,
    DeviceClock,
    SimulatedBandConnection,
    open_band,
    read_capture,
    replay_capture,
)
from movereg.sensors.capture import capture_meta

pytestmark = pytest.mark.timeout(120)

NO_BT_ENV = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/movereg-test"}


def _movereg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "movereg", *args], capture_output=True,
                          text=True, env=NO_BT_ENV, cwd=cwd, timeout=120, check=False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forces BlueZ without D-Bus")
@pytest.mark.parametrize("argv", [["scan", "--timeout", "0.5"],
                                  ["record", "--device", "AA:BB:CC:DD:EE:FF", "--out", "x.csv",
                                   "--duration", "5"]])
def test_without_bluetooth_one_clear_line_exit_2(argv: list[str], tmp_path: Path) -> None:
    r = _movereg(*argv, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "Bluetooth is not available" in lines[0] and "--device sim" in lines[0]


def test_record_sim_writes_csv_and_raw_capture(tmp_path: Path) -> None:
    out, raw = tmp_path / "rec.csv", tmp_path / "rec.jsonl"
    r = _movereg("record", "--device", "sim:4", "--out", str(out), "--raw", str(raw),
                 "--duration", "20", "--speed", "40", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "recorded" in r.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "time,x,y,z"
    data = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])
    assert 20 * 52 <= len(data) <= 40 * 52  # (+ what was decoded when the duration was hit)
    assert all(len(ln.split(",")[0].split(".")[1]) == 9 for ln in lines[1:20])  # ns digits
    dt = np.diff(data[:, 0])
    assert np.all(np.abs(dt - 1 / 52) < 0.2 / 52)  # regular: one row per sample
    assert np.all(np.abs(np.linalg.norm(data[:, 1:], axis=1) - 1.0) < 3.0)  # g, not mg
    # the raw capture replays through the same decoder and clock to the same samples
    from movereg.sensors.simulated import SimulatedBand

    frames = list(read_capture(raw))
    assert frames and all(isinstance(b, bytes) and t > 0 for b, t in frames)
    blocks = list(replay_capture(raw, SimulatedBand(4).profile, DeviceClock("sim-4", 52, True)))
    replayed = np.concatenate([b.samples for b in blocks])
    np.testing.assert_allclose(replayed[: len(data)], data[:, 1:], atol=1e-5)


async def test_scan_and_record_against_emulated_bands(tmp_path: Path) -> None:
    from movereg.commands.record import record
    from movereg.commands.scan import scan_and_print

    world = World()
    await world.start()
    emus = [cls(world) for cls in EMULATORS.values()]
    for e in emus:
        await e.power_on()
    buf = io.StringIO()
    assert await scan_and_print(1.0, backend=world.backend, out=buf) == 5
    text = buf.getvalue()
    assert all(e.address in text for e in emus) and "polar_pmd" in text

    polar = next(e for e in emus if isinstance(e, EmulatedPolar))
    out, err = tmp_path / "polar.csv", io.StringIO()
    n = await record(polar.address, out, duration_s=1.5, backend=world.backend, err=err,
                     band_options={"scan_timeout_s": 3.0})
    rows = out.read_text().splitlines()[1:]
    assert n == len(rows) > 52
    xyz = np.array([[float(v) for v in r.split(",")[1:]] for r in rows])
    idx = polar.indices_from_g(xyz)
    np.testing.assert_array_equal(idx, polar.sent_indices()[: len(idx)])
    assert polar.cp_log[-1] == b"\x03\x02"  # STOP sent before disconnect


async def test_open_band_sim_runs_the_decode_and_clock_path() -> None:
    band = open_band("sim:7", speed=200.0, duration_s=30)
    assert isinstance(band, SimulatedBandConnection) and band.device_id == "sim-7"
    await band.start()
    blocks = [b async for b in band.blocks()]
    assert sum(b.n for b in blocks) >= 30 * 52
    assert all(not b.gaps for b in blocks)
    t0 = np.array([b.t0_ns for b in blocks])
    ends = np.array([b.t_end_ns for b in blocks])
    assert np.all(np.abs(t0[1:] - ends[:-1]) < 1e6)  # contiguous on the UTC time line
    st = band.status()
    assert st.state == BandState.STOPPED and st.family == "simulated"
    assert open_band("sim", seed=3).device_id == "sim-3"
    with pytest.raises(ParameterError):
        open_band("sim:x")


def test_capture_roundtrip_and_bad_lines(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    with CaptureWriter(p, meta={"family": "polar_pmd"}) as w:
        w(b"\x01\x02\xff", 123)
        w(bytearray(b"\x00"), 456)
    assert list(read_capture(p)) == [(b"\x01\x02\xff", 123), (b"\x00", 456)]
    assert capture_meta(p) == {"family": "polar_pmd"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t_ns": 1, "hex": "00"}\n{"t_ns": 2}\n')
    with pytest.raises(InputFileError) as ei:
        list(read_capture(bad))
    assert ei.value.line == 2
    bad.write_text("not json\n")
    with pytest.raises(InputFileError):
        list(read_capture(bad))
    with pytest.raises(InputFileError):
        list(read_capture(tmp_path / "missing.jsonl"))


def test_bleak_errors_are_mapped_once() -> None:
    from bleak.exc import BleakBluetoothNotAvailableError, BleakDeviceNotFoundError, BleakError
    from bleak.exc import BleakBluetoothNotAvailableReason as R
    from bleak_retry_connector import BleakAbortedError, BleakNotFoundError

    from movereg.sensors.transport import map_error

    assert isinstance(map_error(FileNotFoundError(2, "x")), BluetoothUnavailableError)
    assert isinstance(map_error(BleakBluetoothNotAvailableError("off", R.POWERED_OFF)),
                      BluetoothUnavailableError)
    assert isinstance(map_error(BleakDeviceNotFoundError("AA", "gone")), DeviceNotFoundError)
    assert isinstance(map_error(BleakNotFoundError("x")), DeviceNotFoundError)
    for exc in (BleakAbortedError("x"), BleakError("le-connection-abort-by-local"),
                TimeoutError(), EOFError()):
        e = map_error(exc, address="AA")
        assert isinstance(e, ConnectionLostError) and e.advice


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forces BlueZ without D-Bus")
async def test_client_without_bluetooth_stops_with_the_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Default backend, no D-Bus: the client stops and blocks() raises one clear error."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", NO_BT_ENV["DBUS_SYSTEM_BUS_ADDRESS"])
    band = open_band("AA:BB:CC:DD:EE:FF", family="polar_pmd", scan_timeout_s=1.0)
    await band.start()
    with pytest.raises(BluetoothUnavailableError):
        async with asyncio.timeout(30):
            async for _ in band.blocks():
                pass
    assert band.status().state == BandState.STOPPED
