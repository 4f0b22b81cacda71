"""The post-run HTML report: one self-contained file, plots as inline SVG.

Sections: at a glance (summary table), plots over time (breathing rate and depth, pelvic
tilt, trunk lean, pelvic drop, pelvic rotation and trunk twist ranges, cadence, heart rate)
with the climbs shaded and the alerts marked, the alerts, a per-climb breakdown (before /
during / after), the gait from the per-stride table (cadence, stride time and its
variability, left/right step-time asymmetry, vertical oscillation; over the run and per
climb) and the calibration used.

Climbs: the session file does not store the route, so climbs are the alert engine's own
climb context (``breathform.alerts.is_climbing``: trunk lean above the runner's baseline
at a steady cadence), recomputed second by second from the stored metrics with the
session's recorded config. The report says so next to the plots.
"""

from __future__ import annotations

import html
import math
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from breathform import alerts as alert_engine
from breathform import config as config_mod
from breathform.errors import InputError
from breathform.model import Alert, Metrics, SessionInfo
from breathform.signal.gait import Stride
from breathform.store import SessionReader

MIN_CLIMB_S = 20.0
"""Shortest climb the report lists (shorter climb-context runs are merged or ignored)."""
MERGE_GAP_S = 10.0
"""Climb-context runs closer than this are one climb."""
CONTEXT_S = 60.0
"""Length of the "before" and "after" windows of the per-climb breakdown."""
GAIT_ROLL_N = 20
"""Strides in the rolling window of the gait plots (variability, asymmetry)."""
GAIT_BREAK_S = 3.0
"""A gait plot's line breaks where consecutive strides end further apart than this."""


@dataclass(frozen=True, slots=True)
class Series:
    """One metric over time, for a plot and the tables."""

    attr: str
    label: str
    unit: str
    decimals: int
    color: str


SERIES: tuple[Series, ...] = (
    Series("rate_bpm", "Breathing rate", "breaths/min", 1, "#1f77b4"),
    Series("depth_rel", "Breath depth", "x resting", 2, "#17becf"),
    Series("strides_per_breath", "Strides per breath", "strides", 1, "#9467bd"),
    Series("pelvic_tilt_deg", "Pelvic tilt (+ anterior)", "deg", 1, "#d62728"),
    Series("trunk_lean_deg", "Trunk lean (+ forward)", "deg", 1, "#ff7f0e"),
    Series("lumbar_deg", "Lumbar angle (+ flexed)", "deg", 1, "#8c564b"),
    Series("pelvic_drop_range_deg", "Pelvic drop, range per stride", "deg", 1, "#bcbd22"),
    Series("pelvic_rotation_range_deg", "Pelvic rotation, range per stride", "deg", 1,
           "#7f7f7f"),
    Series("trunk_twist_range_deg", "Trunk twist, range per stride", "deg", 1, "#393b79"),
    Series("cadence_spm", "Cadence", "steps/min", 0, "#2ca02c"),
    Series("hr_bpm", "Heart rate", "beats/min", 0, "#e377c2"),
)
_BY_ATTR = {s.attr: s for s in SERIES}
PLOTS: tuple[tuple[str, ...], ...] = (
    ("rate_bpm",), ("depth_rel",), ("pelvic_tilt_deg",), ("trunk_lean_deg",),
    ("pelvic_drop_range_deg",), ("pelvic_rotation_range_deg",), ("trunk_twist_range_deg",),
    ("cadence_spm",), ("hr_bpm",),
)


