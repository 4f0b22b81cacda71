"""Sensor session logic over a GATT link: subscribe, configure, start and stop streams.

Each driver uses the pure device module of its sensor
(:mod:`breathform.firmware_bridge.devices`) for every byte it writes or parses, and talks
to the sensor only through :class:`breathform.firmware_bridge.link.GattLink`, so the same
code runs over bleak, over bumble, and against a fake link in the unit tests.
"""

from __future__ import annotations

from breathform.errors import InputError
from breathform.firmware_bridge.drivers.base import SensorDriver
from breathform.firmware_bridge.drivers.movesense import MovesenseDriver
from breathform.firmware_bridge.drivers.polar_h10 import PolarH10Driver

__all__ = ["MovesenseDriver", "PolarH10Driver", "SensorDriver", "make_driver"]


def make_driver(kind: str, *, rate_hz: float, range_g: float) -> SensorDriver:
    """The driver for a sensor kind.

    Args:
        kind: "polar_h10" or "movesense".
        rate_hz: IMU sample rate to request.
        range_g: Accelerometer full scale to request (Polar H10 only).

    Returns:
        A driver.

    Raises:
        InputError: If the kind is unknown.
    """
    if kind == "polar_h10":
        return PolarH10Driver(rate_hz=int(rate_hz), range_g=int(range_g))
    if kind == "movesense":
        return MovesenseDriver(rate_hz=int(rate_hz))
    raise InputError(f"sensor kind must be 'polar_h10' or 'movesense', got {kind!r}")
