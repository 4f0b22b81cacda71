"""`breathform import` as a user runs it: a Polar Sensor Logger ACC export (chest) and a
generic CSV (sacrum) from a simulated run become one session that replays identically,
reports and exports; broken files give one clear error line and no session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from breathform.sim import SimParams, simulate_run
from breathform.store import SessionReader, list_sessions

pytestmark = pytest.mark.integration

BF = [sys.executable, "-m", "breathform.cli"]
T0_NS = 768_049_921_000_000_000


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("rec")
    run = simulate_run(SimParams.flat(seed=4, duration_s=100))
    c, s = run.chest, run.sacrum
    ns = T0_NS + np.rint(c.t_s * 1e9).astype(np.int64)
    mg = np.rint(c.acc_g * 1000).astype(np.int64)
    psl = d / "Polar_H10_1A2B3C4D_20240504_091200_ACC.txt"
    with psl.open("w") as f:
        f.write("Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n")
        for i in range(len(ns)):
            f.write(f"2024-05-04T09:12:00.000;{ns[i]};{mg[i, 0]};{mg[i, 1]};{mg[i, 2]};\n")
    csv = d / "sacrum.csv"
    with csv.open("w") as f:
        f.write("t_ms,ax_mps2,ay_mps2,az_mps2,gx_dps,gy_dps,gz_dps\n")
        a, g = s.acc_g * 9.80665, s.gyr_dps
        for i in range(len(s.t_s)):
            f.write(f"{s.t_s[i] * 1e3:.3f},{a[i, 0]:.5f},{a[i, 1]:.5f},{a[i, 2]:.5f},"
                    f"{g[i, 0]:.4f},{g[i, 1]:.4f},{g[i, 2]:.4f}\n")
    rr = d / "Polar_H10_1A2B3C4D_20240504_091200_RR.txt"
    with rr.open("w") as f:
        f.write("Phone timestamp;RR-interval [ms]\n")
        for t, beats in zip(run.hr_t_s, run.rr_ms, strict=True):
            ms = round(t * 1000)
            stamp = f"2024-05-04T09:{12 + ms // 60000:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
            for v in beats:
                f.write(f"{stamp};{v:.0f}\n")
    return psl, csv, rr


def bf(*args: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BF, "--dir", str(folder), *args], capture_output=True, text=True,
                          timeout=300)


def test_import_replay_report_export(files, tmp_path):
    psl, csv, rr = files
    r = bf("import", str(psl), "--format", "polar-sensor-logger", "--sacrum", str(csv),
           "--other-format", "generic-csv", "--hr", str(rr), "--quiet", folder=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "200 Hz, acc only" in r.stdout and "sacrum: diy" in r.stdout
    assert "104 Hz, acc + gyro" in r.stdout and "heart rate" in r.stdout
    (summary,) = list_sessions(tmp_path)
    assert summary.source == "import:polar-sensor-logger" and summary.status == "complete"
    with SessionReader(summary.path) as rd:
        info = rd.info
        metrics = rd.metrics()
        events = rd.events()
    # the phone's first timestamp is the session start
    assert info.started_utc_ns == 1714813920 * 10**9
    assert [s.kind for s in info.sensors] == ["polar_h10", "diy"]
    assert len(metrics) >= 95
    assert not any(k == "decode_error" for _, k, _ in events)
    assert any(np.isfinite(m.rate_bpm) for m in metrics)
    assert any(np.isfinite(m.pelvic_tilt_deg) for m in metrics)
    hr = [m.hr_bpm for m in metrics if np.isfinite(m.hr_bpm)]
    assert len(hr) >= 90 and 60 < np.median(hr) < 200
    r = bf("replay", summary.session_id, folder=tmp_path)
    assert r.returncode == 0 and "identical" in r.stdout, r.stdout + r.stderr
    r = bf("report", summary.session_id, "-o", str(tmp_path / "r.html"), folder=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r.html").stat().st_size > 10_000
    r = bf("export", summary.session_id, "--format", "csv", "--out", str(tmp_path / "x"),
           "--quiet", folder=tmp_path)
    assert r.returncode == 0, r.stderr
    chest = np.genfromtxt(tmp_path / "x" / "chest.csv", delimiter=",", names=True)
    # the file's own samples and device clock come back out (ns since 2000 -> s)
    assert chest.shape[0] == 100 * 200
    assert abs(chest["t_device_s"][0] - (T0_NS / 1e9 + 0.005)) < 1e-6
    sac = np.genfromtxt(tmp_path / "x" / "sacrum.csv", delimiter=",", names=True)
    assert sac.shape[0] >= 100 * 104 - 19  # a last partial packet may be short


def test_a_broken_file_is_one_error_line_and_no_session(files, tmp_path):
    psl = files[0]
    bad = tmp_path / "bad.txt"
    lines = psl.read_text().splitlines()
    lines[5000] = lines[5000].replace(";", ";x", 2)
    bad.write_text("\n".join(lines) + "\n")
    r = bf("import", str(bad), "--format", "polar-sensor-logger", "--quiet", folder=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"{bad}:5001:" in r.stderr and "expected whole numbers" in r.stderr
    assert list_sessions(tmp_path) == []
    r = bf("import", str(psl), "--format", "polar-sensor-logger", "--sensor", "sacrum",
           folder=tmp_path)
    assert r.returncode == 2 and "needs the chest sensor" in r.stderr
