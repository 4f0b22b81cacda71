"""The phone page's HTTP server: its four paths, GET/HEAD only, nothing else."""

from __future__ import annotations

import asyncio
import json

from breathform.dashboard.phone.server import PhonePageSink, page_file
from breathform.queues import DropOldestQueue


async def _request(port: int, raw: bytes) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(raw)
    await w.drain()
    data = await asyncio.wait_for(r.read(), 10)
    w.close()
    await w.wait_closed()
    return data


async def test_serves_page_config_and_refuses_the_rest():
    sink = PhonePageSink(host="127.0.0.1", port=0, ws_url="ws://hub:9001/mqtt",
                         topic_prefix="club", runner_id="r7")
    q: DropOldestQueue[object] = DropOldestQueue(4)
    task = asyncio.create_task(sink.run(q))  # type: ignore[arg-type]
    await asyncio.wait_for(sink.started.wait(), 10)
    try:
        page = await _request(sink.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert page.startswith(b"HTTP/1.1 200 OK") and page.endswith(page_file("index.html"))
        js = await _request(sink.port, b"GET /mqttws.js HTTP/1.1\r\n\r\n")
        assert b"text/javascript" in js and js.endswith(page_file("mqttws.js"))
        cfg = await _request(sink.port, b"GET /config.json?x=1 HTTP/1.1\r\n\r\n")
        body = json.loads(cfg.split(b"\r\n\r\n", 1)[1])
        assert body == {"ws_url": "ws://hub:9001/mqtt", "ws_port": 9001,
                        "topic_prefix": "club", "runner_id": "r7"}
        head = await _request(sink.port, b"HEAD /app.js HTTP/1.1\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
        for path in (b"/../server.py", b"/server.py", b"/%2e%2e/etc/passwd"):
            r = await _request(sink.port, b"GET " + path + b" HTTP/1.1\r\n\r\n")
            assert r.startswith(b"HTTP/1.1 404")
        r = await _request(sink.port, b"POST / HTTP/1.1\r\n\r\n")
        assert r.startswith(b"HTTP/1.1 405")
        assert await _request(sink.port, b"junk\r\n\r\n") == b""
    finally:
        q.offer(None)
        await asyncio.wait_for(task, 10)
    assert sink.requests >= 8
