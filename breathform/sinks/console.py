"""The live console view: pure rendering with rich, plus a small stateful holder.

``ConsoleView`` keeps the latest metrics, the recent alerts, the counters and running
means; ``render()`` and ``summary()`` turn them into rich renderables. Nothing here does
I/O or asyncio: the runtime (``breathform.sinks.live_console``) owns the terminal and the
refresh loop.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from breathform.errors import InputError
from breathform.model import Alert, Cause, Metrics

DASH = "—"
"""Shown for a value that is not available (NaN)."""

LOW_QUALITY = 0.3
"""Breathing quality below this is shown dimmed, marked "low"."""

MAX_SUMMARY_ALERTS = 1000
"""Most alerts kept for the end-of-run summary (the count keeps going)."""

COUNTER_LABELS: dict[str, str] = {
    "packets": "packets",
    "decode_errors": "decode errors",
    "gaps": "gaps",
    "dropped": "dropped",
}
"""Known counters, in display order; others follow in the order they were first set."""

_SEVERITY_STYLE = {1: "yellow", 2: "dark_orange", 3: "bold red"}
_UNIT_SUFFIX = {"deg": "°", "bpm": " bpm", "spm": " spm", "rel": " ×rest", "pct": " %"}


@dataclass(frozen=True, slots=True)
class _Field:
    """One metric of the view: how to label, format and average it."""

    attr: str
    label: str
    unit: str
    decimals: int
    signed: bool = False


_FIELDS: tuple[_Field, ...] = (
    _Field("rate_bpm", "Breathing", "bpm", 1),
    _Field("depth_rel", "Depth", "×rest", 2),
    _Field("strides_per_breath", "Strides/breath", "", 1),
    _Field("pelvic_tilt_deg", "Pelvic tilt (+ anterior)", "°", 1, signed=True),
    _Field("trunk_lean_deg", "Trunk lean (+ forward)", "°", 1, signed=True),
    _Field("lumbar_deg", "Lumbar (+ flexed)", "°", 1, signed=True),
    _Field("pelvic_drop_range_deg", "Pelvic drop (range)", "°", 1),
    _Field("pelvic_rotation_range_deg", "Pelvic rotation (range)", "°", 1),
    _Field("trunk_twist_range_deg", "Trunk twist (range)", "°", 1),
    _Field("cadence_spm", "Cadence", "spm", 0),
    _Field("hr_bpm", "Heart rate", "bpm", 0),
    _Field("breath_quality", "Breath quality", "", 2),
)
_BY_ATTR = {f.attr: f for f in _FIELDS}


def fmt_value(x: float, decimals: int = 1, *, signed: bool = False, unit: str = "") -> str:
    """Format a number for the view; NaN (or infinity) becomes "—".

    Args:
        x: The value.
        decimals: Digits after the decimal point.
        signed: Always show the sign (angles: + anterior / forward).
        unit: Appended after a space, except "°" which is appended directly.

    Returns:
        The text, e.g. "32.4 bpm", "+6.3°" or "—".
    """
    if not math.isfinite(x):
        return DASH
    s = f"{x:+.{decimals}f}" if signed else f"{x:.{decimals}f}"
    if not unit:
        return s
    return s + unit if unit == "°" else f"{s} {unit}"


def fmt_clock(t_s: float) -> str:
    """Session time as mm:ss (minutes keep counting past 59: "75:03"); "—" for NaN."""
    if not math.isfinite(t_s):
        return DASH
    total = max(0, int(t_s))
    mm, ss = divmod(total, 60)
    return f"{mm:02d}:{ss:02d}"


def fmt_cause(c: Cause) -> str:
    """One cause with its numbers, e.g. "rate high 42.0 bpm (base 30.0, limit 37.5)"."""
    suffix = _UNIT_SUFFIX.get(c.unit, f" {c.unit}" if c.unit else "")
    nd = 2 if c.unit == "rel" else 1

    def num(x: float) -> str:
        return DASH if not math.isfinite(x) else f"{x:.{nd}f}"

    return (f"{c.name.replace('_', ' ')} {num(c.value)}{suffix} "
            f"(base {num(c.baseline)}, limit {num(c.threshold)})")


def _fmt_field(f: _Field, x: float) -> str:
    return fmt_value(x, f.decimals, signed=f.signed, unit=f.unit)


def _metric_cell(label: str, value: str, extra: Text | str = "") -> Text:
    t = Text()
    t.append(f"{label}\n", style="dim")
    t.append(value, style="bold")
    if extra:
        t.append("  ")
        t.append(extra)
    return t


def render_metrics(m: Metrics | None, climb: bool | None) -> Table:
    """The grid of large values (pure).

    Args:
        m: The latest metrics, or None before the first row.
        climb: Climb context, or None when unknown.

    Returns:
        A three-column grid.
    """
    empty = Metrics(t_s=0.0)
    row = m if m is not None else empty

    def cell(attr: str, extra: Text | str = "") -> Text:
        f = _BY_ATTR[attr]
        return _metric_cell(f.label, _fmt_field(f, getattr(row, attr)), extra)

    q = row.breath_quality if m is not None else math.nan
    q_text = Text(f"q {fmt_value(q, 2)}")
    if math.isfinite(q) and q < LOW_QUALITY:
        q_text = Text(f"q {fmt_value(q, 2)} low", style="dim")
    climb_txt = DASH if climb is None else ("yes" if climb else "no")

    grid = Table.grid(expand=True, padding=(0, 2))
    for _ in range(3):
        grid.add_column(ratio=1)
    grid.add_row(cell("rate_bpm", q_text), cell("depth_rel"), cell("strides_per_breath"))
    grid.add_row(cell("pelvic_tilt_deg"), cell("trunk_lean_deg"), cell("lumbar_deg"))
    grid.add_row(cell("pelvic_drop_range_deg"), cell("pelvic_rotation_range_deg"),
                 cell("trunk_twist_range_deg"))
    grid.add_row(cell("cadence_spm"), cell("hr_bpm"), _metric_cell("Climb", climb_txt))
    return grid


def render_alerts(alerts: Iterable[Alert], *, title: str = "Alerts") -> RenderableType:
    """A table of alerts: time, severity, causes with numbers, cue (pure).

    Args:
        alerts: Oldest first.
        title: Table title.

    Returns:
        The table, or a "no alerts" line when there are none.
    """
    rows = list(alerts)
    if not rows:
        return Text(f"{title}: none yet", style="dim")
    t = Table(title=title, title_justify="left", expand=True, show_lines=False)
    t.add_column("time", no_wrap=True)
    t.add_column("sev", no_wrap=True)
    t.add_column("causes", ratio=3)
    t.add_column("cue", ratio=2)
    for a in rows:
        sev = Text(f"{a.severity}{' climb' if a.climb else ''}",
                   style=_SEVERITY_STYLE.get(a.severity, ""))
        t.add_row(fmt_clock(a.t_s), sev, "\n".join(fmt_cause(c) for c in a.causes), a.cue)
    return t


def render_counters(counts: Mapping[str, int]) -> Text:
    """One line of counters, e.g. "packets 1200 · decode errors 0" (pure)."""
    known = [k for k in COUNTER_LABELS if k in counts]
    other = [k for k in counts if k not in COUNTER_LABELS]
    parts = [f"{COUNTER_LABELS.get(k, k.replace('_', ' '))} {counts[k]}" for k in known + other]
    return Text(" · ".join(parts) if parts else "no counters yet", style="dim")


class ConsoleView:
    """The live view's state and its rendering.

    Args:
        title: Panel title, e.g. "breathform demo".
        session_path: Path of the session file being written, or None.
        max_alerts: How many recent alerts the live view lists.

    Raises:
        InputError: If ``title`` is not a string or ``max_alerts`` < 1.
    """

    def __init__(self, title: str, session_path: str | None = None, *,
                 max_alerts: int = 6) -> None:
        if not isinstance(title, str):
            raise InputError(f"title must be a str, got {type(title).__name__}")
        if session_path is not None and not isinstance(session_path, str):
            raise InputError(f"session_path must be a str or None, got "
                             f"{type(session_path).__name__}")
        if not isinstance(max_alerts, int) or max_alerts < 1:
            raise InputError(f"max_alerts must be an int >= 1, got {max_alerts!r}")
        self.title = title
        self.session_path = session_path
        self.latest: Metrics | None = None
        self.context: dict[str, str] = {}
        self.climb: bool | None = None
        self.recent: deque[Alert] = deque(maxlen=max_alerts)
        self.all_alerts: list[Alert] = []
        self.n_alerts = 0
        self.counters: dict[str, int] = {}
        self.n_rows = 0
        self.first_t_s = math.nan
        self._sum = dict.fromkeys(_BY_ATTR, 0.0)
        self._n = dict.fromkeys(_BY_ATTR, 0)

    def update(self, m: Metrics, context: Mapping[str, str] | None = None, *,
               climb: bool | None = None) -> None:
        """Show a new 1 Hz metrics row.

        Args:
            m: The row.
            context: Extra text to show, e.g. ``{"sim truth": "climb 8 %"}``; None keeps
                the previous context, ``{}`` clears it.
            climb: Climb context (e.g. ``breathform.alerts.is_climbing``), None = unknown.

        Raises:
            InputError: If ``m`` is not a Metrics or ``context`` is not str -> str.
        """
        if not isinstance(m, Metrics):
            raise InputError(f"m must be a Metrics, got {type(m).__name__}")
        if context is not None:
            bad = [k for k, v in context.items()
                   if not (isinstance(k, str) and isinstance(v, str))]
            if bad:
                raise InputError(f"context must map str to str; bad entries for keys {bad!r}")
            self.context = dict(context)
        self.latest = m
        self.climb = climb
        self.n_rows += 1
        if math.isnan(self.first_t_s):
            self.first_t_s = m.t_s
        for attr in _BY_ATTR:
            x = float(getattr(m, attr))
            if attr == "breath_quality" and m.warming_up:
                continue
            if math.isfinite(x):
                self._sum[attr] += x
                self._n[attr] += 1

    def add_alert(self, a: Alert) -> None:
        """Add an alert to the log.

        Raises:
            InputError: If ``a`` is not an Alert.
        """
        if not isinstance(a, Alert):
            raise InputError(f"a must be an Alert, got {type(a).__name__}")
        self.recent.append(a)
        self.n_alerts += 1
        if len(self.all_alerts) < MAX_SUMMARY_ALERTS:
            self.all_alerts.append(a)

    def set_counters(self, **counts: int) -> None:
        """Set counters (packets, decode_errors, gaps, dropped, ...); others are kept.

        Raises:
            InputError: If a count is not a non-negative int.
        """
        for k, v in counts.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"counter {k!r} must be an int >= 0, got {v!r}")
        self.counters.update(counts)

    def means(self) -> dict[str, float]:
        """Mean of each metric over the rows seen (finite values only; NaN if none)."""
        return {a: (self._sum[a] / self._n[a] if self._n[a] else math.nan) for a in _BY_ATTR}

    @property
    def session_time_s(self) -> float:
        """Session time of the latest row (NaN before the first)."""
        return self.latest.t_s if self.latest is not None else math.nan

    def _header(self) -> Text:
        t = Text()
        t.append("time ", style="dim")
        t.append(fmt_clock(self.session_time_s) if self.latest else "00:00", style="bold")
        if self.latest is not None and self.latest.warming_up:
            t.append("  warming up", style="yellow")
        if self.session_path:
            t.append("   session ", style="dim")
            t.append(self.session_path)
        return t

    def render(self) -> RenderableType:
        """The live view: header, large values, context, counters and recent alerts."""
        parts: list[RenderableType] = [self._header(), Text(""),
                                       render_metrics(self.latest, self.climb)]
        if self.context:
            parts.append(Text("   ".join(f"{k}: {v}" for k, v in self.context.items()),
                              style="cyan"))
        parts.append(render_counters(self.counters))
        parts.append(render_alerts(self.recent, title=f"Alerts (last {self.recent.maxlen})"))
        return Panel(Group(*parts), title=self.title, title_align="left")

    def summary(self, *, duration_s: float | None = None,
                counters: Mapping[str, int] | None = None) -> RenderableType:
        """The end-of-run summary.

        Args:
            duration_s: Run duration; None uses the latest row's session time.
            counters: Final counters to merge in before rendering, or None.

        Returns:
            A panel with duration, alerts (count and list), metric means, counters and the
            session path.
        """
        if counters is not None:
            self.set_counters(**counters)
        dur = self.session_time_s if duration_s is None else duration_s
        head = Table.grid(padding=(0, 2))
        head.add_column(style="dim")
        head.add_column()
        head.add_row("Duration", fmt_clock(dur) if self.n_rows or duration_s else "00:00")
        head.add_row("Rows", str(self.n_rows))
        by_sev = {s: sum(1 for a in self.all_alerts if a.severity == s) for s in (1, 2, 3)}
        head.add_row("Alerts", f"{self.n_alerts}  (severity 1: {by_sev[1]}, "
                               f"2: {by_sev[2]}, 3: {by_sev[3]})" if self.n_alerts else "0")
        head.add_row("Session", self.session_path or DASH)

        means = Table(title="Means", title_justify="left")
        means.add_column("metric")
        means.add_column("mean", justify="right")
        mv = self.means()
        for f in _FIELDS:
            means.add_row(f.label, _fmt_field(f, mv[f.attr]))

        parts: list[RenderableType] = [head, Text(""), means,
                                       render_counters(self.counters)]
        shown = self.all_alerts
        title = "All alerts"
        if self.n_alerts > len(shown):
            title = f"First {len(shown)} of {self.n_alerts} alerts"
        parts.append(render_alerts(shown, title=title))
        return Panel(Group(*parts), title=f"{self.title}: run summary", title_align="left")
