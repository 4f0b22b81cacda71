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


def _rr_rate(t_s, rate, q) -> rr.RrRate:
    return rr.RrRate(np.asarray(t_s, float), np.asarray(rate, float), np.asarray(q, float))


def test_fuse_averages_agreeing_sources_and_prefers_the_better_one_otherwise():
    t = np.arange(1.0, 6.0)
    acc = np.array([20.0, 20.0, np.nan, 20.0, np.nan])
    q_acc = np.array([0.6, 0.3, 0.0, 0.6, 0.0])
    # second 1: agree (22 vs 20); 2: disagree, RR better; 3: RR only; 4: disagree, acc
    # better; 5: neither (and second 5 is missing from the RR estimate)
    est = _rr_rate([1.0, 2.0, 3.0, 4.0], [22.0, 30.0, 18.0, 30.0], [0.4, 0.9, 0.5, 0.4])
    rate, q = rr.fuse(t, acc, q_acc, est)
    assert rate[0] == pytest.approx((0.6 * 20.0 + 0.4 * 22.0) / 1.0)
    assert q[0] == pytest.approx(1.0 - 0.4 * 0.6)
    assert (rate[1], q[1]) == (30.0, 0.9)
    assert (rate[2], q[2]) == (18.0, 0.5)
    assert (rate[3], q[3]) == (20.0, 0.6)
    assert np.isnan(rate[4])
    np.testing.assert_array_equal(rr.fuse(t, acc, q_acc, _rr_rate([], [], []))[0], acc)


def test_fuse_rejects_mismatched_arrays():
    with pytest.raises(InputError, match="same length"):
        rr.fuse(np.arange(3.0), np.zeros(2), np.zeros(3), _rr_rate([], [], []))
    with pytest.raises(InputError, match="agree_bpm"):
        rr.fuse(np.arange(3.0), np.zeros(3), np.zeros(3), _rr_rate([], [], []), agree_bpm=0)


def test_heart_rate_from_the_trailing_beats():
    t, r = _beats(60.0, 75.0, 12.0, 0.0, seed=4)
    hr = rr.heart_rate_bpm(rr.RrParams(), t, r, np.array([0.5, 30.0, 59.0, 80.0]))
    assert np.isnan(hr[0]) and np.isnan(hr[3])  # before the first beat; long after the last
    np.testing.assert_allclose(hr[1:3], 75.0, atol=1.0)


def test_the_tracker_must_fit_the_resampled_rate():
    from breathform.signal import breathing

    fast = breathing.RateTracker(grid_bpm=(6.0, 120.0, 0.25))
    with pytest.raises(InputError, match="grid_bpm"):
        rr.RrParams(fs_hz=4.0, tracker=fast)
    assert rr.RrParams(fs_hz=8.0, tracker=fast).tracker is fast
