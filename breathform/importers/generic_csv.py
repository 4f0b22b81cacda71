"""Generic CSV recordings: time + acceleration (+ angular rate) per row.

Columns are found by name (any order, extra columns ignored, ``,`` or ``;`` separated):

- time: ``t_s`` (seconds) or ``t_ms`` (milliseconds); ``t``/``time`` with ``--time-unit``;
- acceleration: ``ax_g ay_g az_g`` (g), ``ax_mps2 ...`` (m/s^2), ``ax_mg ...`` (mg); or
  ``ax ay az`` with ``--acc-unit g|mps2|mg``;
- angular rate (optional): ``gx_dps ...`` (deg/s), ``gx_rad_s ...`` (rad/s); or
  ``gx gy gz`` with ``--gyro-unit dps|rad_s``.

A unit in a column name wins; a flag that contradicts it is an error. The samples must be
(close to) uniformly sampled; a step longer than 1.5 sample periods is kept as a gap.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from breathform import units
from breathform.errors import InputError
from breathform.importers._table import ProgressCallback, number, open_rows

TIME_UNITS = {"s": 1.0, "ms": 1e-3}
ACC_UNITS = {"g": 1.0, "mps2": 1.0 / units.G_MPS2, "mg": 1e-3}
GYRO_UNITS = {"dps": 1.0, "rad_s": float(units.rad_to_deg(1.0))}


@dataclass(frozen=True, slots=True)
class Recording:
    """One sensor's samples read from a file.

    Attributes:
        t_s: Sample times, seconds from the first sample, shape (n,), increasing.
        acc_g: Acceleration in g, shape (n, 3).
        gyr_dps: Angular rate in deg/s, shape (n, 3), or None.
        fs_hz: Sample rate estimated from the median step.
        device_t_ns: Device timestamps in ns as the file gives them (Polar Sensor
            Logger), or None.
        acc_mg_int: The file's integer mG values (Polar Sensor Logger), or None.
        start_utc_ns: Wall-clock time of the first sample when the file says it, or None.
    """

    t_s: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    fs_hz: float
    device_t_ns: NDArray[np.int64] | None = None
    acc_mg_int: NDArray[np.int64] | None = None
    start_utc_ns: int | None = None


def _pick(header: list[str], base: tuple[str, str, str], units_: dict[str, float],
          flag: str | None, flag_name: str, path: Path) -> tuple[list[int], float] | None:
    """Column indices and scale of one xyz triple, or None when absent."""
    low = [h.lower() for h in header]
    found: list[tuple[str, list[int]]] = []
    for u in units_:
        names = [f"{b}_{u}" for b in base]
        if all(n in low for n in names):
            found.append((u, [low.index(n) for n in names]))
    if found:
        u, idx = found[0]
        if flag is not None and flag != u:
            raise InputError(f"{path}: the header says {base[0]}_{u} but {flag_name} is "
                             f"{flag!r}; drop the flag or rename the columns")
        return idx, units_[u]
    if all(b in low for b in base):
        if flag is None:
            raise InputError(f"{path}: columns {', '.join(base)} carry no unit; give "
                             f"{flag_name} {'|'.join(units_)} or name them "
                             f"{base[0]}_<unit>")
        return [low.index(b) for b in base], units_[flag]
    return None


def _time_column(header: list[str], flag: str | None, path: Path) -> tuple[int, float]:
    low = [h.lower() for h in header]
    for u, scale in TIME_UNITS.items():
        if f"t_{u}" in low:
            if flag is not None and flag != u:
                raise InputError(f"{path}: the header says t_{u} but --time-unit is {flag!r}")
            return low.index(f"t_{u}"), scale
    for name in ("t", "time"):
        if name in low:
            if flag is None:
                raise InputError(f"{path}: column {name!r} carries no unit; give --time-unit "
                                 "s|ms or name it t_s")
            return low.index(name), TIME_UNITS[flag]
    raise InputError(f"{path}: no time column; expected t_s or t_ms (or t/time with "
                     f"--time-unit), got header {header}")


def estimate_rate_hz(t_s: NDArray[np.float64], path: Path) -> float:
    """Sample rate from the median step of increasing times (whole Hz when within 0.1 %).

    Raises:
        InputError: With fewer than 2 samples.
    """
    if t_s.shape[0] < 2:
        raise InputError(f"{path}: {t_s.shape[0]} samples; expected at least 2")
    fs = float(1.0 / np.median(np.diff(t_s)))
    # times written with few decimals (e.g. whole ms at 104 Hz) blur the median step
    return float(round(fs)) if abs(fs - round(fs)) <= 1e-3 * fs else fs


def read(path: str | Path, *, time_unit: str | None = None, acc_unit: str | None = None,
         gyro_unit: str | None = None, progress: ProgressCallback | None = None
         ) -> Recording:
    """Read a generic CSV recording.

    Args:
        path: The file.
        time_unit: "s" or "ms" for an unlabelled ``t``/``time`` column.
        acc_unit: "g", "mps2" or "mg" for unlabelled ``ax ay az``.
        gyro_unit: "dps" or "rad_s" for unlabelled ``gx gy gz``.
        progress: Called with (bytes read, bytes total) while reading.

    Returns:
        The recording.

    Raises:
        InputError: Naming the file, line and column of the first problem.
    """
    for val, allowed, name in ((time_unit, TIME_UNITS, "--time-unit"),
                               (acc_unit, ACC_UNITS, "--acc-unit"),
                               (gyro_unit, GYRO_UNITS, "--gyro-unit")):
        if val is not None and val not in allowed:
            raise InputError(f"{name} must be one of {sorted(allowed)}, got {val!r}")
    p, _, header, it = open_rows(path, None, "a header such as t_s,ax_g,ay_g,az_g"
                                 "[,gx_dps,gy_dps,gz_dps]", progress)
    ti, t_scale = _time_column(header, time_unit, p)
    acc = _pick(header, ("ax", "ay", "az"), ACC_UNITS, acc_unit, "--acc-unit", p)
    if acc is None:
        raise InputError(f"{p}: no acceleration columns; expected ax_g,ay_g,az_g (or _mps2, "
                         f"_mg, or ax,ay,az with --acc-unit), got header {header}")
    gyr = _pick(header, ("gx", "gy", "gz"), GYRO_UNITS, gyro_unit, "--gyro-unit", p)
    cols = [ti, *acc[0], *(gyr[0] if gyr else [])]
    names = [header[i] for i in cols]
    need = max(cols) + 1
    vals = array("d")  # flat, 8 bytes a value: hour-long files stay small in memory
    prev_t = -math.inf
    for lineno, fields in it:
        if len(fields) < need:
            raise InputError(f"{p}:{lineno}: {len(fields)} fields, expected at least {need} "
                             f"(the header has {len(header)})")
        row = [number(fields[i], p, lineno, n) for i, n in zip(cols, names, strict=True)]
        if not row[0] > prev_t:
            raise InputError(f"{p}:{lineno}: time {fields[ti]} does not increase (previous "
                             f"row {prev_t / t_scale:g}); expected strictly increasing times")
        prev_t = row[0]
        vals.extend(row)
    n_rows = len(vals) // len(cols)
    if n_rows < 2:
        raise InputError(f"{p}: {n_rows} data rows; expected at least 2")
    a = np.frombuffer(vals, dtype=np.float64).reshape(n_rows, len(cols))
    t = (a[:, 0] - a[0, 0]) * t_scale
    acc_g = a[:, 1:4] * acc[1]
    gyr_dps = a[:, 4:7] * gyr[1] if gyr else None
    return Recording(t_s=t, acc_g=acc_g, gyr_dps=gyr_dps, fs_hz=estimate_rate_hz(t, p))
