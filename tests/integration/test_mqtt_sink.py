"""The MQTT sink against a real Mosquitto: plain, WebSockets, TLS+password, outages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math

import aiomqtt
import pytest
from mosquitto_broker import PASSWORD, USER, Broker, mosquitto_fixture  # noqa: F401

from breathform.cli import main
from breathform.config import AlertsConfig, Config, MqttConfig, SinksConfig
from breathform.model import Alert, Metrics
from breathform.queues import DropOldestQueue
from breathform.runtime import run_session
from breathform.sim.source import SimSource
from breathform.sinks.base import SinkItem
from breathform.sinks.mqtt import MqttSink, parse_broker_url
from breathform.store import SessionReader, list_sessions

pytestmark = pytest.mark.integration

# A 12-min hilly run with a 20-s cooldown fires 6 alerts on two climbs (~369-409 s and
# ~593-633 s of session time); the tests below check the count against the run itself.
CONFIG = "[alerts]\ncooldown_s = 20.0\n"
CAUSE_KEYS = {"name", "metric", "value", "baseline", "threshold", "unit"}
ALERT_KEYS = {"schema", "type", "id", "session_id", "runner_id", "t_s", "ts_utc_ns",
              "raised_utc_ns", "expires_utc_ns", "kind", "severity", "climb", "cue", "causes"}


class Subscriber:
    """Collects everything under a topic filter; reconnects (persistent session)."""

    def __init__(self, port: int, topic: str, client_id: str) -> None:
        self.port, self.topic, self.client_id = port, topic, client_id
        self.messages: list[aiomqtt.Message] = []
        self.ready = asyncio.Event()
        self.changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client("127.0.0.1", self.port, identifier=self.client_id,
                                          clean_session=False,
                                          protocol=aiomqtt.ProtocolVersion.V311) as c:
                    await c.subscribe(self.topic, qos=1)
                    self.ready.set()
                    async for m in c.messages:
                        async with self.changed:
                            self.messages.append(m)
                            self.changed.notify_all()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)  # broker away: retry (backoff, not a wait-for)

    async def __aenter__(self) -> Subscriber:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def payloads(self, suffix: str) -> list[dict]:
        return [json.loads(m.payload) for m in self.messages
                if str(m.topic).endswith(suffix)]

    def alerts(self) -> dict[str, dict]:
        return {a["id"]: a for a in self.payloads("/alerts")}

    async def wait_for(self, pred, timeout_s: float = 20.0) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: pred(self)), timeout_s)


def _check_alert_json(a: dict, stored: Alert) -> None:
    assert set(a) == ALERT_KEYS
    assert a["schema"] == 1 and a["type"] == "alert"
    assert a["t_s"] == stored.t_s and a["severity"] == stored.severity
    assert a["cue"] == stored.cue and a["climb"] is stored.climb
    assert a["expires_utc_ns"] > a["raised_utc_ns"]
    assert [c["name"] for c in a["causes"]] == [c.name for c in stored.causes]
    for c, sc in zip(a["causes"], stored.causes, strict=True):
        assert set(c) == CAUSE_KEYS
        assert math.isclose(c["value"], sc.value) and c["unit"] == sc.unit


async def test_demo_publishes_alerts_metrics_and_status(mosquitto: Broker, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG + "[runner]\nid = \"plain-01\"\n")
    async with Subscriber(mosquitto.plain_port, "breathform/plain-01/#", "t-plain") as sub:
        rc = await asyncio.to_thread(main, ["--dir", str(tmp_path), "-c", str(cfg), "demo",
                                            "--minutes", "12", "--quiet", "--mqtt",
                                            mosquitto.url])
        assert rc == 0, capsys.readouterr()
        await sub.wait_for(lambda s: any(m.payload == b"offline" for m in s.messages))
    [session] = list_sessions(tmp_path)
    with SessionReader(session.path) as r:
        stored = r.alerts()
        n_metrics = len(r.metrics())
    assert len(stored) >= 2
    got = sub.alerts()
    assert sorted(got) == [f"{session.session_id}-{i + 1}" for i in range(len(stored))]
    for i, s in enumerate(stored):
        _check_alert_json(got[f"{session.session_id}-{i + 1}"], s)
    alert_msgs = [m for m in sub.messages if str(m.topic).endswith("/alerts")]
    assert all(m.qos == 1 and not m.retain for m in alert_msgs)
    metrics = sub.payloads("/metrics")
    assert 0 < len(metrics) <= n_metrics
    assert {"t_s", "rate_bpm", "pelvic_tilt_deg", "warming_up", "schema"} <= set(metrics[-1])
    status = [m.payload for m in sub.messages if str(m.topic).endswith("/status")]
    assert status[0] == b"online" and status[-1] == b"offline"


async def test_alert_carries_message_expiry(mosquitto: Broker, tmp_path):
    """A v5 subscriber sees the expiry interval; a retained status is there for late phones."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG + "[runner]\nid = \"expiry-01\"\n[sinks.mqtt]\n"
                   "alert_expiry_s = 45.0\n")
    got: list[aiomqtt.Message] = []
    async with aiomqtt.Client("127.0.0.1", mosquitto.plain_port,
                              protocol=aiomqtt.ProtocolVersion.V5) as c:
        await c.subscribe("breathform/expiry-01/alerts", qos=1)
        rc = await asyncio.to_thread(main, ["--dir", str(tmp_path), "-c", str(cfg), "demo",
                                            "--minutes", "12", "--quiet", "--mqtt",
                                            mosquitto.url])
        assert rc == 0

        async def first() -> None:
            async for m in c.messages:
                got.append(m)
                return
        await asyncio.wait_for(first(), 10)
    expiry = got[0].properties.MessageExpiryInterval
    assert 1 <= expiry <= 45
    # a phone that subscribes after the run gets the retained status, not stale alerts
    async with Subscriber(mosquitto.plain_port, "breathform/expiry-01/#", "t-late") as late:
        await late.wait_for(lambda s: len(s.messages) >= 1, 10)
        assert late.messages[0].payload == b"offline" and late.messages[0].retain
        assert not late.alerts()


