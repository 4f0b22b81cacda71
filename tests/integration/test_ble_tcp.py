"""`breathform scan` and `breathform run` as a user runs them, over bumble's TCP HCI transport.

A real server process (``python -m breathform.sim.peripherals``) runs the emulated Polar H10
and Movesense on bumble virtual controllers and exposes host controllers on loopback TCP
ports; the CLI, in its own process, connects with ``--bumble tcp-client:127.0.0.1:PORT``.
"""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from breathform.store import SessionReader, list_sessions

pytestmark = pytest.mark.integration

BF = [sys.executable, "-m", "breathform.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, extra: tuple[str, ...] = (), n_ports: int = 3) -> None:
        self.ports = [_free_port() for _ in range(n_ports)]  # one host controller per CLI run
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "breathform.sim.peripherals", "--minutes", "10", *extra,
             *[f"tcp-server:127.0.0.1:{p}" for p in self.ports]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: list[str] = []
        self._q: queue.Queue[str] = queue.Queue()
        # a reader thread: select() on a buffered text pipe misses lines already read ahead
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))

    def mark(self) -> int:
        """Take in every line printed so far; the index of the next one."""
        while True:
            try:
                self.lines.append(self._q.get_nowait())
            except queue.Empty:
                return len(self.lines)

    def read_until(self, pred, timeout_s: float, since: int = 0) -> None:
        """Collect server lines until one from index ``since`` on satisfies ``pred``."""
        deadline = time.monotonic() + timeout_s
        while not any(pred(x) for x in self.lines[since:]):
            left = deadline - time.monotonic()
            try:
                self.lines.append(self._q.get(timeout=max(left, 0.0)))
            except queue.Empty:
                raise AssertionError(f"server lines so far: {self.lines}; "
                                     f"stderr: {self._stderr()}") from None

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


@pytest.fixture(scope="module")
def server():
    s = Server()
    try:
        s.read_until(lambda x: x.startswith("ready"), 60)
        yield s
    finally:
        s.stop()


