"""InfluxDB writer throughput and outage recovery, against real local servers.

Starts Debian's influxd 1.6.7 and VictoriaMetrics on free loopback ports (temp folders),
records a simulated run, then for each server prints:

- ``push``: points/s of ``breathform push`` (line generation + batching + HTTP) for the
  whole session, and points per second of session (the live load);
- ``outage``: the same points written in batches of 100 with the server stopped after a
  third and restarted after two thirds: points spooled, seconds from restart to an empty
  spool, and whether the server then holds exactly the expected points.

    .venv/bin/python benchmarks/influx_push.py [--minutes 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from influx_servers import InfluxDB1, VictoriaMetrics  # noqa: E402

from breathform.cli import main as cli  # noqa: E402
from breathform.model import SessionInfo  # noqa: E402
from breathform.sinks.influx import (  # noqa: E402
    InfluxWriter,
    Spool,
    V1Transport,
    V2Transport,
    session_lines,
)
from breathform.store import SessionReader, list_sessions  # noqa: E402


def _count_influx(srv: InfluxDB1, db: str, session: str) -> int:
    total = 0
    for meas, fld in (("breathing", "rate_bpm"), ("breathing", "hr_bpm"),
                      ("posture", "pelvic_tilt_deg"), ("gait", "cadence_spm")):
        s = srv.query(f"SELECT count(\"{fld}\") FROM \"{meas}\" WHERE session = '{session}'",
                      db=db)
        total += s[0]["values"][0][1] if s else 0
    return total


def _count_vm(vm: VictoriaMetrics, session: str) -> int:
    names = {"breathing_rate_bpm", "breathing_hr_bpm", "posture_pelvic_tilt_deg",
             "gait_cadence_spm"}
    return sum(len(s["values"]) for s in vm.export(f'{{session="{session}"}}')
               if s["metric"]["__name__"] in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bf-influx-bench-"))
    assert cli(["--dir", str(tmp / "s"), "demo", "--minutes", f"{a.minutes:g}", "--seed",
                str(a.seed), "--quiet"]) == 0
    (s,) = list_sessions(tmp / "s")
    with SessionReader(s.path) as r:
        info, metrics, alerts = r.info, r.metrics(), r.alerts()
    n_lines = len(list(session_lines(info, metrics, alerts)))
    print(f"session: {len(metrics)} s of metrics, {len(alerts)} alerts, {n_lines} points "
          f"({n_lines / max(len(metrics), 1):.1f} points per second of run)")
    (tmp / "i").mkdir()
    (tmp / "v").mkdir()
    servers = [("influxd 1.6.7, /write (v1)", InfluxDB1(tmp / "i")),
               ("VictoriaMetrics 1.79, influxdb-client /api/v2/write", VictoriaMetrics(tmp / "v"))]
    for name, srv in servers:
        srv.start()
        try:
            is_v1 = isinstance(srv, InfluxDB1)
            if isinstance(srv, InfluxDB1):
                srv.create_db("bench")
            t0 = time.perf_counter()
            args = ["push", str(s.path), "--influx", srv.url, "--influx-bucket", "bench",
                    "--influx-spool", str(tmp / "spool-push")]
            if is_v1:
                args += ["--influx-api", "v1"]
            assert cli(args) == 0
            dt = time.perf_counter() - t0
            print(f"{name}: push {n_lines} points in {dt:.2f} s = {n_lines / dt:,.0f} points/s")

            oinfo = SessionInfo(session_id="outage", started_utc_ns=info.started_utc_ns,
                                source="sim", software_version="0", runner_id=info.runner_id)
            lines = list(session_lines(oinfo, metrics, alerts))
            tr = V1Transport(srv.url, bucket="bench") if is_v1 else \
                V2Transport(srv.url, bucket="bench", org="o")
            spool = Spool(tmp / f"spool-{id(srv)}")
            w = InfluxWriter(tr, spool, batch_size=100, retry_s=0.0)
            k = len(lines) // 3
            w.add(lines[:k])
            srv.stop()
            w.add(lines[k:2 * k])
            spooled = spool.n_points()
            srv.start()
            t0 = time.perf_counter()
            w.add(lines[2 * k:])
            ok = w.flush()
            rec = time.perf_counter() - t0
            tr.close()
            got = _count_influx(srv, "bench", "outage") if is_v1 else _count_vm(srv, "outage")
            want = _count_influx(srv, "bench", info.session_id) if is_v1 else \
                _count_vm(srv, info.session_id)
            print(f"{name}: outage: {spooled} points spooled while down; spool sent "
                  f"{'(empty)' if ok else '(NOT empty)'} {rec:.2f} s after restart; "
                  f"server holds {got} of {want} expected core-field values "
                  f"({'exact' if got == want else 'MISMATCH'}); acknowledged "
                  f"{w.stats.sent_points} of {len(lines)} points")
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
