"""Physiology on the control grid: effort, breathing targets, heart rate, cadence, flags.

Effort is speed times a grade factor, relative to the runner's threshold speed on the
flat (about 0.8 on easy flat running, 1.0-1.2 on climbs). Breathing follows it with a
first-order lag (``effort_tau_s``), heart rate with ``hr_tau_s``; fatigue (effort integrated
over time) drifts rate, heart rate and form over the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from breathform.sim._signals import CTRL_FS_HZ, F64, lag, smooth_noise, smoothstep
from breathform.sim.params import PHASE_RUN, PHASE_STAND, PHASE_WALK, RunnerTraits, SimParams
from breathform.sim.route import Route

UPHILL_EFFORT_PER_PCT = 0.14
DOWNHILL_EFFORT_PER_PCT = 0.03
BREATHLESS_EFFORT = 0.92
"""Lagged effort at which breathlessness starts (it is complete 0.15 above)."""
CLIMBING_GRADE_PCT = 2.0
"""Grade from which the runner counts as climbing."""
MAX_RATE_BPM = 60.0


@dataclass(frozen=True, slots=True)
class Physiology:
    """Physiological state on the control grid, every array shape (m,).

    Attributes:
        effort: Instantaneous effort (speed x grade factor / threshold speed).
        effort_lag: Effort as felt by the breathing (first-order lag).
        fatigue: Effort-hours accumulated, scaled by fatigue_per_h.
        breathless_level: 0..1, how breathless the runner is.
        climb_level: 0..1, lagged uphill indicator.
        form_level: 0..1, form degradation from breathlessness uphill.
        rate_target_bpm: Breathing rate the runner tends to.
        depth_target_rel: Breath depth relative to resting.
        insp_frac: Inspiration fraction of the breath cycle.
        hr_bpm: Heart rate.
        cadence_spm: Cadence (0 while standing).
        step_count: Cumulative steps (integral of cadence).
        walk_mix: 1 while walking (ramped), else 0.
        run_mix: 1 while running (ramped), else 0.
    """

    effort: F64
    effort_lag: F64
    fatigue: F64
    breathless_level: F64
    climb_level: F64
    form_level: F64
    rate_target_bpm: F64
    depth_target_rel: F64
    insp_frac: F64
    hr_bpm: F64
    cadence_spm: F64
    step_count: F64
    walk_mix: F64
    run_mix: F64


def _ramp(mask: np.ndarray, width_s: float) -> F64:
    """Smooth a 0/1 mask by a centred moving average of width_s (causal enough here)."""
    w = max(int(round(width_s * CTRL_FS_HZ)), 1)
    x = mask.astype(np.float64)
    c = np.convolve(np.pad(x, (w // 2, w - 1 - w // 2), mode="edge"), np.ones(w) / w,
                    mode="valid")
    return np.asarray(c, dtype=np.float64)


def build_physiology(p: SimParams, traits: RunnerTraits, route: Route,
                     rng: np.random.Generator) -> Physiology:
    """Derive the runner's physiology from the route.

    Args:
        p: Simulation parameters.
        traits: The runner.
        route: Speed and grade on the control grid.
        rng: Generator dedicated to physiology.

    Returns:
        Physiology on the control grid.
    """
    n = route.t_s.size
    dt_s = 1.0 / CTRL_FS_HZ
    grade = route.grade_pct
    up = np.maximum(grade, 0.0)
    down = np.maximum(-grade, 0.0)
    grade_factor = np.maximum(1.0 + UPHILL_EFFORT_PER_PCT * up - DOWNHILL_EFFORT_PER_PCT * down,
                              0.5)
    # Walking costs less per m/s than running.
    gait_cost = np.where(route.phase == PHASE_WALK, 0.7, 1.0)
    effort = route.speed_mps * grade_factor * gait_cost / traits.threshold_speed_mps
    effort_lag = lag(effort, CTRL_FS_HZ, p.effort_tau_s, 0.0)
    fatigue = np.cumsum(effort) * dt_s / 3600.0 * p.fatigue_per_h

    breathless = smoothstep((effort_lag + 0.05 * fatigue - BREATHLESS_EFFORT) / 0.15)
    climb_level = lag(np.clip(up / 3.0, 0.0, 1.0), CTRL_FS_HZ, 10.0, 0.0)
    form_level = smoothstep((breathless - 0.25) / 0.5) * climb_level

    wobble = smooth_noise(rng, n, CTRL_FS_HZ, tau_s=20.0, sd=1.0)
    rate = (traits.rest_rate_bpm + 16.0 * effort_lag + 14.0 * breathless + 2.0 * fatigue
            + 0.8 * wobble)
    rate = np.clip(rate, 8.0, MAX_RATE_BPM)
    depth = (1.0 + 1.8 * effort_lag) * (1.0 - 0.45 * breathless) * (1.0 + 0.04 * wobble)
    insp_frac = 0.40 + 0.08 * np.clip(effort_lag, 0.0, 1.0)

    effort_hr = lag(effort, CTRL_FS_HZ, p.hr_tau_s, 0.0)
    hr = (traits.rest_hr_bpm + (traits.max_hr_bpm - traits.rest_hr_bpm)
          * np.clip(effort_hr / 1.25, 0.0, 1.0) + 8.0 * fatigue
          + 1.5 * smooth_noise(rng, n, CTRL_FS_HZ, tau_s=15.0, sd=1.0))
    hr = np.minimum(hr, traits.max_hr_bpm)

    run = route.phase == PHASE_RUN
    walk = route.phase == PHASE_WALK
    run_mix = _ramp(run, 3.0) * (route.phase != PHASE_STAND)
    walk_mix = np.where(walk | run, 1.0 - run_mix, 0.0)
    cad_run = (traits.run_cadence_spm + 0.8 * up + 4.0 * (route.speed_mps - p.base_speed_mps)
               + 1.5 * fatigue + 1.0 * smooth_noise(rng, n, CTRL_FS_HZ, tau_s=30.0, sd=1.0))
    cad_run = lag(cad_run, CTRL_FS_HZ, 3.0)
    cadence = np.where(route.phase == PHASE_STAND, 0.0,
                       walk_mix * traits.walk_cadence_spm + run_mix * cad_run)
    # Steps so far; the step frequency holds over each control interval, so stepping
    # starts exactly when walking does.
    step_count = np.concatenate(([0.0], np.cumsum(cadence[:-1] / 60.0 * dt_s)))

    return Physiology(
        effort=effort, effort_lag=effort_lag, fatigue=fatigue, breathless_level=breathless,
        climb_level=climb_level, form_level=form_level, rate_target_bpm=rate,
        depth_target_rel=depth, insp_frac=insp_frac, hr_bpm=hr, cadence_spm=cadence,
        step_count=step_count, walk_mix=walk_mix, run_mix=run_mix,
    )
