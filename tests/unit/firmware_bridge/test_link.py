"""GATT-link helpers and the sensor drivers, against a fake link (no radio).

The fake implements the same GattLink interface as the bleak and bumble links; it answers
writes with scripted notifications, delivered on the event loop like a real stack does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest

from breathform.errors import InputError
from breathform.firmware_bridge.devices import diy_profile as diy
from breathform.firmware_bridge.devices import movesense as ms
from breathform.firmware_bridge.devices import polar_h10 as h10
from breathform.firmware_bridge.devices import witmotion as wit
from breathform.firmware_bridge.drivers import MovesenseDriver, PolarH10Driver, make_driver
from breathform.firmware_bridge.link import (
    Advertisement,
    Backoff,
    LinkError,
    classify,
    find_address,
    looks_like_address,
    normalize_uuid,
)

# the real strap's answers (SENSORS.md)
H10_FEATURES = bytes.fromhex("0f0500")
H10_GET_ACC = bytes.fromhex("f00102000000041900320064" "00c800010110000203020004000800")
H10_START_OK = bytes.fromhex("f00202000001")
START_200_8 = bytes.fromhex("02020001c8000101100002010800")


class FakeLink:
    """A GattLink whose peer is a function: write -> notifications to send back."""

    def __init__(self, chars: set[str], answer: Callable[[str, bytes], list[tuple[str, bytes]]],
                 read_values: dict[str, bytes] | None = None, mtu: int = 517) -> None:
        self.chars = {normalize_uuid(c) for c in chars}
        self.answer = answer
        self.read_values = read_values or {}
        self._mtu = mtu
        self.log: list[tuple[str, str, bytes]] = []
        self.callbacks: dict[str, Callable[[str, bytes], None]] = {}
        self.connected = True
        self._on_disc = None

    address = "AA:BB:CC:DD:EE:FF"

    @property
    def is_connected(self) -> bool:
        return self.connected

    @property
    def mtu(self) -> int:
        return self._mtu

    async def connect(self, timeout_s: float) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.log.append(("disconnect", "", b""))
        self.connected = False

    def set_disconnected_callback(self, callback) -> None:
        self._on_disc = callback

    def has_characteristic(self, char_uuid: str) -> bool:
        return normalize_uuid(char_uuid) in self.chars

    async def read(self, char_uuid: str) -> bytes:
        self.log.append(("read", char_uuid, b""))
        return self.read_values[char_uuid]

    async def write(self, char_uuid: str, data: bytes, *, response: bool) -> None:
        if not self.connected:
            raise LinkError("not connected")
        self.log.append(("write", char_uuid, bytes(data)))
        loop = asyncio.get_running_loop()
        for char, payload in self.answer(char_uuid, bytes(data)):
            cb = self.callbacks.get(char)
            if cb is not None:
                loop.call_soon(cb, char, payload)

    async def start_notify(self, char_uuid: str, callback) -> None:
        self.log.append(("notify", char_uuid, b""))
        self.callbacks[char_uuid] = callback

    async def stop_notify(self, char_uuid: str) -> None:
        self.callbacks.pop(char_uuid, None)


def h10_link(answers: dict[bytes, list[bytes]] | None = None) -> FakeLink:
    table = {bytes.fromhex("0102"): [H10_GET_ACC], START_200_8: [H10_START_OK],
             bytes.fromhex("0302"): [bytes.fromhex("f00302000000")]}
    table.update(answers or {})

    def answer(char: str, data: bytes) -> list[tuple[str, bytes]]:
        return [(h10.PMD_CP_UUID, r) for r in table.get(data, [])]

    return FakeLink({h10.PMD_CP_UUID, h10.PMD_DATA_UUID, h10.HR_MEASUREMENT_UUID}, answer,
                    {h10.PMD_CP_UUID: H10_FEATURES})


# ----------------------------------------------------------------------------- helpers

def test_normalize_uuid_expands_short_forms_on_the_bluetooth_base():
    assert normalize_uuid("2A37") == "00002a37-0000-1000-8000-00805f9b34fb"
    assert normalize_uuid("0x180d") == "0000180d-0000-1000-8000-00805f9b34fb"
    assert normalize_uuid(h10.PMD_CP_UUID.upper()) == h10.PMD_CP_UUID
    with pytest.raises(InputError, match="not a Bluetooth UUID"):
        normalize_uuid("hello")


def test_classify_by_name_or_service():
    assert classify("Polar H10 1A2B3C4D") == "polar_h10"
    assert classify("", (h10.PMD_SERVICE_UUID,)) == "polar_h10"
    assert classify("Movesense 212345678901") == "movesense"
    assert classify("", (ms.SERVICE_UUID,)) == "movesense"
    assert classify("Polar OH1") is None


def test_addresses_are_recognised():
    assert looks_like_address("C1:10:00:00:00:01")
    assert looks_like_address("c1:10:00:00:00:01/P")
    assert looks_like_address("3F2504E0-4F89-11D3-9A0C-0305E82C3301")  # macOS
    assert not looks_like_address("Polar H10")
    assert not looks_like_address("C1:10:00:00:00")


def test_backoff_grows_then_caps():
    b = Backoff(initial_s=0.5, factor=2.0, max_s=4.0)
    gen = b.delays_s()
    assert [next(gen) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.delay_s(10_000) == 4.0
    with pytest.raises(InputError, match="initial_s"):
        Backoff(initial_s=0.0)
    with pytest.raises(InputError, match="factor"):
        Backoff(factor=0.5)


class FakeBackend:
    name = "fake"

    def __init__(self, ads: list[Advertisement]) -> None:
        self.ads = ads
        self.scans = 0

    async def scan(self, timeout_s, *, stop_when=None):
        self.scans += 1
        return list(self.ads)

    async def open_link(self, address):
        raise NotImplementedError

    async def close(self):
        pass


async def test_find_address_resolves_names_and_passes_addresses_through():
    be = FakeBackend([Advertisement("C1:10:00:00:00:01", "Polar H10 1A2B", -70, (), "polar_h10"),
                      Advertisement("C1:10:00:00:00:02", "Polar H10 9F9F", -40, (), "polar_h10"),
                      Advertisement("C2:20:00:00:00:02", "Movesense 2123", -60, (), "movesense")])
    assert await find_address(be, "C9:99:00:00:00:01") == "C9:99:00:00:00:01"
    assert be.scans == 0
    # the strongest of the matching names
    assert await find_address(be, "Polar H10", kind="polar_h10") == "C1:10:00:00:00:02"
    assert await find_address(be, "Movesense") == "C2:20:00:00:00:02"
    with pytest.raises(LinkError, match="no device named 'Polar H9'"):
        await find_address(be, "Polar H9", timeout_s=0.1)


# ----------------------------------------------------------------------------- Polar H10

async def test_h10_driver_subscribes_first_then_reads_features_gets_settings_and_starts():
    link = h10_link()
    got: list[tuple[str, bytes]] = []
    drv = PolarH10Driver(rate_hz=200, range_g=8)
    await drv.start(link, lambda c, d: got.append((c, d)))
    ops = [(op, c) for op, c, _ in link.log]
    # indications and notifications on before the first command (SENSORS.md)
    first_write = ops.index(("write", h10.PMD_CP_UUID))
    assert ("notify", h10.PMD_CP_UUID) in ops[:first_write]
    assert ("notify", h10.PMD_DATA_UUID) in ops[:first_write]
    assert ("notify", h10.HR_MEASUREMENT_UUID) in ops[:first_write]
    assert ("read", h10.PMD_CP_UUID) in ops[:first_write]
    writes = [d for op, _, d in link.log if op == "write"]
    assert writes == [bytes.fromhex("0102"), START_200_8]
    assert h10.MeasurementType.ACC in drv.features
    offered = {s.setting_type: s.values for s in drv.acc_settings}
    assert offered[h10.SettingType.SAMPLE_RATE] == (25, 50, 100, 200)
    assert offered[h10.SettingType.RANGE] == (2, 4, 8)
    assert not drv.mtu_low
    # every control answer went on to the packet callback too (stored raw)
    assert [d for _, d in got] == [H10_GET_ACC, H10_START_OK]

    await drv.stop(link)
    assert [d for op, _, d in link.log if op == "write"][-1] == bytes.fromhex("0302")


async def test_h10_driver_joins_continuation_frames():
    head, tail = H10_GET_ACC[5:17], H10_GET_ACC[17:]
    frames = [bytes.fromhex("f001020001") + head, bytes.fromhex("f001020000") + tail]
    link = h10_link({bytes.fromhex("0102"): frames})
    drv = PolarH10Driver()
    await drv.start(link, lambda c, d: None)
    offered = {s.setting_type: s.values for s in drv.acc_settings}
    assert offered[h10.SettingType.RANGE] == (2, 4, 8)


async def test_h10_refusal_names_the_status():
    link = h10_link({START_200_8: [bytes.fromhex("f002020800")]})
    with pytest.raises(LinkError, match=r"status 8 \(INVALID_SAMPLE_RATE\)"):
        await PolarH10Driver().start(link, lambda c, d: None)


async def test_h10_rate_the_strap_does_not_offer_is_refused_before_starting():
    # rates 25 and 50 only; 16 bit; 8 g
    settings = bytes.fromhex("f001020000" "0002" "1900" "3200" "01011000" "02010800")
    link = h10_link({bytes.fromhex("0102"): [settings]})
    with pytest.raises(LinkError, match=r"offers ACC rate_hz \[25, 50\], not 200"):
        await PolarH10Driver().start(link, lambda c, d: None)
    assert START_200_8 not in [d for op, _, d in link.log if op == "write"]


async def test_h10_already_streaming_is_stopped_and_restarted():
    answers = iter([bytes.fromhex("f002020600"), H10_START_OK])
    link = h10_link({START_200_8: []})

    base = link.answer

    def answer(char, data):
        if data == START_200_8:
            return [(h10.PMD_CP_UUID, next(answers))]
        return base(char, data)

    link.answer = answer
    await PolarH10Driver().start(link, lambda c, d: None)
    writes = [d.hex() for op, _, d in link.log if op == "write"]
    assert writes == ["0102", START_200_8.hex(), "0302", START_200_8.hex()]


async def test_h10_silence_is_a_link_error_not_a_hang():
    link = h10_link({START_200_8: []})
    drv = PolarH10Driver(response_timeout_s=0.05)
    with pytest.raises(LinkError, match="no PMD answer to 02 02 00 01 c8"):
        await drv.start(link, lambda c, d: None)


async def test_h10_ignores_unsolicited_stop_and_garbage_while_waiting():
    link = h10_link({START_200_8: [bytes.fromhex("0102"), b"\x99", H10_START_OK]})
    drv = PolarH10Driver()
    await drv.start(link, lambda c, d: None)
    assert drv.n_streams_stopped == 1


async def test_h10_not_a_pmd_sensor():
    link = h10_link()
    link.read_values[h10.PMD_CP_UUID] = bytes.fromhex("0f0100")  # ECG only
    with pytest.raises(LinkError, match="no accelerometer stream"):
        await PolarH10Driver().start(link, lambda c, d: None)
    link.read_values[h10.PMD_CP_UUID] = b"\x00"
    with pytest.raises(LinkError, match="not a Polar PMD control point"):
        await PolarH10Driver().start(link, lambda c, d: None)


async def test_h10_low_mtu_is_flagged():
    link = h10_link()
    link._mtu = 23
    drv = PolarH10Driver()
    await drv.start(link, lambda c, d: None)
    assert drv.mtu_low


async def test_h10_stop_on_a_dead_link_is_quiet():
    link = h10_link()
    drv = PolarH10Driver()
    await drv.start(link, lambda c, d: None)
    link.connected = False
    await drv.stop(link)  # no error, nothing written
    assert [d for op, _, d in link.log if op == "write"][-1] == START_200_8


def test_driver_settings_are_validated():
    with pytest.raises(InputError, match="rate_hz must be one of"):
        PolarH10Driver(rate_hz=130)
    with pytest.raises(InputError, match="range_g must be one of"):
        make_driver("polar_h10", rate_hz=200, range_g=16)
    with pytest.raises(InputError, match="rate_hz must be one of"):
        MovesenseDriver(rate_hz=100)
    with pytest.raises(InputError, match="sensor kind"):
        make_driver("thingy52", rate_hz=100, range_g=8)
    with pytest.raises(InputError, match="rate_hz must be one of"):
        make_driver("witmotion", rate_hz=104, range_g=16)
    with pytest.raises(InputError, match="rate_hz must be in"):
        make_driver("diy", rate_hz=0, range_g=8)


# ----------------------------------------------------------------------------- Movesense

def ms_link(status_for: Callable[[bytes], list[int]]) -> FakeLink:
    def answer(char: str, data: bytes) -> list[tuple[str, bytes]]:
        return [(ms.NOTIFY_UUID, ms.encode_result(data[1], s)) for s in status_for(data)]

    return FakeLink({ms.WRITE_UUID, ms.NOTIFY_UUID}, answer)


async def test_movesense_subscribes_with_the_documented_bytes():
    link = ms_link(lambda d: [200])
    got = []
    drv = MovesenseDriver(rate_hz=52, ref=0x63)
    await drv.start(link, lambda c, d: got.append(d))
    writes = [d for op, _, d in link.log if op == "write"]
    assert writes == [bytes.fromhex("01632F4D6561732F494D55362F3532")]
    assert got == [bytes.fromhex("0163c800")]
    await drv.stop(link)
    assert [d for op, _, d in link.log if op == "write"][-1] == bytes.fromhex("0263")


async def test_movesense_conflict_resubscribes_and_not_found_is_an_error():
    replies = iter([[409], [200], [200]])
    link = ms_link(lambda d: next(replies))
    await MovesenseDriver().start(link, lambda c, d: None)
    assert [d[0] for op, _, d in link.log if op == "write"] == [1, 2, 1]

    link = ms_link(lambda d: [404])
    with pytest.raises(LinkError, match=r"refused /Meas/IMU6/104: status 404 \(not found\)"):
        await MovesenseDriver().start(link, lambda c, d: None)


async def test_movesense_skips_data_while_waiting_for_its_result():
    data = ms.encode_imu6_data(99, 1000, np.zeros((2, 3)), np.zeros((2, 3)))

    def answer(char, d):
        return [(ms.NOTIFY_UUID, data), (ms.NOTIFY_UUID, b"\x07"),
                (ms.NOTIFY_UUID, ms.encode_result(7, 200)),
                (ms.NOTIFY_UUID, ms.encode_result(d[1], 202))]

    link = FakeLink({ms.WRITE_UUID, ms.NOTIFY_UUID}, answer)
    await MovesenseDriver().start(link, lambda c, d: None)


async def test_movesense_silence_is_a_link_error():
    link = ms_link(lambda d: [])
    with pytest.raises(LinkError, match="no Movesense result"):
        await MovesenseDriver(response_timeout_s=0.05).start(link, lambda c, d: None)


async def test_h10_wait_stopped_returns_on_the_unsolicited_acc_stop_only():
    link = h10_link()
    drv = PolarH10Driver()
    await drv.start(link, lambda c, d: None)
    waiter = asyncio.create_task(drv.wait_stopped())
    cb = link.callbacks[h10.PMD_CP_UUID]
    cb(h10.PMD_CP_UUID, bytes.fromhex("0100"))  # ECG stopped: not ours
    cb(h10.PMD_CP_UUID, b"")  # garbage
    await asyncio.sleep(0)
    assert not waiter.done()
    cb(h10.PMD_CP_UUID, bytes.fromhex("0102"))
    await asyncio.wait_for(waiter, 1.0)
    assert drv.n_streams_stopped == 2


def test_heart_rate_uses_the_bluetooth_base_uuid_and_old_recordings_still_decode():
    from breathform.firmware_bridge.decode import SensorDecoder
    from breathform.model import HeartRate, RawPacket

    assert h10.HR_MEASUREMENT_UUID == normalize_uuid("2A37")
    dec = SensorDecoder("chest", "polar_h10", 200.0)
    for char in (h10.HR_MEASUREMENT_UUID, h10.HR_MEASUREMENT_UUID_LEGACY):
        (hr,) = dec.feed(RawPacket(1.0, "chest", char, bytes.fromhex("00ff")))
        assert isinstance(hr, HeartRate) and hr.hr_bpm == 255


# ----------------------------------------------------------------------------- new kinds

def test_classify_witmotion_and_diy():
    assert classify("WT901BLE67") == "witmotion"
    assert classify("", (wit.SERVICE_UUID,)) == "witmotion"
    assert classify("BF-DIY 0004") == "diy"
    assert classify("", (diy.SERVICE_UUID,)) == "diy"


async def test_h10_driver_takes_the_factor_of_the_start_response():
    start_f = bytes.fromhex("f002020000") + bytes([5, 1]) + np.float32(0.5).tobytes()
    drv = PolarH10Driver()
    await drv.start(h10_link({START_200_8: [start_f]}), lambda c, d: None)
    assert drv.acc_factor == 0.5
    drv2 = PolarH10Driver()
    await drv2.start(h10_link(), lambda c, d: None)  # the real strap's answer: no factor
    assert drv2.acc_factor == 1.0


async def test_witmotion_driver_unlocks_sets_rate_and_stops_notifications():
    link = FakeLink({wit.NOTIFY_UUID, wit.WRITE_UUID}, lambda c, d: [])
    drv = make_driver("witmotion", rate_hz=200, range_g=16)
    await drv.start(link, lambda c, d: None)
    assert link.log == [("notify", wit.NOTIFY_UUID, b""), ("write", wit.WRITE_UUID, wit.UNLOCK),
                        ("write", wit.WRITE_UUID, bytes.fromhex("FFAA030B00"))]
    await drv.stop(link)
    assert wit.NOTIFY_UUID not in link.callbacks
    with pytest.raises(LinkError, match="no WitMotion data characteristic"):
        await drv.start(FakeLink({ms.NOTIFY_UUID}, lambda c, d: []), lambda c, d: None)


def diy_link(cfg: bytes) -> FakeLink:
    return FakeLink({diy.DATA_UUID, diy.CONFIG_UUID}, lambda c, d: [], {diy.CONFIG_UUID: cfg})


async def test_diy_driver_stores_the_config_then_enables_notifications():
    cfg = diy.encode_config(diy.DiyConfig(rate_hz=104, acc_range_g=8.0))
    link = diy_link(cfg)
    got: list[tuple[str, bytes]] = []
    drv = make_driver("diy", rate_hz=104, range_g=8)
    await drv.start(link, lambda c, d: got.append((c, d)))
    assert got == [(diy.CONFIG_UUID, cfg)]  # stored with the raw packets
    assert link.log == [("read", diy.CONFIG_UUID, b""), ("notify", diy.DATA_UUID, b"")]
    await drv.stop(link)
    assert diy.DATA_UUID not in link.callbacks


@pytest.mark.parametrize("cfg,err,what", [
    (diy.DiyConfig(rate_hz=100, acc_range_g=8.0), InputError, "streams at 100 Hz but rate_hz"),
    (diy.DiyConfig(rate_hz=104, acc_range_g=8.0, has_gyro=False), InputError, "no gyroscope"),
    (diy.DiyConfig(rate_hz=104, acc_range_g=16.0), InputError, "range is ±16 g but range_g"),
    (None, LinkError, "unreadable DIY config"),
])
async def test_diy_driver_refuses_a_board_it_cannot_use(cfg, err, what):
    raw = b"\x01\x02" if cfg is None else diy.encode_config(cfg)
    with pytest.raises(err, match=what):
        await make_driver("diy", rate_hz=104, range_g=8).start(diy_link(raw), lambda c, d: None)
