"""Every query of the generated Grafana dashboard, run on a real influxd over a pushed session.

Grafana's macros are expanded as Grafana does for InfluxQL: ``$timeFilter`` becomes
``time >= <from>ms and time <= <to>ms``, ``$__interval`` an interval, and single-valued
variables are inserted as they are.
"""

from __future__ import annotations

import json
import math

import pytest
from influx_servers import InfluxDB1

from breathform.cli import main
from breathform.dashboard.grafana import dashboard, iter_queries
from breathform.model import SessionInfo
from breathform.sinks.influx import (
    FIELDS,
    STRIDE_FIELDS,
    InfluxWriter,
    Spool,
    V1Transport,
    session_lines,
)
from breathform.store import SessionReader, list_sessions

pytestmark = pytest.mark.integration

DB = "breathform"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """influxd with a demo session pushed by `breathform push`, plus a decoy session."""
    tmp = tmp_path_factory.mktemp("grafana")
    (tmp / "influxd").mkdir()
    srv = InfluxDB1(tmp / "influxd")
    srv.start()
    try:
        srv.create_db(DB)
        folder = tmp / "sessions"
        assert main(["--dir", str(folder), "demo", "--minutes", "8", "--seed", "1",
                     "--quiet"]) == 0
        (s,) = list_sessions(folder)
        assert main(["push", str(s.path), "--influx", srv.url, "--influx-api", "v1",
                     "--influx-bucket", DB, "--influx-spool", str(tmp / "spool")]) == 0
        with SessionReader(s.path) as r:
            info, metrics, alerts, strides = r.info, r.metrics(), r.alerts(), r.strides()
        # a second session of the same runner, shifted by a minute: the session variable
        # must keep it out of every panel
        decoy = SessionInfo(session_id="decoy", started_utc_ns=info.started_utc_ns + 60 * 10**9,
                            source="sim", software_version="0", runner_id=info.runner_id)
        w = InfluxWriter(V1Transport(srv.url, bucket=DB), Spool(tmp / "spool2"))
        w.add(session_lines(decoy, metrics, alerts, strides))
        assert w.flush() and w.stats.sent_points > 0
        yield srv, info, metrics, alerts, strides
    finally:
        srv.stop()


def _expand(q: str, info: SessionInfo, duration_s: float, interval: str = "1s") -> str:
    t0_ms = info.started_utc_ns // 10**6 - 1000
    t1_ms = t0_ms + int(duration_s * 1000) + 5000
    return (q.replace("$timeFilter", f"time >= {t0_ms}ms and time <= {t1_ms}ms")
            .replace("$__interval", interval)
            .replace("$runner", info.runner_id).replace("$session", info.session_id))


