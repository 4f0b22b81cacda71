"""The session store: one SQLite file (WAL) per session.

Raw packets are written first, with their receive times, before anything decodes them;
then metrics, per-stride rows, alerts, calibration, events, the config and the software
version. Commits
happen at least once a second of wall time, so a ``kill -9`` loses at most the last second.
A full disk does not stop a run: the writer keeps what it could not write and retries (see
:class:`SessionWriter`). A replay reads the raw packets back in the order they were
received; a damaged file gives a :class:`StoreError` naming what could not be read.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from breathform.errors import InputError, StoreError
from breathform.model import (
    METRIC_FIELDS,
    SENSOR_ROLES,
    Alert,
    Cause,
    Metrics,
    RawPacket,
    SensorInfo,
    SessionInfo,
)
from breathform.signal.gait import Stride

if TYPE_CHECKING:
    from breathform.config import Config

SCHEMA_VERSION = 3
"""2: metrics gained pelvic_drop_range_deg, pelvic_rotation_range_deg, trunk_twist_range_deg
(a version-1 file still opens and replays; those columns read as NaN).
3: a ``strides`` table, one row per sacrum stride (a version-1 or -2 file still opens and
replays; it has no strides: :meth:`SessionReader.has_strides` is False)."""

STRIDE_FIELDS = ("t_start_s", "t_end_s", "side", "stride_s", "step_s", "cadence_spm",
                 "vertical_osc_cm")
"""Columns of the ``strides`` table, the fields of :class:`breathform.signal.gait.Stride`."""
SUFFIX = ".bfsession"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raw (
    id INTEGER PRIMARY KEY, t_rx_s REAL NOT NULL, sensor TEXT NOT NULL,
    char TEXT NOT NULL, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS metrics (
    t_s REAL PRIMARY KEY, {", ".join(f"{f} REAL" for f in METRIC_FIELDS[1:])});
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, kind TEXT NOT NULL, severity INTEGER NOT NULL,
    climb INTEGER NOT NULL, cue TEXT NOT NULL, causes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calibration (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, t_s REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS strides (
    t_end_s REAL PRIMARY KEY, t_start_s REAL NOT NULL, side TEXT NOT NULL,
    stride_s REAL NOT NULL, step_s REAL NOT NULL, cadence_spm REAL NOT NULL,
    vertical_osc_cm REAL);
"""


