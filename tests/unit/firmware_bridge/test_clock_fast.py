"""step_many's fast path (quiet stretches taken in bulk) against its scalar loop and step().

Every output, state and n_resets list must be bit-identical, whatever the packet stream:
jitter, gaps, device clock jumps backwards and forwards, forced resets, empty packets,
latency spikes beyond the reset threshold, hair-thin gaps between packets (the first-output
guard's exact path), late session times, and any cut of the stream into calls.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breathform.firmware_bridge import clock as C

_PARAMS = [
    C.ClockParams(),
    C.ClockParams(latency_floor_s=0.004),
    C.ClockParams(bin_s=0.5, window_s=20.0, min_baseline_s=0.0, reset_thresh_s=0.3),
    C.ClockParams(max_drift_ppm=9e4, max_slew_ppm=4.9e5, slew_time_s=0.05, bin_s=1.0,
                  window_s=30.0, min_baseline_s=5.0),
    C.ClockParams(bin_s=5.0, window_s=10.0, min_baseline_s=0.0, reset_thresh_s=0.05),
]

Packet = tuple[np.ndarray, float, float, bool]


def _stream(seed: int, n_packets: int) -> list[Packet]:
    """Packets of 0, 1, 8 or 36 samples with the irregularities listed above."""
    rng = np.random.default_rng(seed)
    fs = float(rng.choice([52.0, 200.0, 208.0]))
    counts = rng.choice([[8], [36], [0, 1, 8, 36], [0, 8]][seed % 4], n_packets)
    last = 100.0 * rng.random()  # the last sample's device time
    rx = float(rng.choice([0.0, 1e6]))  # late session times: coarser outputs than inputs
    drift = rng.normal(0, 2e-4)
    ties = rng.random() < 0.3
    pk = []
    for n in counts.tolist():
        gap, u = 1 / fs, rng.random()
        if u < 0.005:
            gap = -rng.uniform(1, 100)  # device clock reset
        elif u < 0.01:
            gap = rng.uniform(1, 30)  # jump forward
        elif u < 0.04:
            gap = float(rng.choice([1e-13, 1e-11, 1e-9, 1e-6]))  # a hair after the last
        td = last + gap + np.arange(n) / fs
        obs = float(td[-1]) if n and rng.random() < 0.8 else last + gap + max(n - 1, 0) / fs
        if n:
            last = float(td[-1])
        rx += max(n, 1) / fs * (1 + drift)
        lat = rng.exponential(0.01) + (rng.exponential(0.5) if rng.random() < 0.02 else 0.0)
        if ties:
            lat = round(lat, 3)
        pk.append((td, obs, rx + lat, bool(rng.random() < 0.003)))
    return pk


def _feed(p: C.ClockParams, pk: list[Packet], cuts: list[int], fast: bool
          ) -> tuple[np.ndarray, C.ClockState, list[int]]:
    s, outs, resets, i, k = C.init_state(p), [], [], 0, 0
    while i < len(pk):
        chunk = pk[i:i + cuts[k % len(cuts)]]
        o, s, r = C._step_many(p, s, np.concatenate([c[0] for c in chunk]),
                               [c[0].size for c in chunk], [c[1] for c in chunk],
                               [c[2] for c in chunk], [c[3] for c in chunk], fast=fast)
        outs.append(o)
        resets += r
        i, k = i + len(chunk), k + 1
    return np.concatenate(outs), s, resets


def _assert_same(got: tuple[np.ndarray, C.ClockState, list[int]],
                 want: tuple[np.ndarray, C.ClockState, list[int]]) -> None:
    np.testing.assert_array_equal(got[0], want[0])
    # repr: tells -0.0 from 0.0
    assert repr(dataclasses.asdict(got[1])) == repr(dataclasses.asdict(want[1]))
    assert got[2] == want[2]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), which=st.integers(0, len(_PARAMS) - 1),
       cuts=st.lists(st.integers(1, 400), min_size=1, max_size=10),
       min_packets=st.sampled_from([1, 2, C._FAST_MIN_PACKETS]),
       min_per_bin=st.sampled_from([0.0, C._FAST_MIN_PER_BIN]))
def test_fast_path_equals_scalar_loop(seed: int, which: int, cuts: list[int],
                                      min_packets: int, min_per_bin: float) -> None:
    p = _PARAMS[which]
    pk = _stream(seed, 700)
    want = _feed(p, pk, cuts, fast=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(C, "_FAST_MIN_PACKETS", min_packets)
        mp.setattr(C, "_FAST_MIN_PER_BIN", min_per_bin)
        got = _feed(p, pk, cuts, fast=True)
    _assert_same(got, want)
    assert bool(np.all(np.diff(got[0]) > 0))


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_equals_step_per_packet(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "_FAST_MIN_PER_BIN", 0.0)
    p = _PARAMS[seed % 2]
    pk = _stream(seed, 1500)
    # (outputs, state) after each packet, fed one at a time through step()
    after = list(itertools.accumulate(
        pk, lambda prev, q: C.step(p, prev[1], q[0], q[1], q[2], force_reset=q[3]),
        initial=(np.zeros(0), C.init_state(p))))[1:]
    want = (np.concatenate([o for o, _ in after]), after[-1][1], [s.n_resets for _, s in after])
    _assert_same(_feed(p, pk, [512], fast=True), want)


def test_most_packets_are_taken_in_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    # a quiet stream (a 200 Hz strap, small latency jitter): most packets leave the bins
    # alone and pass every check, so they should not go through the scalar loop
    p = C.ClockParams()
    rng = np.random.default_rng(7)
    pk = []
    for k in range(3000):
        td = 50.0 + (k * 8 + np.arange(8)) / 200.0
        pk.append((td, float(td[-1]), k * 8 / 200.0 + rng.exponential(0.01), False))
    planned = 0
    real = C._quiet_stretches

    def counting(*args: object) -> tuple[list[list[int]], list[list[float]]]:
        nonlocal planned
        out = real(*args)  # type: ignore[arg-type]
        planned += sum(end - start for start, end, _, _ in out[0])
        return out

    monkeypatch.setattr(C, "_quiet_stretches", counting)
    got = _feed(p, pk, [512], fast=True)
    assert planned > 0.7 * len(pk)
    monkeypatch.undo()
    _assert_same(got, _feed(p, pk, [512], fast=False))


@pytest.mark.parametrize("counts", [[], [0] * 40, [0, 0, 8] * 20, [1] * 50])
def test_edge_streams(counts: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    # empty calls, packets without samples only, single-sample packets, an anchored start
    monkeypatch.setattr(C, "_FAST_MIN_PACKETS", 1)
    monkeypatch.setattr(C, "_FAST_MIN_PER_BIN", 0.0)
    p = C.ClockParams()
    t, pk = 10.0, []
    for k, n in enumerate(counts):
        td = t + np.arange(n) / 100.0
        t += max(n, 1) / 100.0
        pk.append((td, float(td[-1]) if n else t, t + 0.01 * (k % 3), False))
    for cuts in ([1000], [1], [7, 3]):
        if not pk:
            s = C.init_state(p)
            for fast in (True, False):
                o, s2, r = C._step_many(p, s, np.zeros(0), [], [], [], [], fast=fast)
                assert o.size == 0 and s2 == s and r == []
            continue
        _assert_same(_feed(p, pk, cuts, fast=True), _feed(p, pk, cuts, fast=False))
