"""The session store: one SQLite file (WAL) per session.

Raw packets are written first, with their receive times, before anything decodes them;
then metrics, alerts, calibration, events, the config and the software version. Commits
happen at least once a second of wall time, so a ``kill -9`` loses at most the last second.
A replay reads the raw packets back in the order they were received.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from breathform.errors import StoreError
from breathform.model import (
    METRIC_FIELDS,
    Alert,
    Cause,
    Metrics,
    RawPacket,
    SensorInfo,
    SessionInfo,
)

SCHEMA_VERSION = 1
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
    """

    def __init__(self, path: str | Path, info: SessionInfo, config_toml: str,
                 *, commit_every_s: float = 0.5) -> None:
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
        self._last_commit = time.monotonic()
        self.n_raw = 0
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
        self._execute_many("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
        self.commit()

    def _execute_many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        try:
            self._con.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write session {str(self.path)!r}: {exc}") from exc

    def add_raw(self, packets: Sequence[RawPacket]) -> None:
        """Append raw packets (in receive order)."""
        self._execute_many("INSERT INTO raw (t_rx_s, sensor, char, payload) VALUES (?,?,?,?)",
                           [(p.t_rx_s, p.sensor, p.char, p.payload) for p in packets])
        self.n_raw += len(packets)

    def add_metrics(self, metrics: Sequence[Metrics]) -> None:
        """Append 1 Hz metrics rows."""
        q = ",".join("?" * len(METRIC_FIELDS))
        self._execute_many(f"INSERT OR REPLACE INTO metrics VALUES ({q})",
                           [_metrics_row(m) for m in metrics])

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

    def commit(self) -> None:
        """Commit what was written so far."""
        try:
            self._con.commit()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot commit session {str(self.path)!r}: {exc}") from exc
        self._last_commit = time.monotonic()

    def maybe_commit(self) -> None:
        """Commit if the last commit is older than ``commit_every_s`` of wall time."""
        if time.monotonic() - self._last_commit >= self._commit_every_s:
            self.commit()

    def close(self, status: str = "complete") -> None:
        """Mark the session finished, commit and close the file."""
        try:
            self.set_meta("status", status)
            self.commit()
        finally:
            self._con.close()


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
    """Reads a session file (also one whose writer was killed)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._con = _connect(self.path, create=False)
        try:
            self.meta = dict(self._con.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{str(self.path)!r} is not a breathform session file: {exc}"
                             ) from exc
        if "session_id" not in self.meta:
            raise StoreError(f"{str(self.path)!r} has no session metadata")

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
        sensors = tuple(SensorInfo(**s) for s in json.loads(self.meta.get("sensors", "[]")))
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
        """The config the session was recorded with, as TOML."""
        return str(self.meta.get("config_toml", ""))

    def n_raw(self) -> int:
        """Number of raw packets stored."""
        return int(self._con.execute("SELECT COUNT(*) FROM raw").fetchone()[0])

    def iter_raw(self, batch: int = 4096) -> Iterator[RawPacket]:
        """Raw packets in receive order."""
        cur = self._con.execute("SELECT t_rx_s, sensor, char, payload FROM raw ORDER BY id")
        while rows := cur.fetchmany(batch):
            for t, s, c, p in rows:
                yield RawPacket(t_rx_s=t, sensor=s, char=c, payload=bytes(p))

    def metrics(self) -> list[Metrics]:
        """All stored 1 Hz metrics, in time order."""
        cols = ", ".join(METRIC_FIELDS)
        return [_row_metrics(r) for r in
                self._con.execute(f"SELECT {cols} FROM metrics ORDER BY t_s")]

    def alerts(self) -> list[Alert]:
        """All stored alerts, in time order."""
        return [_row_alert(r) for r in self._con.execute(
            "SELECT t_s, kind, severity, climb, cue, causes FROM alerts ORDER BY t_s, id")]

    def calibration(self) -> dict[str, Any]:
        """Stored calibration values."""
        return {k: json.loads(v) for k, v in
                self._con.execute("SELECT key, value FROM calibration")}

    def events(self) -> list[tuple[float, str, str]]:
        """Session events (t_s, kind, detail)."""
        return [(t, k, d) for t, k, d in
                self._con.execute("SELECT t_s, kind, detail FROM events ORDER BY id")]

    def summary(self) -> SessionSummary:
        """A one-line summary for listings."""
        last = self._con.execute("SELECT MAX(t_rx_s) FROM raw").fetchone()[0]
        n_alerts = self._con.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        return SessionSummary(self.path, self.meta["session_id"], self.meta["source"],
                              self.meta.get("status", "?"), int(self.meta["started_utc_ns"]),
                              float(last or 0.0), int(n_alerts))


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
