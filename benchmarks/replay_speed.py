"""How many times faster than real time a two-sensor session replays.

Simulates a run (default 60 min, Polar H10 chest ACC 200 Hz + Movesense sacrum IMU6
104 Hz), encodes it into the device packets, writes them to a session file, then times
`breathform replay`'s path: stored packets -> decoders -> DSP -> alert rules (the same
SessionProcessor the live run uses). Prints seconds and x real time.

    .venv/bin/python benchmarks/replay_speed.py [--minutes 60] [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from breathform import __version__
from breathform.config import Config, to_toml
from breathform.firmware_bridge.replay import ReplaySource
from breathform.model import SessionInfo
from breathform.processing import SessionProcessor
from breathform.sim.source import SimSource
from breathform.store import SessionReader, SessionWriter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="timed replays (median reported)")
    args = ap.parse_args()
    cfg = Config()
    t0 = time.perf_counter()
    src = SimSource.create(cfg, duration_s=args.minutes * 60, seed=args.seed)
    t_sim = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.bfsession"
        w = SessionWriter(path, SessionInfo("bench", 0, "sim", __version__, src.sensors),
                          to_toml(cfg))
        w.add_raw(src.packets)
        w.close()
        times, n_metrics, n_alerts = [], 0, 0
        for _ in range(args.repeat):
            with SessionReader(path) as r:
                source = ReplaySource(r)
                t0 = time.perf_counter()
                proc = SessionProcessor(cfg, source.sensors)
                n_metrics = n_alerts = 0
                for batch in source.batches():
                    out = proc.feed(batch)
                    n_metrics += len(out.metrics)
                    n_alerts += len(out.alerts)
                times.append(time.perf_counter() - t0)
    dur_s = args.minutes * 60
    med = statistics.median(times)
    print(f"session: {args.minutes:g} min simulated, chest 200 Hz ACC (Polar H10 PMD frames) + "
          f"sacrum 104 Hz IMU6 (Movesense), {len(src.packets)} packets "
          f"(simulation + encoding took {t_sim:.1f} s)")
    print(f"replay (read store + decode + DSP + alerts): median of {args.repeat}: "
          f"{med:.2f} s for {dur_s:.0f} s of data = {dur_s / med:.0f}x real time "
          f"[runs: {', '.join(f'{t:.2f}' for t in times)} s]")
    print(f"output: {n_metrics} s of metrics, {n_alerts} alerts")


if __name__ == "__main__":
    main()
