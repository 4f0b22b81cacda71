"""Regression guard on a real recording: 260 s of walking from a Hexoskin shirt.

The excerpt (tests/data/hexoskin_001_walk.npz, MIT, see its SOURCE.md) goes through the same
path as ``breathform analyze --sensor chest`` (a CSV file); the rate is scored against the
shirt's respiration-band breath events as in benchmarks/breathing_accuracy.py. The bounds are
the measured figures with a margin: a change that makes real data worse fails here.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from breathform.analyze import analyze_csv
from breathform.config import Config

DATA = Path(__file__).resolve().parents[2] / "data" / "hexoskin_001_walk.npz"


def _reference(insp_s: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    ref = np.full(t_s.shape, np.nan)
    for i, t in enumerate(t_s):
        ev = insp_s[(insp_s >= t - 30.0) & (insp_s <= t)]
        if ev.size >= 3 and int((np.diff(ev) < 0.8).sum()) < 2:
            ref[i] = 60.0 * (ev.size - 1) / (ev[-1] - ev[0])
    return ref


def test_walking_excerpt_rate_against_the_respiration_bands(tmp_path):
    d = np.load(DATA)
    acc = d["acc_1_256g"].astype(np.float64) / 256.0
    fs = float(d["fs_hz"])
    t = np.arange(acc.shape[0]) / fs
    path = tmp_path / "chest.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("t_s,ax_g,ay_g,az_g\n")
        np.savetxt(fh, np.column_stack((t, acc)), delimiter=",", fmt="%.6g")
    out = io.StringIO()
    analyze_csv(path, sensor="chest", out=out, cfg=Config())
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    t_out = np.array([float(r["t_s"]) for r in rows])
    rate = np.array([float(r["rate_bpm"]) for r in rows])
    ref = _reference(d["inspiration_s"], t_out)
    scored = (t_out >= 40.0) & np.isfinite(ref)
    assert scored.sum() > 150
    reported = scored & np.isfinite(rate)
    coverage = reported.sum() / scored.sum()
    mae = float(np.mean(np.abs(rate[reported] - ref[reported])))
    const = float(np.mean(np.abs(28.1 - ref[scored])))  # the pooled-mean constant guess
    print(f"coverage {coverage:.2f}, MAE {mae:.2f} bpm, constant guess {const:.2f} bpm")
    assert coverage >= 0.55
    assert mae <= 4.0
    # strides per breath must stay physiological (no lock on the stride: 1.0)
    cad = np.array([float(r["cadence_spm"]) for r in rows])
    spb = cad[reported] / 2.0 / rate[reported]
    assert np.nanmedian(spb) > 1.3
