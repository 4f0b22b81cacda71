"""Per-second ground truth of a simulated run."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from breathform.errors import InputError
from breathform.sim._signals import CTRL_FS_HZ, F64, per_second_mean
from breathform.sim.events import breath_count, breath_phase
from breathform.sim.kinematics import Kinematics, segment_euler_deg, step_count_at
from breathform.sim.physiology import CLIMBING_GRADE_PCT

TRUTH_FS_HZ = 100.0
"""Rate of the internal grid over which per-second means are taken."""


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """Ground truth per whole second k, for the interval (k-1, k]; every array shape (n,).

    Angles are relative to standing neutral (docs/conventions.md). Breathing values are
    those of the breaths actually simulated; cadence and rate are exact counts of steps and
    breath cycles in the second (x 60).

    Attributes:
        t_s: End of each second, 1 .. n.
        speed_mps: Mean running speed.
        grade_pct: Mean grade, percent (+ uphill).
        effort: Mean effort (1 ~ the runner's threshold on the flat).
        rate_bpm: Breath cycles in the second x 60 (instantaneous breathing rate).
        depth_rel: Depth of the breaths in the second relative to resting (time-weighted).
        strides_per_breath: Strides per breath (time-weighted); NaN while standing.
        cadence_spm: Steps in the second x 60.
        pelvic_tilt_deg: Mean pelvis pitch (+ anterior).
        pelvic_drop_range_deg: Peak-to-peak pelvic roll per stride.
        pelvic_rotation_range_deg: Peak-to-peak pelvic yaw per stride.
        trunk_lean_deg: Mean trunk (chest) pitch (+ forward).
        trunk_twist_range_deg: Peak-to-peak trunk yaw per stride.
        lumbar_deg: trunk_lean_deg - pelvic_tilt_deg.
        hr_bpm: Mean heart rate.
        climbing: Grade at the end of the second >= CLIMBING_GRADE_PCT.
        breathless: Breathless level > 0.5 at the end of the second.
        form_degraded: Form degradation level > 0.5 at the end of the second.
        phase: Activity phase code (0 stand, 1 walk, 2 run; see PHASE_NAMES), int8.
    """

    t_s: F64
    speed_mps: F64
    grade_pct: F64
    effort: F64
    rate_bpm: F64
    depth_rel: F64
    strides_per_breath: F64
    cadence_spm: F64
    pelvic_tilt_deg: F64
    pelvic_drop_range_deg: F64
    pelvic_rotation_range_deg: F64
    trunk_lean_deg: F64
    trunk_twist_range_deg: F64
    lumbar_deg: F64
    hr_bpm: F64
    climbing: np.ndarray
    breathless: np.ndarray
    form_degraded: np.ndarray
    phase: np.ndarray

    def __post_init__(self) -> None:
        n = self.t_s.shape[0]
        for f in fields(self):
            a = getattr(self, f.name)
            if a.shape != (n,):
                raise InputError(f"GroundTruth.{f.name} must have shape ({n},), got {a.shape}")

    @property
    def n(self) -> int:
        """Number of seconds."""
        return int(self.t_s.shape[0])


def build_truth(kin: Kinematics, duration_s: int) -> GroundTruth:
    """Aggregate the simulated signals into per-second ground truth.

    Args:
        kin: Kinematics of the run.
        duration_s: Number of whole seconds.

    Returns:
        The ground truth.
    """
    route, phys, post, b = kin.route, kin.phys, kin.posture, kin.breaths
    tc = route.t_s
    n = duration_s
    k = np.arange(1, n + 1, dtype=np.float64)
    kc = np.round(k * CTRL_FS_HZ).astype(np.int64)      # control index of t = k
    m = int(round(duration_s * TRUTH_FS_HZ))
    tg = np.arange(1, m + 1, dtype=np.float64) / TRUTH_FS_HZ

    def mean_ctrl(x: F64) -> F64:
        return per_second_mean(tg, np.interp(tg, tc, x), n)

    pelvis = segment_euler_deg(kin, "pelvis", tg)
    trunk = segment_euler_deg(kin, "trunk", tg)
    tilt = per_second_mean(tg, pelvis[:, 1], n)
    lean = per_second_mean(tg, trunk[:, 1], n)

    edges = np.arange(0, n + 1, dtype=np.float64)
    rate = 60.0 * np.diff(breath_count(b, edges))
    cadence = 60.0 * np.diff(step_count_at(kin, edges))
    bi, _ = breath_phase(b, tg)
    depth = per_second_mean(tg, b.depth_rel[bi], n)
    spb = per_second_mean(tg, b.strides[bi], n)
    standing = route.phase[kc] == 0
    spb = np.where(standing, np.nan, spb)

    return GroundTruth(
        t_s=k,
        speed_mps=mean_ctrl(route.speed_mps),
        grade_pct=mean_ctrl(route.grade_pct),
        effort=mean_ctrl(phys.effort),
        rate_bpm=rate,
        depth_rel=depth,
        strides_per_breath=spb,
        cadence_spm=cadence,
        pelvic_tilt_deg=tilt,
        pelvic_drop_range_deg=2.0 * mean_ctrl(post.pelvis_roll_amp_deg),
        pelvic_rotation_range_deg=2.0 * mean_ctrl(post.pelvis_yaw_amp_deg),
        trunk_lean_deg=lean,
        trunk_twist_range_deg=2.0 * mean_ctrl(post.trunk_yaw_amp_deg),
        lumbar_deg=lean - tilt,
        hr_bpm=mean_ctrl(phys.hr_bpm),
        climbing=route.grade_pct[kc] >= CLIMBING_GRADE_PCT,
        breathless=phys.breathless_level[kc] > 0.5,
        form_degraded=phys.form_level[kc] > 0.5,
        phase=route.phase[np.round((k - 0.5) * CTRL_FS_HZ).astype(np.int64)].astype(np.int8),
    )
