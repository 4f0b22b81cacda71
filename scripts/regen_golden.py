"""Regenerate the golden replay files (review the diff in the PR!).

    .venv/bin/python scripts/regen_golden.py

Inputs: a short seeded simulated hilly run, as raw packets (tests/golden/inputs/*.bin).
Expected: the metrics and alerts the current pipeline computes from them
(tests/golden/expected/*.npz), plus a provenance JSON.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from breathform import __version__
from breathform.config import Config
from breathform.firmware_bridge.rawfile import read_raw, write_raw
from breathform.model import Metrics
from breathform.processing import SessionProcessor
from breathform.sim.source import SimSource

ROOT = Path(__file__).resolve().parents[1] / "tests" / "golden"
CASES = {"sim_hilly_seed7_9min": {"seed": 7, "minutes": 9.0}}


def replay(path: Path) -> dict[str, np.ndarray]:
    sensors, packets = read_raw(path)
    proc = SessionProcessor(Config(), sensors)
    metrics, alerts = [], []
    for i in range(0, len(packets), 256):
        out = proc.feed(packets[i:i + 256])
        metrics += out.metrics
        alerts += out.alerts
    arrays = {f.name: np.array([getattr(m, f.name) for m in metrics], dtype=np.float64)
              for f in fields(Metrics)}
    arrays["alert_t_s"] = np.array([a.t_s for a in alerts], dtype=np.float64)
    arrays["alert_severity"] = np.array([a.severity for a in alerts], dtype=np.int64)
    arrays["alert_causes"] = np.array([",".join(c.name for c in a.causes) for a in alerts])
    return arrays


def main() -> None:
    for name, case in CASES.items():
        src = SimSource.create(Config(), duration_s=case["minutes"] * 60, seed=case["seed"])
        inp = ROOT / "inputs" / f"{name}.bin"
        write_raw(inp, src.sensors, src.packets)
        arrays = replay(inp)
        np.savez_compressed(ROOT / "expected" / f"{name}.npz", **arrays)
        (ROOT / "expected" / f"{name}.json").write_text(json.dumps({
            "source": "breathform.sim (SimSource.create), hilly route",
            "seed": case["seed"], "minutes": case["minutes"],
            "sensors": "chest polar_h10 200 Hz ACC, sacrum movesense 104 Hz IMU6",
            "generated_by": "scripts/regen_golden.py", "breathform_version": __version__,
            "n_packets": len(src.packets), "n_metrics": int(arrays["t_s"].size),
            "n_alerts": int(arrays["alert_t_s"].size),
        }, indent=2) + "\n")
        print(f"{name}: {len(src.packets)} packets, {arrays['t_s'].size} s, "
              f"{arrays['alert_t_s'].size} alerts", file=sys.stderr)


if __name__ == "__main__":
    main()
