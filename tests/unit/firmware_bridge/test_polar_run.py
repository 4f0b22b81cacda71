"""Polar batches of a steady stream (alike raw ACC frames + heart rate, one array pass)
decode as feed() does.

The streams mix steady runs with what sends a batch back to the per-packet path (a clock
reset, a frame of another length or type, a delta frame, a start response, an ECG frame,
a malformed heart-rate or PMD packet) and what the array pass handles itself (lost frames:
gaps; heart rate on the legacy UUID; a factor other than 1).
"""

from __future__ import annotations

import numpy as np
import pytest
from batch_equal import feed_both_ways, polar_ecg_frame, polar_start_response
from hypothesis import assume, given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from breathform.errors import InputError
from breathform.firmware_bridge import decode as D
from breathform.firmware_bridge.devices import polar_h10 as P
from breathform.model import RawPacket

FS = 200.0


def _hr(t_rx: float, rng: np.random.Generator, legacy: bool) -> RawPacket:
    m = P.HrMeasurement(int(rng.integers(60, 190)), tuple(rng.integers(300, 900, 2).tolist()))
    uuid = P.HR_MEASUREMENT_UUID_LEGACY if legacy else P.HR_MEASUREMENT_UUID
    return RawPacket(t_rx, "chest", uuid.upper() if rng.random() < 0.1 else uuid,
                     P.encode_hr_measurement(m))


def _stream(seed: int, n_frames: int = 900, rare: float = 1.0) -> list[RawPacket]:
    """A steady 36-sample stream with heart rate; ``rare`` scales the odd packets."""
    rng = np.random.default_rng(seed)
    out = []
    ts = 7 * 10**17 + int(rng.integers(0, 10**9))
    t_rx = 0.0
    n = 36
    ftype = P.FRAME_INT16
    for k in range(n_frames):
        ts += round(n * 1e9 / FS) + int(rng.integers(-3000, 3000))  # the strap's jitter
        t_rx += n / FS
        if k == n_frames // 2:
            ts = 10**17  # the strap restarted its clock
        r = rng.random() / rare
        if r < 0.004:
            out.append(polar_start_response(t_rx, float(rng.choice([0.5, 1.0, 2.0]))))
        elif r < 0.008:
            out.append(polar_ecg_frame(t_rx, ts))
        elif r < 0.012:
            out.append(RawPacket(t_rx, "chest", P.HR_MEASUREMENT_UUID, b"\x01\x50"))
        elif r < 0.016:
            out.append(RawPacket(t_rx, "chest", P.PMD_DATA_UUID, b"\x02\x00"))
        elif r < 0.02:
            ftype = int(rng.choice([P.FRAME_INT8, P.FRAME_INT16, P.FRAME_INT24]))
        if rng.random() < 0.2:
            out.append(_hr(t_rx, rng, legacy=rng.random() < 0.2))
        if rng.random() < 0.03:
            continue  # lost: a gap
        lim = 100 if ftype == P.FRAME_INT8 else 2000
        mg = rng.integers(-lim, lim, (n, 3))
        frame = (P.encode_delta_acc_frame(ts, mg) if rng.random() < 0.01 * rare
                 else P.encode_acc_frame(ts, mg, ftype))
        uuid = P.PMD_DATA_UUID.upper() if rng.random() < 0.02 else P.PMD_DATA_UUID
        out.append(RawPacket(t_rx + rng.uniform(0.005, 0.05), "chest", uuid, frame))
    return out


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> dict[bool, int]:
    """How often SensorDecoder._polar_run took a batch (True) or left it (False)."""
    taken = {True: 0, False: 0}
    orig = D.SensorDecoder._polar_run

    def spy(self: D.SensorDecoder, pkts: list[RawPacket], out: list[list[object]]) -> bool:
        ok = orig(self, pkts, out)  # type: ignore[arg-type]
        taken[ok] += 1
        return ok

    monkeypatch.setattr(D.SensorDecoder, "_polar_run", spy)
    return taken


@pytest.mark.parametrize(("seed", "rare"), [(0, 1.0), (1, 1.0), (2, 0.2), (3, 0.2)])
def test_polar_runs_equal_single_packets(seed: int, rare: float, runs: dict[bool, int]) -> None:
    pkts = _stream(seed, rare=rare)
    one, many, _ = feed_both_ways("chest", "polar_h10", FS, pkts, seed, 120, has_gyro=False)
    assert one.n_gaps > 0 and one.clock_state.n_resets >= 1
    assert one.n_decode_errors > 0 or rare < 1
    assert one.acc_factor == many.acc_factor
    assert one.last_cp_response == many.last_cp_response
    assert runs[True] > 0 and runs[False] > 0


