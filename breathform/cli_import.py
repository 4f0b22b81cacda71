"""``breathform import``: a recording made with another tool becomes a breathform session.

Registered by :func:`add_import_parser` from :mod:`breathform.cli`. The recording is turned
into the raw packets its sensor would have sent (see :mod:`breathform.importers`) and run
through the decoders, DSP and alert rules into a session file, so ``replay``, ``report``
and ``export`` work on it like on a live session.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from breathform import __version__
from breathform import config as config_mod
from breathform.errors import InputError
from breathform.firmware_bridge.devices import polar_h10
from breathform.importers import (
    FORMATS,
    ImportedStream,
    generic_csv,
    hr_packets,
    merge,
    polar_sensor_logger,
    to_stream,
)
from breathform.importers._table import ProgressCallback
from breathform.importers.generic_csv import Recording
from breathform.model import RawPacket, SensorInfo, SessionInfo

DESCRIPTION = (
    "Turn a recording made with another tool into a breathform session (raw packets, "
    "metrics, alerts) that replay, report and export treat like a live one. Formats: "
    "generic-csv (columns t_s or t_ms; ax_g,ay_g,az_g or _mps2 or _mg; optional gx_dps,"
    "gy_dps,gz_dps or _rad_s; unlabelled t/ax/gx columns need --time-unit/--acc-unit/"
    "--gyro-unit) and polar-sensor-logger (the Polar Sensor Logger app's ACC .txt export: "
    "'Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]', sensor time in ns since "
    "2000-01-01). A second file for the other sensor goes with --sacrum (or --chest), in "
    "--other-format if it differs.")


class ImportSource:
    """Imported packets as a packet source for :func:`breathform.runtime.run_session`.

    Args:
        name: Source name stored with the session.
        sensors: The sensors.
        packets: All packets in receive order.
        batch: Packets per batch.
        on_batch: Called with (packets done, packets total) after each batch.
    """

    live = False

    def __init__(self, name: str, sensors: tuple[SensorInfo, ...], packets: list[RawPacket],
                 batch: int = 2048, on_batch: Callable[[int, int], None] | None = None
                 ) -> None:
        self.name, self.sensors = name, sensors
        self._packets, self._batch, self._on_batch = packets, batch, on_batch

    def batches(self) -> Iterator[list[RawPacket]]:
        """The packets in batches."""
        n = len(self._packets)
        for i in range(0, n, self._batch):
            yield self._packets[i:i + self._batch]
            if self._on_batch is not None:
                self._on_batch(min(i + self._batch, n), n)

    def context(self, t_s: float) -> dict[str, str]:
        """No live context."""
        return {}


def read_recording(path: str, fmt: str, args: argparse.Namespace,
                   progress: ProgressCallback | None = None) -> Recording:
    """Read one file in the given format.

    Raises:
        InputError: For an unknown format or a broken file.
    """
    if fmt == "polar-sensor-logger":
        return polar_sensor_logger.read(path, progress=progress)
    if fmt == "generic-csv":
        return generic_csv.read(path, time_unit=args.time_unit, acc_unit=args.acc_unit,
                                gyro_unit=args.gyro_unit, progress=progress)
    raise InputError(f"--format must be one of {FORMATS}, got {fmt!r}")


def _start_utc_ns(arg: str | None, recs: list[Recording], path: Path) -> int:
    if arg:
        try:
            t = dt.datetime.fromisoformat(arg)
        except ValueError:
            raise InputError(f"--start must be an ISO date-time such as "
                             f"2024-05-04T09:12:00, got {arg!r}") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        return int(t.timestamp() * 1e9)
    known = [r.start_utc_ns for r in recs if r.start_utc_ns is not None]
    if known:
        return min(known)
    # the file says nothing: it was last written when the recording ended
    return int((path.stat().st_mtime - float(recs[0].t_s[-1])) * 1e9)


def _align(recs: dict[str, Recording]) -> dict[str, Recording]:
    """Put two recordings on one time line when both know their wall-clock start."""
    starts = {r: rec.start_utc_ns for r, rec in recs.items()}
    if len(recs) < 2 or any(v is None for v in starts.values()):
        return recs
    t0 = min(v for v in starts.values() if v is not None)
    return {r: replace(rec, t_s=rec.t_s + ((starts[r] or t0) - t0) * 1e-9)
            for r, rec in recs.items()}


def _hr_stream(path: str, chest: Recording, info: SensorInfo) -> ImportedStream:
    """The chest strap's heart rate from a Polar Sensor Logger HR or RR file."""
    if info.kind != "polar_h10" or chest.start_utc_ns is None:
        raise InputError("--hr goes with a Polar Sensor Logger ACC file for the chest whose "
                         "phone timestamps place it in time")
    hr = polar_sensor_logger.read_hr(path)
    packets = hr_packets(hr, chest.start_utc_ns, "chest")
    if not packets:
        raise InputError(f"{path}: every row is before the ACC file's first one; expected "
                         "the HR/RR file of the same recording")
    return ImportedStream(info, packets)


