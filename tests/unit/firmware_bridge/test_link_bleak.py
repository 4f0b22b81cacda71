"""bleak on a machine with no Bluetooth: clear messages, never a traceback.

There is no kernel Bluetooth here; the subprocesses also point D-Bus at a socket that does
not exist, so the result does not depend on the host running BlueZ.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from breathform.firmware_bridge.bleak_link import BleakBackend
from breathform.firmware_bridge.link import NoAdapterError

BF = [sys.executable, "-m", "breathform.cli"]
NO_BUS = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/breathform-test"}


def run_cli(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BF, "--dir", str(tmp_path), *args], capture_output=True,
                          text=True, env=NO_BUS, timeout=120)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="BlueZ/D-Bus is Linux only")
async def test_bleak_scan_without_adapter_raises_no_adapter_error(monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", NO_BUS["DBUS_SYSTEM_BUS_ADDRESS"])
    with pytest.raises(NoAdapterError, match="no usable Bluetooth adapter"):
        await BleakBackend().scan(0.5)
    link = await BleakBackend().open_link("AA:BB:CC:DD:EE:FF")
    with pytest.raises(NoAdapterError, match="BlueZ"):
        await link.connect(1.0)


def test_scan_command_without_adapter_is_a_clear_message(tmp_path):
    r = run_cli("scan", "--seconds", "1", tmp_path=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "no usable Bluetooth adapter" in r.stderr
    assert "--bumble usb:0" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_run_command_without_adapter_is_a_clear_message_and_leaves_no_session(tmp_path):
    r = run_cli("run", "--chest", "AA:BB:CC:DD:EE:FF", "--sacrum", "Movesense 1234",
                "--quiet", tmp_path=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "no usable Bluetooth adapter" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert list(tmp_path.iterdir()) == []


def test_bumble_transport_that_cannot_open_is_a_clear_message(tmp_path):
    port = closed_port()
    for cmd in (["scan", "--seconds", "1"], ["run", "--chest", "Polar H10", "--quiet"]):
        r = run_cli(*cmd, "--bumble", f"tcp-client:127.0.0.1:{port}", tmp_path=tmp_path)
        assert r.returncode == 2, r.stderr
        assert "cannot open the bumble HCI transport" in r.stderr
        assert "Traceback" not in r.stderr + r.stdout


def test_run_needs_a_chest_sensor(tmp_path):
    r = run_cli("run", "--sacrum", "AA:BB:CC:DD:EE:FF", tmp_path=tmp_path)
    assert r.returncode == 2
    assert "--chest" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("run", tmp_path=tmp_path)
    assert r.returncode == 2
    assert "breathform scan" in r.stderr
