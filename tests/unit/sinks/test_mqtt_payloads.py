"""MQTT sink pieces that need no broker: URLs, topics, payloads, password, buffer bound."""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from breathform.config import ConfigError, MqttConfig, from_dict
from breathform.errors import SinkError
from breathform.model import Alert, Cause, Metrics
from breathform.queues import DropOldestQueue
from breathform.sinks.mqtt import (
    MqttSink,
    alert_payload,
    metrics_payload,
    parse_broker_url,
    read_password,
    topics,
)


@pytest.mark.parametrize(("url", "host", "port", "tls", "transport", "user"), [
    ("mqtt://127.0.0.1:1883", "127.0.0.1", 1883, False, "tcp", ""),
    ("mqtt://hub.local", "hub.local", 1883, False, "tcp", ""),
    ("mqtts://runner@hub:8884", "hub", 8884, True, "tcp", "runner"),
    ("mqtts://hub", "hub", 8883, True, "tcp", ""),
    ("ws://127.0.0.1:9001/mqtt", "127.0.0.1", 9001, False, "websockets", ""),
    ("wss://hub/ws", "hub", 443, True, "websockets", ""),
])
def test_parse_broker_url(url, host, port, tls, transport, user):
    a = parse_broker_url(url)
    assert (a.host, a.port, a.tls, a.transport, a.username) == (host, port, tls, transport,
                                                                   user)


@pytest.mark.parametrize(("url", "needle"), [
    ("http://hub:1883", "scheme 'http' is not supported"),
    ("mqtt://:1883", "has no host"),
    ("mqtt://hub:99999", "not valid"),
    ("mqtt://u:pw@hub", "must not contain a password"),
])
def test_bad_broker_urls_say_what_was_expected(url, needle):
    with pytest.raises(SinkError, match=needle) as e:
        parse_broker_url(url)
    assert "pw" not in str(e.value).replace("password", "")


def test_topics_and_forbidden_runner_ids():
    t = topics("breathform", "runner-01")
    assert t == {"alerts": "breathform/runner-01/alerts",
                 "metrics": "breathform/runner-01/metrics",
                 "status": "breathform/runner-01/status"}
    for bad in ("a/b", "a+b", "a#", ""):
        with pytest.raises(SinkError, match="cannot be an MQTT topic level"):
            topics("breathform", bad)


def test_config_table_is_validated():
    cfg = from_dict({"sinks": {"mqtt": {"topic_prefix": "club/a", "alert_buffer": 8}}})
    assert cfg.sinks.mqtt.topic_prefix == "club/a" and cfg.sinks.mqtt.alert_buffer == 8
    for key, value in [("topic_prefix", "a/#"), ("topic_prefix", "/a"), ("url", "http://x"),
                       ("alert_buffer", 0), ("alert_buffer", 2.5), ("password", "x")]:
        with pytest.raises(ConfigError, match=f"sinks.mqtt.{key}"):
            from_dict({"sinks": {"mqtt": {key: value}}})


def test_password_from_env_then_file(tmp_path, monkeypatch):
    f = tmp_path / "pw"
    f.write_text("from-file\n")
    cfg = MqttConfig(password_env="BF_TEST_PW", password_file=str(f))
    monkeypatch.delenv("BF_TEST_PW", raising=False)
    assert read_password(cfg) == "from-file"
    monkeypatch.setenv("BF_TEST_PW", "from-env")
    assert read_password(cfg) == "from-env"
    assert read_password(MqttConfig(password_env="BF_NOPE_PW")) is None
    with pytest.raises(SinkError, match="password_file"):
        read_password(MqttConfig(password_env="BF_NOPE_PW", password_file=str(tmp_path / "x")))


def _alert(t_s: float, value: float = 42.0) -> Alert:
    return Alert(t_s=t_s, kind="breathless_form", severity=2, cue="Stand tall.", climb=True,
                 causes=(Cause("rate_high", "rate_bpm", value, 30.0, 37.5, "bpm"),
                         Cause("breath_shallow", "depth_rel", math.nan, 1.0, 0.7, "rel")))


def test_alert_payload_is_json_with_nulls_for_nan():
    p = alert_payload(_alert(369.0), alert_id="s-1", session_id="s", runner_id="r",
                      started_utc_ns=1_000_000_000, raised_utc_ns=5, expiry_s=2.0)
    text = json.dumps(p, allow_nan=False)  # no NaN may reach a JSON parser
    back = json.loads(text)
    assert back["schema"] == 1 and back["ts_utc_ns"] == 1_000_000_000 + 369 * 10**9
    assert back["expires_utc_ns"] == 5 + 2 * 10**9
    assert back["causes"][1]["value"] is None and back["causes"][0]["value"] == 42.0
    m = metrics_payload(Metrics(t_s=3.0, rate_bpm=30.0), session_id="s", runner_id="r",
                        started_utc_ns=0)
    back = json.loads(json.dumps(m, allow_nan=False))
    assert back["rate_bpm"] == 30.0 and back["pelvic_tilt_deg"] is None
    assert back["warming_up"] is True


async def test_outage_buffer_is_bounded_and_reports_undelivered():
    """No broker at all: the sink keeps the newest alerts, drops the oldest, never raises."""
    cfg = MqttConfig(alert_buffer=3, reconnect_min_s=0.05, reconnect_max_s=0.05,
                     drain_timeout_s=0.2)
    logs: list[str] = []
    sink = MqttSink(parse_broker_url("mqtt://127.0.0.1:1"), cfg, runner_id="r",
                    session_id="s", started_utc_ns=0, password="never-shown",
                    log=logs.append)
    q: DropOldestQueue[object] = DropOldestQueue(100)
    for i in range(5):
        q.offer(_alert(float(i)))
    q.offer(None)
    await asyncio.wait_for(sink.run(q), 10)  # type: ignore[arg-type]
    assert sink.stats.alerts_dropped == 2
    assert sink.stats.alerts_undelivered == 3 and sink.stats.alerts_sent == 0
    assert sink.stats.failures >= 1
    assert any("cannot reach the broker" in s for s in logs)
    assert any("3 alerts not delivered" in s for s in logs)
    assert "never-shown" not in " ".join(logs) + repr(sink)
