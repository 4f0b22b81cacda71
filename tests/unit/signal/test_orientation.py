"""Orientation (VQF / accelerometer-only) and the posture ranges built on it."""

from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signal_synth import make_run, random_mount

from breathform.errors import InputError
from breathform.signal import orientation as ori
from breathform.signal import posture, sensors
from breathform.signal._state import state_from_dict
from breathform.units import G_MPS2

DATA = pathlib.Path(__file__).parents[2] / "data"
FS = 100.0


def _imu(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random smooth rotation about all axes: consistent acc (gravity only) and gyro."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FS
    w = np.stack([40 * np.sin(2 * np.pi * f * t + ph) for f, ph in
                  zip(rng.uniform(0.2, 1.5, 3), rng.uniform(0, 6, 3), strict=True)], 1)
    # integrate the body rate to get the orientation (sensor -> earth), then gravity
    r = np.eye(3)
    acc = np.empty((n, 3))
    for i in range(n):
        acc[i] = r.T @ np.array([0.0, 0.0, 1.0])
        wx, wy, wz = np.radians(w[i]) / FS
        k = np.array([[0, -wz, wy], [wz, 0, -wx], [-wy, wx, 0]])
        r = r @ (np.eye(3) + k + 0.5 * k @ k)
        u, _, vt = np.linalg.svd(r)
        r = u @ vt
    return acc + rng.normal(0, 0.005, (n, 3)), w + rng.normal(0, 0.1, (n, 3))


ACC, GYR = _imu()


def _chunks(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    edges = [0, *sorted(c % (n + 1) for c in cuts), n]
    return list(zip(edges[:-1], edges[1:], strict=True))


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(0, 3000), max_size=10), has_gyro=st.booleans())
def test_streaming_equals_batch(cuts, has_gyro):
    p = ori.OrientationParams(FS, has_gyro)
    gyr = GYR if has_gyro else None
    ref = ori.run_batch(p, ACC, gyr)
    s = ori.init_state(p)
    g, q = [], []
    for a, b in _chunks(len(ACC), cuts):
        o, s = ori.step(p, s, ACC[a:b], None if gyr is None else gyr[a:b])
        g.append(o.grav_g)
        if o.quat is not None:
            q.append(o.quat)
    np.testing.assert_array_equal(np.vstack(g), ref.grav_g)
    if has_gyro:
        assert ref.quat is not None
        np.testing.assert_array_equal(np.vstack(q), ref.quat)
    else:
        assert ref.quat is None


def test_state_snapshot_resume():
    p = ori.OrientationParams(FS, True)
    _, s = ori.step(p, ori.init_state(p), ACC[:1234], GYR[:1234])
    back = state_from_dict(ori.OrientationState, dataclasses.asdict(s))
    a, _ = ori.step(p, s, ACC[1234:], GYR[1234:])
    b, _ = ori.step(p, back, ACC[1234:], GYR[1234:])
    assert a.quat is not None and b.quat is not None
    np.testing.assert_array_equal(a.quat, b.quat)


def test_inclination_tracks_a_rotating_sensor():
    o = ori.run_batch(ori.OrientationParams(FS, True), ACC, GYR)
    up = ACC / np.linalg.norm(ACC, axis=1, keepdims=True)   # pure gravity: acc is up
    err = np.degrees(np.arccos(np.clip(np.sum(o.grav_g * up, 1), -1, 1)))
    assert err[0] < 1.0       # primed from the first sample, no convergence wait
    assert float(np.sqrt(np.mean(err ** 2))) < 1.0
    np.testing.assert_allclose(np.linalg.norm(o.grav_g, axis=1), 1.0, atol=1e-9)


def test_acc_only_is_the_lowpassed_accelerometer():
    acc = np.tile([0.0, 0.6, 0.8], (500, 1))
    o = ori.run_batch(ori.OrientationParams(FS, False), acc, None)
    assert o.quat is None
    np.testing.assert_allclose(o.grav_g, acc, atol=1e-9)


def test_bad_input_is_named():
    p = ori.OrientationParams(FS, True)
    with pytest.raises(InputError, match="gyr_dps must have shape"):
        ori.step(p, ori.init_state(p), ACC[:10], None)
    with pytest.raises(InputError, match=r"acc_g must have shape \(n, 3\)"):
        ori.step(p, ori.init_state(p), ACC[:10, :2], GYR[:10])
    with pytest.raises(InputError, match="tau_acc_s"):
        ori.OrientationParams(FS, True, tau_acc_s=0.0)
    with pytest.raises(InputError, match="lp_hz"):
        ori.OrientationParams(0.5, False)


