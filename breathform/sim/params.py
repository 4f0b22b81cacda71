"""Parameters of a simulated run and the runner traits drawn from its seed."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

from breathform.errors import InputError

MountKind = Literal["random", "identity"]

STAND_STILL_END_S = 10.0
"""End of the still-standing vertical calibration (docs/conventions.md)."""

STAND_END_S = 40.0
"""End of the quiet-breathing resting calibration; walking starts here."""

CLIMB_SLOT_PER_CLIMB = 1.6
"""A climb slot holds the climb and a descent of up to 0.6 times its length ..."""
CLIMB_SLOT_EXTRA_S = 60.0
"""... plus up to 30 s of flat before it and up to 30 s of flat at the top."""

PHASE_STAND = 0
PHASE_WALK = 1
PHASE_RUN = 2
PHASE_NAMES: tuple[str, ...] = ("stand", "walk", "run")
"""Names of the integer phase codes used by the ground truth."""


@dataclass(frozen=True, slots=True)
class SimParams:
    """Everything that defines one simulated run; the same params give bit-identical output.

    Attributes:
        seed: Seed of ``np.random.default_rng``; the runner's traits, the route, the
            breaths, the sensor mounts and the noise all derive from it.
        duration_s: Session length in whole seconds (truth has one row per second).
        n_climbs: Number of climbs after the warm-up (0 = flat run).
        climb_grade_min_pct: Lowest climb grade, percent.
        climb_grade_max_pct: Steepest climb grade, percent.
        climb_min_s: Shortest climb, seconds.
        climb_max_s: Longest climb, seconds (shortened when the climbs' slots are too
            short for it).
        warmup_s: Flat running after the walk, before the first climb slot.
        walk_s: Walking between the calibration stand (ends at 40 s) and running.
        base_speed_mps: Flat running speed.
        chest_fs_hz: Chest IMU sample rate (Polar H10 ACC: 200 Hz).
        sacrum_fs_hz: Sacrum IMU sample rate (Movesense IMU6: 104 Hz).
        mount: "random" draws a uniformly random sensor-to-segment rotation per sensor;
            "identity" mounts each sensor aligned with its segment.
        acc_noise_g: White accelerometer noise, standard deviation in g.
        gyr_noise_dps: White gyroscope noise, standard deviation in deg/s.
        gyr_bias_dps: Standard deviation of the constant per-axis gyroscope bias, deg/s.
        effort_tau_s: Time constant of the breathing response to effort.
        hr_tau_s: Time constant of the heart-rate response to effort.
        fatigue_per_h: How much an hour at threshold effort drifts the runner (0 = none).
    """

    seed: int = 0
    duration_s: int = 1800
    n_climbs: int = 3
    climb_grade_min_pct: float = 4.0
    climb_grade_max_pct: float = 12.0
    climb_min_s: float = 60.0
    climb_max_s: float = 240.0
    warmup_s: float = 240.0
    walk_s: float = 10.0
    base_speed_mps: float = 3.1
    chest_fs_hz: float = 200.0
    sacrum_fs_hz: float = 104.0
    mount: MountKind = "random"
    acc_noise_g: float = 0.01
    gyr_noise_dps: float = 0.3
    gyr_bias_dps: float = 0.3
    effort_tau_s: float = 30.0
    hr_tau_s: float = 20.0
    fatigue_per_h: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise InputError(f"{f.name} must be finite, got {v}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be an int >= 0, got {self.seed!r}")
        dur: object = self.duration_s
        if isinstance(dur, float) and dur.is_integer():
            # Whole seconds given as a float (e.g. from a CLI) are accepted as such.
            object.__setattr__(self, "duration_s", int(dur))
        if isinstance(self.duration_s, bool) or not isinstance(self.duration_s, int):
            raise InputError(f"duration_s must be a whole number of seconds, "
                             f"got {self.duration_s!r}")
        if isinstance(self.n_climbs, bool) or not isinstance(self.n_climbs, int):
            raise InputError(f"n_climbs must be an int, got {self.n_climbs!r}")
        if not 0 <= self.n_climbs <= 20:
            raise InputError(f"n_climbs must be in [0, 20], got {self.n_climbs}")
        if not 0.0 < self.walk_s <= 120.0:
            raise InputError(f"walk_s must be in (0, 120], got {self.walk_s}")
        if not 0.0 <= self.warmup_s:
            raise InputError(f"warmup_s must be >= 0, got {self.warmup_s}")
        min_duration_s = math.ceil(STAND_END_S + self.walk_s + 20.0)
        if self.duration_s < min_duration_s:
            raise InputError(
                f"duration_s must be >= {min_duration_s} (stand, walk and some running), "
                f"got {self.duration_s}"
            )
        if not 0.0 <= self.climb_grade_min_pct <= self.climb_grade_max_pct <= 25.0:
            raise InputError(
                "need 0 <= climb_grade_min_pct <= climb_grade_max_pct <= 25; got "
                f"climb_grade_min_pct={self.climb_grade_min_pct}, "
                f"climb_grade_max_pct={self.climb_grade_max_pct}"
            )
        if not 10.0 <= self.climb_min_s <= self.climb_max_s:
            raise InputError(
                f"need 10 <= climb_min_s <= climb_max_s; got climb_min_s={self.climb_min_s}, "
                f"climb_max_s={self.climb_max_s}"
            )
        if not 1.5 <= self.base_speed_mps <= 7.0:
            raise InputError(f"base_speed_mps must be in [1.5, 7], got {self.base_speed_mps}")
        for name in ("chest_fs_hz", "sacrum_fs_hz"):
            fs = getattr(self, name)
            if not 20.0 <= fs <= 2000.0:
                raise InputError(f"{name} must be in [20, 2000], got {fs}")
        if self.mount not in ("random", "identity"):
            raise InputError(f"mount must be 'random' or 'identity', got {self.mount!r}")
        for name in ("acc_noise_g", "gyr_noise_dps", "gyr_bias_dps", "fatigue_per_h"):
            if getattr(self, name) < 0.0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("effort_tau_s", "hr_tau_s"):
            if not 1.0 <= getattr(self, name) <= 300.0:
                raise InputError(f"{name} must be in [1, 300], got {getattr(self, name)}")
        if self.n_climbs > 0 and self.longest_climb_s < self.climb_min_s:
            raise InputError(
                f"duration_s={self.duration_s} is too short for n_climbs={self.n_climbs} "
                f"climbs of at least climb_min_s={self.climb_min_s} s after warmup_s="
                f"{self.warmup_s}: each climb slot has {self.climb_slot_s:.0f} s, needs "
                f"{self.climb_min_s * CLIMB_SLOT_PER_CLIMB + CLIMB_SLOT_EXTRA_S:.0f} s"
            )

    @property
    def run_start_s(self) -> float:
        """Session time at which running starts."""
        return STAND_END_S + self.walk_s

    @property
    def climb_slot_s(self) -> float:
        """Length of the route slot holding each climb, its descent and flat stretches."""
        avail_s = self.duration_s - self.run_start_s - self.warmup_s
        return avail_s / max(self.n_climbs, 1)

    @property
    def longest_climb_s(self) -> float:
        """Longest climb that fits a slot with its descent and flat stretches."""
        fit_s = (self.climb_slot_s - CLIMB_SLOT_EXTRA_S) / CLIMB_SLOT_PER_CLIMB
        return min(self.climb_max_s, fit_s)

    @classmethod
    def hilly(cls, **overrides: Any) -> SimParams:
        """The default hilly ~30 min run (3 climbs); keyword arguments override fields."""
        return cls(**overrides)

    @classmethod
    def flat(cls, **overrides: Any) -> SimParams:
        """A steady flat run without climbs (for accuracy benchmarks); overrides allowed."""
        kw: dict[str, Any] = {"n_climbs": 0}
        kw.update(overrides)
        return cls(**kw)


@dataclass(frozen=True, slots=True)
class RunnerTraits:
    """Personal constants of the simulated runner, drawn from the seed.

    Attributes:
        rest_rate_bpm: Resting breathing rate.
        rest_hr_bpm: Resting heart rate.
        max_hr_bpm: Maximal heart rate.
        threshold_speed_mps: Flat speed at which the runner becomes breathless.
        run_cadence_spm: Flat running cadence at base speed.
        walk_cadence_spm: Walking cadence.
        tilt_run_deg: Anterior pelvic tilt while running, relative to standing.
        tilt_breathless_deg: Extra anterior tilt when breathless uphill.
        lean_run_deg: Forward trunk lean while running.
        lean_breathless_deg: Extra trunk flexion when breathless uphill.
        drop_amp_deg: Pelvic drop (roll) amplitude while running (range = 2x).
        rotation_amp_deg: Pelvic rotation (yaw) amplitude while running.
        twist_amp_deg: Trunk twist (yaw) amplitude while running.
        resp_pitch_deg: Chest-wall pitch excursion of one resting breath (x depth_rel).
    """

    rest_rate_bpm: float
    rest_hr_bpm: float
    max_hr_bpm: float
    threshold_speed_mps: float
    run_cadence_spm: float
    walk_cadence_spm: float
    tilt_run_deg: float
    tilt_breathless_deg: float
    lean_run_deg: float
    lean_breathless_deg: float
    drop_amp_deg: float
    rotation_amp_deg: float
    twist_amp_deg: float
    resp_pitch_deg: float


def draw_traits(p: SimParams, rng: np.random.Generator) -> RunnerTraits:
    """Draw the runner's personal constants.

    Args:
        p: Simulation parameters (the threshold speed scales with base_speed_mps).
        rng: Generator dedicated to the traits.

    Returns:
        The runner's traits.
    """
    u = rng.uniform(size=14)
    return RunnerTraits(
        rest_rate_bpm=12.5 + 3.0 * u[0],
        rest_hr_bpm=55.0 + 10.0 * u[1],
        max_hr_bpm=182.0 + 12.0 * u[2],
        threshold_speed_mps=p.base_speed_mps * (1.20 + 0.06 * u[3]),
        run_cadence_spm=164.0 + 10.0 * u[4],
        walk_cadence_spm=106.0 + 10.0 * u[5],
        tilt_run_deg=3.0 + 3.0 * u[6],
        tilt_breathless_deg=4.0 + 2.5 * u[7],
        lean_run_deg=5.0 + 4.0 * u[8],
        lean_breathless_deg=3.0 + 2.0 * u[9],
        drop_amp_deg=3.2 + 1.2 * u[10],
        rotation_amp_deg=4.0 + 2.0 * u[11],
        twist_amp_deg=6.0 + 3.0 * u[12],
        resp_pitch_deg=0.4 + 0.3 * u[13],
    )
