"""BLE end to end over bumble: an emulated DIY board (chest) and WitMotion (sacrum).

Both new sensor kinds run through the real stack and pipeline: breathform scans, connects
(the board by name, the WitMotion by address), reads the board's config characteristic,
sets the WitMotion's output rate, and streams ~70 s of a simulated run at 10x into a
session file. The WitMotion's notifications split and join its 20-byte packets; the DIY
board drops its link mid-stream and the gap shows in its sequence numbers.
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
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import diy_profile as diy
from breathform.firmware_bridge.devices import witmotion as wit
from breathform.firmware_bridge.link import Backoff
from breathform.firmware_bridge.replay import ReplaySource
from breathform.model import METRIC_FIELDS, SessionInfo
from breathform.runtime import RunResult, run_session
from breathform.sim.peripherals import (
    EmulatedDiyBoard,
    EmulatedWitMotion,
    SimStreams,
    VirtualRadio,
    diy_notifications,
    simulate_streams,
    witmotion_notifications,
)
from breathform.store import SessionReader, SessionWriter

pytestmark = pytest.mark.integration

TIME_SCALE = 10.0
DURATION_S = 70.0
DROP_AT_S = 30.0
FS_HZ = 100
BOARD = diy.DiyConfig(rate_hz=FS_HZ, acc_range_g=8.0, gyr_range_dps=2000.0,
                      samples_per_packet=10, battery_pct=80)


@dataclass
class Outcome:
    result: RunResult
    source: BleSource
    board: EmulatedDiyBoard
    wit: EmulatedWitMotion
    streams: SimStreams
    scan: list
    path: Path
    cfg: config_mod.Config


async def _scenario(folder: Path) -> Outcome:
    async with asyncio.timeout(120):
        cfg = config_mod.from_dict({"sensors": {
            "chest": {"kind": "diy", "rate_hz": FS_HZ},
            "sacrum": {"kind": "witmotion", "rate_hz": FS_HZ}}})
        streams = simulate_streams(duration_s=DURATION_S, seed=5, chest_fs_hz=FS_HZ,
                                   sacrum_fs_hz=FS_HZ)
        radio = VirtualRadio()
        board = EmulatedDiyBoard(radio, diy_notifications(streams.run.chest, BOARD), BOARD,
                                 time_scale=TIME_SCALE)
        sensor = EmulatedWitMotion(radio, witmotion_notifications(streams.run.sacrum, seed=5),
                                   time_scale=TIME_SCALE)
        board.drop_at_s = [DROP_AT_S]
        board.readvertise_delay_s = 1.0
        backend = await radio.central()
        await board.start()
        await sensor.start()
        scan = await backend.scan(5.0, stop_when=lambda a: a.kind == "witmotion")
        source = BleSource(
            backend,
            [SensorTarget("chest", "diy", "BF-DIY", FS_HZ, 8),
             SensorTarget("sacrum", "witmotion", sensor.address, FS_HZ, 16)],
            backoff=Backoff(initial_s=0.1, factor=2.0, max_s=1.0),
            duration_s=DURATION_S, time_scale=TIME_SCALE)
        info = SessionInfo(session_id="ble-diy-wit", started_utc_ns=time.time_ns(),
                           source="ble", software_version="test", sensors=source.sensors)
        path = folder / "ble-diy-wit.bfs"
        writer = SessionWriter(path, info, config_mod.to_toml(cfg))
        try:
            result = await run_session(source, cfg, writer=writer)
        finally:
            await board.close()
            await sensor.close()
        return Outcome(result, source, board, sensor, streams, scan, path, cfg)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> Outcome:
    return asyncio.run(_scenario(tmp_path_factory.mktemp("ble")))


def test_scan_recognises_both_kinds(outcome):
    kinds = {a.kind: a for a in outcome.scan if a.kind}
    assert kinds["witmotion"].address == outcome.wit.address
    assert kinds["diy"].name == outcome.board.name


def test_session_is_complete_with_metrics(outcome):
    with SessionReader(outcome.path) as r:
        s = r.summary()
        metrics = r.metrics()
        sensors = {x.role: x for x in r.info.sensors}
    assert s.status == "complete" and len(metrics) >= 60
    assert sensors["chest"].kind == "diy" and sensors["chest"].has_gyro
    assert sensors["sacrum"].kind == "witmotion" and sensors["sacrum"].acc_range_g == 16.0
    c = outcome.result.counters
    assert c.decode_errors == 0
    assert c.samples["chest"] > 55 * FS_HZ and c.samples["sacrum"] > 60 * FS_HZ
    assert any(np.isfinite(m.cadence_spm) for m in metrics)
    assert any(np.isfinite(m.rate_bpm) for m in metrics)


def test_drivers_configured_the_sensors(outcome):
    assert outcome.wit.stats.commands == [wit.UNLOCK, wit.rate_command(FS_HZ)]
    assert outcome.board.config_reads == 2  # once per connection


def test_the_drop_is_a_gap_in_the_sequence_numbers(outcome):
    st = outcome.source.stats
    assert st["chest"].drops == 1 and st["chest"].connects == 2
    assert st["sacrum"].drops == 0
    with SessionReader(outcome.path) as r:
        events = r.events()
        raw = list(r.iter_raw())
    assert any(k == "gap" and d.startswith("chest") for _, k, d in events), events
    dec = SensorDecoder("chest", "diy", FS_HZ)
    for p in raw:
        if p.sensor == "chest":
            dec.feed(p)
    skipped = outcome.board.stats.skipped[diy.DATA_UUID]
    assert dec.n_decode_errors == 0 and dec.diy_config == BOARD
    # every packet the board built while the link was down shows as missing, except those
    # before the first connection and after the end (never a gap between two received)
    assert 0 < dec.n_seq_lost <= skipped
    assert dec.n_samples_lost == dec.n_seq_lost * BOARD.samples_per_packet


def test_nothing_received_is_lost_and_split_packets_were_reassembled(outcome):
    with SessionReader(outcome.path) as r:
        raw = list(r.iter_raw())
    got: dict[str, list[bytes]] = {}
    for p in raw:
        got.setdefault(p.char, []).append(p.payload)
    assert_nothing_received_lost(got, (outcome.board, outcome.wit), outcome.source.stats,
                                 Counter(p.sensor for p in raw))
    notes = got[wit.NOTIFY_UUID]
    assert any(len(b) % wit.PACKET_LEN for b in notes)  # really split and joined
    assert any(len(b) > wit.PACKET_LEN for b in notes)
    dec = SensorDecoder("sacrum", "witmotion", FS_HZ)
    for p in raw:
        if p.sensor == "sacrum":
            dec.feed(p)
    # the stream started mid-packet at most once (notifications came on mid-stream)
    assert dec.reassembler.n_resyncs <= 1 and dec.reassembler.n_skipped_bytes < 20
    assert dec.reassembler.n_packets == sum(len(b) for b in notes) // wit.PACKET_LEN


def test_the_recorded_session_replays_identically(outcome):
    with SessionReader(outcome.path) as r:
        stored = r.metrics()
        res = asyncio.run(run_session(ReplaySource(r), outcome.cfg, writer=None))
    assert len(res.metrics) == len(stored)
    for a, b in zip(stored, res.metrics, strict=True):
        for f in METRIC_FIELDS:
            va, vb = getattr(a, f), getattr(b, f)
            assert va == vb or (va != va and vb != vb), (a.t_s, f, va, vb)
