"""The command line as a user meets it: help, errors, analyze, Ctrl-C."""

from __future__ import annotations

import csv
import io
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from breathform.cli import build_parser, main
from breathform.sim import SimParams, simulate_run
from breathform.store import SessionReader, list_sessions

BF = [sys.executable, "-m", "breathform.cli"]


@pytest.mark.parametrize("cmd", [[], ["demo"], ["replay"], ["sessions"], ["analyze"], ["scan"],
                                 ["run"]])
def test_help_for_every_command(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: breathform" in out
    assert len(out) > 200


def test_every_subcommand_has_help_text():
    p = build_parser()
    sub = next(a for a in p._actions if a.dest == "command")
    assert {"demo", "replay", "sessions", "analyze", "scan", "run"} <= set(sub.choices)
    for action in sub._choices_actions:
        assert action.help


def test_bad_config_names_key_value_and_expectation(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[alerts]\nhold_s = -3\n")
    assert main(["--config", str(cfg), "sessions"]) == 2
    err = capsys.readouterr().err
    assert "alerts.hold_s" in err and "-3" in err and "[1, 600]" in err
    cfg.write_text("[alerts]\nhodl_s = 5\n")
    assert main(["--config", str(cfg), "sessions"]) == 2
    assert "alerts.hodl_s" in capsys.readouterr().err
    cfg.write_text("[alerts\n")
    assert main(["--config", str(cfg), "sessions"]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "none.toml"), "sessions"]) == 2
    assert "cannot read config file" in capsys.readouterr().err


def test_replay_of_unknown_session_is_a_clear_error(tmp_path, capsys):
    assert main(["--dir", str(tmp_path), "replay", "nope"]) == 2
    assert "no session 'nope'" in capsys.readouterr().err


def _write_csv(path: Path, t_s, acc_g, gyr_dps=None) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        head = ["t_s", "ax_g", "ay_g", "az_g"] + (["gx_dps", "gy_dps", "gz_dps"]
                                                 if gyr_dps is not None else [])
        w.writerow(head)
        for i in range(t_s.size):
            row = [f"{t_s[i]:.5f}", *(f"{v:.5f}" for v in acc_g[i])]
            if gyr_dps is not None:
                row += [f"{v:.4f}" for v in gyr_dps[i]]
            w.writerow(row)


@pytest.fixture(scope="module")
def flat_run():
    return simulate_run(SimParams.flat(seed=5, duration_s=240, chest_fs_hz=100.0,
                                       sacrum_fs_hz=104.0))


def _analyze(args, capsys) -> list[dict[str, str]]:
    assert main(["analyze", *args]) == 0
    out = capsys.readouterr().out
    return list(csv.DictReader(io.StringIO(out)))


def test_analyze_chest_csv(tmp_path, flat_run, capsys):
    f = tmp_path / "chest.csv"
    _write_csv(f, flat_run.chest.t_s, flat_run.chest.acc_g)
    rows = _analyze([str(f), "--sensor", "chest"], capsys)
    assert list(rows[0])[:4] == ["t_s", "rate_bpm", "depth_rel", "quality"]
    assert len(rows) >= 235
    tr = flat_run.truth
    errs = [abs(float(r["rate_bpm"]) - tr.rate_bpm[int(float(r["t_s"])) - 1])
            for r in rows[150:] if r["rate_bpm"] != "NaN"]
    assert len(errs) > 60
    assert np.median(errs) < 2.0
    assert rows[0]["rate_bpm"] == "NaN"  # no estimate in the first second


def test_analyze_sacrum_csv_with_gyro(tmp_path, flat_run, capsys):
    f = tmp_path / "sacrum.csv"
    _write_csv(f, flat_run.sacrum.t_s, flat_run.sacrum.acc_g, flat_run.sacrum.gyr_dps)
    out = tmp_path / "out.csv"
    assert main(["analyze", str(f), "--sensor", "sacrum", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["t_s", "cadence_spm", "pelvic_tilt_deg", "pelvic_drop_range_deg",
                             "pelvic_rotation_range_deg"]
    tr = flat_run.truth
    late = [r for r in rows if float(r["t_s"]) > 150]
    cad_err = [abs(float(r["cadence_spm"]) - tr.cadence_spm[int(float(r["t_s"])) - 1])
               for r in late if r["cadence_spm"] != "NaN"]
    assert len(cad_err) > 60 and np.median(cad_err) < 4.0
    assert any(not math.isnan(float(r["pelvic_tilt_deg"])) for r in late)
    for col in ("pelvic_drop_range_deg", "pelvic_rotation_range_deg"):  # need the gyro
        err = [abs(float(r[col]) - getattr(tr, col)[int(float(r["t_s"])) - 1]) for r in late]
        assert len(err) > 60 and np.median(err) < 0.5, col  # NaN fails too


def test_analyze_sacrum_csv_without_gyro_has_nan_ranges(tmp_path, flat_run, capsys):
    f = tmp_path / "sacrum.csv"
    _write_csv(f, flat_run.sacrum.t_s, flat_run.sacrum.acc_g)
    rows = _analyze([str(f), "--sensor", "sacrum"], capsys)
    assert list(rows[0])[-2:] == ["pelvic_drop_range_deg", "pelvic_rotation_range_deg"]
    assert {r["pelvic_drop_range_deg"] for r in rows} == {"NaN"}
    assert {r["pelvic_rotation_range_deg"] for r in rows} == {"NaN"}
    assert any(r["cadence_spm"] != "NaN" for r in rows)


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("time,ax,ay,az\n0,0,0,1\n", "lacks ['t_s', 'ax_g', 'ay_g', 'az_g']"),
    ("t_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,x,1\n", "line 3: column ay_g is 'x'"),
    ("t_s,ax_g,ay_g,az_g\n0,0,0,1\n0.01,0,0\n", "line 3: 3 fields"),
    ("t_s,ax_g,ay_g,az_g\n0.02,0,0,1\n0.01,0,0,1\n", "must increase strictly"),
    ("t_s,ax_g,ay_g,az_g,gx_dps\n0,0,0,1,0\n0.01,0,0,1,0\n", "all of"),
])
def test_analyze_bad_csv_is_a_clear_error(tmp_path, capsys, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    assert main(["analyze", str(f), "--sensor", "chest"]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


def test_ctrl_c_stops_cleanly_and_keeps_the_session(tmp_path):
    """SIGINT mid-run: exit 130, summary printed, session closed as interrupted, replayable."""
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen([*BF, "--dir", str(tmp_path), "demo", "--minutes", "20",
                             "--speed", "20"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 120
    try:
        while True:  # wait for the run to have stored some metrics
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "demo never stored metrics"
            files = list(tmp_path.glob("*.bfsession"))
            if files:
                try:
                    with SessionReader(files[0]) as r:
                        if len(r.metrics()) >= 60:
                            break
                except Exception:
                    pass
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "run summary" in out and "interrupted" in out
    (s,) = list_sessions(tmp_path)
    assert s.status == "interrupted"
    assert 60 <= s.duration_s < 20 * 60
    assert main(["--dir", str(tmp_path), "replay", s.session_id]) == 0
