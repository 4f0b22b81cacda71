"""``breathform calibrate`` over BLE: emulated Polar H10 + Movesense on bumble controllers.

The emulated sensors play a simulated runner who stands for the first 40 s (10x faster than
real time); the calibration connects, captures the stand and the quiet breathing from the
live streams and must find each sensor's mounting and the resting breath.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from rich.console import Console

from breathform import config as config_mod
from breathform.cli_calibrate import calibrate_ble
from breathform.firmware_bridge.ble_source import SensorTarget
from breathform.sim.peripherals import (
    EmulatedMovesense,
    EmulatedPolarH10,
    VirtualRadio,
    simulate_streams,
)

pytestmark = pytest.mark.integration

TIME_SCALE = 10.0


async def _scenario(console: Console):
    streams = simulate_streams(duration_s=80.0, seed=5)
    radio = VirtualRadio()
    chest = EmulatedPolarH10(radio, streams, time_scale=TIME_SCALE)
    sacrum = EmulatedMovesense(radio, streams, time_scale=TIME_SCALE)
    backend = await radio.central()
    await chest.start()
    await sacrum.start()
    try:
        await backend.scan(2.0, stop_when=lambda a: a.kind == "movesense")
        targets = [SensorTarget("chest", "polar_h10", "Polar H10", 200, 8),
                   SensorTarget("sacrum", "movesense", sacrum.address, 104, 8)]
        cal = await asyncio.wait_for(
            calibrate_ble(backend, targets, config_mod.Config(), console, retries=0,
                          time_scale=TIME_SCALE, live=False), timeout=60.0)
    finally:
        await chest.close()
        await sacrum.close()
        await backend.close()
    return cal, streams.run, chest


def test_calibrate_from_live_emulated_sensors():
    console = Console(record=True, width=200)
    cal, run, chest = asyncio.run(_scenario(console))
    text = console.export_text()
    assert "Stand still" in text and "Breathe quietly" in text
    assert cal.source == "ble"
    for role, imu in (("chest", run.chest), ("sacrum", run.sacrum)):
        sc = getattr(cal, role)
        assert sc is not None and sc.kind == ("polar_h10" if role == "chest" else "movesense")
        true_up = imu.mount.T @ np.array([0.0, 0.0, 1.0])
        assert np.degrees(np.arccos(np.clip(np.dot(sc.vertical, true_up), -1, 1))) < 1.0
    assert cal.rest_amp_g is not None and cal.rest_amp_g > 0
    b = run.breath_t_s[(run.breath_t_s > 5) & (run.breath_t_s < 40)]
    assert abs(cal.resting_rate_bpm - 60 * (b.size - 1) / (b[-1] - b[0])) < 2.0
    # the streams were stopped before the links closed, as `run` does
    assert chest.stats.commands and chest.stats.commands[-1][:2] == bytes.fromhex("0302")
