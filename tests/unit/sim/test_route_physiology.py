"""Route, physiology and posture truth behave like the design asks."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.sim import PHASE_RUN, PHASE_STAND, PHASE_WALK, SimParams, SimRun, simulate_run


def test_session_layout(hilly_run: SimRun) -> None:
    tr = hilly_run.truth
    assert np.all(tr.phase[:40] == PHASE_STAND)
    assert np.all(tr.phase[40:50] == PHASE_WALK)
    assert np.all(tr.phase[50:] == PHASE_RUN)
    assert np.all(tr.cadence_spm[:40] == 0.0) and np.all(tr.speed_mps[:39] == 0.0)
    assert 12.0 <= tr.rate_bpm[10:40].mean() <= 16.5
    assert tr.depth_rel[10:40].mean() == pytest.approx(1.0, abs=0.1)
    assert np.all(np.abs(tr.pelvic_tilt_deg[:39]) < 0.05)
    assert 95.0 < tr.cadence_spm[42:50].mean() < 125.0


@pytest.mark.parametrize(("seed", "n_climbs"), [(0, 3), (1, 3), (2, 2), (11, 4), (23, 4)])
def test_climbs_cause_breathlessness_and_anterior_tilt(seed: int, n_climbs: int) -> None:
    run = simulate_run(SimParams.hilly(seed=seed, n_climbs=n_climbs))
    tr = run.truth
    assert len(run.climbs) == n_climbs
    assert run.climbs[0].start_s > 50.0 + 240.0  # after the warm-up
    assert all(a.end_s < b.start_s for a, b in zip(run.climbs[:-1], run.climbs[1:], strict=True))
    base = (tr.t_s > 120) & (tr.t_s < run.climbs[0].start_s - 10.0)
    assert not tr.breathless[base].any() and not tr.climbing[base].any()
    assert 25.0 <= tr.rate_bpm[base].mean() <= 35.0
    assert 160.0 <= tr.cadence_spm[base].mean() <= 185.0
    for c in run.climbs:
        assert 60.0 <= c.end_s - c.start_s <= 240.0 and 4.0 <= c.grade_pct <= 12.0
        during = (tr.t_s > c.start_s) & (tr.t_s < c.end_s + 10)
        assert tr.climbing[during].mean() > 0.8
        assert tr.breathless[during].any() and tr.form_degraded[during].any()
        hard = during & tr.breathless & tr.climbing
        extra_tilt = tr.pelvic_tilt_deg[hard].mean() - tr.pelvic_tilt_deg[base].mean()
        assert 3.0 <= extra_tilt <= 8.0
        assert tr.trunk_lean_deg[hard].mean() > tr.trunk_lean_deg[base].mean() + 2.0
        assert 40.0 <= tr.rate_bpm[hard].mean() <= 55.0
        # Rapid-shallow: rate up, depth down relative to easy running.
        assert tr.depth_rel[hard].mean() < tr.depth_rel[base].mean()
        assert tr.speed_mps[hard].mean() < tr.speed_mps[base].mean() - 0.3
        assert tr.cadence_spm[hard].mean() > tr.cadence_spm[base].mean()
        assert tr.hr_bpm[hard].mean() > tr.hr_bpm[base].mean() + 10.0


def test_flat_variant_has_no_climbs(flat_run: SimRun) -> None:
    tr = flat_run.truth
    assert flat_run.climbs == ()
    assert np.all(tr.grade_pct == 0.0)
    assert not tr.climbing.any() and not tr.form_degraded.any() and not tr.breathless.any()
    run = tr.phase == PHASE_RUN
    assert tr.rate_bpm[run][30:].std() < 4.0


def test_coupled_breaths_start_on_foot_strikes(hilly_run: SimRun) -> None:
    r = hilly_run
    on = r.breath_t_s[r.breath_coupled]
    assert on.size > 100
    j = np.clip(np.searchsorted(r.step_t_s, on), 1, r.step_t_s.size - 1)
    dist = np.minimum(np.abs(r.step_t_s[j] - on), np.abs(r.step_t_s[j - 1] - on))
    assert np.percentile(dist, 95) < 0.06
    spb = r.truth.strides_per_breath
    coupled_vals = spb[(r.truth.phase == PHASE_RUN) & ~r.truth.breathless]
    # Mostly on a coupling ratio (3:3, 3:2, 2:2, 2:1 = 3, 2.5, 2, 1.5 strides).
    near = np.min(np.abs(coupled_vals[:, None] - np.array([3.0, 2.5, 2.0, 1.5])), axis=1)
    assert np.mean(near < 0.1) > 0.8


def test_rate_truth_matches_breath_events(hilly_run: SimRun) -> None:
    r = hilly_run
    for t0, t1 in ((60, 300), (300, 900)):
        n_breaths = np.sum((r.breath_t_s > t0) & (r.breath_t_s <= t1))
        assert r.truth.rate_bpm[t0:t1].mean() * (t1 - t0) / 60.0 == pytest.approx(
            n_breaths, abs=1.5)
    n_steps = np.sum((r.step_t_s > 60) & (r.step_t_s <= 600))
    assert r.truth.cadence_spm[60:600].sum() / 60.0 == pytest.approx(n_steps, abs=1.5)


def test_fatigue_drifts_heart_rate_on_the_flat() -> None:
    run = simulate_run(SimParams.flat(seed=2, duration_s=3600))
    tr = run.truth
    early = tr.hr_bpm[300:600].mean()
    late = tr.hr_bpm[3300:3600].mean()
    assert late > early + 3.0
    assert tr.pelvic_drop_range_deg[3300:3600].mean() > tr.pelvic_drop_range_deg[300:600].mean()
