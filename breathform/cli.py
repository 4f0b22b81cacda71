"""The ``breathform`` command line."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.text import Text

from breathform import __version__
from breathform import config as config_mod
from breathform.allocator import tune_for_batches
from breathform.errors import BreathformError
from breathform.model import SessionInfo
from breathform.sinks.base import add_sink_arguments

if TYPE_CHECKING:
    from breathform.runtime import RunResult

EPILOG = "Docs: README.md and hardware/README.md. Sessions live in the store folder " \
         "($BREATHFORM_HOME/sessions or ~/.local/share/breathform/sessions)."


def _new_session_id(source: str) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{source}-{secrets.token_hex(2)}"


def _store_dir(args: argparse.Namespace, cfg: config_mod.Config) -> Path:
    from breathform.store import default_session_dir
    return default_session_dir(args.dir or cfg.store.dir)


def _summary_view(result: RunResult, title: str, path: str | None) -> RenderableType:
    from breathform.sinks.console import ConsoleView

    view = ConsoleView(title=title, session_path=path)
    for m in result.metrics:
        view.update(m)
    for a in result.alerts:
        view.add_alert(a)
    c = result.counters
    return view.summary(counters={"packets": c.packets, "decode_errors": c.decode_errors,
                                  "gaps": c.gaps, "dropped": result.dropped_packets})


# ----------------------------------------------------------------------------- demo
def cmd_demo(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """Simulated hilly run through the whole pipeline."""
    from breathform.cli_calibrate import session_processor
    from breathform.runtime import run_session
    from breathform.sim.source import SimSource
    from breathform.sinks.base import SinkContext, build_sinks
    from breathform.sinks.console import ConsoleView
    from breathform.sinks.live_console import LiveConsoleSink
    from breathform.store import SUFFIX, SessionWriter

    if not 2 <= args.minutes <= 24 * 60:
        raise BreathformError(f"--minutes must be between 2 and 1440 (the run starts with a "
                              f"40-s calibration stand), got {args.minutes:g}")
    speed = 1.0 if args.realtime else args.speed
    if getattr(args, "phone", False) and speed is None:
        speed = 1.0  # the phone page is for watching: play at real time unless --speed
    if speed is not None and speed <= 0:
        raise BreathformError(f"--speed must be > 0, got {speed}")
    console.print(f"[bold]breathform demo[/]: simulating a {args.minutes:g}-min "
                  f"{'flat' if args.flat else 'hilly'} run (seed {args.seed})…")
    # paced runs get live-like small batches; as-fast-as-possible runs large ones
    source = SimSource.create(cfg, duration_s=args.minutes * 60.0, seed=args.seed,
                              flat=args.flat, batch_s=0.5 if speed is None else 0.05)
    sid = _new_session_id("demo")
    path = _store_dir(args, cfg) / f"{sid}{SUFFIX}"
    info = SessionInfo(session_id=sid, started_utc_ns=time.time_ns(), source="sim",
                       software_version=__version__, sensors=source.sensors,
                       runner_id=cfg.runner.id)
    # the profile and the sinks first: a broken profile or a sink that cannot start (e.g. a
    # broker refusing the password) leaves no empty session behind
    proc = session_processor(cfg, source.sensors, source=f"sim:seed={args.seed}",
                             profile_flag=args.profile, console=console)
    sinks = build_sinks(args, SinkContext(info=info, cfg=cfg, console=console))
    writer = SessionWriter(path, info, config_mod.to_toml(cfg))
    view = ConsoleView(title=f"breathform demo — {sid}", session_path=str(path))
    if not args.quiet:
        c = proc.counters
        sinks.append(LiveConsoleSink(
            view, console, refresh_hz=cfg.sinks.console.refresh_hz, context=source.context,
            climb=lambda: proc.climb,
            counters=lambda: {"packets": c.packets, "decode_errors": c.decode_errors,
                              "gaps": c.gaps}))
    result = asyncio.run(run_session(source, cfg, writer=writer, sinks=sinks, speed=speed,
                                     processor=proc))
    console.print(_summary_view(result, f"breathform demo — {sid}", str(path)))
    console.print(f"session: [bold]{path}[/]")
    console.print(f"replay it: breathform replay {sid}")
    if result.interrupted:
        console.print("[yellow]interrupted: the session was saved up to this point[/]")
        return 130
    return 0


# ----------------------------------------------------------------------------- replay
def cmd_replay(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """Recompute metrics and alerts from a session's raw packets."""
    from breathform.firmware_bridge.replay import PACED_BATCH, ReplaySource
    from breathform.replay_compare import compare
    from breathform.runtime import run_session
    from breathform.sinks.base import SinkContext, build_sinks
    from breathform.store import SUFFIX, SessionReader, SessionWriter, resolve_session

    path = resolve_session(args.session, _store_dir(args, cfg))
    with SessionReader(path) as reader:
        if args.config:
            run_cfg = cfg
            note = f"with config {args.config}"
        else:
            run_cfg = reader.recorded_config()
            note = "with the config it was recorded with"
        source = ReplaySource(reader, None if args.speed is None else PACED_BATCH)
        console.print(f"replaying {reader.info.session_id} ({source.n_packets} packets) {note}…")
        writer = None
        sid = _new_session_id("replay")
        info = SessionInfo(session_id=sid, started_utc_ns=time.time_ns(),
                           source=source.name, software_version=__version__,
                           sensors=source.sensors, runner_id=run_cfg.runner.id)
        if args.save:
            writer = SessionWriter(path.parent / f"{sid}{SUFFIX}", info,
                                   config_mod.to_toml(run_cfg))
        sinks = build_sinks(args, SinkContext(info=info, cfg=run_cfg, console=console))
        from breathform.cli_calibrate import replay_processor
        proc = replay_processor(run_cfg, source.sensors, reader.calibration())
        result = asyncio.run(run_session(source, run_cfg, writer=writer, sinks=sinks,
                                         speed=args.speed, processor=proc))
        # the stored metrics and strides are read as they are compared (a long
        # session's are not held twice)
        rep = compare(reader.iter_metrics(), reader.alerts(), result.metrics, result.alerts,
                      reader.metric_fields(),
                      reader.iter_strides() if reader.has_strides() else None,
                      result.strides)
    console.print(f"recomputed {len(result.metrics)} s of metrics and {len(result.alerts)} "
                  f"alerts in {result.wall_s:.1f} s "
                  f"({result.duration_s / max(result.wall_s, 1e-9):.0f}× real time)")
    for a in result.alerts:
        mm, ss = divmod(int(a.t_s), 60)
        causes = ", ".join(f"{c.name} {c.value:.1f} {c.unit}" for c in a.causes)
        console.print(f"  [{mm:02d}:{ss:02d}] severity {a.severity}: {causes} — {a.cue}",
                      highlight=False)
    console.print(rep.text)
    if writer is not None:
        console.print(f"saved as {writer.path}")
    return 0 if (rep.identical or args.config) else 1


