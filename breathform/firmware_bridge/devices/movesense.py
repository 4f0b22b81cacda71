"""Movesense sensor running the "gatt_sensordata_app" firmware: commands and IMU6 data.

Pure encode and decode, no I/O. Protocol facts from the Movesense device library's
``samples/gatt_sensordata_app`` (see the project's SENSORS.md):

- command ``[cmd u8][ref u8 != 0][payload]``: 0 hello, 1 subscribe (UTF-8 resource path),
  2 unsubscribe (same ref);
- notification ``[1][ref][status u16 LE]`` command result, ``[2][ref][payload]`` data,
  ``[3][ref][payload]`` continuation of a data payload too long for one notification;
- IMU6 payload: u32 LE timestamp (ms since the sensor booted, time of the first sample),
  then N x 3 float32 acc (m/s^2), then N x 3 float32 gyro (deg/s); N = (len - 4) / 24.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from breathform.errors import DecodeError, InputError

SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
"""Movesense sensor-data GATT service."""
WRITE_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
"""Command characteristic (write)."""
NOTIFY_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"
"""Data characteristic (notify)."""

CMD_HELLO = 0
CMD_SUBSCRIBE = 1
CMD_UNSUBSCRIBE = 2

NOTIFY_RESULT = 1
NOTIFY_DATA = 2
NOTIFY_CONTINUATION = 3

IMU6_RATES_HZ = (52, 104, 208)
OK_STATUSES = (200, 202)

_IMU6_HEADER = 4
_IMU6_SAMPLE_BYTES = 24


def _check_ref(ref: int) -> None:
    if not 1 <= ref <= 255:
        raise InputError(f"ref must be in 1..255 (0 is reserved), got {ref}")


def hello_command(ref: int) -> bytes:
    """Build the hello command (``00 <ref>``).

    Args:
        ref: Reference byte echoed in the answer, 1..255.

    Returns:
        The bytes to write to the command characteristic.

    Raises:
        InputError: If ref is out of range.
    """
    _check_ref(ref)
    return bytes([CMD_HELLO, ref])


def subscribe_command(ref: int, path: str) -> bytes:
    """Build a subscribe command (``01 <ref> <UTF-8 path>``).

    Args:
        ref: Reference byte that tags this subscription's notifications, 1..255.
        path: Resource path, e.g. ``/Meas/IMU6/104``.

    Returns:
        The bytes to write to the command characteristic.

    Raises:
        InputError: If ref is out of range or path is empty.
    """
    _check_ref(ref)
    if not path:
        raise InputError("path must be a non-empty resource path such as '/Meas/IMU6/104'")
    return bytes([CMD_SUBSCRIBE, ref]) + path.encode("utf-8")


def unsubscribe_command(ref: int) -> bytes:
    """Build an unsubscribe command (``02 <ref>``).

    Args:
        ref: The reference used when subscribing, 1..255.

    Returns:
        The bytes to write to the command characteristic.

    Raises:
        InputError: If ref is out of range.
    """
    _check_ref(ref)
    return bytes([CMD_UNSUBSCRIBE, ref])


def imu6_path(rate_hz: int) -> str:
    """Resource path of the IMU6 (acc + gyro) stream.

    Args:
        rate_hz: 52, 104 or 208.

    Returns:
        e.g. ``/Meas/IMU6/104``.

    Raises:
        InputError: If the rate is not offered.
    """
    if rate_hz not in IMU6_RATES_HZ:
        raise InputError(f"rate_hz must be one of {IMU6_RATES_HZ}, got {rate_hz}")
    return f"/Meas/IMU6/{rate_hz}"


@dataclass(frozen=True, slots=True)
class MovesenseResult:
    """The result of a command (type 1 notification).

    Attributes:
        ref: Reference of the command.
        status: HTTP-like status: 200/202 ok, 404 not found, 409 conflict, 429 too many.
    """

    ref: int
    status: int

    @property
    def ok(self) -> bool:
        """True for 200 and 202."""
        return self.status in OK_STATUSES


@dataclass(frozen=True, slots=True)
class MovesenseData:
    """A data notification (type 2) or a continuation of one (type 3).

    Attributes:
        ref: Subscription reference.
        payload: The bytes after the 2-byte header.
        continuation: True for a type 3 continuation.
    """

    ref: int
    payload: bytes
    continuation: bool = False


@dataclass(frozen=True, slots=True)
class Imu6Sample:
    """A decoded IMU6 payload.

    Attributes:
        timestamp_ms: Sensor time of the first sample, ms since the sensor booted (u32).
        acc_mps2: Acceleration in m/s^2, shape (n, 3), float64.
        gyr_dps: Angular rate in deg/s, shape (n, 3), float64.
    """

    timestamp_ms: int
    acc_mps2: NDArray[np.float64]
    gyr_dps: NDArray[np.float64]

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.acc_mps2.shape[0])


def decode_notification(data: bytes) -> MovesenseResult | MovesenseData:
    """Decode one notification from the Movesense notify characteristic.

    Args:
        data: The notification bytes.

    Returns:
        A :class:`MovesenseResult` (type 1) or :class:`MovesenseData` (types 2 and 3).

    Raises:
        DecodeError: If the notification is short or of an unknown type.
    """
    if len(data) < 2:
        raise DecodeError(None, f"Movesense notification too short: {len(data)} bytes, "
                                "expected >= 2 (type, ref)")
    kind, ref = data[0], data[1]
    if kind == NOTIFY_RESULT:
        if len(data) != 4:
            raise DecodeError(None, f"Movesense command result must be 4 bytes (1, ref, "
                                    f"u16 status), got {len(data)}")
        return MovesenseResult(ref=ref, status=data[2] | (data[3] << 8))
    if kind in (NOTIFY_DATA, NOTIFY_CONTINUATION):
        return MovesenseData(ref=ref, payload=bytes(data[2:]),
                             continuation=kind == NOTIFY_CONTINUATION)
    raise DecodeError(None, f"unknown Movesense notification type {kind}, expected 1 "
                            "(result), 2 (data) or 3 (continuation)")


def decode_imu6(payload: bytes) -> Imu6Sample:
    """Decode an IMU6 data payload (after the 2-byte notification header).

    Args:
        payload: u32 LE timestamp, N x 3 float32 acc, N x 3 float32 gyro.

    Returns:
        The samples, converted to float64.

    Raises:
        DecodeError: If the length is not 4 + 24 N with N >= 1, or a value is not finite.
    """
    body = len(payload) - _IMU6_HEADER
    if body <= 0 or body % _IMU6_SAMPLE_BYTES:
        raise DecodeError(None, f"Movesense IMU6 payload is {len(payload)} bytes, expected "
                                "4 + 24 N with N >= 1")
    n = body // _IMU6_SAMPLE_BYTES
    ts = int.from_bytes(payload[:4], "little")
    f32 = np.frombuffer(payload, dtype="<f4", offset=_IMU6_HEADER)
    # check before casting: casting a signalling NaN warns (an error under -W error)
    if not np.isfinite(f32).all():
        raise DecodeError(None, "Movesense IMU6 payload holds a non-finite float")
    vals = f32.astype(np.float64)
    acc = vals[: 3 * n].reshape(n, 3)
    gyr = vals[3 * n:].reshape(n, 3)
    return Imu6Sample(timestamp_ms=ts, acc_mps2=acc, gyr_dps=gyr)


def _check_xyz(a: NDArray[np.float64], name: str) -> NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] < 1:
        raise InputError(f"{name} must have shape (n, 3) with n >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite")
    return arr


def encode_imu6_data(ref: int, timestamp_ms: int, acc_mps2: NDArray[np.float64],
                     gyr_dps: NDArray[np.float64]) -> bytes:
    """Encode an IMU6 data notification as the sensor sends it.

    Args:
        ref: Subscription reference, 1..255.
        timestamp_ms: Sensor time of the first sample, ms (u32; taken modulo 2**32).
        acc_mps2: Acceleration in m/s^2, shape (n, 3); sent as float32.
        gyr_dps: Angular rate in deg/s, shape (n, 3); sent as float32.

    Returns:
        The notification bytes ``02 <ref> <u32 ts> <acc f32...> <gyr f32...>``.

    Raises:
        InputError: If ref is out of range, the timestamp is negative or the arrays are
            not matching finite (n, 3).
    """
    _check_ref(ref)
    acc = _check_xyz(acc_mps2, "acc_mps2")
    gyr = _check_xyz(gyr_dps, "gyr_dps")
    if acc.shape != gyr.shape:
        raise InputError(f"acc_mps2 and gyr_dps must have the same shape, got {acc.shape} "
                         f"and {gyr.shape}")
    if timestamp_ms < 0:
        raise InputError(f"timestamp_ms must be >= 0, got {timestamp_ms}")
    head = bytes([NOTIFY_DATA, ref]) + (timestamp_ms % 2**32).to_bytes(4, "little")
    return head + acc.astype("<f4").tobytes() + gyr.astype("<f4").tobytes()


def encode_result(ref: int, status: int) -> bytes:
    """Encode a command result notification (for fakes and tests).

    Args:
        ref: Reference of the command, 0..255.
        status: Status code, 0..65535.

    Returns:
        ``01 <ref> <u16 status>``.

    Raises:
        InputError: If a value does not fit.
    """
    if not 0 <= ref <= 255 or not 0 <= status <= 0xFFFF:
        raise InputError(f"ref must be in 0..255 and status in 0..65535, got {ref}, {status}")
    return bytes([NOTIFY_RESULT, ref]) + status.to_bytes(2, "little")
