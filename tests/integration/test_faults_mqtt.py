"""The broker goes away for 30+ s of the run, mid-climb, and comes back (real Mosquitto).

The run is fast-forwarded to just before the first climb's alerts, then paced at
``SPEED`` x real time through the outage, with the MQTT sink's timers (reconnect backoff,
alert expiry, drain) divided by the same factor: a 35-s outage of the run then takes 3.5 s
of the test and is, for the sink, the same event as a 35-s outage at real time with the
default settings. The alerts raised while the broker is away reach the subscriber once it
is back, each once, none expired, within the scaled backoff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from mosquitto_broker import Broker, mosquitto_fixture  # noqa: F401
from test_mqtt_sink import Observer, Subscriber

from breathform.config import AlertsConfig, Config, MqttConfig, SinksConfig
from breathform.model import RawPacket
from breathform.runtime import run_session
from breathform.sim.source import SimSource
from breathform.sinks.mqtt import MqttSink, parse_broker_url

pytestmark = pytest.mark.integration

SPEED = 10.0
PACED_S = (340.0, 420.0)  # session seconds played at SPEED; the rest as fast as possible
DOWN_AT_S = 360.0          # the first climb's alerts come at ~369, 389 and 409 s
OUTAGE_S = 35.0


class FastForward:
    """A simulated run that is paced only inside ``PACED_S`` (its own pacing)."""

    live = False
    name = "sim"

    def __init__(self, sim: SimSource) -> None:
        self.sim = sim
        self.sensors = sim.sensors

    def batches(self) -> Iterator[list[RawPacket]]:
        return self.sim.batches()

    def context(self, t_s: float) -> dict[str, str]:
        return {}

    async def abatches(self) -> AsyncIterator[list[RawPacket]]:
        loop = asyncio.get_running_loop()
        anchor: tuple[float, float] | None = None
        for b in self.sim.batches():
            t = b[-1].t_rx_s
            if PACED_S[0] <= t < PACED_S[1]:
                if anchor is None:
                    anchor = (loop.time(), t)
                delay = anchor[0] + (t - anchor[1]) / SPEED - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield b
            await asyncio.sleep(0)


async def test_broker_down_for_35_s_of_the_run_mid_climb(mosquitto: Broker):
    d = MqttConfig()
    # the sink's timers at the run's time scale (the keep-alive is not involved: the
    # broker's stop closes the connection)
    mcfg = MqttConfig(reconnect_min_s=d.reconnect_min_s / SPEED,
                      reconnect_max_s=d.reconnect_max_s / SPEED,
                      alert_expiry_s=d.alert_expiry_s / SPEED,
                      drain_timeout_s=d.drain_timeout_s)
    cfg = Config(alerts=AlertsConfig(cooldown_s=20.0), sinks=SinksConfig(mqtt=mcfg))
    source = FastForward(SimSource.create(cfg, duration_s=12 * 60.0, seed=1, batch_s=0.05))
    sink = MqttSink(parse_broker_url(mosquitto.url), mcfg, runner_id="outage35-01",
                    session_id="outage35", started_utc_ns=time.time_ns())
    obs = Observer()
    async with Subscriber(mosquitto.plain_port, "breathform/outage35-01/alerts",
                          "t-outage35") as sub:
        run = asyncio.create_task(run_session(source, cfg, writer=None, sinks=[sink, obs]))
        await obs.wait_for(lambda o: o.t_s >= DOWN_AT_S, 120)
        await asyncio.to_thread(mosquitto.stop)
        t_down = obs.t_s
        raised_before = len(obs.alerts)
        assert t_down < PACED_S[0] + 30  # still inside the paced part
        await obs.wait_for(lambda o: o.t_s >= t_down + OUTAGE_S, 60)
        assert not run.done()
        back_wall = time.monotonic()  # the broker's own start-up counts in the delay
        await asyncio.to_thread(mosquitto.start)
        t_up = obs.t_s
        meanwhile = obs.alerts[raised_before:]
        assert len(meanwhile) >= 1, "the outage must cover alerts"
        want = {round(a.t_s, 3) for a in meanwhile}
        await sub.wait_for(lambda s: want <= {round(a["t_s"], 3)
                                              for a in s.alerts().values()}, 10)
        delivered_after_s = time.monotonic() - back_wall
        result = await asyncio.wait_for(run, 120)
        await sub.wait_for(lambda s: len(s.alerts()) >= len(result.alerts), 20)
    outage_s = t_up - t_down
    print(f"\nbroker down from t={t_down:.0f} s to t={t_up:.0f} s of the run ({outage_s:.0f} s "
          f"at {SPEED:g}x); {len(meanwhile)} alerts raised meanwhile, all delivered "
          f"{delivered_after_s:.2f} s of wall time after the broker came back")
    assert outage_s >= 30.0
    # the alerts raised meanwhile are there within the backoff ceiling (+ the subscriber's
    # own reconnection, which retries every 0.1 s)
    assert delivered_after_s < mcfg.reconnect_max_s + 2.0
    got = sub.alerts()
    assert sorted(a["t_s"] for a in got.values()) == [a.t_s for a in result.alerts]
    assert len(got) == len(result.alerts)  # ids unique: each alert once
    for a in got.values():
        assert a["expires_utc_ns"] > a["raised_utc_ns"]
    assert sink.stats.failures >= 1 and sink.stats.connects >= 2
    assert sink.stats.alerts_sent == len(result.alerts)
    assert sink.stats.alerts_dropped == sink.stats.alerts_expired == 0
    assert not result.interrupted and result.metrics[-1].t_s > 11 * 60