@dataclass(frozen=True, slots=True)
class Climb:
    """A climb as the alert engine's climb context saw it (session seconds)."""

    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the report shows, read from one session file."""

    info: SessionInfo
    status: str
    metrics: list[Metrics]
    alerts: list[Alert]
    calibration: dict[str, Any]
    cfg: config_mod.Config
    climb_mask: NDArray[np.bool_]
    climbs: list[Climb]
    strides: tuple[Stride, ...] = ()
    strides_stored: bool = False


@dataclass(frozen=True, slots=True)
class GaitSummary:
    """Gait over a set of strides (NaN when there are too few).

    Attributes:
        n_strides: Strides in the set.
        cadence_spm: Mean cadence (120 / stride time).
        stride_s: Mean stride time.
        stride_cv_pct: Stride-time variability: standard deviation / mean, %.
        step_asym_pct: Left/right step-time asymmetry: (mean left step - mean right step)
            / mean step, %; a left step ends on a left contact. NaN without sides.
        vertical_osc_cm: Mean peak-to-peak vertical oscillation of the sacrum.
    """

    n_strides: int
    cadence_spm: float
    stride_s: float
    stride_cv_pct: float
    step_asym_pct: float
    vertical_osc_cm: float


def gait_summary(strides: Sequence[Stride]) -> GaitSummary:
    """Summarise strides (e.g. those of one climb window).

    Args:
        strides: The strides.

    Returns:
        The summary; the variability needs 3 strides, the asymmetry one of each side.
    """
    st = np.array([s.stride_s for s in strides], dtype=np.float64)
    osc = np.array([s.vertical_osc_cm for s in strides], dtype=np.float64)
    left = np.array([s.step_s for s in strides if s.side == "L"], dtype=np.float64)
    right = np.array([s.step_s for s in strides if s.side == "R"], dtype=np.float64)
    mean_st = float(st.mean()) if st.size else math.nan
    cv = 100.0 * float(st.std(ddof=1)) / mean_st if st.size >= 3 else math.nan
    asym = math.nan
    if left.size and right.size:
        ml, mr = float(left.mean()), float(right.mean())
        asym = 100.0 * (ml - mr) / (0.5 * (ml + mr))
    cad = float(np.mean(120.0 / st)) if st.size else math.nan
    return GaitSummary(len(strides), cad, mean_st, cv, asym, _mean(osc))


def gait_series(strides: Sequence[Stride], n_roll: int = GAIT_ROLL_N
                ) -> dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Per-stride series for the gait plots, keyed by :class:`GaitSummary` field.

    Each value is (stride end times, values); rolling figures (stride-time variability,
    step asymmetry) use the last ``n_roll`` strides. A NaN row is put wherever consecutive
    strides end more than :data:`GAIT_BREAK_S` apart, so lines break at pauses.

    Args:
        strides: The strides, in time order.
        n_roll: Strides in the rolling window.

    Returns:
        Series for "cadence_spm", "stride_cv_pct", "step_asym_pct", "vertical_osc_cm".

    Raises:
        InputError: If ``n_roll`` < 3.
    """
    if n_roll < 3:
        raise InputError(f"n_roll must be >= 3, got {n_roll}")
    keys = ("cadence_spm", "stride_cv_pct", "step_asym_pct", "vertical_osc_cm")
    t: list[float] = []
    rows: list[GaitSummary] = []
    for i, s in enumerate(strides):
        if t and s.t_end_s - strides[i - 1].t_end_s > GAIT_BREAK_S:
            t.append(0.5 * (s.t_end_s + strides[i - 1].t_end_s))
            rows.append(GaitSummary(0, *(math.nan,) * 5))
        win = strides[max(0, i - n_roll + 1): i + 1]
        g = gait_summary(win)
        rows.append(replace(g, cadence_spm=s.cadence_spm, vertical_osc_cm=s.vertical_osc_cm))
        t.append(s.t_end_s)
    tt = np.array(t, dtype=np.float64)
    return {k: (tt, np.array([getattr(r, k) for r in rows], dtype=np.float64)) for k in keys}


# ----------------------------------------------------------------------------- data
def climb_mask(cfg: config_mod.Config, metrics: Sequence[Metrics]) -> NDArray[np.bool_]:
    """The alert engine's climb context after each metrics row.

    Args:
        cfg: The config the session was recorded with.
        metrics: The stored 1 Hz rows, in time order.

    Returns:
        Boolean array, shape (len(metrics),).
    """
    p = alert_engine.AlertParams.from_config(cfg.alerts)
    s = alert_engine.init_state(p)
    out = np.zeros(len(metrics), dtype=bool)
    for i, m in enumerate(metrics):
        _alerts, s = alert_engine.step(p, s, [m])
        out[i] = alert_engine.is_climbing(p, s)
    return out


