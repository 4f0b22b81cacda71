"""``breathform analyze``: the DSP on a CSV recording, 1 Hz metrics as CSV.

Input header: ``t_s,ax_g,ay_g,az_g`` and optionally ``gx_dps,gy_dps,gz_dps`` (any order,
extra columns ignored). The output column names are a stable interface for researchers.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

from breathform.config import Config
from breathform.errors import InputError
from breathform.model import Metrics

ACC_COLS = ("ax_g", "ay_g", "az_g")
GYR_COLS = ("gx_dps", "gy_dps", "gz_dps")

CHEST_COLUMNS = ("t_s", "rate_bpm", "depth_rel", "quality", "trunk_lean_deg",
                 "strides_per_breath", "cadence_spm")
SACRUM_COLUMNS = ("t_s", "cadence_spm", "pelvic_tilt_deg")


@dataclass(frozen=True, slots=True)
class CsvRecording:
    """A uniformly sampled recording read from CSV."""

    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    fs_hz: float


def read_csv(path: str | Path) -> CsvRecording:
    """Read and validate a recording.

    Raises:
        InputError: Naming the file, line and column of the first problem.
    """
    p = Path(path)
    try:
        fh = p.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {str(p)!r}: {exc.strerror}") from exc
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError(f"{str(p)!r} is empty; expected a header "
                             f"'t_s,ax_g,ay_g,az_g[,gx_dps,gy_dps,gz_dps]'") from None
        missing = [c for c in ("t_s", *ACC_COLS) if c not in header]
        if missing:
            raise InputError(f"{str(p)!r}: header {header} lacks {missing}; expected "
                             "'t_s,ax_g,ay_g,az_g' and optionally 'gx_dps,gy_dps,gz_dps'")
        has_gyr = all(c in header for c in GYR_COLS)
        if not has_gyr and any(c in header for c in GYR_COLS):
            raise InputError(f"{str(p)!r}: give all of {list(GYR_COLS)} or none of them")
        cols = ["t_s", *ACC_COLS, *(GYR_COLS if has_gyr else ())]
        idx = [header.index(c) for c in cols]
        rows: list[list[float]] = []
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            try:
                vals = [float(row[i]) for i in idx]
            except IndexError:
                raise InputError(f"{str(p)!r} line {lineno}: {len(row)} fields, expected "
                                 f"{len(header)} as in the header") from None
            except ValueError:
                bad = next(c for c, i in zip(cols, idx, strict=True)
                           if not _is_float(row[i]))
                raise InputError(f"{str(p)!r} line {lineno}: column {bad} is "
                                 f"{row[header.index(bad)]!r}, expected a number") from None
            if not all(math.isfinite(v) for v in vals):
                raise InputError(f"{str(p)!r} line {lineno}: non-finite value in {vals}")
            rows.append(vals)
    if len(rows) < 2:
        raise InputError(f"{str(p)!r}: {len(rows)} samples, need at least 2")
    a = np.asarray(rows, dtype=np.float64)
    t = a[:, 0]
    dt = np.diff(t)
    if np.any(dt <= 0):
        k = int(np.argmax(dt <= 0))
        raise InputError(f"{str(p)!r}: t_s must increase strictly; sample {k + 2} has "
                         f"t_s={t[k + 1]} after {t[k]}")
    dt_med = float(np.median(dt))
    if np.any(dt > 5 * dt_med):
        k = int(np.argmax(dt > 5 * dt_med))
        raise InputError(f"{str(p)!r}: gap of {dt[k]:.3f} s after t_s={t[k]} (sampling "
                         f"interval {dt_med:.4f} s); split the recording at gaps")
    fs = 1.0 / dt_med
    if not 10.0 <= fs <= 2000.0:
        raise InputError(f"{str(p)!r}: sample rate {fs:.1f} Hz, expected 10..2000 Hz "
                         "(is t_s in seconds?)")
    return CsvRecording(t_s=t, acc_g=a[:, 1:4], gyr_dps=a[:, 4:7] if has_gyr else None,
                        fs_hz=fs)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _fmt(x: float) -> str:
    return "NaN" if math.isnan(x) else f"{x:.4g}"


def metrics_rows(ms: list[Metrics], sensor: str) -> list[list[str]]:
    """Rows of the output CSV (without the header)."""
    out: list[list[str]] = []
    for m in ms:
        if sensor == "chest":
            vals = [m.t_s, m.rate_bpm, m.depth_rel,
                    m.breath_quality if not math.isnan(m.rate_bpm) else 0.0,
                    m.trunk_lean_deg, m.strides_per_breath, m.cadence_spm]
        else:
            vals = [m.t_s, m.cadence_spm, m.pelvic_tilt_deg]
        out.append([f"{vals[0]:g}", *(_fmt(float(v)) for v in vals[1:])])
    return out


def analyze_csv(path: str | Path, *, sensor: str, out: TextIO, cfg: Config) -> int:
    """Run the DSP for one sensor on a CSV recording and write 1 Hz metrics as CSV.

    Returns:
        The number of rows written.
    """
    from breathform.signal.sensors import analyze_chest, analyze_sacrum

    if sensor not in ("chest", "sacrum"):
        raise InputError(f"sensor must be 'chest' or 'sacrum', got {sensor!r}")
    rec = read_csv(path)
    if sensor == "chest":
        ms = analyze_chest(rec.t_s, rec.acc_g, rec.gyr_dps, rec.fs_hz)
    else:
        ms = analyze_sacrum(rec.t_s, rec.acc_g, rec.gyr_dps, rec.fs_hz)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CHEST_COLUMNS if sensor == "chest" else SACRUM_COLUMNS)
    rows = metrics_rows(ms, sensor)
    w.writerows(rows)
    out.flush()
    return len(rows)
