"""Column-oriented views of a decoded session, shared by the file writers."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from breathform.export.streams import HrStream, SensorStream, finite_or_none
from breathform.model import METRIC_FIELDS, Alert, Metrics
from breathform.signal.gait import Stride
from breathform.store import STRIDE_FIELDS

Columns = dict[str, NDArray[Any]]


def sensor_columns(s: SensorStream, start: int = 0, stop: int | None = None) -> Columns:
    """The sample columns of a sensor stream (rows ``start:stop``), in export order."""
    sl = slice(start, stop)
    cols: Columns = {"seq": s.seq[sl], "t_device_s": s.t_device_s[sl], "t_s": s.t_s[sl]}
    for i, a in enumerate("xyz"):
        cols[f"a{a}_g"] = s.acc_g[sl, i]
    if s.gyr_dps is not None:
        for i, a in enumerate("xyz"):
            cols[f"g{a}_dps"] = s.gyr_dps[sl, i]
    cols["gap"] = s.gap[sl]
    return cols


def stream_offset_s(s: SensorStream, t_s: float) -> float:
    """Where session time ``t_s`` falls on a stream's nominal-rate timeline.

    EDF+ and BIDS place sample k at ``k / fs`` from the first sample (k = ``seq - seq[0]``),
    which drifts from session time with the sensor clock. Events are placed by the sample
    nearest in session time, plus the remainder, so they line up with the samples.

    Args:
        s: A stream with at least one sample.
        t_s: Session time in seconds.

    Returns:
        Seconds from the stream's first sample on its nominal timeline.
    """
    k = int(np.clip(np.searchsorted(s.t_s, t_s), 0, s.n - 1))
    if k > 0 and abs(s.t_s[k - 1] - t_s) < abs(s.t_s[k] - t_s):
        k -= 1
    return float(s.seq[k] - s.seq[0]) / s.info.fs_hz + (t_s - float(s.t_s[k]))


def metrics_columns(metrics: list[Metrics]) -> Columns:
    """The 1 Hz metrics as columns (NaN = no estimate; warming_up as bool)."""
    cols: Columns = {}
    for f in METRIC_FIELDS:
        if f == "warming_up":
            cols[f] = np.array([m.warming_up for m in metrics], dtype=np.bool_)
        else:
            cols[f] = np.array([getattr(m, f) for m in metrics], dtype=np.float64)
    return cols


STRIDE_UNITS: dict[str, str] = {
    "t_start_s": "s", "t_end_s": "s", "side": "L/R/?", "stride_s": "s", "step_s": "s",
    "cadence_spm": "steps/min", "vertical_osc_cm": "cm"}
"""Units of the per-stride columns (``side``: the foot of the stride's contacts)."""


def strides_columns(strides: list[Stride]) -> dict[str, list[Any]]:
    """The per-stride table as columns (NaN vertical oscillation: gap-filled stride)."""
    return {f: [getattr(s, f) for s in strides] for f in STRIDE_FIELDS}


def alert_causes_json(a: Alert) -> str:
    """An alert's causes as a JSON list (NaN as null)."""
    return json.dumps([{k: (finite_or_none(v) if isinstance(v, float) else v)
                        for k, v in asdict(c).items()} for c in a.causes])


def alerts_columns(alerts: list[Alert]) -> dict[str, list[Any]]:
    """The alerts as columns."""
    return {"t_s": [a.t_s for a in alerts], "kind": [a.kind for a in alerts],
            "severity": [a.severity for a in alerts], "climb": [a.climb for a in alerts],
            "cue": [a.cue for a in alerts], "causes": [alert_causes_json(a) for a in alerts]}


def alert_text(a: Alert) -> str:
    """A one-line description of an alert (EDF+ annotation, BIDS event value)."""
    causes = ", ".join(f"{c.name} {c.value:.1f} {c.unit}" for c in a.causes)
    return f"alert {a.kind} sev {a.severity}{' climb' if a.climb else ''}: {causes}"


def hr_columns(hr: HrStream) -> dict[str, Any]:
    """The heart-rate stream as columns (RR intervals joined by ';')."""
    return {"t_s": hr.t_s, "hr_bpm": hr.hr_bpm,
            "rr_ms": [";".join(f"{r:.3f}" for r in rr) for rr in hr.rr_ms]}
