"""Physical sanity of the synthesized IMU streams against the ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt, welch

from breathform.sim import SimRun
from breathform.sim.imu import euler_zyx_to_matrix
from breathform.sim.kinematics import Kinematics, Segment, segment_euler_deg
from breathform.units import deg_to_rad


def _window(imu_t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return (imu_t > t0) & (imu_t <= t1)


def test_standstill_reads_one_g_along_mounted_vertical(hilly_run: SimRun) -> None:
    for imu in (hilly_run.chest, hilly_run.sacrum):
        m = _window(imu.t_s, 0.0, 10.0)
        acc = imu.acc_g[m]
        assert np.linalg.norm(acc, axis=1).mean() == pytest.approx(1.0, abs=0.005)
        # Segment vertical (0, 0, 1) seen in the sensor frame: mount^T e_z.
        expected = imu.mount.T @ np.array([0.0, 0.0, 1.0])
        np.testing.assert_allclose(acc.mean(axis=0), expected, atol=0.02)
        # Noise is about 0.01 g per axis.
        assert 0.005 < acc.std(axis=0).mean() < 0.03


def test_running_stride_mean_is_tilted_gravity(clean_run: SimRun) -> None:
    """With identity mounts the stride-averaged acc is gravity in the tilted segment."""
    tr = clean_run.truth
    steps = clean_run.step_t_s
    for imu, tilt in ((clean_run.sacrum, tr.pelvic_tilt_deg),
                      (clean_run.chest, tr.trunk_lean_deg)):
        for t0 in (150.0, 300.0, float(clean_run.climbs[0].end_s) - 20.0):
            # Eight whole strides starting at a foot strike.
            i0 = int(np.searchsorted(steps, t0))
            m = _window(imu.t_s, steps[i0], steps[i0 + 16])
            mean_acc = imu.acc_g[m].mean(axis=0)
            pitch_deg = float(np.degrees(np.arctan2(-mean_acc[0], mean_acc[2])))
            k = int(np.ceil(steps[i0])), int(np.ceil(steps[i0 + 16]))
            true_deg = float(tilt[k[0] - 1:k[1]].mean())
            assert pitch_deg == pytest.approx(true_deg, abs=1.0), (imu.sensor, t0)
            assert np.linalg.norm(mean_acc) == pytest.approx(1.0, abs=0.03)


def test_running_vertical_acc_has_impacts_and_braking(clean_run: SimRun) -> None:
    acc = clean_run.sacrum.acc_g[_window(clean_run.sacrum.t_s, 150.0, 180.0)]
    assert acc[:, 2].max() > 2.0  # foot-strike peaks of 2-4 g
    assert acc[:, 2].min() < 0.4  # flight phase
    # Braking while vertical force is high: negative covariance (docs/conventions.md).
    cov = np.cov(acc[:, 0], acc[:, 2])[0, 1]
    assert cov < 0.0


def _integrate_gyro(gyr_dps: np.ndarray, fs_hz: float) -> np.ndarray:
    """Body-frame rate -> rotation R(t1) relative to R(t0) (R_0^T R_1), Rodrigues steps."""
    r = np.eye(3)
    w = np.radians(gyr_dps)
    # Midpoint rate between samples (trapezoid).
    wm = 0.5 * (w[1:] + w[:-1]) / fs_hz
    for v in wm:
        th = float(np.linalg.norm(v))
        if th == 0.0:
            continue
        k = v / th
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        r = r @ (np.eye(3) + np.sin(th) * kx + (1 - np.cos(th)) * kx @ kx)
    return r


@pytest.mark.parametrize("sensor", ["chest", "sacrum"])
def test_gyro_integrates_to_orientation_change(clean_run: SimRun, sensor: str) -> None:
    imu = clean_run.chest if sensor == "chest" else clean_run.sacrum
    segment: Segment = "trunk" if sensor == "chest" else "pelvis"
    kin: Kinematics = clean_run.kinematics
    for t0 in (200.0, float(clean_run.climbs[0].start_s) + 30.0):
        m = _window(imu.t_s, t0, t0 + 3.0)
        t = imu.t_s[m]
        rel = _integrate_gyro(imu.gyr_dps[m], imu.fs_hz)
        e = deg_to_rad(segment_euler_deg(kin, segment, t[[0, -1]]))
        rot = euler_zyx_to_matrix(e)
        truth = rot[0].T @ rot[1]
        err = np.degrees(np.arccos(np.clip((np.trace(rel.T @ truth) - 1) / 2, -1, 1)))
        assert err < 0.3, (sensor, t0, err)


def _peak_hz(x: np.ndarray, fs: float, lo: float, hi: float) -> float:
    f, pxx = welch(x - x.mean(), fs=fs, nperseg=min(x.size, int(fs * 32)))
    band = (f >= lo) & (f <= hi)
    return float(f[band][np.argmax(pxx[band])])


def test_cadence_matches_vertical_acc_peak(clean_run: SimRun) -> None:
    imu = clean_run.sacrum
    tr = clean_run.truth
    for t0 in (120.0, 240.0):
        m = _window(imu.t_s, t0, t0 + 60.0)
        f = _peak_hz(imu.acc_g[m, 2], imu.fs_hz, 1.5, 4.0)
        cad = tr.cadence_spm[int(t0):int(t0) + 60].mean()
        assert f * 60.0 == pytest.approx(cad, abs=2.5)
        assert 160.0 <= cad <= 185.0


def test_breathing_matches_chest_pitch_frequency(clean_run: SimRun) -> None:
    imu = clean_run.chest
    tr = clean_run.truth
    sos = butter(2, [0.1, 1.3], btype="bandpass", fs=imu.fs_hz, output="sos")
    # Pitch from the gyro (identity mount: pitch rate on y), integrated.
    pitch_deg = np.cumsum(imu.gyr_dps[:, 1]) / imu.fs_hz
    pitch_deg = sosfiltfilt(sos, pitch_deg)
    for t0, t1 in ((10.0, 40.0), (100.0, 160.0), (200.0, 260.0)):
        m = _window(imu.t_s, t0, t1)
        f = _peak_hz(pitch_deg[m], imu.fs_hz, 0.15, 1.2)
        rate = tr.rate_bpm[int(t0):int(t1)].mean()
        # Welch resolution is 1/32 Hz ~ 1.9 bpm.
        assert f * 60.0 == pytest.approx(rate, abs=2.5), (t0, t1)


def test_breath_pitch_amplitude_and_sign(clean_run: SimRun) -> None:
    """Inhalation tips the chest backward by ~0.2-1.0 deg x depth."""
    kin: Kinematics = clean_run.kinematics
    on = clean_run.breath_t_s
    on = on[(on > 12.0) & (on < 38.0)]
    ins_end = on[:-1] + 0.3 * np.diff(on)
    pitch_on = segment_euler_deg(kin, "trunk", on[:-1])[:, 1]
    pitch_ins = segment_euler_deg(kin, "trunk", ins_end)[:, 1]
    drop = pitch_on - pitch_ins
    assert np.all(drop > 0.0)
    assert 0.15 < drop.mean() < 1.0
