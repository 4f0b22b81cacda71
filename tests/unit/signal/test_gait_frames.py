"""gait.frames_step over any grouping of seconds equals gait.step second by second."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_gait import _sim_samples

from breathform.signal import frames as fr
from breathform.signal import gait


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frames_step_equals_step_per_second(seed: int) -> None:
    x = _sim_samples()  # a reset inside a second, gap-filled samples
    frames, _ = fr.push(fr.init_framer(), x, True)
    assert any(f.reset and not f.samples.reset[0] for f in frames)
    p = gait.GaitParams(104.0)
    s = gait.init_state(p)
    want = []
    for f in frames:
        c, st, s = gait.step(p, s, f.samples)
        want.append((c, st))
    rng = np.random.default_rng(seed)
    s2 = gait.init_state(p)
    got: list[tuple[list[gait.Contact], list[gait.Stride]]] = []
    i = 0
    while i < len(frames):
        j = i + int(rng.integers(1, 12))
        out, s2 = gait.frames_step(p, s2, [f.samples for f in frames[i:j]])
        got += out
        i = j
    assert repr(got) == repr(want)
    assert sum(len(st) for _, st in want) > 20
    for fa, fb in zip(dataclasses.astuple(s), dataclasses.astuple(s2), strict=True):
        np.testing.assert_array_equal(fa, fb)
    # empty chunks decide nothing and change nothing
    out, s3 = gait.frames_step(p, s2, [x.__class__(*(a[:0] for a in (
        x.t_s, x.acc_g, x.gyr_dps, x.idx, x.filled, x.reset)))])
    assert out == [([], [])] and s3 is s2
