"""BLE faults on the emulated sensors (bumble virtual controllers), end to end.

- repeated link drops of both sensors in one run: reconnects, gaps recorded, no crash,
  nothing received lost, and the session replays identically;
- sensor clocks that jump forward, backward and restart from zero mid-stream: each
  re-anchors, is counted and recorded, and session time never goes backward;
- a sensor that never answers (connected but never streams; a strap whose control point
  stays silent; a name nobody advertises): a clear event, and the other sensor's run goes
  on to a complete session.

Same set-up as test_ble_e2e.py: emulated sensors and the source share a time scale.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from ble_checks import assert_nothing_received_lost

from breathform import config as config_mod
from breathform.firmware_bridge.ble_source import BleSource, SensorTarget
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import movesense as ms
from breathform.firmware_bridge.devices import polar_h10 as h10
from breathform.firmware_bridge.link import Backoff
from breathform.firmware_bridge.replay import ReplaySource
from breathform.model import ImuBlock, SessionInfo
from breathform.replay_compare import compare
from breathform.runtime import RunResult, run_session
from breathform.sim.peripherals import (
    EmulatedMovesense,
    EmulatedPolarH10,
    TimedNotification,
    VirtualRadio,
    simulate_streams,
)
from breathform.store import SessionReader, SessionWriter

pytestmark = pytest.mark.integration

TIME_SCALE = 10.0
POLAR_2019_NS = 599_616_000 * 10**9  # 2019-01-01 in Polar time (ns since 2000-01-01)


@dataclass
class Run:
    result: RunResult
    source: BleSource
    h10: EmulatedPolarH10
    movesense: EmulatedMovesense
    path: Path
    events: list[tuple[float, str, str]] = field(default_factory=list)


async def _run(folder: Path, name: str, duration_s: float, *,
               make_h10: Callable[..., EmulatedPolarH10] = EmulatedPolarH10,
               make_ms: Callable[..., EmulatedMovesense] = EmulatedMovesense,
               chest_addr: str = "Polar H10", setup: Callable[[Run], None] | None = None
               ) -> Run:
    async with asyncio.timeout(120):  # a hang fails with the awaiting line in the traceback
        cfg = config_mod.load(None)
        streams = simulate_streams(duration_s=max(duration_s, 70.0), seed=21)
        radio = VirtualRadio()
        chest = make_h10(radio, streams, time_scale=TIME_SCALE)
        sacrum = make_ms(radio, streams, time_scale=TIME_SCALE)
        chest.readvertise_delay_s = sacrum.readvertise_delay_s = 1.0
        backend = await radio.central()
        source = BleSource(
            backend,
            [SensorTarget("chest", "polar_h10", chest_addr, 200, 8),
             SensorTarget("sacrum", "movesense", sacrum.address, 104, 8)],
            backoff=Backoff(initial_s=0.1, factor=2.0, max_s=0.5), connect_timeout_s=2.0,
            duration_s=duration_s, time_scale=TIME_SCALE)
        path = folder / f"{name}.bfsession"
        run = Run(None, source, chest, sacrum, path)  # type: ignore[arg-type]
        if setup is not None:
            setup(run)
        await chest.start()
        await sacrum.start()
        info = SessionInfo(session_id=name, started_utc_ns=time.time_ns(), source="ble",
                           software_version="test", sensors=source.sensors)
        writer = SessionWriter(path, info, config_mod.to_toml(cfg))
        try:
            run.result = await run_session(source, cfg, writer=writer)
        finally:
            await chest.close()
            await sacrum.close()
    with SessionReader(path) as r:
        run.events = r.events()
        assert r.summary().status == "complete"
    return run


def _stored_payloads(path: Path) -> dict[str, list[bytes]]:
    got: dict[str, list[bytes]] = {}
    with SessionReader(path) as r:
        for p in r.iter_raw():
            if p.char == ms.NOTIFY_UUID and p.payload[0] == ms.NOTIFY_RESULT:
                continue  # command results share the Movesense data characteristic
            got.setdefault(p.char, []).append(p.payload)
    return got


def _assert_nothing_received_lost(run: Run) -> None:
    with SessionReader(run.path) as r:
        n_stored = Counter(p.sensor for p in r.iter_raw())
    assert_nothing_received_lost(_stored_payloads(run.path), (run.h10, run.movesense),
                                 run.source.stats, n_stored)
    assert run.result.dropped_packets == 0 and run.source.dropped == 0


def _blocks(path: Path) -> dict[str, list[ImuBlock]]:
    """Decode the stored packets again, per sensor."""
    out: dict[str, list[ImuBlock]] = {}
    with SessionReader(path) as r:
        decs = {s.role: SensorDecoder(s.role, s.kind, s.fs_hz) for s in r.info.sensors}
        for p in r.iter_raw():
            for item in decs[p.sensor].feed(p):
                if isinstance(item, ImuBlock):
                    out.setdefault(p.sensor, []).append(item)
    return out


def _kinds(run: Run, role: str) -> list[str]:
    return [k for _, k, d in run.events if d.startswith(f"{role}:")]


# ----------------------------------------------------------------------------- drops
DROPS_S = {"chest": [20.0, 40.0, 60.0], "sacrum": [30.0, 70.0]}


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> Run:
    def setup(run: Run) -> None:
        run.h10.drop_at_s = list(DROPS_S["chest"])
        run.movesense.drop_at_s = list(DROPS_S["sacrum"])

    return asyncio.run(_run(tmp_path_factory.mktemp("drops"), "drops", 90.0, setup=setup))


def test_repeated_drops_of_both_sensors_are_reconnected_and_recorded(drops):
    for role, dev in (("chest", drops.h10), ("sacrum", drops.movesense)):
        n = len(DROPS_S[role])
        st = drops.source.stats[role]
        assert dev.stats.drops == n and st.drops == n and st.connects == n + 1, (role, st)
        kinds = _kinds(drops, role)
        assert kinds.count("link_lost") == n and kinds.count("link_restored") == n, kinds
        # a gap is recorded after each reconnection, where the stream resumed
        restored = [t for t, k, d in drops.events
                    if k == "link_restored" and d.startswith(role)]
        gaps = [t for t, k, d in drops.events if k == "gap" and d.startswith(role)]
        for t in restored:  # the first packet may be stamped before the event is
            assert any(t - 0.5 <= g < t + 1.5 for g in gaps), (role, t, gaps)
        lost = [t for t, k, d in drops.events if k == "link_lost" and d.startswith(role)]
        for t_drop, t_lost in zip(DROPS_S[role], lost, strict=True):
            assert t_drop - 5 < t_lost < t_drop + 1
        assert 1.0 * n <= st.gap_s < 10.0 * n


def test_repeated_drops_lose_nothing_received_and_replay_identically(drops):
    _assert_nothing_received_lost(drops)
    res = drops.result
    assert res.counters.decode_errors == 0
    assert res.metrics[-1].t_s > 80 and not res.interrupted
    with SessionReader(drops.path) as r:
        stored_m, stored_a = r.metrics(), r.alerts()
        again = asyncio.run(run_session(ReplaySource(r), config_mod.load(None), writer=None))
    assert compare(stored_m, stored_a, again.metrics, again.alerts).identical
    assert any(np.isfinite(m.cadence_spm) for m in stored_m[-10:])


# ----------------------------------------------------------------------------- clocks
class _ClockSteps:
    """Rewrites a device's timestamps from given simulated times on (clock set / reboot).

    ``steps``: (simulated time, new device time at that moment as a function of the old
    one). Every later timestamp keeps the same shift, as a real clock that was set does.
    """

    def __init__(self, steps: list[tuple[float, Callable[[int], int]]]) -> None:
        self.steps = sorted(steps, key=lambda s: s[0])
        self.shift = 0

    def apply(self, t_s: float, ts: int) -> int:
        while self.steps and t_s >= self.steps[0][0]:
            _, new = self.steps.pop(0)
            self.shift = new(ts + self.shift) - ts
        return ts + self.shift


H10_STEPS = [(20.0, lambda ts: ts + 3600 * 10**9),    # forward by an hour
             (40.0, lambda ts: ts - 30 * 10**9),      # backward by 30 s
             (60.0, lambda ts: POLAR_2019_NS)]        # restarted at 2019-01-01
MS_STEPS = [(30.0, lambda ts: 0),                     # rebooted: counter from 0
            (50.0, lambda ts: ts + 600_000)]          # forward by 10 min


def _with_clock_steps(base: type, steps: list, char: str, lo: int, hi: int) -> type:
    """A subclass of an emulated device whose clock field ``payload[lo:hi]`` is stepped."""

    class Jumping(base):  # type: ignore[misc, valid-type]
        def __init__(self, *a, **kw) -> None:
            super().__init__(*a, **kw)
            self.clock = _ClockSteps(list(steps))

        def _payload(self, n: TimedNotification) -> bytes:
            p = super()._payload(n)
            if n.char != char:
                return p
            ts = self.clock.apply(n.t_s, int.from_bytes(p[lo:hi], "little"))
            return p[:lo] + (ts % 2 ** (8 * (hi - lo))).to_bytes(hi - lo, "little") + p[hi:]

    return Jumping


# Polar PMD frame: u64 ns at bytes 1-8; Movesense IMU6 notification: u32 ms at bytes 2-5
JumpingH10 = _with_clock_steps(EmulatedPolarH10, H10_STEPS, h10.PMD_DATA_UUID, 1, 9)
JumpingMovesense = _with_clock_steps(EmulatedMovesense, MS_STEPS, ms.NOTIFY_UUID, 2, 6)


@pytest.fixture(scope="module")
def clocks(tmp_path_factory) -> Run:
    return asyncio.run(_run(tmp_path_factory.mktemp("clocks"), "clocks", 80.0,
                            make_h10=JumpingH10, make_ms=JumpingMovesense))


def test_clock_jumps_and_resets_are_reanchored_counted_and_recorded(clocks):
    assert clocks.result.clock_resets == {"chest": len(H10_STEPS), "sacrum": len(MS_STEPS)}
    for role, steps in (("chest", H10_STEPS), ("sacrum", MS_STEPS)):
        resets = [t for t, k, d in clocks.events if k == "clock_reset" and d.startswith(role)]
        assert len(resets) == len(steps), (role, clocks.events)
        for (t_step, _), t in zip(steps, resets, strict=True):
            assert t_step - 5 < t < t_step + 2, (role, t_step, t)
    with SessionReader(clocks.path) as r:
        assert f"clock_resets={len(H10_STEPS) + len(MS_STEPS)}" in r.meta["counters"]


def test_session_time_never_goes_backward_across_clock_jumps(clocks):
    for role, blocks in _blocks(clocks.path).items():
        t = np.concatenate([b.t_s for b in blocks])
        assert np.all(np.diff(t) > 0), role
        # a jump of the device clock is not a jump of session time: the samples stay
        # where they were received (at most the BLE latency and one frame off)
        assert np.max(np.diff(t)) < 1.0, (role, np.max(np.diff(t)))
        assert t[-1] < 80.0 + 5
    m = clocks.result.metrics
    assert all(b.t_s > a.t_s for a, b in zip(m, m[1:], strict=False))
    assert m[-1].t_s > 70
    _assert_nothing_received_lost(clocks)
    assert any(np.isfinite(x.cadence_spm) for x in m[-10:])


# ----------------------------------------------------------------------------- silence
class SilentMovesense(EmulatedMovesense):
    """Answers the subscription with 200 and then never sends a sample."""

    def _streaming(self, char: str) -> bool:
        return False


class MuteH10(EmulatedPolarH10):
    """Connects, but its control point never answers (a wedged strap)."""

    def _write_cp(self, _conn, value: bytes) -> None:
        self.stats.commands.append(bytes(value))


@pytest.fixture(scope="module")
def silent_sacrum(tmp_path_factory) -> Run:
    return asyncio.run(_run(tmp_path_factory.mktemp("silent"), "silent", 40.0,
                            make_ms=SilentMovesense))


@pytest.fixture(scope="module")
def mute_chest(tmp_path_factory) -> Run:
    def setup(run: Run) -> None:
        run.source.drivers["chest"].response_timeout_s = 0.3  # type: ignore[attr-defined]

    return asyncio.run(_run(tmp_path_factory.mktemp("mute"), "mute", 40.0, make_h10=MuteH10,
                            setup=setup))


@pytest.fixture(scope="module")
def absent_chest(tmp_path_factory) -> Run:
    return asyncio.run(_run(tmp_path_factory.mktemp("absent"), "absent", 40.0,
                            chest_addr="Polar H10 NOBODY"))


def test_connected_but_never_streaming_sensor_is_reported_and_the_run_goes_on(
        silent_sacrum):
    st = silent_sacrum.source.stats["sacrum"]
    # the subscription's and unsubscription's results, nothing more
    assert st.connects == 1 and st.received == 2
    [(t, detail)] = [(t, d) for t, k, d in silent_sacrum.events if k == "sensor_silent"]
    assert detail.startswith("sacrum: no data for") and 5 <= t < 10
    assert ("sacrum", "sensor_silent") in [(d.split(":")[0], k)
                                           for _, k, d in silent_sacrum.result.events]
    _assert_nothing_received_lost(silent_sacrum)
    m = silent_sacrum.result.metrics
    assert m[-1].t_s >= 30 and silent_sacrum.result.counters.samples["chest"] > 35 * 190


def test_strap_that_never_answers_is_retried_with_a_clear_error(mute_chest):
    errs = [d for _, k, d in mute_chest.events if k == "link_error" and d.startswith("chest")]
    # retried (at least once more after the first failure; how many attempts fit in the
    # run depends on the machine's load: each one is a connect plus the 0.3 s wait)
    assert len(errs) >= 2, mute_chest.events
    assert all("within 0.3 s" in e for e in errs), mute_chest.events
    st = mute_chest.source.stats["chest"]
    assert st.connects == 0 and st.failed_attempts == len(errs), (st, mute_chest.events)
    assert "sensor_silent" in _kinds(mute_chest, "chest"), mute_chest.events
    _assert_nothing_received_lost(mute_chest)  # the sacrum's stream, all of it
    assert mute_chest.result.counters.samples["sacrum"] > 35 * 100


def test_sensor_nobody_advertises_is_a_clear_error_and_the_run_goes_on(absent_chest):
    errs = [d for _, k, d in absent_chest.events if k == "link_error" and d.startswith("chest")]
    assert errs and all("no device named 'Polar H10 NOBODY'" in e for e in errs), errs
    assert absent_chest.source.stats["chest"].status.startswith("stopped")
    assert "sensor_silent" in _kinds(absent_chest, "chest")
    _assert_nothing_received_lost(absent_chest)
    assert absent_chest.result.counters.samples["sacrum"] > 35 * 100
