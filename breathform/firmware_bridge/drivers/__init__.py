"""Sensor session logic over a GATT link: subscribe, configure, start and stop streams.

Each driver uses the pure device module of its sensor
(:mod:`breathform.firmware_bridge.devices`) for every byte it writes or parses, and talks
to the sensor only through :class:`breathform.firmware_bridge.link.GattLink`, so the same
code runs over bleak, over bumble, and against a fake link in the unit tests.
"""

from __future__ import annotations

from breathform.errors import InputError
from breathform.firmware_bridge.drivers.base import SensorDriver
from breathform.firmware_bridge.drivers.diy import DiyDriver
from breathform.firmware_bridge.drivers.movesense import MovesenseDriver
from breathform.firmware_bridge.drivers.polar_h10 import PolarH10Driver
from breathform.firmware_bridge.drivers.witmotion import WitMotionDriver

__all__ = ["DiyDriver", "MovesenseDriver", "PolarH10Driver", "SensorDriver", "WitMotionDriver",
           "make_driver"]


def make_driver(kind: str, *, rate_hz: float, range_g: float) -> SensorDriver:
    """The driver for a sensor kind.

    Args:
        kind: "polar_h10", "movesense", "witmotion" or "diy".
        rate_hz: IMU sample rate to request (DIY: the rate the board must report).
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
    if kind == "witmotion":
        return WitMotionDriver(rate_hz=int(rate_hz))
    if kind == "diy":
        return DiyDriver(rate_hz=int(rate_hz), range_g=range_g)
    raise InputError(f"sensor kind must be one of 'polar_h10', 'movesense', 'witmotion', "
                     f"'diy', got {kind!r}")
