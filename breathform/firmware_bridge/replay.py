"""Replay of a recorded session: its raw packets, in receive order, as a packet source."""

from __future__ import annotations

from collections.abc import Iterator

from breathform.model import RawPacket, SensorInfo
from breathform.store import SessionReader

FAST_BATCH = 2048
"""Packets per batch replaying as fast as possible: about a minute of a two-sensor
session, so the DSP's set-up per batch is spread over many seconds
(``benchmarks/replay_speed.py --batch N`` times other sizes). 4096-packet batches raised
the 6-hour replay's peak memory (benchmarks/memory_replay.py) for little more speed."""

PACED_BATCH = 512
"""Packets per batch in a paced replay (``--speed``): about 16 s of session, delivered
at its pace."""


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
