"""breathform's DIY GATT profile: the byte layout of hardware/README.md, round trips, gaps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import diy_profile as D
from breathform.model import ImuBlock, RawPacket

# hardware/README.md's example packet: seq 7, t = 1000000 us, +-8 g / +-2000 dps, 2 samples:
# (0, 0, 1 g, 0, 0, 100 dps) then (0.5 g, -0.5 g, 1 g, -250 dps, 0, 0)
README_PACKET = bytes.fromhex(
    "01 01 42 02 0700 40420f00"
    " 0000 0000 0010 0000 0000 6606"
    " 0008 00f8 0010 00f0 0000 0000".replace(" ", ""))
README_CONFIG = bytes.fromhex("01 01 6800 02 04 00008039 00007a3d 13 57".replace(" ", ""))


def test_readme_example_packet_decodes_as_documented() -> None:
    p = D.decode_data(README_PACKET)
    assert (p.seq, p.t_us, p.n, p.acc_range_g, p.gyr_range_dps) == (7, 1_000_000, 2, 8.0,
                                                                    2000.0)
    assert_array_equal(p.acc_g, [[0, 0, 1.0], [0.5, -0.5, 1.0]])
    assert p.gyr_dps is not None
    assert abs(p.gyr_dps[0, 2] - 100.0) < 2000 / 32768
    assert_array_equal(p.gyr_dps[1], [-250.0, 0, 0])
    acc = D.quantize(p.acc_g, 8.0)
    gyr = D.quantize(p.gyr_dps, 2000.0)
    assert D.encode_data(7, 1_000_000, acc, gyr, acc_code=2, gyr_code=4) == README_PACKET


def test_readme_example_config() -> None:
    c = D.decode_config(README_CONFIG)
    assert c == D.DiyConfig(rate_hz=104, acc_range_g=8.0, gyr_range_dps=2000.0, has_gyro=True,
                            samples_per_packet=19, battery_pct=87)
    assert D.encode_config(c) == README_CONFIG
    assert len(README_CONFIG) == D.CONFIG_LEN == 16 and D.HEADER_LEN == 10


@given(n=st.integers(1, 40), gyro=st.booleans(), acc_code=st.integers(0, 3),
       gyr_code=st.integers(0, 4), seq=st.integers(0, 2**16 - 1),
       t_us=st.integers(0, 2**32 - 1), data=st.data())
def test_encode_decode_round_trip(n, gyro, acc_code, gyr_code, seq, t_us, data) -> None:
    i16 = hnp.arrays(np.int16, (n, 3))
    acc = data.draw(i16)
    gyr = data.draw(i16) if gyro else None
    p = D.decode_data(D.encode_data(seq, t_us, acc, gyr, acc_code=acc_code,
                                    gyr_code=gyr_code))
    assert (p.seq, p.t_us, p.n) == (seq, t_us, n)
    assert_array_equal(p.acc_g, acc * (D.ACC_RANGE_G[acc_code] / 32768.0))
    if gyr is None:
        assert p.gyr_dps is None
    else:
        assert_array_equal(p.gyr_dps, gyr * (D.GYR_RANGE_DPS[gyr_code] / 32768.0))


@pytest.mark.parametrize("mutate,why", [
    (lambda b: b[:9], "at least 10"),
    (lambda b: b"\x02" + b[1:], "version 2"),
    (lambda b: b[:1] + b"\x03" + b[2:], "reserved bits"),
    (lambda b: b[:2] + b"\x47" + b[3:], "range codes"),
    (lambda b: b[:3] + b"\x00" + b[4:], "n >= 1"),
    (lambda b: b[:3] + b"\x03" + b[4:], "expected 46"),
    (lambda b: b[:-1], "expected 34"),
])
def test_malformed_packets_name_what_is_wrong(mutate, why) -> None:
    with pytest.raises(DecodeError, match=why):
        D.decode_data(mutate(README_PACKET))


@pytest.mark.parametrize("mutate,why", [
    (lambda b: b[:15], ">= 16"),
    (lambda b: b"\x09" + b[1:], "version 9"),
    (lambda b: b[:4] + b"\x07" + b[5:], "range codes"),
    (lambda b: b[:6] + b"\x00\x00\x80\x3a" + b[10:], "acc g per LSB"),
    (lambda b: b[:15] + b"\x65", "battery 101"),
])
def test_malformed_config(mutate, why) -> None:
    with pytest.raises(DecodeError, match=why):
        D.decode_config(mutate(README_CONFIG))


def test_encoder_validates() -> None:
    with pytest.raises(InputError, match="1..255 samples"):
        D.encode_data(0, 0, np.zeros((0, 3), np.int16), None, acc_code=0)
    with pytest.raises(InputError, match="fit int16"):
        D.encode_data(0, 0, np.full((1, 3), 40000), None, acc_code=0)
    with pytest.raises(InputError, match="acc_range_g"):
        D.DiyConfig(rate_hz=100, acc_range_g=3.0)


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    for f in (D.decode_data, D.decode_config):
        try:
            f(data)
        except DecodeError:
            pass


FS = 104.0
SPP = 19


def _board(n_packets: int, lost: set[int] = frozenset(), t0_us: int = 2**32 - 3_000_000,
           seq0: int = 65530, drift_ppm: float = 40.0) -> tuple[list[RawPacket], np.ndarray]:
    """A board whose u32 microsecond clock and u16 seq both wrap early in the stream."""
    rng = np.random.default_rng(9)
    n = n_packets * SPP
    acc = rng.integers(-4000, 4000, (n, 3)).astype(np.int16)
    gyr = rng.integers(-4000, 4000, (n, 3)).astype(np.int16)
    out = []
    for k in range(n_packets):
        i = k * SPP
        t_us = t0_us + round(i / FS * 1e6 * (1 + drift_ppm * 1e-6))
        payload = D.encode_data(seq0 + k, t_us, acc[i:i + SPP], gyr[i:i + SPP], acc_code=2)
        if k not in lost:
            out.append(RawPacket((i + SPP - 1) / FS + 0.012, "sacrum", D.DATA_UUID, payload))
    return out, acc


def test_decoder_unwraps_clock_and_seq_and_counts_sequence_gaps() -> None:
    pkts, acc = _board(400, lost={50, 51, 52, 200})
    cfg = RawPacket(0.0, "sacrum", D.CONFIG_UUID, README_CONFIG)
    dec = SensorDecoder("sacrum", "diy", FS)
    assert dec.feed(cfg) == [] and dec.diy_config is not None
    bl = [b for p in pkts for b in dec.feed(p) if isinstance(b, ImuBlock)]
    assert dec.n_decode_errors == 0
    assert dec.n_seq_lost == 4 and dec.n_gaps == 2 and dec.n_samples_lost == 4 * SPP
    assert [b.seq for b in bl if b.gap] == [53 * SPP, 201 * SPP]
    # seq is the sample index: values land where they were
    for b in bl:
        assert_array_equal(b.acc_g, acc[b.seq:b.seq + b.n] * (8.0 / 32768.0))
    t = np.concatenate([b.t_s for b in bl])
    assert np.all(np.diff(t) > 0)


def test_a_board_reboot_resets_the_clock() -> None:
    a, _ = _board(100)
    b, _ = _board(100, t0_us=5_000, seq0=0)
    shift = a[-1].t_rx_s + 1.0
    b = [RawPacket(p.t_rx_s + shift, p.sensor, p.char, p.payload) for p in b]
    dec = SensorDecoder("sacrum", "diy", FS)
    bl = [x for p in a + b for x in dec.feed(p) if isinstance(x, ImuBlock)]
    assert dec.n_gaps == 1 and dec.clock_state.n_resets == 1
    assert bl[100].gap and np.all(np.diff(np.concatenate([x.t_s for x in bl])) > 0)


def test_hardware_readme_shows_these_exact_bytes() -> None:
    """The profile's write-up is what implementers copy: its example must be these bytes."""
    from pathlib import Path

    text = (Path(__file__).parents[3] / "hardware" / "README.md").read_text(encoding="utf-8")
    assert README_CONFIG.hex(" ").upper() in text
    block = text.split("A data packet with", 1)[1].split("```")[1]
    hexes = [line.split("   ")[0] for line in block.strip().splitlines()]
    assert bytes.fromhex("".join(hexes)) == README_PACKET
    for uuid in (D.SERVICE_UUID, D.DATA_UUID, D.CONFIG_UUID):
        assert f"`{uuid}`" in text
