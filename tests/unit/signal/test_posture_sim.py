"""Posture metrics against the seeded simulator's ground truth (random sensor mountings)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest

from breathform.model import ImuBlock, Metrics
from breathform.signal import pipeline as pl
from breathform.sim import PHASE_RUN, SimParams, SimRun, simulate_run


@lru_cache(maxsize=1)
def _run() -> SimRun:
    return simulate_run(SimParams.flat(seed=21, duration_s=260, mount="random"))


@lru_cache(maxsize=2)
def _metrics(chest_gyro: bool) -> tuple[Metrics, ...]:
    run = _run()
    p = pl.PipelineParams(chest_fs_hz=run.chest.fs_hz, sacrum_fs_hz=run.sacrum.fs_hz,
                          chest_has_gyro=chest_gyro)
    s = pl.init_state(p)
    out: list[Metrics] = []
    for k in range(run.params.duration_s):     # 1-s batches of both sensors
        blocks = []
        for name, imu in (("chest", run.chest), ("sacrum", run.sacrum)):
            a, b = np.searchsorted(imu.t_s, [k, k + 1], side="right")
            gyr = imu.gyr_dps[a:b] if (name == "sacrum" or chest_gyro) else None
            blocks.append(ImuBlock(name, imu.fs_hz, int(a), imu.t_s[a:b], imu.acc_g[a:b], gyr))
        m, s = pl.step(p, s, blocks)
        out += m
    m, s = pl.finish(p, s)
    return tuple(out + m)


def _errors(name: str, chest_gyro: bool) -> np.ndarray:
    run = _run()
    tr = run.truth
    start = int(np.argmax(tr.phase == PHASE_RUN)) + 60
    by_k = {int(m.t_s): m for m in _metrics(chest_gyro)}
    ks = np.arange(start, tr.n)      # the last second completes only with a later sample
    est = np.array([getattr(by_k[int(k)], name) for k in ks])
    return np.asarray(est - getattr(tr, name)[ks - 1])


@pytest.mark.parametrize(("name", "limit_deg", "chest_gyro"), [
    ("pelvic_drop_range_deg", 1.5, False),
    ("pelvic_rotation_range_deg", 1.5, False),
    ("lumbar_deg", 1.5, False),
    ("trunk_lean_deg", 1.0, True),
    ("trunk_twist_range_deg", 1.5, True),
    ("lumbar_deg", 1.5, True),
])
def test_posture_within_target(name, limit_deg, chest_gyro):
    e = _errors(name, chest_gyro)
    assert e.size > 100
    assert np.all(np.isfinite(e)), name
    assert float(np.percentile(np.abs(e), 95)) <= limit_deg, name


def test_pelvic_tilt_change_within_1_deg():
    e = _errors("pelvic_tilt_deg", False)
    assert float(np.percentile(np.abs(e - e[:60].mean()), 95)) <= 1.0


def test_polar_h10_chest_has_no_twist():
    ms = _metrics(False)
    assert all(math.isnan(m.trunk_twist_range_deg) for m in ms)
    assert math.isfinite(ms[-1].trunk_lean_deg)


def test_polar_h10_lean_change_within_1_deg():
    # Acc-only trunk lean carries a bias (the trunk's twist and pitch oscillations correlate
    # with the acceleration it feels; not observable without a gyroscope, see README), but
    # changes against the early-run baseline, which the alerts use, stay within 1 degree.
    e = _errors("trunk_lean_deg", False)
    assert np.all(np.isfinite(e))
    assert float(np.percentile(np.abs(e - e[:60].mean()), 95)) <= 1.0
