"""The ``breathform export`` command: a stored session -> CSV, Parquet, EDF+ or BIDS-motion."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from breathform.config import Config

DESCRIPTION = (
    "Export a recorded session for research: every sensor's samples at its native rate with "
    "device time and session time, the 1 Hz metrics, the alerts, and the metadata (devices, "
    "rates, ranges, placement, units, calibration, clock alignment, software version). "
    "Formats: csv (one CSV per table + metadata.json), parquet (one file per table, metadata "
    "in the schema), edf (EDF+ per sensor and for the metrics, alerts as annotations), bids "
    "(BIDS 1.9 motion dataset, one tracking system per sensor). Exports are pseudonymous: no "
    "Bluetooth addresses or device names, runner id and serials replaced by a salted hash "
    "(salt: $BREATHFORM_HOME/export-salt or ~/.local/share/breathform/export-salt); "
    "--identify keeps them.")


def add_export_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                      common: argparse.ArgumentParser, epilog: str) -> None:
    """Add the ``export`` subcommand to the ``breathform`` parser.

    Args:
        sub: The subparsers of the main parser.
        common: Parent parser with the global options accepted after the command.
        epilog: Text shown after the help.
    """
    from breathform.export.writer import FORMATS

    e = sub.add_parser("export", parents=[common], help="export a session for research "
                       "(CSV, Parquet, EDF+, BIDS-motion)", description=DESCRIPTION,
                       epilog=epilog)
    e.add_argument("session", help="session file, or id (a unique prefix is enough)")
    e.add_argument("--format", required=True, choices=FORMATS, dest="fmt",
                   help="output format")
    e.add_argument("--out", required=True, help="output folder (created if missing)")
    e.add_argument("--identify", action="store_true",
                   help="keep identifiers (runner id, device serials, Bluetooth addresses) "
                   "instead of pseudonymising them")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace, cfg: Config, console: Console) -> int:
    """Export a session; prints where the files went."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from breathform.export.writer import export_session
    from breathform.store import default_session_dir, resolve_session

    path = resolve_session(args.session, default_session_dir(args.dir or cfg.store.dir))
    out = Path(args.out).expanduser()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True,
                        disable=args.quiet)
    with progress:
        dec = progress.add_task("decoding packets", total=None)
        wr = progress.add_task("writing samples", total=None, visible=False)

        def on_decode(done: int, total: int) -> None:
            progress.update(dec, completed=done, total=total)

        def on_write(n: int) -> None:
            progress.update(wr, advance=n, visible=True)

        result = export_session(path, args.fmt, out, identify=args.identify,
                                on_decode=on_decode, on_write=on_write)
    counts = ", ".join(f"{role} {n} samples" for role, n in result.n_samples.items())
    console.print(f"exported {path.name} as {args.fmt} ({counts}; "
                  f"{'identified' if args.identify else 'pseudonymous'}) to {out}",
                  highlight=False)
    for f in result.files:
        console.print(f"  {f.relative_to(out)}", highlight=False, markup=False)
    return 0
