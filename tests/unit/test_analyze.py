"""``breathform analyze --rr``: RR intervals fused into the chest breathing rate; bad files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from breathform.cli import main

FS = 50.0


def _chest_csv(path: Path, duration_s: float, breath_bpm: float, breath_g: float,
               seed: int, noise_g: float = 0.002) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * FS)) / FS
    acc = np.zeros((t.size, 3))
    acc[:, 2] = 1.0
    acc[:, 0] += breath_g * np.sin(2 * np.pi * breath_bpm / 60.0 * t)
    acc += noise_g * rng.standard_normal(acc.shape)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("t_s,ax_g,ay_g,az_g\n")
        np.savetxt(fh, np.column_stack((t, acc)), delimiter=",", fmt="%.6f")


def _rr_csv(path: Path, duration_s: float, hr_bpm: float, breath_bpm: float, seed: int
            ) -> None:
    rng = np.random.default_rng(seed)
    t, rows = 0.5, []
    while t < duration_s:
        r = 60000.0 / hr_bpm + 40.0 * np.sin(2 * np.pi * breath_bpm / 60.0 * t)
        r += 5.0 * rng.standard_normal()
        t += r / 1000.0
        rows.append(f"{t:.4f},{r:.2f}")
    path.write_text("t_s,rr_ms\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _run(args: list[str], capsys) -> list[dict[str, str]]:
    assert main(["analyze", *args]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def _col(rows: list[dict[str, str]], name: str, t0_s: float) -> np.ndarray:
    return np.array([float(r[name]) for r in rows if float(r["t_s"]) >= t0_s])


def test_rr_fills_in_where_the_accelerometer_abstains(tmp_path, capsys):
    chest, beats = tmp_path / "chest.csv", tmp_path / "rr.csv"
    _chest_csv(chest, 150.0, 15.0, 0.0, seed=1, noise_g=0.0)  # strap still, nothing seen
    _rr_csv(beats, 150.0, 70.0, 15.0, seed=2)
    rows = _run([str(chest), "--sensor", "chest", "--rr", str(beats)], capsys)
    assert list(rows[0])[-3:] == ["rate_acc_bpm", "rate_rr_bpm", "hr_bpm"]
    acc, rr_only, fused = (_col(rows, c, 60.0) for c in
                           ("rate_acc_bpm", "rate_rr_bpm", "rate_bpm"))
    assert np.isfinite(acc).mean() < 0.5
    assert np.isfinite(fused).mean() > 0.9
    assert np.nanmax(np.abs(fused - 15.0)) < 1.0
    np.testing.assert_array_equal(np.isfinite(fused), np.isfinite(acc) | np.isfinite(rr_only))
    np.testing.assert_allclose(_col(rows, "hr_bpm", 10.0), 70.0, atol=3.0)


def test_both_sources_agree_and_the_default_output_is_unchanged(tmp_path, capsys):
    chest, beats = tmp_path / "chest.csv", tmp_path / "rr.csv"
    _chest_csv(chest, 120.0, 18.0, 0.01, seed=3)
    _rr_csv(beats, 120.0, 65.0, 18.0, seed=4)
    fused_rows = _run([str(chest), "--sensor", "chest", "--rr", str(beats)], capsys)
    plain_rows = _run([str(chest), "--sensor", "chest"], capsys)
    assert "rate_rr_bpm" not in plain_rows[0]
    # without --rr the rate is the accelerometer's, as in the rate_acc_bpm column
    assert [r["rate_bpm"] for r in plain_rows] == [r["rate_acc_bpm"] for r in fused_rows]
    fused = _col(fused_rows, "rate_bpm", 60.0)
    assert np.isfinite(fused).all() and np.max(np.abs(fused - 18.0)) < 0.5


@pytest.mark.parametrize("content, message", [
    ("", "is empty; expected a header 't_s,rr_ms'"),
    ("t,rr\n1,800\n", "lacks ['t_s', 'rr_ms']"),
    ("t_s,rr_ms\n1,800\n2,abc\n", "line 3: column rr_ms is 'abc'"),
    ("t_s,rr_ms\n" + "".join(f"{10 - 0.8 * i:.1f},800\n" for i in range(12)),
     "must increase strictly"),
    ("t_s,rr_ms\n1,800\n2,800\n", "2 beats, need at least 10"),
    ("t_s,rr_ms\n" + "".join(f"{0.8 * i:.1f},0.8\n" for i in range(12)),
     "median rr_ms is 0.8, expected 250..2500 ms"),
    ("t_s,rr_ms\n" + "".join(f"{800 * i},800\n" for i in range(12)), "is t_s in seconds"),
    ("t_s,rr_ms\n" + "".join(f"{1.7e9 + 0.8 * i},800\n" for i in range(12)),
     "both must be on the same clock"),
])
def test_bad_rr_file_is_a_clear_error(tmp_path, capsys, content, message):
    chest, beats = tmp_path / "chest.csv", tmp_path / "rr.csv"
    _chest_csv(chest, 5.0, 15.0, 0.01, seed=5)
    beats.write_text(content, encoding="utf-8")
    assert main(["analyze", str(chest), "--sensor", "chest", "--rr", str(beats)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


def test_rr_needs_the_chest_and_an_existing_file(tmp_path, capsys):
    chest = tmp_path / "chest.csv"
    _chest_csv(chest, 5.0, 15.0, 0.01, seed=6)
    assert main(["analyze", str(chest), "--sensor", "sacrum", "--rr", str(chest)]) == 2
    assert "go with --sensor chest" in capsys.readouterr().err
    assert main(["analyze", str(chest), "--sensor", "chest", "--rr",
                 str(tmp_path / "nope.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
