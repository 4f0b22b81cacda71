"""``breathform scan`` and ``breathform run``: live sensors over BLE.

Registered by :func:`register` from :mod:`breathform.cli`. Without ``--bumble`` they use the
operating system's Bluetooth through bleak; ``--bumble TRANSPORT`` uses bumble's own host
stack on a USB dongle (``usb:0``) or an HCI transport (``tcp-client:HOST:PORT``, serial...).
With no adapter both print a clear message and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import TYPE_CHECKING

from rich.console import Console

from breathform import __version__
from breathform import config as config_mod
from breathform.errors import InputError

if TYPE_CHECKING:
    from breathform.firmware_bridge.link import BleBackend


async def _open_backend(transport: str | None) -> BleBackend:
    if transport:
        from breathform.firmware_bridge.bumble_link import BumbleBackend

        return await BumbleBackend.open(transport)
    from breathform.firmware_bridge.bleak_link import BleakBackend

    return BleakBackend()


# ----------------------------------------------------------------------------- scan
def cmd_scan(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """List supported sensors advertising nearby."""
    from rich.table import Table

    if not 0 < args.seconds <= 120:
        raise InputError(f"--seconds must be in (0, 120], got {args.seconds:g}")

    async def go() -> list[object]:
        backend = await _open_backend(args.bumble)
        try:
            return list(await backend.scan(args.seconds))
        finally:
            await backend.close()

    console.print(f"scanning for {args.seconds:g} s…")
    from breathform.firmware_bridge.link import Advertisement

    found = [a for a in asyncio.run(go()) if isinstance(a, Advertisement)]
    shown = sorted((a for a in found if args.all or a.kind is not None),
                   key=lambda a: -a.rssi_dbm)
    if not shown:
        console.print(f"no supported sensor seen ({len(found)} other devices); is it worn "
                      "(the H10 wakes on skin contact) and not connected to another app?")
        return 1
    t = Table(title="BLE devices" if args.all else "supported sensors nearby")
    for col in ("kind", "name", "address", "signal (dBm)"):
        t.add_column(col)
    for a in shown:
        t.add_row(a.kind or "-", a.name or "-", a.address, str(a.rssi_dbm))
    console.print(t)
    console.print("use: breathform run --chest ADDRESS --sacrum ADDRESS")
    return 0


# ----------------------------------------------------------------------------- run
def cmd_run(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """Stream live sensors through the whole pipeline and record the session."""
    from breathform.cli import _new_session_id, _store_dir, _summary_view
    from breathform.cli_calibrate import session_processor
    from breathform.firmware_bridge.ble_source import BleSource, SensorTarget, check_fatal
    from breathform.firmware_bridge.link import Backoff
    from breathform.model import SessionInfo
    from breathform.runtime import RunResult, run_session
    from breathform.sinks.base import SinkContext, build_sinks
    from breathform.sinks.console import ConsoleView
    from breathform.sinks.live_console import LiveConsoleSink
    from breathform.store import SUFFIX, SessionWriter

    targets: list[SensorTarget] = []
    for role, given in (("chest", args.chest), ("sacrum", args.sacrum)):
        sc = getattr(cfg.sensors, role)
        address = given or sc.address
        if address:
            targets.append(SensorTarget(role, sc.kind, address, sc.rate_hz, sc.range_g))
    if not targets:
        raise InputError("give at least --chest ADDRESS (and --sacrum ADDRESS), or set "
                         "sensors.chest.address in the config; `breathform scan` lists "
                         "sensors nearby")
    if not any(t.role == "chest" for t in targets):
        raise InputError("breathing needs the chest sensor: give --chest ADDRESS as well "
                         "(the sacrum sensor alone gives no breathing rate)")
    duration_s = None if args.minutes is None else args.minutes * 60.0
    if duration_s is not None and not duration_s > 0:
        raise InputError(f"--minutes must be > 0, got {args.minutes:g}")
    missing = {"chest", "sacrum"} - {t.role for t in targets}

    async def go() -> tuple[RunResult, str]:
        backend = await _open_backend(args.bumble)
        try:
            # fail fast, before creating a session, when there is no adapter
            await backend.scan(0.2)
            source = BleSource(backend, targets, duration_s=duration_s,
                               backoff=Backoff(initial_s=0.5, max_s=30.0))
            sid = _new_session_id("ble")
            path = _store_dir(args, cfg) / f"{sid}{SUFFIX}"
            info = SessionInfo(session_id=sid, started_utc_ns=time.time_ns(), source="ble",
                               software_version=__version__, sensors=source.sensors,
                               runner_id=cfg.runner.id)
            proc = session_processor(cfg, source.sensors, source="ble",
                                     profile_flag=args.profile, console=console)
            writer = SessionWriter(path, info, config_mod.to_toml(cfg))
            sinks = build_sinks(args, SinkContext(info=info, cfg=cfg, console=console))

            def context(t_s: float) -> dict[str, str]:
                ctx = source.context(t_s)
                for role in sorted(missing):
                    ctx[f"{role} link"] = "missing (not given)"
                return ctx

            if not args.quiet:
                c = proc.counters
                sinks.append(LiveConsoleSink(
                    ConsoleView(title=f"breathform run — {sid}", session_path=str(path)),
                    console, refresh_hz=cfg.sinks.console.refresh_hz, context=context,
                    climb=lambda: proc.climb,
                    counters=lambda: {"packets": c.packets, "decode_errors": c.decode_errors,
                                      "gaps": c.gaps}))
            try:
                result = await run_session(source, cfg, writer=writer, sinks=sinks,
                                           processor=proc)
            except BaseExceptionGroup as eg:
                fatal = check_fatal(eg)
                if fatal is not None:
                    raise fatal from None
                raise
            return result, str(path)
        finally:
            await backend.close()

    for role in sorted(missing):
        console.print(f"[yellow]{role} sensor not given: running without it[/]")
    result, path = asyncio.run(go())
    console.print(_summary_view(result, "breathform run", path))
    console.print(f"session: [bold]{path}[/]")
    if result.interrupted:
        console.print("streams stopped, sensors disconnected; session saved")
        return 130
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser],
             common: argparse.ArgumentParser, epilog: str) -> None:
    """Add the ``scan`` and ``run`` subcommands.

    Args:
        sub: The subparsers of the main parser.
        common: Parent parser with the global options.
        epilog: Text under each help.
    """
    from breathform.sinks.base import add_sink_arguments

    bumble_help = ("use bumble's host stack on this HCI transport instead of the system's "
                   "Bluetooth, e.g. usb:0 (a USB dongle) or tcp-client:127.0.0.1:9001")
    s = sub.add_parser("scan", parents=[common], help="list supported BLE sensors nearby",
                       description="Scan for supported sensors (Polar H10, Movesense, "
                       "WitMotion BWT901BLE5.0, DIY boards on breathform's profile) and show "
                       "kind, name, address and signal strength.", epilog=epilog)
    s.add_argument("--seconds", type=float, default=5.0, help="scan time (default 5)")
    s.add_argument("--all", action="store_true", help="show every BLE device, not only "
                   "supported sensors")
    s.add_argument("--bumble", metavar="TRANSPORT", help=bumble_help)
    s.set_defaults(func=cmd_scan)

    r = sub.add_parser("run", parents=[common], help="record a run with live BLE sensors",
                       description="Connect to the chest (default Polar H10) and sacrum "
                       "(default Movesense; sensors.<role>.kind in the config) sensors, "
                       "configure and stream them through the DSP and alert rules, "
                       "show the live view and record the session. A dropped link is "
                       "reconnected with backoff and the gap recorded; Ctrl-C stops the "
                       "streams, disconnects and saves the session.", epilog=epilog)
    r.add_argument("--chest", metavar="ADDR", help="chest sensor address or name "
                   "(default: sensors.chest.address)")
    r.add_argument("--sacrum", metavar="ADDR", help="sacrum sensor address or name "
                   "(default: sensors.sacrum.address; may be omitted)")
    r.add_argument("--minutes", type=float, default=None,
                   help="stop after this many minutes (default: until Ctrl-C)")
    r.add_argument("--bumble", metavar="TRANSPORT", help=bumble_help)
    r.add_argument("--quiet", action="store_true", help="no live view, only the summary")
    add_sink_arguments(r)
    from breathform.cli_calibrate import add_profile_argument
    add_profile_argument(r)
    r.set_defaults(func=cmd_run)

