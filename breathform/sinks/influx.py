"""InfluxDB output: the point schema, a batching writer with a disk spool, the live sink.

Schema (line protocol, nanosecond timestamps = session start (UTC) + ``t_s``):

=============  ==========================  ==============================================
measurement    tags                        fields (units in the names)
=============  ==========================  ==============================================
breathing      runner, session, sensor     rate_bpm, depth_rel, breath_quality,
               (sensor=chest)              strides_per_breath, hr_bpm, warming_up
posture        runner, session, sensor     pelvic_tilt_deg, pelvic_drop_range_deg,
                                           pelvic_rotation_range_deg (sensor=sacrum),
                                           trunk_lean_deg, trunk_twist_range_deg
                                           (sensor=chest), lumbar_deg (sensor=fused)
gait           runner, session, sensor     cadence_spm
               (sensor=sacrum)
strides        runner, session, sensor,    stride_s, step_s, cadence_spm, vertical_osc_cm
               side (L, R or ?)            (one point per stride, at its end)
alerts         runner, session, kind       severity, climb, cue, causes, text
=============  ==========================  ==============================================

Tags are bounded: the pseudonymous runner id, the session id, the sensor role, the foot
of a stride and the alert rule name. NaN estimates are left out (a point with no field is
not written).
A point's identity is measurement + tags + timestamp: InfluxDB overwrites a point written
twice with the same identity, so re-sending a batch whose answer was lost, or pushing a
session that was already streamed live, creates no duplicates.

Transport: ``V2Transport`` wraps influxdb-client's v2 write API (``/api/v2/write``: InfluxDB
1.8+, 2.x, 3.x and VictoriaMetrics); ``V1Transport`` posts to ``/write`` for InfluxDB
1.x older than 1.8, which has no v2 path. ``InfluxWriter`` batches lines and, when the
server cannot be reached, writes each batch to a bounded disk spool (oldest files dropped
when full, counted) and sends the spool, oldest first, when the server answers again. A
spool file is deleted only once the server acknowledged it.

The token comes from ``$BREATHFORM_INFLUX_TOKEN`` (or the variable / file named in the
``[sinks.influx]`` config table); it never appears in logs, reprs or error messages, and
never in the config, which every session file stores.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rich.console import Console

from breathform.config import Config
from breathform.errors import SinkError
from breathform.model import Alert, Metrics, SessionInfo
from breathform.signal.gait import Stride

if TYPE_CHECKING:  # base.py registers this module's factory: no runtime import back
    from breathform.queues import DropOldestQueue
    from breathform.sinks.base import Sink, SinkContext, SinkItem

TOKEN_ENV = "BREATHFORM_INFLUX_TOKEN"
"""Environment variable holding the InfluxDB API token (never put it on the command line)."""

DEFAULT_BUCKET = "breathform"
DEFAULT_ORG = "breathform"


# --------------------------------------------------------------------------- schema
@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One Metrics attribute written to InfluxDB.

    Attributes:
        measurement: Measurement it goes to.
        sensor: Value of the ``sensor`` tag.
        name: Field name (= the Metrics attribute, unit in the name).
        title: Human title (dashboards, report).
        unit: Grafana unit id.
    """

    measurement: str
    sensor: str
    name: str
    title: str
    unit: str


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("breathing", "chest", "rate_bpm", "Breathing rate", "none"),
    FieldSpec("breathing", "chest", "depth_rel", "Breath depth (x resting)", "none"),
    FieldSpec("breathing", "chest", "breath_quality", "Breath quality (0..1)", "none"),
    FieldSpec("breathing", "chest", "strides_per_breath", "Strides per breath", "none"),
    FieldSpec("breathing", "chest", "hr_bpm", "Heart rate", "none"),
    FieldSpec("posture", "sacrum", "pelvic_tilt_deg", "Pelvic tilt (+ anterior)", "degree"),
    FieldSpec("posture", "sacrum", "pelvic_drop_range_deg", "Pelvic drop, range per stride",
              "degree"),
    FieldSpec("posture", "sacrum", "pelvic_rotation_range_deg",
              "Pelvic rotation, range per stride", "degree"),
    FieldSpec("posture", "chest", "trunk_lean_deg", "Trunk lean (+ forward)", "degree"),
    FieldSpec("posture", "chest", "trunk_twist_range_deg", "Trunk twist, range per stride",
              "degree"),
    FieldSpec("posture", "fused", "lumbar_deg", "Lumbar angle (+ flexed)", "degree"),
    FieldSpec("gait", "sacrum", "cadence_spm", "Cadence", "none"),
)
"""Every numeric field, in dashboard order."""

