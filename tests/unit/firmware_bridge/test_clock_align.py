"""Device clock -> session time: accuracy under drift and latency, continuity, resets."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breathform.errors import InputError
from breathform.firmware_bridge import clock as C


def _session(seed: int, drift_ppm: float, dur_s: float = 180.0, rate_hz: float = 5.5,
             spikes: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t_true = np.cumsum(rng.uniform(0.8, 1.2, int(dur_s * rate_hz)) / rate_hz)
    t_dev = 7.0e5 + rng.uniform(-1e3, 1e3) + t_true * (1 + drift_ppm * 1e-6)
    lat = rng.uniform(0.005, 0.06, t_true.size)
    if spikes:
        sp = rng.random(t_true.size) < 0.02
        lat[sp] += rng.exponential(0.3, int(sp.sum()))
    return t_true, t_dev, t_true + lat


@pytest.mark.parametrize("drift_ppm", [-200.0, -100.0, 0.0, 100.0, 200.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_after_a_minute(drift_ppm: float, seed: int) -> None:
    t_true, t_dev, t_rx = _session(seed, drift_ppm)
    out, s = C.run_batch(C.ClockParams(), t_dev, t_rx)
    err = out - t_true
    late = t_true > 60
    # bias is the minimum latency (5 ms) since latency_floor_s = 0
    assert np.all(np.abs(err[late]) < 0.010), (err[late].min(), err[late].max())
    assert abs(s.fit_drift + drift_ppm * 1e-6) < 20e-6
    assert s.n_resets == 0
    assert np.all(np.diff(out) > 0)


def test_latency_floor_removes_the_bias() -> None:
    t_true, t_dev, t_rx = _session(5, 100.0)
    out, _ = C.run_batch(C.ClockParams(latency_floor_s=0.005), t_dev, t_rx)
    late = t_true > 60
    assert np.all(np.abs(out[late] - t_true[late]) < 0.003)


def test_per_sample_mapping_is_continuous_and_increasing() -> None:
    rng = np.random.default_rng(3)
    p, s = C.ClockParams(), C.init_state(C.ClockParams())
    fs, n = 200.0, 36
    drift = 150e-6
    outs = []
    for k in range(400):
        idx = np.arange(k * n, (k + 1) * n)
        t_true = idx / fs
        t_dev = 50.0 + t_true * (1 + drift)
        o, s = C.step(p, s, t_dev, float(t_dev[-1]), float(t_true[-1]) + rng.uniform(.005, .06))
        outs.append(o)
    out = np.concatenate(outs)
    d = np.diff(out)
    assert np.all(d > 0)
    # no jumps: every sample step stays within 1 % (+ slew limit) of the nominal 5 ms
    assert np.all(np.abs(d - 1 / fs) < 0.01 / fs + 1e-4)


def test_reset_backwards_reanchors_keeps_increasing_and_flags() -> None:
    t_true, t_dev, t_rx = _session(4, 80.0, dur_s=120.0, spikes=False)
    half = t_true.size // 2
    # the device clock restarts far in the past (a Polar going back to 2019)
    t_dev2 = t_dev.copy()
    t_dev2[half:] = t_dev[half:] - 1.9e8
    out, s = C.run_batch(C.ClockParams(), t_dev2, t_rx)
    assert s.n_resets == 1
    assert np.all(np.diff(out) > 0)
    # right after a reset the error is bounded by the latency, and it recovers
    assert np.all(np.abs(out[half:] - t_true[half:]) < 0.08)
    assert abs(s.fit_drift + 80e-6) < 30e-6  # drift estimate survives the reset


def test_reset_forward_jump_detected() -> None:
    t_true, t_dev, t_rx = _session(6, 0.0, dur_s=60.0, spikes=False)
    t_dev2 = t_dev.copy()
    t_dev2[100:] += 3600.0
    out, s = C.run_batch(C.ClockParams(), t_dev2, t_rx)
    assert s.n_resets == 1
    assert np.all(np.abs(out[100:] - t_true[100:]) < 0.08)


def test_latency_spikes_are_not_resets() -> None:
    t_true, t_dev, t_rx = _session(7, 50.0, dur_s=60.0, spikes=False)
    t_rx = t_rx.copy()
    t_rx[50] += 1.5  # a 1.5 s BLE stall (< reset_thresh_s)
    _, s = C.run_batch(C.ClockParams(), t_dev, t_rx)
    assert s.n_resets == 0


def test_force_reset() -> None:
    p = C.ClockParams()
    s = C.init_state(p)
    _, s = C.step(p, s, np.array([1.0]), 1.0, 10.0)
    o, s = C.step(p, s, np.array([1.1]), 1.1, 10.1, force_reset=True)
    assert s.n_resets == 1 and o[0] > 10.0


@settings(max_examples=15)
@given(cut=st.integers(1, 300))
def test_state_snapshot_resume_is_bit_identical(cut: int) -> None:
    t_true, t_dev, t_rx = _session(8, 120.0, dur_s=60.0)
    p = C.ClockParams()
    full, _ = C.run_batch(p, t_dev, t_rx)
    s = C.init_state(p)
    outs = []
    for i in range(cut):
        o, s = C.step(p, s, t_dev[i:i + 1], float(t_dev[i]), float(t_rx[i]))
        outs.append(o)
    snap = dataclasses.asdict(s)
    s2 = C.ClockState(**snap)
    for i in range(cut, t_dev.size):
        o, s2 = C.step(p, s2, t_dev[i:i + 1], float(t_dev[i]), float(t_rx[i]))
        outs.append(o)
    np.testing.assert_array_equal(np.concatenate(outs), full)


def test_empty_samples_and_validation() -> None:
    p = C.ClockParams()
    o, s = C.step(p, C.init_state(p), np.zeros(0), 5.0, 1.0)
    assert o.shape == (0,) and s.anchored
    with pytest.raises(InputError, match="strictly increasing"):
        C.step(p, s, np.array([6.0, 6.0]), 6.0, 2.0)
    with pytest.raises(InputError, match="not anchored"):
        C.to_session(p, C.init_state(p), np.array([1.0]))
    with pytest.raises(InputError, match="bin_s"):
        C.ClockParams(bin_s=0.0)


def _packets(seed: int) -> list[tuple[np.ndarray, float, float, bool]]:
    """Packets of 0, 1, 8 or 36 samples, with backward steps, jumps, spikes, forced resets."""
    rng = np.random.default_rng(seed)
    fs = float(rng.choice([52.0, 200.0, 208.0]))
    t, tr = 100.0 * rng.random(), 0.0
    pk = []
    for _ in range(int(rng.integers(100, 600))):
        n = int(rng.choice([0, 1, 8, 36]))
        if rng.random() < 0.01:
            t -= rng.uniform(0, 100)
        if rng.random() < 0.01:
            t += rng.uniform(0, 30)
        td = t + np.arange(n) / fs
        t += max(n, 1) / fs * (1 + 1e-4)
        tr += max(n, 1) / fs
        lat = rng.uniform(0.005, 0.05) + (rng.exponential(0.3) if rng.random() < .02 else 0)
        obs = float(td[-1]) if n and rng.random() < .8 else t
        pk.append((td, obs, tr + lat, bool(rng.random() < 0.005)))
    return pk


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), floor=st.sampled_from([0.0, 0.004]),
       cuts=st.lists(st.integers(1, 150), min_size=1, max_size=30))
def test_step_many_equals_step_per_packet(seed: int, floor: float, cuts: list[int]) -> None:
    p = C.ClockParams(latency_floor_s=floor)
    pk = _packets(seed)
    s1 = C.init_state(p)
    ref, n_resets = [], []
    for td, obs, rx, force in pk:
        o, s1 = C.step(p, s1, td, obs, rx, force_reset=force)
        ref.append(o)
        n_resets.append(s1.n_resets)
    s2, outs, got_resets, i, k = C.init_state(p), [], [], 0, 0
    while i < len(pk):
        chunk = pk[i:i + cuts[k % len(cuts)]]
        o, s2, r = C.step_many(p, s2, np.concatenate([c[0] for c in chunk]),
                               [c[0].size for c in chunk], [c[1] for c in chunk],
                               [c[2] for c in chunk], [c[3] for c in chunk])
        outs.append(o)
        got_resets += r
        i, k = i + len(chunk), k + 1
    np.testing.assert_array_equal(np.concatenate(outs), np.concatenate(ref))
    assert repr(dataclasses.asdict(s2)) == repr(dataclasses.asdict(s1))
    assert got_resets == n_resets


def test_step_many_validation_consumes_nothing() -> None:
    p = C.ClockParams()
    _, s = C.step(p, C.init_state(p), np.array([1.0, 2.0]), 2.0, 1.0)
    with pytest.raises(InputError, match="strictly increasing"):
        C.step_many(p, s, np.array([3.0, 4.0, 5.0, 5.0]), [2, 2], [4.0, 5.0], [2.0, 3.0],
                    [False, False])
    with pytest.raises(InputError, match="finite"):
        C.step_many(p, s, np.array([3.0]), [1], [3.0], [math.nan], [False])
    with pytest.raises(InputError, match="per packet"):
        C.step_many(p, s, np.array([3.0]), [2], [3.0], [2.0], [False])
    # a packet boundary may step back (that is a reset, not invalid input)
    o, s2, r = C.step_many(p, s, np.array([3.0, 4.0, 0.5, 0.6]), [2, 2], [4.0, 0.6],
                           [2.0, 3.0], [False, False])
    assert r == [0, 1] and np.all(np.diff(o) > 0)