# ----------------------------------------------------------------------------- sessions
def cmd_sessions(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """List recorded sessions."""
    from rich.table import Table

    from breathform.store import list_sessions

    folder = _store_dir(args, cfg)
    rows = list_sessions(folder)
    if not rows:
        console.print(f"no sessions in {folder}")
        return 0
    t = Table(title=f"sessions in {folder}")
    for col in ("session", "started (UTC)", "source", "duration", "alerts", "status"):
        t.add_column(col, overflow="fold")
    for s in rows:
        mm, ss = divmod(int(s.duration_s), 60)
        t.add_row(s.session_id, time.strftime("%Y-%m-%d %H:%M", time.gmtime(
            s.started_utc_ns / 1e9)), s.source, f"{mm}:{ss:02d}", str(s.n_alerts), s.status)
    console.print(t)
    return 0


# ----------------------------------------------------------------------------- analyze
def cmd_analyze(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """DSP on a CSV recording; 1 Hz metrics as CSV on stdout."""
    from breathform.analyze import analyze_csv

    out = sys.stdout if args.out in (None, "-") else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        n = analyze_csv(args.csv, sensor=args.sensor, out=out, cfg=cfg, rr_path=args.rr)
    finally:
        if out is not sys.stdout:
            out.close()
    Console(stderr=True).print(f"{n} rows written", style="dim")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    p = argparse.ArgumentParser(
        prog="breathform",
        description="Breathing-and-posture monitor for runners: chest + sacrum IMUs, "
                    "real-time DSP, alerts when form fails while out of breath.",
        epilog=EPILOG)
    p.add_argument("--version", action="version", version=f"breathform {__version__}")
    p.add_argument("-c", "--config", help="TOML config file (runner, sensors, thresholds, "
                   "sinks); defaults are used for anything it leaves out")
    p.add_argument("--dir", help="session folder (overrides store.dir)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The global options are accepted after the command too (`breathform replay S -c X`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", default=argparse.SUPPRESS,
                        help="TOML config file (same as before the command)")
    common.add_argument("--dir", default=argparse.SUPPRESS,
                        help="session folder (same as before the command)")

    d = sub.add_parser("demo", parents=[common],
                       help="run the whole pipeline on a simulated hilly run",
                       description="Simulate a runner with two IMUs (Polar H10 on the chest, "
                       "Movesense on the sacrum) on a hilly route, stream their real packet "
                       "formats through the decoders, DSP and alert rules, show the live view "
                       "and record the session. Runs faster than real time by default.",
                       epilog=EPILOG)
    d.add_argument("--minutes", type=float, default=30.0, help="run length (default 30)")
    d.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    d.add_argument("--flat", action="store_true", help="steady flat run, no climbs")
    g = d.add_mutually_exclusive_group()
    g.add_argument("--realtime", action="store_true", help="play at real time, to watch live")
    g.add_argument("--speed", type=float, default=None,
                   help="play at this multiple of real time (default: as fast as possible)")
    d.add_argument("--quiet", action="store_true", help="no live view, only the summary")
    add_sink_arguments(d)
    from breathform.cli_calibrate import add_profile_argument
    add_profile_argument(d)
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("replay", parents=[common],
                       help="recompute metrics and alerts from a recorded session",
                       description="Feed a session's stored raw packets through the same "
                       "decoders, DSP and alert rules. With the recorded config the result "
                       "must be identical to what the live run stored (exit 1 if not); with "
                       "--config it shows what new thresholds would have done.",
                       epilog=EPILOG)
    r.add_argument("session", help="session file, or id (a unique prefix is enough)")
    r.add_argument("--save", action="store_true", help="also write the result as a new session")
    r.add_argument("--speed", type=float, default=None,
                   help="pace the replay at this multiple of real time (default: as fast as "
                   "possible), e.g. to feed live sinks")
    add_sink_arguments(r)
    r.set_defaults(func=cmd_replay)

    s = sub.add_parser("sessions", parents=[common], help="list recorded sessions", epilog=EPILOG)
    s.set_defaults(func=cmd_sessions)

    a = sub.add_parser("analyze", parents=[common],
                       help="run the DSP on a CSV recording, print 1 Hz metrics",
                       description="Input: CSV with header t_s,ax_g,ay_g,az_g and optional "
                       "gx_dps,gy_dps,gz_dps (time in seconds, acceleration in g, angular rate "
                       "in deg/s, uniformly sampled). Output (stdout): 1 Hz CSV; for --sensor "
                       "chest the columns start t_s,rate_bpm,depth_rel,quality; for --sensor "
                       "sacrum they include t_s,cadence_spm,pelvic_tilt_deg. NaN = no estimate.",
                       epilog=EPILOG)
    a.add_argument("csv", help="the recording (CSV)")
    a.add_argument("--sensor", choices=("chest", "sacrum"), required=True,
                   help="where the sensor was worn")
    a.add_argument("-o", "--out", help="write the CSV here instead of stdout")
    a.add_argument("--rr", metavar="FILE", help="heartbeat RR intervals (CSV t_s,rr_ms, same "
                   "clock) fused into the chest breathing rate; adds the columns "
                   "rate_acc_bpm,rate_rr_bpm,hr_bpm")
    a.set_defaults(func=cmd_analyze)

    from breathform.cli_export import add_export_parser
    add_export_parser(sub, common, EPILOG)  # export (CSV, Parquet, EDF+, BIDS-motion)

    from breathform.cli_review import add_review_commands
    add_review_commands(sub, common, EPILOG)  # push, dashboard, report

    from breathform.cli_calibrate import register as register_calibrate
    register_calibrate(sub, common, EPILOG)  # calibrate (runner profile)

    from breathform.cli_ble import register as register_ble
    register_ble(sub, common, EPILOG)  # scan, run (live BLE sensors)

    from breathform.cli_import import add_import_parser
    add_import_parser(sub, common, EPILOG)  # import (generic CSV, Polar Sensor Logger)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``breathform`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    tune_for_batches()  # memory settings for batch work (breathform.allocator)
    console = Console(stderr=args.command == "analyze")
    try:
        cfg = config_mod.load(args.config)
        rc: int = args.func(args, cfg, console)
        return rc
    except (BreathformError, BaseExceptionGroup) as exc:
        # a session's task group hands on what failed in it (e.g. a damaged session file)
        from breathform.firmware_bridge.ble_source import check_fatal
        err = check_fatal(exc)
        if err is None:
            raise
        Console(stderr=True, soft_wrap=True).print(
            Text.assemble(("error: ", "bold red"), str(err)), highlight=False)
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