def test_every_query_of_the_dashboard_returns_rows_of_the_expected_shape(loaded):
    srv, info, metrics, alerts, strides = loaded
    assert alerts, "the pushed session must have alerts for the annotation query"
    assert strides, "the pushed session must have strides for the per-foot panels"
    dur = metrics[-1].t_s
    by_title = {f.title: f for f in FIELDS}
    by_stride = {f.title: f for f in STRIDE_FIELDS}
    seen = set()
    qs = iter_queries(dashboard())
    n_stride = sum(pq.panel in by_stride for pq in qs)
    assert n_stride == 2                   # stride time and vertical oscillation, per foot
    assert len(qs) == len(FIELDS) + n_stride + 5  # + stat + table + annotation + 2 variables
    empty_fields = []
    for pq in qs:
        if pq.panel in by_stride:
            _check_per_foot(srv, pq.query, info, dur, strides, by_stride[pq.panel].name)
            seen.add("strides")
            continue
        series = srv.query(_expand(pq.query, info, dur), db=DB)
        if pq.kind == "timeseries" and not any(
                math.isfinite(getattr(m, by_title[pq.panel].name)) for m in metrics):
            # the session has no estimate of this field at all (NaN is not written)
            assert series == []
            empty_fields.append(pq.panel)
            continue
        assert series, f"{pq.panel}: no rows for {pq.query}"
        (s,) = series
        rows = s["values"]
        if pq.kind == "timeseries":
            f = by_title[pq.panel]
            assert s["name"] == f.measurement and s["columns"] == ["time", f.name]
            expected = [m for m in metrics if math.isfinite(getattr(m, f.name))]
            assert len(rows) == len(expected), pq.panel   # 1 s interval: one row per second
            for (t_ns, v), m in zip(rows, expected, strict=True):
                ts = info.started_utc_ns + round(m.t_s * 1e9)
                assert t_ns == ts - ts % 10**9    # GROUP BY time(1s) buckets
                assert v == pytest.approx(getattr(m, f.name), rel=1e-12)
            coarse = srv.query(_expand(pq.query, info, dur, "30s"), db=DB)[0]["values"]
            assert 1 < len(coarse) <= math.ceil(dur / 30) + 1
        elif pq.kind == "stat":
            assert s["columns"] == ["time", "alerts"] and rows[0][1] == len(alerts)
        elif pq.kind == "table":
            assert s["columns"] == ["time", "severity", "climb", "text"]
            assert [r[1] for r in rows] == [a.severity for a in alerts]
            assert [r[2] for r in rows] == [a.climb for a in alerts]
            assert all(a.cue in r[3] for r, a in zip(rows, alerts, strict=True))
        elif pq.kind == "annotation":
            assert s["columns"] == ["time", "text", "kind", "severity"]
            assert len(rows) == len(alerts)
            assert [r[2] for r in rows] == [a.kind for a in alerts]
            assert [r[0] for r in rows] == [info.started_utc_ns + round(a.t_s * 1e9)
                                            for a in alerts]
        elif pq.kind == "variable":
            assert s["columns"] == ["key", "value"]
            values = [r[1] for r in rows]
            want = info.runner_id if pq.panel == "runner" else info.session_id
            assert want in values
            if pq.panel == "session":
                assert "decoy" in values   # both sessions of the runner are offered
        else:
            raise AssertionError(f"unexpected panel kind {pq.kind}")
        seen.add(pq.kind)
    assert seen == {"timeseries", "stat", "table", "annotation", "variable", "strides"}
    assert len(empty_fields) <= 1, f"demo session without estimates of {empty_fields}"


def _check_per_foot(srv, query, info, dur, strides, name):
    """One series per foot, one point per stride at its end (10 ms buckets: no two merge)."""
    series = srv.query(_expand(query, info, dur, "10ms"), db=DB)
    got = {s["tags"]["side"]: s for s in series}
    sides = sorted({st.side for st in strides})
    assert sorted(got) == sides and len(sides) >= 2, (name, sorted(got))
    for side, s in got.items():
        assert s["name"] == "strides" and s["columns"] == ["time", name]
        want = [st for st in strides if st.side == side and math.isfinite(getattr(st, name))]
        assert len(s["values"]) == len(want), (name, side)
        for (t_ns, v), st in zip(s["values"], want, strict=True):
            ts = info.started_utc_ns + round(st.t_end_s * 1e9)
            assert t_ns == ts - ts % 10**7
            assert v == pytest.approx(getattr(st, name), rel=1e-12)


def test_generated_files_match_the_committed_provisioning(tmp_path):
    assert main(["dashboard", "--out", str(tmp_path)]) == 0
    got = json.loads((tmp_path / "dashboards" / "breathform.json").read_text())
    assert got == dashboard()
    from pathlib import Path
    committed = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
    for rel in ("dashboards/breathform.json", "provisioning/datasources/breathform.yaml",
                "provisioning/dashboards/breathform.yaml"):
        assert (committed / rel).read_text() == (tmp_path / rel).read_text(), (
            f"deploy/grafana/{rel} is stale: run `breathform dashboard --out deploy/grafana`")
    ds = (tmp_path / "provisioning" / "datasources" / "breathform.yaml").read_text()
    assert "type: influxdb" in ds and "uid: breathform-influx" in ds and "dbName: breathform" in ds
