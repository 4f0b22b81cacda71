"""The console as a live sink: a rich Live view on a terminal, plain log lines otherwise."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from rich.console import Console
from rich.live import Live

from breathform.model import Alert, Metrics
from breathform.queues import DropOldestQueue
from breathform.sinks.base import SinkItem
from breathform.sinks.console import ConsoleView


def _fmt(x: float, nd: int = 1) -> str:
    return "—" if math.isnan(x) else f"{x:.{nd}f}"


def _deg(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.1f}°"


def _alert_line(a: Alert) -> str:
    causes = ", ".join(f"{c.name} {c.value:.1f} {c.unit} (base {c.baseline:.1f})"
                       for c in a.causes)
    mm, ss = divmod(int(a.t_s), 60)
    return f"[{mm:02d}:{ss:02d}] ALERT sev {a.severity}{' climb' if a.climb else ''}: " \
           f"{causes} -> {a.cue}"


class LiveConsoleSink:
    """Drives a ConsoleView from the metrics/alerts queue.

    Args:
        view: The view to update and render.
        console: Where to draw.
        refresh_hz: Redraws per second of wall time (terminal) .
        context: Extra text per session time (e.g. simulator truth), or None.
        counters: Current counters to show, or None.
        climb: Current climb context (from the alert rules), or None.
        log_every_s: Without a terminal, print one status line per this much session time.
    """

    name = "console"
    queue_size = 512

    def __init__(self, view: ConsoleView, console: Console, *, refresh_hz: float = 4.0,
                 context: Callable[[float], dict[str, str]] | None = None,
                 counters: Callable[[], dict[str, int]] | None = None,
                 climb: Callable[[], bool] | None = None,
                 log_every_s: float = 60.0) -> None:
        self.view, self.console = view, console
        self.refresh_s = 1.0 / refresh_hz
        self.context, self.counters, self.climb = context, counters, climb
        self.log_every_s = log_every_s

    def _apply(self, item: Metrics | Alert) -> None:
        if isinstance(item, Metrics):
            ctx = self.context(item.t_s) if self.context else None
            self.view.update(item, ctx, climb=self.climb() if self.climb else None)
        else:
            self.view.add_alert(item)
        if self.counters:
            self.view.set_counters(**self.counters())

    async def run(self, q: DropOldestQueue[SinkItem]) -> None:
        """Drain the queue until None, redrawing at the refresh rate."""
        if self.console.is_terminal:
            await self._run_live(q)
        else:
            await self._run_log(q)

    async def _run_live(self, q: DropOldestQueue[SinkItem]) -> None:
        with Live(self.view.render(), console=self.console, auto_refresh=False,
                  transient=False) as live:
            next_draw = time.monotonic()
            done = False
            while not done:
                try:
                    item = await asyncio.wait_for(q.get(), timeout=self.refresh_s)
                except TimeoutError:
                    pass  # nothing new: redraw only
                else:
                    if item is None:
                        done = True
                    else:
                        self._apply(item)
                if done or time.monotonic() >= next_draw:
                    live.update(self.view.render(), refresh=True)
                    next_draw = time.monotonic() + self.refresh_s

    async def _run_log(self, q: DropOldestQueue[SinkItem]) -> None:
        next_log = self.log_every_s
        while (item := await q.get()) is not None:
            self._apply(item)
            if isinstance(item, Alert):
                self.console.print(_alert_line(item), highlight=False)
            elif item.t_s >= next_log:
                next_log += self.log_every_s
                mm, ss = divmod(int(item.t_s), 60)
                ctx = self.context(item.t_s) if self.context else {}
                extra = "  ".join(f"{k} {v}" for k, v in ctx.items())
                self.console.print(
                    f"[{mm:02d}:{ss:02d}] breath {_fmt(item.rate_bpm)} bpm "
                    f"depth {_fmt(item.depth_rel, 2)}  cadence {_fmt(item.cadence_spm, 0)} spm  "
                    f"pelvic tilt {_deg(item.pelvic_tilt_deg)} drop "
                    f"{_deg(item.pelvic_drop_range_deg)} rot "
                    f"{_deg(item.pelvic_rotation_range_deg)}  trunk lean "
                    f"{_deg(item.trunk_lean_deg)} twist {_deg(item.trunk_twist_range_deg)}  "
                    f"{extra}", highlight=False)