def test_empty_and_one_sample_chunks():
    p = ori.OrientationParams(FS, True)
    s = ori.init_state(p)
    o, s = ori.step(p, s, np.zeros((0, 3)), np.zeros((0, 3)))
    assert o.grav_g.shape == (0, 3) and not s.primed
    parts = []
    for i in range(20):
        o, s = ori.step(p, s, ACC[i:i + 1], GYR[i:i + 1])
        parts.append(o.quat)
    ref = ori.run_batch(p, ACC[:20], GYR[:20]).quat
    np.testing.assert_array_equal(np.vstack(parts), ref)


def test_broad_excerpt_inclination_rmse_below_1_deg():
    """Real IMU vs optical reference (BROAD trial 15 excerpt, fast translations)."""
    d = np.load(DATA / "broad_15_excerpt.npz")
    fs = float(d["sampling_rate"])
    acc = d["imu_acc"].astype(np.float64) / G_MPS2
    gyr = np.degrees(d["imu_gyr"].astype(np.float64))
    o = ori.run_batch(ori.OrientationParams(fs, True), acc, gyr)
    assert o.quat is not None
    ref = ori.up_from_quat(d["opt_quat"].astype(np.float64))
    sel = d["movement"] & np.isfinite(ref).all(axis=1)
    assert sel.sum() > 2000
    cos = np.sum(o.grav_g[sel] * ref[sel], 1) / np.linalg.norm(ref[sel], axis=1)
    err = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    assert float(np.sqrt(np.mean(err ** 2))) <= 1.0


# ---------------------------------------------------------------- posture ranges


def test_heading_and_up_match_rotation_matrices():
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(5)
    q = rng.normal(size=(50, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    fwd = np.array([0.6, 0.0, 0.8])
    mats = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()      # scipy: [x, y, z, w]
    e = mats @ fwd
    np.testing.assert_allclose(posture.heading_deg(q, fwd),
                               np.degrees(np.arctan2(e[:, 1], e[:, 0])), atol=1e-9)
    np.testing.assert_allclose(ori.up_from_quat(q), mats[:, 2, :], atol=1e-12)


def test_stride_range_removes_drift_and_needs_a_stride():
    fs = 100.0
    t = np.arange(201) / fs
    a = 3.0 * np.sin(2 * np.pi * t / 0.8 + 0.4) + 25.0 * t        # 6 deg p-p, turning
    assert posture.stride_range_deg(a, 0.8, fs) == pytest.approx(6.0, abs=0.05)
    assert math.isnan(posture.stride_range_deg(a, math.nan, fs))
    assert math.isnan(posture.stride_range_deg(a, 3.0, fs))     # longer than the history
    b = a.copy()
    b[-5] = np.nan
    assert math.isnan(posture.stride_range_deg(b, 0.8, fs))
    wrapped = (a * 20 + 180.0) % 360.0 - 180.0                   # heading across +-180
    assert posture.stride_range_deg(wrapped, 0.8, fs, period_deg=360.0) == pytest.approx(
        120.0, abs=1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_pelvic_ranges_with_random_mounting(seed):
    rng = np.random.default_rng(200 + seed)
    syn = make_run(fs_hz=FS, duration_s=120.0, mount_sacrum=random_mount(rng), seed=seed)
    sa = sensors.analyze_sacrum(syn.t_s, syn.sacrum_acc_g, syn.sacrum_gyr_dps, FS)
    late = slice(95, 119)
    drop = np.array([m.pelvic_drop_range_deg for m in sa])[late]
    rot = np.array([m.pelvic_rotation_range_deg for m in sa])[late]
    # signal_synth: pelvis roll 2 deg amplitude, yaw 0.5 x 8 deg amplitude (per stride)
    assert np.all(np.abs(drop - 4.0) < 0.5)
    assert np.all(np.abs(rot - 8.0) < 0.5)
    tilt = np.array([m.pelvic_tilt_deg for m in sa])[late]
    truth = syn.pelvis_pitch_deg.reshape(-1, int(FS)).mean(axis=1)[late]
    assert np.all(np.abs(tilt - truth) < 0.5)
    assert all(math.isnan(m.pelvic_drop_range_deg) for m in sa[:40])   # standing


def test_ranges_need_a_gyroscope():
    syn = make_run(fs_hz=FS, duration_s=100.0, seed=3)
    sa = sensors.analyze_sacrum(syn.t_s, syn.sacrum_acc_g, None, FS)
    ch = sensors.analyze_chest(syn.t_s, syn.chest_acc_g, None, FS)
    assert math.isfinite(sa[-1].pelvic_tilt_deg)
    assert all(math.isnan(m.pelvic_drop_range_deg) and math.isnan(m.pelvic_rotation_range_deg)
               for m in sa)
    assert all(math.isnan(m.trunk_twist_range_deg) for m in ch)