def default_session_dir(configured: str = "") -> Path:
    """Folder of the session files.

    Args:
        configured: ``store.dir`` from the config ("" for the default).

    Returns:
        ``configured`` if set, else ``$BREATHFORM_HOME/sessions``, else
        ``~/.local/share/breathform/sessions``.
    """
    if configured:
        return Path(configured).expanduser()
    home = os.environ.get("BREATHFORM_HOME")
    if home:
        return Path(home).expanduser() / "sessions"
    return Path.home() / ".local" / "share" / "breathform" / "sessions"


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not create and not path.is_file():
        raise StoreError(f"no session file at {str(path)!r}")
    try:
        con = sqlite3.connect(path, isolation_level="DEFERRED", check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a process crash (kill -9); only a power
        # loss can take the last commits.
        con.execute("PRAGMA synchronous=NORMAL")
        if create:
            con.executescript(_SCHEMA)
        else:
            con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        if create:
            raise StoreError(f"cannot create session file {str(path)!r}: {exc}") from exc
        raise StoreError(f"{str(path)!r} is not a breathform session file: {exc}") from exc
    return con


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def _metrics_row(m: Metrics) -> tuple[float | None, ...]:
    return tuple(_nan_to_none(float(getattr(m, f))) for f in METRIC_FIELDS)


def _row_metrics(row: Sequence[Any]) -> Metrics:
    kw: dict[str, Any] = {}
    for f, v in zip(METRIC_FIELDS, row, strict=True):
        if f == "warming_up":
            kw[f] = bool(v)
        elif f == "breath_quality":
            kw[f] = 0.0 if v is None else float(v)
        else:
            kw[f] = math.nan if v is None else float(v)
    return Metrics(**kw)


_ROLES = frozenset(SENSOR_ROLES)
_READ_ROWS = 512
"""Raw rows fetched and made packets at a time: a small chunk keeps the packets being
built in the CPU cache (4096 measured slower than 512)."""


def _raw_packets(rows: list[tuple[Any, ...]]) -> list[RawPacket]:
    """Packets from rows of the raw table (t_rx_s, sensor, char, payload).

    A chunk whose every row is what the writer stores (a finite float time, a sensor
    role, a text characteristic, a blob payload) is checked as a whole and built without
    RawPacket's per-packet checks; any other chunk (a damaged file) is built row by row,
    as before, so the same rows raise the same errors.
    """
    t_rx_s, sensor, char, payload = zip(*rows, strict=True)
    # sum() is finite only if every time is (inf, -inf and NaN propagate); a sum that
    # overflows merely takes the row-by-row path, which accepts it
    if (set(map(type, t_rx_s)) == {float} and set(sensor) <= _ROLES
            and set(map(type, char)) == {str} and set(map(type, payload)) == {bytes}
            and math.isfinite(sum(t_rx_s))):
        return RawPacket.unchecked_many(t_rx_s, sensor, char, payload)
    return [RawPacket(t_rx_s=t, sensor=s, char=c, payload=bytes(p)) for t, s, c, p in rows]


def _stride_row(s: Stride) -> tuple[Any, ...]:
    return tuple(_nan_to_none(v) if isinstance(v, float) else v
                 for v in (getattr(s, f) for f in STRIDE_FIELDS))


def _row_stride(row: Sequence[Any]) -> Stride:
    kw = {f: (str(v) if f == "side" else math.nan if v is None else float(v))
          for f, v in zip(STRIDE_FIELDS, row, strict=True)}
    return Stride(**kw)  # type: ignore[arg-type]


def _alert_row(a: Alert) -> tuple[Any, ...]:
    causes = json.dumps([{k: (None if isinstance(v, float) and math.isnan(v) else v)
                          for k, v in asdict(c).items()} for c in a.causes])
    return (a.t_s, a.kind, a.severity, int(a.climb), a.cue, causes)


def _row_alert(row: Sequence[Any]) -> Alert:
    t_s, kind, severity, climb, cue, causes = row
    cs = tuple(Cause(name=str(c["name"]), metric=str(c["metric"]),
                     **{k: (math.nan if c[k] is None else float(c[k]))
                        for k in ("value", "baseline", "threshold")}, unit=str(c["unit"]))
               for c in json.loads(causes))
    return Alert(t_s=t_s, kind=kind, severity=severity, causes=cs, cue=cue, climb=bool(climb))


class SessionWriter:
    """Writes one session file while the run goes on.

    Not thread-safe: one task owns it. Inserts are buffered in the open transaction and
    committed by ``maybe_commit`` at most ``commit_every_s`` of wall time apart.

    A write that fails once the session has started (the disk is full, the file's folder
    went away) does not raise: the writer keeps everything since its last commit in
    memory (``error`` says why, ``pending_bytes`` how much), retries every
    ``retry_every_s`` and, when the disk takes writes again, saves it all in order. While
    the memory held passes ``max_pending_bytes``, further raw packets are counted in
    ``unsaved_packets`` and not kept (metrics, alerts and events still are). ``close``
    makes a last attempt and raises :class:`StoreError` if something stayed unsaved.

    Attributes:
        path: The session file.
        n_raw: Raw packets added.
        error: Why writing fails now, or None while it works.
        n_write_failures: Failed writes and retries so far.
        n_recoveries: Times writing worked again after failing.
        unsaved_packets: Raw packets given up on (memory bound reached while failing).
        saved_t_rx_s: Receive time of the last raw packet committed to the file.
        pending_bytes: Estimated memory held by writes not yet committed.
    """

    def __init__(self, path: str | Path, info: SessionInfo, config_toml: str,
                 *, commit_every_s: float = 0.5, retry_every_s: float = 2.0,
                 max_pending_bytes: int = 64 * 2**20) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise StoreError(f"session file {str(self.path)!r} already exists")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create session folder {str(self.path.parent)!r}: "
                             f"{exc.strerror}") from exc
        self._con = _connect(self.path, create=True)
        self._commit_every_s = commit_every_s
        self._retry_every_s = retry_every_s
        self._max_pending_bytes = max_pending_bytes
        self._last_commit = self._last_retry = time.monotonic()
        self._started = False  # until then a failed write raises: no session to save
        # every write since the last commit: (sql, rows, bytes, last t_rx_s of raw rows)
        self._pending: deque[tuple[str, list[tuple[Any, ...]], int, float | None]] = deque()
        self.pending_bytes = 0
        self.n_raw = 0
        self.error: StoreError | None = None
        self.n_write_failures = 0
        self.n_recoveries = 0
        self.unsaved_packets = 0
        self.saved_t_rx_s: float | None = None
        meta = {
            "schema_version": str(SCHEMA_VERSION),
            "session_id": info.session_id,
            "started_utc_ns": str(info.started_utc_ns),
            "source": info.source,
            "software_version": info.software_version,
            "runner_id": info.runner_id,
            "sensors": json.dumps([asdict(s) for s in info.sensors]),
            "config_toml": config_toml,
            "status": "recording",
        }
        try:
            self._execute_many("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
            self.commit()
        except StoreError:
            self._con.close()
            raise
        self._started = True

    def _fail(self, exc: sqlite3.Error) -> None:
        """Enter (or stay in) the failing state after a write error."""
        if not self._started:
            raise StoreError(f"cannot write session {str(self.path)!r}: {exc}") from exc
        self.n_write_failures += 1
        self.error = StoreError(f"cannot write session {str(self.path)!r}: {exc}")
        with contextlib.suppress(sqlite3.Error):
            self._con.rollback()  # what was pending is kept in memory and retried
        self._last_retry = time.monotonic()

    def _execute_many(self, sql: str, rows: list[tuple[Any, ...]], n_bytes: int = 0,
                      t_rx_s: float | None = None) -> None:
        if self.error is None:
            try:
                self._con.executemany(sql, rows)
            except sqlite3.Error as exc:
                self._fail(exc)
        self._pending.append((sql, rows, n_bytes, t_rx_s))
        self.pending_bytes += n_bytes

    def add_raw(self, packets: Sequence[RawPacket]) -> None:
        """Append raw packets (in receive order)."""
        if not packets:
            return
        self.n_raw += len(packets)
        if self.error is not None and self.pending_bytes > self._max_pending_bytes:
            self.unsaved_packets += len(packets)
            return
        self._execute_many("INSERT INTO raw (t_rx_s, sensor, char, payload) VALUES (?,?,?,?)",
                           [(p.t_rx_s, p.sensor, p.char, p.payload) for p in packets],
                           sum(len(p.payload) for p in packets) + 100 * len(packets),
                           packets[-1].t_rx_s)

    def add_metrics(self, metrics: Sequence[Metrics]) -> None:
        """Append 1 Hz metrics rows."""
        q = ",".join("?" * len(METRIC_FIELDS))
        self._execute_many(f"INSERT OR REPLACE INTO metrics ({', '.join(METRIC_FIELDS)}) "
                           f"VALUES ({q})",
                           [_metrics_row(m) for m in metrics])

    def add_strides(self, strides: Sequence[Stride]) -> None:
        """Append per-stride rows (a stride is identified by its end time)."""
        if not strides:
            return
        q = ",".join("?" * len(STRIDE_FIELDS))
        self._execute_many(f"INSERT OR REPLACE INTO strides ({', '.join(STRIDE_FIELDS)}) "
                           f"VALUES ({q})", [_stride_row(s) for s in strides])

    def add_alerts(self, alerts: Sequence[Alert]) -> None:
        """Append alerts."""
        self._execute_many(
            "INSERT INTO alerts (t_s, kind, severity, climb, cue, causes) VALUES (?,?,?,?,?,?)",
            [_alert_row(a) for a in alerts])

    def add_event(self, t_s: float, kind: str, detail: str = "") -> None:
        """Record a session event (gap, decode error, reconnect, start, stop)."""
        self._execute_many("INSERT INTO events (t_s, kind, detail) VALUES (?,?,?)",
                           [(t_s, kind, detail)])

    def set_calibration(self, values: dict[str, Any]) -> None:
        """Store calibration results (JSON-serialisable values)."""
        self._execute_many("INSERT OR REPLACE INTO calibration VALUES (?, ?)",
                           [(k, json.dumps(v)) for k, v in values.items()])

    def set_meta(self, key: str, value: str) -> None:
        """Set a metadata value."""
        self._execute_many("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(key, value)])

    def _committed(self) -> None:
        for *_, t_rx_s in self._pending:
            if t_rx_s is not None:
                self.saved_t_rx_s = t_rx_s
        self._pending.clear()
        self.pending_bytes = 0
        self._last_commit = time.monotonic()

    def _retry(self) -> bool:
        """Write what was kept since the last commit, in order; True once all is saved.

        One commit per kept write, so that a disk with a little room takes what fits.
        """
        self._last_retry = time.monotonic()
        while self._pending:
            sql, rows, n_bytes, t_rx_s = self._pending[0]
            try:
                self._con.executemany(sql, rows)
                self._con.commit()
            except sqlite3.Error as exc:
                self._fail(exc)
                return False
            self._pending.popleft()
            self.pending_bytes -= n_bytes
            if t_rx_s is not None:
                self.saved_t_rx_s = t_rx_s
        self.error = None
        self.n_recoveries += 1
        self._committed()
        return True

    def commit(self) -> None:
        """Commit what was written so far (or, while writes fail, retry them).

        Raises:
            StoreError: Only before the session has started (the file cannot be set up).
        """
        if self.error is not None:
            self._retry()
            return
        try:
            self._con.commit()
        except sqlite3.Error as exc:
            self._fail(exc)
            return
        self._committed()

    def maybe_commit(self) -> None:
        """Commit if the last commit is older than ``commit_every_s`` of wall time.

        While writes fail, retry at most every ``retry_every_s`` instead.
        """
        now = time.monotonic()
        if self.error is not None:
            if now - self._last_retry >= self._retry_every_s:
                self._retry()
        elif now - self._last_commit >= self._commit_every_s:
            self.commit()

    def close(self, status: str = "complete") -> None:
        """Mark the session finished, commit and close the file.

        Raises:
            StoreError: If part of the session could not be saved (e.g. the disk stayed
                full): the message says up to where the file is complete.
        """
        try:
            self.set_meta("status", status)
            self.commit()
        finally:
            self._con.close()
        if self.error is not None or self.unsaved_packets:
            upto = ("no packets" if self.saved_t_rx_s is None
                    else f"the packets up to t={self.saved_t_rx_s:.1f} s")
            lost = self.n_raw - self._n_raw_saved()
            raise StoreError(f"{self.error or 'the session could not be saved in full'}; "
                             f"the file holds {upto}; {lost} of {self.n_raw} packets "
                             f"received were not saved")

    def _n_raw_saved(self) -> int:
        try:
            with contextlib.closing(sqlite3.connect(self.path)) as con:
                return int(con.execute("SELECT COUNT(*) FROM raw").fetchone()[0])
        except sqlite3.Error:
            return 0


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One line of ``breathform sessions``."""

    path: Path
    session_id: str
    source: str
    status: str
    started_utc_ns: int
    duration_s: float
    n_alerts: int


class SessionReader:
    """Reads a session file (also one whose writer was killed).

    A damaged file (cut short, overwritten, edited by hand) gives a :class:`StoreError`
    naming the file and the part that could not be read, never another exception.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._con = _connect(self.path, create=False)
        try:
            try:
                self.meta = dict(self._con.execute("SELECT key, value FROM meta").fetchall())
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{str(self.path)!r} is not a breathform session file: "
                                 f"{exc}") from exc
            if "session_id" not in self.meta:
                raise StoreError(f"{str(self.path)!r} has no session metadata")
        except StoreError:
            self._con.close()
            raise

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """Turn what a damaged file raises while reading ``what`` into a StoreError."""
        try:
            yield
        except (sqlite3.Error, ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"{str(self.path)!r} is damaged: cannot read its {what}: "
                             f"{exc}") from exc

    def __enter__(self) -> SessionReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self._con.close()

    @property
    def info(self) -> SessionInfo:
        """The session's identity and sensors."""
        with self._reading("metadata"):
            sensors = tuple(SensorInfo(**s)
                            for s in json.loads(self.meta.get("sensors", "[]")))
            return SessionInfo(
                session_id=self.meta["session_id"],
                started_utc_ns=int(self.meta["started_utc_ns"]),
                source=self.meta["source"],
                software_version=self.meta["software_version"],
                sensors=sensors,
                runner_id=self.meta.get("runner_id", "runner"),
            )

    @property
    def config_toml(self) -> str:
        """The config the session was recorded with, as TOML.

        Raises:
            StoreError: If the stored text is not TOML (a damaged file).
        """
        import tomllib

        text = str(self.meta.get("config_toml", ""))
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise StoreError(f"{str(self.path)!r} is damaged: its stored config is not "
                             f"TOML: {exc}") from exc
        return text

    def recorded_config(self) -> Config:
        """The config the session was recorded with.

        Raises:
            StoreError: If it does not load (a damaged file, or keys this version does
                not know), naming the file and the key.
        """
        import tomllib

        from breathform import config as config_mod

        try:
            return config_mod.from_dict(tomllib.loads(self.config_toml))
        except InputError as exc:
            raise StoreError(f"{str(self.path)!r}: the config stored in the session does "
                             f"not load: {exc}") from exc

    def n_raw(self) -> int:
        """Number of raw packets stored."""
        with self._reading("raw packets"):
            return int(self._con.execute("SELECT COUNT(*) FROM raw").fetchone()[0])

    def iter_raw(self) -> Iterator[RawPacket]:
        """Raw packets in receive order."""
        for chunk in self.iter_raw_batches(_READ_ROWS):
            yield from chunk

    def iter_raw_batches(self, batch: int = 512) -> Iterator[list[RawPacket]]:
        """Raw packets in receive order, in lists of ``batch`` (the last may be shorter).

        Raises:
            InputError: If batch < 1.
            StoreError: If a row cannot be read or is not a valid packet (a damaged file).
        """
        if batch < 1:
            raise InputError(f"batch must be >= 1, got {batch}")
        with self._reading("raw packets"):
            cur = self._con.execute("SELECT t_rx_s, sensor, char, payload FROM raw ORDER BY id")
            out: list[RawPacket] = []
            # rows are fetched and made packets at most _READ_ROWS at a time, whatever
            # the batch
            while rows := cur.fetchmany(min(batch - len(out), _READ_ROWS)):
                out += _raw_packets(rows)
                if len(out) == batch:
                    yield out
                    out = []
            if out:
                yield out

    def metric_fields(self) -> tuple[str, ...]:
        """The Metrics fields this file stores (an older schema version has fewer)."""
        with self._reading("metrics"):
            have = {r[1] for r in self._con.execute("PRAGMA table_info(metrics)")}
        return tuple(f for f in METRIC_FIELDS if f in have)

    def metrics(self) -> list[Metrics]:
        """All stored 1 Hz metrics, in time order (NaN for fields the file does not store)."""
        return list(self.iter_metrics())

    def iter_metrics(self) -> Iterator[Metrics]:
        """:meth:`metrics` one at a time (a long session's are not all held at once)."""
        have = set(self.metric_fields())
        # columns added by a later schema version read as NULL (NaN) from older files
        cols = ", ".join(f if f in have else f"NULL AS {f}" for f in METRIC_FIELDS)
        with self._reading("metrics"):
            yield from map(_row_metrics, self._con.execute(
                f"SELECT {cols} FROM metrics ORDER BY t_s"))

    def has_strides(self) -> bool:
        """Whether the file has a strides table (schema version 3 on)."""
        with self._reading("strides"):
            return self._con.execute("SELECT 1 FROM sqlite_master WHERE type='table' "
                                     "AND name='strides'").fetchone() is not None

    def strides(self) -> list[Stride]:
        """All stored strides, in time order (none from a file older than version 3)."""
        return list(self.iter_strides())

    def iter_strides(self) -> Iterator[Stride]:
        """:meth:`strides` one at a time (a long session's are not all held at once)."""
        if not self.has_strides():
            return
        with self._reading("strides"):
            yield from map(_row_stride, self._con.execute(
                f"SELECT {', '.join(STRIDE_FIELDS)} FROM strides ORDER BY t_end_s"))

    def alerts(self) -> list[Alert]:
        """All stored alerts, in time order."""
        with self._reading("alerts"):
            return [_row_alert(r) for r in self._con.execute(
                "SELECT t_s, kind, severity, climb, cue, causes FROM alerts ORDER BY t_s, id")]

    def calibration(self) -> dict[str, Any]:
        """Stored calibration values."""
        with self._reading("calibration"):
            return {k: json.loads(v) for k, v in
                    self._con.execute("SELECT key, value FROM calibration")}

    def events(self) -> list[tuple[float, str, str]]:
        """Session events (t_s, kind, detail)."""
        with self._reading("events"):
            return [(t, k, d) for t, k, d in
                    self._con.execute("SELECT t_s, kind, detail FROM events ORDER BY id")]

    def summary(self) -> SessionSummary:
        """A one-line summary for listings."""
        with self._reading("summary"):
            last = self._con.execute("SELECT MAX(t_rx_s) FROM raw").fetchone()[0]
            n_alerts = self._con.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
            return SessionSummary(self.path, self.meta["session_id"], self.meta["source"],
                                  self.meta.get("status", "?"),
                                  int(self.meta["started_utc_ns"]), float(last or 0.0),
                                  int(n_alerts))


def list_sessions(folder: str | Path) -> list[SessionSummary]:
    """Summaries of the session files in ``folder``, oldest first; unreadable files skipped."""
    out: list[SessionSummary] = []
    p = Path(folder)
    if not p.is_dir():
        return out
    for f in sorted(p.glob(f"*{SUFFIX}")):
        try:
            with SessionReader(f) as r:
                out.append(r.summary())
        except StoreError:
            continue
    out.sort(key=lambda s: s.started_utc_ns)
    return out


def resolve_session(arg: str, folder: str | Path) -> Path:
    """Find a session by path, file name or id (unique prefix) in ``folder``.

    Raises:
        StoreError: When nothing or more than one session matches.
    """
    p = Path(arg).expanduser()
    if p.is_file():
        return p
    d = Path(folder)
    cands = sorted(d.glob(f"{arg}*{SUFFIX}")) if d.is_dir() else []
    if len(cands) == 1:
        return cands[0]
    if not cands:
        raise StoreError(f"no session {arg!r}: not a file, and no session id starting with it "
                         f"in {str(d)!r} (see `breathform sessions`)")
    raise StoreError(f"session {arg!r} is ambiguous: {[c.name for c in cands]}")
