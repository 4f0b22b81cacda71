"""Emulated Polar H10 and Movesense: bumble GATT servers fed by the simulated runner.

They run on bumble's virtual controllers (``bumble.controller.Controller`` on a
``bumble.link.LocalLink``), so breathform's BLE code, through
:class:`~breathform.firmware_bridge.bumble_link.BumbleBackend`, talks to them over a real
host stack (HCI, L2CAP, ATT, GATT) in one process. The packets they stream are the ones
:mod:`breathform.sim.emit` encodes from :mod:`breathform.sim.run`, sent at their
simulated send times (``time_scale`` times faster than real time if asked), and only
while the client has started the stream; what falls into a link drop is never sent, as
with a real sensor.

Emulated Polar H10 (SENSORS.md): PMD control point (read: feature bitmap ``0F 05 00``;
write: get settings, start and stop ACC; answers as indications with the real strap's
bytes), PMD data notifications (ACC frames, int16 mG, device-clock timestamps), Heart Rate
Measurement notifications, battery level. It streams only ACC at the simulated rate and
range (other settings are refused with the PMD status a strap uses for them) and no ECG.
It stops streaming when the link drops.

Emulated Movesense: sensor-data protocol (hello, subscribe ``/Meas/IMU6/<rate>``,
unsubscribe; results as notifications), IMU6 data tagged with the client's reference byte.
Like the firmware, it forgets subscriptions when the link drops.

Emulated WitMotion BWT901BLE5.0: streams 20-byte 0x61 packets while notifications are on,
cut into notifications of irregular sizes (split and joined packets, as the real sensor's
UART-to-BLE bridge does); accepts the unlock and output-rate register writes.

Emulated DIY board (breathform's open profile, hardware/README.md): a read-only config
characteristic and data notifications with sequence numbers and a drifting microsecond
clock; it streams while notifications are on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from bumble import data_types, gatt
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device, DeviceConfiguration
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge.bumble_link import BumbleBackend
from breathform.firmware_bridge.devices import diy_profile as diy
from breathform.firmware_bridge.devices import movesense as ms
from breathform.firmware_bridge.devices import polar_h10 as h10
from breathform.firmware_bridge.devices import witmotion as wit
from breathform.model import RawPacket
from breathform.sim.emit import EmitParams, iter_packets
from breathform.sim.imu import SimImu
from breathform.sim.run import SimParams, SimRun, simulate_run

H10_FEATURES = bytes([0x0F, 0x05, 0x00])
"""What a real H10 answers to a control-point read: ECG and ACC."""
H10_ACC_SETTINGS = bytes.fromhex("0004190032006400c800010110000203020004000800")
"""Params of a real H10's "get ACC settings" answer (rates, resolution, ranges)."""
H10_ECG_SETTINGS = bytes.fromhex("000182000101" "0e00")

_RW = gatt.Characteristic.Properties
_ADV_INTERVAL_MS = 20.0
"""Advertise every 20 ms (the fastest BLE allows) so connections come up at once."""


@dataclass(frozen=True, slots=True)
class TimedNotification:
    """A notification a peripheral sends at a given simulated time.

    Attributes:
        t_s: Simulated send time (session seconds of the simulator).
        char: Characteristic UUID.
        payload: The bytes.
    """

    t_s: float
    char: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class SimStreams:
    """A simulated run's notifications, split by device.

    Attributes:
        run: The simulated run (samples and ground truth).
        chest: Polar H10 ACC frames and Heart Rate notifications, in send order.
        sacrum: Movesense IMU6 notifications, in send order.
        chest_fs_hz: H10 ACC rate.
        sacrum_fs_hz: Movesense IMU6 rate.
        chest_range_g: H10 ACC range the frames were clipped to.
    """

    run: SimRun
    chest: tuple[TimedNotification, ...]
    sacrum: tuple[TimedNotification, ...]
    chest_fs_hz: float
    sacrum_fs_hz: float
    chest_range_g: float