def test_scan_over_tcp_lists_both_sensors(server, tmp_path):
    r = subprocess.run([*BF, "--dir", str(tmp_path), "scan", "--seconds", "2", "--bumble",
                        f"tcp-client:127.0.0.1:{server.ports[0]}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "polar_h10" in out and "Polar H10 1A2B3C4D" in out and "C1:10:00:00:00:01" in out
    assert "movesense" in out and "Movesense 212345678901" in out
    assert "C2:20:00:00:00:02" in out


def test_run_over_tcp_records_a_session_and_stops_streams_before_disconnecting(server,
                                                                              tmp_path):
    n0 = server.mark()
    r = subprocess.run([*BF, "--dir", str(tmp_path), "run", "--chest", "Polar H10",
                        "--sacrum", "C2:20:00:00:00:02", "--minutes", "0.2", "--quiet",
                        "--bumble", f"tcp-client:127.0.0.1:{server.ports[1]}"],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    server.read_until(lambda x: x == "Polar H10 1A2B3C4D: disconnected", 30, n0)
    server.read_until(lambda x: x == "Movesense 212345678901: disconnected", 30, n0)
    lines = server.lines[n0:]
    h10 = [x.split(": ", 1)[1] for x in lines if x.startswith("Polar H10")]
    mov = [x.split(": ", 1)[1] for x in lines if x.startswith("Movesense")]
    assert h10 == ["connected", "command 0102", "command 02020001c8000101100002010800",
                   "command 0302", "disconnected"]
    assert mov == ["connected", "command 01632f4d6561732f494d55362f313034", "command 0263",
                   "disconnected"]

    (summary,) = list_sessions(tmp_path)
    assert summary.status == "complete" and summary.source == "ble"
    with SessionReader(summary.path) as rd:
        raw = list(rd.iter_raw())
        kinds = [(k, d.split(":")[0]) for _, k, d in rd.events()]
        metrics = rd.metrics()
    by_sensor = {p.sensor for p in raw}
    assert by_sensor == {"chest", "sacrum"}
    assert len(raw) > 150  # ~20 notifications/s for 12 s
    for ev in [("link_up", "chest"), ("link_up", "sacrum"), ("link_closed", "chest"),
               ("link_closed", "sacrum")]:
        assert ev in kinds
    assert len(metrics) >= 9
    assert any(m.hr_bpm == m.hr_bpm for m in metrics), "heart rate from the strap"


def test_ctrl_c_stops_the_streams_then_disconnects_and_keeps_the_session(server, tmp_path):
    n0 = server.mark()
    proc = subprocess.Popen([*BF, "--dir", str(tmp_path), "run", "--chest", "Polar H10",
                             "--sacrum", "Movesense", "--quiet", "--bumble",
                             f"tcp-client:127.0.0.1:{server.ports[2]}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # both sensors streaming, then a few seconds of data
        server.read_until(lambda x: x == "Polar H10 1A2B3C4D: command "
                          "02020001c8000101100002010800", 60, n0)
        server.read_until(lambda x: x.startswith("Movesense 212345678901: command 0163"), 60,
                          n0)
        deadline = time.monotonic() + 60
        while True:
            files = list(tmp_path.glob("*.bfsession"))
            if files:
                with SessionReader(files[0]) as rd:
                    if rd.n_raw() > 60:
                        break
            assert time.monotonic() < deadline, "no packets stored"
            assert proc.poll() is None
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    server.read_until(lambda x: x == "Polar H10 1A2B3C4D: disconnected", 30, n0)
    server.read_until(lambda x: x == "Movesense 212345678901: disconnected", 30, n0)
    lines = server.lines[n0:]
    # the stream stop reached each sensor before its link went down
    assert lines.index("Polar H10 1A2B3C4D: command 0302") < lines.index(
        "Polar H10 1A2B3C4D: disconnected")
    assert lines.index("Movesense 212345678901: command 0263") < lines.index(
        "Movesense 212345678901: disconnected")
    (summary,) = list_sessions(tmp_path)
    assert summary.status == "interrupted"
    with SessionReader(summary.path) as rd:
        assert rd.n_raw() > 60
        assert ("link_closed" in {k for _, k, _ in rd.events()})


def test_run_with_a_diy_board_named_in_the_config(tmp_path):
    """`sensors.sacrum.kind = "diy"` in the config: the CLI reads the board's config
    characteristic, checks its rate, and streams it next to the H10."""
    from breathform.firmware_bridge.devices import diy_profile as diy

    srv = Server(("--sacrum-kind", "diy"), n_ports=1)
    port = srv.ports[0]
    try:
        srv.read_until(lambda x: x.startswith("ready") and "BF-DIY" in x, 60)
        cfg = tmp_path / "c.toml"
        cfg.write_text('[sensors.sacrum]\nkind = "diy"\nrate_hz = 104.0\n')
        r = subprocess.run([*BF, "-c", str(cfg), "--dir", str(tmp_path), "run", "--chest",
                            "Polar H10", "--sacrum", "BF-DIY", "--minutes", "0.4", "--quiet",
                            "--bumble", f"tcp-client:127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        assert "decode errors 0" in r.stdout
        (summary,) = list_sessions(tmp_path)
        with SessionReader(summary.path) as rd:
            kinds = {s.role: s.kind for s in rd.info.sensors}
            chars = [p.char for p in rd.iter_raw() if p.sensor == "sacrum"]
        assert kinds == {"chest": "polar_h10", "sacrum": "diy"}
        # 24 s of session; connecting both boards over the TCP controller can take a good
        # part of it on a loaded machine, so ask for a few seconds of streaming, not all
        assert chars[0] == diy.CONFIG_UUID and chars.count(diy.DATA_UUID) > 30
        # a board whose rate is not the config's is refused with one clear line
        cfg.write_text('[sensors.sacrum]\nkind = "diy"\nrate_hz = 100.0\n')
        r = subprocess.run([*BF, "-c", str(cfg), "--dir", str(tmp_path / "b"), "run",
                            "--chest", "Polar H10", "--sacrum", "BF-DIY", "--minutes", "0.2",
                            "--quiet", "--bumble", f"tcp-client:127.0.0.1:{port}"],
                           capture_output=True, text=True, timeout=180)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "streams at 104 Hz but rate_hz is 100" in r.stderr, r.stderr
    finally:
        srv.stop()
