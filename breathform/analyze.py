"""``breathform analyze``: the DSP on a CSV recording, 1 Hz metrics as CSV.

Input header: ``t_s,ax_g,ay_g,az_g`` and optionally ``gx_dps,gy_dps,gz_dps`` (any order,
extra columns ignored); optionally, for the chest, heartbeat intervals ``t_s,rr_ms`` on the
same clock, fused into the breathing rate. The output column names are a stable interface
for researchers.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
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
SACRUM_COLUMNS = ("t_s", "cadence_spm", "pelvic_tilt_deg", "pelvic_drop_range_deg",
                  "pelvic_rotation_range_deg")
"""Sacrum output columns; later additions are appended (the names are a stable interface)."""


@dataclass(frozen=True, slots=True)
class CsvRecording:
    """A uniformly sampled recording read from CSV."""

    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    fs_hz: float


def _read_table(path: str | Path, required: tuple[str, ...], optional: tuple[str, ...],
                expected: str) -> tuple[list[str], NDArray[np.float64]]:
    """Read the numeric columns ``required`` (and ``optional``: all or none) of a CSV file.

    Returns:
        The columns read and the values, (n_rows, n_columns).

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
            raise InputError(f"{str(p)!r} is empty; expected a header {expected!r}") from None
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(f"{str(p)!r}: header {header} lacks {missing}; expected "
                             f"{expected!r}")
        has_opt = bool(optional) and all(c in header for c in optional)
        if not has_opt and any(c in header for c in optional):
            raise InputError(f"{str(p)!r}: give all of {list(optional)} or none of them")
        cols = [*required, *(optional if has_opt else ())]
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
    return cols, np.asarray(rows, dtype=np.float64).reshape(len(rows), len(cols))


def _check_increasing(p: Path, t: NDArray[np.float64]) -> None:
    dt = np.diff(t)
    if np.any(dt <= 0):
        k = int(np.argmax(dt <= 0))
        raise InputError(f"{str(p)!r}: t_s must increase strictly; row {k + 2} has "
                         f"t_s={t[k + 1]} after {t[k]}")


def read_csv(path: str | Path) -> CsvRecording:
    """Read and validate a recording.

    Raises:
        InputError: Naming the file, line and column of the first problem.
    """
    p = Path(path)
    cols, a = _read_table(p, ("t_s", *ACC_COLS), GYR_COLS,
                          "t_s,ax_g,ay_g,az_g[,gx_dps,gy_dps,gz_dps]")
    if a.shape[0] < 2:
        raise InputError(f"{str(p)!r}: {a.shape[0]} samples, need at least 2")
    t = a[:, 0]
    _check_increasing(p, t)
    dt = np.diff(t)
    dt_med = float(np.median(dt))
    if np.any(dt > 5 * dt_med):
        k = int(np.argmax(dt > 5 * dt_med))
        raise InputError(f"{str(p)!r}: gap of {dt[k]:.3f} s after t_s={t[k]} (sampling "
                         f"interval {dt_med:.4f} s); split the recording at gaps")
    fs = 1.0 / dt_med
    if not 10.0 <= fs <= 2000.0:
        raise InputError(f"{str(p)!r}: sample rate {fs:.1f} Hz, expected 10..2000 Hz "
                         "(is t_s in seconds?)")
    has_gyr = len(cols) == 7
    return CsvRecording(t_s=t, acc_g=a[:, 1:4], gyr_dps=a[:, 4:7] if has_gyr else None,
                        fs_hz=fs)


@dataclass(frozen=True, slots=True)
class RrRecording:
    """Heartbeat (RR) intervals read from CSV: beat times and the interval ending there."""

    t_s: NDArray[np.float64]
    rr_ms: NDArray[np.float64]


def read_rr_csv(path: str | Path) -> RrRecording:
    """Read and validate an RR-interval file (header ``t_s,rr_ms``; session seconds, ms).

    Raises:
        InputError: Naming the file, line and column of the first problem.
    """
    p = Path(path)
    _, a = _read_table(p, ("t_s", "rr_ms"), (), "t_s,rr_ms")
    if a.shape[0] < 10:
        raise InputError(f"{str(p)!r}: {a.shape[0]} beats, need at least 10")
    t, rr = a[:, 0], a[:, 1]
    _check_increasing(p, t)
    med = float(np.median(rr))
    if not 250.0 <= med <= 2500.0:
        raise InputError(f"{str(p)!r}: median rr_ms is {med:g}, expected 250..2500 ms "
                         "(RR intervals in milliseconds: is the unit right?)")
    beat_s = float(np.median(np.diff(t)))
    if not 0.2 <= beat_s / (1e-3 * med) <= 5.0:
        raise InputError(f"{str(p)!r}: beats are {beat_s:g} s apart (median) but the median "
                         f"interval is {med:g} ms; is t_s in seconds?")
    return RrRecording(t, rr)


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
            vals = [m.t_s, m.cadence_spm, m.pelvic_tilt_deg, m.pelvic_drop_range_deg,
                    m.pelvic_rotation_range_deg]
        out.append([f"{vals[0]:g}", *(_fmt(float(v)) for v in vals[1:])])
    return out


