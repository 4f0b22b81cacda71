"""MQTT sink: alerts and 1 Hz metrics to the runner's phone, through a broker (aiomqtt).

The only module that imports aiomqtt (pinned ``>=2.5,<3``). MQTT v5 is used so that
alerts carry a message expiry.

Topics, under ``<prefix>/<runner id>/`` (``sinks.mqtt.topic_prefix``, ``runner.id``):

- ``alerts``: one JSON object per alert (``ALERT_SCHEMA``), QoS 1, not retained, with an
  MQTT message expiry of ``alert_expiry_s`` counted from when the alert was raised, so a
  phone that reconnects late is not buzzed by stale alerts. Delivery is at least once:
  ``id`` is unique per alert, for subscribers that de-duplicate.
- ``metrics``: one JSON object per 1 Hz ``Metrics`` row, QoS 0, not retained. The latest
  row wins: when rows arrive faster than they can be sent (a replay at full speed) or the
  broker is away, older rows are skipped, never queued.
- ``status``: ``online`` (retained, QoS 1) once connected; ``offline`` (retained) at the
  end of the run, or from the broker as the last will when the hub vanishes.

While the broker is away the run goes on: the sink reconnects with exponential backoff
(``reconnect_min_s`` doubling to ``reconnect_max_s``) and keeps the alerts raised
meanwhile in a bounded buffer of ``alert_buffer`` alerts (when full, the oldest is dropped
and counted in ``stats.alerts_dropped``); they are sent, oldest first, when the broker
returns, with the expiry that remains (an alert already expired is dropped and counted in
``stats.alerts_expired``). At the end of a run the sink keeps trying for
``drain_timeout_s`` to deliver what is pending.

The password never comes from the command line or the config (which is stored in every
session): it is read from the environment variable ``password_env`` or the file
``password_file``, and never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import ssl
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from breathform.config import MqttConfig
from breathform.errors import SinkError
from breathform.model import METRIC_FIELDS, Alert, Metrics
from breathform.queues import DropOldestQueue
from breathform.sinks.base import SinkItem

ALERT_SCHEMA = 1
"""Version of the alert and metrics JSON; bumped when a field changes meaning or goes."""

_LOG = logging.getLogger("breathform.mqtt")
_AUTH_CODES = {4, 5, 134, 135}  # v3 bad credentials / not authorised; v5 the same
_FORBIDDEN_TOPIC_CHARS = set("+#/\0")


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and how to reach it (parsed from a URL).

    Attributes:
        url: The URL as given, without any password.
        host: Host name or address.
        port: TCP port.
        tls: Whether to use TLS.
        transport: "tcp" or "websockets".
        ws_path: Path of the WebSocket endpoint (websockets only).
        username: User name from the URL, or "".
    """

    url: str
    host: str
    port: int
    tls: bool
    transport: Literal["tcp", "websockets"]
    ws_path: str = "/mqtt"
    username: str = ""


