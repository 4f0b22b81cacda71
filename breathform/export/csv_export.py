"""CSV export: one file per sensor stream, the metrics, the alerts, plus metadata.json.

Layout of the output folder::

    chest.csv  sacrum.csv   seq,t_device_s,t_s,ax_g,ay_g,az_g[,gx_dps,gy_dps,gz_dps],gap
    heart_rate.csv          t_s,hr_bpm,rr_ms          (chest strap; rr_ms joined by ';')
    metrics.csv             the 1 Hz metrics; empty cell = no estimate
    alerts.csv              t_s,kind,severity,climb,cue,causes (causes as JSON)
    strides.csv             t_start_s,t_end_s,side,stride_s,step_s,cadence_spm,
                            vertical_osc_cm (one row per sacrum stride)
    metadata.json           devices, rates, ranges, placement, units, clocks, calibration
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from breathform.export.streams import SessionData
from breathform.export.tables import (
    alerts_columns,
    hr_columns,
    metrics_columns,
    sensor_columns,
    strides_columns,
)
from breathform.export.writer import Step

_FMT = {"seq": "%d", "t_device_s": "%.7f", "t_s": "%.6f", "gap": "%d"}
_CHUNK = 50_000


def write_csv(data: SessionData, metadata: dict[str, Any], out: Path, step: Step) -> list[Path]:
    """Write the CSV export into the folder ``out``.

    Args:
        data: The decoded session.
        metadata: From :func:`breathform.export.metadata.build_metadata`.
        out: Output folder (created).
        step: Progress callback, called with the number of samples written.

    Returns:
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for role, s in data.streams.items():
        path = out / f"{role}.csv"
        names = list(sensor_columns(s, 0, 0))
        fmt = [_FMT.get(n, "%.8g") for n in names]
        with path.open("w", encoding="utf-8", newline="") as f:
            f.write(",".join(names) + "\n")
            for i in range(0, s.n, _CHUNK):
                cols = sensor_columns(s, i, i + _CHUNK)
                block = np.column_stack([c.astype(np.float64) for c in cols.values()])
                np.savetxt(f, block, fmt=fmt, delimiter=",")
                step(int(block.shape[0]))
        files.append(path)
    if data.hr is not None:
        files.append(_write_rows(out / "heart_rate.csv", hr_columns(data.hr)))
    files.append(_write_rows(out / "metrics.csv", metrics_columns(data.metrics)))
    files.append(_write_rows(out / "alerts.csv", alerts_columns(data.alerts)))
    files.append(_write_rows(out / "strides.csv", strides_columns(data.strides)))
    meta_path = out / "metadata.json"
    meta_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    files.append(meta_path)
    return files


def _cell(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "1" if v else "0"
    if isinstance(v, float | np.floating):
        return "" if math.isnan(v) else repr(float(v))
    return str(v)


def _write_rows(path: Path, cols: dict[str, Any]) -> Path:
    names = list(cols)
    n = len(cols[names[0]]) if names else 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        for i in range(n):
            w.writerow([_cell(cols[k][i]) for k in names])
    return path
