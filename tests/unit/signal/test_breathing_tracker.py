"""The breathing tracker: abstention, locomotion rejection, priors, parameter checks."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.errors import InputError
from breathform.signal import breathing, regrid
from breathform.signal import frames as fr

FS = 50.0


def _frames(acc_g: np.ndarray, stride_s: float, still: bool) -> list[breathing.BreathFrame]:
    t = np.arange(acc_g.shape[0]) / FS
    frs, _ = fr.push(fr.init_framer(), regrid.samples_from_arrays(t, acc_g, None), False)
    up, fwd = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    return [breathing.BreathFrame(f, up, fwd, stride_s, still) for f in frs]


def _chest(duration_s: float, breath_bpm: float, breath_g: float, stride_spm: float,
           stride_g: float, noise_g: float, seed: int, jitter: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * FS)) / FS
    acc = np.zeros((t.size, 3))
    acc[:, 2] = 1.0
    acc[:, 0] += breath_g * np.sin(2 * np.pi * breath_bpm / 60.0 * t)
    # stride sway (lateral and fore-aft) with its harmonic, slightly irregular
    walk = np.cumsum(rng.standard_normal(t.size)) / np.sqrt(FS)
    ph = 2 * np.pi * stride_spm / 60.0 * t + jitter * walk
    acc[:, 1] += stride_g * np.sin(ph)
    acc[:, 0] += 0.5 * stride_g * np.sin(2 * ph + 0.4)
    acc += noise_g * rng.standard_normal(acc.shape)
    return acc


def test_rate_not_locked_to_the_stride():
    # irregular stride sway 5x the breathing amplitude (the comb cannot null it);
    # breathing at 0.4 breaths per stride, not the 0.5 of the coupling prior
    acc = _chest(120.0, 24.0, 0.004, 60.0, 0.02, 0.002, seed=1, jitter=0.5)
    rows = breathing.run_batch(breathing.BreathParams(FS), _frames(acc, 1.0, False))
    rate = np.array([r.rate_bpm for r in rows])[60:]
    assert np.isfinite(rate).mean() > 0.9
    assert np.nanmax(np.abs(rate - 24.0)) < 1.5


def test_without_the_stride_ceiling_the_stride_wins():
    acc = _chest(120.0, 24.0, 0.004, 60.0, 0.02, 0.002, seed=1, jitter=0.5)
    p = breathing.BreathParams(FS, stride_ceiling=0.0, coupling_sigma_log=0.0)
    rows = breathing.run_batch(p, _frames(acc, 1.0, False))
    rate = np.array([r.rate_bpm for r in rows])[60:]
    assert np.mean(np.abs(rate - 24.0) < 2.0) < 0.2  # NaN compares False


def test_abstains_on_noise_without_breathing():
    rng = np.random.default_rng(5)
    acc = np.tile([0.0, 0.0, 1.0], (round(120 * FS), 1)) + 0.01 * rng.standard_normal(
        (round(120 * FS), 3))
    rows = breathing.run_batch(breathing.BreathParams(FS), _frames(acc, np.nan, True))
    rate = np.array([r.rate_bpm for r in rows])
    # random peaks of a noise spectrum persist for a window length: the tracker abstains
    # most of the time, not always
    assert np.isnan(rate).mean() > 0.6
    assert np.median([r.quality for r in rows]) < 0.3
    assert all(0.0 <= r.quality <= 1.0 for r in rows)


def test_clear_breathing_is_reported_precisely_and_confidently():
    acc = _chest(90.0, 13.0, 0.01, 60.0, 0.0, 0.001, seed=2)
    rows = breathing.run_batch(breathing.BreathParams(FS), _frames(acc, np.nan, True))
    late = rows[40:]
    assert all(r.quality > 0.8 for r in late)
    assert max(abs(r.rate_bpm - 13.0) for r in late) < 0.5


def test_rate_change_is_followed():
    a = _chest(90.0, 15.0, 0.01, 60.0, 0.0, 0.001, seed=3)
    b = _chest(90.0, 30.0, 0.01, 60.0, 0.0, 0.001, seed=4)
    rows = breathing.run_batch(breathing.BreathParams(FS),
                               _frames(np.vstack((a, b)), np.nan, True))
    rate = np.array([r.rate_bpm for r in rows])
    assert abs(np.nanmedian(rate[60:88]) - 15.0) < 0.5
    assert abs(np.nanmedian(rate[150:178]) - 30.0) < 0.5


@pytest.mark.parametrize(("kw", "match"), [
    (dict(breaths_per_stride=0.0), "breaths_per_stride"),
    (dict(dominance=(0.3, 0.1)), "dominance"),
    (dict(tracker=breathing.RateTracker(grid_bpm=(6.0, 900.0, 0.25))), "grid_bpm"),
    (dict(window_s=10.0, min_window_s=12.0), "min_window_s"),
])
def test_params_are_validated(kw, match):
    with pytest.raises(InputError, match=match):
        breathing.BreathParams(FS, **kw)


@pytest.mark.parametrize(("kw", "match"), [
    (dict(grid_bpm=(6.0, 5.0, 0.25)), "grid_bpm"),
    (dict(prior_mix=0.0), "prior_mix"),
    (dict(evidence_temp=2.0), "evidence_temp"),
    (dict(walk_sigma_bpm=0.0), "walk_sigma_bpm"),
    (dict(quality_mass=(0.5, 0.2)), "quality_mass"),
    (dict(prior_bpm=(25.0, 0.0)), "prior_bpm"),
    (dict(local_bpm=0.0), "local_bpm"),
])
def test_tracker_params_are_validated(kw, match):
    with pytest.raises(InputError, match=match):
        breathing.RateTracker(**kw)


def test_shared_tracker_step_follows_evidence_and_diffuses_without_it():
    t = breathing.RateTracker()
    f_bpm = breathing.tracker_grid_hz(t) * 60.0
    belief = breathing.tracker_prior(t)
    spec = np.exp(-0.5 * ((f_bpm - 40.0) / 1.0) ** 2)
    for _ in range(30):
        belief, f_mean_hz, conf = breathing.tracker_step(t, belief, spec)
    assert abs(f_mean_hz * 60.0 - 40.0) < 1.0 and conf > 0.9
    # the ceiling excludes the peak: the belief moves below it
    _, f_low_hz, _ = breathing.tracker_step(t, belief, spec, ceiling_hz=30.0 / 60.0)
    assert f_low_hz * 60.0 < 40.0
    # no evidence: the belief only spreads (confidence falls), and stays a distribution
    b = belief
    for _ in range(60):
        b, _, conf_none = breathing.tracker_step(t, b, np.zeros_like(spec))
    assert conf_none < conf and abs(b.sum() - 1.0) < 1e-12


def test_refined_peak_is_between_bins_and_nan_at_edges():
    df_hz = 0.01
    f = np.arange(200) * df_hz
    full = np.exp(-0.5 * ((f - 0.3033) / 0.02) ** 2)
    assert abs(breathing.refined_peak_hz(full, df_hz, 0.3, 3.0) - 0.3033) < 0.001
    assert np.isnan(breathing.refined_peak_hz(full[:3], df_hz, 0.0, 3.0))


def test_rate_is_tracked_before_the_posture_knows_the_vertical():
    # the rate's evidence is summed over the three axes: it needs no mounting calibration;
    # the depth does (it is relative to the calibrated resting breath), so it stays NaN
    acc = _chest(90.0, 18.0, 0.01, 60.0, 0.0, 0.001, seed=6)
    nan3 = np.full(3, np.nan)
    frs = [breathing.BreathFrame(f.frame, nan3, nan3, np.nan, False)
           for f in _frames(acc, np.nan, False)]
    rows = breathing.run_batch(breathing.BreathParams(FS, rest_amp_g=0.007), frs)
    late = rows[40:]
    assert all(abs(r.rate_bpm - 18.0) < 0.5 for r in late)
    assert all(np.isnan(r.depth_rel) for r in late)
    assert all(r.amp_g > 0.0 for r in late)


def test_projected_amplitude_matches_a_direct_spectrum():
    # the amplitude reuses the three-axis spectrum (the FFT is linear): it must equal the
    # rms within peak_halfwidth_hz of the rate computed from the projection itself
    p = breathing.BreathParams(FS)
    rng = np.random.default_rng(7)
    n = round(p.window_s * p.fs_d_hz)
    t = np.arange(n) / p.fs_d_hz
    win = 0.001 * rng.standard_normal((n, 3))
    win[:, 0] += 0.01 * np.sin(2 * np.pi * 0.3 * t)
    axis = np.array([0.8, 0.6, 0.0])
    plan, spec3 = breathing._spectrum(p, win)
    got = breathing._amplitude(p, plan, breathing._proj_power(plan, spec3, axis), 0.3)
    sig = win @ axis
    w = np.hanning(n + 2)[1:-1]
    full = np.abs(np.fft.rfft((sig - sig.mean()) * w, p.nfft)) ** 2
    freqs = np.fft.rfftfreq(p.nfft, 1.0 / p.fs_d_hz)
    pk = full[np.abs(freqs - 0.3) <= p.peak_halfwidth_hz].sum()
    want = np.sqrt(2.0 * pk / (p.nfft * (w**2).sum()))
    assert got == pytest.approx(want, rel=1e-9)
    assert 0.6 * 0.01 / np.sqrt(2) * 0.8 < got < 1.1 * 0.01 / np.sqrt(2) * 0.8


def test_grid_near_selects_the_points_within_the_half_width():
    t = breathing.RateTracker()
    f_bpm = breathing.tracker_grid_hz(t) * 60.0
    for c in (5.0, 6.0, 17.3, 33.25, 59.9, 70.0):
        want = np.flatnonzero(np.abs(f_bpm - c) <= 3.0)
        sl = breathing.grid_near(t, c, 3.0)
        assert list(range(sl.start, sl.stop)) == want.tolist()
