"""Segment kinematics at any sample times: posture angles and bulk linear acceleration.

Frames and signs follow docs/conventions.md: world x forward, y left, z up; each segment
frame equals the world frame in standing neutral; Euler angles are ZYX (yaw about z, then
pitch about y, then roll about x), pitch + = the segment's top tips forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from breathform.sim._signals import F64
from breathform.sim.events import Breaths, Steps, breath_phase
from breathform.sim.params import RunnerTraits
from breathform.sim.physiology import Physiology
from breathform.sim.route import Route
from breathform.units import G_MPS2

Segment = Literal["pelvis", "trunk"]
SEGMENTS: tuple[Segment, ...] = ("pelvis", "trunk")

BREATH_MEAN_SHAPE = 0.4
"""Approximate mean of the breath shape, removed so breathing does not bias trunk lean."""


@dataclass(frozen=True, slots=True)
class Posture:
    """Posture targets on the control grid, degrees, every array shape (m,).

    Attributes:
        pelvis_pitch_deg: Mean pelvic tilt (+ anterior).
        pelvis_pitch_osc_deg: Pelvic tilt oscillation amplitude at the step frequency.
        pelvis_roll_amp_deg: Pelvic drop amplitude at the stride frequency.
        pelvis_yaw_amp_deg: Pelvic rotation amplitude at the stride frequency.
        trunk_pitch_deg: Mean trunk lean (+ forward).
        trunk_pitch_osc_deg: Trunk pitch oscillation amplitude at the step frequency.
        trunk_roll_amp_deg: Trunk side-sway amplitude at the stride frequency.
        trunk_yaw_amp_deg: Trunk twist amplitude at the stride frequency.
    """

    pelvis_pitch_deg: F64
    pelvis_pitch_osc_deg: F64
    pelvis_roll_amp_deg: F64
    pelvis_yaw_amp_deg: F64
    trunk_pitch_deg: F64
    trunk_pitch_osc_deg: F64
    trunk_roll_amp_deg: F64
    trunk_yaw_amp_deg: F64


@dataclass(frozen=True, slots=True)
class Kinematics:
    """Everything needed to evaluate the runner's motion at arbitrary times.

    Attributes:
        traits: The runner.
        route: Route on the control grid.
        phys: Physiology on the control grid.
        posture: Posture targets on the control grid.
        steps: Foot strikes.
        breaths: Breaths.
    """

    traits: RunnerTraits
    route: Route
    phys: Physiology
    posture: Posture
    steps: Steps
    breaths: Breaths


def build_posture(traits: RunnerTraits, route: Route, phys: Physiology) -> Posture:
    """Posture targets: each angle responds to gait, climbs, breathlessness and fatigue.

    Args:
        traits: The runner.
        route: The route.
        phys: Physiology.

    Returns:
        Posture targets on the control grid.
    """
    w, r = phys.walk_mix, phys.run_mix
    up = np.maximum(route.grade_pct, 0.0)
    fat, form = phys.fatigue, phys.form_level
    return Posture(
        pelvis_pitch_deg=w * 2.0 + r * (traits.tilt_run_deg + 0.1 * up
                                        + traits.tilt_breathless_deg * form + 1.0 * fat),
        pelvis_pitch_osc_deg=w * 1.5 + r * 2.0 * (1.0 + 0.2 * form),
        pelvis_roll_amp_deg=w * 2.5 + r * traits.drop_amp_deg * (1.0 + 0.3 * fat + 0.25 * form),
        pelvis_yaw_amp_deg=w * 4.0 + r * traits.rotation_amp_deg * (1.0 + 0.2 * form),
        trunk_pitch_deg=w * 3.0 + r * (traits.lean_run_deg + 0.35 * up
                                       + traits.lean_breathless_deg * form + 1.5 * fat),
        trunk_pitch_osc_deg=w * 0.7 + r * 1.2,
        trunk_roll_amp_deg=w * 1.0 + r * 2.0,
        trunk_yaw_amp_deg=w * 5.0 + r * traits.twist_amp_deg * (1.0 + 0.4 * form
                                                                 + 0.15 * fat),
    )


def breath_shape(psi: F64, insp_frac: F64) -> F64:
    """Lung-volume-like breath shape: 0 at onset, 1 at end of inspiration, 0 at the end.

    Inspiration is a raised cosine over insp_frac of the cycle, expiration a slower,
    skewed decay, so the wave is not sinusoidal.

    Args:
        psi: Breath phase in [0, 1], shape (n,).
        insp_frac: Inspiration fraction per sample, shape (n,).

    Returns:
        Shape values in [0, 1], shape (n,).
    """
    u_in = np.clip(psi / insp_frac, 0.0, 1.0)
    u_out = np.clip((psi - insp_frac) / (1.0 - insp_frac), 0.0, 1.0)
    insp = 0.5 * (1.0 - np.cos(np.pi * u_in))
    expi = (0.5 * (1.0 + np.cos(np.pi * u_out))) ** 1.5
    return np.asarray(np.where(psi < insp_frac, insp, expi), dtype=np.float64)


def step_count_at(kin: Kinematics, t_s: F64) -> F64:
    """Continuous cumulative step count at given times (integer = a foot strike)."""
    return np.asarray(np.interp(t_s, kin.route.t_s, kin.phys.step_count), dtype=np.float64)


def resp_pitch_deg(kin: Kinematics, t_s: F64) -> F64:
    """Chest-wall pitch from breathing (inhalation = backward = negative), degrees.

    Args:
        kin: Kinematics.
        t_s: Times, shape (n,).

    Returns:
        Pitch contribution, shape (n,).
    """
    b = kin.breaths
    i, psi = breath_phase(b, t_s)
    amp_b = kin.traits.resp_pitch_deg * b.depth_rel
    amp_next = np.append(amp_b[1:], amp_b[-1])
    # Amplitude interpolated across each breath keeps the pitch continuous.
    amp = amp_b[i] + psi * (amp_next[i] - amp_b[i])
    return np.asarray(-amp * (breath_shape(psi, b.insp_frac[i]) - BREATH_MEAN_SHAPE),
                      dtype=np.float64)


def segment_euler_deg(kin: Kinematics, segment: Segment, t_s: F64) -> F64:
    """Segment orientation relative to standing neutral as ZYX Euler angles.

    Args:
        kin: Kinematics.
        segment: "pelvis" or "trunk".
        t_s: Times, shape (n,).

    Returns:
        [roll, pitch, yaw] in degrees, shape (n, 3).
    """
    post = kin.posture
    tc = kin.route.t_s
    phi = step_count_at(kin, t_s)
    step_ang = 2.0 * np.pi * phi          # one cycle per step
    stride_ang = np.pi * phi              # one cycle per stride (two steps)
    out = np.empty((t_s.size, 3), dtype=np.float64)
    if segment == "pelvis":
        out[:, 0] = np.interp(t_s, tc, post.pelvis_roll_amp_deg) * np.sin(stride_ang)
        out[:, 1] = (np.interp(t_s, tc, post.pelvis_pitch_deg)
                     + np.interp(t_s, tc, post.pelvis_pitch_osc_deg) * np.cos(step_ang))
        out[:, 2] = np.interp(t_s, tc, post.pelvis_yaw_amp_deg) * np.cos(stride_ang)
    elif segment == "trunk":
        out[:, 0] = np.interp(t_s, tc, post.trunk_roll_amp_deg) * np.sin(stride_ang + 0.3)
        out[:, 1] = (np.interp(t_s, tc, post.trunk_pitch_deg)
                     + np.interp(t_s, tc, post.trunk_pitch_osc_deg) * np.cos(step_ang - 0.6)
                     + resp_pitch_deg(kin, t_s))
        # Arm swing twists the trunk opposite to the pelvis.
        out[:, 2] = -np.interp(t_s, tc, post.trunk_yaw_amp_deg) * np.cos(stride_ang)
    else:
        raise ValueError(f"segment must be 'pelvis' or 'trunk', got {segment!r}")
    return out


def linear_acc_world_g(kin: Kinematics, segment: Segment, t_s: F64) -> F64:
    """Bulk linear acceleration of a segment in the world frame, in g (gravity excluded).

    Vertical: a stance pulse per step (ground reaction force, skewed early) plus a short
    foot-strike impact, zero mean over a step. Forward: braking in early stance, then
    propulsion (zero mean over a stance) plus the speed change. Lateral: sway at the stride
    frequency. The chest shares the pelvis' bulk motion with softer impacts.

    Args:
        kin: Kinematics.
        segment: "pelvis" or "trunk".
        t_s: Times, shape (n,), uniformly spaced.

    Returns:
        Acceleration in g, world frame, shape (n, 3).
    """
    tc = kin.route.t_s
    phys = kin.phys
    w = np.interp(t_s, tc, phys.walk_mix)
    r = np.interp(t_s, tc, phys.run_mix)
    speed = np.interp(t_s, tc, kin.route.speed_mps)
    step_hz = np.interp(t_s, tc, phys.cadence_spm) / 60.0
    phi = step_count_at(kin, t_s)
    p = phi - np.floor(phi)
    duty = 1.0 - 0.35 * r                       # contact fraction of a step: walk 1, run 0.65
    amp_v = 0.3 * w + r * (0.85 + 0.05 * speed)
    amp_f = 0.12 * w + 0.35 * r
    amp_l = 0.06 * w + 0.10 * r
    amp_i = r * (0.8 if segment == "pelvis" else 0.6)

    u = p / duty
    stance = u < 1.0
    su = np.where(stance, u, 0.0)
    pulse = np.where(stance, np.sin(np.pi * su) * (1.0 + 0.5 * np.cos(np.pi * su)), 0.0)
    pulse_mean = duty * 2.0 / np.pi
    vert = amp_v * (pulse / pulse_mean - 1.0)
    # Impact ~15 ms after the strike, ~10 ms wide; phase units scale with the step rate.
    width = np.maximum(0.010 * step_hz, 1e-6)
    dp = (p - 0.015 * step_hz + 0.5) % 1.0 - 0.5
    vert += amp_i * (np.exp(-((dp / width) ** 2)) - np.sqrt(np.pi) * width)
    fwd = np.where(stance, -amp_f * np.sin(2.0 * np.pi * su), 0.0)
    fwd += np.gradient(speed, t_s) / G_MPS2 if t_s.size > 1 else 0.0
    lat = amp_l * np.sin(np.pi * phi + 0.5 * np.pi)
    return np.stack([fwd, lat, vert], axis=1)