def simulate_streams(*, duration_s: float, seed: int, chest_fs_hz: float = 200.0,
                     sacrum_fs_hz: float = 104.0, chest_range_g: float = 8.0,
                     flat: bool = True) -> SimStreams:
    """Simulate a run and encode what each device would send, with no loss or latency.

    The link (bumble, or a real radio) adds its own delivery; the emulated devices send
    each notification at its simulated send time.

    Args:
        duration_s: Run length in seconds (whole seconds).
        seed: Simulator and emitter seed.
        chest_fs_hz: H10 ACC rate (25, 50, 100, 200).
        sacrum_fs_hz: Movesense IMU6 rate (52, 104, 208).
        chest_range_g: H10 ACC range (2, 4, 8).
        flat: A steady flat run (else hilly, when it is long enough).

    Returns:
        The notifications of both devices.
    """
    kw: dict[str, Any] = {"seed": seed, "duration_s": round(duration_s),
                          "chest_fs_hz": chest_fs_hz, "sacrum_fs_hz": sacrum_fs_hz}
    params = SimParams.flat(**kw) if flat else SimParams.hilly(n_climbs=1, **kw)
    run = simulate_run(params)
    ep = EmitParams(seed=seed, chest_fs_hz=chest_fs_hz, sacrum_fs_hz=sacrum_fs_hz,
                    polar_range_g=chest_range_g, loss_prob=0.0, latency_min_s=0.0,
                    latency_max_s=0.0, latency_spike_prob=0.0)
    chest: list[TimedNotification] = []
    sacrum: list[TimedNotification] = []
    pkt: RawPacket
    for pkt in iter_packets(ep, run.chest.t_s, run.chest.acc_g, run.sacrum.t_s,
                            run.sacrum.acc_g, run.sacrum.gyr_dps, hr_t_s=run.hr_t_s,
                            hr_bpm=run.hr_bpm, rr_ms=run.rr_ms):
        (chest if pkt.sensor == "chest" else sacrum).append(
            TimedNotification(pkt.t_rx_s, pkt.char, pkt.payload))
    return SimStreams(run, tuple(chest), tuple(sacrum), chest_fs_hz, sacrum_fs_hz,
                      chest_range_g)


