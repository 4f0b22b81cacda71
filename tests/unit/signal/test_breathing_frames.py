"""breathing.frames_step over any grouping of seconds equals the seconds one by one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from signal_synth import make_run, random_mount

from breathform.signal import breathing
from breathform.signal import frames as fr
from breathform.signal.regrid import Samples

FS = 100.0


def _frames(seed: int) -> list[breathing.BreathFrame]:
    """A stand then a run, with a hole (reset, empty seconds), filled samples, the stride
    changing or unknown and the calibration arriving part-way (principal-axis path first)."""
    rng = np.random.default_rng(seed)
    s = make_run(fs_hz=FS, duration_s=150.0, run_start_s=50.0, mount_chest=random_mount(rng),
                 seed=seed)
    keep = (s.t_s < 95.0) | (s.t_s > 98.4)
    t, acc = s.t_s[keep], s.chest_acc_g[keep]
    m = t.size
    idx = np.round(t * FS).astype(np.int64)
    filled = np.zeros(m, bool)
    filled[(t > 70.0) & (t < 70.6)] = True
    reset = np.zeros(m, bool)
    reset[np.searchsorted(t, 98.4)] = True
    x = Samples(t, acc, None, idx, filled, reset)
    frames, _ = fr.push(fr.init_framer(), x, False)
    nan3 = np.full(3, np.nan)
    vert, fwd = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    out = []
    for f in frames:
        k = f.k
        stride = np.nan if k < 55 or 80 <= k < 84 else float(
            np.round(rng.uniform(0.68, 0.74), 2 if k % 3 else 1))
        out.append(breathing.BreathFrame(
            f, nan3 if k < 20 else vert, nan3 if k < 65 else fwd, stride, k < 48))
    return out


def _state_equal(a: breathing.BreathState, b: breathing.BreathState) -> None:
    for fa, fb in zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True):
        np.testing.assert_array_equal(fa, fb)


@pytest.mark.parametrize("seed", [0, 1])
def test_frames_step_equals_frame_step(seed: int) -> None:
    p = breathing.BreathParams(FS)
    frames = _frames(seed)
    assert any(bf.frame.samples.n == 0 for bf in frames)
    assert any(bf.frame.reset for bf in frames)
    s = breathing.init_state(p)
    want = []
    for bf in frames:
        row, s = breathing.frame_step(p, s, bf)
        want.append(row)
    rng = np.random.default_rng(seed)
    s2 = breathing.init_state(p)
    got: list[breathing.BreathSecond] = []
    i = 0
    while i < len(frames):
        j = i + int(rng.integers(1, 25))
        rows, s2 = breathing.frames_step(p, s2, frames[i:j])
        got += rows
        i = j
    assert repr(got) == repr(want)
    _state_equal(s, s2)
    assert sum(np.isfinite(r.rate_bpm) for r in want) > 50
    assert sum(bool(r.onsets_s) for r in want) > 10
    assert want[-1].rest_calibrated
    whole, s3 = breathing.frames_step(p, breathing.init_state(p), frames)
    assert repr(whole) == repr(want)
    _state_equal(s, s3)
