"""RR-interval respiration: rate from sinus arrhythmia, ectopic beats, gaps, causality."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.errors import InputError
from breathform.signal import rr_respiration as rr


def _beats(duration_s: float, hr_bpm: float, breath_bpm: float, rsa_ms: float, seed: int
           ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t, out_t, out_rr = 0.0, [], []
    while t < duration_s:
        r = 60000.0 / hr_bpm + rsa_ms * np.sin(2 * np.pi * breath_bpm / 60.0 * t)
        r += 5.0 * rng.standard_normal()
        t += r / 1000.0
        out_t.append(t)
        out_rr.append(r)
    return np.array(out_t), np.array(out_rr)


def test_rate_from_sinus_arrhythmia():
    t, r = _beats(180.0, 65.0, 12.0, 40.0, seed=1)
    est = rr.estimate(rr.RrParams(), t, r)
    late = est.t_s >= 90
    assert np.isfinite(est.rate_bpm[late]).mean() > 0.9
    assert np.nanmax(np.abs(est.rate_bpm[late] - 12.0)) < 1.0


def test_ectopic_beats_are_dropped():
    t, r = _beats(180.0, 65.0, 12.0, 40.0, seed=2)
    r2 = r.copy()
    r2[100::37] *= 0.6  # premature beats
    kept_t, _ = rr.clean_beats(rr.RrParams(), t, r2)
    assert kept_t.size == t.size - r2[100::37].size
    est = rr.estimate(rr.RrParams(), t, r2)
    assert np.nanmax(np.abs(est.rate_bpm[est.t_s >= 90] - 12.0)) < 1.0


def test_gap_gives_nan_and_output_is_causal():
    t, r = _beats(240.0, 65.0, 15.0, 40.0, seed=3)
    keep = (t < 100) | (t > 110)
    est = rr.estimate(rr.RrParams(), t[keep], r[keep], 240.0)
    in_gap = (est.t_s > 100) & (est.t_s < 138)
    assert np.all(np.isnan(est.rate_bpm[in_gap]))
    # the first 150 s computed alone equal the same seconds of the whole recording
    part = rr.estimate(rr.RrParams(), t[keep & (t <= 150)], r[keep & (t <= 150)], 150.0)
    n = part.t_s.size
    np.testing.assert_array_equal(part.rate_bpm[:n - 1], est.rate_bpm[:n - 1])


def test_bad_input_is_named():
    with pytest.raises(InputError, match="same length"):
        rr.estimate(rr.RrParams(), np.arange(3.0), np.ones(4))
    with pytest.raises(InputError, match="increase"):
        rr.estimate(rr.RrParams(), np.array([1.0, 1.0, 2.0]), np.full(3, 900.0))
    with pytest.raises(InputError, match="fs_hz"):
        rr.RrParams(fs_hz=1.0)
