"""posture.frames_step over any grouping of seconds equals frame_step second by second."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from breathform.signal import frames as fr
from breathform.signal import posture
from breathform.signal.regrid import Samples, samples_from_arrays
from breathform.sim import SimParams, simulate_run


@pytest.mark.parametrize("has_gyro", [True, False])
def test_frames_step_equals_frame_step(has_gyro: bool) -> None:
    run = simulate_run(SimParams.flat(seed=4, duration_s=150))
    imu = run.sacrum
    keep = (imu.t_s < 100.0) | (imu.t_s > 103.5)  # a hole: empty seconds, then a reset
    x = samples_from_arrays(imu.t_s[keep], imu.acc_g[keep],
                            imu.gyr_dps[keep] if has_gyro else None)
    reset = x.reset.copy()
    reset[int(np.searchsorted(x.t_s, 103.5))] = True
    x = Samples(x.t_s, x.acc_g, x.gyr_dps, x.idx, x.filled, reset)
    frames, _ = fr.push(fr.init_framer(), x, has_gyro)
    frames = [*frames[:101], fr.Frame(101, _empty(has_gyro)),
              *[fr.Frame(f.k + 1, f.samples) for f in frames[101:]]]
    p = posture.PostureParams(imu.fs_hz, has_gyro)
    rng = np.random.default_rng(0)
    steps = [float(v) for v in rng.uniform(0.33, 0.38, len(frames))]
    s = posture.init_state(p)
    want = []
    for f, st in zip(frames, steps, strict=True):
        row, s, _ = posture.frame_step(p, s, f, st)
        want.append(row)
    s2 = posture.init_state(p)
    got: list[posture.PostureSecond] = []
    i = 0
    while i < len(frames):
        j = i + int(rng.integers(1, 20))
        rows, _, s2 = posture.frames_step(p, s2, frames[i:j], steps[i:j])
        got += rows
        i = j
    assert repr(got) == repr(want)
    assert sum(r.calibrated for r in want) > 30
    assert any(f.samples.n == 0 for f in frames) and any(f.reset for f in frames)
    if has_gyro:
        assert sum(np.isfinite(r.roll_range_deg) for r in want) > 30
    for fa, fb in zip(dataclasses.astuple(s)[1:], dataclasses.astuple(s2)[1:], strict=True):
        if isinstance(fa, np.ndarray):
            np.testing.assert_array_equal(fa, fb)


def _empty(has_gyro: bool) -> Samples:
    z = np.zeros((0, 3))
    return Samples(np.zeros(0), z, z if has_gyro else None, np.zeros(0, np.int64),
                   np.zeros(0, bool), np.zeros(0, bool))


@pytest.mark.parametrize("period", [None, 360.0])
def test_stride_ranges_equal_stride_range_deg(period: float | None) -> None:
    rng = np.random.default_rng(5)
    fs, m = 104.0, 209
    parts = [np.full(m, np.nan)]
    ends, strides = [], []
    end = m
    for k in range(60):
        n = int(rng.integers(100, 110))
        a = np.cumsum(rng.normal(0.0, 3.0, n)) + rng.uniform(-180, 180)
        if period is not None:
            a = (a + 180.0) % 360.0 - 180.0     # headings that wrap
        if k % 11 == 3:
            a[rng.integers(0, n)] = np.nan
        if k % 13 == 5:
            a[:] = 0.0
            a[::2] = -0.0
        parts.append(a)
        end += n
        ends.append(end)
        strides.append([np.nan, 0.01, 3.0, *rng.uniform(0.6, 1.9, 5)][k % 8])
    big = np.concatenate(parts)
    got = posture._stride_ranges_deg(big, ends, strides, fs, m, period)
    want = [posture.stride_range_deg(big[e - m:e], st, fs, period)
            for e, st in zip(ends, strides, strict=True)]
    assert repr(got) == repr(want)
    assert sum(np.isfinite(want)) > 25 and sum(np.isnan(want)) > 10
