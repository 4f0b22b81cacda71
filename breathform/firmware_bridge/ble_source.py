"""Live packets from BLE sensors: a :class:`~breathform.runtime.PacketSource` for run_session.

One supervisor task per sensor connects (resolving a name by scanning), starts the
sensor's streams through its driver, and waits; when the link drops it records the drop,
reconnects with backoff, restarts the streams and records how long the gap was. On exit
(end of ``duration_s``, or cancellation) it stops the streams and only then disconnects: a
Polar H10 otherwise streams until its battery is flat.

The notification callback only timestamps and enqueues (STYLE.md §5): it builds a
:class:`~breathform.model.RawPacket` with the loop's clock and appends it to a bounded
buffer that :meth:`BleSource.abatches` hands to the runtime. Decoding happens downstream,
after the raw packet is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from dataclasses import dataclass

from breathform.errors import BreathformError, InputError
from breathform.firmware_bridge.devices import witmotion
from breathform.firmware_bridge.drivers import SensorDriver, make_driver
from breathform.firmware_bridge.link import (
    Backoff,
    BleBackend,
    GattLink,
    LinkError,
    NoAdapterError,
    NotifyCallback,
    find_address,
)
from breathform.model import DEVICE_KINDS, SENSOR_ROLES, RawPacket, SensorInfo


@dataclass(frozen=True, slots=True)
class SensorTarget:
    """One sensor to stream from.

    Attributes:
        role: "chest" or "sacrum".
        kind: "polar_h10", "movesense", "witmotion" or "diy".
        address: Its address, or the start of its advertised name.
        rate_hz: IMU rate to request.
        range_g: Accelerometer full scale to request.
    """

    role: str
    kind: str
    address: str
    rate_hz: float
    range_g: float

    def __post_init__(self) -> None:
        if self.role not in SENSOR_ROLES:
            raise InputError(f"role must be one of {SENSOR_ROLES}, got {self.role!r}")
        if self.kind not in DEVICE_KINDS:
            raise InputError(f"kind must be one of {DEVICE_KINDS}, got {self.kind!r}")
        if not self.address:
            raise InputError(f"{self.role}: address must be a BLE address or a device name")


@dataclass(slots=True)
class LinkStats:
    """Per-sensor link counters (for the live view, the summary and the tests).

    Attributes:
        status: "connecting", "streaming", "reconnecting", "stopped" or an error text.
        received: Notifications received (and handed on).
        connects: Successful connections (first one included).
        drops: Links that dropped while streaming.
        failed_attempts: Connection attempts that failed.
        gap_s: Session seconds spent without a link after a drop, summed.
    """

    status: str = "connecting"
    received: int = 0
    connects: int = 0
    drops: int = 0
    failed_attempts: int = 0
    gap_s: float = 0.0


class BleSource:
    """Packets from live BLE sensors, in receive order.

    Args:
        backend: The Bluetooth host (bleak or bumble).
        targets: The sensors, at most one per role.
        backoff: Reconnection delays.
        connect_timeout_s: Longest wait for one connection (or name scan).
        duration_s: End the session after this many session seconds (None: run until
            cancelled, e.g. by Ctrl-C).
        time_scale: Session seconds per loop second. 1 for real sensors; an emulation
            that plays its sensors faster than real time sets the same factor here so
            device clocks and receive times agree.
        max_buffer_packets: Bound of the receive buffer; when the runtime falls this far
            behind, the oldest packets are dropped and counted (``dropped``).
        batch_interval_s: How often (loop seconds) a batch is handed on at most.

    Attributes:
        sensors: What the session knows about each sensor.
        stats: Per-role link counters.
        dropped: Packets dropped because the buffer was full.
    """

    live = True
    name = "ble"

    def __init__(self, backend: BleBackend, targets: Sequence[SensorTarget], *,
                 backoff: Backoff | None = None, connect_timeout_s: float = 10.0,
                 duration_s: float | None = None, time_scale: float = 1.0,
                 max_buffer_packets: int = 20_000, batch_interval_s: float = 0.1) -> None:
        roles = [t.role for t in targets]
        if not targets or len(set(roles)) != len(roles):
            raise InputError(f"need one or two sensors with distinct roles, got {roles}")
        if not time_scale > 0:
            raise InputError(f"time_scale must be > 0, got {time_scale}")
        if duration_s is not None and not duration_s > 0:
            raise InputError(f"duration_s must be > 0 or None, got {duration_s}")
        self.backend = backend
        self.targets = tuple(targets)
        self.backoff = backoff if backoff is not None else Backoff()
        self.connect_timeout_s = connect_timeout_s
        self.duration_s = duration_s
        self.time_scale = time_scale
        self.batch_interval_s = batch_interval_s
        self.drivers: dict[str, SensorDriver] = {
            t.role: make_driver(t.kind, rate_hz=t.rate_hz, range_g=t.range_g)
            for t in self.targets}
        self.sensors: tuple[SensorInfo, ...] = tuple(
            SensorInfo(t.role, t.kind, float(t.rate_hz), _acc_range_g(t),
                       t.kind != "polar_h10") for t in self.targets)
        self.stats = {t.role: LinkStats() for t in self.targets}
        self.dropped = 0
        self._buf: deque[RawPacket] = deque(maxlen=max_buffer_packets)
        self._events: list[tuple[float, str, str]] = []
        self._wake: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0

    # ----------------------------------------------------------------- runtime API

    def batches(self) -> Iterator[list[RawPacket]]:
        """Not available: live BLE is asynchronous.

        Raises:
            InputError: Always; the runtime iterates :meth:`abatches`.
        """
        raise InputError("BleSource is asynchronous: iterate abatches() (run_session does)")

    async def abatches(self) -> AsyncIterator[list[RawPacket]]:
        """Connect, stream, and yield the received packets in batches until the end.

        Yields:
            Lists of packets in receive order.

        Raises:
            NoAdapterError: If there is no Bluetooth adapter.
            BreathformError: If a sensor cannot be configured as asked (e.g. an invalid
                rate), which retrying would not fix.
        """
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._t0 = loop.time()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        tasks = [asyncio.create_task(self._supervise(t), name=f"ble-{t.role}")
                 for t in self.targets]
        try:
            while True:
                if self.duration_s is not None and self.now_s() >= self.duration_s:
                    break
                for tk in tasks:
                    if tk.done() and tk.exception() is not None:
                        raise tk.exception()  # type: ignore[misc]
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.batch_interval_s):
                        await self._wake.wait()
                self._wake.clear()
                if self._buf:
                    yield self._take()
        finally:
            self._stopping.set()
            # stop streams and disconnect even when cancelled (Ctrl-C)
            await asyncio.shield(self._finish(tasks))
        if self._buf:
            yield self._take()

    async def _finish(self, tasks: list[asyncio.Task[None]]) -> None:
        done, pending = await asyncio.wait(tasks, timeout=15.0)
        for tk in pending:
            tk.cancel()
        for tk in done:
            if not tk.cancelled() and tk.exception() is not None:
                self._event("link_error", f"{tk.get_name()}: {tk.exception()}")

    def take_events(self) -> list[tuple[float, str, str]]:
        """Link events since the last call: (t_s, kind, detail), for the session store."""
        ev, self._events = self._events, []
        return ev

    def context(self, t_s: float) -> dict[str, str]:
        """Each sensor's link state, for the live view (says which one is missing)."""
        return {f"{role} link": st.status for role, st in self.stats.items()}

    def now_s(self) -> float:
        """Session time (seconds since the source started)."""
        if self._loop is None:
            return 0.0
        return (self._loop.time() - self._t0) * self.time_scale

    # ----------------------------------------------------------------- internals

    def _take(self) -> list[RawPacket]:
        out = list(self._buf)
        self._buf.clear()
        return out

    def _event(self, kind: str, detail: str) -> None:
        self._events.append((self.now_s(), kind, detail))

    def _callback(self, role: str) -> NotifyCallback:
        st = self.stats[role]
        buf = self._buf

        def on_packet(char: str, data: bytes) -> None:
            # timestamp and enqueue only: no parsing, no await
            if len(buf) == buf.maxlen:
                self.dropped += 1
            buf.append(RawPacket(self.now_s(), role, char, data))
            st.received += 1
            if self._wake is not None:
                self._wake.set()

        return on_packet

    async def _wait_stop(self, timeout_s: float) -> bool:
        """Sleep up to ``timeout_s`` loop seconds; True if stopping was asked meanwhile."""
        if self._stopping is None:
            raise RuntimeError("_wait_stop runs inside abatches()")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._stopping.wait()
        return self._stopping.is_set()

    async def _stream_until_event(self, t: SensorTarget, driver: SensorDriver,
                                  link: GattLink, dropped: asyncio.Event,
                                  on_packet: NotifyCallback) -> bool:
        """Wait while streaming; True when the sensor stopped on its own and was restarted.

        False when the link dropped or the session is stopping (the caller tells which).
        """
        stopping = self._stopping
        if stopping is None:
            raise RuntimeError("_stream_until_event runs inside abatches()")
        sensor_stop = asyncio.ensure_future(driver.wait_stopped())
        done = await _wait_first(dropped.wait(), stopping.wait(), sensor_stop)
        if sensor_stop not in done or dropped.is_set() or stopping.is_set():
            return False
        self._event("stream_stopped", f"{t.role}: the sensor stopped streaming; restarting")
        try:
            await driver.start(link, on_packet)
        except LinkError as exc:
            self._event("link_error", f"{t.role}: restart failed: {exc}")
            dropped.set()  # handled like a drop: reconnect
            return False
        self._event("stream_restarted", f"{t.role}: streaming again")
        return True

    async def _supervise(self, t: SensorTarget) -> None:
        """Connect, stream, reconnect after drops, stop cleanly at the end."""
        stopping = self._stopping
        if stopping is None:
            raise RuntimeError("_supervise runs inside abatches()")
        st = self.stats[t.role]
        driver = self.drivers[t.role]
        on_packet = self._callback(t.role)
        attempt = 0
        lost_at: float | None = None
        while not stopping.is_set():
            link: GattLink | None = None
            dropped = asyncio.Event()
            try:
                address = await find_address(self.backend, t.address, kind=t.kind,
                                             timeout_s=self.connect_timeout_s)
                link = await self.backend.open_link(address)
                link.set_disconnected_callback(dropped.set)
                await link.connect(self.connect_timeout_s)
                await driver.start(link, on_packet)
            except NoAdapterError:
                raise
            except LinkError as exc:
                st.failed_attempts += 1
                st.status = f"retrying: {exc}"
                self._event("link_error", f"{t.role}: {exc}")
                if link is not None:
                    await link.disconnect()
                if await self._wait_stop(self.backoff.delay_s(attempt)):
                    break
                attempt += 1
                continue
            st.connects += 1
            st.status = "streaming"
            now = self.now_s()
            if lost_at is None:
                self._event("link_up", f"{t.role}: {t.kind} {address} streaming "
                                       f"(ATT MTU {link.mtu})")
            else:
                st.gap_s += now - lost_at
                self._event("link_restored", f"{t.role}: streaming again after a "
                                             f"{now - lost_at:.2f} s gap")
            attempt = 0
            while await self._stream_until_event(t, driver, link, dropped, on_packet):
                pass  # the sensor stopped on its own and the stream was restarted
            if stopping.is_set() and not dropped.is_set():
                await driver.stop(link)  # streams first, then the link
                await link.disconnect()
                st.status = "stopped"
                self._event("link_closed", f"{t.role}: streams stopped, disconnected")
                return
            lost_at = self.now_s()
            st.drops += 1
            st.status = "reconnecting"
            self._event("link_lost", f"{t.role}: link dropped; reconnecting")
            await link.disconnect()
            if await self._wait_stop(self.backoff.delay_s(0)):
                break
            attempt = 1
        st.status = "stopped"


def _acc_range_g(t: SensorTarget) -> float:
    """The accelerometer full scale a target streams with (WitMotion: fixed 16 g)."""
    return witmotion.ACC_RANGE_G if t.kind == "witmotion" else float(t.range_g)


async def _wait_first(*aws: Awaitable[object]) -> set[asyncio.Future[object]]:
    """Wait for the first of several awaitables; cancel the rest."""
    futs: list[asyncio.Future[object]] = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(futs, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for f in futs:
            f.cancel()
    return done


def check_fatal(exc: BaseException) -> BreathformError | None:
    """The breathform error inside an exception group from a session, if any."""
    if isinstance(exc, BreathformError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for e in exc.exceptions:
            found = check_fatal(e)
            if found is not None:
                return found
    return None
