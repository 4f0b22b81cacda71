"""Faults of the session store: a full disk, and `kill -9` of a running session.

The disk is a real small filesystem (a 2-MiB tmpfs mounted for the test: CI runs as
root), the broker a real Mosquitto, the session the real demo pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mosquitto_broker import Broker, mosquitto_fixture  # noqa: F401
from test_mqtt_sink import CONFIG, Observer, Subscriber

from breathform.cli import main
from breathform.config import AlertsConfig, Config
from breathform.errors import StoreError
from breathform.firmware_bridge.replay import ReplaySource
from breathform.model import SessionInfo
from breathform.replay_compare import compare
from breathform.runtime import run_session
from breathform.sim.source import SimSource
from breathform.store import SessionReader, SessionWriter, list_sessions

pytestmark = pytest.mark.integration

DISK_KB = 2048


@contextlib.contextmanager
def _tmpfs(d: Path, size_kb: int):
    """A real filesystem of ``size_kb`` KiB (tmpfs) at ``d``, unmounted afterwards."""
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot mount a {size_kb}-KiB tmpfs for the disk-full tests (they run "
                    f"as root, as CI does): {r.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path):
    with _tmpfs(tmp_path / "disk", DISK_KB) as d:
        yield d


async def test_disk_full_is_a_clear_error_and_live_alerts_keep_working(
        mosquitto: Broker, small_disk: Path, tmp_path: Path, capsys):
    """The 12-min hilly demo fills the disk after ~1 min; the alerts still reach the phone."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG + "[runner]\nid = \"diskfull-01\"\n")
    async with Subscriber(mosquitto.plain_port, "breathform/diskfull-01/#", "t-df") as sub:
        rc = await asyncio.to_thread(main, ["--dir", str(small_disk), "-c", str(cfg), "demo",
                                            "--minutes", "12", "--quiet", "--mqtt",
                                            mosquitto.url])
        await sub.wait_for(lambda s: any(m.payload == b"offline" for m in s.messages))
    out = capsys.readouterr()
    # one clear line, no traceback, a failing exit code
    assert rc == 2, out
    assert "Traceback" not in out.err + out.out
    err_lines = [ln for ln in out.err.splitlines() if ln.startswith("error:")]
    assert len(err_lines) == 1, out.err
    assert "database or disk is full" in err_lines[0]
    assert "were not saved" in err_lines[0] and "the file holds the packets up to" in \
        err_lines[0]
    # every alert of the run reached the broker: the same run without a full disk
    ref_dir = tmp_path / "ref"
    assert await asyncio.to_thread(main, ["--dir", str(ref_dir), "-c", str(cfg), "demo",
                                          "--minutes", "12", "--quiet"]) == 0
    [ref] = list_sessions(ref_dir)
    with SessionReader(ref.path) as r:
        ref_alerts = r.alerts()
    assert len(ref_alerts) >= 2
    got = sub.alerts()
    assert sorted(a["t_s"] for a in got.values()) == [a.t_s for a in ref_alerts]
    # what was saved before the disk filled is a readable, contiguous session prefix that
    # replays to exactly the metrics it stored
    [s] = list(small_disk.glob("*.bfsession"))
    with SessionReader(s) as r:
        assert r.meta["status"] == "recording"
        raw = list(r.iter_raw())
        stored_m, stored_a = r.metrics(), r.alerts()
        res = await run_session(ReplaySource(r), Config(alerts=AlertsConfig(cooldown_s=20.0)),
                                writer=None)
    with SessionReader(ref.path) as r:
        ref_raw = [p for _, p in zip(range(len(raw)), r.iter_raw(), strict=False)]
    assert raw == ref_raw and len(raw) > 100
    assert stored_m and compare(stored_m, stored_a, res.metrics, res.alerts).identical


async def test_disk_full_then_space_freed_saves_everything(tmp_path: Path):
    """Space comes back mid-run: the kept data is written and the session is complete."""
    cfg = Config(alerts=AlertsConfig(cooldown_s=20.0))
    source = SimSource.create(cfg, duration_s=6 * 60.0, seed=3)
    with _tmpfs(tmp_path / "disk", 16 * 1024) as disk:
        # leave ~128 KiB: the session starts, then fills the disk within a second
        filler = disk / "filler"
        filler.write_bytes(b"\0" * ((16 * 1024 - 128) * 1024))
        await _fill_then_free(disk, filler, source, cfg)


