"""Live BLE path over bumble virtual controllers: how fast, and does anything get lost.

An emulated Polar H10 (ACC 200 Hz, 36-sample frames, + heart rate) and Movesense (IMU6
104 Hz, 8 samples per notification) stream a simulated run over bumble's in-process host
stack into breathform's BleSource -> run_session -> session file, at several time scales
(simulated seconds per real second). For each it prints the wall time, the notifications
per second through the stack, the receive-to-store completeness (stored / sent) and the
median and 99th-percentile delay (real ms) from a data notification's scheduled send
time to the receive timestamp breathform gives it.

    .venv/bin/python benchmarks/ble_emulated.py [--seconds 120] [--scales 1,10,20,40]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np

from breathform import config as config_mod
from breathform.firmware_bridge.ble_source import BleSource, SensorTarget
from breathform.firmware_bridge.devices import movesense as ms
from breathform.firmware_bridge.devices import polar_h10 as h10
from breathform.model import SessionInfo
from breathform.runtime import run_session
from breathform.sim.peripherals import (
    EmulatedMovesense,
    EmulatedPolarH10,
    VirtualRadio,
    simulate_streams,
)
from breathform.store import SessionReader, SessionWriter


async def one(seconds: float, scale: float, folder: Path) -> dict[str, float]:
    cfg = config_mod.load(None)
    streams = simulate_streams(duration_s=seconds, seed=5)
    radio = VirtualRadio()
    chest = EmulatedPolarH10(radio, streams, time_scale=scale)
    sacrum = EmulatedMovesense(radio, streams, time_scale=scale)
    backend = await radio.central()
    await chest.start()
    await sacrum.start()
    src = BleSource(backend, [SensorTarget("chest", "polar_h10", chest.address, 200, 8),
                              SensorTarget("sacrum", "movesense", sacrum.address, 104, 8)],
                    duration_s=seconds, time_scale=scale)
    path = folder / f"bench-{scale:g}.bfs"
    info = SessionInfo(session_id=path.stem, started_utc_ns=time.time_ns(), source="ble",
                       software_version="bench", sensors=src.sensors)
    t0 = time.monotonic()
    await run_session(src, cfg, writer=SessionWriter(path, info, config_mod.to_toml(cfg)))
    wall = time.monotonic() - t0
    await chest.close()
    await sacrum.close()
    sent = {**chest.stats.sent_payloads, **sacrum.stats.sent_payloads}
    n_sent = sum(len(v) for v in sent.values())
    # send and receive times on the one loop clock (both sides run on it)
    send_loop_s = {}
    for dev in (chest, sacrum):
        for n in dev.notifications:
            key = (n.char, n.payload[2:] if n.char == ms.NOTIFY_UUID else n.payload)
            send_loop_s.setdefault(key, dev._t0 + n.t_s / scale)
    with SessionReader(path) as r:
        raw = [p for p in r.iter_raw() if p.char in sent
               and not (p.char == ms.NOTIFY_UUID and p.payload[0] == ms.NOTIFY_RESULT)]
    delays = []
    for p in raw:
        key = (p.char, p.payload[2:] if p.char == ms.NOTIFY_UUID else p.payload)
        if p.char in (h10.PMD_DATA_UUID, ms.NOTIFY_UUID) and key in send_loop_s:
            delays.append(src._t0 + p.t_rx_s / scale - send_loop_s[key])
    d = np.asarray(delays)
    return {"wall_s": wall, "sent": n_sent, "stored": len(raw),
            "notif_per_s": len(raw) / wall,
            "delay_p50_ms": float(np.percentile(d, 50)) * 1e3,
            "delay_p99_ms": float(np.percentile(d, 99)) * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--scales", default="1,10,20,40")
    args = ap.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    print(f"emulated H10 + Movesense over bumble virtual controllers, {args.seconds:g} s run")
    print(f"{'scale':>6} {'wall s':>8} {'sent':>6} {'stored':>6} {'notif/s':>8} "
          f"{'p50 ms':>7} {'p99 ms':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for sc in scales:
            r = asyncio.run(one(args.seconds, sc, Path(tmp)))
            print(f"{sc:>6g} {r['wall_s']:>8.2f} {r['sent']:>6.0f} {r['stored']:>6.0f} "
                  f"{r['notif_per_s']:>8.0f} {r['delay_p50_ms']:>7.1f} "
                  f"{r['delay_p99_ms']:>7.1f}")


if __name__ == "__main__":
    main()
