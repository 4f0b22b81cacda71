"""The overhead-free reductions give numpy's results bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.signal import _numeric as nu


@pytest.mark.parametrize("seed", range(4))
def test_reductions_match_numpy_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        n = int(rng.integers(1, 450))
        z = rng.normal(size=n) * rng.choice([1e-3, 1.0, 100.0]) + rng.choice([0.0, 5.0, -300.0])
        assert nu.std1(z) == float(z.std())
        x = rng.normal(size=(n, 3)) * 0.3 + [0.0, 0.0, 1.0]
        if rng.random() < 0.5:  # a strided view, as gap-filled frames carry
            x = np.hstack((x, x))[:, :3]
        m, s = nu.mean_std_axis0(x)
        assert m.tobytes() == x.mean(axis=0).tobytes()
        assert s.tobytes() == x.std(axis=0).tobytes()
        if n >= 2:
            stop = float(rng.normal() * rng.choice([0.0, 1.0, 1e-300, 50.0]))
            assert nu.ramp(stop, n).tobytes() == np.linspace(0.0, stop, n).tobytes()
            y = np.cumsum(rng.normal(size=n) * rng.choice([1.0, 30.0, 200.0]))
            y = (y + 180.0) % 360.0 - 180.0
            assert nu.unwrap(y, 360.0).tobytes() == np.unwrap(y, period=360.0).tobytes()


def test_unwrap_keeps_signed_zeros_like_numpy():
    y = np.array([-0.0, -0.0, 0.0, -0.0])
    assert nu.unwrap(y, 360.0).tobytes() == np.unwrap(y, period=360.0).tobytes()
    assert nu.ramp(-0.0, 3).tobytes() == np.linspace(0.0, -0.0, 3).tobytes()
