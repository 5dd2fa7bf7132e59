"""Golden tests: every byte vector in the BLE protocol reference decodes exactly.

Vectors (hex strings below) come from: the Polar PMD specification figures [DOC], the
polar-ble-sdk unit test ``AccDataTest.kt`` [SDK], the MetaWear SDK Python tests [SDK],
and bytes derived from the documented layouts (Movesense, InfiniTime, micro:bit)
[DERIVED]. See tests/data/README.md ("BLE protocol vectors") for provenance.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import numpy as np
import pytest

from movereg.errors import DecodeError, ProtocolError
from movereg.models import DeviceFamily
from movereg.sensors.decoders import (
    PMD_CP_UUID,
    POLAR_EPOCH_OFFSET_NS,
    MeasurementType,
    StreamConfig,
    match_advertisement,
    profile_for,
)
from movereg.sensors.decoders import metawear as mw
from movereg.sensors.decoders import microbit as mb
from movereg.sensors.decoders import movesense as ms
from movereg.sensors.decoders import polar_pmd as pmd
from movereg.sensors.decoders.infinitime import decode_infinitime_motion

H = bytes.fromhex

# ---------------------------------------------------------------- Polar control point
H10_SETTINGS_REPLY = H("F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00")
VERITY_SETTINGS_REPLY = H("F0 01 02 00 00 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
H10_START = H("02 02 02 01 08 00 00 01 C8 00 01 01 10 00")
H10_START_REPLY = H("F0 02 02 00 00 01")
VERITY_START = H("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
VERITY_START_REPLY = H("F0 02 02 00 00 05 01 40 DA 7F 39")
STOP_ACC_REPLY = H("F0 03 02 00 00")
H10_50HZ_4G_START = H("02 02 00 01 32 00 01 01 10 00 02 01 04 00")  # [DERIVED]
VERITY_FEATURES = H("0F 6E" + " 00" * 15)

# ----------------------------------------------------------------- Polar data frames
EX1_FRAME = H("02 646C76C43CC67F07 80 D0FF6501E40F 08 05 FC07FF 0C13F2 11F11A F9EEF8 EF0C03")
EX2_FRAME = H("02 6500000000000000 81 F1FF1400F003 06 01 7B0F08")
EX3_PAYLOAD = H(
    "7107F06A9E8D0A38BE5CBEBA2F96B3EE4BE5ADFB42B9EBBE4CFEBA2F92BFEE4BE4B1FB12B9ECBD3C3EBB2F8F"
    "D3DE4BE3B5F7D2B8EDBD307E7B2F8BE3CE8BE2BAF7A2B8EEBC20BE7B2F88F3CECBE1BDEF52F8EFBC18FE3B2F"
    "8403BFCBE0C2EF32B8F0BB044EBC2E8113AF0BE0C6EFF2F7F1B9FC7DBC2E7D279F4BDFCAEBC2F7F2B8ECCD7C"
    "2E7B378F4BDECEE392F7F3B8E00DFD2D774B7FCBDDD2DF6237F5B7D44DBD2D745B6FCBDCD7D73237F6B5C88D"
    "7D2D716B4F4BDCDCD3F236F7B4BCDDFD2C6F7B3F4BDBE0CFD236F8B2B02DBE2C6C8F1FCBDAE3C7A276F9")
EX3_FRAME = H("02 0094357700000000 80") + EX3_PAYLOAD
EX4_FRAME = H("02 EA54A2428B455208 01 45FFE4FFB503 45FFE4FFB803")
# SDK AccDataTest "process acc raw data frame type 1" (36 samples of int16 mG)
SDK_RAW1_CONTENT = H(
    "F7FFFFFFE703F8FFFEFFE503F9FFFFFFE503FAFFFFFFE603FAFFFEFFE603F9FFFFFFE503F8FFFFFFE603"
    "F8FFFEFFE603FAFFFFFFE503FAFFFFFFE703FAFFFFFFE503F8FFFFFFE603F7FFFFFFE603F8FFFEFFE603"
    "F9FFFEFFE703F9FF0000E603F9FFFFFFE603F7FFFEFFE503F9FFFFFFE503F9FFFFFFE503FAFF0000E603"
    "F9FFFEFFE603F8FFFFFFE603F8FFFFFFE503F9FFFFFFE603F9FFFFFFE503FAFFFFFFE603F9FFFFFFE503"
    "F9FFFFFFE503F8FFFEFFE603F9FFFFFFE603F9FFFFFFE603F9FF0000E503F9FFFEFFE603F8FFFEFFE603"
    "F7FFFEFFE603")
SDK_RAW1_FRAME = H("02 0094357700000000 01") + SDK_RAW1_CONTENT


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).replace(
        microsecond=(ns % 1_000_000_000) // 1000)


# =========================================================== Polar PMD control point
def test_pmd_command_builders_match_spec() -> None:
    assert pmd.get_settings_command() == H("01 02")
    assert pmd.stop_command() == H("03 02")
    assert pmd.start_command([(2, 8), (0, 200), (1, 16)]) == H10_START
    assert pmd.start_command([(0, 52), (1, 16), (2, 8), (4, 3)]) == VERITY_START
    assert pmd.start_command([], MeasurementType.SDK_MODE) == H("02 09")
    assert pmd.stop_command(MeasurementType.SDK_MODE) == H("03 09")
    assert pmd.start_command([], offline=True)[:2] == H("02 82")


def test_pmd_h10_settings_reply() -> None:
    r = pmd.parse_cp_response(H10_SETTINGS_REPLY)
    assert (r.op_code, r.meas_type, r.status, r.more_frames) == (1, 2, 0, False)
    s = pmd.parse_settings(r.params)
    assert s == {0: (25, 50, 100, 200), 1: (16,), 2: (2, 4, 8)}


def test_pmd_verity_settings_reply() -> None:
    s = pmd.parse_settings(pmd.parse_cp_response(VERITY_SETTINGS_REPLY).params)
    assert s == {0: (52,), 1: (16,), 2: (8,), 4: (3,)}


def test_pmd_verity_session_builds_spec_start_and_learns_factor() -> None:
    p = profile_for(DeviceFamily.POLAR_PMD, name="Polar Sense B36B5B21")
    assert [c.data for c in p.setup_commands()] == [H("01 02")]
    p.parse_reply(VERITY_SETTINGS_REPLY)
    (start,) = p.start_commands(StreamConfig(fs_hz=52, range_g=8))
    assert start.data == VERITY_START and start.char_uuid == PMD_CP_UUID and start.expect_reply
    p.parse_reply(VERITY_START_REPLY)
    assert isinstance(p, pmd.PolarPmdProfile)
    assert p.factor == struct.unpack("<f", H("40 DA 7F 39"))[0]
    assert p.factor == pytest.approx(0.000243999995, abs=1e-12)
    assert p.fs_hz == 52.0
    (stop,) = p.stop_commands()
    assert stop.data == H("03 02")
    p.parse_reply(STOP_ACC_REPLY)  # success: no error


def test_pmd_h10_start_reply_reserved_byte_has_no_factor() -> None:
    p = pmd.PolarPmdProfile(model="h10")
    p.parse_reply(H10_START_REPLY)
    assert p.factor is None


def test_pmd_h10_derived_50hz_4g_start() -> None:
    p = profile_for("polar_pmd", name="Polar H10 9A8B7C6D")
    p.parse_reply(H10_SETTINGS_REPLY)
    (start,) = p.start_commands(StreamConfig(fs_hz=50, range_g=4))
    assert start.data == H10_50HZ_4G_START
    (start200,) = p.start_commands(StreamConfig(fs_hz=200, range_g=8))
    assert sorted(pmd.parse_settings(start200.data[2:]).items()) == [
        (0, (200,)), (1, (16,)), (2, (8,))]


def test_pmd_sdk_mode_replies_parse_as_success() -> None:
    for reply in (H("F0 02 09 00 00"), H("F0 03 09 00 00"), H("F0 01 02 00 00")):
        r = pmd.parse_cp_response(reply)
        assert r.ok and r.params == b""
        pmd.check_response(r)


def test_pmd_feature_read_verity() -> None:
    assert len(VERITY_FEATURES) == 17
    assert pmd.parse_features(VERITY_FEATURES) == {
        MeasurementType.PPG, MeasurementType.ACC, MeasurementType.PPI,
        MeasurementType.GYRO, MeasurementType.MAG}
    p = pmd.PolarPmdProfile()
    p.parse_reply(VERITY_FEATURES)
    assert p.features is not None and MeasurementType.ACC in p.features


NAMES = ["SUCCESS", "INVALID OP CODE", "INVALID MEASUREMENT TYPE", "NOT SUPPORTED",
         "INVALID LENGTH", "INVALID PARAMETER", "ALREADY IN STATE", "INVALID RESOLUTION",
         "INVALID SAMPLE RATE", "INVALID RANGE", "INVALID MTU", "INVALID NUMBER OF CHANNELS",
         "INVALID STATE", "DEVICE IN CHARGER", "DISK FULL"]


@pytest.mark.parametrize("code", range(1, 15))
def test_pmd_error_status_raises_protocol_error(code: int) -> None:
    reply = bytes([0xF0, 0x02, 0x02, code, 0x00])
    r = pmd.parse_cp_response(reply)
    assert r.status == code and r.status_name == NAMES[code]
    p = pmd.PolarPmdProfile()
    with pytest.raises(ProtocolError) as ei:
        p.parse_reply(reply)
    assert ei.value.code == code and ei.value.family == "polar_pmd"
    assert NAMES[code] in str(ei.value) and ei.value.advice


def test_pmd_status_table_complete() -> None:
    assert [pmd.PMD_STATUS[i][0] for i in range(15)] == NAMES


def test_pmd_stop_when_not_streaming_is_benign() -> None:
    p = pmd.PolarPmdProfile()
    p.parse_reply(H("F0 03 02 06 00"))  # ALREADY IN STATE
    p.parse_reply(H("F0 03 02 0C 00"))  # INVALID STATE
    with pytest.raises(ProtocolError):
        p.parse_reply(H("F0 03 02 05 00"))


def test_pmd_more_frames_concatenate() -> None:
    p = pmd.PolarPmdProfile()
    p.parse_reply(H("F0 01 02 00 01 00 04 19 00 32 00"))  # more frames follow
    p.parse_reply(H("F0 01 02 00 00 64 00 C8 00 01 01 10 00 02 01 04 00"))
    assert p.available == {0: (25, 50, 100, 200), 1: (16,), 2: (4,)}


# ============================================================== Polar PMD data frames
def test_pmd_example1_verity_delta_frame() -> None:
    pf = pmd.parse_pmd_frame(EX1_FRAME)
    assert pf.timestamp_ns == 540368444604181604
    assert _utc(pf.unix_ns).isoformat().startswith("2017-02-14T06:20:44.604")
    assert pf.compressed and pf.frame_type == 0
    assert pf.samples.tolist() == [[-48, 357, 4068], [-52, 364, 4067], [-40, 383, 4053],
                                   [-23, 368, 4079], [-30, 350, 4071], [-47, 362, 4074]]
    factor = struct.unpack("<f", H("40 DA 7F 39"))[0]
    mg = pmd.acc_frame_to_mg_sdk(pf, factor)
    assert mg[:3].tolist() == [[-11, 87, 992], [-12, 88, 992], [-9, 93, 988]]
    p = pmd.PolarPmdProfile()
    p.parse_reply(VERITY_START_REPLY)
    block = p.decode(EX1_FRAME)
    assert block.samples.dtype == np.float32 and block.samples.shape == (6, 3)
    np.testing.assert_allclose(block.samples, pf.samples * factor, rtol=1e-6)
    assert block.device_time_ns == 540368444604181604 + POLAR_EPOCH_OFFSET_NS
    assert block.fs_hz == 52.0


def test_pmd_example2_sdk_6bit_type1() -> None:
    pf = pmd.parse_pmd_frame(EX2_FRAME)
    assert pf.compressed and pf.frame_type == 1 and pf.timestamp_ns == 101
    assert pf.samples.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]
    assert pmd.acc_frame_to_mg_sdk(pf, 1.0).tolist() == [[-15, 20, 1008], [-20, 17, 1008]]
    np.testing.assert_allclose(pmd.acc_frame_to_g(pf, 1.0), pf.samples / 1000.0, rtol=1e-6)
    assert pmd.pmd_sample_times(101, 2, previous_ts=100).tolist() == [100, 101]


def test_pmd_example3_sdk_10bit_full_payload() -> None:
    assert len(EX3_PAYLOAD) == 218
    pf = pmd.parse_pmd_frame(EX3_FRAME)
    assert pf.timestamp_ns == 2_000_000_000
    assert pf.samples.shape == (57, 3)
    s0 = np.array([1905, 27376, -29282])
    s1 = s0 + np.array([190, -105, -85])
    assert pf.samples[0].tolist() == s0.tolist() and pf.samples[1].tolist() == s1.tolist()
    factor = np.float32(2.44e-4)
    mg = pmd.acc_frame_to_mg_sdk(pf, float(factor))
    # the SDK test asserts (factor * v * 1000f).toInt() in float32
    for row, ref in ((0, s0), (1, s1)):
        want = [int(np.float32(np.float32(factor * np.float32(v)) * np.float32(1000))) for v in ref]
        assert mg[row].tolist() == want
    assert np.abs(mg).max() <= 8 * 1000  # "validate data in range" (±8 G)
    t = pmd.pmd_sample_times(2_000_000_000, 57, previous_ts=100)
    assert t[0] == round(100 + (2_000_000_000 - 100) / 57) and t[-1] == 2_000_000_000
    assert np.all(np.diff(t) > 0)


def test_pmd_example4_h10_raw16() -> None:
    pf = pmd.parse_pmd_frame(EX4_FRAME)
    assert pf.timestamp_ns == 599618164814402794
    assert _utc(pf.unix_ns).isoformat().startswith("2019-01-01T00:36:04.814")
    assert not pf.compressed and pf.frame_type == 1
    assert pf.samples.tolist() == [[-187, -28, 949], [-187, -28, 952]]  # spec erratum: -184
    block = pmd.PolarPmdProfile(model="h10").decode(EX4_FRAME)
    np.testing.assert_allclose(block.samples[0], [-0.187, -0.028, 0.949], rtol=1e-6)


def test_pmd_sdk_raw_type1_frame() -> None:
    pf = pmd.parse_pmd_frame(SDK_RAW1_FRAME)
    assert pf.samples.shape == (len(SDK_RAW1_CONTENT) // 6, 3) == (36, 3)
    assert pf.samples[:2].tolist() == [[-9, -1, 999], [-8, -2, 997]]
    t = pmd.pmd_sample_times(pf.timestamp_ns, 36, fs_hz=52)
    assert t[-1] == 2_000_000_000 and t[0] == round(2e9 - 1e9 / 52 * 35)


def test_pmd_raw_int8_and_int24() -> None:
    f8 = H("02 0000000000000000 00 FF 01 80")
    assert pmd.parse_pmd_frame(f8).samples.tolist() == [[-1, 1, -128]]
    f24 = H("02 0000000000000000 02 FFFFFF 010000 000080")
    assert pmd.parse_pmd_frame(f24).samples.tolist() == [[-1, 1, -(1 << 23)]]


def test_pmd_non_acc_frame_is_decode_error() -> None:
    with pytest.raises(DecodeError) as ei:
        pmd.parse_pmd_frame(H("00") + EX4_FRAME[1:])
    assert ei.value.offset == 0 and ei.value.family == "polar_pmd"


# ================================================================= MetaWear/MetaMotion
def test_metawear_single_sample_4g() -> None:
    g, packed = mw.decode_metawear_acc(H("03 04 16 C4 94 A2 2A D0"), 4)
    assert not packed
    np.testing.assert_allclose(g, np.array([[-15338, -23916, -12246]]) / 8192, rtol=1e-6)
    np.testing.assert_array_equal(np.round(g.astype(np.float64), 3), [[-1.872, -2.919, -1.495]])


def test_metawear_packed_8g() -> None:
    frame = H("03 1C 62 B7 53 0D E9 FD 16 D0 4D 0E 57 02 8A FF A1 05 0A 01")
    p = mw.MetaWearProfile(StreamConfig(fs_hz=100, range_g=8))
    block = p.decode(frame)
    np.testing.assert_array_equal(np.round(block.samples.astype(np.float64), 3), [
        [-4.539, 0.833, -0.131], [-2.995, 0.894, 0.146], [-0.029, 0.352, 0.065]])
    assert block.device_time_ns is None and block.fs_hz == 100.0


def test_metawear_commands_bmi160_and_bmi270() -> None:
    assert mw.acc_config_command("bmi160", 100, 8) == H("03 03 28 08")
    assert mw.acc_config_command("bmi270", 100, 8) == H("03 03 A8 02")
    b160 = {12.5: 0x25, 25: 0x26, 50: 0x27, 100: 0x28, 200: 0x29, 400: 0x2A, 800: 0x2B,
            1600: 0x2C, 0.78125: 0x81, 1.5625: 0x82, 3.125: 0x83, 6.25: 0x84}
    for hz, code in b160.items():
        assert mw.acc_config_command("bmi160", hz, 2)[2] == code
        low = code & 0x0F
        want270 = low | (0xA0 if low >= 5 else 0x20)
        assert mw.acc_config_command("bmi270", hz, 2)[2] == want270
    for g, c160, c270 in ((2, 0x03, 0x00), (4, 0x05, 0x01), (8, 0x08, 0x02), (16, 0x0C, 0x03)):
        assert mw.range_code("bmi160", g) == (g, c160)
        assert mw.range_code("bmi270", g) == (g, c270)
    p = mw.MetaWearProfile(StreamConfig(fs_hz=100, range_g=8))
    assert [c.data for c in p.start_commands(StreamConfig(fs_hz=100, range_g=8))] == [
        H("03 03 28 08"), H("03 04 01"), H("03 02 01 00"), H("03 01 01")]
    assert all(not c.response for c in p.start_commands(StreamConfig(100, 8)))
    assert [c.data for c in p.stop_commands()] == [H("03 01 00"), H("03 02 00 01"), H("03 04 00")]
    assert mw.start_commands("bmi160", 100, 8, packed=True)[1] == H("03 1C 01")
    assert mw.start_commands("bmi270", 100, 8, packed=True)[1] == H("03 05 01")
    assert mw.start_commands("bmi270", 6.25, 8, packed=False)[-1] == H("03 01 02")
    assert mw.stop_commands("bmi270", packed=True)[-1] == H("03 05 00")


def test_metawear_chip_discovery_and_connection_parameters() -> None:
    p = mw.MetaWearProfile()
    assert [c.data for c in p.setup_commands()] == [H("03 80")]
    assert p.is_reply(H("03 80 04 00")) and not p.is_reply(H("03 04 00 00 00 00 00 00"))
    p.parse_reply(H("03 80 04 00"))  # MetaMotion S
    assert p.chip == "bmi270"
    p.parse_reply(H("03 80 01 02"))  # MetaMotion RL
    assert p.chip == "bmi160"
    assert mw.connection_parameters_command(7.5, 7.5, 0, 6000) == H("11 09 06 00 06 00 00 00 58 02")
    assert mw.connection_parameters_command(750, 1000, 128, 16384) == H("11 09 58 02 20 03 80 00 66 06")
    fast = mw.MetaWearProfile(StreamConfig(fs_hz=400, range_g=16))
    cmds = [c.data for c in fast.start_commands(StreamConfig(fs_hz=400, range_g=16))]
    assert cmds[0] == H("11 09 06 00 06 00 00 00 58 02") and cmds[2] == H("03 1C 01")


# ========================================================================= Movesense
MOVESENSE_FRAME = H("02 63 40 E2 01 00 8F C2 F5 3D 7B 14 AE BE C3 F5 1C 41 "
                    "CD CC CC 3D 9A 99 99 BE D7 A3 1C 41")


def test_movesense_commands() -> None:
    assert ms.subscribe_command(52, 99) == H("01 63 2F 4D 65 61 73 2F 41 63 63 2F 35 32")
    assert ms.hello_command(99) == H("00 63") and ms.unsubscribe_command(99) == H("02 63")
    p = ms.MovesenseProfile(StreamConfig(fs_hz=50))
    assert p.start_commands(StreamConfig(fs_hz=50))[0].data.endswith(b"/Meas/Acc/52")


def test_movesense_derived_data_frame() -> None:
    d = ms.decode_movesense_data(MOVESENSE_FRAME)
    assert d.ref == 99 and d.timestamp_ms == 123456
    np.testing.assert_allclose(d.samples_ms2, [[0.12, -0.34, 9.81], [0.10, -0.30, 9.79]], rtol=1e-6)
    block = ms.MovesenseProfile().decode(MOVESENSE_FRAME)
    np.testing.assert_allclose(block.samples, d.samples_ms2 / 9.80665, rtol=1e-6)
    assert block.device_time_ns == 123_456_000_000 + round(1e9 / 52)


def test_movesense_results() -> None:
    p = ms.MovesenseProfile()
    assert p.is_reply(H("01 63 48 65 6C 6C 6F")) and not p.is_reply(MOVESENSE_FRAME)
    p.parse_reply(H("01 63") + b"Hello")
    assert p.hello_seen
    p.parse_reply(H("01 63 00 C8"))  # 200
    with pytest.raises(ProtocolError) as ei:
        p.parse_reply(H("01 63 01 FB"))
    assert ei.value.code == 507


# ================================================================ InfiniTime, micro:bit
def test_infinitime_derived() -> None:
    np.testing.assert_array_equal(decode_infinitime_motion(H("00 04 00 FF 00 00")),
                                  [[1.0, -0.25, 0.0]])
    block = profile_for("infinitime").decode(H("00 04 00 FF 00 00"))
    assert block.fs_hz == 10.0 and block.device_time_ns is None


def test_microbit_derived() -> None:
    np.testing.assert_allclose(mb.decode_microbit_acc(H("F0 FF 08 00 00 FC")),
                               [[-0.016, 0.008, -1.024]], rtol=1e-6)
    assert mb.period_command(20) == H("14 00")
    p = mb.MicrobitProfile(StreamConfig(fs_hz=50))
    (cmd,) = p.start_commands(StreamConfig(fs_hz=50))
    assert cmd.data == H("14 00") and cmd.char_uuid == mb.MICROBIT_PERIOD_UUID
    assert p.fs_hz == 50.0


# ========================================================================== registry
@pytest.mark.parametrize(("name", "uuids", "family"), [
    ("Polar Sense B36B5B21", [], DeviceFamily.POLAR_PMD),
    ("Polar H10 9A8B7C6D", ["0000180d-0000-1000-8000-00805f9b34fb"], DeviceFamily.POLAR_PMD),
    ("Polar OH1 12345678", [], DeviceFamily.POLAR_PMD),
    ("Polar 360 1A2B3C4D", [], DeviceFamily.POLAR_PMD),
    (None, [pmd.PMD_SERVICE_UUID.upper()], DeviceFamily.POLAR_PMD),
    ("MetaWear", [], DeviceFamily.METAWEAR),
    (None, [mw.METAWEAR_SERVICE_UUID], DeviceFamily.METAWEAR),
    ("Movesense 174630000192", [], DeviceFamily.MOVESENSE),
    (None, [ms.MOVESENSE_SERVICE_UUID], DeviceFamily.MOVESENSE),
    ("InfiniTime", [], DeviceFamily.INFINITIME),
    ("BBC micro:bit [zogev]", [], DeviceFamily.MICROBIT),
    (None, [mb.MICROBIT_ACC_SERVICE_UUID], DeviceFamily.MICROBIT),
    ("Polar Vantage V2", ["180d"], None),
    ("Fitbit", [], None),
    (None, [], None),
])
def test_match_advertisement(name: str | None, uuids: list[str], family: DeviceFamily | None) -> None:
    assert match_advertisement(name, uuids) == family


def test_profile_for_fresh_instances_and_models() -> None:
    a = profile_for("polar_pmd")
    b = profile_for(DeviceFamily.POLAR_PMD)
    assert a is not b
    h10 = profile_for("polar_pmd", StreamConfig(fs_hz=100), name="Polar H10 1")
    assert h10.fs_hz == 100.0
    assert profile_for("metawear", name="MetaMotion S").chip == "bmi270"  # type: ignore[attr-defined]
    from movereg.errors import ParameterError
    with pytest.raises(ParameterError):
        profile_for("fitbit")
