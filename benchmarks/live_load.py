"""Live load: CPU share of a real-time 2 x 200 Hz session and per-block latency.

Plays a simulated run at real time (Polar H10 chest ACC 200 Hz + Movesense sacrum IMU6
208 Hz, packets in live-like 50-ms batches, as a paced `breathform demo`) through
run_session with a real session file, for ``--seconds`` of wall time. Reports:

- CPU share: CPU time of this process (user + system, ``getrusage``) over wall time,
  during the run only (the simulation is made before);
- per-block processing time: each batch through decoders + DSP + alerts
  (``SessionProcessor.feed``), percentiles;
- per-block delay: from the moment the batch's last packet is due (its receive time on
  the run's clock) to the end of its processing, percentiles (queueing included).

    .venv/bin/python benchmarks/live_load.py [--seconds 90] [--seed 1] [--default-allocator]

The process first applies the memory settings the ``breathform`` command applies at
start-up (:mod:`breathform.allocator`: allocator and cycle collector), unless
``--default-allocator``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from breathform import __version__
from breathform.allocator import tune_for_batches
from breathform.config import Config, SensorConfig, SensorsConfig, to_toml
from breathform.model import RawPacket, SessionInfo
from breathform.processing import SessionProcessor, StepOutput
from breathform.runtime import run_session
from breathform.sim.source import SimSource
from breathform.store import SessionWriter


class TimedProcessor(SessionProcessor):
    """The live processor, timing each batch."""

    t0 = 0.0
    compute_s: list[float]
    delay_s: list[float]

    def feed(self, packets: Sequence[RawPacket]) -> StepOutput:
        a = time.monotonic()
        out = super().feed(packets)
        b = time.monotonic()
        self.compute_s.append(b - a)
        if packets:
            self.delay_s.append(b - (self.t0 + packets[-1].t_rx_s))
        return out


def _pct(x: list[float]) -> str:
    a = np.asarray(x) * 1e3
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return f"p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms, max {a.max():.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=90.0, help="wall (= session) seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--default-allocator", action="store_true",
                    help="keep Python's and the C library's default memory settings")
    args = ap.parse_args()
    if not args.default_allocator:
        print(f"memory settings as `breathform` applies them: allocator "
              f"{'applied' if tune_for_batches() else 'not available here'}, cycle "
              f"collector threshold {gc.get_threshold()[0]}")
    base = Config()
    cfg = replace(base, sensors=SensorsConfig(
        chest=base.sensors.chest, sacrum=SensorConfig(kind="movesense", rate_hz=208.0)))
    src = SimSource.create(cfg, duration_s=max(args.seconds, 70.0), seed=args.seed,
                           batch_s=0.05)
    src.packets = [p for p in src.packets if p.t_rx_s <= args.seconds]
    proc = TimedProcessor(cfg, src.sensors)
    proc.compute_s, proc.delay_s = [], []
    with tempfile.TemporaryDirectory() as d:
        writer = SessionWriter(Path(d) / "live.bfsession",
                               SessionInfo("live", time.time_ns(), "sim", __version__,
                                           src.sensors), to_toml(cfg))
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        proc.t0 = time.monotonic()
        result = asyncio.run(run_session(src, cfg, writer=writer, speed=1.0, processor=proc))
        wall = time.monotonic() - proc.t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    dsp = sum(proc.compute_s)
    print(f"live run at 1x: {wall:.1f} s wall, {len(src.packets)} packets "
          f"({len(src.packets) / wall:.0f}/s) from chest 200 Hz + sacrum 208 Hz, "
          f"{len(proc.compute_s)} blocks of ~50 ms, {len(result.metrics)} s of metrics")
    print(f"CPU share of one core: {100 * cpu / wall:.1f} % (process CPU {cpu:.2f} s over "
          f"{wall:.1f} s wall; decode + DSP + alerts alone {100 * dsp / wall:.1f} %)")
    print(f"per-block processing time: {_pct(proc.compute_s)}")
    print(f"per-block delay, packet due -> processed: {_pct(proc.delay_s)}")


if __name__ == "__main__":
    main()
