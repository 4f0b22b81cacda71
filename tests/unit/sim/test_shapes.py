from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from breathform.errors import InputError
from breathform.model import HeartRate
from breathform.sim import PHASE_NAMES, SimImu, SimRun


def test_imu_streams(hilly_run: SimRun) -> None:
    p = hilly_run.params
    for imu, fs in ((hilly_run.chest, 200.0), (hilly_run.sacrum, 104.0)):
        n = int(p.duration_s * fs)
        assert imu.fs_hz == fs
        assert imu.t_s.shape == (n,) and imu.t_s.dtype == np.float64
        assert imu.acc_g.shape == (n, 3) and imu.acc_g.dtype == np.float64
        assert imu.gyr_dps.shape == (n, 3) and imu.gyr_dps.dtype == np.float64
        np.testing.assert_allclose(np.diff(imu.t_s), 1.0 / fs, rtol=1e-9)
        assert imu.t_s[-1] == pytest.approx(p.duration_s)
        assert np.all(np.isfinite(imu.acc_g)) and np.all(np.isfinite(imu.gyr_dps))
        np.testing.assert_allclose(imu.mount @ imu.mount.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(imu.mount) == pytest.approx(1.0)
    assert hilly_run.chest.sensor == "chest" and hilly_run.sacrum.sensor == "sacrum"


def test_truth_shapes(hilly_run: SimRun) -> None:
    tr = hilly_run.truth
    n = hilly_run.params.duration_s
    assert tr.n == n
    np.testing.assert_array_equal(tr.t_s, np.arange(1, n + 1))
    for f in dataclasses.fields(tr):
        assert getattr(tr, f.name).shape == (n,), f.name
    for name in ("climbing", "breathless", "form_degraded"):
        assert getattr(tr, name).dtype == bool
    assert tr.phase.dtype == np.int8
    assert set(np.unique(tr.phase)) == {0, 1, 2}
    assert PHASE_NAMES[int(tr.phase[0])] == "stand"
    run = tr.phase == 2
    for f in dataclasses.fields(tr):
        a = getattr(tr, f.name)
        if a.dtype == np.float64:
            assert np.all(np.isfinite(a[run])), f.name
    np.testing.assert_allclose(tr.lumbar_deg, tr.trunk_lean_deg - tr.pelvic_tilt_deg)


def test_events_and_heart_rate(hilly_run: SimRun) -> None:
    r = hilly_run
    assert np.all(np.diff(r.breath_t_s) > 0) and np.all(np.diff(r.step_t_s) > 0)
    assert r.breath_t_s.shape == r.breath_depth_rel.shape == r.breath_coupled.shape
    assert r.step_t_s.shape == r.step_foot.shape
    assert set(np.unique(r.step_foot)) == {0, 1}
    assert r.step_t_s[0] > 40.0  # nobody steps during the calibration stand
    assert len(r.rr_ms) == r.hr_t_s.size == r.hr_bpm.size == r.params.duration_s
    hrs = r.heart_rates()
    assert isinstance(hrs[0], HeartRate)
    # RR intervals agree with the heart rate.
    k = 600
    rr = np.concatenate([np.asarray(x) for x in r.rr_ms[k:k + 10]])
    assert 60000.0 / rr.mean() == pytest.approx(r.hr_bpm[k:k + 10].mean(), rel=0.05)


def test_sim_imu_validates() -> None:
    with pytest.raises(InputError, match="acc_g"):
        SimImu(t_s=np.zeros(3), acc_g=np.zeros((2, 3)), gyr_dps=np.zeros((3, 3)),
               fs_hz=1.0, mount=np.eye(3), sensor="chest")
