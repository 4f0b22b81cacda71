"""The asyncio runtime: source -> decode+DSP+alerts -> session store and sinks.

One ``asyncio.TaskGroup`` per session:

- the *pump* task takes batches from the source into a ``PacketQueue`` (a live source
  offers: drop oldest, gap flagged downstream; a file or simulated source puts: waits);
- the *process* task stores every raw batch first, then runs the synchronous
  ``SessionProcessor`` and stores metrics, alerts and events, committing about every
  second; it fans metrics and alerts out to one ``DropOldestQueue`` per sink;
- one task per sink drains its own queue, so a slow sink never stalls the DSP.

Ctrl-C cancels the group; the store is then committed and closed as "interrupted".

Faults the run survives: a store that cannot write (disk full) keeps what it could not
save in memory and retries, while DSP and sinks go on (a warning when it starts and ends,
a :class:`~breathform.errors.StoreError` at the end if something stayed unsaved); a
live sensor that sends no samples for 5 s is recorded as ``sensor_silent`` (and
``sensor_resumed``); each device clock jump or restart is recorded as ``clock_reset``
and counted in the session's ``counters``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from breathform.config import Config
from breathform.errors import StoreError
from breathform.model import Alert, Metrics, RawPacket, SensorInfo
from breathform.processing import Counters, SessionProcessor
from breathform.queues import DropOldestQueue, PacketQueue
from breathform.signal.gait import Stride
from breathform.sinks.base import Sink, SinkItem
from breathform.store import SessionWriter

_LOG = logging.getLogger("breathform.runtime")


class PacketSource(Protocol):
    """Where raw packets come from (simulator, stored session, BLE)."""

    name: str
    sensors: tuple[SensorInfo, ...]
    live: bool

    def batches(self) -> Iterator[list[RawPacket]]:
        """Batches of packets in receive order."""
        ...

    def context(self, t_s: float) -> dict[str, str]:
        """Extra text for the live view at session time ``t_s`` (e.g. simulator truth)."""
        ...


@dataclass(slots=True, repr=False)
class RunResult:
    """What a run did, for the summary and the tests.

    Its repr is a summary: asyncio's runner formats the finished main task, result
    included, when it restores the Ctrl-C handler (Python 3.11), and a full repr of a
    6-hour run's metrics and strides took ~60 MB and a second to build.
    """

    counters: Counters
    metrics: list[Metrics] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    session_path: Path | None = None
    interrupted: bool = False
    wall_s: float = 0.0
    dropped_packets: int = 0
    sink_dropped: dict[str, int] = field(default_factory=dict)
    calibration: dict[str, object] = field(default_factory=dict)
    store_error: str | None = None
    clock_resets: dict[str, int] = field(default_factory=dict)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    strides: list[Stride] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        """Session time covered by the metrics."""
        return self.metrics[-1].t_s if self.metrics else 0.0

    def __repr__(self) -> str:
        return (f"RunResult({len(self.metrics)} metrics, {len(self.alerts)} alerts, "
                f"{len(self.strides)} strides, {len(self.events)} events, "
                f"{self.counters.packets} packets, interrupted={self.interrupted}, "
                f"session_path={self.session_path!r}, store_error={self.store_error!r})")


async def _pump(source: PacketSource, q: PacketQueue, speed: float | None) -> None:
    """Move batches from the source to the queue, paced when ``speed`` is set.

    A source with an ``abatches()`` async iterator (live BLE) is read through it instead
    of ``batches()``; it paces itself.
    """
    abatches = getattr(source, "abatches", None)
    if abatches is not None:
        async for batch in abatches():
            if batch:
                if source.live:
                    q.offer(batch)
                else:
                    await q.put(batch)
        await q.put(None)
        return
    t0_wall = time.monotonic()
    for batch in source.batches():
        if not batch:
            continue
        if speed is not None:
            due = t0_wall + batch[-1].t_rx_s / speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        if source.live:
            q.offer(batch)
        else:
            await q.put(batch)
        await asyncio.sleep(0)
    await q.put(None)


def _watch_store(writer: SessionWriter, result: RunResult, t_s: float) -> None:
    """Say once when the store starts failing (e.g. disk full) and when it recovers."""
    if writer.error is not None and result.store_error is None:
        result.store_error = str(writer.error)
        _LOG.warning("session store: %s; the run goes on (live outputs keep working) and "
                     "keeps the data in memory, retrying", writer.error)
    elif writer.error is None and result.store_error is not None:
        _LOG.warning("session store: writing works again; everything kept was saved")
        writer.add_event(t_s, "store_recovered", f"writes failed, then worked again: "
                         f"{result.store_error}")
        result.store_error = None


def _count_clock_resets(proc: SessionProcessor, seen: dict[str, int],
                        writer: SessionWriter | None, t_s: float) -> None:
    for role, dec in proc.decoders.items():
        n = dec.clock_state.n_resets
        if n > seen.get(role, 0):
            seen[role] = n
            if writer is not None:
                writer.add_event(t_s, "clock_reset", f"{role}: the device clock jumped or "
                                 f"restarted; re-anchored ({n} so far)")


class SilenceWatch:
    """Notices a live sensor that sends no samples for a while, and when it comes back.

    A sensor that never connects, or connects and then never streams, or is out of range
    is otherwise only visible as missing numbers. Decoded IMU samples count as data
    (command answers and heart rate do not); session time is the receive time of the
    batches, so a run where every sensor is silent says nothing here (the source's link
    events tell).

    Args:
        roles: The sensors of the session.
        after_s: Session seconds without samples that count as silent.
    """

    def __init__(self, roles: Sequence[str], after_s: float = 5.0) -> None:
        self.after_s = after_s
        self.last_s = dict.fromkeys(roles, 0.0)
        self.n_seen = dict.fromkeys(roles, 0)
        self.silent: set[str] = set()

    def update(self, now_s: float, samples: dict[str, int]) -> list[tuple[float, str, str]]:
        """Take the sample counts after a batch; return the events (t_s, kind, detail)."""
        events: list[tuple[float, str, str]] = []
        for role, t in self.last_s.items():
            n = samples.get(role, 0)
            if n > self.n_seen[role]:
                self.n_seen[role], self.last_s[role] = n, now_s
                if role in self.silent:
                    self.silent.discard(role)
                    events.append((now_s, "sensor_resumed", f"{role}: data again after "
                                   f"{now_s - t:.1f} s"))
            elif role not in self.silent and now_s - t >= self.after_s:
                self.silent.add(role)
                detail = (f"{role}: no data for {now_s - t:.0f} s (never found, connected "
                          f"but not streaming, or out of range); the run goes on without it")
                _LOG.warning("%s", detail)
                events.append((now_s, "sensor_silent", detail))
        return events


@dataclass(frozen=True, slots=True)
class _Wants:
    """What a sink receives besides metrics and alerts."""

    blocks: bool
    strides: bool

    @staticmethod
    def of(sink: Sink) -> _Wants:
        return _Wants(bool(getattr(sink, "wants_blocks", False)),
                      bool(getattr(sink, "wants_strides", False)))


async def _process(proc: SessionProcessor, q: PacketQueue, writer: SessionWriter | None,
                   sink_qs: Sequence[tuple[DropOldestQueue[SinkItem], _Wants]],
                   result: RunResult,
                   take_events: Callable[[], list[tuple[float, str, str]]] | None = None,
                   watch: SilenceWatch | None = None) -> None:
    while True:
        batch = await q.get()
        if take_events is not None and writer is not None:
            for ev in take_events():  # the source's own events (e.g. BLE link drops)
                writer.add_event(*ev)
        if batch is None:
            break
        if writer is not None:
            writer.add_raw(batch)  # raw first, always
        out = proc.feed(batch)
        if watch is not None:
            for ev in watch.update(batch[-1].t_rx_s, proc.counters.samples):
                result.events.append(ev)
                if writer is not None:
                    writer.add_event(*ev)
        _count_clock_resets(proc, result.clock_resets, writer, batch[-1].t_rx_s)
        if writer is not None:
            if out.metrics:
                writer.add_metrics(out.metrics)
            if out.alerts:
                writer.add_alerts(out.alerts)
            writer.add_strides(out.strides)
            for ev in out.events:
                writer.add_event(*ev)
            writer.maybe_commit()
            _watch_store(writer, result, batch[-1].t_rx_s)
        result.metrics.extend(out.metrics)
        result.alerts.extend(out.alerts)
        result.strides.extend(out.strides)
        for sq, wants in sink_qs:
            if wants.blocks:  # sinks that publish raw samples (LSL) get the IMU blocks too
                for b in out.blocks:
                    cast(DropOldestQueue[Any], sq).offer(b)
            for m in out.metrics:
                sq.offer(m)
            for a in out.alerts:
                sq.offer(a)
            if wants.strides:  # the per-stride table (InfluxDB)
                for st in out.strides:
                    cast(DropOldestQueue[Any], sq).offer(st)
        # Let the sinks and the pump run between batches, even at full speed.
        await asyncio.sleep(0)


async def run_session(source: PacketSource, cfg: Config, *, writer: SessionWriter | None,
                      sinks: Sequence[Sink] = (), speed: float | None = None,
                      queue_packets: int = 4000,
                      processor: SessionProcessor | None = None) -> RunResult:
    """Run one session to the end of its source (or until cancelled).

    Args:
        source: Where packets come from.
        cfg: The configuration.
        writer: Session store to write, or None (a replay that only compares).
        sinks: Live outputs.
        speed: Pace the source at this multiple of real time; None = as fast as possible.
        queue_packets: Bound of the raw packet queue (~30 s of two sensors).
        processor: A processor built by the caller (to read its state from a sink), or
            None to build one from ``cfg`` and the source's sensors.

    Returns:
        The run's metrics, alerts and counters. On cancellation (Ctrl-C) the store is
        committed and closed as "interrupted" and the result has ``interrupted=True``.

    Raises:
        StoreError: At the end of the run, if part of it could not be saved (e.g. the
            disk was full): the run itself went on to the end, and the live outputs
            with it.
    """
    proc = processor if processor is not None else SessionProcessor(cfg, source.sensors)
    result = RunResult(counters=proc.counters,
                       session_path=None if writer is None else writer.path)
    q = PacketQueue(queue_packets)
    sink_qs: list[DropOldestQueue[SinkItem]] = [DropOldestQueue(s.queue_size) for s in sinks]
    t0 = time.monotonic()
    status = "complete"
    try:
        async with asyncio.TaskGroup() as tg:
            sink_tasks = [tg.create_task(s.run(sq)) for s, sq in zip(sinks, sink_qs,
                                                                       strict=True)]
            tg.create_task(_pump(source, q, speed))
            await tg.create_task(_process(proc, q, writer, [
                (sq, _Wants.of(snk)) for snk, sq in zip(sinks, sink_qs, strict=True)], result,
                getattr(source, "take_events", None),
                SilenceWatch([s.role for s in source.sensors]) if source.live else None))
            for sq in sink_qs:
                sq.offer(None)
            await asyncio.gather(*sink_tasks)
    except BaseExceptionGroup:
        status = "failed"  # a task raised: the caller gets the group (see check_fatal)
        raise
    except asyncio.CancelledError:
        # Ctrl-C: stop cleanly and hand back what was done. The cancellation ends here.
        status = "interrupted"
        result.interrupted = True
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    finally:
        result.wall_s = time.monotonic() - t0
        result.dropped_packets = q.dropped
        result.sink_dropped = {s.name: sq.dropped for s, sq in zip(sinks, sink_qs,
                                                                    strict=True)}
        result.calibration = proc.calibration()
        if writer is not None:
            take_events = getattr(source, "take_events", None)
            if take_events is not None:  # what the source did while stopping
                for ev in take_events():
                    writer.add_event(*ev)
            writer.set_calibration(result.calibration)
            c = result.counters
            writer.set_meta("counters", f"packets={c.packets} decode_errors="
                            f"{c.decode_errors} gaps={c.gaps} dropped={q.dropped} "
                            f"clock_resets={sum(result.clock_resets.values())}")
            try:
                writer.close(status)
            except StoreError as exc:
                result.store_error = str(exc)
                raise
    return result
