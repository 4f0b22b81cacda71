"""``breathform calibrate --sim`` writes a profile; a demo run then uses it; replay agrees."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import numpy as np
import pytest

from breathform.cli import main
from breathform.sim import SimParams, simulate_run
from breathform.store import SessionReader, list_sessions

BF = [sys.executable, "-m", "breathform.cli"]


def test_calibrate_then_run_with_the_profile(tmp_path):
    env = {**os.environ, "BREATHFORM_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    out = subprocess.run([*BF, "calibrate", "--sim", "--seed", "2", "--sim-move"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    # the first stand was disturbed: a clear message and a second attempt
    assert "You moved during the stand" in text and "chest sensor moved" in text
    assert "attempt 2" in text and "Breathe quietly" in text
    path = tmp_path / "home" / "profile.toml"
    data = tomllib.loads(path.read_text())
    assert data["profile"]["source"] == "sim:seed=2"
    run = simulate_run(SimParams.flat(seed=2, duration_s=80))
    for role, imu in (("chest", run.chest), ("sacrum", run.sacrum)):
        true_up = imu.mount.T @ np.array([0.0, 0.0, 1.0])
        got = np.array(data["calibration"][role]["vertical"])
        assert np.degrees(np.arccos(np.clip(got @ true_up, -1, 1))) < 1.0
    b = run.breath_t_s[(run.breath_t_s > 10) & (run.breath_t_s < 40)]
    truth_bpm = 60 * (b.size - 1) / (b[-1] - b[0])
    assert abs(data["breathing"]["resting_rate_bpm"] - truth_bpm) < 1.5
    assert data["breathing"]["rest_amp_g"] > 0

    # a run with the same simulated runner uses it and says so
    sessions = tmp_path / "sessions"
    out = subprocess.run([*BF, "--dir", str(sessions), "demo", "--minutes", "2", "--seed",
                          "2", "--quiet"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "calibration: stored calibration from" in out.stdout.replace("\n", " ")
    (summary,) = list_sessions(sessions)
    with SessionReader(summary.path) as r:
        cal = r.calibration()
        events = r.events()
        metrics = r.metrics()
    assert cal["source"] == "profile"
    assert cal["chest_vertical"] == data["calibration"]["chest"]["vertical"]
    assert events[0][1] == "calibration" and "stored calibration" in events[0][2]
    assert any(not m.warming_up for m in metrics)
    # replay recomputes it with the calibration it was recorded with
    assert main(["--dir", str(sessions), "replay", summary.session_id]) == 0

    # another simulated runner does not use it, and the session says why
    out = subprocess.run([*BF, "--dir", str(tmp_path / "s2"), "demo", "--minutes", "2",
                          "--seed", "3", "--quiet"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "calibrating automatically" in out.stdout and "not used" in out.stdout


def test_a_broken_profile_is_a_clear_error(tmp_path, capsys):
    p = tmp_path / "profile.toml"
    p.write_text('[profile]\nversion = 1\nrunner_id = "r"\ncalibrated_utc = "x"\n'
                 'source = "sim:seed=1"\n[calibration.chest]\nkind = "polar_h10"\n'
                 'vertical = "up"\n')
    rc = main(["--dir", str(tmp_path), "demo", "--minutes", "2", "--quiet", "--profile",
               str(p)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "calibration.chest.vertical" in err and "'up'" in err and "unit vector" in err
    assert not list_sessions(tmp_path)


def test_calibrate_help_and_bad_options(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["calibrate", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "10-s standing capture" in out and "--sim" in out and "--profile" in out
    assert main(["calibrate", "--sim", "--retries", "-1", "--profile",
                 str(tmp_path / "p.toml")]) == 2
    assert "--retries must be >= 0" in capsys.readouterr().err
    # without hardware or --sim: a clear message, no traceback
    assert main(["calibrate", "--profile", str(tmp_path / "p.toml")]) == 2
    err = capsys.readouterr().err
    assert "--chest ADDRESS" in err and "--sim" in err
    assert not (tmp_path / "p.toml").exists()