async def _fill_then_free(disk: Path, filler: Path, source: SimSource, cfg: Config) -> None:
    path = disk / "s.bfsession"
    info = SessionInfo("refill", 0, "sim", "test", source.sensors)
    writer = SessionWriter(path, info, "", retry_every_s=0.2)
    obs = Observer()
    run = asyncio.create_task(run_session(source, cfg, writer=writer, sinks=[obs],
                                          speed=60.0))
    await obs.wait_for(lambda o: writer.error is not None, 60)
    t_full = obs.t_s
    assert "database or disk is full" in str(writer.error)
    filler.unlink()
    await obs.wait_for(lambda o: writer.error is None, 30)
    result = await asyncio.wait_for(run, 60)
    assert result.store_error is None
    assert writer.n_recoveries >= 1 and writer.unsaved_packets == 0
    with SessionReader(path) as r:
        assert r.meta["status"] == "complete"
        raw = list(r.iter_raw())
        events = r.events()
        stored_m = r.metrics()
    assert raw == source.packets  # every packet received, in order, none twice
    [(t_rec, _, detail)] = [e for e in events if e[1] == "store_recovered"]
    assert t_full <= t_rec + 2 < result.metrics[-1].t_s and "disk is full" in detail
    assert [m.t_s for m in stored_m] == [m.t_s for m in result.metrics]


def test_a_full_disk_before_the_start_is_a_clear_error(small_disk: Path, capsys):
    (small_disk / "filler").write_bytes(b"\0" * (DISK_KB * 1024 - 4096))
    with contextlib.suppress(OSError):  # take whatever is left
        with open(small_disk / "filler2", "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    rc = main(["--dir", str(small_disk), "demo", "--minutes", "3", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.startswith("error:") and str(small_disk) in err, err


def test_store_error_names_what_was_saved(tmp_path: Path):
    """The writer's final error says up to where the file is complete (unit-sized check)."""
    from breathform.model import RawPacket

    path = tmp_path / "w.bfsession"
    w = SessionWriter(path, SessionInfo("w", 0, "sim", "t"), "")
    w.add_raw([RawPacket(1.0, "chest", "c", b"x")])
    w.commit()
    w._con.execute("PRAGMA query_only=1")  # every write now fails
    w.add_raw([RawPacket(2.0, "chest", "c", b"y")])
    assert w.error is not None
    with pytest.raises(StoreError, match=r"up to t=1\.0 s; 1 of 2 packets received"):
        w.close()


# ----------------------------------------------------------------------------- kill -9
CHILD = textwrap.dedent("""
    import asyncio, sys
    from breathform.config import Config
    from breathform.model import SessionInfo
    from breathform.runtime import run_session
    from breathform.sim.source import SimSource
    from breathform.store import SessionWriter

    path, speed = sys.argv[1], float(sys.argv[2])
    src = SimSource.create(Config(), duration_s=200.0, seed=5, batch_s=0.05)
    inner = src.batches

    def batches():
        # report each batch handed to the runtime, before the runtime sees it
        for b in inner():
            yield b
            sys.stdout.write(f"{b[-1].t_rx_s!r} {len(b)}\\n")
            sys.stdout.flush()

    src.batches = batches
    w = SessionWriter(path, SessionInfo("k9", 0, "sim", "t", src.sensors), "")
    asyncio.run(run_session(src, Config(), writer=w, speed=speed))
""")


def test_kill_9_mid_run_loses_at_most_the_last_second(tmp_path: Path, capsys):
    """A paced session killed with SIGKILL: the file opens, replays, and misses <= 1 s.

    The child reports every batch it hands to the runtime; after the kill, the newest
    packet in the file is compared with the newest one received, in wall seconds.
    """
    speed = 5.0  # at most ~15 % of a core for the child: a busy machine keeps up
    path = tmp_path / "k9.bfsession"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(speed)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    received: list[float] = []
    n_received = 0
    try:
        for line in proc.stdout:  # blocks on the child's own output, no sleeping
            t, n = line.split()
            received.append(float(t))
            n_received += int(n)
            if received[-1] >= 60.0:  # 12 s of wall time into the run
                break
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()  # what it reported before it died
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    for line in rest.splitlines():
        t, n = line.split()
        received.append(float(t))
        n_received += int(n)
    assert proc.returncode == -signal.SIGKILL
    with SessionReader(path) as r:
        assert r.meta["status"] == "recording"
        raw = list(r.iter_raw())
        stored_m = r.metrics()
    lost_wall_s = (received[-1] - raw[-1].t_rx_s) / speed
    with capsys.disabled():
        print(f"\nkill -9: received {n_received} packets up to t={received[-1]:.2f} s, stored "
              f"{len(raw)} up to t={raw[-1].t_rx_s:.2f} s: {lost_wall_s:.2f} s of wall time "
              f"lost")
    assert 0 <= lost_wall_s <= 1.0
    assert n_received - len(raw) <= 40 * speed  # ~30 packets per session second
    # the file is a contiguous prefix of what was sent, in order
    src = SimSource.create(Config(), duration_s=200.0, seed=5)
    assert raw == src.packets[:len(raw)]
    # `breathform replay` reads it and recomputes exactly what it had stored
    rc = main(["replay", str(path)])
    out = capsys.readouterr().out
    assert rc == 0 and "identical" in out, out
    assert stored_m and stored_m[-1].t_s > 40
