"""Chest cadence on gait shapes the Hexoskin recordings showed (issue 5).

Uneven left/right steps (the step peak of the autocorrelation is blurred and shifted, the
stride peak is not) and a stop (the trailing window still holds seconds of steps).
"""

from __future__ import annotations

import numpy as np

from breathform.signal import cadence
from breathform.signal.regrid import samples_from_arrays

FS = 64.0


def _walk(step_s: tuple[float, float], stop_s: float, dur_s: float, seed: int
          ) -> tuple[list[cadence.CadenceSecond], float]:
    """Vertical step bumps (left, right alternating) until ``stop_s``, then sway only."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(dur_s * FS)) / FS
    z = np.zeros_like(t)
    k, tk = 0, 0.7
    while tk < stop_s:
        amp = (0.55, 0.4)[k % 2]  # the two feet land differently
        z += amp * np.exp(-0.5 * ((t - tk) / 0.05) ** 2)
        z -= 0.5 * amp * np.exp(-0.5 * ((t - tk - 0.15) / 0.08) ** 2)
        tk += step_s[k % 2]
        k += 1
    z += 0.02 * np.sin(2 * np.pi * 0.3 * t) + rng.normal(0, 0.01, t.size)  # breathing
    acc = np.zeros((t.size, 3))
    acc[:, 2] = 1.0 + z
    acc[:, 0] = 0.03 * np.sin(2 * np.pi * t / sum(step_s)) + rng.normal(0, 0.01, t.size)
    p = cadence.CadenceParams(FS)
    rows = cadence.run_batch(p, samples_from_arrays(t, acc, None))
    return rows, 120.0 / sum(step_s)


def test_uneven_steps_give_two_steps_per_stride() -> None:
    for seed, steps in enumerate(((0.50, 0.60), (0.58, 0.50), (0.33, 0.38))):
        rows, want = _walk(steps, 60.0, 60.0, seed)
        cad = np.array([r.cadence_spm for r in rows if r.t_s >= 10])
        assert np.all(np.isfinite(cad)), steps
        # one 64-Hz sample of step lag is ~3 % of the cadence: the step peak is that far off
        assert np.max(np.abs(cad - want)) < 0.6, (steps, want, cad)
        stride = np.array([r.stride_s for r in rows if r.t_s >= 10])
        np.testing.assert_allclose(120.0 / stride, cad)


def test_stop_withholds_the_cadence_within_two_seconds() -> None:
    stop = 30.0
    rows, want = _walk((0.52, 0.56), stop, 45.0, 7)
    t = np.array([r.t_s for r in rows])
    cad = np.array([r.cadence_spm for r in rows])
    walking = (t >= 8) & (t <= stop)
    assert np.all(np.abs(cad[walking] - want) < 0.6)
    # the trailing 6-s window still holds steps until stop + 6 s: no cadence after stop + 2
    assert np.all(np.isnan(cad[t >= stop + 2.0])), cad[t >= stop]
    # the stride period is kept while only the stop check withholds the cadence
    late = (t >= stop + 2.0) & (t <= stop + 4.0)
    assert np.all(np.isfinite([r.stride_s for r, k in zip(rows, late, strict=True) if k]))
