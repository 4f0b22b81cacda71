"""IMU synthesis: specific force and angular rate in the sensor frame, with noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from breathform.errors import InputError
from breathform.sim._signals import F64
from breathform.sim.kinematics import Kinematics, Segment, linear_acc_world_g, segment_euler_deg
from breathform.units import deg_to_rad, rad_to_deg


@dataclass(frozen=True, slots=True)
class SimImu:
    """One simulated IMU stream in true session time.

    Attributes:
        t_s: Sample times, shape (n,), uniform at fs_hz, the first one at 1/fs_hz.
        acc_g: Specific force in g, sensor frame, shape (n, 3).
        gyr_dps: Angular rate in deg/s, sensor frame, shape (n, 3).
        fs_hz: Sample rate.
        mount: Sensor-to-segment rotation matrix, shape (3, 3) (v_segment = mount @ v_sensor).
        sensor: "chest" or "sacrum".
    """

    t_s: F64
    acc_g: F64
    gyr_dps: F64
    fs_hz: float
    mount: F64
    sensor: str

    def __post_init__(self) -> None:
        n = self.t_s.shape[0]
        if self.t_s.ndim != 1:
            raise InputError(f"t_s must have shape (n,), got {self.t_s.shape}")
        if self.acc_g.shape != (n, 3):
            raise InputError(f"acc_g must have shape ({n}, 3), got {self.acc_g.shape}")
        if self.gyr_dps.shape != (n, 3):
            raise InputError(f"gyr_dps must have shape ({n}, 3), got {self.gyr_dps.shape}")
        if self.mount.shape != (3, 3):
            raise InputError(f"mount must have shape (3, 3), got {self.mount.shape}")
        if not self.fs_hz > 0:
            raise InputError(f"fs_hz must be > 0, got {self.fs_hz}")


def euler_zyx_to_matrix(euler_rad: F64) -> F64:
    """Rotation matrices R = Rz(yaw) Ry(pitch) Rx(roll) (segment -> world).

    Args:
        euler_rad: [roll, pitch, yaw] in radians, shape (n, 3).

    Returns:
        Rotation matrices, shape (n, 3, 3).
    """
    cr, cp, cy = (np.cos(euler_rad[:, k]) for k in range(3))
    sr, sp, sy = (np.sin(euler_rad[:, k]) for k in range(3))
    r = np.empty((euler_rad.shape[0], 3, 3), dtype=np.float64)
    r[:, 0, 0] = cy * cp
    r[:, 0, 1] = cy * sp * sr - sy * cr
    r[:, 0, 2] = cy * sp * cr + sy * sr
    r[:, 1, 0] = sy * cp
    r[:, 1, 1] = sy * sp * sr + cy * cr
    r[:, 1, 2] = sy * sp * cr - cy * sr
    r[:, 2, 0] = -sp
    r[:, 2, 1] = cp * sr
    r[:, 2, 2] = cp * cr
    return r


def body_rate_rad_s(euler_rad: F64, euler_rate_rad_s: F64) -> F64:
    """Angular velocity in the body frame from ZYX Euler angles and their rates.

    Args:
        euler_rad: [roll, pitch, yaw], shape (n, 3).
        euler_rate_rad_s: Their time derivatives, shape (n, 3).

    Returns:
        Body-frame angular velocity, rad/s, shape (n, 3).
    """
    roll, pitch = euler_rad[:, 0], euler_rad[:, 1]
    dr, dp, dy = euler_rate_rad_s[:, 0], euler_rate_rad_s[:, 1], euler_rate_rad_s[:, 2]
    cr, sr, cp, sp = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch)
    return np.stack([dr - dy * sp, dp * cr + dy * sr * cp, -dp * sr + dy * cr * cp], axis=1)


def random_rotation(rng: np.random.Generator) -> F64:
    """A rotation matrix drawn uniformly from SO(3) (normalised Gaussian quaternion)."""
    q = rng.standard_normal(4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ], dtype=np.float64)


def synthesize_imu(kin: Kinematics, segment: Segment, sensor: str, fs_hz: float,
                   duration_s: float, mount: F64, acc_noise_g: float, gyr_noise_dps: float,
                   gyr_bias_dps: float, rng: np.random.Generator) -> SimImu:
    """Sample a sensor mounted on a segment.

    acc_g = mount^T R^T (a_world / g + [0, 0, 1]) and gyr = mount^T omega_body, with R the
    segment orientation (docs/conventions.md), omega from the analytic Euler-rate map with
    second-order finite differences of the Euler angles.

    Args:
        kin: Kinematics.
        segment: Segment carrying the sensor.
        sensor: Sensor role name for the stream.
        fs_hz: Sample rate.
        duration_s: Session length; samples at k / fs_hz for k = 1 .. duration_s * fs_hz.
        mount: Sensor-to-segment rotation, shape (3, 3).
        acc_noise_g: White accelerometer noise SD.
        gyr_noise_dps: White gyroscope noise SD.
        gyr_bias_dps: SD of the constant gyroscope bias per axis.
        rng: Generator dedicated to this sensor's noise.

    Returns:
        The IMU stream.
    """
    n = int(round(duration_s * fs_hz))
    t_s = np.arange(1, n + 1, dtype=np.float64) / fs_hz
    euler = deg_to_rad(segment_euler_deg(kin, segment, t_s))
    rot = euler_zyx_to_matrix(euler)
    f_world = linear_acc_world_g(kin, segment, t_s)
    f_world[:, 2] += 1.0
    f_seg = np.einsum("nij,ni->nj", rot, f_world)
    rate = np.gradient(euler, 1.0 / fs_hz, axis=0)
    w_seg = rad_to_deg(body_rate_rad_s(euler, rate))
    acc = f_seg @ mount
    gyr = w_seg @ mount
    bias = gyr_bias_dps * rng.standard_normal(3)
    acc += acc_noise_g * rng.standard_normal((n, 3))
    gyr += bias + gyr_noise_dps * rng.standard_normal((n, 3))
    return SimImu(t_s=t_s, acc_g=acc, gyr_dps=gyr, fs_hz=float(fs_hz), mount=mount.copy(),
                  sensor=sensor)
