"""The rate tracker's lean arithmetic gives what the plain numpy formulation gives, bit for bit.

The references below are the tracker as first written (one numpy call per formula line);
the module computes the same operations in place and on cached constants.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from breathform.signal import breathing


def _ref_step(t: breathing.RateTracker, belief: np.ndarray, spec: np.ndarray,
              prior_now: np.ndarray | None, ceiling_hz: float
              ) -> tuple[np.ndarray, float, float]:
    f = breathing.tracker_grid_hz(t)
    total = float(spec.sum())
    lik = None
    if total > 0 and np.isfinite(total):
        lik = (spec * (1.0 / total) + 1e-12) ** t.evidence_temp
    pred = np.convolve(belief, breathing._walk_kernel(t), mode="same")
    pred = pred / pred.sum()
    prior = breathing.tracker_prior(t) if prior_now is None else prior_now
    pred = (1.0 - t.prior_mix) * pred + t.prior_mix * prior
    if lik is not None:
        if np.isfinite(ceiling_hz):
            lik[f > ceiling_hz] = 0.0
        post = pred * lik
        post = post / post.sum()
    else:
        post = pred
    f_mean = float(post @ f)
    g0, _, gd = t.grid_bpm
    c = 60.0 * f_mean
    lo = max(0, int(np.ceil((c - 3.0 - g0) / gd - 1e-9)))
    hi = min(f.shape[0], int(np.floor((c + 3.0 - g0) / gd + 1e-9)) + 1)
    mass = float(post[lo:max(lo, hi)].sum())
    q0, q1 = t.quality_mass
    return post, f_mean, min(1.0, max(0.0, (mass - q0) / (q1 - q0)))


def _ref_peak(full: np.ndarray, df_hz: float, f_mode_hz: float, local_bpm: float) -> float:
    half = max(1, int(local_bpm / 60.0 / df_hz))
    c = round(f_mode_hz / df_hz)
    lo, hi = max(1, c - half), min(full.shape[0] - 1, c + half + 1)
    if hi - lo < 3:
        return float("nan")
    i = lo + int(np.argmax(full[lo:hi]))
    if not 0 < i < full.shape[0] - 1:
        return float("nan")
    a, b, cc = (float(np.log(v + 1e-30)) for v in full[i - 1:i + 2])
    den = a - 2 * b + cc
    delta = float(np.clip(0.5 * (a - cc) / den, -0.5, 0.5)) if den < 0 else 0.0
    return (i + delta) * df_hz


def _same(a: float, b: float) -> bool:
    return math.isnan(a) and math.isnan(b) or a == b and math.copysign(1, a) == math.copysign(1, b)


@pytest.mark.parametrize("tracker", [breathing.RateTracker(),
                                     breathing.RateTracker(walk_sigma_bpm=0.5, prior_mix=0.2,
                                                           evidence_temp=1.0)])
def test_tracker_step_is_the_plain_formulation(tracker: breathing.RateTracker) -> None:
    rng = np.random.default_rng(11)
    n = breathing.tracker_grid_hz(tracker).shape[0]
    f = breathing.tracker_grid_hz(tracker)
    b_new = b_ref = breathing.tracker_prior(tracker).copy()
    for i in range(300):
        spec = rng.exponential(1.0, n) * np.exp(-0.5 * ((np.arange(n) - rng.integers(n)) / 9) ** 2)
        if i % 17 == 0:
            spec = np.zeros(n)           # no evidence: the belief only diffuses
        elif i % 23 == 0:
            spec[5] = np.nan             # non-finite evidence: none
        prior = None
        if i % 3 == 1:
            w = rng.random(n)
            prior = w / w.sum()
        ceiling = [np.inf, float(f[rng.integers(1, n)]), 0.3 + rng.random(), np.nan][i % 4]
        want = _ref_step(tracker, b_ref, spec.copy(), prior, ceiling)
        got = breathing.tracker_step(tracker, b_new, spec.copy(), prior, ceiling)
        np.testing.assert_array_equal(got[0], want[0])
        assert _same(got[1], want[1]) and _same(got[2], want[2])
        b_new, b_ref = got[0], want[0]


def test_refined_peak_is_the_plain_formulation() -> None:
    rng = np.random.default_rng(12)
    for i in range(2000):
        m = int(rng.integers(1, 60))
        full = rng.exponential(1.0, m) * 10.0 ** rng.uniform(-30, 3)
        if i % 7 == 0:
            full[rng.integers(m)] = 0.0
        df = float(rng.uniform(0.001, 0.05))
        mode = float(rng.uniform(-0.1, 1.2 * m * df))
        local = float(rng.uniform(0.1, 6.0))
        assert _same(breathing.refined_peak_hz(full, df, mode, local),
                     _ref_peak(full, df, mode, local))


def test_grid_near_plain() -> None:
    t = breathing.RateTracker()
    g0, _, gd = t.grid_bpm
    n = breathing.tracker_grid_hz(t).shape[0]
    for c in np.linspace(-10.0, 80.0, 3601):
        for half in (0.0, 0.25, 3.0):
            lo = max(0, int(np.ceil((c - half - g0) / gd - 1e-9)))
            hi = min(n, int(np.floor((c + half - g0) / gd + 1e-9)) + 1)
            assert breathing.grid_near(t, float(c), half) == slice(lo, max(lo, hi))