async def test_tls_and_password(mosquitto: Broker, tmp_path, monkeypatch):
    monkeypatch.setenv("BREATHFORM_MQTT_PASSWORD", PASSWORD)
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG + f"[runner]\nid = \"tls-01\"\n[sinks.mqtt]\n"
                   f"ca_file = \"{mosquitto.ca_file}\"\n")
    async with Subscriber(mosquitto.plain_port, "breathform/tls-01/#", "t-tls") as sub:
        rc = await asyncio.to_thread(
            main, ["--dir", str(tmp_path), "-c", str(cfg), "demo", "--minutes", "12",
                   "--quiet", "--mqtt", f"mqtts://{USER}@localhost:{mosquitto.tls_port}"])
        assert rc == 0
        await sub.wait_for(lambda s: any(m.payload == b"offline" for m in s.messages))
    assert len(sub.alerts()) >= 2


async def test_websockets_transport(mosquitto: Broker, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG + "[runner]\nid = \"ws-01\"\n")
    async with Subscriber(mosquitto.plain_port, "breathform/ws-01/#", "t-ws") as sub:
        rc = await asyncio.to_thread(
            main, ["--dir", str(tmp_path), "-c", str(cfg), "demo", "--minutes", "12",
                   "--quiet", "--mqtt", f"ws://127.0.0.1:{mosquitto.ws_port}/mqtt"])
        assert rc == 0
        await sub.wait_for(lambda s: any(m.payload == b"offline" for m in s.messages))
    assert len(sub.alerts()) >= 2


async def test_replay_publishes_the_recomputed_alerts(mosquitto: Broker, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG + "[runner]\nid = \"replay-01\"\n")
    rc = await asyncio.to_thread(main, ["--dir", str(tmp_path), "-c", str(cfg), "demo",
                                        "--minutes", "12", "--quiet"])
    assert rc == 0
    [session] = list_sessions(tmp_path)
    async with Subscriber(mosquitto.plain_port, "breathform/replay-01/#", "t-replay") as sub:
        rc = await asyncio.to_thread(main, ["--dir", str(tmp_path), "replay",
                                            session.session_id, "--mqtt", mosquitto.url])
        assert rc == 0
        await sub.wait_for(lambda s: any(m.payload == b"offline" for m in s.messages))
    with SessionReader(session.path) as r:
        stored = r.alerts()
    assert sorted(a["t_s"] for a in sub.alerts().values()) == [a.t_s for a in stored]
    assert {a["session_id"] for a in sub.alerts().values()} != {session.session_id}


