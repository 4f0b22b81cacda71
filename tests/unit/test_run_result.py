"""RunResult's repr stays a summary however long the run (asyncio formats it at the end)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import fields

from breathform.model import Metrics
from breathform.processing import Counters
from breathform.runtime import RunResult


def _result(n: int) -> RunResult:
    kw = {f.name: (False if f.name == "warming_up" else 0.5) for f in fields(Metrics)}
    m = Metrics(**{**kw, "hr_bpm": math.nan})
    return RunResult(counters=Counters(packets=7), metrics=[m] * n)


def test_repr_is_a_short_summary():
    text = repr(_result(50_000))
    assert text.startswith("RunResult(50000 metrics, 0 alerts, 0 strides")
    assert "7 packets" in text and len(text) < 300


def test_the_finished_main_task_formats_quickly():
    # asyncio.run formats its finished main task (result included) when it restores the
    # Ctrl-C handler; the task's repr holds the result's
    async def main() -> RunResult:
        return _result(200_000)

    async def outer() -> str:
        task = asyncio.ensure_future(main())
        await task
        return repr(task)

    assert len(asyncio.run(outer())) < 300
