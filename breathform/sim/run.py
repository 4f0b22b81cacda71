"""Entry point: simulate a whole run, its IMU streams, heart rate and ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from breathform.model import HeartRate
from breathform.sim._signals import F64
from breathform.sim.events import (
    build_breaths,
    build_heartbeats,
    build_steps,
)
from breathform.sim.imu import SimImu, random_rotation, synthesize_imu
from breathform.sim.kinematics import Kinematics, Segment, build_posture
from breathform.sim.params import RunnerTraits, SimParams, draw_traits
from breathform.sim.physiology import build_physiology
from breathform.sim.route import Climb, build_route
from breathform.sim.truth import GroundTruth, build_truth

__all__ = ["SimImu", "SimParams", "SimRun", "simulate_run"]

# Independent child streams, so e.g. a longer run keeps the same runner and mounts.
_STREAMS = ("traits", "route", "physiology", "breaths", "heart", "chest", "sacrum")


@dataclass(frozen=True, slots=True)
class SimRun:
    """A simulated run.

    Attributes:
        params: The parameters it was made from.
        traits: The runner drawn from the seed.
        chest: Chest IMU (sternum strap; the Polar H10 sends only its acc).
        sacrum: Sacrum IMU (acc + gyro).
        truth: Per-second ground truth.
        breath_t_s: Inspiration onsets inside the session, shape (b,).
        breath_depth_rel: Depth of each of those breaths, shape (b,).
        breath_coupled: Whether each breath is phase-locked to the strides, shape (b,).
        step_t_s: Foot-strike times, shape (s,).
        step_foot: 0 = left, 1 = right, shape (s,).
        hr_t_s: Heart-rate notification times (1 Hz, end of each second), shape (h,).
        hr_bpm: Heart rate per notification (integer bpm as a device sends), shape (h,).
        rr_ms: RR intervals of the beats in each second, one tuple per notification.
        beat_t_s: Heart beat times, shape (k,).
        climbs: The route's climbs (start, end, grade).
        kinematics: The model behind the streams: evaluate segment orientation
            (``segment_euler_deg``) or breath phase at any time, e.g. in tests.
    """

    params: SimParams
    traits: RunnerTraits
    chest: SimImu
    sacrum: SimImu
    truth: GroundTruth
    breath_t_s: F64
    breath_depth_rel: F64
    breath_coupled: np.ndarray
    step_t_s: F64
    step_foot: np.ndarray
    hr_t_s: F64
    hr_bpm: F64
    rr_ms: tuple[tuple[float, ...], ...]
    beat_t_s: F64
    climbs: tuple[Climb, ...]
    kinematics: Kinematics

    def heart_rates(self) -> tuple[HeartRate, ...]:
        """The heart-rate stream as decoded HeartRate records."""
        return tuple(HeartRate(t_s=float(t), hr_bpm=float(h), rr_ms=rr)
                     for t, h, rr in zip(self.hr_t_s, self.hr_bpm, self.rr_ms, strict=True))


def _rr_per_second(beat_t_s: F64, n_seconds: int) -> tuple[tuple[float, ...], ...]:
    """RR intervals (ms) of the beats falling in each second (k-1, k]."""
    rr = np.diff(beat_t_s) * 1000.0
    sec = np.ceil(beat_t_s[1:]).astype(np.int64)
    out: list[tuple[float, ...]] = []
    bounds = np.searchsorted(sec, np.arange(1, n_seconds + 2))
    for k in range(n_seconds):
        out.append(tuple(float(round(x)) for x in rr[bounds[k]:bounds[k + 1]]))
    return tuple(out)


def simulate_run(p: SimParams) -> SimRun:
    """Simulate a runner: route, physiology, events, IMU streams and ground truth.

    Deterministic: the same params give bit-identical arrays.

    Args:
        p: Simulation parameters (validated on construction).

    Returns:
        The simulated run, in true session time.
    """
    rngs = dict(zip(_STREAMS, np.random.default_rng(p.seed).spawn(len(_STREAMS)),
                    strict=True))
    traits = draw_traits(p, rngs["traits"])
    route = build_route(p, traits, rngs["route"])
    phys = build_physiology(p, traits, route, rngs["physiology"])
    steps = build_steps(route, phys)
    breaths = build_breaths(route, phys, steps, rngs["breaths"])
    beats = build_heartbeats(route, phys, breaths, traits, rngs["heart"])
    kin = Kinematics(traits=traits, route=route, phys=phys,
                     posture=build_posture(traits, route, phys), steps=steps, breaths=breaths)

    imus: dict[str, SimImu] = {}
    placement: tuple[tuple[str, Segment, float], ...] = (
        ("chest", "trunk", p.chest_fs_hz), ("sacrum", "pelvis", p.sacrum_fs_hz))
    for sensor, segment, fs in placement:
        rng = rngs[sensor]
        mount = random_rotation(rng) if p.mount == "random" else np.eye(3)
        imus[sensor] = synthesize_imu(
            kin, segment, sensor, fs, float(p.duration_s), mount,
            p.acc_noise_g, p.gyr_noise_dps, p.gyr_bias_dps, rng)

    truth = build_truth(kin, p.duration_s)
    on = breaths.onset_t_s[:-1]
    inside = (on >= 0.0) & (on <= p.duration_s)
    return SimRun(
        params=p, traits=traits, chest=imus["chest"], sacrum=imus["sacrum"], truth=truth,
        breath_t_s=on[inside], breath_depth_rel=breaths.depth_rel[inside],
        breath_coupled=breaths.coupled[inside], step_t_s=steps.t_s, step_foot=steps.foot,
        hr_t_s=truth.t_s.copy(), hr_bpm=np.round(truth.hr_bpm),
        rr_ms=_rr_per_second(beats, p.duration_s), beat_t_s=beats, climbs=route.climbs,
        kinematics=kin,
    )