STRIDE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("strides", "sacrum", "stride_s", "Stride time", "s"),
    FieldSpec("strides", "sacrum", "step_s", "Step time", "s"),
    FieldSpec("strides", "sacrum", "cadence_spm", "Cadence per stride", "none"),
    FieldSpec("strides", "sacrum", "vertical_osc_cm", "Vertical oscillation per stride",
              "none"),
)
"""The per-stride fields (``Stride`` attributes), one point per stride tagged by foot."""

MEASUREMENTS: tuple[str, ...] = ("breathing", "posture", "gait", "strides", "alerts")
ALERT_FIELDS: tuple[str, ...] = ("severity", "climb", "cue", "causes", "text")


def _esc_key(s: str) -> str:
    """Escape a measurement, tag key or tag value for line protocol."""
    return (s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
            .replace(" ", "\\ ").replace("\n", "\\ "))


def _esc_str(s: str) -> str:
    """Quote a string field value for line protocol."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _fmt_field(v: float | int | bool | str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}i"
    if isinstance(v, float):
        return repr(v)
    return _esc_str(v)


def line(measurement: str, tags: dict[str, str], fields: dict[str, float | int | bool | str],
         ts_utc_ns: int) -> str:
    """One line-protocol point (tags sorted, as InfluxDB recommends).

    Args:
        measurement: Measurement name.
        tags: Tag key -> value (empty values are left out).
        fields: Field key -> value (at least one).
        ts_utc_ns: Timestamp, Unix nanoseconds.

    Returns:
        The line, without a trailing newline.

    Raises:
        SinkError: If ``fields`` is empty.
    """
    if not fields:
        raise SinkError(f"a point of {measurement!r} needs at least one field")
    t = "".join(f",{_esc_key(k)}={_esc_key(v)}" for k, v in sorted(tags.items()) if v)
    f = ",".join(f"{_esc_key(k)}={_fmt_field(v)}" for k, v in fields.items())
    return f"{_esc_key(measurement)}{t} {f} {ts_utc_ns}"


def ts_utc_ns(info: SessionInfo, t_s: float) -> int:
    """Wall-clock timestamp of session time ``t_s`` (deterministic: live = push)."""
    return info.started_utc_ns + round(t_s * 1e9)


def metrics_lines(info: SessionInfo, m: Metrics) -> list[str]:
    """The points of one 1 Hz metrics row.

    Args:
        info: The session (runner id, session id, start time).
        m: The row.

    Returns:
        Line-protocol lines; NaN estimates are left out, and so are points left empty.
    """
    ts = ts_utc_ns(info, m.t_s)
    groups: dict[tuple[str, str], dict[str, float | int | bool | str]] = {}
    for fs in FIELDS:
        x = float(getattr(m, fs.name))
        if math.isfinite(x):
            groups.setdefault((fs.measurement, fs.sensor), {})[fs.name] = x
    if ("breathing", "chest") in groups:
        groups[("breathing", "chest")]["warming_up"] = bool(m.warming_up)
    return [line(meas, {"runner": info.runner_id, "session": info.session_id, "sensor": sensor},
                 fields, ts) for (meas, sensor), fields in groups.items()]


def alert_text(a: Alert) -> str:
    """One-line text of an alert (Grafana annotation text)."""
    causes = "; ".join(f"{c.name.replace('_', ' ')} {c.value:.1f} {c.unit}" for c in a.causes)
    climb = " (climb)" if a.climb else ""
    return f"severity {a.severity}{climb}: {causes} - {a.cue}"


def alert_lines(info: SessionInfo, a: Alert) -> list[str]:
    """The point of one alert."""
    causes = ", ".join(c.name for c in a.causes)
    return [line("alerts", {"runner": info.runner_id, "session": info.session_id,
                            "kind": a.kind},
                 {"severity": int(a.severity), "climb": bool(a.climb), "cue": a.cue,
                  "causes": causes, "text": alert_text(a)}, ts_utc_ns(info, a.t_s))]


def stride_lines(info: SessionInfo, st: Stride) -> list[str]:
    """The point of one stride (at its end, tagged by foot); NaN fields are left out."""
    fields: dict[str, float | int | bool | str] = {}
    for fs in STRIDE_FIELDS:
        x = float(getattr(st, fs.name))
        if math.isfinite(x):
            fields[fs.name] = x
    if not fields:
        return []
    return [line("strides", {"runner": info.runner_id, "session": info.session_id,
                             "sensor": "sacrum", "side": st.side}, fields,
                 ts_utc_ns(info, st.t_end_s))]


def session_lines(info: SessionInfo, metrics: Iterable[Metrics],
                  alerts: Iterable[Alert], strides: Iterable[Stride] = ()) -> Iterator[str]:
    """Every point of a recorded session: metrics rows, then alerts, then strides."""
    for m in metrics:
        yield from metrics_lines(info, m)
    for a in alerts:
        yield from alert_lines(info, a)
    for st in strides:
        yield from stride_lines(info, st)


# --------------------------------------------------------------------------- transport
class WriteError(SinkError):
    """A batch was not written.

    Attributes:
        retryable: True when sending the same batch later may work (server unreachable,
            5xx, timeout); False when the server rejected it (bad data, auth).
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Transport(Protocol):
    """Sends one batch of line protocol to a server."""

    url: str

    def write(self, body: str) -> None:
        """Send ``body``; raise WriteError on failure."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _check_url(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https") or not u.netloc:
        raise SinkError(f"--influx must be an http(s) URL such as http://localhost:8086, "
                        f"got {url!r}")
    return url.rstrip("/")


class V2Transport:
    """influxdb-client's synchronous v2 write API (``POST /api/v2/write``).

    Args:
        url: Server URL, e.g. ``http://localhost:8086``.
        bucket: Bucket (InfluxDB 1.8+: ``database/retention-policy``).
        org: Organisation (ignored by 1.8 and VictoriaMetrics).
        token: API token, or "" for none.
        timeout_s: HTTP timeout.
    """

    def __init__(self, url: str, *, bucket: str, org: str, token: str = "",
                 timeout_s: float = 10.0) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url = _check_url(url)
        self.bucket, self.org = bucket, org
        # retries=False: the spool is the retry policy, a blocked request must fail fast.
        # token=None sends no Authorization header (the stubs say str, the code allows None)
        self._client = InfluxDBClient(url=self.url, token=token or None,  # type: ignore[arg-type]
                                      org=org,
                                      timeout=int(timeout_s * 1000), retries=False,
                                      enable_gzip=False)
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def __repr__(self) -> str:
        return f"V2Transport(url={self.url!r}, bucket={self.bucket!r}, org={self.org!r})"

    def write(self, body: str) -> None:
        """Send one batch.

        Raises:
            WriteError: With ``retryable`` set for connection errors, timeouts and 5xx/429.
        """
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError

        from breathform.errors import BreathformError

        try:
            self._api.write(bucket=self.bucket, org=self.org, record=body)
        except ApiException as exc:
            status = int(exc.status or 0)
            raise WriteError(f"InfluxDB at {self.url} answered HTTP {status} "
                             f"{exc.reason or ''}: {_short(exc.body)}",
                             retryable=status >= 500 or status in (0, 408, 429)) from exc
        except (HTTPError, OSError) as exc:
            raise WriteError(f"cannot reach InfluxDB at {self.url}: {_short(str(exc))}",
                             retryable=True) from exc
        except BreathformError:
            raise
        except Exception as exc:  # noqa: BLE001 - the client raises assorted errors
            raise WriteError(f"writing to InfluxDB at {self.url} failed: "
                             f"{type(exc).__name__}: {_short(str(exc))}",
                             retryable=True) from exc

    def close(self) -> None:
        """Close the client."""
        self._client.close()  # type: ignore[no-untyped-call]


class V1Transport:
    """InfluxDB 1.x ``POST /write?db=...&rp=...`` (servers older than 1.8 lack the v2 path).

    Args:
        url: Server URL.
        bucket: ``database`` or ``database/retention-policy``.
        token: Sent as ``Authorization: Token ...`` when set.
        timeout_s: HTTP timeout.
    """

    def __init__(self, url: str, *, bucket: str, token: str = "",
                 timeout_s: float = 10.0) -> None:
        self.url = _check_url(url)
        db, _, rp = bucket.partition("/")
        q = {"db": db, "precision": "ns"} | ({"rp": rp} if rp else {})
        self._endpoint = f"{self.url}/write?{urllib.parse.urlencode(q)}"
        self._token = token
        self._timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"V1Transport(url={self.url!r})"

    def write(self, body: str) -> None:
        """Send one batch.

        Raises:
            WriteError: With ``retryable`` set for connection errors, timeouts and 5xx/429.
        """
        req = urllib.request.Request(self._endpoint, data=body.encode(), method="POST")
        if self._token:
            req.add_header("Authorization", f"Token {self._token}")
        try:
            with urllib.request.urlopen(req, timeout=self._timeout_s) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            raise WriteError(f"InfluxDB at {self.url} answered HTTP {exc.code}: "
                             f"{_short(exc.read().decode(errors='replace'))}",
                             retryable=exc.code >= 500 or exc.code in (408, 429)) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise WriteError(f"cannot reach InfluxDB at {self.url}: {_short(str(exc))}",
                             retryable=True) from exc

    def close(self) -> None:
        """Nothing to release."""


def _short(s: object, n: int = 200) -> str:
    t = str(s or "").strip().replace("\n", " ")
    return t if len(t) <= n else t[:n] + "…"


def make_transport(url: str, *, api: str = "v2", bucket: str = DEFAULT_BUCKET,
                   org: str = DEFAULT_ORG, token: str | None = None) -> Transport:
    """Build the transport for ``url``.

    Args:
        url: Server URL.
        api: "v2" (influxdb-client, ``/api/v2/write``) or "v1" (``/write``, InfluxDB < 1.8).
        bucket: Bucket, or ``database/retention-policy``.
        org: Organisation (v2 only).
        token: Token; None reads ``$BREATHFORM_INFLUX_TOKEN``.

    Returns:
        The transport.

    Raises:
        SinkError: If ``api`` or ``url`` is not valid.
    """
    tok = os.environ.get(TOKEN_ENV, "") if token is None else token
    if api == "v2":
        return V2Transport(url, bucket=bucket, org=org, token=tok)
    if api == "v1":
        return V1Transport(url, bucket=bucket, token=tok)
    raise SinkError(f"influx api must be 'v2' or 'v1', got {api!r}")


# --------------------------------------------------------------------------- spool
class Spool:
    """A bounded folder of unsent batches, one line-protocol file per batch.

    Files are named ``<ns>-<n>.lp`` so that sorting by name is oldest first. When the
    folder would grow beyond ``max_bytes``, the oldest files are deleted and their points
    counted in ``dropped_points``.

    Args:
        folder: Where the files go (created when needed).
        max_bytes: Bound on the total size of the files.

    Raises:
        SinkError: If ``max_bytes`` < 1 or the folder cannot be created.
    """

    def __init__(self, folder: str | Path, max_bytes: int = 64 * 2**20) -> None:
        if max_bytes < 1:
            raise SinkError(f"spool max_bytes must be >= 1, got {max_bytes}")
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.dropped_points = 0
        self._n = 0
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create the InfluxDB spool folder {str(self.folder)!r}: "
                            f"{exc.strerror}") from exc

    def files(self) -> list[Path]:
        """Spooled batches, oldest first."""
        return sorted(self.folder.glob("*.lp"))

    def size_bytes(self) -> int:
        """Total size of the spooled batches."""
        return sum(f.stat().st_size for f in self.files())

    def n_points(self) -> int:
        """Points waiting in the spool."""
        return sum(_count_lines(f.read_text(encoding="utf-8")) for f in self.files())

    def put(self, body: str) -> None:
        """Store one batch; drop the oldest batches beyond the bound (counted)."""
        data = body.encode()
        self._n += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._n:06d}.lp"
        tmp = self.folder / (name + ".tmp")
        try:
            tmp.write_bytes(data)
            tmp.replace(self.folder / name)  # atomic: a reader never sees half a batch
        except OSError as exc:
            raise SinkError(f"cannot write the InfluxDB spool in {str(self.folder)!r}: "
                            f"{exc.strerror}") from exc
        files = self.files()
        total = sum(f.stat().st_size for f in files)
        while total > self.max_bytes and files:
            oldest = files.pop(0)
            size = oldest.stat().st_size
            self.dropped_points += _count_lines(oldest.read_text(encoding="utf-8"))
            oldest.unlink(missing_ok=True)
            total -= size


def _count_lines(body: str) -> int:
    return sum(1 for ln in body.splitlines() if ln.strip())


# --------------------------------------------------------------------------- writer
@dataclass(slots=True)
class WriterStats:
    """Counters of an InfluxWriter.

    Attributes:
        sent_points: Points the server acknowledged.
        spooled_points: Points that went to the spool (counted once per spooling).
        rejected_points: Points the server refused (bad data, auth); not retried.
        failures: Failed write attempts.
        last_error: Message of the last failure ("" if none).
    """

    sent_points: int = 0
    spooled_points: int = 0
    rejected_points: int = 0
    failures: int = 0
    last_error: str = ""
    errors: list[str] = field(default_factory=list)


class InfluxWriter:
    """Batches lines and sends them, spooling to disk while the server is away.

    Synchronous (the live sink calls it from a worker thread). Not thread-safe.

    Args:
        transport: Where batches go.
        spool: The disk spool for unsent batches.
        batch_size: Lines per batch.
        retry_s: After a failure, wait this long before trying the server again (batches
            go straight to the spool meanwhile).
        clock: Monotonic clock (tests).
    """

    def __init__(self, transport: Transport, spool: Spool, *, batch_size: int = 1000,
                 retry_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        if batch_size < 1:
            raise SinkError(f"batch_size must be >= 1, got {batch_size}")
        self.transport = transport
        self.spool = spool
        self.batch_size = batch_size
        self.retry_s = retry_s
        self.stats = WriterStats()
        self._buf: list[str] = []
        self._clock = clock
        self._down_until = -math.inf
        self._rejected_last = False

    @property
    def pending(self) -> int:
        """Lines buffered and not yet sent or spooled."""
        return len(self._buf)

    def buffer(self, lines: Iterable[str]) -> None:
        """Buffer lines without sending anything (the next ``flush`` or ``add`` sends)."""
        self._buf.extend(lines)

    def add(self, lines: Iterable[str]) -> None:
        """Buffer lines; full batches are sent (or spooled)."""
        self._buf.extend(lines)
        while len(self._buf) >= self.batch_size:
            batch, self._buf = self._buf[:self.batch_size], self._buf[self.batch_size:]
            self._send_or_spool(batch)

    def flush(self, *, force: bool = False) -> bool:
        """Send the spool (oldest first) and the buffered lines.

        Args:
            force: Try the server now even within ``retry_s`` of the last failure (the
                last flush of a run).

        Returns:
            True when nothing is left unsent (buffer and spool empty).
        """
        if force:
            self._down_until = -math.inf
        if self._buf:
            while self._buf:
                batch = self._buf[:self.batch_size]
                self._buf = self._buf[self.batch_size:]
                self._send_or_spool(batch)
        else:
            self.drain_spool()
        return not self._buf and not self.spool.files()

    def drain_spool(self) -> bool:
        """Try to send the spooled batches, oldest first.

        Returns:
            True when the spool is empty.
        """
        if self._clock() < self._down_until:
            return False
        for f in self.spool.files():
            try:
                body = f.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            if not self._try(body):
                return False
            # Deleted only after the server acknowledged it: a crash in between re-sends
            # the batch, which the server stores once (same identity).
            f.unlink(missing_ok=True)
        return True

    def _send_or_spool(self, batch: list[str]) -> None:
        body = "\n".join(batch)
        # Older batches first; while the server is down, straight to the spool.
        if self.drain_spool() and self._try(body):
            return
        if self._rejected_last:
            return
        self.spool.put(body)
        self.stats.spooled_points += len(batch)

    def _try(self, body: str) -> bool:
        self._rejected_last = False
        try:
            self.transport.write(body)
        except WriteError as exc:
            self.stats.failures += 1
            self.stats.last_error = str(exc)
            if len(self.stats.errors) < 20:
                self.stats.errors.append(str(exc))
            if exc.retryable:
                self._down_until = self._clock() + self.retry_s
                return False
            # The server refused the data itself: re-sending cannot help.
            self.stats.rejected_points += _count_lines(body)
            self._rejected_last = True
            return True
        self.stats.sent_points += _count_lines(body)
        self._down_until = -math.inf
        return True


# --------------------------------------------------------------------------- live sink
class InfluxSink:
    """Live sink: every metrics row, alert and stride to InfluxDB, batched, spooled when down.

    Batches go out when ``batch_size`` lines are buffered or ``flush_s`` has passed. The
    HTTP calls run in a worker thread so they never block the event loop.

    Args:
        info: The session.
        writer: The batching writer.
        console: Where the end-of-run line goes.
        flush_s: Longest time a point waits in the buffer.
        queue_size: Bound of the sink's queue (oldest dropped when full).
    """

    name = "influx"
    wants_strides = True

    def __init__(self, info: SessionInfo, writer: InfluxWriter, console: Console | None = None,
                 *, flush_s: float = 1.0, queue_size: int = 10_000) -> None:
        self.info = info
        self.writer = writer
        self.console = console
        self.flush_s = flush_s
        self.queue_size = queue_size

    async def run(self, q: DropOldestQueue[SinkItem]) -> None:
        """Drain ``q`` until None, then flush what is left (unsent points stay spooled)."""
        last_flush = time.monotonic()
        done = False
        while not done:
            timeout = max(0.0, last_flush + self.flush_s - time.monotonic())
            item: SinkItem | object
            try:
                item = await asyncio.wait_for(q.get(), timeout=timeout)
            except TimeoutError:
                item = _TICK
            if item is None:
                done = True
            elif isinstance(item, Metrics):
                self.writer.buffer(metrics_lines(self.info, item))
            elif isinstance(item, Alert):
                self.writer.buffer(alert_lines(self.info, item))
            elif isinstance(item, Stride):
                self.writer.buffer(stride_lines(self.info, item))
            due = time.monotonic() - last_flush >= self.flush_s
            if done or due or self.writer.pending >= self.writer.batch_size:
                await asyncio.to_thread(self.writer.flush, force=done)
                last_flush = time.monotonic()
        await asyncio.to_thread(self.writer.transport.close)
        s = self.writer.stats
        if self.console is not None:
            left = self.writer.spool.n_points()
            msg = (f"influx: {s.sent_points} points sent to {self.writer.transport.url}")
            if left:
                msg += (f", {left} waiting in the spool {self.writer.spool.folder} (sent next "
                        f"time, or with `breathform push --influx URL`)")
            if s.rejected_points:
                msg += f", {s.rejected_points} rejected ({s.last_error})"
            if self.writer.spool.dropped_points:
                msg += f", {self.writer.spool.dropped_points} dropped (spool full)"
            self.console.print(msg, highlight=False)


_TICK = object()


def add_influx_options(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """The InfluxDB options shared by demo/replay (live) and push (post-run).

    Defaults come from the ``[sinks.influx]`` config table (see ``settings``).
    """
    g = parser.add_argument_group("InfluxDB (token from $" + TOKEN_ENV + " or the config's "
                                  "sinks.influx.token_env / token_file)")
    g.add_argument("--influx", metavar="URL", required=required,
                   help="write metrics and alerts to the InfluxDB at URL "
                   "(e.g. http://localhost:8086)")
    g.add_argument("--influx-bucket", default=None,
                   help=f"bucket, or database/retention-policy (default {DEFAULT_BUCKET})")
    g.add_argument("--influx-org", default=None, help=f"organisation (default {DEFAULT_ORG})")
    g.add_argument("--influx-api", choices=("v2", "v1"), default=None,
                   help="v2: /api/v2/write via influxdb-client (InfluxDB 1.8+, 2, 3, "
                   "VictoriaMetrics; default); v1: /write (InfluxDB older than 1.8)")
    g.add_argument("--influx-spool", metavar="DIR", default=None,
                   help="spool folder for points the server could not take "
                   "(default: influx-spool/ in the session folder)")


@dataclass(frozen=True, slots=True)
class InfluxSettings:
    """Where and how to write, from the command line over the config.

    Attributes:
        url: Server URL.
        bucket: Bucket, or ``database/retention-policy``.
        org: Organisation.
        api: "v2" or "v1".
        batch_size: Points per request.
        flush_s: Longest wait of a point in the live buffer.
        spool_dir: Spool folder.
        spool_max_bytes: Spool bound.
    """

    url: str
    bucket: str
    org: str
    api: str
    batch_size: int
    flush_s: float
    spool_dir: Path
    spool_max_bytes: int

    def __repr__(self) -> str:
        return f"InfluxSettings(url={self.url!r}, bucket={self.bucket!r}, api={self.api!r})"


def settings(args: argparse.Namespace, cfg: Config) -> InfluxSettings:
    """Merge the ``--influx*`` options over the ``[sinks.influx]`` config table."""
    from breathform.store import default_session_dir

    ic = cfg.sinks.influx
    if getattr(args, "influx_spool", None):
        spool = Path(args.influx_spool)
    elif ic.spool_dir:
        spool = Path(ic.spool_dir).expanduser()
    else:
        spool = default_session_dir(getattr(args, "dir", None) or cfg.store.dir) / "influx-spool"
    return InfluxSettings(
        url=str(args.influx), bucket=args.influx_bucket or ic.bucket,
        org=args.influx_org or ic.org, api=args.influx_api or ic.api,
        batch_size=int(ic.batch_size), flush_s=float(ic.flush_s), spool_dir=spool,
        spool_max_bytes=max(1, int(ic.spool_max_mb * 2**20)))


def read_token(cfg: Config) -> str:
    """The API token: ``$<token_env>``, else the contents of ``token_file``, else "".

    Raises:
        SinkError: If ``token_file`` is set but cannot be read (the message names the
            file, never its contents).
    """
    ic = cfg.sinks.influx
    tok = os.environ.get(ic.token_env, "")
    if tok or not ic.token_file:
        return tok
    try:
        return Path(ic.token_file).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SinkError(f"cannot read sinks.influx.token_file {ic.token_file!r}: "
                        f"{exc.strerror}") from exc


def open_writer(st: InfluxSettings, token: str) -> InfluxWriter:
    """A writer with its transport and spool, from merged settings."""
    transport = make_transport(st.url, api=st.api, bucket=st.bucket, org=st.org, token=token)
    return InfluxWriter(transport, Spool(st.spool_dir, st.spool_max_bytes),
                        batch_size=st.batch_size)


class InfluxSinkFactory:
    """Adds ``--influx URL`` (and friends) to demo/replay and builds the sink."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the InfluxDB options."""
        add_influx_options(parser)

    def create(self, args: argparse.Namespace, ctx: SinkContext) -> Sink | None:
        """The sink, or None without ``--influx``."""
        if not getattr(args, "influx", None):
            return None
        st = settings(args, ctx.cfg)
        writer = open_writer(st, read_token(ctx.cfg))
        return InfluxSink(ctx.info, writer, ctx.console, flush_s=st.flush_s)
