"""Peak memory of `breathform replay` on a 1-hour and a 6-hour two-sensor session.

Simulates one hour (Polar H10 chest ACC 200 Hz + Movesense sacrum IMU6 208 Hz), writes it
as a session file, and writes a 6-hour session made of that hour six times over, each
copy shifted in receive time and in both devices' clocks (so the decoders and the clock
fit see one continuous 6-hour stream; the runner's physiology repeats every hour). Each
file is then replayed by the real command, `breathform replay SESSION` (read store ->
decode -> DSP -> alerts -> compare with the stored metrics), in a fresh process that
reports its own peak resident memory (``VmHWM``); so does a process that runs only the
decoders, DSP and alert rules over the same file and keeps none of their output (the
part that must not grow), and one that only imports what the replay imports (the floor).
Goal: flat (6 h ~ 1 h) and under 200 MB.

    .venv/bin/python benchmarks/memory_replay.py [--hours 1 6] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from breathform import __version__
from breathform.config import Config, SensorConfig, SensorsConfig, to_toml
from breathform.firmware_bridge.devices import movesense as ms
from breathform.firmware_bridge.devices import polar_h10 as h10
from breathform.model import RawPacket, SessionInfo
from breathform.runtime import run_session
from breathform.sim.source import SimSource
from breathform.store import SessionWriter

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent (which
# holds the simulated hour), while VmHWM belongs to this process's own memory map
CHILD = """
import sys, time
t0 = time.perf_counter()
if sys.argv[1] == "--imports-only":
    import breathform.cli, breathform.runtime, breathform.processing  # noqa
    import breathform.firmware_bridge.replay, breathform.replay_compare  # noqa
    rc = 0
elif sys.argv[1] == "--feed-only":  # the processor alone, its outputs dropped
    import tomllib
    from breathform.config import from_dict
    from breathform.firmware_bridge.replay import ReplaySource
    from breathform.processing import SessionProcessor
    from breathform.store import SessionReader
    with SessionReader(sys.argv[2]) as r:
        src = ReplaySource(r)
        proc = SessionProcessor(from_dict(tomllib.loads(r.config_toml)), src.sensors)
        for b in src.batches():
            proc.feed(b)
    rc = 0
else:
    from breathform.cli import main
    rc = main(["--dir", sys.argv[2], "replay", sys.argv[1]])
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0].split()[1]
print(f"RESULT rc={rc} maxrss_kb={hwm} wall_s={time.perf_counter() - t0:.1f}")
"""


def _shifted(p: RawPacket, k: int, period_s: float) -> RawPacket:
    """Packet ``p`` of the k-th copy: receive time and device clock moved on by k hours."""
    pay = p.payload
    if p.char == h10.PMD_DATA_UUID:
        ts = int.from_bytes(pay[1:9], "little") + round(k * period_s * 1e9)
        pay = pay[:1] + ts.to_bytes(8, "little") + pay[9:]
    elif p.char == ms.NOTIFY_UUID and pay[0] == ms.NOTIFY_DATA:
        ts = (int.from_bytes(pay[2:6], "little") + round(k * period_s * 1e3)) % 2**32
        pay = pay[:2] + ts.to_bytes(4, "little") + pay[6:]
    return RawPacket(p.t_rx_s + k * period_s, p.sensor, p.char, pay)


def _write(path: Path, cfg: Config, src: SimSource, copies: int, period_s: float) -> int:
    """Write ``copies`` back-to-back copies of the simulated hour as a session file.

    The metrics stored with it are computed by the live path (run_session), as in a
    recorded session, so `breathform replay` has something to compare with.
    """
    info = SessionInfo(path.stem, time.time_ns(), "sim", __version__, src.sensors)
    writer = SessionWriter(path, info, to_toml(cfg))
    copies_src = SimSource(src.run, [_shifted(p, k, period_s) for k in range(copies)
                                     for p in src.packets],
                           cfg.sensors.chest.rate_hz, cfg.sensors.sacrum.rate_hz)
    asyncio.run(run_session(copies_src, cfg, writer=writer))
    return writer.n_raw


def _measure(args: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True,
                         text=True, check=False)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    if not line:
        raise SystemExit(f"child failed: {out.stderr[-2000:]}")
    return {k: float(v) for k, v in (kv.split("=") for kv in line[0].split()[1:])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=int, nargs="+", default=[1, 6])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    base = Config()
    cfg = replace(base, sensors=SensorsConfig(
        chest=base.sensors.chest, sacrum=SensorConfig(kind="movesense", rate_hz=208.0)))
    period_s = 3600.0
    src = SimSource.create(cfg, duration_s=period_s, seed=args.seed)
    # the copies must join without overlap: end the hour before the next one starts
    src.packets = [p for p in src.packets if p.t_rx_s < period_s - 1.0]
    floor = _measure(["--imports-only", "-"])
    print(f"floor (python + numpy/scipy + breathform imported): "
          f"{floor['maxrss_kb'] / 1024:.0f} MB")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for h in args.hours:
            path = Path(d) / f"h{h}.bfsession"
            t0 = time.perf_counter()
            n = _write(path, cfg, src, h, period_s)
            t_write = time.perf_counter() - t0
            size_mb = path.stat().st_size / 2**20
            r = _measure([str(path), d])
            f = _measure(["--feed-only", str(path)])
            rows.append((h, r))
            print(f"{h} h session: {n} packets, {size_mb:.0f} MB file (written in "
                  f"{t_write:.0f} s); `breathform replay`: exit {r['rc']:.0f}, peak RSS "
                  f"{r['maxrss_kb'] / 1024:.0f} MB, {r['wall_s']:.0f} s; decoders + DSP + "
                  f"alerts alone (outputs not kept): peak RSS {f['maxrss_kb'] / 1024:.0f} MB")
    if len(rows) >= 2:
        (h0, r0), (h1, r1) = rows[0], rows[-1]
        print(f"peak RSS {h1} h / {h0} h = {r1['maxrss_kb'] / r0['maxrss_kb']:.2f}; "
              f"above the import floor: {(r0['maxrss_kb'] - floor['maxrss_kb']) / 1024:.0f} "
              f"MB -> {(r1['maxrss_kb'] - floor['maxrss_kb']) / 1024:.0f} MB")


if __name__ == "__main__":
    main()
