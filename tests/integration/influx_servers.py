"""Real time-series servers for the tests: Debian's influxd 1.6.7 and VictoriaMetrics.

Each runs on a free loopback port with its data in a temp folder; ``stop``/``start`` keep
the port and the data, so a test can take the server away and bring it back.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout_s} s")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return 200 <= r.status < 300
    except OSError:
        return False


class _Server:
    name = "server"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = folder / "server.log"

    def _cmd(self) -> list[str]:
        raise NotImplementedError

    def _ready_url(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self._cmd(), stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait(lambda: self.proc.poll() is None and _http_ok(self._ready_url()), 30,
                  self.name)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {self.log.read_text()[-2000:]}"
                               ) from None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class InfluxDB1(_Server):
    """influxd 1.6.7: ``/write`` and InfluxQL at ``/query``."""

    name = "influxd"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        if shutil.which("influxd") is None:
            raise RuntimeError("influxd missing: scripts/test installs the Debian package "
                               "`influxdb` (scripts/debian-packages.txt)")
        self.rpc_port = free_port()
        conf = folder / "influxdb.conf"
        conf.write_text(f"""reporting-enabled = false
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{folder}/meta"
[data]
  dir = "{folder}/data"
  wal-dir = "{folder}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""")
        self.conf = conf

    def _cmd(self) -> list[str]:
        return ["influxd", "run", "-config", str(self.conf)]

    def _ready_url(self) -> str:
        return f"{self.url}/ping"

    def query(self, q: str, db: str = "") -> list[dict[str, Any]]:
        """Run InfluxQL; return the statement's series (raises on an error)."""
        data = urllib.parse.urlencode({"q": q, "db": db, "epoch": "ns"}).encode()
        try:
            with urllib.request.urlopen(f"{self.url}/query", data=data, timeout=30) as r:
                body = r.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"InfluxQL error for {q!r}: HTTP {exc.code} "
                               f"{exc.read().decode(errors='replace')}") from None
        res = json.loads(body)["results"][0]
        if "error" in res:
            raise RuntimeError(f"InfluxQL error for {q!r}: {res['error']}")
        return list(res.get("series", []))

    def create_db(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"')


class VictoriaMetrics(_Server):
    """VictoriaMetrics: accepts influxdb-client's ``/api/v2/write``.

    Started with ``-dedup.minScrapeInterval=1ms``: one sample per series and millisecond,
    which is InfluxDB's rule that a point's identity is measurement + tags + timestamp.
    """

    name = "victoria-metrics"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        if shutil.which("victoria-metrics") is None:
            raise RuntimeError("victoria-metrics missing: scripts/test installs the Debian "
                               "package `victoria-metrics` (scripts/debian-packages.txt)")

    def _cmd(self) -> list[str]:
        return ["victoria-metrics", f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.folder}/data", "-retentionPeriod=100y",
                "-dedup.minScrapeInterval=1ms", "-search.latencyOffset=0s",
                "-loggerLevel=ERROR"]

    def _ready_url(self) -> str:
        return f"{self.url}/health"

    def export(self, match: str) -> list[dict[str, Any]]:
        """All samples of the series matching ``match`` (a series selector)."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=30).read()
        # demo sessions run faster than real time: their timestamps reach into the future
        q = urllib.parse.urlencode({"match[]": match, "start": "0",
                                    "end": str(int(time.time()) + 7 * 86400)})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{q}", timeout=30) as r:
            return [json.loads(ln) for ln in r.read().decode().splitlines() if ln.strip()]
