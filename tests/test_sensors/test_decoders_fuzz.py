"""Fuzzing: random, truncated and mutated bytes raise only DecodeError (with family,
length and offset) from every decoder — never another exception, never a hang."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movereg.errors import DecodeError, ProtocolError
from movereg.models import DeviceFamily, RawBlock
from movereg.sensors import _encoders as enc
from movereg.sensors.decoders import polar_pmd as pmd
from movereg.sensors.decoders import profile_for

H = bytes.fromhex


def _valid_frames() -> dict[DeviceFamily, list[bytes]]:
    rng = np.random.default_rng(7)
    walk = np.cumsum(rng.integers(-300, 300, (40, 3)), axis=0)
    return {
        DeviceFamily.POLAR_PMD: [
            H("02646C76C43CC67F0780D0FF6501E40F0805FC07FF0C13F211F11AF9EEF8EF0C03"),
            H("02EA54A2428B4552080145FFE4FFB50345FFE4FFB803"),
            enc.encode_pmd_delta_frame(walk, 10**15, block_size=9),
            enc.encode_pmd_raw_frame(walk[:5] // 300, 1, sample_bytes=1),
            enc.encode_pmd_raw_frame(walk[:5], 1, sample_bytes=3),
        ],
        DeviceFamily.METAWEAR: [H("030416C494A22AD0"),
                                H("031C62B7530DE9FD16D04D0E57028AFFA1050A01"),
                                enc.encode_metawear_packed(walk[:3], "bmi270")],
        DeviceFamily.MOVESENSE: [
            H("026340E201008FC2F53D7B14AEBEC3F51C41CDCCCC3D9A9999BED7A31C41"),
            enc.encode_movesense_data(walk[:8] / 100.0, 5)],
        DeviceFamily.INFINITIME: [H("000400FF0000")],
        DeviceFamily.MICROBIT: [H("F0FF080000FC")],
    }


VALID = _valid_frames()
FAMILIES = list(VALID)


def _check_decode(family: DeviceFamily, decode: Callable[[bytes], RawBlock], frame: bytes) -> None:
    try:
        block = decode(frame)
    except DecodeError as e:
        assert e.family == family.value
        assert e.length == len(frame)
        assert 0 <= e.offset <= max(e.length, 0)
        return
    assert block.samples.dtype == np.float32 and block.samples.shape[1] == 3
    assert block.n >= 1


def _check_reply(profile: object, data: bytes) -> None:
    with contextlib.suppress(DecodeError, ProtocolError):
        profile.parse_reply(data)  # type: ignore[attr-defined]


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=260))
def test_random_bytes_only_decode_error(family: DeviceFamily, data: bytes) -> None:
    p = profile_for(family)
    _check_decode(family, p.decode, data)
    _check_reply(profile_for(family), data)


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_truncated_and_mutated_valid_frames(family: DeviceFamily, data: st.DataObject) -> None:
    frame = bytearray(data.draw(st.sampled_from(VALID[family])))
    cut = data.draw(st.integers(0, len(frame)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(frame) - 1), st.integers(0, 255)),
                               max_size=4))
    for i, v in flips:
        frame[i] = v
    p = profile_for(family)
    _check_decode(family, p.decode, bytes(frame[:cut]))
    _check_decode(family, p.decode, bytes(frame))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=64), prefix=st.sampled_from([b"", b"\xf0", b"\xf0\x01\x02\x00",
                                                           b"\xf0\x02\x02\x00\x00", b"\x0f"]))
def test_pmd_control_point_replies(data: bytes, prefix: bytes) -> None:
    p = pmd.PolarPmdProfile()
    _check_reply(p, prefix + data)


def test_non_bytes_input_is_decode_error() -> None:
    for family in FAMILIES:
        with pytest.raises(DecodeError):
            profile_for(family).decode("not bytes")  # type: ignore[arg-type]


# ------------------------------------------------------------------- slow: 10^5 each ----
N_SLOW = 100_000
#: bytes of a valid frame kept in front of a random body (header/type bytes)
_HEADER_LEN = {DeviceFamily.POLAR_PMD: 10, DeviceFamily.METAWEAR: 2, DeviceFamily.MOVESENSE: 2,
               DeviceFamily.INFINITIME: 0, DeviceFamily.MICROBIT: 0}


def _slow_frames(family: DeviceFamily, rng: np.random.Generator, n: int) -> list[bytes]:
    """n frames, a quarter each: random bytes; a valid header + random body; truncated
    valid; mutated valid (some also cut)."""
    valid = VALID[family]
    out: list[bytes] = []
    lens = rng.integers(0, 240, n)
    kinds = rng.integers(0, 4, n)
    head = _HEADER_LEN[family]
    picks = rng.integers(0, len(valid), n)
    rand = rng.integers(0, 256, int(lens.sum()), dtype=np.uint8).tobytes()
    pos = 0
    for k, ln, pick in zip(kinds, lens, picks, strict=True):
        base = valid[pick]
        if k == 0:
            out.append(rand[pos:pos + ln])
            pos += int(ln)
        elif k == 3:
            out.append(base[:head] + rand[pos:pos + ln])
            pos += int(ln)
        elif k == 1:
            out.append(base[: int(rng.integers(0, len(base) + 1))])
        else:
            f = bytearray(base)
            for _ in range(int(rng.integers(1, 5))):
                f[int(rng.integers(0, len(f)))] = int(rng.integers(0, 256))
            if rng.random() < 0.3:
                f = f[: int(rng.integers(0, len(f) + 1))]
            out.append(bytes(f))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_fuzz_1e5_frames_per_family(family: DeviceFamily) -> None:
    rng = np.random.default_rng(20261128 + FAMILIES.index(family))
    frames = _slow_frames(family, rng, N_SLOW)
    p = profile_for(family)
    decoded = errors = 0
    for f in frames:
        try:
            block = p.decode(f)
        except DecodeError as e:
            if e.family != family.value or e.length != len(f) or not 0 <= e.offset <= len(f):
                raise AssertionError(f"bad DecodeError attributes for {f.hex()}: {e}") from e
            errors += 1
            continue
        decoded += 1
        assert block.samples.shape[1] == 3
    assert decoded + errors == N_SLOW
    assert errors > 0 and decoded > 0  # both paths exercised
    print(f"{family.value}: {N_SLOW} frames, {decoded} decoded, {errors} DecodeError")
