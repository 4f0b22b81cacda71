"""A small synthetic runner following docs/conventions.md (for signal/ unit tests only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


def rot_x(a: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1),
                     np.stack([z, s, c], -1)], -2)


def rot_y(a: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                     np.stack([-s, z, c], -1)], -2)


def rot_z(a: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                     np.stack([z, z, o], -1)], -2)


def random_mount(rng: np.random.Generator) -> NDArray[np.float64]:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


@dataclass
class Synth:
    t_s: NDArray[np.float64]
    chest_acc_g: NDArray[np.float64]
    sacrum_acc_g: NDArray[np.float64]
    sacrum_gyr_dps: NDArray[np.float64]
    trunk_pitch_deg: NDArray[np.float64]
    pelvis_pitch_deg: NDArray[np.float64]


def make_run(fs_hz: float = 100.0, duration_s: float = 180.0, run_start_s: float = 45.0,
             cadence_spm: float = 170.0, rest_bpm: float = 14.0, run_bpm: float = 40.0,
             run_depth: float = 2.0, breath_deg: float = 0.5, trunk_lean_deg: float = 8.0,
             pelvic_tilt_deg: float = 4.0, mount_chest: NDArray[np.float64] | None = None,
             mount_sacrum: NDArray[np.float64] | None = None, seed: int = 0,
             noise_g: float = 0.004) -> Synth:
    """Stand still 0-10 s, quiet breathing 10-run_start, then run (no walking)."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * fs_hz)
    t = np.arange(1, n + 1) / fs_hz
    running = t >= run_start_s
    ramp = np.clip((t - run_start_s) / 3.0, 0, 1)
    # breathing
    rate_hz = np.where(running, run_bpm, rest_bpm) / 60.0
    phase_b = 2 * np.pi * np.cumsum(rate_hz) / fs_hz + rng.uniform(0, 2 * np.pi)
    depth = np.where(running, run_depth, 1.0) * (t >= 10.0)
    breath = -breath_deg * depth * np.sin(phase_b)  # pitch; inhale = decreasing
    # gait
    f_step = cadence_spm / 60.0
    phase_s = 2 * np.pi * f_step * (t - run_start_s)
    step_ph = np.mod(phase_s, 2 * np.pi)
    pulse = np.exp(-0.5 * ((step_ph - 0.6) / 0.35) ** 2)
    pulse_late = np.exp(-0.5 * ((step_ph - 1.5) / 0.35) ** 2)
    a_up = (1.6 * pulse - 1.6 * 0.35 * np.sqrt(2 * np.pi) / (2 * np.pi)) * ramp * running
    a_fwd = (-0.5 * pulse + 0.5 * pulse_late) * ramp * running
    a_lat = 0.25 * np.sin(phase_s / 2) * ramp * running
    a_w = np.stack([a_fwd, a_lat, a_up], -1)
    f_w = a_w + np.array([0.0, 0.0, 1.0])
    sway = np.radians(2.0) * np.sin(phase_s / 2 + 0.3) * running
    twist = np.radians(8.0) * np.sin(phase_s / 2) * running
    trunk = trunk_lean_deg * ramp * running + breath + 1.0 * np.sin(phase_s) * running
    pelvis = pelvic_tilt_deg * ramp * running + 2.0 * np.sin(phase_s + 1.0) * running
    out = {}
    for name, pitch, yaw, mount in (("chest", trunk, twist, mount_chest),
                                    ("sacrum", pelvis, -0.5 * twist, mount_sacrum)):
        r_seg = rot_z(yaw) @ rot_y(np.radians(pitch)) @ rot_x(sway)
        f_seg = np.einsum("nji,nj->ni", r_seg, f_w)
        m = np.eye(3) if mount is None else mount
        out[name] = f_seg @ m + rng.normal(0, noise_g, (n, 3))
    # body-frame angular rate of the pelvis (ZYX Euler rates mapped to the segment frame),
    # in the sensor frame: consistent with the accelerometer under any mounting
    roll, pitch, yaw = sway, np.radians(pelvis), -0.5 * twist
    dr, dp, dy = (np.gradient(a, 1 / fs_hz) for a in (roll, pitch, yaw))
    cr, sr, cp, sp = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch)
    w_seg = np.stack([dr - dy * sp, dp * cr + dy * sr * cp, -dp * sr + dy * cr * cp], -1)
    m = np.eye(3) if mount_sacrum is None else mount_sacrum
    gyr = np.degrees(w_seg) @ m
    return Synth(t, out["chest"], out["sacrum"], gyr, trunk, pelvis)