RR_COLUMNS = ("rate_acc_bpm", "rate_rr_bpm", "hr_bpm")


def analyze_csv(path: str | Path, *, sensor: str, out: TextIO, cfg: Config,
                rr_path: str | Path | None = None) -> int:
    """Run the DSP for one sensor on a CSV recording and write 1 Hz metrics as CSV.

    Args:
        path: The recording (see :func:`read_csv`).
        sensor: ``"chest"`` or ``"sacrum"``.
        out: Where the CSV goes.
        cfg: Configuration.
        rr_path: Optional RR intervals (see :func:`read_rr_csv`, chest only) on the same
            clock: the breathing rate is then the fusion of the accelerometer's and the
            RR intervals' (:func:`breathform.signal.rr_respiration.fuse`), and the columns
            ``rate_acc_bpm, rate_rr_bpm, hr_bpm`` (each source alone, heart rate) follow.

    Returns:
        The number of rows written.

    Raises:
        InputError: On a bad file or argument, naming what was wrong.
    """
    from breathform.signal.sensors import analyze_chest, analyze_sacrum

    if sensor not in ("chest", "sacrum"):
        raise InputError(f"sensor must be 'chest' or 'sacrum', got {sensor!r}")
    if rr_path is not None and sensor != "chest":
        raise InputError(f"RR intervals (--rr) go with --sensor chest, got --sensor {sensor}")
    rec = read_csv(path)
    rr = read_rr_csv(rr_path) if rr_path is not None else None
    if rr is not None and not (rr.t_s[0] < rec.t_s[-1] and rr.t_s[-1] > rec.t_s[0]):
        raise InputError(f"{str(rr_path)!r}: the beats span t_s {rr.t_s[0]:g}..{rr.t_s[-1]:g} s "
                         f"but the recording {str(path)!r} spans {rec.t_s[0]:g}..{rec.t_s[-1]:g}"
                         " s; both must be on the same clock")
    if sensor == "chest":
        ms = analyze_chest(rec.t_s, rec.acc_g, rec.gyr_dps, rec.fs_hz)
    else:
        ms = analyze_sacrum(rec.t_s, rec.acc_g, rec.gyr_dps, rec.fs_hz)
    w = csv.writer(out, lineterminator="\n")
    if rr is None:
        w.writerow(CHEST_COLUMNS if sensor == "chest" else SACRUM_COLUMNS)
        rows = metrics_rows(ms, sensor)
    else:
        w.writerow((*CHEST_COLUMNS, *RR_COLUMNS))
        rows = _fused_rows(ms, rr)
    w.writerows(rows)
    out.flush()
    return len(rows)


def _fused_rows(ms: list[Metrics], rec: RrRecording) -> list[list[str]]:
    """Chest rows with the RR-interval rate fused in, plus each source and the heart rate."""
    from breathform.signal import rr_respiration as rrr

    t = np.array([m.t_s for m in ms])
    acc = np.array([m.rate_bpm for m in ms])
    q_acc = np.array([m.breath_quality if math.isfinite(m.rate_bpm) else 0.0 for m in ms])
    p = rrr.RrParams()
    est = rrr.estimate(p, rec.t_s, rec.rr_ms, float(t[-1]) if t.size else None)
    rate, qual = rrr.fuse(t, acc, q_acc, est)
    rr_only = rrr.fuse(t, np.full(t.shape, np.nan), np.zeros(t.shape), est)[0]
    hr = rrr.heart_rate_bpm(p, rec.t_s, rec.rr_ms, t)
    fused = [replace(m, rate_bpm=float(r), breath_quality=float(q),
                     strides_per_breath=float(m.cadence_spm / 2.0 / r))
             for m, r, q in zip(ms, rate, qual, strict=True)]
    return [[*row, _fmt(float(a)), _fmt(float(b)), _fmt(float(h))] for row, a, b, h in
            zip(metrics_rows(fused, "chest"), acc, rr_only, hr, strict=True)]
