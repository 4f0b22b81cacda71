"""SensorDecoder: the pure glue from raw notifications to timed blocks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import movesense as M
from breathform.firmware_bridge.devices import polar_h10 as P
from breathform.model import HeartRate, ImuBlock, RawPacket

FS = 200.0
SPF = 36
T0_NS = 780_000_000 * 10**9  # a plausible sensor date (ns since 2000)


def polar_frames(n_frames: int, drift_ppm: float = 50.0, seed: int = 0
                 ) -> tuple[list[RawPacket], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = n_frames * SPF
    t = np.arange(n) / FS
    mg = rng.integers(-4000, 4000, size=(n, 3))
    pkts = []
    for k in range(n_frames):
        last = (k + 1) * SPF - 1
        ts = T0_NS + round(t[last] * 1e9 * (1 + drift_ppm * 1e-6))
        pkts.append(RawPacket(t[last] + rng.uniform(0.005, 0.06), "chest", P.PMD_DATA_UUID,
                              P.encode_acc_frame(ts, mg[k * SPF:(k + 1) * SPF])))
    return pkts, t, mg


def run(dec: SensorDecoder, pkts: list[RawPacket]) -> list[ImuBlock | HeartRate]:
    out: list[ImuBlock | HeartRate] = []
    for p in pkts:
        out.extend(dec.feed(p))
    return out


def blocks(items: list[ImuBlock | HeartRate]) -> list[ImuBlock]:
    return [b for b in items if isinstance(b, ImuBlock)]


def test_polar_stream_decodes_with_seq_times_and_units() -> None:
    pkts, t, mg = polar_frames(400)
    dec = SensorDecoder("chest", "polar_h10", FS)
    bl = blocks(run(dec, pkts))
    assert len(bl) == 400 and dec.n_decode_errors == 0 and dec.n_gaps == 0
    assert [b.seq for b in bl] == [k * SPF for k in range(400)]
    assert not any(b.gap for b in bl)
    assert all(b.gyr_dps is None and b.sensor == "chest" and b.fs_hz == FS for b in bl)
    acc = np.concatenate([b.acc_g for b in bl])
    assert_array_equal(acc, mg / 1000.0)
    ts = np.concatenate([b.t_s for b in bl])
    assert np.all(np.diff(ts) > 0)
    late = t > 30
    assert np.all(np.abs(ts[late] - t[late]) < 0.010)


def test_polar_gap_flagged_and_seq_advanced() -> None:
    pkts, t, _ = polar_frames(60)
    dropped = {10, 30, 31}
    dec = SensorDecoder("chest", "polar_h10", FS)
    bl = blocks(run(dec, [p for i, p in enumerate(pkts) if i not in dropped]))
    kept = [i for i in range(60) if i not in dropped]
    assert [b.seq for b in bl] == [i * SPF for i in kept]
    assert [b.gap for b in bl] == [i - 1 in dropped for i in kept]
    assert dec.n_gaps == 2 and dec.n_samples_lost == 3 * SPF
    ts = np.concatenate([b.t_s for b in bl])
    assert np.all(np.diff(ts) > 0)


def test_malformed_packets_counted_and_skipped_then_gap() -> None:
    pkts, _, _ = polar_frames(10)
    bad = RawPacket(pkts[4].t_rx_s, "chest", P.PMD_DATA_UUID, pkts[4].payload[:-3])
    dec = SensorDecoder("chest", "polar_h10", FS)
    bl = blocks(run(dec, [*pkts[:4], bad, *pkts[5:]]))
    assert dec.n_decode_errors == 1
    assert isinstance(dec.last_error, DecodeError) and dec.last_error.seq == 4
    assert "not a multiple" in dec.last_error.reason
    assert len(bl) == 9 and bl[4].gap and bl[4].seq == 5 * SPF


def test_polar_clock_reset_to_2019() -> None:
    pkts, t, mg = polar_frames(40)
    # after frame 20 the strap restarted: timestamps continue from 2019-01-01
    reset = []
    for i, p in enumerate(pkts):
        if i >= 20:
            ts = 599_616_000 * 10**9 + (i - 20) * SPF * 5_000_000 + 10**9
            p = RawPacket(p.t_rx_s, p.sensor, p.char,
                          P.encode_acc_frame(ts, mg[i * SPF:(i + 1) * SPF]))
        reset.append(p)
    dec = SensorDecoder("chest", "polar_h10", FS)
    bl = blocks(run(dec, reset))
    assert len(bl) == 40
    assert dec.clock_state.n_resets == 1
    assert bl[20].gap and sum(b.gap for b in bl) == 1
    assert bl[20].seq == 20 * SPF  # loss estimated from receive times: none here
    ts = np.concatenate([b.t_s for b in bl])
    assert np.all(np.diff(ts) > 0)


def test_hr_cp_unknown_and_ecg() -> None:
    dec = SensorDecoder("chest", "polar_h10", FS)
    hr = dec.feed(RawPacket(3.0, "chest", P.HR_MEASUREMENT_UUID,
                            bytes.fromhex("1096") + (1024).to_bytes(2, "little")))
    assert hr == [HeartRate(t_s=3.0, hr_bpm=150.0, rr_ms=(1000.0,))]
    assert dec.feed(RawPacket(3.1, "chest", P.PMD_CP_UUID, bytes.fromhex("F00202000001"))) == []
    assert isinstance(dec.last_cp_response, P.CpResponse)
    assert dec.feed(RawPacket(3.2, "chest", "0000aaaa-0000-1000-8000-00805f9a34fb", b"x")) == []
    assert dec.n_unknown_char == 1
    ecg = bytes([0]) + (5).to_bytes(8, "little") + bytes([0]) + bytes(9)
    assert dec.feed(RawPacket(3.3, "chest", P.PMD_DATA_UUID, ecg)) == []
    assert dec.n_ignored == 1 and dec.n_decode_errors == 0


def test_movesense_stream_gap_and_wrap() -> None:
    fs, per = 104.0, 8
    rng = np.random.default_rng(1)
    n_pk = 300
    acc = rng.normal(0, 20, (n_pk * per, 3))
    gyr = rng.normal(0, 300, (n_pk * per, 3))
    start_ms = 2**32 - 10_000  # wraps after ~10 s
    pkts = []
    for k in range(n_pk):
        t_first = k * per / fs
        ts = round(start_ms + t_first * 1000 * (1 + 80e-6)) % 2**32
        sl = slice(k * per, (k + 1) * per)
        pkts.append(RawPacket(t_first + (per - 1) / fs + rng.uniform(.005, .06), "sacrum",
                              M.NOTIFY_UUID, M.encode_imu6_data(7, ts, acc[sl], gyr[sl])))
    dropped = {50, 51, 200}
    dec = SensorDecoder("sacrum", "movesense", fs)
    assert dec.feed(RawPacket(0.0, "sacrum", M.NOTIFY_UUID, M.encode_result(7, 200))) == []
    assert dec.last_result == M.MovesenseResult(7, 200)
    bl = blocks(run(dec, [p for i, p in enumerate(pkts) if i not in dropped]))
    kept = [i for i in range(n_pk) if i not in dropped]
    assert [b.seq for b in bl] == [i * per for i in kept]
    assert [b.gap for b in bl] == [i - 1 in dropped for i in kept]
    assert dec.clock_state.n_resets == 0
    got = np.concatenate([b.acc_g for b in bl])
    want = acc[np.concatenate([np.arange(i * per, (i + 1) * per) for i in kept])] / 9.80665
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    assert all(b.gyr_dps is not None for b in bl)
    ts = np.concatenate([b.t_s for b in bl])
    assert np.all(np.diff(ts) > 0)


def test_deterministic_bit_identical() -> None:
    pkts, _, _ = polar_frames(100, seed=3)
    a = blocks(run(SensorDecoder("chest", "polar_h10", FS), pkts))
    b = blocks(run(SensorDecoder("chest", "polar_h10", FS), pkts))
    for x, y in zip(a, b, strict=True):
        assert x.seq == y.seq and x.gap == y.gap
        assert_array_equal(x.t_s, y.t_s)
        assert_array_equal(x.acc_g, y.acc_g)


def test_constructor_validation() -> None:
    with pytest.raises(InputError, match="role"):
        SensorDecoder("wrist", "polar_h10", FS)
    with pytest.raises(InputError, match="kind"):
        SensorDecoder("chest", "thingy52", FS)
    with pytest.raises(InputError, match="fs_hz"):
        SensorDecoder("chest", "polar_h10", 0.0)


packet = st.tuples(
    st.floats(0, 1e4, allow_nan=False),
    st.sampled_from([P.PMD_DATA_UUID, P.HR_MEASUREMENT_UUID, P.PMD_CP_UUID, M.NOTIFY_UUID]),
    st.one_of(
        st.binary(max_size=240),
        # headers that parse, with random timestamps and bodies
        st.builds(lambda ts, ft, body: bytes([2]) + ts.to_bytes(8, "little") + bytes([ft]) + body,
                  st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2, 0x80, 0x81]),
                  st.binary(min_size=0, max_size=120)),
        st.builds(lambda ts, body: bytes([2, 7]) + ts.to_bytes(4, "little") + body,
                  st.integers(0, 2**32 - 1), st.binary(max_size=100)),
    ))


@given(st.lists(packet, max_size=40), st.sampled_from(["polar_h10", "movesense"]))
def test_random_packets_never_raise(pkts: list[tuple[float, str, bytes]], kind: str) -> None:
    dec = SensorDecoder("chest", kind, 104.0)
    last = -np.inf
    for t, char, payload in sorted(pkts, key=lambda x: x[0]):
        for item in dec.feed(RawPacket(t, "chest", char, payload)):
            if isinstance(item, ImuBlock):
                assert np.all(np.isfinite(item.t_s))
                assert item.t_s[0] > last
                last = float(item.t_s[-1])


def _mangled_stream(seed: int) -> list[RawPacket]:
    """Movesense and Polar packets with corrupt, cut, non-finite and clock-jumping ones."""
    rng = np.random.default_rng(seed)
    pol, _, _ = polar_frames(60, seed=seed)
    ms = []
    t_ms = 5_000
    for k in range(400):
        n = 8 if rng.random() < 0.9 else 4
        acc = rng.normal(0, 5, (n, 3))
        gyr = rng.normal(0, 50, (n, 3))
        if rng.random() < 0.01:
            t_ms = int(rng.integers(0, 2**32))  # a reboot or a wild jump
        ms.append(RawPacket(k * 8 / 208 + rng.uniform(0.005, 0.05), "sacrum", M.NOTIFY_UUID,
                            M.encode_imu6_data(1, t_ms, acc, gyr)))
        t_ms += round(n * 1000 / 208) + (200 if rng.random() < 0.01 else 0)
    out = []
    for p in sorted(pol + ms, key=lambda q: q.t_rx_s):
        u = rng.random()
        data = bytearray(p.payload)
        if u < 0.02:
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        elif u < 0.03:
            data = data[:int(rng.integers(len(data) + 1))]
        elif u < 0.04 and p.sensor == "sacrum":
            data[6:10] = b"\xff\xff\xc0\x7f"  # NaN
        elif u < 0.05 and p.sensor == "sacrum":
            data = bytearray(M.encode_result(1, 200))
        out.append(RawPacket(p.t_rx_s, p.sensor, p.char, bytes(data)))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feed_many_equals_feed(seed: int) -> None:
    pkts = _mangled_stream(seed)
    one = {r: SensorDecoder(r, k, f) for r, k, f in (("chest", "polar_h10", FS),
                                                     ("sacrum", "movesense", 208.0))}
    many = {r: SensorDecoder(r, d.kind, d.fs_hz) for r, d in one.items()}
    ref = [(p.sensor, one[p.sensor].feed(p), one[p.sensor].n_decode_errors) for p in pkts]
    rng = np.random.default_rng(seed)
    got: list[tuple[str, list[ImuBlock | HeartRate], int]] = []
    i = 0
    while i < len(pkts):
        chunk = pkts[i:i + int(rng.integers(1, 120))]
        for role in ("chest", "sacrum"):
            mine = [p for p in chunk if p.sensor == role]
            dec = many[role]
            n0 = dec.n_decode_errors
            res = dec.feed_many(mine)
            errs = {j: e for j, e in dec.batch_errors}
            assert dec.n_decode_errors - n0 == len(errs)
            for j, items in enumerate(res):
                n0 += j in errs
                got.append((role, items, n0))
        i += len(chunk)
    key = {"chest": 0, "sacrum": 1}
    ref.sort(key=lambda r: key[r[0]])  # stable: each sensor's own order
    got.sort(key=lambda r: key[r[0]])
    assert len(got) == len(ref)
    assert sum(r[2] for r in ref) > 0
    for (r1, a, e1), (r2, b, e2) in zip(ref, got, strict=True):
        assert (r1, e1, len(a)) == (r2, e2, len(b))
        for x, y in zip(a, b, strict=True):
            if isinstance(x, ImuBlock):
                assert isinstance(y, ImuBlock)
                assert (x.seq, x.gap, x.fs_hz) == (y.seq, y.gap, y.fs_hz)
                assert_array_equal(x.t_s, y.t_s)
                assert_array_equal(x.acc_g, y.acc_g)
                assert (x.gyr_dps is None) == (y.gyr_dps is None)
                if x.gyr_dps is not None:
                    assert_array_equal(x.gyr_dps, y.gyr_dps)
            else:
                assert x == y
    for role in one:
        assert repr(one[role].clock_state) == repr(many[role].clock_state)
        assert one[role].n_gaps == many[role].n_gaps
        assert one[role].n_samples_lost == many[role].n_samples_lost
