"""The clock's first-output guard, skipped where the map in use is clearly increasing,
decides as when it always runs (bit-identical outputs and state)."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.firmware_bridge import clock as C


def _run(p: C.ClockParams, t_dev, counts, t_obs, t_rx, force) -> tuple[np.ndarray, str]:
    s = C.init_state(p)
    outs = []
    i = j = 0
    rng = np.random.default_rng(len(counts))
    while j < len(counts):
        k = j + int(rng.integers(1, 40))
        c = counts[j:k]
        n = sum(c)
        o, s, _ = C.step_many(p, s, t_dev[i:i + n], c, t_obs[j:k], t_rx[j:k], force[j:k])
        outs.append(o)
        i += n
        j = k
    return np.concatenate(outs), repr(s)


@pytest.mark.parametrize("seed", range(6))
def test_guard_skip_changes_nothing(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    p = C.ClockParams(max_drift_ppm=float(rng.choice([300.0, 9e4])),
                      max_slew_ppm=float(rng.choice([5000.0, 4.9e5])),
                      slew_time_s=float(rng.choice([0.05, 10.0])),
                      min_baseline_s=float(rng.choice([0.0, 20.0])))
    fs = 200.0
    counts, t_dev, t_obs, t_rx, force = [], [], [], [], []
    last = 100.0
    drift = rng.normal(0, 2e-4)
    rx0 = float(rng.choice([0.0, 1e6]))  # late session times: coarser outputs than inputs
    for k in range(3000):
        n = int(rng.choice([8, 8, 1, 0]))
        # the next sample 1 / fs on, or a hair on (the guard's exact path)
        gap = 1 / fs if rng.random() > 0.02 else float(rng.choice([1e-13, 1e-11, 1e-9, 1e-6]))
        if rng.random() < 0.002:
            gap = -rng.uniform(1, 50)  # clock reset
        ts = last + gap + np.arange(n) / fs
        if n:
            last = float(ts[-1])
        counts.append(n)
        t_dev.append(ts)
        t_obs.append(last if n else last + gap)
        t_rx.append(rx0 + k * 8 / fs * (1 + drift) + rng.exponential(0.01)
                    + (rng.random() < 0.02) * rng.uniform(0, 3))
        force.append(bool(rng.random() < 0.002))
    td = np.concatenate(t_dev)
    got = _run(p, td, counts, t_obs, t_rx, force)
    monkeypatch.setattr(C, "_least_slope", lambda p: 0.0)  # the guard always runs
    want = _run(p, td, counts, t_obs, t_rx, force)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1]
    assert bool(np.all(np.diff(got[0]) > 0))
