"""Post-run review commands: ``push`` (session -> InfluxDB), ``dashboard``, ``report``."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from breathform import config as config_mod
from breathform.errors import SinkError


def _session_path(args: argparse.Namespace, cfg: config_mod.Config) -> Path:
    from breathform.store import default_session_dir, resolve_session

    return resolve_session(args.session, default_session_dir(args.dir or cfg.store.dir))


# ----------------------------------------------------------------------------- push
def cmd_push(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """Write a recorded session's metrics, alerts and strides to InfluxDB, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from breathform.sinks.influx import open_writer, read_token, session_lines, settings
    from breathform.store import SessionReader

    path = _session_path(args, cfg)
    with SessionReader(path) as r:
        info, metrics, alerts, strides = r.info, r.metrics(), r.alerts(), r.strides()
    lines = list(session_lines(info, metrics, alerts, strides))
    st = settings(args, cfg)
    if args.batch_size is not None:
        if args.batch_size < 1:
            raise SinkError(f"--batch-size must be >= 1, got {args.batch_size}")
        st = replace(st, batch_size=args.batch_size)
    writer = open_writer(st, read_token(cfg))
    writer.retry_s = 0.0
    transport = writer.transport
    try:
        # Anything a live run left in the spool goes first (same identities: no duplicates).
        writer.drain_spool()
        with Progress(TextColumn("pushing {task.description}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("points"), console=console,
                      transient=not console.is_terminal) as bar:
            task = bar.add_task(info.session_id, total=len(lines))
            for i in range(0, len(lines), st.batch_size):
                chunk = lines[i:i + st.batch_size]
                before = writer.stats.failures
                writer.add(chunk)
                writer.flush()
                if writer.stats.failures > before and writer.stats.rejected_points == 0:
                    # Post-run there is nobody to wait for: stop, keep the rest unsent.
                    raise SinkError(f"{writer.stats.last_error} ({writer.stats.sent_points} "
                                    f"of {len(lines)} points sent; run push again when the "
                                    f"server is up: points already sent are not duplicated)")
                bar.advance(task, len(chunk))
    finally:
        transport.close()
    s = writer.stats
    if s.rejected_points:
        raise SinkError(f"the server rejected {s.rejected_points} points: {s.last_error}")
    console.print(f"pushed {s.sent_points} points of {info.session_id} "
                  f"({len(metrics)} s of metrics, {len(alerts)} alerts) to {transport.url}",
                  highlight=False)
    return 0


# ----------------------------------------------------------------------------- dashboard
def cmd_dashboard(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """Write the Grafana provisioning files and the dashboard JSON."""
    from breathform.dashboard.grafana import write_provisioning

    files = write_provisioning(args.out, influx_url=args.influx_url, database=args.database)
    for f in files:
        console.print(f"wrote {f}", highlight=False)
    return 0


# ----------------------------------------------------------------------------- report
def cmd_report(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """Write the self-contained HTML report of a session."""
    from breathform.dashboard.report import write_report

    path = _session_path(args, cfg)
    out = Path(args.out) if args.out else path.with_suffix(".html")
    written = write_report(path, out)
    console.print(f"report: {written}", highlight=False)
    return 0


def add_review_commands(sub: Any, common: argparse.ArgumentParser, epilog: str) -> None:
    """Add ``push`` (and the other review commands) to the ``breathform`` subparsers.

    Args:
        sub: The subparsers action of the main parser.
        common: Parent parser with the global options accepted after the command.
        epilog: Help epilog.
    """
    from breathform.sinks.influx import add_influx_options

    p = sub.add_parser("push", parents=[common],
                       help="write a recorded session to InfluxDB",
                       description="Write a session's 1 Hz metrics, alerts and per-stride gait to "
                       "InfluxDB "
                       "(schema: breathform/sinks/influx.py). Pushing twice, or pushing a "
                       "session that was streamed live, creates no duplicates. The token is "
                       "read from $BREATHFORM_INFLUX_TOKEN.", epilog=epilog)
    p.add_argument("session", help="session file, or id (a unique prefix is enough)")
    add_influx_options(p, required=True)
    p.add_argument("--batch-size", type=int, default=None,
                   help="points per request (default: sinks.influx.batch_size, 1000)")
    p.set_defaults(func=cmd_push)

    d = sub.add_parser("dashboard", parents=[common],
                       help="write the Grafana dashboard and provisioning files",
                       description="Generate the run-review dashboard (InfluxQL queries, "
                       "alerts as annotations, runner/session variables) with Grafana's "
                       "datasource and dashboard-provider provisioning files: "
                       "OUT/provisioning/{datasources,dashboards}/breathform.yaml and "
                       "OUT/dashboards/breathform.json.", epilog=epilog)
    d.add_argument("--out", default="deploy/grafana",
                   help="output folder (default deploy/grafana)")
    d.add_argument("--influx-url", default="http://influxdb:8086",
                   help="InfluxDB URL as Grafana reaches it (default http://influxdb:8086, "
                   "the docker-compose service)")
    d.add_argument("--database", default="breathform",
                   help="InfluxQL database (InfluxDB 2: the DBRP mapping's; default "
                   "breathform)")
    d.set_defaults(func=cmd_dashboard)

    r = sub.add_parser("report", parents=[common],
                       help="write a self-contained HTML report of a session",
                       description="One HTML file with the plots embedded (inline SVG): "
                       "breathing rate and depth, pelvic tilt, trunk lean, cadence and heart "
                       "rate over time with the climbs shaded and the alerts marked; a "
                       "summary table; the alerts; a per-climb breakdown (before / during / "
                       "after); the calibration used.", epilog=epilog)
    r.add_argument("session", help="session file, or id (a unique prefix is enough)")
    r.add_argument("-o", "--out", help="HTML file to write (default: next to the session, "
                   "SESSION.html)")
    r.set_defaults(func=cmd_report)
