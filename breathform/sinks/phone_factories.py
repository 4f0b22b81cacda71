"""Command-line factories of the MQTT sink (``--mqtt``) and the phone page (``--phone``).

Kept apart from ``breathform.sinks.mqtt`` so that the command line does not import aiomqtt
unless ``--mqtt`` is given (it is an optional extra: ``pip install breathform[mqtt]``).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from breathform.errors import SinkError

if TYPE_CHECKING:
    from breathform.sinks.base import Sink, SinkContext


class MqttSinkFactory:
    """``--mqtt [URL]``: alerts, metrics and status to an MQTT broker."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add ``--mqtt``."""
        g = parser.add_argument_group("MQTT (password from $BREATHFORM_MQTT_PASSWORD)")
        g.add_argument(
            "--mqtt", nargs="?", const="", default=None, metavar="URL",
            help="publish alerts (QoS 1), 1 Hz metrics and status to an MQTT broker, e.g. "
                 "mqtt://127.0.0.1:1883, mqtts://host:8883 (TLS) or mqtt://user@host; "
                 "without URL: sinks.mqtt.url from the config. The password comes from "
                 "$BREATHFORM_MQTT_PASSWORD (or sinks.mqtt.password_file), never the URL")

    def create(self, args: argparse.Namespace, ctx: SinkContext) -> Sink | None:
        """The MQTT sink, after one connection check.

        Raises:
            SinkError: For a bad URL, aiomqtt missing, a password in the URL, or a broker
                that refuses the credentials or whose certificate is not trusted. A broker
                that is merely away is reported and the run starts anyway.
        """
        url_arg = getattr(args, "mqtt", None)
        if url_arg is None:
            return None
        try:
            from breathform.sinks import mqtt
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise SinkError(f"--mqtt needs aiomqtt: pip install 'breathform[mqtt]' "
                            f"({exc})") from exc
        cfg = ctx.cfg.sinks.mqtt
        address = mqtt.parse_broker_url(url_arg or cfg.url)
        sink = mqtt.MqttSink(address, cfg, runner_id=ctx.info.runner_id,
                             session_id=ctx.info.session_id,
                             started_utc_ns=ctx.info.started_utc_ns,
                             password=mqtt.read_password(cfg),
                             log=lambda s: ctx.console.print(s, highlight=False,
                                                             markup=False))
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            why = asyncio.run(sink.check())
        else:  # called from async code: the sink's own loop reports problems
            why = None
        t = sink.topics
        if why is not None:
            ctx.console.print(f"mqtt: broker {address.url} not reachable now ({why}); the run "
                              f"starts anyway and keeps trying", highlight=False, markup=False)
        ctx.console.print(f"mqtt: {address.url} -> {t['alerts']} (QoS 1), {t['metrics']}, "
                          f"{t['status']}", highlight=False, markup=False)
        return sink


class PhoneSinkFactory:
    """``--phone``: serve the phone page over HTTP from the hub during the run."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add ``--phone``, ``--phone-port``, ``--phone-bind`` and ``--phone-ws``."""
        g = parser.add_argument_group("phone page")
        g.add_argument(
            "--phone", action="store_true",
            help="serve the phone page (live numbers, alerts with vibration and spoken cue) "
                 "over HTTP during the run; it reads the broker over MQTT-over-WebSockets "
                 "(demo: plays at real time unless --speed is given)")
        g.add_argument("--phone-port", type=int, default=8080, metavar="PORT",
                            help="HTTP port of the phone page (default 8080; 0 = any free)")
        g.add_argument("--phone-bind", default="0.0.0.0", metavar="ADDR",
                            help="address to serve the page on (default 0.0.0.0: the "
                                 "phone on the same network can reach it)")
        g.add_argument("--phone-ws", default="", metavar="URL",
                            help="broker WebSocket URL the page connects to (default "
                                 "ws://<the hub's address as the phone sees it>:9001/mqtt)")

    def create(self, args: argparse.Namespace, ctx: SinkContext) -> Sink | None:
        """The phone page server, or None without ``--phone``.

        Raises:
            SinkError: If the port is out of range or the runner id cannot be a topic.
        """
        if not getattr(args, "phone", False):
            return None
        from breathform.dashboard.phone.server import PhonePageSink

        port = int(args.phone_port)
        if not 0 <= port <= 65535:
            raise SinkError(f"--phone-port must be in 0..65535, got {port}")
        return PhonePageSink(host=args.phone_bind, port=port, ws_url=args.phone_ws,
                             topic_prefix=ctx.cfg.sinks.mqtt.topic_prefix,
                             runner_id=ctx.info.runner_id,
                             log=lambda s: ctx.console.print(s, highlight=False,
                                                             markup=False))
