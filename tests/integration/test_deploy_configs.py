"""deploy/: the Mosquitto config starts a real broker; the compose file's mounts exist.

Docker is not available here, so the compose stack itself is not started; what can be
checked without it is.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from influx_servers import free_port

pytestmark = pytest.mark.integration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_mounts_point_at_files_in_the_repo():
    text = (DEPLOY / "docker-compose.yml").read_text()
    mounts = re.findall(r"- (\./[^:\s]+):", text)
    assert len(mounts) == 4
    for m in mounts:
        assert (DEPLOY / m).exists(), m
    for svc in ("influxdb:", "grafana:", "mosquitto:"):
        assert f"\n  {svc}\n" in text
    assert "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: ${INFLUX_TOKEN" in text
    assert "influx v1 dbrp create" in (DEPLOY / "influxdb" / "init-dbrp.sh").read_text()


def test_mosquitto_config_starts_a_broker_on_both_listeners(tmp_path):
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        raise RuntimeError("mosquitto missing: scripts/test installs the Debian package")
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    p_mqtt, p_ws = free_port(), free_port()
    conf = (conf.replace("/mosquitto/data/", f"{tmp_path}/")
            .replace("listener 1883", f"listener {p_mqtt} 127.0.0.1")
            .replace("listener 9001", f"listener {p_ws} 127.0.0.1"))
    assert str(p_mqtt) in conf and str(p_ws) in conf
    (tmp_path / "m.conf").write_text(conf)
    log = tmp_path / "mosquitto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([exe, "-c", str(tmp_path / "m.conf")], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        up = set()
        while time.monotonic() < deadline and len(up) < 2 and proc.poll() is None:
            for port in (p_mqtt, p_ws):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    up.add(port)
                except OSError:
                    pass
            time.sleep(0.05)
        assert up == {p_mqtt, p_ws}, log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
