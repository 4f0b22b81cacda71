from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.testing import assert_array_equal

from breathform.sim import SimParams, SimRun, simulate_run

SHORT: dict[str, Any] = {"duration_s": 480, "warmup_s": 120.0, "n_climbs": 1,
         "climb_min_s": 90.0, "climb_max_s": 120.0}


def _arrays(run: SimRun) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for imu in (run.chest, run.sacrum):
        for f in ("t_s", "acc_g", "gyr_dps", "mount"):
            out[f"{imu.sensor}.{f}"] = getattr(imu, f)
    for fld in dataclasses.fields(run.truth):
        out[f"truth.{fld.name}"] = getattr(run.truth, fld.name)
    for f in ("breath_t_s", "breath_depth_rel", "step_t_s", "hr_bpm", "beat_t_s"):
        out[f] = getattr(run, f)
    return out


def test_same_seed_bit_identical() -> None:
    a = simulate_run(SimParams(seed=5, **SHORT))
    b = simulate_run(SimParams(seed=5, **SHORT))
    for key, arr in _arrays(a).items():
        assert_array_equal(arr, _arrays(b)[key], err_msg=key)
    assert a.rr_ms == b.rr_ms
    assert a.climbs == b.climbs


def test_different_seed_differs() -> None:
    a = _arrays(simulate_run(SimParams(seed=5, **SHORT)))
    b = _arrays(simulate_run(SimParams(seed=6, **SHORT)))
    for key in ("chest.acc_g", "sacrum.gyr_dps", "chest.mount", "truth.rate_bpm",
                "breath_t_s"):
        assert a[key].shape != b[key].shape or not np.array_equal(a[key], b[key]), key


def test_runner_and_mounts_do_not_depend_on_duration() -> None:
    a = simulate_run(SimParams(seed=5, **SHORT))
    b = simulate_run(SimParams(seed=5, **{**SHORT, "duration_s": 540}))
    assert a.traits == b.traits
    assert_array_equal(a.chest.mount, b.chest.mount)
    assert_array_equal(a.sacrum.mount, b.sacrum.mount)