def witmotion_notifications(imu: SimImu, *, seed: int, min_bytes: int = 7,
                            max_bytes: int = 60) -> tuple[TimedNotification, ...]:
    """A simulated IMU as a WitMotion sends it: 0x61 packets cut at random byte counts.

    Each notification goes out when the last sample it completes was taken.

    Args:
        imu: The simulated stream (acc + gyro; angles are sent as zeros).
        seed: Seed of the cut points.
        min_bytes: Smallest notification.
        max_bytes: Largest notification.

    Returns:
        The notifications, in send order.
    """
    data = wit.encode_packets(imu.acc_g, imu.gyr_dps)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x61]))
    sizes = rng.integers(min_bytes, max_bytes + 1, size=len(data) // min_bytes + 1)
    ends = np.minimum(np.cumsum(sizes), len(data))
    ends = ends[: int(np.searchsorted(ends, len(data))) + 1]
    out: list[TimedNotification] = []
    start = 0
    for end in ends.tolist():
        i = max(0, end // wit.PACKET_LEN - 1)  # last sample whose packet is complete
        out.append(TimedNotification(float(imu.t_s[i]), wit.NOTIFY_UUID, data[start:end]))
        start = end
    return tuple(out)


def diy_notifications(imu: SimImu, config: diy.DiyConfig, *, t0_us: int = 4_000_000_000,
                      drift_ppm: float = 35.0) -> tuple[TimedNotification, ...]:
    """A simulated IMU as a DIY board on breathform's profile sends it.

    The board's microsecond clock starts at ``t0_us`` (near the u32 wrap, so streams wrap)
    and runs ``drift_ppm`` fast; ``seq`` counts every packet built, sent or not.

    Args:
        imu: The simulated stream, at ``config.rate_hz``.
        config: The board's configuration (ranges, samples per packet).
        t0_us: Device time at session time 0.
        drift_ppm: Device clock rate error.

    Returns:
        The notifications, in send order.

    Raises:
        InputError: If the stream's rate is not the config's.
    """
    if imu.fs_hz != config.rate_hz:
        raise InputError(f"the simulated stream is at {imu.fs_hz} Hz, the board's config "
                         f"at {config.rate_hz} Hz")
    acc = diy.quantize(imu.acc_g, config.acc_range_g)
    gyr = diy.quantize(imu.gyr_dps, config.gyr_range_dps) if config.has_gyro else None
    spp = config.samples_per_packet
    t_us = np.rint(t0_us + imu.t_s * 1e6 * (1 + drift_ppm * 1e-6)).astype(np.int64)
    out: list[TimedNotification] = []
    for k, i in enumerate(range(0, imu.t_s.shape[0] - spp + 1, spp)):
        payload = diy.encode_data(k, int(t_us[i]), acc[i:i + spp],
                                  None if gyr is None else gyr[i:i + spp],
                                  acc_code=config.acc_code, gyr_code=config.gyr_code)
        out.append(TimedNotification(float(imu.t_s[i + spp - 1]), diy.DATA_UUID, payload))
    return tuple(out)


class VirtualRadio:
    """bumble virtual controllers on one in-process link: a central plus peripherals."""

    def __init__(self) -> None:
        self.link = LocalLink()  # type: ignore[no-untyped-call]

    def device(self, name: str, address: str, advertising_data: bytes | None = None
               ) -> Device:
        """A bumble device on its own virtual controller attached to the link.

        Args:
            name: Device name.
            address: Static random address (first byte >= 0xC0).
            advertising_data: Raw advertising data (default: the name).

        Returns:
            The device (not yet powered on).
        """
        ctrl = Controller(name, link=self.link, public_address=address)
        cfg = DeviceConfiguration(name=name, address=Address(address))
        cfg.advertising_data = advertising_data if advertising_data is not None else bytes(
            AdvertisingData([data_types.CompleteLocalName(name)]))
        return Device(config=cfg, host=Host(ctrl, AsyncPipeSink(ctrl)))

    async def central(self, address: str = "F0:F0:F0:F0:F0:F0") -> BumbleBackend:
        """The central for breathform's side: a powered-on central wrapped as a backend."""
        dev = self.device("breathform", address)
        await dev.power_on()
        return BumbleBackend.from_device(dev)


class TransportRadio:
    """Peripherals attached through HCI transports, one transport per device.

    For emulated sensors in one process and breathform in another: e.g. bumble's
    controllers app (``python -m bumble.apps.controllers tcp-server:_:9001 ...``) links
    its virtual controllers; each emulated sensor takes one of them over TCP, and
    ``breathform scan|run --bumble tcp-client:...`` another.

    Args:
        transports: Opened bumble transports (see :meth:`open`).
    """

    def __init__(self, transports: Sequence[Any]) -> None:
        self._transports = list(transports)
        self._free = list(transports)

    @classmethod
    async def open(cls, names: Sequence[str]) -> TransportRadio:
        """Open the named transports (e.g. ``tcp-client:127.0.0.1:9002``)."""
        from bumble.transport import open_transport

        return cls([await open_transport(n) for n in names])

    def device(self, name: str, address: str, advertising_data: bytes | None = None
               ) -> Device:
        """A device on the next free transport (see :meth:`VirtualRadio.device`).

        Raises:
            InputError: If every transport is taken.
        """
        if not self._free:
            raise InputError(f"no free HCI transport for {name!r}: opened "
                             f"{len(self._transports)}, one per emulated device")
        tr = self._free.pop(0)
        cfg = DeviceConfiguration(name=name, address=Address(address))
        cfg.advertising_data = advertising_data if advertising_data is not None else bytes(
            AdvertisingData([data_types.CompleteLocalName(name)]))
        return Device.from_config_with_hci(cfg, tr.source, tr.sink)

    async def close(self) -> None:
        """Close the transports."""
        for tr in self._transports:
            with contextlib.suppress(Exception):
                await tr.close()


class Radio(Protocol):
    """Where emulated peripherals get their bumble device from."""

    def device(self, name: str, address: str, advertising_data: bytes | None = None
               ) -> Device:
        """A device with the given identity."""
        ...


@dataclass(slots=True)
class PeripheralStats:
    """What an emulated peripheral did.

    Attributes:
        connections: Links accepted.
        drops: Links it dropped on purpose.
        sent: Data notifications sent, per characteristic UUID.
        sent_payloads: Those notifications' bytes, per characteristic UUID, in order.
        skipped: Data notifications not sent (no stream running), per characteristic.
        commands: Control writes received, in order.
    """

    connections: int = 0
    drops: int = 0
    sent: dict[str, int] = field(default_factory=dict)
    sent_payloads: dict[str, list[bytes]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    commands: list[bytes] = field(default_factory=list)


class _Peripheral:
    """Common parts: advertising, connection tracking, the timed streaming task."""

    def __init__(self, radio: Radio, name: str, address: str,
                 notifications: Sequence[TimedNotification], advertising: bytes,
                 time_scale: float) -> None:
        if not time_scale > 0:
            raise InputError(f"time_scale must be > 0, got {time_scale}")
        self.name, self.address = name, address
        self.device = radio.device(name, address, advertising)
        self.notifications = tuple(notifications)
        self.time_scale = time_scale
        self.stats = PeripheralStats()
        self.readvertise_delay_s = 0.0
        self.drop_at_s: list[float] = []
        # (simulated time, function) to run then, e.g. the H10 stopping its streams
        self.actions_at_s: list[tuple[float, Callable[[], None]]] = []
        self.conn: Connection | None = None
        self._subscribed: set[str] = set()
        self._chars: dict[str, gatt.Characteristic[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0
        self.connected = asyncio.Event()
        self.finished = asyncio.Event()
        self.log: Callable[[str], None] | None = None

    def _log(self, text: str) -> None:
        if self.log is not None:
            self.log(f"{self.name}: {text}")

    # ----------------------------------------------------------- set-up

    def _char(self, uuid: str, props: gatt.Characteristic.Properties,
              value: Any = b"") -> gatt.Characteristic[Any]:
        perms = gatt.Characteristic.Permissions.READABLE | \
            gatt.Characteristic.Permissions.WRITEABLE
        c: gatt.Characteristic[Any] = gatt.Characteristic(uuid, props, perms, value)
        key = uuid.lower()
        self._chars[key] = c

        def on_sub(_bearer: Any, notify: bool, indicate: bool) -> None:
            if notify or indicate:
                self._subscribed.add(key)
            else:
                self._subscribed.discard(key)

        c.on(c.EVENT_SUBSCRIPTION, on_sub)
        return c

    async def start(self) -> None:
        """Power on, advertise, and start the simulated clock and stream."""
        dev = self.device
        dev.on(dev.EVENT_CONNECTION, self._on_connection)
        await dev.power_on()
        await dev.start_advertising(auto_restart=False,
                                       advertising_interval_min=_ADV_INTERVAL_MS,
                                       advertising_interval_max=_ADV_INTERVAL_MS)
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self._task = asyncio.create_task(self._stream(), name=f"emulated-{self.name}")

    async def close(self) -> None:
        """Stop streaming and advertising; drop any link."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.disconnect()

    def now_s(self) -> float:
        """Simulated time since :meth:`start`."""
        return (asyncio.get_running_loop().time() - self._t0) * self.time_scale

    # ----------------------------------------------------------- links

    def _on_connection(self, conn: Connection) -> None:
        self.conn = conn
        self.stats.connections += 1
        self._log("connected")
        self.connected.set()
        conn.on(conn.EVENT_DISCONNECTION, lambda *_: self._on_disconnection(conn))

    def _on_disconnection(self, conn: Connection) -> None:
        self._log("disconnected")
        if self.conn is conn:
            self.conn = None
        self.connected.clear()
        self._subscribed.clear()
        self._link_lost()
        asyncio.get_running_loop().create_task(self._readvertise())

    async def _readvertise(self) -> None:
        if self.readvertise_delay_s > 0:
            await asyncio.sleep(self.readvertise_delay_s / self.time_scale)
        with contextlib.suppress(Exception):
            await self.device.start_advertising(auto_restart=False,
                                       advertising_interval_min=_ADV_INTERVAL_MS,
                                       advertising_interval_max=_ADV_INTERVAL_MS)

    async def drop_link(self) -> None:
        """Drop the link from the sensor's side (as a strap out of range would)."""
        conn = self.conn
        if conn is None:
            return
        self.stats.drops += 1
        await conn.disconnect()

    def _link_lost(self) -> None:
        """Device-specific: what the firmware forgets when the link drops."""

    def _streaming(self, char: str) -> bool:
        """Device-specific: whether this data characteristic is being streamed."""
        raise NotImplementedError

    def _payload(self, n: TimedNotification) -> bytes:
        return n.payload

    async def _stream(self) -> None:
        """Send each notification at its simulated time, when its stream is running."""
        loop = asyncio.get_running_loop()
        drops = sorted(self.drop_at_s)
        actions = sorted(self.actions_at_s, key=lambda a: a[0])
        for n in self.notifications:
            delay = (n.t_s / self.time_scale) - (loop.time() - self._t0)
            if delay > 0:
                await asyncio.sleep(delay)
            while drops and n.t_s >= drops[0]:
                drops.pop(0)
                await self.drop_link()
            while actions and n.t_s >= actions[0][0]:
                actions.pop(0)[1]()
            c = self._chars[n.char]
            if self.conn is not None and n.char in self._subscribed and \
                    self._streaming(n.char):
                payload = self._payload(n)
                try:
                    await self.device.notify_subscribers(c, payload)
                except Exception:  # noqa: BLE001  the link went down under us: not sent
                    self.stats.skipped[n.char] = self.stats.skipped.get(n.char, 0) + 1
                    continue
                self.stats.sent[n.char] = self.stats.sent.get(n.char, 0) + 1
                self.stats.sent_payloads.setdefault(n.char, []).append(payload)
            else:
                self.stats.skipped[n.char] = self.stats.skipped.get(n.char, 0) + 1
        self.finished.set()

    def _answer(self, char: gatt.Characteristic[Any], value: bytes, *,
                indicate: bool) -> None:
        """Send a control answer after the write response (as a real device does)."""
        async def send() -> None:
            with contextlib.suppress(Exception):
                if indicate:
                    await self.device.indicate_subscribers(char, value)
                else:
                    await self.device.notify_subscribers(char, value)

        asyncio.get_running_loop().create_task(send())


class EmulatedWitMotion(_Peripheral):
    """A WitMotion BWT901BLE5.0 on a virtual controller.

    Args:
        radio: Where to attach (virtual controllers, or HCI transports).
        notifications: What it streams (see :func:`witmotion_notifications`).
        address: Static random address.
        name: Advertised name.
        time_scale: Simulated seconds per real second.
    """

    def __init__(self, radio: Radio, notifications: Sequence[TimedNotification], *,
                 address: str = "C3:30:00:00:00:03", name: str = "WT901BLE67",
                 time_scale: float = 1.0) -> None:
        super().__init__(radio, name, address, notifications, _adv(name), time_scale)
        self.data = self._char(wit.NOTIFY_UUID, _RW.NOTIFY)
        self.cmd = self._char(wit.WRITE_UUID, _RW.WRITE | _RW.WRITE_WITHOUT_RESPONSE,
                              gatt.CharacteristicValue(write=self._write_cmd))
        self.device.add_service(gatt.Service(wit.SERVICE_UUID, [self.data, self.cmd]))

    def _write_cmd(self, _conn: Connection, value: bytes) -> None:
        value = bytes(value)
        self.stats.commands.append(value)
        self._log(f"command {value.hex()}")

    def _streaming(self, char: str) -> bool:
        return True  # it streams whenever notifications are on


class EmulatedDiyBoard(_Peripheral):
    """A DIY board on breathform's open GATT profile, on a virtual controller.

    Args:
        radio: Where to attach (virtual controllers, or HCI transports).
        notifications: What it streams (see :func:`diy_notifications`).
        config: Its read-only configuration.
        address: Static random address.
        name: Advertised name.
        time_scale: Simulated seconds per real second.
    """

    def __init__(self, radio: Radio, notifications: Sequence[TimedNotification],
                 config: diy.DiyConfig, *, address: str = "C4:40:00:00:00:04",
                 name: str = "BF-DIY 0004", time_scale: float = 1.0) -> None:
        super().__init__(radio, name, address, notifications, _adv(name), time_scale)
        self.config = config
        self.data = self._char(diy.DATA_UUID, _RW.NOTIFY)
        self.cfg_char = self._char(diy.CONFIG_UUID, _RW.READ,
                                   gatt.CharacteristicValue(read=self._read_config))
        self.device.add_service(gatt.Service(diy.SERVICE_UUID, [self.data, self.cfg_char]))
        self.config_reads = 0

    def _read_config(self, _conn: Connection) -> bytes:
        self.config_reads += 1
        return diy.encode_config(self.config)

    def _streaming(self, char: str) -> bool:
        return True  # it streams whenever notifications are on


def _adv(name: str, uuids16: Iterable[int] = ()) -> bytes:
    items: list[Any] = [data_types.Flags(AdvertisingData.Flags(0x06)),
                        data_types.CompleteLocalName(name)]
    u = [UUID.from_16_bits(x) for x in uuids16]
    if u:
        items.append(data_types.CompleteListOf16BitServiceUUIDs(u))
    return bytes(AdvertisingData(items))


class EmulatedPolarH10(_Peripheral):
    """A Polar H10 strap on a virtual controller, streaming a simulated chest.

    Args:
        radio: Where to attach (virtual controllers, or HCI transports).
        streams: The simulated run's notifications (its ``chest`` part is used).
        address: Static random address.
        name: Advertised name.
        time_scale: Simulated seconds per real second.

    Attributes:
        acc_streaming: True while ACC is started.
        unsolicited_stop: Send the "streams stopped" control-point message at these
            simulated times (a strap does so when it stops on its own).
    """

    def __init__(self, radio: Radio, streams: SimStreams, *,
                 address: str = "C1:10:00:00:00:01", name: str = "Polar H10 1A2B3C4D",
                 time_scale: float = 1.0) -> None:
        super().__init__(radio, name, address, streams.chest, _adv(name, (0x180D,)),
                         time_scale)
        self.fs_hz = int(streams.chest_fs_hz)
        self.range_g = int(streams.chest_range_g)
        self.acc_streaming = False
        self.cp = self._char(h10.PMD_CP_UUID, _RW.READ | _RW.WRITE | _RW.INDICATE,
                             gatt.CharacteristicValue(read=self._read_cp,
                                                      write=self._write_cp))
        self.data = self._char(h10.PMD_DATA_UUID, _RW.NOTIFY)
        self.hr = self._char(h10.HR_MEASUREMENT_UUID, _RW.NOTIFY)
        battery = self._char(h10.BATTERY_LEVEL_UUID, _RW.READ | _RW.NOTIFY, bytes([87]))
        dev = self.device
        dev.add_service(gatt.Service(h10.PMD_SERVICE_UUID, [self.cp, self.data]))
        dev.add_service(gatt.Service(h10.HR_SERVICE_UUID, [self.hr]))
        dev.add_service(gatt.Service("0000180f-0000-1000-8000-00805f9b34fb", [battery]))

    def _read_cp(self, _conn: Connection) -> bytes:
        return H10_FEATURES

    def _write_cp(self, _conn: Connection, value: bytes) -> None:
        value = bytes(value)
        self.stats.commands.append(value)
        self._log(f"command {value.hex()}")
        self._answer(self.cp, self._handle(value), indicate=True)

    def _handle(self, cmd: bytes) -> bytes:
        """The strap's answer to a control-point command."""
        if len(cmd) < 2:
            op = cmd[0] if cmd else 0
            return bytes([0xF0, op, 0, h10.CpStatus.INVALID_LENGTH, 0])
        op, mtype = cmd[0], cmd[1] & 0x3F

        def resp(status: int, params: bytes = b"") -> bytes:
            return bytes([0xF0, op, mtype, status, 0]) + params

        if op not in (h10.CpOpcode.GET_SETTINGS, h10.CpOpcode.START, h10.CpOpcode.STOP):
            return resp(h10.CpStatus.INVALID_OPCODE)
        if mtype not in (h10.MeasurementType.ECG, h10.MeasurementType.ACC):
            return resp(h10.CpStatus.INVALID_MEASUREMENT_TYPE)
        if op == h10.CpOpcode.GET_SETTINGS:
            return resp(0, H10_ACC_SETTINGS if mtype == h10.MeasurementType.ACC
                        else H10_ECG_SETTINGS)
        if mtype == h10.MeasurementType.ECG:
            return resp(h10.CpStatus.NOT_SUPPORTED)  # not emulated
        if op == h10.CpOpcode.STOP:
            self.acc_streaming = False
            return resp(0)
        if self.acc_streaming:
            return resp(h10.CpStatus.ALREADY_IN_STATE)
        try:
            settings = {s.setting_type: s.values for s in h10.parse_settings(cmd[2:])}
        except DecodeError:
            return resp(h10.CpStatus.INVALID_PARAMETER)
        checks = ((h10.SettingType.SAMPLE_RATE, self.fs_hz, h10.CpStatus.INVALID_SAMPLE_RATE),
                  (h10.SettingType.RESOLUTION, 16, h10.CpStatus.INVALID_RESOLUTION),
                  (h10.SettingType.RANGE, self.range_g, h10.CpStatus.INVALID_RANGE))
        for st, want, status in checks:
            if tuple(settings.get(st, ())) != (want,):
                return resp(status)
        self.acc_streaming = True
        return resp(0, b"\x01")

    def send_streams_stopped(self) -> None:
        """Stop ACC on the strap's own initiative and tell the client (``01 02``)."""
        self.acc_streaming = False
        self._answer(self.cp, bytes([0x01, h10.MeasurementType.ACC]), indicate=True)

    def _link_lost(self) -> None:
        self.acc_streaming = False

    def _streaming(self, char: str) -> bool:
        if char == h10.PMD_DATA_UUID:
            return self.acc_streaming
        return True  # heart rate flows whenever notifications are on


class EmulatedMovesense(_Peripheral):
    """A Movesense on a virtual controller running the sensor-data firmware.

    Args:
        radio: Where to attach (virtual controllers, or HCI transports).
        streams: The simulated run's notifications (its ``sacrum`` part is used).
        address: Static random address.
        name: Advertised name.
        time_scale: Simulated seconds per real second.

    Attributes:
        subscribed_ref: Reference byte of the IMU6 subscription, or None.
    """

    def __init__(self, radio: Radio, streams: SimStreams, *,
                 address: str = "C2:20:00:00:00:02", name: str = "Movesense 212345678901",
                 time_scale: float = 1.0) -> None:
        super().__init__(radio, name, address, streams.sacrum, _adv(name), time_scale)
        self.path = ms.imu6_path(int(streams.sacrum_fs_hz))
        self.subscribed_ref: int | None = None
        self.cmd = self._char(ms.WRITE_UUID, _RW.WRITE | _RW.WRITE_WITHOUT_RESPONSE,
                              gatt.CharacteristicValue(write=self._write_cmd))
        self.note = self._char(ms.NOTIFY_UUID, _RW.NOTIFY)
        self.device.add_service(gatt.Service(ms.SERVICE_UUID, [self.cmd, self.note]))

    def _write_cmd(self, _conn: Connection, value: bytes) -> None:
        value = bytes(value)
        self.stats.commands.append(value)
        self._log(f"command {value.hex()}")
        if len(value) < 2 or value[1] == 0:
            return  # the firmware ignores commands without a reference
        cmd, ref = value[0], value[1]
        if cmd == ms.CMD_SUBSCRIBE:
            path = value[2:].decode("utf-8", "replace")
            if path != self.path:
                status = 404
            elif self.subscribed_ref is not None:
                status = 409
            else:
                self.subscribed_ref, status = ref, 200
        elif cmd == ms.CMD_UNSUBSCRIBE:
            if self.subscribed_ref == ref:
                self.subscribed_ref, status = None, 200
            else:
                status = 404
        elif cmd == ms.CMD_HELLO:
            status = 200
        else:
            status = 400
        self._answer(self.note, ms.encode_result(ref, status), indicate=False)

    def _link_lost(self) -> None:
        self.subscribed_ref = None  # the firmware unsubscribes everything

    def _streaming(self, char: str) -> bool:
        return self.subscribed_ref is not None

    def _payload(self, n: TimedNotification) -> bytes:
        ref = self.subscribed_ref if self.subscribed_ref is not None else n.payload[1]
        return n.payload[:1] + bytes([ref]) + n.payload[2:]


SACRUM_KINDS: dict[str, float] = {"movesense": 104.0, "witmotion": 100.0, "diy": 104.0}
"""Sensor kinds the emulator can put on the sacrum, with the rate each streams at."""


def emulated_sacrum(radio: Radio, kind: str, *, duration_s: float, seed: int,
                    time_scale: float = 1.0) -> tuple[SimStreams, _Peripheral]:
    """Simulate a run and the sacrum sensor of the given kind streaming it.

    Args:
        radio: Where to attach the sensor.
        kind: "movesense", "witmotion" or "diy" (see ``SACRUM_KINDS`` for the rates).
        duration_s: Run length.
        seed: Simulator seed.
        time_scale: Simulated seconds per real second.

    Returns:
        The simulated streams (for the chest strap too) and the emulated sensor.

    Raises:
        InputError: For another kind.
    """
    if kind not in SACRUM_KINDS:
        raise InputError(f"sacrum kind must be one of {sorted(SACRUM_KINDS)}, got {kind!r}")
    fs = SACRUM_KINDS[kind]
    streams = simulate_streams(duration_s=duration_s, seed=seed, sacrum_fs_hz=fs)
    sensor: _Peripheral
    if kind == "witmotion":
        sensor = EmulatedWitMotion(radio, witmotion_notifications(streams.run.sacrum,
                                                                  seed=seed),
                                   time_scale=time_scale)
    elif kind == "diy":
        cfg = diy.DiyConfig(rate_hz=int(fs), acc_range_g=8.0, battery_pct=90)
        sensor = EmulatedDiyBoard(radio, diy_notifications(streams.run.sacrum, cfg), cfg,
                                  time_scale=time_scale)
    else:
        sensor = EmulatedMovesense(radio, streams, time_scale=time_scale)
    return streams, sensor


async def serve(transports: Sequence[str], *, duration_s: float, seed: int,
                time_scale: float = 1.0, drop_at_s: Sequence[float] = (),
                log: Callable[[str], None] = print, sacrum_kind: str = "movesense") -> None:
    """Run an emulated H10 and Movesense, with host controllers on HCI transports.

    Each transport gets a virtual controller on the same link as the emulated sensors, so
    ``breathform scan|run --bumble tcp-client:HOST:PORT`` (in another process) sees them as
    real sensors. Prints ``ready`` once everything listens, then one line per connection,
    disconnection and control command. Runs until cancelled.

    Args:
        transports: bumble transport names, e.g. ``tcp-server:127.0.0.1:9001``.
        duration_s: Length of the simulated run the sensors stream.
        seed: Simulator seed.
        time_scale: Simulated seconds per real second.
        drop_at_s: Simulated times at which the H10 drops its link.
        log: Where the lines go.
        sacrum_kind: The emulated sacrum sensor: "movesense", "witmotion" or "diy".
    """
    from bumble.transport import open_transport

    radio = VirtualRadio()
    opened = []
    for i, name in enumerate(transports):
        tr = await open_transport(name)
        opened.append(tr)
        Controller(f"host{i}", host_source=tr.source, host_sink=tr.sink, link=radio.link)
    streams, sacrum = emulated_sacrum(radio, sacrum_kind, duration_s=duration_s, seed=seed,
                                      time_scale=time_scale)
    chest = EmulatedPolarH10(radio, streams, time_scale=time_scale)
    chest.drop_at_s = list(drop_at_s)
    for p in (chest, sacrum):
        p.log = log
        await p.start()
    log(f"ready: {chest.name} at {chest.address}, {sacrum.name} at {sacrum.address}")
    try:
        await asyncio.Event().wait()
    finally:
        for p in (chest, sacrum):
            await p.close()
        for tr in opened:
            with contextlib.suppress(Exception):
                await tr.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m breathform.sim.peripherals TRANSPORT...``: emulated sensors to test with."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(
        prog="python -m breathform.sim.peripherals",
        description="Emulated Polar H10 + a sacrum sensor (Movesense, WitMotion or DIY "
        "board) streaming a simulated run, on bumble "
        "virtual controllers. Each TRANSPORT (e.g. tcp-server:127.0.0.1:9001) gets a host "
        "controller on the same virtual link: point `breathform scan|run --bumble "
        "tcp-client:127.0.0.1:9001` at it.")
    ap.add_argument("transports", nargs="+", metavar="TRANSPORT")
    ap.add_argument("--minutes", type=float, default=30.0, help="simulated run length")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--drop-at", type=float, action="append", default=[],
                    help="the H10 drops its link at this simulated second (repeatable)")
    ap.add_argument("--sacrum-kind", choices=sorted(SACRUM_KINDS), default="movesense",
                    help="the emulated sacrum sensor (default movesense; witmotion streams "
                    "at 100 Hz, diy at 104 Hz: set sensors.sacrum in the config to match)")
    args = ap.parse_args(argv)

    def log(text: str) -> None:
        print(text, flush=True)

    try:
        asyncio.run(serve(args.transports, duration_s=args.minutes * 60.0, seed=args.seed,
                          drop_at_s=args.drop_at, log=log, sacrum_kind=args.sacrum_kind))
    except KeyboardInterrupt:
        return 130
    except (OSError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
