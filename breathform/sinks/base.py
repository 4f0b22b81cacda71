"""What every live sink is, and how the command line builds the optional ones.

A sink drains its own bounded ``DropOldestQueue`` (oldest dropped when full, counted), so a
slow or dead sink never stalls acquisition or DSP. It receives every 1 Hz ``Metrics`` row
and every ``Alert``; ``None`` ends the stream. A sink with ``wants_blocks = True`` also
receives every decoded ``ImuBlock`` (raw samples, for LSL); size its queue for ~30 s of them.
A sink with ``wants_strides = True`` also receives every per-stride ``Stride`` (InfluxDB).

Optional sinks (MQTT, InfluxDB, LSL, ...) register a ``SinkFactory`` in ``FACTORIES``: it
adds its own options to the run-like commands (``demo``, ``replay``, later ``run``) and
builds its sink from the parsed arguments, or returns None when it was not asked for.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console

from breathform.config import Config
from breathform.model import Alert, Metrics, SessionInfo
from breathform.queues import DropOldestQueue
from breathform.sinks.influx import InfluxSinkFactory
from breathform.sinks.lsl import LslSinkFactory
from breathform.sinks.phone_factories import MqttSinkFactory, PhoneSinkFactory

SinkItem = Metrics | Alert | None


class Sink(Protocol):
    """A live output with its own queue and task."""

    name: str
    queue_size: int

    async def run(self, q: DropOldestQueue[SinkItem]) -> None:
        """Drain ``q`` until a None item arrives."""
        ...


@dataclass(frozen=True, slots=True)
class SinkContext:
    """What a sink factory may need to build its sink."""

    info: SessionInfo
    cfg: Config
    console: Console


class SinkFactory(Protocol):
    """Adds command-line options for one kind of sink and builds it."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this sink's options to a run-like command."""
        ...

    def create(self, args: argparse.Namespace, ctx: SinkContext) -> Sink | None:
        """The sink, or None when the options did not ask for it."""
        ...


FACTORIES: list[SinkFactory] = [InfluxSinkFactory(), MqttSinkFactory(), PhoneSinkFactory(),
                                LslSinkFactory()]
"""Registered optional sinks, in the order their options appear in ``--help``."""


def add_sink_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every registered sink's options to ``parser``."""
    for f in FACTORIES:
        f.add_arguments(parser)


def build_sinks(args: argparse.Namespace, ctx: SinkContext) -> list[Sink]:
    """Build the sinks the parsed options ask for."""
    out: list[Sink] = []
    for f in FACTORIES:
        s = f.create(args, ctx)
        if s is not None:
            out.append(s)
    return out
