"""Pieces of ``breathform calibrate``: stillness check, resting rate, session wiring."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.console import Console

from breathform import profile as prof
from breathform.cli_calibrate import (
    replay_processor,
    session_processor,
    spectral_rate_bpm,
    still_problem,
    vertical_of,
)
from breathform.config import Config
from breathform.errors import ConfigError
from breathform.model import SensorInfo

FS = 100.0
SENSORS = (SensorInfo("chest", "polar_h10", 200.0, 8.0, False),
           SensorInfo("sacrum", "movesense", 104.0, 16.0, True))


def _stand(seconds: float = 10.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(1, round(seconds * FS) + 1) / FS
    up = np.array([0.3, -0.2, 0.9327379])
    return t, up + 0.005 * rng.standard_normal((t.shape[0], 3))


def test_a_still_stand_passes_and_gives_the_vertical():
    t, a = _stand()
    assert still_problem("chest", t, a, np.zeros_like(a), FS, 10.0) is None
    assert np.allclose(vertical_of(a), [0.3, -0.2, 0.9327379], atol=2e-3)


def test_moving_turning_or_missing_data_is_reported_with_numbers():
    t, a = _stand()
    moved = a + 0.1 * np.sin(2 * np.pi * 1.5 * t)[:, None] * [1.0, 0.0, 0.0]
    msg = still_problem("chest", t, moved, None, FS, 10.0)
    assert msg is not None and "chest sensor moved" in msg and "0.03 g" in msg
    turning = np.zeros_like(a) + [0.0, 0.0, 25.0]
    msg = still_problem("sacrum", t, a, turning, FS, 10.0)
    assert msg is not None and "sacrum sensor turned" in msg and "25.0 deg/s" in msg
    msg = still_problem("chest", t[:300], a[:300], None, FS, 10.0)
    assert msg is not None and "300 samples" in msg and "1000" in msg
    msg = still_problem("chest", t, a * 1.2, None, FS, 10.0)
    assert msg is not None and "1.20 g" in msg


def test_spectral_rate_of_a_breathing_tilt():
    t, a = _stand(30.0, seed=1)
    tilt = 0.004 * np.sin(2 * np.pi * (14.0 / 60.0) * t)     # ~0.2 deg of chest rotation
    a = a + tilt[:, None] * [1.0, 0.0, -0.3]
    assert spectral_rate_bpm(a, FS) == pytest.approx(14.0, abs=0.5)
    assert math.isnan(spectral_rate_bpm(a[:500], FS))          # too short
    # no breathing: a flat spectrum is mostly rejected (a 30-s periodogram of noise has
    # chance peaks; the threshold lets about 1 in 8 through, see the docstring's min_share)
    found = [np.isfinite(spectral_rate_bpm(_stand(30.0, seed=k)[1], FS)) for k in range(40)]
    assert sum(found) <= 10


def _cal(source: str) -> prof.StoredCalibration:
    return prof.StoredCalibration("runner-01", "2026-11-25T16:00:00Z", source,
                                  prof.SensorCalibration("polar_h10", (0.0, 0.0, 1.0)),
                                  prof.SensorCalibration("movesense", (1.0, 0.0, 0.0)),
                                  14.0, 0.002)


def test_sessions_use_a_matching_profile_and_say_so(tmp_path):
    path = prof.save(_cal("sim:seed=3"), tmp_path / "profile.toml")
    con = Console(record=True, width=300)
    proc = session_processor(Config(), SENSORS, source="sim:seed=3",
                             profile_flag=str(path), console=con)
    assert proc.stored_calibration is not None
    assert proc.dsp_params.chest_params.calibration is not None
    assert proc.dsp_params.chest_params.rest_amp_g == 0.002
    assert "stored calibration from" in con.export_text()
    assert proc.calibration()["source"] == "profile"
    again = replay_processor(Config(), SENSORS, proc.calibration())
    assert again.stored_calibration == proc.stored_calibration

    other = session_processor(Config(), SENSORS, source="sim:seed=4",
                              profile_flag=str(path), console=None)
    assert other.stored_calibration is None
    assert "calibrating automatically" in other.calibration_note
    assert "not used" in other.calibration_note and "sim:seed=3" in other.calibration_note
    assert other.calibration()["source"] == "auto"
    assert replay_processor(Config(), SENSORS, other.calibration()).stored_calibration is None

    none = session_processor(Config(), SENSORS, source="ble",
                             profile_flag=str(tmp_path / "none.toml"), console=None)
    assert "no runner profile" in none.calibration_note


def test_a_broken_profile_stops_the_session_with_the_key(tmp_path):
    p = tmp_path / "profile.toml"
    p.write_text('[profile]\nversion = 1\nrunner_id = "r"\ncalibrated_utc = "x"\n'
                 'source = "ble"\n[calibration.chest]\nkind = "polar_h10"\n'
                 "vertical = [1, 1, 1]\n")
    with pytest.raises(ConfigError, match="calibration.chest.vertical"):
        session_processor(Config(), SENSORS, source="ble", profile_flag=str(p), console=None)


def test_a_sensor_worn_at_another_angle_than_calibrated_is_flagged():
    from breathform.processing import SessionProcessor
    from breathform.sim.source import SimSource

    src = SimSource.create(Config(), duration_s=80.0, seed=4, flat=True)
    right = {r: vertical_of(np.concatenate([b.acc_g for b in _blocks(src, r)]))
             for r in ("chest", "sacrum")}

    def warnings(chest_up: tuple[float, float, float]) -> list[str]:
        cal = prof.StoredCalibration("r", "x", "sim:seed=4",
                                     prof.SensorCalibration("polar_h10", chest_up),
                                     prof.SensorCalibration("movesense", right["sacrum"]))
        proc = SessionProcessor(Config(), src.sensors, calibration=cal)
        out = []
        for batch in src.batches():
            out += [d for _, k, d in proc.feed(batch).events if k == "calibration_warning"]
        return out

    assert warnings(right["chest"]) == []
    up = np.array(right["chest"])
    tilted = np.cross(up, [0.0, 0.0, 1.0] if abs(up[2]) < 0.9 else [1.0, 0.0, 0.0])
    tilted = up * np.cos(0.7) + tilted / np.linalg.norm(tilted) * np.sin(0.7)  # 40 deg off
    (msg,) = warnings((float(tilted[0]), float(tilted[1]), float(tilted[2])))
    assert "chest sensor sits 40 deg" in msg and "breathform calibrate" in msg


def _blocks(src, role):
    from breathform.firmware_bridge.decode import SensorDecoder
    from breathform.model import ImuBlock

    info = next(s for s in src.sensors if s.role == role)
    dec = SensorDecoder(role, info.kind, info.fs_hz)
    out = []
    for p in src.packets:
        if p.sensor == role and p.t_rx_s < 10.0:
            out += [b for b in dec.feed(p) if isinstance(b, ImuBlock)]
    return out
