from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from breathform.errors import StoreError
from breathform.model import Alert, Cause, Metrics, RawPacket, SensorInfo, SessionInfo
from breathform.store import SessionReader, SessionWriter, list_sessions, resolve_session


def _info(sid: str = "s1") -> SessionInfo:
    return SessionInfo(session_id=sid, started_utc_ns=123, source="sim", software_version="t",
                       sensors=(SensorInfo("chest", "polar_h10", 200.0, 8.0, False),),
                       runner_id="r")


def test_round_trip(tmp_path):
    path = tmp_path / "s1.bfsession"
    w = SessionWriter(path, _info(), "x = 1\n")
    pkts = [RawPacket(0.5, "chest", "c", b"\x01\x02"), RawPacket(0.6, "sacrum", "d", b"")]
    w.add_raw(pkts)
    ms = [Metrics(t_s=1.0), Metrics(t_s=2.0, rate_bpm=30.5, breath_quality=0.8,
                                    pelvic_tilt_deg=-1.25, warming_up=False)]
    w.add_metrics(ms)
    al = Alert(t_s=2.0, kind="k", severity=2,
               causes=(Cause("rate_high", "rate_bpm", 45.0, 30.0, 37.5, "bpm"),), cue="c",
               climb=True)
    w.add_alerts([al])
    w.set_calibration({"chest_vertical": [0.0, 0.0, 1.0]})
    w.add_event(1.5, "gap", "chest: 36 samples")
    w.close()
    with SessionReader(path) as r:
        assert list(r.iter_raw()) == pkts
        got = r.metrics()
        assert got[1] == ms[1]
        assert math.isnan(got[0].rate_bpm) and got[0].warming_up
        assert r.alerts() == [al]
        assert r.calibration() == {"chest_vertical": [0.0, 0.0, 1.0]}
        assert r.events() == [(1.5, "gap", "chest: 36 samples")]
        assert r.config_toml == "x = 1\n"
        assert r.info == _info()
        assert r.summary().status == "complete"
    assert [s.session_id for s in list_sessions(tmp_path)] == ["s1"]
    assert resolve_session("s1", tmp_path) == path


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(StoreError, match="no session file"):
        SessionReader(tmp_path / "missing.bfsession")
    bad = tmp_path / "bad.bfsession"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="not a breathform session"):
        SessionReader(bad)
    with pytest.raises(StoreError, match="no session 'zzz'"):
        resolve_session("zzz", tmp_path)
    SessionWriter(tmp_path / "a.bfsession", _info("a"), "").close()
    with pytest.raises(StoreError, match="already exists"):
        SessionWriter(tmp_path / "a.bfsession", _info("a"), "")


def test_kill_9_loses_at_most_the_last_second(tmp_path):
    """A writer killed mid-run leaves a readable file with all but the last second."""
    path = tmp_path / "k.bfsession"
    ready = tmp_path / "ready"
    code = textwrap.dedent(f"""
        import time, pathlib
        from breathform.model import RawPacket, SessionInfo
        from breathform.store import SessionWriter
        w = SessionWriter({str(path)!r}, SessionInfo("k", 0, "sim", "t"), "")
        i = 0
        t0 = time.monotonic()
        while True:
            w.add_raw([RawPacket(float(i), "chest", "c", i.to_bytes(4, "little"))])
            w.maybe_commit()
            i += 1
            if i == 2000:
                pathlib.Path({str(ready)!r}).write_text("x")
            time.sleep(0.0005)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, "writer died"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with SessionReader(path) as r:
        raw = list(r.iter_raw())
    assert len(raw) >= 2000
    # Contiguous from the start: nothing in the middle lost.
    assert [int.from_bytes(p.payload, "little") for p in raw] == list(range(len(raw)))
