"""The route: speed and grade over time, with calibration stand, walk, warm-up and climbs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from breathform.sim._signals import CTRL_FS_HZ, F64, lag, smooth_noise
from breathform.sim.params import (
    PHASE_RUN,
    PHASE_STAND,
    PHASE_WALK,
    STAND_END_S,
    RunnerTraits,
    SimParams,
)

WALK_SPEED_MPS = 1.4
CLIMB_SPEED_LOSS_PER_PCT = 0.035
"""Fractional speed lost per percent of uphill grade."""
DESCENT_SPEED_GAIN_PER_PCT = 0.012
"""Fractional speed gained per percent of downhill grade."""


@dataclass(frozen=True, slots=True)
class Climb:
    """One climb of the route.

    Attributes:
        start_s: Session time the climb starts (before grade smoothing).
        end_s: Session time it ends.
        grade_pct: Its grade, percent.
    """

    start_s: float
    end_s: float
    grade_pct: float


@dataclass(frozen=True, slots=True)
class Route:
    """Speed, grade and activity phase on the control grid (CTRL_FS_HZ).

    Attributes:
        t_s: Control-grid times 0..duration_s, shape (m,).
        speed_mps: Running speed, shape (m,).
        grade_pct: Grade, percent (+ uphill), shape (m,).
        phase: Activity phase code per sample (PHASE_STAND/WALK/RUN), shape (m,).
        climbs: The climbs, in time order.
    """

    t_s: F64
    speed_mps: F64
    grade_pct: F64
    phase: np.ndarray
    climbs: tuple[Climb, ...]


def _plan_climbs(p: SimParams, rng: np.random.Generator
                 ) -> tuple[tuple[Climb, ...], list[tuple[float, float, float]]]:
    """Place the climbs and their descents in equal slots after the warm-up."""
    climbs: list[Climb] = []
    segments: list[tuple[float, float, float]] = []  # (start_s, end_s, grade_pct)
    slot_s = p.climb_slot_s
    t0 = p.run_start_s + p.warmup_s
    for i in range(p.n_climbs):
        slot_start = t0 + i * slot_s
        dur = float(rng.uniform(p.climb_min_s, p.longest_climb_s))
        grade = float(rng.uniform(p.climb_grade_min_pct, p.climb_grade_max_pct))
        desc_dur = dur * float(rng.uniform(0.4, 0.6))
        free = slot_s - dur - desc_dur - 30.0
        start = slot_start + 30.0 + float(rng.uniform(0.0, max(free - 30.0, 0.0)))
        end = start + dur
        # Flat stretch at the top, then a descent back down (same height lost).
        top_s = float(rng.uniform(10.0, 30.0))
        desc_grade = -min(grade * dur / desc_dur, 10.0)
        climbs.append(Climb(start_s=start, end_s=end, grade_pct=grade))
        segments.append((start, end, grade))
        segments.append((end + top_s, end + top_s + desc_dur, desc_grade))
    return tuple(climbs), segments


def build_route(p: SimParams, traits: RunnerTraits, rng: np.random.Generator) -> Route:
    """Build the route and the runner's speed along it.

    Args:
        p: Simulation parameters.
        traits: The runner (unused today; kept so route choices can depend on the runner).
        rng: Generator dedicated to the route.

    Returns:
        The route on the control grid.
    """
    del traits
    n = int(round(p.duration_s * CTRL_FS_HZ)) + 1
    t_s = np.arange(n, dtype=np.float64) / CTRL_FS_HZ
    climbs, segments = _plan_climbs(p, rng)

    grade_raw = np.zeros(n)
    for start, end, grade in segments:
        grade_raw[(t_s >= start) & (t_s < end)] = grade
    # Real hills do not start as steps: ramp over ~15 s.
    grade_pct = uniform_filter1d(grade_raw, size=int(15 * CTRL_FS_HZ), mode="nearest")
    grade_pct[t_s < p.run_start_s] = 0.0

    phase = np.full(n, PHASE_RUN, dtype=np.int8)
    phase[t_s < p.run_start_s] = PHASE_WALK
    phase[t_s < STAND_END_S] = PHASE_STAND

    up = np.maximum(grade_pct, 0.0)
    down = np.maximum(-grade_pct, 0.0)
    factor = (1.0 - CLIMB_SPEED_LOSS_PER_PCT * up) * (1.0 + DESCENT_SPEED_GAIN_PER_PCT * down)
    wander = smooth_noise(rng, n, CTRL_FS_HZ, tau_s=60.0, sd=0.025)
    target = p.base_speed_mps * factor * (1.0 + wander)
    run = phase == PHASE_RUN
    speed = np.where(run, lag(np.where(run, target, WALK_SPEED_MPS), CTRL_FS_HZ, 4.0,
                              WALK_SPEED_MPS), 0.0)
    speed = np.where(phase == PHASE_WALK, WALK_SPEED_MPS, speed)
    return Route(t_s=t_s, speed_mps=speed.astype(np.float64), grade_pct=grade_pct,
                 phase=phase, climbs=climbs)
