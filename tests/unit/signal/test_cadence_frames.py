"""cadence.frames_step over any group of seconds equals frame_step second by second."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.signal import cadence
from breathform.signal import frames as fr
from breathform.signal.regrid import Samples

FS = 104.0


def _frames(seed: int) -> list[fr.Frame]:
    rng = np.random.default_rng(seed)
    n = int(60 * FS)
    t = np.arange(n) / FS + 0.3
    keep = (t < 20) | (t > 23.5)  # a 3.5-s hole: seconds without samples
    t = t[keep]
    m = t.size
    step_hz = rng.uniform(2.4, 3.0)
    amp = np.where((t > 35) & (t < 42), 0.0, 0.6)  # standing still for a while
    acc = np.zeros((m, 3))
    acc[:, 2] = 1.0 + amp * np.sin(2 * np.pi * step_hz * t) + rng.normal(0, 0.02, m)
    acc[:, 0] = 0.2 * amp * np.sin(np.pi * step_hz * t)
    reset = np.zeros(m, bool)
    reset[np.searchsorted(t, 23.5)] = True  # the first sample after the hole
    x = Samples(t, acc, None, np.arange(m, dtype=np.int64), np.zeros(m, bool), reset)
    frames, _ = fr.push(fr.init_framer(), x, False)
    return frames


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frames_step_equals_frame_step(seed: int) -> None:
    p = cadence.CadenceParams(FS)
    frames = _frames(seed)
    assert any(f.samples.n == 0 for f in frames) and any(f.reset for f in frames)
    s = cadence.init_state(p)
    want = []
    for f in frames:
        row, s = cadence.frame_step(p, s, f)
        want.append(row)
    rng = np.random.default_rng(seed)
    s2 = cadence.init_state(p)
    got: list[cadence.CadenceSecond] = []
    i = 0
    while i < len(frames):
        j = i + int(rng.integers(1, 12))
        rows, s2 = cadence.frames_step(p, s2, frames[i:j])
        got += rows
        i = j
    assert repr(got) == repr(want)
    assert sum(np.isfinite(r.cadence_spm) for r in want) > 20
    assert sum(np.isnan(r.cadence_spm) for r in want) > 5
    np.testing.assert_array_equal(s.buf, s2.buf)
    np.testing.assert_array_equal(s.zi, s2.zi)
    assert s.n_valid == s2.n_valid
