"""breathform: a wearable breathing-and-posture monitor for runners."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from breathform.errors import (
    BreathformError,
    ConfigError,
    DecodeError,
    InputError,
    SinkError,
    StoreError,
)
from breathform.model import (
    Alert,
    Cause,
    HeartRate,
    ImuBlock,
    Metrics,
    RawPacket,
    SensorInfo,
    SessionInfo,
)

try:
    __version__ = version("breathform")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+src"

__all__ = [
    "Alert", "BreathformError", "Cause", "ConfigError", "DecodeError", "HeartRate",
    "ImuBlock", "InputError", "Metrics", "RawPacket", "SensorInfo", "SessionInfo",
    "SinkError", "StoreError", "__version__",
]
