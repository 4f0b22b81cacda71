"""Inclination accuracy and speed of our orientation module against an optical reference.

Data: the two BROAD trials in ``../shared/data/broad`` (IMU with OptiTrack ground truth,
CC BY 4.0; trial 02 slow rotation, trial 15 fast translation; ~285.7 Hz). For each trial,
the IMU's accelerometer and gyroscope go through ``breathform.signal.orientation`` (VQF 6D,
the same module and parameters the posture DSP uses), fed in 1-s chunks like the live
pipeline (checked bit-identical to one batch call). The inclination error of a sample is the
angle between the vertical axis of our orientation and that of the optical reference; RMSE
over the trial's ``movement`` samples (samples where the reference lost the markers, NaN,
are left out and counted). Same data through the ``ahrs`` package's Madgwick filter
(default gain, initial attitude from the first accelerometer sample) for comparison, with
the speed of both (samples per second, one core, wall time of the whole trial).

    .venv/bin/python benchmarks/orientation_accuracy.py [--data DIR]

Needs the ``bench`` extra (``pip install -e .[bench]``: ahrs, h5py).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from breathform.signal import orientation as ori
from breathform.units import G_MPS2

TRIALS = ("02_undisturbed_slow_rotation_B", "15_undisturbed_fast_translation_A")
TARGET_RMSE_DEG = 1.0


def inclination_error_deg(quat: np.ndarray, ref_quat: np.ndarray) -> np.ndarray:
    """Angle between the vertical axes of two sensor-to-earth orientations, degrees."""
    a, b = ori.up_from_quat(quat), ori.up_from_quat(ref_quat)
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.asarray(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def ours(acc_mps2: np.ndarray, gyr_rad_s: np.ndarray, fs_hz: float
         ) -> tuple[np.ndarray, float]:
    """Our orientation, streamed in 1-s chunks; (quaternions, seconds of wall time)."""
    p = ori.OrientationParams(fs_hz, has_gyro=True)
    acc_g = acc_mps2 / G_MPS2
    gyr_dps = np.degrees(gyr_rad_s)
    chunk = round(fs_hz)
    t0 = time.perf_counter()
    s = ori.init_state(p)
    parts = []
    for i in range(0, acc_g.shape[0], chunk):
        o, s = ori.step(p, s, acc_g[i:i + chunk], gyr_dps[i:i + chunk])
        assert o.quat is not None
        parts.append(o.quat)
    wall = time.perf_counter() - t0
    quat = np.vstack(parts)
    batch = ori.run_batch(p, acc_g, gyr_dps).quat
    if batch is None or not np.array_equal(batch, quat):
        raise SystemExit("streaming and batch orientation differ: a bug")
    return quat, wall


def madgwick(acc_mps2: np.ndarray, gyr_rad_s: np.ndarray, fs_hz: float
             ) -> tuple[np.ndarray, float]:
    """ahrs' Madgwick filter (default gain); (quaternions, seconds of wall time)."""
    from ahrs.filters import Madgwick

    t0 = time.perf_counter()
    m = Madgwick(gyr=gyr_rad_s, acc=acc_mps2, frequency=fs_hz)
    return np.asarray(m.Q), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "data" / "broad",
                    help="folder with the BROAD trials (HDF5)")
    args = ap.parse_args()
    import h5py

    print("inclination error against the optical reference (BROAD), movement samples; "
          "speed = samples/s on one core")
    head = ("trial", "n scored", "ref NaN", "ours RMSE", "ours p95", "ours samples/s",
            "Madgwick RMSE", "Madgwick p95", "Madgwick samples/s")
    rows = []
    worst = 0.0
    for name in TRIALS:
        path = args.data / f"{name}.hdf5"
        if not path.is_file():
            raise SystemExit(f"no BROAD trial at {path} (expected {', '.join(TRIALS)} as "
                             f".hdf5 in --data)")
        with h5py.File(path, "r") as f:
            acc = np.asarray(f["imu_acc"], dtype=np.float64)
            gyr = np.asarray(f["imu_gyr"], dtype=np.float64)
            ref = np.asarray(f["opt_quat"], dtype=np.float64)
            move = np.asarray(f["movement"], dtype=bool)
            fs = float(f.attrs["sampling_rate"])
        ref_ok = np.isfinite(ref).all(axis=1)
        sel = move & ref_ok
        n = acc.shape[0]
        q1, w1 = ours(acc, gyr, fs)
        q2, w2 = madgwick(acc, gyr, fs)
        e1 = inclination_error_deg(q1, ref)[sel]
        e2 = inclination_error_deg(q2, ref)[sel]
        r1 = float(np.sqrt(np.mean(e1 ** 2)))
        worst = max(worst, r1)
        rows.append((name, str(int(sel.sum())), str(int((move & ~ref_ok).sum())),
                     f"{r1:.2f}°", f"{np.percentile(e1, 95):.2f}°", f"{n / w1:,.0f}",
                     f"{np.sqrt(np.mean(e2 ** 2)):.2f}°", f"{np.percentile(e2, 95):.2f}°",
                     f"{n / w2:,.0f}"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                    for i, (h, w) in enumerate(zip(head, widths, strict=True))))
    for r in rows:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                        for i, (v, w) in enumerate(zip(r, widths, strict=True))))
    verdict = "met" if worst <= TARGET_RMSE_DEG else "NOT MET"
    print(f"target: our RMSE <= {TARGET_RMSE_DEG:g}° on every trial: {verdict} "
          f"(worst {worst:.2f}°)")


if __name__ == "__main__":
    main()
