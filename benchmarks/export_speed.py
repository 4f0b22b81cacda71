"""Export speed and peak memory: a two-sensor session to CSV, Parquet, EDF+ and BIDS-motion.

Records a simulated session with `breathform demo` (default 120 min: Polar H10 chest ACC
200 Hz + Movesense sacrum IMU6 104 Hz, with metrics and alerts), then exports it to each
format in a fresh Python process (so each peak RSS is that export's alone) and prints wall
time, peak resident memory and output size.

    .venv/bin/python benchmarks/export_speed.py [--minutes 120] [--formats csv,parquet,edf,bids]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from breathform.export import export_session
session, fmt, out, home = sys.argv[1:5]
t0 = time.perf_counter()
res = export_session(Path(session), fmt, Path(out), salt_folder=Path(home))
wall = time.perf_counter() - t0
size = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
print(json.dumps({"wall_s": wall, "peak_rss_mb": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1024, "out_mb": size / 1e6,
    "samples": sum(res.n_samples.values())}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--formats", default="csv,parquet,edf,bids")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subprocess.run([sys.executable, "-m", "breathform.cli", "--dir", str(d / "s"), "demo",
                        "--minutes", f"{args.minutes:g}", "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
        (session,) = (d / "s").glob("*.bfsession")
        print(f"session: {args.minutes:g} min, chest 200 Hz + sacrum 104 Hz, "
              f"{session.stat().st_size / 1e6:.0f} MB on disk")
        print(f"{'format':8} {'samples':>9} {'time s':>7} {'peak RSS MB':>12} {'output MB':>10}")
        for fmt in args.formats.split(","):
            out = subprocess.run([sys.executable, "-c", _CHILD, str(session), fmt,
                                  str(d / f"out-{fmt}"), str(d / "home")], check=True,
                                 capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{fmt:8} {r['samples']:9d} {r['wall_s']:7.1f} {r['peak_rss_mb']:12.0f} "
                  f"{r['out_mb']:10.0f}")


if __name__ == "__main__":
    main()
