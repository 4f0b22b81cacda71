"""Movesense gatt_sensordata protocol: commands, notifications, IMU6 round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from breathform.errors import DecodeError, InputError
from breathform.firmware_bridge.devices import movesense as M


def test_commands_match_sensors_md() -> None:
    assert M.subscribe_command(0x63, M.imu6_path(52)) == bytes.fromhex(
        "01632F4D6561732F494D55362F3532")
    assert M.unsubscribe_command(0x63) == bytes.fromhex("0263")
    assert M.imu6_path(104) == "/Meas/IMU6/104"
    assert M.imu6_path(208) == "/Meas/IMU6/208"
    assert M.hello_command(1) == b"\x00\x01"


@pytest.mark.parametrize("bad", [0, 256, -1])
def test_ref_must_be_nonzero_byte(bad: int) -> None:
    with pytest.raises(InputError, match="ref"):
        M.subscribe_command(bad, "/Meas/IMU6/52")


def test_imu6_path_rejects_other_rates() -> None:
    with pytest.raises(InputError, match="rate_hz"):
        M.imu6_path(100)


def test_result_notifications() -> None:
    r = M.decode_notification(M.encode_result(0x63, 200))
    assert r == M.MovesenseResult(0x63, 200) and r.ok
    r = M.decode_notification(bytes.fromhex("01639401"))  # 404
    assert isinstance(r, M.MovesenseResult) and r.status == 404 and not r.ok


def test_data_and_continuation() -> None:
    d = M.decode_notification(bytes.fromhex("0263aabb"))
    assert d == M.MovesenseData(0x63, b"\xaa\xbb", continuation=False)
    c = M.decode_notification(bytes.fromhex("0363cc"))
    assert c == M.MovesenseData(0x63, b"\xcc", continuation=True)


@pytest.mark.parametrize("hexstr,why", [("", "too short"), ("02", "too short"),
                                        ("0163c8", "4 bytes"), ("0963", "unknown")])
def test_malformed_notifications(hexstr: str, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        M.decode_notification(bytes.fromhex(hexstr))


@pytest.mark.parametrize("n_bytes", [0, 3, 4, 5, 27, 29])
def test_malformed_imu6(n_bytes: int) -> None:
    with pytest.raises(DecodeError, match="IMU6"):
        M.decode_imu6(bytes(n_bytes))


def test_imu6_nonfinite_rejected() -> None:
    payload = bytes(4) + np.array([np.nan] + [0.0] * 5, dtype="<f4").tobytes()
    with pytest.raises(DecodeError, match="non-finite"):
        M.decode_imu6(payload)


finite32 = st.floats(-1e6, 1e6, allow_nan=False, width=32)


@given(data=st.data(), ref=st.integers(1, 255), ts=st.integers(0, 2**32 - 1))
def test_imu6_round_trip(data: st.DataObject, ref: int, ts: int) -> None:
    n = data.draw(st.integers(1, 10))
    acc = data.draw(hnp.arrays(np.float64, (n, 3), elements=finite32))
    gyr = data.draw(hnp.arrays(np.float64, (n, 3), elements=finite32))
    pkt = M.encode_imu6_data(ref, ts, acc, gyr)
    assert len(pkt) == 2 + 4 + 24 * n
    note = M.decode_notification(pkt)
    assert isinstance(note, M.MovesenseData) and note.ref == ref and not note.continuation
    imu = M.decode_imu6(note.payload)
    assert imu.timestamp_ms == ts and imu.n == n
    # float32 values are exact after the round trip
    assert_array_equal(imu.acc_mps2, acc)
    assert_array_equal(imu.gyr_dps, gyr)


def test_imu6_layout_acc_block_then_gyro_block() -> None:
    acc = np.arange(6, dtype=float).reshape(2, 3)
    gyr = 100 + np.arange(6, dtype=float).reshape(2, 3)
    pkt = M.encode_imu6_data(5, 1234, acc, gyr)
    assert pkt[:6] == bytes([2, 5]) + (1234).to_bytes(4, "little")
    floats = np.frombuffer(pkt[6:], "<f4")
    assert floats.tolist() == [0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105]


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(b: bytes) -> None:
    for fn in (M.decode_notification, M.decode_imu6):
        try:
            fn(b)
        except DecodeError:
            pass


def test_signalling_nan_is_a_decode_error_not_a_warning() -> None:
    # found by benchmarks/decoder_fuzz.py: casting an sNaN float32 warned (an error under
    # the suite's filterwarnings=error) instead of raising DecodeError
    payload = bytes(4) + bytes.fromhex("0100807f") + bytes(20)
    with pytest.raises(DecodeError, match="non-finite"):
        M.decode_imu6(payload)
