"""A small bounded mailbox for control replies, fed from notification callbacks."""

from __future__ import annotations

import asyncio
from collections import deque


class Mailbox:
    """Bounded FIFO of control messages: the callback offers, a coroutine waits.

    When full, the oldest message is dropped (a reply nobody waited for).

    Args:
        maxsize: Capacity.
    """

    def __init__(self, maxsize: int = 64) -> None:
        self._q: deque[bytes] = deque(maxlen=maxsize)
        self._ev = asyncio.Event()
        self.dropped = 0

    def offer(self, data: bytes) -> None:
        """Enqueue (plain call, for notification callbacks)."""
        if len(self._q) == self._q.maxlen:
            self.dropped += 1
        self._q.append(data)
        self._ev.set()

    def clear(self) -> None:
        """Forget queued messages."""
        self._q.clear()
        self._ev.clear()

    async def get(self, timeout_s: float | None) -> bytes:
        """The next message.

        Args:
            timeout_s: Longest wait, None for no limit.

        Raises:
            TimeoutError: If none arrives within ``timeout_s``.
        """
        async with asyncio.timeout(timeout_s):
            while not self._q:
                self._ev.clear()
                await self._ev.wait()
        return self._q.popleft()
