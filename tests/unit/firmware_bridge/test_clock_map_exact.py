"""clock._map_exact (Python floats) maps bit for bit as the array map does."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.firmware_bridge import clock


@pytest.mark.parametrize("floor_s", [0.0, 0.012])
def test_map_exact_matches_the_array_map(floor_s):
    p = clock.ClockParams(latency_floor_s=floor_s)
    rng = np.random.default_rng(3)
    for _ in range(3000):
        e0 = float(rng.choice([0.0, rng.normal() * 1e-2, -abs(rng.normal()) * 1e-4]))
        prm = (float(rng.uniform(0, 1e5)), float(rng.uniform(0, 4e3)),
               float(rng.normal() * 1e-2), float(rng.normal() * 1e-4),
               float(rng.uniform(0, 3e3)), e0, float(rng.uniform(10.0, 50.0)))
        x = float(rng.uniform(0, 4e3)) if rng.random() < 0.9 else prm[4]
        _, out_ref, a, r, t0, e, tau = prm
        want = clock._map_rel_arr(p, out_ref, a, r, t0, e, tau, np.array([x, x + 0.01]))[0]
        assert clock._map_exact(p, prm, x) == float(want)
