"""BleSource supervision against fake links: retries, drops, clean stop, fatal errors."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from test_link import FakeLink  # same folder (pytest puts it on sys.path)

from breathform import config as config_mod
from breathform.errors import InputError
from breathform.firmware_bridge.ble_source import BleSource, SensorTarget, check_fatal
from breathform.firmware_bridge.devices import movesense as ms
from breathform.firmware_bridge.link import Backoff, LinkError, NoAdapterError
from breathform.runtime import run_session


class FlakyBackend:
    """Hands out Movesense-like fake links; the first ``fail`` connects fail."""

    name = "fake"

    def __init__(self, fail: int = 0, no_adapter: bool = False) -> None:
        self.fail = fail
        self.no_adapter = no_adapter
        self.links: list[FakeLink] = []
        self.connected = asyncio.Event()

    async def scan(self, timeout_s, *, stop_when=None):
        if self.no_adapter:
            raise NoAdapterError("no Bluetooth adapter (test)")
        return []

    async def open_link(self, address):
        backend = self

        def answer(char, data):
            return [(ms.NOTIFY_UUID, ms.encode_result(data[1], 200))]

        class Link(FakeLink):
            async def connect(self, timeout_s):
                if backend.no_adapter:
                    raise NoAdapterError("no Bluetooth adapter (test)")
                if backend.fail > 0:
                    backend.fail -= 1
                    raise LinkError("peer not found (test)")
                self.connected = True
                backend.connected.set()

        link = Link({ms.WRITE_UUID, ms.NOTIFY_UUID}, answer)
        link.connected = False
        self.links.append(link)
        return link

    async def close(self):
        pass


def sacrum(address="C2:20:00:00:00:02"):
    return SensorTarget("sacrum", "movesense", address, 104, 8)


def imu6(ts_ms: int) -> bytes:
    return ms.encode_imu6_data(99, ts_ms, np.zeros((8, 3)), np.zeros((8, 3)))


async def wait_for(pred, timeout_s=5.0):
    async with asyncio.timeout(timeout_s):
        while not pred():
            await asyncio.sleep(0.001)


async def test_failed_connects_are_retried_with_backoff_then_stream():
    be = FlakyBackend(fail=2)
    src = BleSource(be, [sacrum()], backoff=Backoff(initial_s=0.01, max_s=0.02))
    batches = []

    async def consume():
        async for b in src.abatches():
            batches.append(b)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(be.connected.wait(), 5.0)
    await wait_for(lambda: src.stats["sacrum"].status == "streaming")
    link = be.links[-1]
    for k in range(3):
        link.callbacks[ms.NOTIFY_UUID](ms.NOTIFY_UUID, imu6(1000 + 77 * k))
    await wait_for(lambda: sum(len(b) for b in batches) >= 4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    st = src.stats["sacrum"]
    assert st.failed_attempts == 2 and st.connects == 1
    kinds = [k for _, k, _ in src.take_events()]
    assert kinds == ["link_error", "link_error", "link_up", "link_closed"]
    # the subscribe result and the three data packets, in order, timed in session time
    pkts = [p for b in batches for p in b]
    assert [p.payload[0] for p in pkts] == [1, 2, 2, 2]
    assert all(p.sensor == "sacrum" and p.char == ms.NOTIFY_UUID for p in pkts)
    assert all(b.t_rx_s >= a.t_rx_s for a, b in zip(pkts, pkts[1:], strict=False))
    # on exit: unsubscribe first, then disconnect
    ops = [(op, d) for op, _, d in link.log if op in ("write", "disconnect")]
    assert ops[-2:] == [("write", ms.unsubscribe_command(99)), ("disconnect", b"")]


async def test_a_drop_reconnects_restarts_the_stream_and_records_the_gap():
    be = FlakyBackend()
    src = BleSource(be, [sacrum()], backoff=Backoff(initial_s=0.01, max_s=0.02))
    task = asyncio.create_task(_drain(src))
    await wait_for(lambda: src.stats["sacrum"].status == "streaming")
    first = be.links[-1]
    first.connected = False
    first._on_disc()  # the link drops
    await wait_for(lambda: src.stats["sacrum"].connects == 2
                   and src.stats["sacrum"].status == "streaming")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kinds = [k for _, k, _ in src.take_events()]
    assert kinds == ["link_up", "link_lost", "link_restored", "link_closed"]
    assert src.stats["sacrum"].drops == 1 and src.stats["sacrum"].gap_s > 0
    # the stream was restarted on the new link
    second = be.links[-1]
    assert second is not first
    assert [d[0] for op, _, d in second.log if op == "write"] == [1, 2]


async def _drain(src):
    async for _ in src.abatches():
        pass


async def test_no_adapter_is_fatal_and_reaches_the_user_as_a_breathform_error():
    be = FlakyBackend(no_adapter=True)
    src = BleSource(be, [SensorTarget("chest", "polar_h10", "C1:10:00:00:00:01", 200, 8)])
    # run_session hands the fatal error itself (older versions: inside the task group's
    # exception group, which check_fatal unwraps)
    with pytest.raises((BaseExceptionGroup, NoAdapterError)) as ei:
        await run_session(src, config_mod.load(None), writer=None)
    err = check_fatal(ei.value)
    assert isinstance(err, NoAdapterError)


async def test_duration_ends_the_session_and_stops_cleanly():
    be = FlakyBackend()
    src = BleSource(be, [sacrum()], duration_s=0.3, time_scale=1.0, batch_interval_s=0.01)
    await asyncio.wait_for(_drain(src), 5.0)
    assert src.stats["sacrum"].status == "stopped"
    assert [k for _, k, _ in src.take_events()] == ["link_up", "link_closed"]


def test_bad_arguments_are_clear_errors():
    be = FlakyBackend()
    with pytest.raises(InputError, match="distinct roles"):
        BleSource(be, [sacrum(), sacrum()])
    with pytest.raises(InputError, match="time_scale"):
        BleSource(be, [sacrum()], time_scale=0)
    with pytest.raises(InputError, match="address must be"):
        sacrum("")
    with pytest.raises(InputError, match="asynchronous"):
        next(iter(BleSource(be, [sacrum()]).batches()))
