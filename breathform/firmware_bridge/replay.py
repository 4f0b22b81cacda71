"""Replay of a recorded session: its raw packets, in receive order, as a packet source."""

from __future__ import annotations

from collections.abc import Iterator

from breathform.model import RawPacket, SensorInfo
from breathform.store import SessionReader

FAST_BATCH = 4096
"""Packets per batch replaying as fast as possible: about 35 s of a two-sensor session.
The DSP's set-up per batch is then spread over many seconds (measured with
benchmarks/replay_speed.py: 512 -> 4096 takes about a tenth off a 1-h replay)."""

PACED_BATCH = 512
"""Packets per batch in a paced replay (``--speed``): a few seconds of session."""


class ReplaySource:
    """Feeds a stored session's raw packets through the live path again.

    Args:
        reader: An open session.
        batch: Packets per batch (any batching gives the same result). The default,
            :data:`FAST_BATCH`, is for replaying as fast as possible; a paced replay
            wants smaller batches (:data:`PACED_BATCH`).
    """

    live = False

    def __init__(self, reader: SessionReader, batch: int | None = None) -> None:
        self._reader = reader
        self._batch = FAST_BATCH if batch is None else batch
        self.name = f"replay:{reader.info.session_id}"
        self.sensors: tuple[SensorInfo, ...] = reader.info.sensors
        self.n_packets = reader.n_raw()

    def batches(self) -> Iterator[list[RawPacket]]:
        """Stored packets in batches."""
        return self._reader.iter_raw_batches(self._batch)

    def context(self, t_s: float) -> dict[str, str]:
        """Replay has no extra context."""
        return {}
