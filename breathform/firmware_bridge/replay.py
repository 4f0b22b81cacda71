"""Replay of a recorded session: its raw packets, in receive order, as a packet source."""

from __future__ import annotations

from collections.abc import Iterator

from breathform.model import RawPacket, SensorInfo
from breathform.store import SessionReader


class ReplaySource:
    """Feeds a stored session's raw packets through the live path again.

    Args:
        reader: An open session.
        batch: Packets per batch (any batching gives the same result).
    """

    live = False

    def __init__(self, reader: SessionReader, batch: int = 512) -> None:
        self._reader = reader
        self._batch = batch
        self.name = f"replay:{reader.info.session_id}"
        self.sensors: tuple[SensorInfo, ...] = reader.info.sensors
        self.n_packets = reader.n_raw()

    def batches(self) -> Iterator[list[RawPacket]]:
        """Stored packets in batches."""
        return self._reader.iter_raw_batches(self._batch)

    def context(self, t_s: float) -> dict[str, str]:
        """Replay has no extra context."""
        return {}
