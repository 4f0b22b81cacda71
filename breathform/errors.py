"""The project's exceptions: every error a user can see is one of these."""

from __future__ import annotations


class BreathformError(Exception):
    """Base class of every error breathform raises on purpose."""


class InputError(BreathformError, ValueError):
    """Bad arrays, parameters or files given to breathform."""


class ConfigError(InputError):
    """A configuration file or value that is not valid.

    The message names the key (dotted path), the value found and what was expected.
    """

    def __init__(self, key: str, value: object, expected: str) -> None:
        super().__init__(f"config key {key!r}: got {value!r}, expected {expected}")
        self.key, self.value, self.expected = key, value, expected


class DecodeError(BreathformError):
    """A malformed sensor packet. The runtime counts and skips these."""

    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(f"packet seq={seq}: {reason}")
        self.seq, self.reason = seq, reason


class SinkError(BreathformError):
    """A live output (MQTT, InfluxDB, ...) failed."""


class StoreError(BreathformError):
    """The session store cannot be opened, read or written."""