def climbs_from_mask(t_s: NDArray[np.float64], mask: NDArray[np.bool_], *,
                     min_s: float = MIN_CLIMB_S, merge_gap_s: float = MERGE_GAP_S
                     ) -> list[Climb]:
    """Turn a per-second climb mask into climbs.

    Args:
        t_s: Row times, shape (n,), increasing.
        mask: Climb context per row, shape (n,).
        min_s: Shortest climb kept.
        merge_gap_s: Runs separated by less than this are merged.

    Returns:
        The climbs, in time order.

    Raises:
        InputError: If the shapes differ.
    """
    if t_s.shape != mask.shape:
        raise InputError(f"t_s and mask must have the same shape, got {t_s.shape} and "
                         f"{mask.shape}")
    runs: list[list[float]] = []
    start: float | None = None
    for t, on in zip(t_s.tolist(), mask.tolist(), strict=True):
        if on and start is None:
            start = t
        elif not on and start is not None:
            runs.append([start, t])
            start = None
    if start is not None:
        runs.append([start, float(t_s[-1])])
    merged: list[list[float]] = []
    for r in runs:
        if merged and r[0] - merged[-1][1] < merge_gap_s:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    return [Climb(a, b) for a, b in merged if b - a >= min_s]


def load(path: str | Path) -> ReportData:
    """Read a session file and derive what the report needs.

    Raises:
        StoreError: If the file is not a session.
        ConfigError: If its recorded config is invalid.
    """
    with SessionReader(path) as r:
        info, metrics, alerts = r.info, r.metrics(), r.alerts()
        calibration = r.calibration()
        status = r.meta.get("status", "?")
        cfg_toml = r.config_toml
        strides_stored = r.has_strides()
        strides = tuple(r.strides())
    cfg = config_mod.from_dict(tomllib.loads(cfg_toml)) if cfg_toml else config_mod.Config()
    mask = climb_mask(cfg, metrics)
    t = np.array([m.t_s for m in metrics], dtype=np.float64)
    return ReportData(info, status, metrics, alerts, calibration, cfg, mask,
                      climbs_from_mask(t, mask), strides, strides_stored)


def _column(metrics: Sequence[Metrics], attr: str) -> NDArray[np.float64]:
    return np.array([float(getattr(m, attr)) for m in metrics], dtype=np.float64)


def _mean(x: NDArray[np.float64]) -> float:
    f = x[np.isfinite(x)]
    return float(f.mean()) if f.size else math.nan


# ----------------------------------------------------------------------------- SVG
def _nice_step(span: float, n: int = 5) -> float:
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for k in (1, 2, 2.5, 5, 10):
        if k * mag >= raw:
            return k * mag
    return 10 * mag


def svg_plot(t_s: NDArray[np.float64], y: NDArray[np.float64], *, title: str, unit: str,
             color: str, climbs: Sequence[Climb] = (), alert_t_s: Sequence[float] = (),
             width: int = 900, height: int = 190) -> str:
    """A time-series plot as an inline SVG element.

    NaN breaks the line (no interpolation across gaps); climbs are shaded, alerts are
    red vertical lines with a marker at the top.

    Args:
        t_s: Times in session seconds, shape (n,).
        y: Values, shape (n,), NaN where there is no estimate.
        title: Plot title.
        unit: Y-axis unit.
        color: Line colour (CSS).
        climbs: Spans to shade.
        alert_t_s: Alert times to mark.
        width: SVG width in px.
        height: SVG height in px.

    Returns:
        The ``<svg>`` markup.

    Raises:
        InputError: If the shapes differ.
    """
    if t_s.shape != y.shape:
        raise InputError(f"t_s and y must have the same shape, got {t_s.shape} and {y.shape}")
    ml, mr, mt, mb = 58, 34, 24, 28
    pw, ph = width - ml - mr, height - mt - mb
    esc = html.escape
    parts = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{esc(title)}">',
             f'<text x="{ml}" y="15" class="ptitle">{esc(title)} '
             f'<tspan class="punit">({esc(unit)})</tspan></text>']
    fin = np.isfinite(y)
    t0 = float(t_s[0]) if t_s.size else 0.0
    t1 = float(t_s[-1]) if t_s.size else 1.0
    if t1 <= t0:
        t1 = t0 + 1.0
    if fin.any():
        lo, hi = float(np.min(y[fin])), float(np.max(y[fin]))
    else:
        lo, hi = 0.0, 1.0
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    pad = 0.08 * (hi - lo)
    lo, hi = lo - pad, hi + pad

    def sx(t: float) -> float:
        return ml + (t - t0) / (t1 - t0) * pw

    def sy(v: float) -> float:
        return mt + (hi - v) / (hi - lo) * ph

    for c in climbs:
        a, b = sx(max(c.start_s, t0)), sx(min(c.end_s, t1))
        parts.append(f'<rect class="climb" x="{a:.1f}" y="{mt}" width="{max(b - a, 1):.1f}" '
                     f'height="{ph}"><title>climb {_clock(c.start_s)}-{_clock(c.end_s)}'
                     f'</title></rect>')
    step = _nice_step(hi - lo)
    v = math.ceil(lo / step) * step
    while v <= hi:
        yy = sy(v)
        parts.append(f'<line class="grid" x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" '
                     f'y2="{yy:.1f}"/><text class="tick" x="{ml - 6}" y="{yy + 4:.1f}" '
                     f'text-anchor="end">{v:g}</text>')
        v += step
    tstep = max(60.0, _nice_step((t1 - t0) / 60.0, 8) * 60.0)
    tt = math.ceil(t0 / tstep) * tstep
    while tt <= t1:
        xx = sx(tt)
        parts.append(f'<line class="grid" x1="{xx:.1f}" x2="{xx:.1f}" y1="{mt}" '
                     f'y2="{mt + ph}"/><text class="tick" x="{xx:.1f}" y="{height - 10}" '
                     f'text-anchor="middle">{int(tt // 60)} min</text>')
        tt += tstep
    parts.append(f'<rect class="frame" x="{ml}" y="{mt}" width="{pw}" height="{ph}"/>')
    # one polyline per finite run: gaps stay gaps
    seg: list[str] = []
    for t, val, ok in zip(t_s.tolist(), y.tolist(), fin.tolist(), strict=True):
        if ok:
            seg.append(f"{sx(t):.1f},{sy(val):.1f}")
        elif seg:
            parts.append(_polyline(seg, color))
            seg = []
    if seg:
        parts.append(_polyline(seg, color))
    for ta in alert_t_s:
        xa = sx(ta)
        parts.append(f'<line class="alert" x1="{xa:.1f}" x2="{xa:.1f}" y1="{mt}" '
                     f'y2="{mt + ph}"/><circle class="alertdot" cx="{xa:.1f}" cy="{mt + 4}" '
                     f'r="4"><title>alert at {_clock(ta)}</title></circle>')
    if not fin.any():
        parts.append(f'<text class="tick" x="{ml + pw / 2}" y="{mt + ph / 2}" '
                     f'text-anchor="middle">no estimate in this session</text>')
    parts.append("</svg>")
    return "".join(parts)


