"""Bounded asyncio queues with documented full-queue policies.

- ``PacketQueue``: raw packets from a source to decode+DSP. Bounded by packet count
  (about 30 s of two sensors by default). A live source *offers* (when full, the oldest
  batches are dropped and counted: a gap the decoders will see and flag); a file or
  simulated source *puts* (it waits: lossless backpressure).
- ``DropOldestQueue``: per-sink queues. When full the oldest item is dropped and counted,
  so a slow or dead sink never stalls acquisition or DSP.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Generic, TypeVar

from breathform.errors import InputError
from breathform.model import RawPacket

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """A bounded queue that drops its oldest item when full.

    Attributes:
        dropped: How many items were dropped so far.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise InputError(f"maxsize must be >= 1, got {maxsize}")
        self._q: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, item: T) -> None:
        """Enqueue without waiting; drop the oldest item if full."""
        if self._q.full():
            self._q.get_nowait()
            self.dropped += 1
        self._q.put_nowait(item)

    async def get(self) -> T:
        """Wait for the next item."""
        return await self._q.get()

    def get_nowait(self) -> T:
        """Next item or raise asyncio.QueueEmpty."""
        return self._q.get_nowait()

    def qsize(self) -> int:
        """Items waiting."""
        return self._q.qsize()


class PacketQueue:
    """Batches of raw packets, bounded by the number of packets they hold.

    ``None`` marks the end of the stream.

    Attributes:
        dropped: Packets dropped by ``offer`` because the queue was full.
    """

    def __init__(self, max_packets: int = 4000) -> None:
        if max_packets < 1:
            raise InputError(f"max_packets must be >= 1, got {max_packets}")
        self._max = max_packets
        self._items: deque[list[RawPacket] | None] = deque()
        self._n = 0
        self._cond = asyncio.Condition()
        self.dropped = 0

    async def put(self, batch: Sequence[RawPacket] | None) -> None:
        """Enqueue a batch, waiting while the queue is full (lossless)."""
        async with self._cond:
            await self._cond.wait_for(lambda: self._n < self._max)
            self._push(batch)
            self._cond.notify_all()

    def offer(self, batch: Sequence[RawPacket] | None) -> None:
        """Enqueue without waiting; drop the oldest batches while over the bound."""
        self._push(batch)
        while self._n > self._max and len(self._items) > 1:
            old = self._items.popleft()
            if old is None:  # never drop the end marker
                self._items.appendleft(old)
                break
            self._n -= len(old)
            self.dropped += len(old)
        loop = asyncio.get_running_loop()
        loop.create_task(self._notify())

    def _push(self, batch: Sequence[RawPacket] | None) -> None:
        item = None if batch is None else list(batch)
        self._items.append(item)
        self._n += 0 if item is None else len(item)

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def get(self) -> list[RawPacket] | None:
        """Wait for the next batch (None = end of stream)."""
        async with self._cond:
            await self._cond.wait_for(lambda: bool(self._items))
            item = self._items.popleft()
            self._n -= 0 if item is None else len(item)
            self._cond.notify_all()
            return item

    def qsize_packets(self) -> int:
        """Packets waiting."""
        return self._n
