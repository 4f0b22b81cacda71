"""Export a stored session to CSV, Parquet, EDF+ or BIDS-motion: the one entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from breathform.errors import InputError
from breathform.export.metadata import build_metadata
from breathform.export.privacy import Privacy
from breathform.export.streams import ProgressFn, SessionData, load_session
from breathform.store import SessionReader

Step = Callable[[int], None]
"""Called with the number of samples just written."""

FORMATS: tuple[str, ...] = ("csv", "parquet", "edf", "bids")


def _no_step(n: int) -> None:
    del n


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote.

    Attributes:
        out: The output folder.
        files: Every file written.
        n_samples: Sensor samples exported, by sensor role.
        metadata: The export's metadata.
    """

    out: Path
    files: list[Path]
    n_samples: dict[str, int]
    metadata: dict[str, Any]


def write_data(data: SessionData, fmt: str, out: Path, privacy: Privacy,
               step: Step = _no_step) -> ExportResult:
    """Write an already decoded session in ``fmt`` into the folder ``out``.

    Raises:
        InputError: If ``fmt`` is unknown or ``out`` is a file.
    """
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {list(FORMATS)}, got {fmt!r}")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out must be a folder (new or existing), got the file {str(out)!r}")
    metadata = build_metadata(data, privacy, fmt)
    files: list[Path]
    if fmt == "csv":
        from breathform.export.csv_export import write_csv
        files = write_csv(data, metadata, out, step)
    elif fmt == "parquet":
        from breathform.export.parquet_export import write_parquet
        files = write_parquet(data, metadata, out, step)
    elif fmt == "edf":
        from breathform.export.edf_export import write_edf
        files = write_edf(data, metadata, out, step)
    else:
        from breathform.export.bids_export import write_bids
        files = write_bids(data, metadata, out, privacy, step)
    return ExportResult(out=out, files=files,
                        n_samples={r: s.n for r, s in data.streams.items()},
                        metadata=metadata)


def export_session(session: Path, fmt: str, out: Path, *, identify: bool = False,
                   on_decode: ProgressFn | None = None, on_write: Step = _no_step,
                   salt_folder: Path | None = None) -> ExportResult:
    """Decode a session file and export it.

    Args:
        session: The session file.
        fmt: "csv", "parquet", "edf" or "bids".
        out: Output folder (created if missing).
        identify: Keep identifiers (runner id, serials, addresses) as recorded.
        on_decode: Progress of decoding: (packets done, packets total).
        on_write: Progress of writing: samples just written.
        salt_folder: Folder of the pseudonymisation salt (default: breathform's data
            folder).

    Returns:
        What was written.

    Raises:
        InputError: For an unknown format or an unusable output path.
        StoreError: If the session cannot be read.
    """
    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {list(FORMATS)}, got {fmt!r}")
    privacy = Privacy.create(identify, salt_folder)
    with SessionReader(session) as reader:
        data = load_session(reader, on_decode)
    return write_data(data, fmt, out, privacy, on_write)
