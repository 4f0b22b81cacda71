"""Per-sensor orientation: VQF with a gyroscope, low-passed gravity without one.

With a gyroscope the 6D VQF filter estimates the sensor's orientation (gyroscope strapdown
integration, corrected towards the accelerometer's inclination after a low-pass in an
almost-inertial frame, with gyroscope bias estimation at rest and in motion):
D. Laidig and T. Seel, "VQF: Highly Accurate IMU Orientation Estimation with Bias
Estimation and Magnetic Disturbance Rejection", Information Fusion 91 (2023) 187-204,
doi:10.1016/j.inffus.2022.10.014 (the ``vqf`` package, compiled). The heading of a 6D
orientation is arbitrary and drifts slowly, so only inclination and short-term heading
changes (a stride's rotation) are meaningful.

Without a gyroscope (Polar H10) there is inclination only: the accelerometer low-passed
well below the stride frequency (the stride-average of the specific force is gravity at
steady speed).

The VQF state is carried between calls as a flat float64 vector (see :func:`_pack`), so
the state converts to plain data and feeding a signal in any chunking gives bit-identical
output (property-tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import vqf
from numpy.typing import NDArray

from breathform.errors import InputError
from breathform.signal._filters import butter_sos, filt, unit_zi
from breathform.units import G_MPS2


@dataclass(frozen=True, slots=True)
class OrientationParams:
    """Parameters of the orientation filter.

    Attributes:
        fs_hz: Sample rate of the accelerometer (and gyroscope).
        has_gyro: True: VQF 6D; False: accelerometer-only inclination.
        tau_acc_s: VQF accelerometer low-pass time constant (the paper's default 3 s).
        motion_bias_est: VQF gyroscope bias estimation during motion.
        rest_bias_est: VQF gyroscope bias estimation at rest.
        lp_hz: Accelerometer-only: gravity low-pass cutoff, well below the stride frequency.
        lp_order: Accelerometer-only: Butterworth order of the gravity low-pass.
    """

    fs_hz: float
    has_gyro: bool
    tau_acc_s: float = 3.0
    motion_bias_est: bool = True
    rest_bias_est: bool = True
    lp_hz: float = 0.4
    lp_order: int = 2

    def __post_init__(self) -> None:
        if not self.fs_hz > 2 * self.lp_hz > 0:
            raise InputError(f"need 0 < lp_hz < fs_hz/2; got lp_hz={self.lp_hz}, "
                             f"fs_hz={self.fs_hz}")
        if not self.tau_acc_s > 0:
            raise InputError(f"tau_acc_s must be > 0, got {self.tau_acc_s}")
        if self.lp_order < 1:
            raise InputError(f"lp_order must be >= 1, got {self.lp_order}")


@dataclass(frozen=True, slots=True)
class OrientationState:
    """Carry-over of the orientation filter.

    Attributes:
        vqf: Packed VQF state (see :func:`_pack`); empty before the first sample and
            without a gyroscope.
        zi: Accelerometer-only gravity low-pass state, (n_sections, 2, 3).
        primed: Whether a first sample has initialised the filter.
        n_seen: Samples processed since the start (or the last reset).
    """

    vqf: NDArray[np.float64]
    zi: NDArray[np.float64]
    primed: bool
    n_seen: int = 0


@dataclass(frozen=True, slots=True)
class Orientation:
    """Per-sample orientation of one chunk.

    Attributes:
        grav_g: Gravity (the specific force at rest, pointing up) in the sensor frame, in
            g, (n, 3). With a gyroscope it is the unit up axis of the VQF orientation; without,
            the low-passed accelerometer (norm close to 1).
        quat: Sensor-to-earth quaternion [w, x, y, z] of the 6D VQF estimate (earth z up,
            heading arbitrary), (n, 4); None without a gyroscope.
    """

    grav_g: NDArray[np.float64]
    quat: NDArray[np.float64] | None


@lru_cache(maxsize=32)
def _sos(p: OrientationParams) -> NDArray[np.float64]:
    return butter_sos(p.lp_order, p.lp_hz, "lowpass", p.fs_hz)


def _vqf(p: OrientationParams) -> vqf.VQF:
    return vqf.VQF(1.0 / p.fs_hz, tauAcc=p.tau_acc_s, motionBiasEstEnabled=p.motion_bias_est,
                   restBiasEstEnabled=p.rest_bias_est)


def _layout() -> tuple[tuple[str, int, type], ...]:
    out = []
    for k, v in vqf.VQF(0.01).state.items():
        size = int(np.size(v))
        kind: type = list if isinstance(v, list | np.ndarray) else type(v)
        out.append((k, size, kind))
    return tuple(out)


_LAYOUT = _layout()


def _pack(state: dict[str, Any]) -> NDArray[np.float64]:
    """VQF's state dict as one float64 vector (exact: every value is a double or a bool)."""
    vals: list[float] = []
    for k, _, kind in _LAYOUT:
        v = state[k]
        if kind is list:
            vals.extend(v)
        else:
            vals.append(float(v))
    return np.array(vals, dtype=np.float64)


def _unpack(x: NDArray[np.float64]) -> dict[str, object]:
    flat: list[float] = x.tolist()
    out: dict[str, object] = {}
    i = 0
    for k, n, kind in _LAYOUT:
        if kind is list:
            out[k] = flat[i:i + n]
        elif kind is bool:
            out[k] = bool(flat[i])
        else:
            out[k] = flat[i]
        i += n
    return out


def init_state(p: OrientationParams) -> OrientationState:
    """Return the state before any sample."""
    return OrientationState(vqf=np.zeros(0), zi=np.zeros((_sos(p).shape[0], 2, 3)),
                            primed=False)


def reset(p: OrientationParams, s: OrientationState) -> OrientationState:
    """Forget the orientation (after a long gap); the next sample primes the filter again."""
    return init_state(p)


def _quat_to_z(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """The shortest rotation [w, x, y, z] that turns direction ``a`` onto +z."""
    n = float(np.linalg.norm(a))
    if not n > 0:
        return np.array([1.0, 0.0, 0.0, 0.0])
    u = a / n
    axis = np.cross(u, [0.0, 0.0, 1.0])
    s = float(np.linalg.norm(axis))
    c = float(u[2])
    if s < 1e-12:
        return np.array([1.0, 0.0, 0.0, 0.0]) if c > 0 else np.array([0.0, 1.0, 0.0, 0.0])
    ang = np.arctan2(s, c)
    return np.concatenate(([np.cos(ang / 2)], np.sin(ang / 2) * axis / s))


def _prime_vqf(p: OrientationParams, acc0_g: NDArray[np.float64]) -> NDArray[np.float64]:
    """A fresh VQF whose inclination starts at the first accelerometer sample's."""
    f = _vqf(p)
    st = f.state
    st["accQuat"] = [float(v) for v in _quat_to_z(acc0_g)]
    f.state = st
    return _pack(f.state)


def up_from_quat(quat: NDArray[np.float64]) -> NDArray[np.float64]:
    """Earth's up axis in the sensor frame (third row of the rotation matrix).

    Args:
        quat: Sensor-to-earth quaternions [w, x, y, z], (n, 4).

    Returns:
        Unit vectors, (n, 3).
    """
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    return np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
                    axis=1)


def step(p: OrientationParams, s: OrientationState, acc_g: NDArray[np.float64],
         gyr_dps: NDArray[np.float64] | None) -> tuple[Orientation, OrientationState]:
    """Feed samples; return their orientation.

    Args:
        p: Parameters.
        s: State.
        acc_g: Specific force in g, sensor frame, (n, 3).
        gyr_dps: Angular rate in deg/s, sensor frame, (n, 3); required when
            ``p.has_gyro``, ignored otherwise.

    Returns:
        The samples' orientation and the new state.

    Raises:
        InputError: If the shapes do not match or the gyroscope is missing.
    """
    n = acc_g.shape[0]
    if acc_g.shape != (n, 3):
        raise InputError(f"acc_g must have shape (n, 3), got {acc_g.shape}")
    if not p.has_gyro:
        return _step_acc(p, s, acc_g)
    if gyr_dps is None or gyr_dps.shape != (n, 3):
        raise InputError(f"gyr_dps must have shape ({n}, 3) when has_gyro, got "
                         f"{None if gyr_dps is None else gyr_dps.shape}")
    if n == 0:
        return Orientation(np.zeros((0, 3)), np.zeros((0, 4))), s
    packed = s.vqf if s.primed else _prime_vqf(p, acc_g[0])
    f = _vqf(p)
    f.state = _unpack(packed)
    out = f.updateBatch(np.ascontiguousarray(np.radians(gyr_dps), dtype=np.float64),
                        np.ascontiguousarray(acc_g * G_MPS2, dtype=np.float64))
    quat = np.asarray(out["quat6D"], dtype=np.float64)
    return (Orientation(up_from_quat(quat), quat),
            replace(s, vqf=_pack(f.state), primed=True, n_seen=s.n_seen + n))


def _step_acc(p: OrientationParams, s: OrientationState, acc_g: NDArray[np.float64]
              ) -> tuple[Orientation, OrientationState]:
    if acc_g.shape[0] == 0:
        return Orientation(np.zeros((0, 3)), None), s
    zi = s.zi
    if not s.primed:
        zi = unit_zi(p.lp_order, p.lp_hz, "lowpass", p.fs_hz)[:, :, None] * acc_g[0]
    g, zi = filt(_sos(p), acc_g, zi)
    return Orientation(g, None), replace(s, zi=zi, primed=True,
                                         n_seen=s.n_seen + acc_g.shape[0])


def run_batch(p: OrientationParams, acc_g: NDArray[np.float64],
              gyr_dps: NDArray[np.float64] | None) -> Orientation:
    """Orientation of a whole recording in one call."""
    return step(p, init_state(p), acc_g, gyr_dps)[0]


__all__: Sequence[str] = [
    "Orientation", "OrientationParams", "OrientationState", "init_state", "reset", "run_batch",
    "step", "up_from_quat",
]
