"""Line-by-line reading of delimited text files, with line numbers and progress."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

from breathform.errors import InputError

ProgressCallback = Callable[[int, int], None]
"""``progress(bytes_read, bytes_total)``."""


def open_text(path: str | Path) -> tuple[Path, int]:
    """Check a file can be read; its path and size in bytes.

    Raises:
        InputError: If it is missing, a folder or unreadable.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {str(p)!r}: {exc.strerror}") from exc
    if not p.is_file():
        raise InputError(f"{str(p)!r} is not a file")
    return p, size


def rows(path: Path, delimiter: str | None, progress: ProgressCallback | None = None,
         every: int = 20_000) -> Iterator[tuple[int, list[str]]]:
    """Rows of a delimited text file as (line number, stripped fields); blank lines skipped.

    Args:
        path: The file.
        delimiter: Field separator; None to take ``;`` or ``,`` from the first line.
        progress: Called every ``every`` rows and at the end with bytes read / total.
        every: Rows between progress calls.

    Raises:
        InputError: If the file is not UTF-8 text.
    """
    total = path.stat().st_size
    with path.open("rb") as raw:
        lineno = 0
        delim = delimiter
        for b in raw:
            lineno += 1
            try:
                line = b.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not UTF-8 text (byte {exc.start} of the "
                                 "line); expected a CSV/text export") from None
            if not line.strip():
                continue
            if delim is None:
                delim = ";" if line.count(";") > line.count(",") else ","
            fields = next(csv.reader([line], delimiter=delim))
            yield lineno, [f.strip() for f in fields]
            if progress is not None and lineno % every == 0:
                progress(raw.tell(), total)
        if progress is not None:
            progress(total, total)


def open_rows(path: str | Path, delimiter: str | None, expected: str,
              progress: ProgressCallback | None = None
              ) -> tuple[Path, int, list[str], Iterator[tuple[int, list[str]]]]:
    """Open a delimited file: its path, the header's line number and fields, the other rows.

    Args:
        path: The file.
        delimiter: Field separator, or None to take ``;`` or ``,`` from the first line.
        expected: What the file should start with, for the error on an empty file.
        progress: See :func:`rows`.

    Raises:
        InputError: If the file cannot be read or holds no line.
    """
    p, _ = open_text(path)
    it = rows(p, delimiter, progress)
    try:
        lineno, header = next(it)
    except StopIteration:
        raise InputError(f"{p}: the file is empty; expected {expected}") from None
    return p, lineno, header, it


def number(text: str, path: Path, lineno: int, column: str) -> float:
    """A finite float from a field, or an InputError naming file, line and column."""
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{path}:{lineno}: column {column!r} is {text!r}, expected a "
                         "number") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise InputError(f"{path}:{lineno}: column {column!r} is {text!r}, expected a "
                         "finite number")
    return v
