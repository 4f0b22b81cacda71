from __future__ import annotations

import asyncio

from breathform.model import RawPacket
from breathform.queues import DropOldestQueue, PacketQueue


def _pk(i: int) -> RawPacket:
    return RawPacket(float(i), "chest", "c", bytes([i % 256]))


async def test_drop_oldest_counts():
    q: DropOldestQueue[int] = DropOldestQueue(2)
    for i in range(5):
        q.offer(i)
    assert q.dropped == 3
    assert [await q.get(), await q.get()] == [3, 4]


async def test_packet_queue_offer_drops_oldest_batches_put_waits():
    q = PacketQueue(max_packets=4)
    q.offer([_pk(0), _pk(1)])
    q.offer([_pk(2), _pk(3)])
    q.offer([_pk(4)])
    assert q.dropped == 2
    assert [p.t_rx_s for p in await q.get() or []] == [2.0, 3.0]

    q2 = PacketQueue(max_packets=2)
    await q2.put([_pk(0), _pk(1)])
    blocked = asyncio.create_task(q2.put([_pk(2)]))
    await asyncio.sleep(0)
    assert not blocked.done()
    assert len(await q2.get() or []) == 2
    await asyncio.wait_for(blocked, 5)
    await q2.put(None)
    assert len(await q2.get() or []) == 1
    assert await q2.get() is None
    assert q2.dropped == 0