@pytest.mark.parametrize("scheme_port", ["auth", "tls"])
async def test_wrong_password_is_a_clear_error(mosquitto: Broker, tmp_path, monkeypatch,
                                               capsys, scheme_port):
    monkeypatch.setenv("BREATHFORM_MQTT_PASSWORD", "not-the-password")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[sinks.mqtt]\nca_file = \"{mosquitto.ca_file}\"\n")
    url = (f"mqtt://{USER}@127.0.0.1:{mosquitto.auth_port}" if scheme_port == "auth"
           else f"mqtts://{USER}@127.0.0.1:{mosquitto.tls_port}")
    rc = await asyncio.to_thread(main, ["--dir", str(tmp_path), "-c", str(cfg), "demo",
                                        "--minutes", "3", "--quiet", "--mqtt", url])
    out = capsys.readouterr()
    assert rc == 2
    assert "refused the credentials" in out.err and "BREATHFORM_MQTT_PASSWORD" in out.err
    assert "not-the-password" not in out.err + out.out
    assert "Traceback" not in out.err
    assert not list_sessions(tmp_path)


def test_password_in_url_is_refused(tmp_path, capsys):
    rc = main(["--dir", str(tmp_path), "demo", "--minutes", "3", "--quiet", "--mqtt",
               "mqtt://u:hunter2@127.0.0.1:1"])
    err = capsys.readouterr().err
    assert rc == 2 and "must not contain a password" in err and "hunter2" not in err


class Observer:
    """A sink that records what the runtime fans out, and wakes waiters."""

    name = "observer"
    queue_size = 100_000

    def __init__(self) -> None:
        self.t_s = 0.0
        self.alerts: list[Alert] = []
        self.changed = asyncio.Condition()

    async def run(self, q: DropOldestQueue[SinkItem]) -> None:
        while (item := await q.get()) is not None:
            async with self.changed:
                if isinstance(item, Metrics):
                    self.t_s = item.t_s
                else:
                    self.alerts.append(item)
                self.changed.notify_all()

    async def wait_for(self, pred, timeout_s: float) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: pred(self)), timeout_s)


@pytest.mark.slow
async def test_broker_outage_mid_run(mosquitto: Broker):
    """Broker stopped after the first alert, restarted after the second climb's alerts."""
    mcfg = MqttConfig(reconnect_min_s=0.2, reconnect_max_s=1.0, drain_timeout_s=20.0)
    cfg = Config(alerts=AlertsConfig(cooldown_s=20.0), sinks=SinksConfig(mqtt=mcfg))
    source = SimSource.create(cfg, duration_s=12 * 60.0, seed=1)
    sink = MqttSink(parse_broker_url(mosquitto.url), mcfg, runner_id="outage-01",
                    session_id="outage", started_utc_ns=0)
    obs = Observer()
    async with Subscriber(mosquitto.plain_port, "breathform/outage-01/alerts",
                          "t-outage") as sub:
        run = asyncio.create_task(run_session(source, cfg, writer=None, sinks=[sink, obs],
                                              speed=20.0))
        await sub.wait_for(lambda s: len(s.alerts()) >= 1, 60)
        await asyncio.to_thread(mosquitto.stop)
        t_down = obs.t_s
        raised_before = len(obs.alerts)
        # the run goes on without the broker, through the rest of the first climb and
        # into the second one
        await obs.wait_for(lambda o: o.t_s >= 600 and len(o.alerts) > raised_before, 60)
        t_up = obs.t_s
        assert not run.done()
        await asyncio.to_thread(mosquitto.start)
        result = await asyncio.wait_for(run, 120)
        await sub.wait_for(lambda s: len(s.alerts()) >= len(result.alerts), 30)
    assert not result.interrupted
    assert result.metrics[-1].t_s > 11 * 60  # the run continued to the end
    raised_meanwhile = [a for a in result.alerts if t_down < a.t_s <= t_up]
    assert raised_meanwhile
    got = sub.alerts()
    assert sorted(a["t_s"] for a in got.values()) == [a.t_s for a in result.alerts]
    assert sink.stats.failures >= 1 and sink.stats.connects >= 2
    assert sink.stats.alerts_sent == len(result.alerts)
    assert sink.stats.alerts_dropped == sink.stats.alerts_expired == 0
