"""A real Mosquitto for the tests: plain, WebSockets, TLS+password and password listeners.

``start_broker(folder)`` writes a throwaway CA and server certificate (openssl), a
password file (mosquitto_passwd) and a config with four loopback listeners on free ports,
starts ``mosquitto`` and waits until every port accepts connections. ``Broker.stop()`` /
``Broker.start()`` let a test take it away mid-run and bring it back on the same ports;
persistence is on, so persistent subscriber sessions (and the QoS 1 messages queued for
them) survive the restart, as they do on a real deployment.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "runner"
PASSWORD = "s3cret-Pa55"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not open port {port} within "
                                   f"{timeout_s} s") from None
            time.sleep(0.02)  # polling a port with a deadline


def _run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)


def make_certs(folder: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for localhost / 127.0.0.1."""
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
          "-out", "ca.crt", "-days", "2", "-subj", "/CN=breathform test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], folder)
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
          "-out", "server.csr", "-subj", "/CN=localhost"], folder)
    (folder / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                    "basicConstraints=CA:FALSE\n"
                                    "extendedKeyUsage=serverAuth\n")
    _run(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey",
          "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2",
          "-extfile", "ext.cnf"], folder)
    return {"ca": folder / "ca.crt", "cert": folder / "server.crt",
            "key": folder / "server.key"}


@dataclass
class Broker:
    folder: Path
    plain_port: int
    ws_port: int
    tls_port: int
    auth_port: int
    ca_file: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.plain_port}"

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(self.folder / "mosquitto.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     cwd=self.folder)
        for p in (self.plain_port, self.ws_port, self.tls_port, self.auth_port):
            try:
                _wait_port(p)
            except RuntimeError:
                self.stop()
                raise RuntimeError(self.log.read_text(errors="replace")[-2000:]) from None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)  # saves the persistent sessions
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def start_broker(folder: Path) -> Broker:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        pytest.fail("mosquitto is not installed: scripts/test installs it "
                    "(scripts/debian-packages.txt)")
    certs = make_certs(folder)
    pw = folder / "passwd"
    pw.write_text("")
    passwd_exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    _run([passwd_exe, "-b", str(pw), USER, PASSWORD], folder)
    pw.chmod(0o600)
    b = Broker(folder=folder, plain_port=free_port(), ws_port=free_port(),
               tls_port=free_port(), auth_port=free_port(), ca_file=certs["ca"])
    conf = f"""
per_listener_settings true
user root
persistence true
persistence_location {folder}/
log_dest file {b.log}
log_type error
log_type warning
log_type notice
log_type information
max_queued_messages 10000

listener {b.plain_port} 127.0.0.1
allow_anonymous true

listener {b.ws_port} 127.0.0.1
protocol websockets
allow_anonymous true

listener {b.tls_port} 127.0.0.1
cafile {certs['ca']}
certfile {certs['cert']}
keyfile {certs['key']}
password_file {pw}
allow_anonymous false

listener {b.auth_port} 127.0.0.1
password_file {pw}
allow_anonymous false
"""
    (folder / "mosquitto.conf").write_text(conf)
    b.start()
    return b


@pytest.fixture(scope="session", name="mosquitto")
def mosquitto_fixture(tmp_path_factory: pytest.TempPathFactory):
    b = start_broker(tmp_path_factory.mktemp("mosquitto"))
    try:
        yield b
    finally:
        b.stop()