def test_polar_run_of_two_and_factor(runs: dict[bool, int]) -> None:
    """The smallest runs (2 packets), heart rate only, and a start factor other than 1."""
    pkts = [p for p in _stream(5, 300, rare=0.01) if p.char != P.PMD_CP_UUID]
    start = polar_start_response(0.0, 0.25)
    hr_only = [p for p in pkts if p.char == P.HR_MEASUREMENT_UUID][:4]
    pkts = [start, *pkts[:100], *hr_only, *pkts[100:]]
    one, _, _ = feed_both_ways("chest", "polar_h10", FS, pkts, 5, 3, has_gyro=False)
    assert one.acc_factor == 0.25 and runs[True] > 10


@given(st.data())
def test_decode_raw_acc_frames_equals_decode_pmd_frame(data: st.DataObject) -> None:
    ftype = data.draw(st.sampled_from([P.FRAME_INT8, P.FRAME_INT16]))
    n = data.draw(st.integers(1, 40))
    m = data.draw(st.integers(1, 6))
    lim = 128 if ftype == P.FRAME_INT8 else 32768
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    frames = [P.encode_acc_frame(data.draw(st.integers(0, 2**63 - 1)),
                                 rng.integers(-lim, lim, (n, 3)), ftype) for _ in range(m)]
    run = P.decode_raw_acc_frames(frames)
    assert run is not None
    ts, samples = run
    assert ts.dtype == samples.dtype == np.int64 and samples.shape == (m, n, 3)
    for k, f in enumerate(frames):
        ref = P.decode_pmd_frame(f)
        assert ts[k] == ref.timestamp_ns
        assert_array_equal(samples[k], ref.samples)


def test_decode_raw_acc_frames_leaves_the_others() -> None:
    mg = np.arange(36 * 3).reshape(36, 3)
    a = P.encode_acc_frame(10**17, mg)
    assert P.decode_raw_acc_frames([]) is None
    assert P.decode_raw_acc_frames([a[:10]]) is None  # no samples
    assert P.decode_raw_acc_frames([a, a[:-6]]) is None  # other lengths
    assert P.decode_raw_acc_frames([a[:-1]]) is None  # not whole samples
    assert P.decode_raw_acc_frames([a, P.encode_acc_frame(1, mg[:24], P.FRAME_INT24)]) is None
    assert P.decode_raw_acc_frames([P.encode_acc_frame(1, mg[:24], P.FRAME_INT24)]) is None
    assert P.decode_raw_acc_frames([P.encode_delta_acc_frame(1, mg)]) is None
    ecg = bytes([P.MeasurementType.ECG]) + a[1:]
    assert P.decode_raw_acc_frames([a, ecg]) is None
    int8 = P.encode_acc_frame(1, np.arange(72 * 3).reshape(72, 3) % 100, P.FRAME_INT8)
    assert len(int8) == len(a) and P.decode_raw_acc_frames([a, int8]) is None  # same length
    late = a[:1] + (2**63).to_bytes(8, "little") + a[9:]  # does not fit int64
    assert P.decode_raw_acc_frames([a, late]) is None


@given(n=st.integers(1, 80), m=st.integers(1, 5), data=st.data())
def test_sample_times_many_equals_one_by_one(n: int, m: int, data: st.DataObject) -> None:
    ts = data.draw(st.integers(2**40, 2**63 - 1))
    spans = data.draw(st.lists(st.one_of(
        st.integers(1, 4 * n), st.integers(1, 10**9),          # ties, small remainders
        st.integers(2**62 // n - 2, 2**62 // n + 2)), min_size=m, max_size=m))
    ts_k = [ts]
    for sp in spans[:0:-1]:
        ts_k.insert(0, ts_k[0] - sp)
    prev = [ts_k[0] - spans[0], *ts_k[:-1]]
    assume(prev[0] >= 0)
    got = P.sample_times_ns_many(np.array(ts_k, dtype=np.int64), n,
                                 np.array(prev, dtype=np.int64))
    assert got.shape == (m, n) and got.dtype == np.int64
    for k in range(m):
        assert_array_equal(got[k], P.sample_times_ns(ts_k[k], n, FS, prev[k]))


def test_sample_times_many_rejects_bad_arguments() -> None:
    one = np.array([100], dtype=np.int64)
    with pytest.raises(InputError, match="n must be"):
        P.sample_times_ns_many(one, 0, one - 1)
    with pytest.raises(InputError, match="prev_timestamps_ns"):
        P.sample_times_ns_many(one, 2, one)
    with pytest.raises(InputError, match="prev_timestamps_ns"):
        P.sample_times_ns_many(one, 2, one - 101)
    with pytest.raises(InputError, match="same shape"):
        P.sample_times_ns_many(one, 2, np.array([1, 2], dtype=np.int64))