def cmd_import(args: argparse.Namespace, cfg: config_mod.Config, console: Console) -> int:
    """Import one or two files as a session; prints where it went."""
    from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

    from breathform.cli import _new_session_id, _store_dir, _summary_view
    from breathform.runtime import run_session
    from breathform.store import SUFFIX, SessionWriter

    other = "sacrum" if args.sensor == "chest" else "chest"
    extra = args.sacrum if other == "sacrum" else args.chest
    if (args.chest and args.sensor == "chest") or (args.sacrum and args.sensor == "sacrum"):
        raise InputError(f"FILE is already the {args.sensor} sensor; give the other sensor's "
                         f"file with --{other}")
    files = {args.sensor: args.file, **({other: extra} if extra else {})}
    if "chest" not in files:
        raise InputError("a session needs the chest sensor (breathing): give --chest FILE "
                         "as well, or import this file with --sensor chest")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        console=console, transient=True, disable=args.quiet)
    with progress:
        recs: dict[str, Recording] = {}
        streams_fmt: dict[str, str] = {}
        for role, f in files.items():
            task = progress.add_task(f"reading {Path(f).name}", total=None)

            def on_read(done: int, total: int, task: TaskID = task) -> None:
                progress.update(task, completed=done, total=total)

            fmt = args.fmt if role == args.sensor else (args.other_format or args.fmt)
            recs[role] = read_recording(f, fmt, args, on_read)
            streams_fmt[role] = fmt
        recs = _align(recs)
        streams: list[ImportedStream] = [to_stream(recs[r], streams_fmt[r], r)
                                         for r in ("chest", "sacrum") if r in recs]
        if args.hr:
            streams.append(_hr_stream(args.hr, recs["chest"], streams[0].info))
        packets = merge(streams)
        sensors = tuple(dict.fromkeys(s.info for s in streams))
        sid = _new_session_id("import")
        path = _store_dir(args, cfg) / f"{sid}{SUFFIX}"
        info = SessionInfo(session_id=sid,
                           started_utc_ns=_start_utc_ns(args.start, list(recs.values()),
                                                        Path(args.file)),
                           source=f"import:{args.fmt}", software_version=__version__,
                           sensors=sensors, runner_id=cfg.runner.id)
        task = progress.add_task("analysing", total=len(packets))

        def on_batch(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        source = ImportSource(info.source, sensors, packets, on_batch=on_batch)
        writer = SessionWriter(path, info, config_mod.to_toml(cfg))
        writer.set_meta("imported_from", ", ".join(f"{r}: {Path(f).name}"
                                                   for r, f in files.items()))
        result = asyncio.run(run_session(source, cfg, writer=writer))
    for s in streams:
        hr = s.packets and s.packets[0].char == polar_h10.HR_MEASUREMENT_UUID
        what = ("heart rate" if hr else
                f"{s.info.fs_hz:g} Hz, {'acc + gyro' if s.info.has_gyro else 'acc only'}")
        console.print(f"{s.info.role}: {s.info.kind}, {len(s.packets)} packets, {what}",
                      highlight=False)
    console.print(_summary_view(result, f"breathform import — {sid}", str(path)))
    console.print(f"session: [bold]{path}[/]")
    console.print(f"replay it: breathform replay {sid}")
    return 130 if result.interrupted else 0


def add_import_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                      common: argparse.ArgumentParser, epilog: str) -> None:
    """Add the ``import`` subcommand.

    Args:
        sub: The subparsers of the main parser.
        common: Parent parser with the global options accepted after the command.
        epilog: Text shown after the help.
    """
    i = sub.add_parser("import", parents=[common], help="turn a recording from another tool "
                       "(generic CSV, Polar Sensor Logger) into a session",
                       description=DESCRIPTION, epilog=epilog)
    i.add_argument("file", help="the recording")
    i.add_argument("--format", required=True, choices=FORMATS, dest="fmt",
                   help="what the file is")
    i.add_argument("--sensor", choices=("chest", "sacrum"), default="chest",
                   help="where FILE's sensor was worn (default chest)")
    i.add_argument("--chest", metavar="FILE", help="the chest sensor's file, same format "
                   "(with --sensor sacrum)")
    i.add_argument("--sacrum", metavar="FILE", help="the sacrum sensor's file")
    i.add_argument("--other-format", choices=FORMATS, help="format of the --chest/--sacrum "
                   "file (default: --format)")
    i.add_argument("--hr", metavar="FILE", help="the chest strap's Polar Sensor Logger HR "
                   "or RR file (with --format polar-sensor-logger)")
    i.add_argument("--time-unit", choices=tuple(generic_csv.TIME_UNITS),
                   help="unit of an unlabelled t/time column (generic-csv)")
    i.add_argument("--acc-unit", choices=tuple(generic_csv.ACC_UNITS),
                   help="unit of unlabelled ax,ay,az columns (generic-csv)")
    i.add_argument("--gyro-unit", choices=tuple(generic_csv.GYRO_UNITS),
                   help="unit of unlabelled gx,gy,gz columns (generic-csv)")
    i.add_argument("--start", metavar="ISO", help="wall-clock start of the recording, e.g. "
                   "2024-05-04T09:12:00 (default: from the file, else its modification "
                   "time)")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    i.set_defaults(func=cmd_import)
