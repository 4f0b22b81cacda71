"""Unit conversions. Every conversion in breathform goes through here."""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

G_MPS2 = 9.80665
"""Standard gravity in m/s^2."""

POLAR_EPOCH_UNIX_S = 946_684_800
"""2000-01-01T00:00:00 UTC as Unix seconds: the epoch of Polar device timestamps."""

NS_PER_S = 1_000_000_000

T = TypeVar("T", float, NDArray[np.float64])


def mps2_to_g(x: T) -> T:
    """Convert acceleration from m/s^2 to g."""
    return x / G_MPS2


def g_to_mps2(x: T) -> T:
    """Convert acceleration from g to m/s^2."""
    return x * G_MPS2


def mg_to_g(x: T) -> T:
    """Convert acceleration from milli-g to g."""
    return x / 1000.0


def g_to_mg(x: T) -> T:
    """Convert acceleration from g to milli-g."""
    return x * 1000.0


def deg_to_rad(x: T) -> T:
    """Convert an angle from degrees to radians."""
    return x * (math.pi / 180.0)


def rad_to_deg(x: T) -> T:
    """Convert an angle from radians to degrees."""
    return x * (180.0 / math.pi)


def hz_to_per_min(x: T) -> T:
    """Convert a frequency in Hz to events per minute (bpm, spm)."""
    return x * 60.0


def per_min_to_hz(x: T) -> T:
    """Convert events per minute (bpm, spm) to Hz."""
    return x / 60.0


def ns_to_s(x: int) -> float:
    """Convert integer nanoseconds to float seconds."""
    return x / NS_PER_S


def s_to_ns(x: float) -> int:
    """Convert seconds to integer nanoseconds (rounded half to even)."""
    return round(x * NS_PER_S)