def _polyline(points: list[str], color: str) -> str:
    if len(points) == 1:
        x, y = points[0].split(",")
        return f'<circle cx="{x}" cy="{y}" r="1.5" fill="{color}"/>'
    return (f'<polyline fill="none" stroke="{color}" stroke-width="1.6" '
            f'points="{" ".join(points)}"/>')


# ----------------------------------------------------------------------------- HTML
def _clock(t_s: float) -> str:
    if not math.isfinite(t_s):
        return "—"
    mm, ss = divmod(max(0, int(round(t_s))), 60)
    return f"{mm:02d}:{ss:02d}"


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}" if math.isfinite(x) else "—"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:960px;color:#222;background:#fff;line-height:1.4}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:28px 0 8px;
border-bottom:2px solid #eee;padding-bottom:4px}
.sub{color:#666;margin:0 0 12px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:.92em}
th,td{border:1px solid #ddd;padding:4px 9px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f5f5f5}
th.text{text-align:left}
td.text{text-align:left}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0}
.card{border:1px solid #ddd;border-radius:8px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:1.5em}.card span{color:#666;font-size:.85em}
.warn{background:#fff4e5;border-color:#f5a623}
svg.plot{display:block;margin:4px 0 10px;background:#fff}
.ptitle{font-size:13px;font-weight:600;fill:#222}.punit{font-weight:400;fill:#666}
.tick{font-size:11px;fill:#555}.grid{stroke:#eee;stroke-width:1}
.frame{fill:none;stroke:#bbb}.climb{fill:#f5a623;fill-opacity:.18}
.alert{stroke:#d0021b;stroke-width:1.5;stroke-dasharray:4 3}.alertdot{fill:#d0021b}
.legend span{display:inline-block;margin-right:16px;font-size:.9em}
.sw{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:middle}
.note{color:#555;font-size:.9em}
.headline{font-size:1.08em;background:#f4f8fb;border-left:4px solid #1f77b4;padding:8px 12px}
"""


def headline(d: ReportData) -> str:
    """One plain-language sentence about the run's climbs and alerts (HTML-safe text)."""
    n_al = len(d.alerts)
    alerts = f"{n_al} alert{'s' if n_al != 1 else ''} fired"
    if not d.climbs:
        return f"No climb detected; {alerts}."
    t = _column(d.metrics, "t_s")
    during = np.zeros(t.shape, dtype=bool)
    before = np.zeros(t.shape, dtype=bool)
    for c in d.climbs:
        during |= (t > c.start_s) & (t <= c.end_s)
        before |= (t > c.start_s - CONTEXT_S) & (t <= c.start_s)
    before &= ~during
    parts = []
    for attr, what, unit in (("rate_bpm", "breathing went from", " breaths/min"),
                             ("pelvic_tilt_deg", "pelvic tilt from", "°"),
                             ("trunk_lean_deg", "trunk lean from", "°")):
        x = _column(d.metrics, attr)
        b, w = _mean(x[before]), _mean(x[during])
        if math.isfinite(b) and math.isfinite(w):
            nd = _BY_ATTR[attr].decimals
            parts.append(f"{what} {b:.{nd}f} to {w:.{nd}f}{unit}")
    n_cl = len(d.climbs)
    on_climbs = sum(1 for a in d.alerts if any(c.start_s <= a.t_s <= c.end_s
                                               for c in d.climbs))
    change = (": " + ", ".join(parts)) if parts else ""
    return (f"{n_cl} climb{'s' if n_cl != 1 else ''} detected. On the climbs (compared with "
            f"the minute before){change}. {alerts}, {on_climbs} of them on a climb.")


def _summary(d: ReportData) -> str:
    m = [x for x in d.metrics if not x.warming_up] or d.metrics
    dur = d.metrics[-1].t_s if d.metrics else 0.0
    climb_s = sum(c.end_s - c.start_s for c in d.climbs)
    by_sev = {s: sum(1 for a in d.alerts if a.severity == s) for s in (1, 2, 3)}
    cards = [("Duration", _clock(dur), ""), ("Alerts", str(len(d.alerts)),
             "warn" if d.alerts else ""),
             ("Climbs", f"{len(d.climbs)}", ""), ("Time climbing", _clock(climb_s), "")]
    out = [f'<p class="headline">{html.escape(headline(d))}</p><div class="cards">']
    for label, value, cls in cards:
        out.append(f'<div class="card {cls}"><span>{label}</span><b>{value}</b></div>')
    out.append("</div>")
    out.append("<table><tr><th>metric</th><th>mean</th><th>min</th><th>max</th>"
               "<th>unit</th></tr>")
    for s in SERIES:
        x = _column(m, s.attr)
        f = x[np.isfinite(x)]
        mn, lo, hi = (_mean(x), float(f.min()), float(f.max())) if f.size else \
            (math.nan, math.nan, math.nan)
        out.append(f"<tr><td>{html.escape(s.label)}</td><td>{_fmt(mn, s.decimals)}</td>"
                   f"<td>{_fmt(lo, s.decimals)}</td><td>{_fmt(hi, s.decimals)}</td>"
                   f"<td>{html.escape(s.unit)}</td></tr>")
    out.append("</table>")
    out.append(f'<p class="note">Statistics over the {len(m)} s after warm-up. Alerts by '
               f"severity: 1 (notice) {by_sev[1]}, 2 {by_sev[2]}, 3 (urgent) {by_sev[3]}.</p>")
    return "".join(out)


def _plots(d: ReportData) -> str:
    t = _column(d.metrics, "t_s")
    at = [a.t_s for a in d.alerts]
    out = ['<p class="legend"><span><i class="sw" style="background:rgba(245,166,35,.35)">'
           '</i>climb</span><span><i class="sw" style="background:#d0021b;height:3px"></i>'
           "alert</span></p>"]
    for group in PLOTS:
        s = _BY_ATTR[group[0]]
        out.append(svg_plot(t, _column(d.metrics, s.attr), title=s.label, unit=s.unit,
                            color=s.color, climbs=d.climbs, alert_t_s=at))
    out.append('<p class="note">Climbs are not stored in the session file: they are the '
               "alert engine's climb context (trunk lean above this runner's baseline at a "
               "steady cadence), recomputed from the stored metrics with the session's "
               f"config; runs shorter than {MIN_CLIMB_S:g} s are left out. Gaps in a line "
               "are seconds without a trustworthy estimate.</p>")
    return "".join(out)


def _alerts(d: ReportData) -> str:
    if not d.alerts:
        return "<p>No alert fired in this session.</p>"
    out = ["<table><tr><th>time</th><th>severity</th><th>climb</th><th class=text>causes</th>"
           "<th class=text>cue</th></tr>"]
    for a in d.alerts:
        causes = "<br>".join(
            html.escape(f"{c.name.replace('_', ' ')}: {c.value:.1f} "
                        f"{'%' if c.unit == 'pct' else c.unit} "
                        f"(your baseline {c.baseline:.1f}, limit {c.threshold:.1f})")
            for c in a.causes)
        out.append(f"<tr><td>{_clock(a.t_s)}</td><td>{a.severity}</td>"
                   f"<td>{'yes' if a.climb else 'no'}</td><td class=text>{causes}</td>"
                   f"<td class=text>{html.escape(a.cue)}</td></tr>")
    out.append("</table>")
    return "".join(out)


_BREAKDOWN = ("rate_bpm", "depth_rel", "pelvic_tilt_deg", "trunk_lean_deg", "cadence_spm")


def _climbs(d: ReportData) -> str:
    if not d.climbs:
        return "<p>No climb detected in this session.</p>"
    t = _column(d.metrics, "t_s")
    cols = {a: _column(d.metrics, a) for a in _BREAKDOWN}
    out = ["<table><tr><th>climb</th><th>window</th>"
           + "".join(f"<th>{html.escape(_BY_ATTR[a].label)}</th>" for a in _BREAKDOWN)
           + "<th>alerts</th></tr>"]
    for i, c in enumerate(d.climbs, 1):
        windows = (("before", c.start_s - CONTEXT_S, c.start_s),
                   ("during", c.start_s, c.end_s),
                   ("after", c.end_s, c.end_s + CONTEXT_S))
        for j, (name, a, b) in enumerate(windows):
            sel = (t > a) & (t <= b)
            n_al = sum(1 for al in d.alerts if a < al.t_s <= b)
            head = (f'<td rowspan="3">#{i} {_clock(c.start_s)}-{_clock(c.end_s)}<br>'
                    f"({_clock(c.end_s - c.start_s)})</td>") if j == 0 else ""
            cells = "".join(f"<td>{_fmt(_mean(cols[k][sel]), _BY_ATTR[k].decimals)}</td>"
                            for k in _BREAKDOWN)
            out.append(f"<tr>{head}<td>{name}</td>{cells}<td>{n_al}</td></tr>")
    out.append("</table>")
    out.append(f'<p class="note">Means over {CONTEXT_S:g} s before the climb, the climb '
               f"itself, and {CONTEXT_S:g} s after it.</p>")
    return "".join(out)


_GAIT_COLS = (("cadence_spm", "Cadence", "steps/min", 0, "#2ca02c"),
              ("stride_s", "Stride time", "s", 3, "#555555"),
              ("stride_cv_pct", "Stride-time variability (SD / mean)", "%", 1, "#9467bd"),
              ("step_asym_pct", "Step-time asymmetry (left - right)", "% of a step", 1,
               "#d62728"),
              ("vertical_osc_cm", "Vertical oscillation (sacrum)", "cm", 1, "#1f77b4"))


def _gait(d: ReportData) -> str:
    if not d.strides_stored:
        return ("<p>This session file predates the per-stride table (schema version 3): "
                "replay it with <code>breathform replay --save</code> to get one.</p>")
    if not d.strides:
        return "<p>No stride in this session (no sacrum sensor, or no running).</p>"
    g = gait_summary(d.strides)
    out = ["<table><tr><th>metric</th><th>whole run</th><th>unit</th></tr>"]
    out += [f"<tr><td>{html.escape(label)}</td><td>{_fmt(getattr(g, k), nd)}</td>"
            f"<td>{html.escape(unit)}</td></tr>" for k, label, unit, nd, _ in _GAIT_COLS]
    out.append(f"<tr><td>Strides</td><td>{g.n_strides}</td><td></td></tr></table>")
    series = gait_series(d.strides)
    at = [a.t_s for a in d.alerts]
    for k, label, unit, _, color in _GAIT_COLS:
        if k in series:
            t, y = series[k]
            title = label + (f", last {GAIT_ROLL_N} strides" if k in
                             ("stride_cv_pct", "step_asym_pct") else ", per stride")
            out.append(svg_plot(t, y, title=title, unit=unit, color=color,
                                climbs=d.climbs, alert_t_s=at))
    if d.climbs:
        out.append("<table><tr><th>climb</th><th>window</th><th>strides</th>"
                   + "".join(f"<th>{html.escape(label)}</th>" for _, label, *_r in _GAIT_COLS)
                   + "</tr>")
        ends = np.array([s.t_end_s for s in d.strides], dtype=np.float64)
        for i, c in enumerate(d.climbs, 1):
            windows = (("before", c.start_s - CONTEXT_S, c.start_s),
                       ("during", c.start_s, c.end_s),
                       ("after", c.end_s, c.end_s + CONTEXT_S))
            for j, (name, a, b) in enumerate(windows):
                sel = [s for s, e in zip(d.strides, ends, strict=True) if a < e <= b]
                w = gait_summary(sel)
                head = (f'<td rowspan="3">#{i} {_clock(c.start_s)}-{_clock(c.end_s)}</td>'
                        if j == 0 else "")
                cells = "".join(f"<td>{_fmt(getattr(w, k), nd)}</td>"
                                for k, _l, _u, nd, _c in _GAIT_COLS)
                out.append(f"<tr>{head}<td>{name}</td><td>{w.n_strides}</td>{cells}</tr>")
        out.append("</table>")
    out.append('<p class="note">From the per-stride table of the sacrum sensor: a stride '
               "runs from one initial contact to the next contact of the same foot. "
               "Variability is the standard deviation of stride time over its mean; "
               "asymmetry compares steps ending on a left contact with steps ending on a "
               "right one (positive: left steps longer); left and right come from the "
               "pelvis's yaw rate and are a guess without a gyroscope (then no "
               "asymmetry).</p>")
    return "".join(out)


def _calibration(d: ReportData) -> str:
    r = d.cfg.runner
    rows = [("runner id (pseudonymous)", d.info.runner_id),
            ("resting breathing rate (config)", _fmt(r.resting_rate_bpm, 1) + " breaths/min"),
            ("resting breath depth (config)", _fmt(r.resting_depth, 3) + " deg")]
    for k in sorted(d.calibration):
        v = d.calibration[k]
        if isinstance(v, list) and all(isinstance(x, (int, float)) for x in v):
            text = "[" + ", ".join(f"{float(x):.3f}" for x in v) + "]"
        elif isinstance(v, float):
            text = f"{v:.4g}"
        else:
            text = str(v)
        rows.append((k.replace("_", " "), text))
    for s in d.info.sensors:
        rows.append((f"sensor {s.role}", f"{s.kind}, {s.fs_hz:g} Hz, ±{s.acc_range_g:g} g"
                     f"{', gyroscope' if s.has_gyro else ''}"))
    out = ["<table><tr><th>item</th><th class=text>value</th></tr>"]
    out += [f"<tr><td>{html.escape(k)}</td><td class=text>{html.escape(v)}</td></tr>"
            for k, v in rows]
    out.append("</table>")
    out.append('<p class="note">Axis vectors are the sensor-frame directions found from the '
               "standing capture (vertical) and the first minute of running (forward).</p>")
    return "".join(out)


def render(d: ReportData) -> str:
    """The whole report as one HTML document (no external resources).

    Args:
        d: The session's data (``load``).

    Returns:
        The HTML text.
    """
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(d.info.started_utc_ns / 1e9))
    sections = (("summary", "At a glance", _summary(d)),
                ("plots", "Over the run", _plots(d)),
                ("alerts", "Alerts", _alerts(d)),
                ("climbs", "Climbs: before, during, after", _climbs(d)),
                ("gait", "Gait, stride by stride", _gait(d)),
                ("calibration", "Calibration used", _calibration(d)))
    body = "".join(f'<section id="{sid}"><h2>{title}</h2>{content}</section>'
                   for sid, title, content in sections)
    esc = html.escape
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>breathform report {esc(d.info.session_id)}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>Run report</h1><p class=sub>session {esc(d.info.session_id)} · {started} · "
            f"source {esc(d.info.source)} · status {esc(d.status)} · breathform "
            f"{esc(d.info.software_version)}</p>{body}</body></html>\n")


def write_report(session: str | Path, out: str | Path) -> Path:
    """Read a session and write its report.

    Args:
        session: The session file.
        out: The HTML file to write.

    Returns:
        The path written.

    Raises:
        InputError: If ``out`` cannot be written.
        StoreError: If ``session`` is not a session file.
    """
    text = render(load(session))
    p = Path(out)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report to {str(p)!r}: {exc.strerror}") from exc
    return p
