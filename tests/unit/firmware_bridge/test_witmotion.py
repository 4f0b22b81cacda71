"""WitMotion 0x61 packets: scales, reassembly of split/joined notifications, decoding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import witmotion as W
from breathform.model import ImuBlock, RawPacket

# 1 g on z, 0 elsewhere; gyro x = 1000 dps; roll 90 deg (SENSORS.md scales)
ONE_PACKET = bytes.fromhex("5561" "0000" "0000" "0008" "0040" "0000" "0000" "0040" "0000"
                           "0000")


def test_packet_scales_match_sensors_md() -> None:
    s = W.decode_packets(ONE_PACKET)
    assert s.n == 1
    assert_array_equal(s.acc_g, [[0.0, 0.0, 1.0]])          # 0x0800 / 32768 * 16
    assert_array_equal(s.gyr_dps, [[1000.0, 0.0, 0.0]])     # 0x4000 / 32768 * 2000
    assert_array_equal(s.angles_deg, [[90.0, 0.0, 0.0]])    # 0x4000 / 32768 * 180


def test_encode_decode_round_trip_to_one_lsb() -> None:
    rng = np.random.default_rng(3)
    acc = rng.uniform(-15.9, 15.9, (50, 3))
    gyr = rng.uniform(-1999, 1999, (50, 3))
    ang = rng.uniform(-179, 179, (50, 3))
    s = W.decode_packets(W.encode_packets(acc, gyr, ang))
    assert_allclose(s.acc_g, acc, atol=W.ACC_G_PER_LSB / 2 + 1e-12)
    assert_allclose(s.gyr_dps, gyr, atol=W.GYR_DPS_PER_LSB / 2 + 1e-12)
    assert_allclose(s.angles_deg, ang, atol=W.ANGLE_DEG_PER_LSB / 2 + 1e-12)


def test_commands() -> None:
    assert W.rate_command(100) == bytes.fromhex("FFAA030900")
    assert W.rate_command(200) == bytes.fromhex("FFAA030B00")
    assert W.UNLOCK == bytes.fromhex("FFAA6988B5")
    with pytest.raises(InputError, match="rate_hz"):
        W.rate_command(104)
    with pytest.raises(InputError, match="reg"):
        W.write_register_command(256, 0)


@pytest.mark.parametrize("data,why", [(ONE_PACKET[:19], "multiple of 20"),
                                      (b"\x55\x71" + ONE_PACKET[2:], "55 61")])
def test_decode_rejects_unaligned(data: bytes, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        W.decode_packets(data)


def _stream(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    return W.encode_packets(rng.uniform(-8, 8, (n, 3)), rng.uniform(-500, 500, (n, 3)),
                            rng.uniform(-180, 179, (n, 3)))


def _feed_all(r: W.Reassembler, parts: list[bytes]) -> bytes:
    return b"".join(r.feed(p) for p in parts)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    idx = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *idx], [*idx, len(data)], strict=True)]


@given(n=st.integers(1, 30), seed=st.integers(0, 2**16),
       cuts=st.lists(st.integers(0, 10**6), max_size=40))
def test_any_split_or_join_of_a_valid_stream_gives_the_same_samples(n, seed, cuts) -> None:
    data = _stream(n, seed)
    r = W.Reassembler()
    out = _feed_all(r, _split(data, cuts))
    assert out == data
    assert r.n_packets == n and r.n_skipped_bytes == 0 and r.n_resyncs == 0
    assert r.pending == 0


@given(seed=st.integers(0, 2**16), garbage=st.binary(max_size=60),
       at=st.integers(0, 10), cuts=st.lists(st.integers(0, 10**6), max_size=20))
def test_garbage_is_skipped_the_same_way_for_any_split(seed, garbage, at, cuts) -> None:
    data = _stream(10, seed)
    pos = min(at, 10) * W.PACKET_LEN
    stream = data[:pos] + garbage + data[pos:]
    whole = W.Reassembler()
    ref = whole.feed(stream)
    parts = W.Reassembler()
    assert _feed_all(parts, _split(stream, cuts)) == ref
    assert (parts.n_packets, parts.n_skipped_bytes, parts.n_resyncs,
            parts.n_register_packets) == (whole.n_packets, whole.n_skipped_bytes,
                                         whole.n_resyncs, whole.n_register_packets)
    # every packet before the garbage survives; those after it do when the garbage holds no
    # false header (then it is skipped whole)
    assert ref[:pos] == data[:pos]
    if b"\x55" not in garbage:
        assert ref == data
        assert whole.n_skipped_bytes == len(garbage)
        assert whole.n_resyncs == (1 if garbage else 0)
    W.decode_packets(ref)  # whatever comes out is whole, aligned 0x61 packets


def test_register_answers_are_skipped_and_counted() -> None:
    data = _stream(3, 1)
    reg = b"\x55\x71" + bytes(18)
    r = W.Reassembler()
    assert r.feed(data[:20] + reg + data[20:]) == data
    assert r.n_register_packets == 1 and r.n_skipped_bytes == 0


def test_reset_drops_a_partial_packet() -> None:
    data = _stream(2, 2)
    r = W.Reassembler()
    assert r.feed(data[:27]) == data[:20]
    assert r.pending == 7
    r.reset()
    assert r.pending == 0 and r.n_skipped_bytes == 7 and r.n_resyncs == 1
    tail = bytes(range(1, 14))  # the rest of the cut packet, after the link came back
    assert r.feed(tail + data[:20]) == data[:20]
    assert r.n_skipped_bytes == 7 + 13 and r.n_resyncs == 2


@given(st.binary(max_size=200))
def test_random_bytes_never_raise_outside_decode_error(data: bytes) -> None:
    r = W.Reassembler()
    out = r.feed(data)
    W.decode_packets(out)
    try:
        W.decode_packets(data)
    except DecodeError:
        pass


def _notes(fs: float, n: int, per: int, seed: int, lost: tuple[int, ...] = ()
           ) -> tuple[list[RawPacket], bytes]:
    data = _stream(n, seed)
    out = []
    for k, i in enumerate(range(0, len(data), per)):
        t_last = (min(i + per, len(data)) // W.PACKET_LEN) / fs
        if k not in lost:
            out.append(RawPacket(t_last + 0.01, "sacrum", W.NOTIFY_UUID, data[i:i + per]))
    return out, data


def test_sensor_decoder_times_samples_on_a_virtual_clock() -> None:
    fs = 100.0
    pkts, data = _notes(fs, 3000, 50, seed=4)  # 2.5 packets per notification
    dec = SensorDecoder("sacrum", "witmotion", fs)
    bl = [b for p in pkts for b in dec.feed(p) if isinstance(b, ImuBlock)]
    ref = W.decode_packets(data)
    assert_array_equal(np.concatenate([b.acc_g for b in bl]), ref.acc_g)
    assert_array_equal(np.concatenate([b.gyr_dps for b in bl]), ref.gyr_dps)
    seqs = [b.seq for b in bl]
    assert seqs[0] == 0 and all(b.seq + b.n == nx for b, nx in zip(bl[:-1], seqs[1:], strict=True))
    t = np.concatenate([b.t_s for b in bl])
    assert np.all(np.diff(t) > 0)
    assert dec.n_gaps == 0 and dec.n_decode_errors == 0
    # on the host clock: within the 10 ms latency of the truth after the clock has settled
    true_t = np.arange(3000) / fs
    assert np.max(np.abs(t[1000:] - true_t[1000:] - 0.01)) < 0.02


def test_sensor_decoder_flags_a_long_silence_as_a_gap() -> None:
    fs = 100.0
    pkts, _ = _notes(fs, 3000, 40, seed=5, lost=tuple(range(300, 400)))  # 2 s lost
    dec = SensorDecoder("sacrum", "witmotion", fs)
    bl = [b for p in pkts for b in dec.feed(p) if isinstance(b, ImuBlock)]
    gaps = [b for b in bl if b.gap]
    assert len(gaps) == 1 and dec.n_gaps == 1
    assert abs(dec.n_samples_lost - 200) <= 2
    assert abs(gaps[0].seq - 800) <= 3  # seq jumps over the lost samples
