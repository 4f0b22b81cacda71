"""BLE end to end over bumble virtual controllers: emulated Polar H10 + Movesense.

breathform scans, connects (the chest strap by name, the sacrum sensor by address),
configures and streams ~70 s of simulated run through run_session into a session file.
The emulated H10 drops the link mid-stream; breathform reconnects with backoff, restarts
the stream, records the gap, and loses nothing it received. Everything runs 10x faster
than real time: the emulated sensors and the source share the time scale.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from ble_checks import assert_nothing_received_lost

from breathform import config as config_mod
from breathform.firmware_bridge.ble_source import BleSource, SensorTarget
from breathform.firmware_bridge.devices import movesense as ms
from breathform.firmware_bridge.devices import polar_h10 as h10
from breathform.firmware_bridge.link import Backoff
from breathform.firmware_bridge.replay import ReplaySource
from breathform.model import METRIC_FIELDS, SessionInfo
from breathform.replay_compare import compare
from breathform.runtime import RunResult, run_session
from breathform.sim.peripherals import (
    EmulatedMovesense,
    EmulatedPolarH10,
    VirtualRadio,
    simulate_streams,
)
from breathform.store import SessionReader, SessionWriter

pytestmark = pytest.mark.integration

TIME_SCALE = 10.0
DURATION_S = 70.0
DROP_AT_S = 33.0
SELF_STOP_AT_S = 52.0


@dataclass
class Outcome:
    result: RunResult
    source: BleSource
    h10: EmulatedPolarH10
    movesense: EmulatedMovesense
    scan: list
    path: Path
    wall_s: float


async def _scenario(folder: Path) -> Outcome:
    cfg = config_mod.load(None)
    streams = simulate_streams(duration_s=DURATION_S, seed=11)
    radio = VirtualRadio()
    chest = EmulatedPolarH10(radio, streams, time_scale=TIME_SCALE)
    sacrum = EmulatedMovesense(radio, streams, time_scale=TIME_SCALE)
    chest.drop_at_s = [DROP_AT_S]
    # later the strap stops ACC on its own and says so ("01 02" on the control point)
    chest.actions_at_s = [(SELF_STOP_AT_S, chest.send_streams_stopped)]
    chest.readvertise_delay_s = 1.0  # the strap stays away for a while (simulated s)
    backend = await radio.central()
    await chest.start()
    await sacrum.start()
    scan = await backend.scan(5.0, stop_when=lambda a: a.kind == "movesense")
    source = BleSource(
        backend,
        [SensorTarget("chest", "polar_h10", "Polar H10", 200, 8),
         SensorTarget("sacrum", "movesense", sacrum.address, 104, 8)],
        backoff=Backoff(initial_s=0.1, factor=2.0, max_s=1.0),
        duration_s=DURATION_S, time_scale=TIME_SCALE)
    info = SessionInfo(session_id="ble-e2e", started_utc_ns=time.time_ns(), source="ble",
                       software_version="test", sensors=source.sensors)
    path = folder / "ble-e2e.bfs"
    writer = SessionWriter(path, info, config_mod.to_toml(cfg))
    t0 = time.monotonic()
    result = await run_session(source, cfg, writer=writer)
    wall_s = time.monotonic() - t0
    await chest.close()
    await sacrum.close()
    return Outcome(result, source, chest, sacrum, scan, path, wall_s)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> Outcome:
    return asyncio.run(_scenario(tmp_path_factory.mktemp("ble")))


def test_scan_finds_both_emulated_sensors_with_their_kinds(outcome):
    kinds = {a.kind: a for a in outcome.scan if a.kind}
    assert kinds["movesense"].address == outcome.movesense.address
    assert kinds["movesense"].name.startswith("Movesense ")
    assert kinds["polar_h10"].name.startswith("Polar H10 ")
    # the Heart Rate service, 0x180D on the Bluetooth base UUID
    assert h10.HR_SERVICE_UUID in kinds["polar_h10"].service_uuids


def test_session_is_complete_with_metrics_and_faster_than_real_time(outcome):
    with SessionReader(outcome.path) as r:
        s = r.summary()
        metrics = r.metrics()
    assert s.status == "complete"
    assert len(metrics) >= 60
    assert outcome.result.counters.decode_errors == 0
    assert outcome.wall_s < DURATION_S / 3, outcome.wall_s
    # the DSP saw both sensors' samples
    assert outcome.result.counters.samples["chest"] > 150 * 50
    assert outcome.result.counters.samples["sacrum"] > 100 * 50
    assert any(np.isfinite(m.cadence_spm) for m in metrics)


def test_the_strap_was_configured_like_a_real_one_and_stopped_before_disconnect(outcome):
    cmds = outcome.h10.stats.commands
    get_acc = bytes.fromhex("0102")
    start_acc = bytes.fromhex("02020001c8000101100002010800")
    stop_acc = bytes.fromhex("0302")
    # first session, again after the reconnect, again after the strap stopped on its own,
    # then the stop at the end
    assert cmds == [get_acc, start_acc, get_acc, start_acc, get_acc, start_acc, stop_acc]
    assert outcome.h10.acc_streaming is False
    sub = ms.subscribe_command(99, "/Meas/IMU6/104")
    assert outcome.movesense.stats.commands == [sub, ms.unsubscribe_command(99)]
    assert outcome.movesense.subscribed_ref is None


def test_the_drop_is_reconnected_and_recorded_as_a_gap(outcome):
    st = outcome.source.stats
    assert st["chest"].drops == 1 and st["chest"].connects == 2
    assert st["sacrum"].drops == 0 and st["sacrum"].connects == 1
    assert outcome.h10.stats.drops == 1 and outcome.h10.stats.connections == 2
    with SessionReader(outcome.path) as r:
        events = r.events()
    kinds = [(k, d.split(":")[0]) for _, k, d in events]
    for ev in [("link_up", "chest"), ("link_up", "sacrum"), ("link_lost", "chest"),
               ("link_restored", "chest"), ("gap", "chest"), ("stream_stopped", "chest"),
               ("stream_restarted", "chest"), ("link_closed", "chest"),
               ("link_closed", "sacrum")]:
        assert ev in kinds, (ev, events)
    t = {k: ts for ts, k, d in events if d.startswith("chest")}
    # session time starts a little after the sensors' clocks (the scan runs in between)
    assert DROP_AT_S - 5 < t["link_lost"] < DROP_AT_S + 1
    assert t["link_lost"] < t["link_restored"] < t["stream_stopped"] < t["link_closed"]
    assert SELF_STOP_AT_S - 5 < t["stream_stopped"] < t["stream_restarted"]
    gaps = [ts for ts, k, d in events if k == "gap" and d.startswith("chest")]
    assert any(t["link_restored"] <= g < t["link_restored"] + 1 for g in gaps), gaps
    # the gap lasted at least the strap's time away, and the source measured it
    assert 1.0 <= st["chest"].gap_s < 10.0
    assert outcome.result.counters.gaps >= 1


def test_nothing_received_is_lost(outcome):
    """Every notification the sensors sent reached the store, byte for byte, in order."""
    with SessionReader(outcome.path) as r:
        raw = list(r.iter_raw())
    got = {}
    for p in raw:
        if p.char == ms.NOTIFY_UUID and p.payload[0] == ms.NOTIFY_RESULT:
            continue  # command results share the Movesense data characteristic
        got.setdefault(p.char, []).append(p.payload)
    # control answers are stored too (raw first, always); nothing else
    assert_nothing_received_lost(got, (outcome.h10, outcome.movesense), outcome.source.stats,
                                 Counter(p.sensor for p in raw))
    assert outcome.result.dropped_packets == 0 and outcome.source.dropped == 0
    n_sent = sum(h10.decode_pmd_frame(f).n
                 for f in outcome.h10.stats.sent_payloads[h10.PMD_DATA_UUID])
    assert outcome.result.counters.samples["chest"] == n_sent
    # packets inside the drop were not sent by the strap (it had stopped streaming)
    assert outcome.h10.stats.skipped[h10.PMD_DATA_UUID] > 0


def test_the_recorded_session_replays_identically(outcome):
    cfg = config_mod.load(None)
    with SessionReader(outcome.path) as r:
        stored_m, stored_a = r.metrics(), r.alerts()
        res = asyncio.run(run_session(ReplaySource(r), cfg, writer=None))
    rep = compare(stored_m, stored_a, res.metrics, res.alerts)
    assert rep.alerts_identical, rep.text
    assert len(res.metrics) == len(stored_m)
    # every field must match exactly, heart rate included (BLE timing jitter and different
    # batching must not matter)
    fields = list(METRIC_FIELDS)
    for a, b in zip(stored_m, res.metrics, strict=True):
        for f in fields:
            va, vb = getattr(a, f), getattr(b, f)
            assert va == vb or (va != va and vb != vb), (a.t_s, f, va, vb)


async def test_bumble_link_errors_are_link_errors():
    from breathform.firmware_bridge.link import LinkError

    # A hang anywhere below fails in 90 s with the awaiting line in the traceback.
    async with asyncio.timeout(90):
        radio = VirtualRadio()
        streams = simulate_streams(duration_s=DURATION_S, seed=2)
        sensor = EmulatedMovesense(radio, streams)
        backend = await radio.central()
        await sensor.start()
        try:
            nobody = await backend.open_link("C9:99:00:00:00:09")
            with pytest.raises(LinkError, match="cannot connect to C9:99:00:00:00:09"):
                await nobody.connect(0.5)
            with pytest.raises(LinkError, match="not a Bluetooth address"):
                await backend.open_link("not-an-address")
            # bumble's virtual controller ignores LE Create Connection Cancel, so that central
            # stays stuck "connecting" (a real controller confirms the cancel): use another
            backend = await radio.central("F3:F3:F3:F3:F3:F3")
            link = await backend.open_link(sensor.address)
            dropped = asyncio.Event()
            link.set_disconnected_callback(dropped.set)
            await link.connect(5.0)
            assert link.is_connected and link.mtu == 517
            assert link.has_characteristic(ms.WRITE_UUID)
            assert not link.has_characteristic(h10.PMD_CP_UUID)
            with pytest.raises(LinkError, match="has no characteristic"):
                await link.read(h10.PMD_CP_UUID)
            await sensor.drop_link()
            await asyncio.wait_for(dropped.wait(), 5.0)
            assert not link.is_connected
            with pytest.raises(LinkError, match="not connected"):
                await link.write(ms.WRITE_UUID, b"\x00\x01", response=True)
            await link.disconnect()  # already down: no error
        finally:
            await sensor.close()