_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://``, ``mqtts://``, ``ws://`` or ``wss://[user@]host[:port][/path]``.

    Raises:
        SinkError: If the scheme is not one of those, the host is missing, the port is
            not a number in 1..65535, or the URL carries a password (command lines are
            visible to other users: use the environment variable instead).
    """
    try:
        u = urllib.parse.urlsplit(url)
        port = u.port
    except ValueError as exc:
        raise SinkError(f"MQTT broker URL {url!r} is not valid ({exc}); expected "
                        f"mqtt://HOST[:PORT]") from exc
    if u.scheme not in _DEFAULT_PORTS:
        raise SinkError(f"MQTT broker URL {url!r}: scheme {u.scheme!r} is not supported; "
                        f"expected mqtt://, mqtts:// (TLS), ws:// or wss://")
    if not u.hostname:
        raise SinkError(f"MQTT broker URL {url!r} has no host; expected e.g. "
                        f"mqtt://127.0.0.1:1883")
    if u.password is not None:
        raise SinkError("MQTT broker URL must not contain a password (command lines and "
                        "configs are visible and stored); put it in the environment "
                        "variable named by sinks.mqtt.password_env "
                        "(default BREATHFORM_MQTT_PASSWORD) or in sinks.mqtt.password_file")
    clean = urllib.parse.urlunsplit((u.scheme, u.netloc, u.path, "", ""))
    ws = u.scheme in ("ws", "wss")
    return BrokerAddress(url=clean, host=u.hostname, port=port or _DEFAULT_PORTS[u.scheme],
                         tls=u.scheme in ("mqtts", "wss"),
                         transport="websockets" if ws else "tcp",
                         ws_path=(u.path or "/mqtt") if ws else "/mqtt",
                         username=urllib.parse.unquote(u.username or ""))


def read_password(cfg: MqttConfig) -> str | None:
    """The broker password from ``$<password_env>`` or ``password_file``; None if neither.

    Raises:
        SinkError: If ``password_file`` is set but cannot be read.
    """
    if cfg.password_env and os.environ.get(cfg.password_env):
        return os.environ[cfg.password_env]
    if cfg.password_file:
        try:
            return Path(cfg.password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SinkError(f"cannot read sinks.mqtt.password_file "
                            f"{cfg.password_file!r}: {exc.strerror}") from exc
    return None


def topics(prefix: str, runner_id: str) -> dict[str, str]:
    """The topics of one runner: keys "alerts", "metrics", "status".

    Raises:
        SinkError: If ``runner_id`` contains a character MQTT topics reserve (+ # / NUL).
    """
    bad = _FORBIDDEN_TOPIC_CHARS & set(runner_id)
    if bad or not runner_id:
        raise SinkError(f"runner id {runner_id!r} cannot be an MQTT topic level: it must be "
                        f"non-empty without any of + # / (found {sorted(bad)})")
    base = f"{prefix}/{runner_id}"
    return {"alerts": f"{base}/alerts", "metrics": f"{base}/metrics",
            "status": f"{base}/status"}


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


def alert_payload(a: Alert, *, alert_id: str, session_id: str, runner_id: str,
                  started_utc_ns: int, raised_utc_ns: int, expiry_s: float) -> dict[str, Any]:
    """The JSON object published for an alert (NaN becomes null).

    Args:
        a: The alert.
        alert_id: Unique id of this alert (for subscribers that de-duplicate).
        session_id: Session it belongs to.
        runner_id: Pseudonymous runner id.
        started_utc_ns: Wall-clock start of the session, Unix ns.
        raised_utc_ns: Wall-clock time the alert reached the sink, Unix ns.
        expiry_s: Seconds after ``raised_utc_ns`` when it is stale.

    Returns:
        Plain data for ``json.dumps``.
    """
    return {
        "schema": ALERT_SCHEMA, "type": "alert", "id": alert_id,
        "session_id": session_id, "runner_id": runner_id,
        "t_s": a.t_s, "ts_utc_ns": started_utc_ns + round(a.t_s * 1e9),
        "raised_utc_ns": raised_utc_ns,
        "expires_utc_ns": raised_utc_ns + round(expiry_s * 1e9),
        "kind": a.kind, "severity": a.severity, "climb": a.climb, "cue": a.cue,
        "causes": [{"name": c.name, "metric": c.metric, "value": _num(c.value),
                    "baseline": _num(c.baseline), "threshold": _num(c.threshold),
                    "unit": c.unit} for c in a.causes],
    }


def metrics_payload(m: Metrics, *, session_id: str, runner_id: str,
                    started_utc_ns: int) -> dict[str, Any]:
    """The JSON object published for a 1 Hz metrics row (NaN becomes null)."""
    out: dict[str, Any] = {"schema": ALERT_SCHEMA, "type": "metrics",
                           "session_id": session_id, "runner_id": runner_id,
                           "ts_utc_ns": started_utc_ns + round(m.t_s * 1e9)}
    for name in METRIC_FIELDS:
        v = getattr(m, name)
        out[name] = v if isinstance(v, bool) else _num(float(v))
    return out


@dataclass(slots=True)
class MqttStats:
    """What the sink did (read by tests, benchmarks and the end-of-run line).

    Attributes:
        alerts_sent: Alerts acknowledged by the broker (PUBACK).
        alerts_dropped: Alerts dropped because the outage buffer was full.
        alerts_expired: Alerts dropped because they expired before the broker returned.
        alerts_undelivered: Alerts still pending when the sink gave up at the end.
        metrics_sent: Metrics rows published.
        metrics_skipped: Metrics rows replaced by a newer one before they were sent.
        connects: Successful connections (1 + reconnections).
        failures: Failed or lost connections.
        last_error: The last connection error, as text.
        sent_at: Monotonic time each alert was acknowledged, by alert id.
    """

    alerts_sent: int = 0
    alerts_dropped: int = 0
    alerts_expired: int = 0
    alerts_undelivered: int = 0
    metrics_sent: int = 0
    metrics_skipped: int = 0
    connects: int = 0
    failures: int = 0
    last_error: str = ""
    sent_at: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Pending:
    alert_id: str
    payload: dict[str, Any]
    raised_mono_s: float


def _describe(exc: BaseException) -> str:
    rc = getattr(exc, "rc", None)
    code = getattr(rc, "value", rc)
    if isinstance(code, int) and code in _AUTH_CODES:
        return (f"the broker refused the credentials ({exc}); check sinks.mqtt.username and "
                f"the password in $BREATHFORM_MQTT_PASSWORD / sinks.mqtt.password_file")
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return f"TLS certificate not trusted ({text}); set sinks.mqtt.ca_file"
    return text


def is_auth_error(exc: BaseException) -> bool:
    """Whether an aiomqtt error is the broker refusing the credentials."""
    rc = getattr(exc, "rc", None)
    code = getattr(rc, "value", rc)
    return isinstance(code, int) and code in _AUTH_CODES


class MqttSink:
    """Publishes alerts, metrics and status to an MQTT broker; survives broker outages.

    Args:
        address: The broker.
        cfg: The ``[sinks.mqtt]`` settings.
        runner_id: Pseudonymous runner id (a topic level).
        session_id: Session id (in every payload).
        started_utc_ns: Wall-clock start of the session, Unix ns.
        password: Broker password, or None.
        log: Where status lines go (connected, lost, reconnected), or None.

    Raises:
        SinkError: If the runner id cannot be a topic level or the CA file is unreadable.
    """

    name = "mqtt"
    queue_size = 2048

    def __init__(self, address: BrokerAddress, cfg: MqttConfig, *, runner_id: str,
                 session_id: str, started_utc_ns: int, password: str | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.address, self.cfg = address, cfg
        self.runner_id, self.session_id = runner_id, session_id
        self.started_utc_ns = started_utc_ns
        self.topics = topics(cfg.topic_prefix, runner_id)
        self.username = address.username or cfg.username or None
        self._password = password
        self._log = log or (lambda s: _LOG.info("%s", s))
        self._tls = self._tls_context() if address.tls else None
        self.stats = MqttStats()
        self._pending: deque[_Pending] = deque()
        self._latest: Metrics | None = None
        self._closing = False
        self._wake = asyncio.Event()
        self._n_alerts = 0

    def __repr__(self) -> str:  # never shows the password
        return f"MqttSink({self.address.url!r}, user={self.username!r})"

    def _tls_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.cfg.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise SinkError(f"cannot load sinks.mqtt.ca_file {self.cfg.ca_file!r}: "
                            f"{exc}") from exc

    def client(self, *, identifier_suffix: str = "") -> aiomqtt.Client:
        """A fresh aiomqtt client for one connection attempt (with the last will)."""
        will = aiomqtt.Will(self.topics["status"], b"offline", qos=1, retain=True)
        return aiomqtt.Client(
            self.address.host, self.address.port, username=self.username,
            password=self._password, logger=_LOG,
            identifier=f"breathform-{self.session_id}{identifier_suffix}"[:64],
            protocol=aiomqtt.ProtocolVersion.V5, will=will,
            transport=self.address.transport,
            websocket_path=self.address.ws_path if self.address.transport == "websockets"
            else None,
            timeout=10.0, keepalive=int(self.cfg.keepalive_s), tls_context=self._tls)

    async def check(self, timeout_s: float = 5.0) -> str | None:
        """Try one connection now.

        Returns:
            None when the broker accepted the connection, else why it did not (the
            broker may be away: the run can start and the sink will keep trying).

        Raises:
            SinkError: If the broker refused the credentials or the TLS certificate is
                not trusted: retrying cannot help, so the run should not start.
        """
        try:
            async with asyncio.timeout(timeout_s):
                async with self.client(identifier_suffix="-check"):
                    return None
        except TimeoutError:
            return f"no answer within {timeout_s:g} s"
        except aiomqtt.MqttError as exc:
            why = _describe(exc)
            if is_auth_error(exc) or why.startswith("TLS certificate"):
                raise SinkError(f"MQTT broker {self.address.url}: {why}") from None
            return why

    # ------------------------------------------------------------------ queue side
    def _accept(self, item: Metrics | Alert) -> None:
        if isinstance(item, Alert):
            self._n_alerts += 1
            aid = f"{self.session_id}-{self._n_alerts}"
            payload = alert_payload(item, alert_id=aid, session_id=self.session_id,
                                    runner_id=self.runner_id,
                                    started_utc_ns=self.started_utc_ns,
                                    raised_utc_ns=time.time_ns(),
                                    expiry_s=self.cfg.alert_expiry_s)
            self._pending.append(_Pending(aid, payload, time.monotonic()))
            while len(self._pending) > int(self.cfg.alert_buffer):
                self._pending.popleft()
                self.stats.alerts_dropped += 1
        elif self.cfg.metrics:
            if self._latest is not None:
                self.stats.metrics_skipped += 1
            self._latest = item
        self._wake.set()

    async def _drain(self, q: DropOldestQueue[SinkItem]) -> None:
        while True:
            item = await q.get()
            if item is None:
                self._closing = True
                self._wake.set()
                return
            self._accept(item)

    # ------------------------------------------------------------------ broker side
    async def _flush(self, client: aiomqtt.Client) -> None:
        while self._pending:
            p = self._pending[0]
            left_s = self.cfg.alert_expiry_s - (time.monotonic() - p.raised_mono_s)
            if left_s <= 0:
                self._pending.popleft()
                self.stats.alerts_expired += 1
                continue
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.MessageExpiryInterval = max(1, math.ceil(left_s))
            await client.publish(self.topics["alerts"], json.dumps(p.payload), qos=1,
                                 retain=False, properties=props, timeout=10.0)
            # acknowledged: only now does it leave the buffer (at least once)
            self._pending.popleft()
            self.stats.alerts_sent += 1
            self.stats.sent_at[p.alert_id] = time.monotonic()
        if self._latest is not None:
            m, self._latest = self._latest, None
            body = metrics_payload(m, session_id=self.session_id, runner_id=self.runner_id,
                                   started_utc_ns=self.started_utc_ns)
            await client.publish(self.topics["metrics"], json.dumps(body), qos=0)
            self.stats.metrics_sent += 1

    async def _session(self, client: aiomqtt.Client) -> None:
        """One connected period: publish until the end of the stream (or an error)."""
        await client.publish(self.topics["status"], b"online", qos=1, retain=True)
        while True:
            self._wake.clear()
            await self._flush(client)
            if self._closing and not self._pending:
                await client.publish(self.topics["status"], b"offline", qos=1, retain=True)
                return
            with contextlib.suppress(TimeoutError):
                # wake up now and then even when idle, so a dead link is noticed
                await asyncio.wait_for(self._wake.wait(), timeout=self.cfg.keepalive_s)

    async def _connection_loop(self) -> None:
        backoff_s = self.cfg.reconnect_min_s
        deadline: float | None = None
        away = False
        while True:
            if self._closing:
                if deadline is None:
                    deadline = time.monotonic() + self.cfg.drain_timeout_s
                if away and not self._pending:
                    return  # nothing left to deliver; the broker's last will says offline
                if time.monotonic() >= deadline:
                    self.stats.alerts_undelivered = len(self._pending)
                    if self._pending:
                        self._log(f"mqtt: broker still away at the end of the run; "
                                  f"{len(self._pending)} alerts not delivered")
                    return
            client = self.client()
            connected = False
            try:
                async with client:
                    connected = True
                    self.stats.connects += 1
                    backoff_s = self.cfg.reconnect_min_s
                    if away or self.stats.connects == 1:
                        self._log(f"mqtt: connected to {self.address.url}"
                                  + (f", sending {len(self._pending)} pending alerts"
                                     if away and self._pending else ""))
                    away = False
                    try:
                        await self._session(client)
                    except asyncio.CancelledError:
                        # Ctrl-C: say goodbye so the phone knows (a clean disconnect
                        # does not trigger the last will)
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(client.publish(
                                self.topics["status"], b"offline", qos=1, retain=True), 1.0)
                        raise
                return
            except aiomqtt.MqttError as exc:
                self.stats.failures += 1
                self.stats.last_error = _describe(exc)
                if not away:
                    what = "lost the broker" if connected else "cannot reach the broker"
                    self._log(f"mqtt: {what} at {self.address.url} ({self.stats.last_error});"
                              f" retrying with backoff, alerts are kept meanwhile")
                away = True
            wait_s = backoff_s
            if deadline is not None:
                wait_s = max(0.0, min(wait_s, deadline - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                # an end-of-stream wakes the wait so the drain deadline starts at once
                self._wake.clear()
                if not self._closing:
                    await asyncio.wait_for(self._wait_closing(), timeout=wait_s)
                else:
                    await asyncio.sleep(wait_s)
            backoff_s = min(backoff_s * 2, self.cfg.reconnect_max_s)

    async def _wait_closing(self) -> None:
        while not self._closing:
            self._wake.clear()
            await self._wake.wait()

    async def run(self, q: DropOldestQueue[SinkItem]) -> None:
        """Drain ``q`` until None, publishing; never raises for a broker problem."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._drain(q))
            tg.create_task(self._connection_loop())
        if self.stats.alerts_dropped or self.stats.alerts_expired:
            self._log(f"mqtt: {self.stats.alerts_dropped} alerts dropped (outage buffer "
                      f"full), {self.stats.alerts_expired} expired before delivery")
