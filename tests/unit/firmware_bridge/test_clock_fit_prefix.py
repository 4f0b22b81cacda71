"""The clock fit with its prefix (all bins but the last) cached equals the plain fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from breathform.firmware_bridge import clock as C


@pytest.mark.parametrize("seed", range(8))
def test_fit_prefix_equals_fit(seed: int) -> None:
    # the last bin's minimum moves down several times per prefix (as between new bins);
    # each call must give _fit's (a, r) bit for bit, whatever the cache holds
    rng = np.random.default_rng(seed)
    p = C.ClockParams()
    n_cached = 0
    for _ in range(40):
        m = int(rng.integers(1, 160))
        t = np.cumsum(rng.uniform(0.5, 2.0, m))
        ts = tuple(t.tolist())
        ys = rng.exponential(0.01, m) + t * rng.normal(0, 1e-4)
        if seed % 2:
            ys = np.round(ys, 3)  # ties
        ys_l = ys.tolist()
        pre = C._Prefix()
        prev_r = float(rng.choice([0.0, -0.0, 1e-5]))
        for _ in range(5):
            got = C._fit_prefix(p, ts, tuple(ys_l), prev_r, pre)
            want = C._fit(p, ts, tuple(ys_l), prev_r)
            assert got == want
            assert [math.copysign(1.0, v) for v in got] == [math.copysign(1.0, v)
                                                             for v in want]
            n_cached += pre.hull is not None
            ys_l[-1] -= float(rng.exponential(0.005))
            prev_r = got[1]
    assert n_cached > 50
