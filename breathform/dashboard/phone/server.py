"""Serve the phone page over HTTP from the hub while a run goes on (``--phone``).

The page (``index.html``, ``app.js`` and ``mqttws.js``, a small MQTT-over-WebSocket client
written for it: no build step, no CDN) connects to the broker's WebSocket listener itself;
this server only hands out the files and ``config.json`` (broker WebSocket URL, topic
prefix, runner id). It serves those four paths and nothing else, GET/HEAD only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable
from importlib import resources

from breathform.errors import SinkError
from breathform.queues import DropOldestQueue
from breathform.sinks.base import SinkItem

_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/mqttws.js": ("mqttws.js", "text/javascript; charset=utf-8")}
_MAX_REQUEST_BYTES = 8192


def page_file(name: str) -> bytes:
    """The bytes of one of the page's static files."""
    return (resources.files("breathform.dashboard.phone") / name).read_bytes()


def lan_address() -> str:
    """The hub's address on its default-route network (no packet is sent); else loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


class PhonePageSink:
    """A sink that serves the phone page for as long as the run lasts.

    Args:
        host: Address to listen on ("0.0.0.0" for the phone on the same network).
        port: TCP port (0 = any free one; ``port`` holds the real one once started).
        ws_url: Broker WebSocket URL for the page ("" = the page's own host, port 9001).
        topic_prefix: MQTT topic prefix (``sinks.mqtt.topic_prefix``).
        runner_id: Runner id (a topic level).
        log: Where the page's address is printed, or None.
    """

    name = "phone"
    queue_size = 16

    def __init__(self, *, host: str, port: int, ws_url: str, topic_prefix: str,
                 runner_id: str, log: Callable[[str], None] | None = None) -> None:
        self.host, self.port = host, port
        self.config = {"ws_url": ws_url, "ws_port": 9001, "topic_prefix": topic_prefix,
                       "runner_id": runner_id}
        self._log = log or (lambda _s: None)
        self.started = asyncio.Event()
        self.requests = 0

    def _response(self, method: str, path: str) -> bytes:
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
        elif path == "/config.json":
            status, ctype = "200 OK", "application/json"
            body = json.dumps(self.config).encode()
        elif path in _FILES:
            name, ctype = _FILES[path]
            status, body = "200 OK", page_file(name)
        else:
            status, ctype, body = "404 Not Found", "text/plain", b"not found\n"
        head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}"
                f"\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n").encode()
        return head if method == "HEAD" else head + body

    async def _handle(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            if len(head) > _MAX_REQUEST_BYTES:
                return
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(parts) != 3:
                return
            self.requests += 1
            writer.write(self._response(parts[0], parts[1]))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError):
            pass  # a client that went away or sent junk: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def run(self, q: DropOldestQueue[SinkItem]) -> None:
        """Serve until the run ends (a None item).

        Raises:
            SinkError: If the port cannot be bound (in use, no permission).
        """
        try:
            server = await asyncio.start_server(self._handle, self.host, self.port,
                                                limit=_MAX_REQUEST_BYTES)
        except OSError as exc:
            raise SinkError(f"--phone: cannot serve on {self.host}:{self.port} "
                            f"({exc.strerror}); choose another --phone-port") from exc
        self.port = int(server.sockets[0].getsockname()[1])
        shown = lan_address() if self.host in ("0.0.0.0", "") else self.host
        self._log(f"phone page: http://{shown}:{self.port}/  (open it on the phone, same "
                  f"network; broker WebSocket: {self.config['ws_url'] or 'port 9001 of the hub'})")
        self.started.set()
        try:
            while await q.get() is not None:
                pass
        finally:
            server.close()
            await server.wait_closed()
