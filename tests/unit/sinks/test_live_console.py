"""The live console sink's plain log lines (no terminal): posture metrics, NaN as a dash."""

from __future__ import annotations

import io
import math

from rich.console import Console

from breathform.model import Metrics
from breathform.queues import DropOldestQueue
from breathform.sinks.base import SinkItem
from breathform.sinks.console import ConsoleView
from breathform.sinks.live_console import LiveConsoleSink


async def test_log_line_carries_the_posture_ranges():
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=False)
    sink = LiveConsoleSink(ConsoleView("t", None), console, log_every_s=1.0)
    q: DropOldestQueue[SinkItem] = DropOldestQueue(8)
    q.offer(Metrics(t_s=61.0, pelvic_tilt_deg=4.25, pelvic_drop_range_deg=7.21,
                    pelvic_rotation_range_deg=8.44, trunk_lean_deg=7.5,
                    trunk_twist_range_deg=math.nan, warming_up=False))
    q.offer(None)
    await sink.run(q)
    line = out.getvalue()
    assert line.startswith("[01:01]")
    assert "pelvic tilt 4.2° drop 7.2° rot 8.4°" in line
    assert "trunk lean 7.5° twist —" in line and "—°" not in line
