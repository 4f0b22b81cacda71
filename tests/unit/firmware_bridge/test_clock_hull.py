"""The clock's envelope hull, derived incrementally as the window slides, equals a full one."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.firmware_bridge import clock as C


@pytest.mark.parametrize("seed", range(6))
def test_derived_hull_equals_full_chain(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # every prefix hull the fit asks for (most derived from the previous fit's hull as the
    # 300-s window slides) must equal the monotone chain run over all its points
    rng = np.random.default_rng(seed)
    n_checked = 0
    derive = C._derive_hull

    def checked(ts: tuple[float, ...], ys: tuple[float, ...]) -> tuple[int, ...]:
        nonlocal n_checked
        got = derive(ts, ys)
        assert got == tuple(C._chain(ts, ys, len(ts)))
        n_checked += 1
        return got

    monkeypatch.setattr(C, "_derive_hull", checked)
    m = 2500
    t_dev = np.cumsum(rng.uniform(0.5, 1.5, m) * rng.choice([0.3, 1.0, 2.5]))
    lat = rng.exponential(0.01, m) + (rng.random(m) < 0.05) * rng.uniform(0, 0.5, m)
    if seed % 2:
        lat = np.round(lat, 3)  # ties between bins
    C.run_batch(C.ClockParams(), t_dev, t_dev * (1 + rng.normal(0, 1e-4)) + lat)
    assert n_checked > 100
