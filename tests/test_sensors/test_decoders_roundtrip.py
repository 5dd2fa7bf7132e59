"""Round trips: encoders (the simulated band's and emulators' byte builders) are the exact
inverse of the decoders, for random samples, bit widths and block splits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from movereg.sensors import _encoders as enc
from movereg.sensors.decoders import StreamConfig, profile_for
from movereg.sensors.decoders import metawear as mw
from movereg.sensors.decoders import movesense as ms
from movereg.sensors.decoders import polar_pmd as pmd
from movereg.sensors.decoders.infinitime import decode_infinitime_motion
from movereg.sensors.decoders.microbit import decode_microbit_acc

FAST = settings(max_examples=150, deadline=None)
ts_st = st.integers(0, 2**64 - 1)


def _samples(lo: int, hi: int, max_n: int = 60) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.int64, st.tuples(st.integers(1, max_n), st.just(3)),
                      elements=st.integers(lo, hi))


@FAST
@given(_samples(-32768, 32767), ts_st, st.none() | st.integers(1, 40), st.booleans())
def test_pmd_delta_roundtrip(counts: np.ndarray, ts: int, block: int | None, type1: bool) -> None:
    frame = enc.encode_pmd_delta_frame(counts, ts, block_size=block,
                                       frame_type=0x81 if type1 else 0x80)
    pf = pmd.parse_pmd_frame(frame)
    assert pf.timestamp_ns == ts and pf.compressed
    np.testing.assert_array_equal(pf.samples, counts)


@FAST
@given(st.integers(1, 32), st.data())
def test_pmd_delta_any_fixed_width(width: int, data: st.DataObject) -> None:
    half = 1 << (width - 1)
    deltas = data.draw(hnp.arrays(np.int64, st.tuples(st.integers(0, 30), st.just(3)),
                                  elements=st.integers(-half, half - 1)))
    ref = data.draw(hnp.arrays(np.int64, (1, 3), elements=st.integers(-32768, 32767)))
    counts = np.cumsum(np.vstack([ref, deltas]), axis=0)
    frame = enc.encode_pmd_delta_frame(counts, 5, bit_width=width)
    if len(deltas):
        assert frame[16] == width
    np.testing.assert_array_equal(pmd.parse_pmd_frame(frame).samples, counts)


@pytest.mark.parametrize("nbytes", [1, 2, 3])
@FAST
@given(data=st.data(), ts=ts_st)
def test_pmd_raw_roundtrip(nbytes: int, data: st.DataObject, ts: int) -> None:
    lim = 1 << (8 * nbytes - 1)
    vals = data.draw(_samples(-lim, lim - 1))
    pf = pmd.parse_pmd_frame(enc.encode_pmd_raw_frame(vals, ts, sample_bytes=nbytes))
    assert pf.frame_type == nbytes - 1 and not pf.compressed
    np.testing.assert_array_equal(pf.samples, vals)


@FAST
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 40), st.just(3)),
                  elements=st.floats(-7.9, 7.9)))
def test_pmd_profile_g_roundtrip_to_quantisation(g: np.ndarray) -> None:
    factor = float(np.float32(0.000244))
    p = pmd.PolarPmdProfile()
    p.parse_reply(enc.pmd_start_reply(factor))
    assert p.factor == factor
    frame = enc.encode_pmd_delta_frame(enc.g_to_counts(g, factor), 0)
    out = p.decode(frame).samples
    assert np.abs(out - g).max() <= factor / 2 + 1e-6


@FAST
@given(st.dictionaries(st.sampled_from([0, 1, 2, 4]),
                       st.lists(st.integers(0, 255), min_size=1, max_size=5), min_size=1),
       st.floats(0.0009765625, 1.0, width=32))
def test_pmd_settings_and_cp_roundtrip(settings_: dict[int, list[int]], factor: float) -> None:
    params = enc.encode_pmd_settings(settings_)
    reply = enc.encode_pmd_cp_response(pmd.PmdOp.GET_SETTINGS, 2, 0, params)
    r = pmd.parse_cp_response(reply)
    assert pmd.parse_settings(r.params) == {k: tuple(v) for k, v in settings_.items()}
    got = pmd.parse_settings(enc.encode_pmd_factor(factor))
    assert got[5] == (factor,)


@FAST
@given(_samples(-32768, 32767, max_n=1), st.sampled_from([2, 4, 8, 16]))
def test_metawear_single_roundtrip(counts: np.ndarray, rng: int) -> None:
    g, packed = mw.decode_metawear_acc(enc.encode_metawear_single(counts), rng)
    assert not packed
    np.testing.assert_array_equal(g * mw.LSB_PER_G[rng], counts)


@FAST
@given(hnp.arrays(np.int64, (3, 3), elements=st.integers(-32768, 32767)),
       st.sampled_from(["bmi160", "bmi270"]))
def test_metawear_packed_roundtrip(counts: np.ndarray, chip: str) -> None:
    p = mw.MetaWearProfile(StreamConfig(fs_hz=200, range_g=8), chip=chip)
    block = p.decode(enc.encode_metawear_packed(counts, chip))
    np.testing.assert_array_equal(block.samples * 4096, counts)
    assert p.is_reply(enc.encode_metawear_chip_reply(chip))


@FAST
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 18), st.just(3)),
                  elements=st.floats(-156, 156, width=32)),
       st.integers(0, 2**32 - 1), st.integers(1, 255))
def test_movesense_roundtrip(ms2: np.ndarray, ts: int, ref: int) -> None:
    d = ms.decode_movesense_data(enc.encode_movesense_data(ms2, ts, ref))
    assert d.timestamp_ms == ts and d.ref == ref
    np.testing.assert_array_equal(d.samples_ms2, ms2)
    r = ms.parse_movesense_result(enc.encode_movesense_result(ref, 201))
    assert r.ok and r.status == 201
    assert ms.parse_movesense_result(enc.encode_movesense_hello_reply(ref)).hello


@FAST
@given(hnp.arrays(np.int64, 3, elements=st.integers(-32768, 32767)))
def test_microbit_and_infinitime_roundtrip(xyz: np.ndarray) -> None:
    np.testing.assert_allclose(decode_microbit_acc(enc.encode_microbit(xyz))[0], xyz / 1000,
                               rtol=1e-6)
    np.testing.assert_array_equal(decode_infinitime_motion(enc.encode_infinitime(xyz))[0] * 1024,
                                  xyz)


def test_encoder_rejects_impossible_input() -> None:
    with pytest.raises(ValueError):
        enc.encode_pmd_delta_frame(np.array([[0, 0, 0], [1000, 0, 0]]), 0, bit_width=4)
    with pytest.raises(ValueError):
        enc.encode_pmd_raw_frame(np.array([[200, 0, 0]]), 0, sample_bytes=1)
    with pytest.raises(ValueError):
        enc.encode_metawear_packed(np.zeros((2, 3)))


def test_profiles_satisfy_protocol() -> None:
    from movereg.sensors.decoders import PROFILE_FAMILIES, DeviceProfile
    for fam in PROFILE_FAMILIES:
        assert isinstance(profile_for(fam), DeviceProfile)
