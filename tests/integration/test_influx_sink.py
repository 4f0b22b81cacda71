"""The InfluxDB sink against real servers: influxd 1.6.7 (/write + InfluxQL) and
VictoriaMetrics (influxdb-client's /api/v2/write), including server outages."""

from __future__ import annotations

import math
import threading
from collections import Counter

import pytest
from influx_servers import InfluxDB1, VictoriaMetrics

from breathform.cli import main
from breathform.errors import SinkError
from breathform.model import Alert, Cause, Metrics, SessionInfo
from breathform.signal.gait import Stride
from breathform.sinks.influx import (
    FIELDS,
    STRIDE_FIELDS,
    InfluxWriter,
    Spool,
    V1Transport,
    V2Transport,
    WriteError,
    alert_lines,
    line,
    make_transport,
    metrics_lines,
    session_lines,
    stride_lines,
)
from breathform.store import SessionReader, list_sessions

pytestmark = pytest.mark.integration

INFO = SessionInfo(session_id="s-1", started_utc_ns=1_700_000_000_000_000_000, source="sim",
                   software_version="0", runner_id="runner 01")


@pytest.fixture(scope="module")
def influxdb1(tmp_path_factory):
    srv = InfluxDB1(tmp_path_factory.mktemp("influxd"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    srv = VictoriaMetrics(tmp_path_factory.mktemp("vm"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sessions")
    assert main(["--dir", str(folder), "demo", "--minutes", "8", "--seed", "1", "--quiet"]) == 0
    (s,) = list_sessions(folder)
    with SessionReader(s.path) as r:
        info, metrics, alerts, strides = r.info, r.metrics(), r.alerts(), r.strides()
    assert alerts, "seed 1, 8 min: the demo raises an alert on its climb"
    assert strides, "the demo's sacrum gives strides"
    return s.path, info, metrics, alerts, strides


def _expected_counts(metrics, alerts, strides):
    """Points per (measurement, field), computed from the session, not from our lines."""
    c: Counter[tuple[str, str]] = Counter()
    for m in metrics:
        for f in FIELDS:
            if math.isfinite(getattr(m, f.name)):
                c[(f.measurement, f.name)] += 1
        if math.isfinite(m.rate_bpm) or math.isfinite(m.hr_bpm) or any(
                math.isfinite(getattr(m, f.name)) for f in FIELDS
                if f.measurement == "breathing"):
            c[("breathing", "warming_up")] += 1
    for fld in ("severity", "climb", "cue", "causes", "text"):
        c[("alerts", fld)] += len(alerts)
    for st in strides:
        for f in STRIDE_FIELDS:
            if math.isfinite(getattr(st, f.name)):
                c[("strides", f.name)] += 1
    return +c   # drop zero counts


# ------------------------------------------------------------------ schema (pure)
def test_line_protocol_escapes_tags_and_strings():
    ln = line("alerts", {"runner": "a b,c=d", "session": "s", "empty": ""},
              {"cue": 'say "hi"\nnow', "severity": 2, "climb": True, "x": 1.5}, 7)
    assert ln == ('alerts,runner=a\\ b\\,c\\=d,session=s '
                  'cue="say \\"hi\\" now",severity=2i,climb=true,x=1.5 7')
    with pytest.raises(SinkError, match="at least one field"):
        line("m", {}, {}, 1)


def test_metrics_points_leave_out_nan_and_carry_units_and_sensor_tags():
    m = Metrics(t_s=2.0, rate_bpm=30.0, pelvic_tilt_deg=4.0, cadence_spm=math.nan,
                breath_quality=0.5, warming_up=False)
    lines = metrics_lines(INFO, m)
    ts = str(INFO.started_utc_ns + 2_000_000_000)
    assert all(ln.endswith(" " + ts) for ln in lines)
    by_meas = {ln.split(",", 1)[0]: ln for ln in lines}
    assert set(by_meas) == {"breathing", "posture"}   # no gait point: cadence is NaN
    assert "sensor=chest" in by_meas["breathing"] and "rate_bpm=30.0" in by_meas["breathing"]
    assert "warming_up=false" in by_meas["breathing"]
    assert "sensor=sacrum" in by_meas["posture"] and "pelvic_tilt_deg=4.0" in by_meas["posture"]
    assert "nan" not in " ".join(lines).lower()
    for f in FIELDS:   # every field name carries its unit (or is dimensionless by name)
        assert f.name.endswith(("_bpm", "_deg", "_spm", "_rel", "_quality", "_breath"))


def test_stride_point_is_tagged_by_foot_at_its_end_and_leaves_out_nan():
    st = Stride(t_start_s=10.0, t_end_s=10.75, side="L", stride_s=0.75, step_s=0.37,
                cadence_spm=160.0, vertical_osc_cm=math.nan)
    (ln,) = stride_lines(INFO, st)
    assert ln.startswith("strides,runner=runner\\ 01,sensor=sacrum,session=s-1,side=L ")
    assert "stride_s=0.75" in ln and "cadence_spm=160" in ln and "vertical_osc_cm" not in ln
    assert ln.endswith(f" {INFO.started_utc_ns + 10_750_000_000}")


def test_alert_point_is_tagged_by_kind_and_has_text():
    a = Alert(t_s=100.0, kind="breathless_form", severity=2, climb=True, cue="Shorten stride",
              causes=(Cause("rate_high", "rate_bpm", 42.0, 30.0, 37.5, "bpm"),))
    (ln,) = alert_lines(INFO, a)
    assert ln.startswith("alerts,kind=breathless_form,runner=runner\\ 01,session=s-1 ")
    assert "severity=2i" in ln and "climb=true" in ln and 'cue="Shorten stride"' in ln
    assert "rate high 42.0 bpm" in ln


def test_bad_url_and_api_are_clear_errors():
    with pytest.raises(SinkError, match="http"):
        make_transport("localhost:8086")
    with pytest.raises(SinkError, match="'v2' or 'v1'"):
        make_transport("http://localhost:8086", api="v3")


def test_token_is_not_in_transport_repr():
    t = V2Transport("http://127.0.0.1:1", bucket="b", org="o", token="SECRET-TOKEN-123")
    assert "SECRET" not in repr(t)
    t.close()


# ------------------------------------------------------------------ real servers
def test_push_to_influxdb1_writes_every_point_once(influxdb1, session, tmp_path):
    path, info, metrics, alerts, strides = session
    influxdb1.create_db("push1")
    rc = main(["push", str(path), "--influx", influxdb1.url, "--influx-api", "v1",
               "--influx-bucket", "push1", "--influx-spool", str(tmp_path / "spool")])
    assert rc == 0
    expected = _expected_counts(metrics, alerts, strides)
    for (meas, fld), n in expected.items():
        (series,) = influxdb1.query(f'SELECT count("{fld}") FROM "{meas}"', db="push1")
        assert series["values"][0][1] == n, (meas, fld)
    # pushing again creates no duplicates: same identity (measurement + tags + time)
    assert main(["push", str(path), "--influx", influxdb1.url, "--influx-api", "v1",
                 "--influx-bucket", "push1", "--influx-spool", str(tmp_path / "spool")]) == 0
    (series,) = influxdb1.query('SELECT count("rate_bpm") FROM "breathing"', db="push1")
    assert series["values"][0][1] == expected[("breathing", "rate_bpm")]
    tags = influxdb1.query('SHOW TAG VALUES FROM "breathing" WITH KEY = "runner"', db="push1")
    assert [v[1] for v in tags[0]["values"]] == [info.runner_id]


def _vm_numeric_counts(vm, session_id):
    out: Counter[str] = Counter()
    for s in vm.export(f'{{session="{session_id}"}}'):
        out[s["metric"]["__name__"]] += len(s["values"])
        assert len(set(s["timestamps"])) == len(s["timestamps"])
    return out


def _expected_vm(info, metrics, alerts, strides):
    # VictoriaMetrics stores field f of measurement m as series m_f (strings as 0)
    c = _expected_counts(metrics, alerts, strides)
    return Counter({f"{m}_{f}": n for (m, f), n in c.items()})


def test_live_demo_streams_through_influxdb_client_without_leaking_the_token(
        vm, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BREATHFORM_INFLUX_TOKEN", "tok-SECRET-42")
    rc = main(["--dir", str(tmp_path), "demo", "--minutes", "3", "--quiet",
               "--influx", vm.url, "--influx-bucket", "live"])
    out = capsys.readouterr()
    assert rc == 0, out
    assert "tok-SECRET-42" not in out.out + out.err
    (s,) = list_sessions(tmp_path)
    with SessionReader(s.path) as r:
        info, metrics, alerts, strides = r.info, r.metrics(), r.alerts(), r.strides()
    assert "points sent" in out.out
    assert _vm_numeric_counts(vm, info.session_id) == _expected_vm(info, metrics, alerts, strides)
    assert not list((tmp_path / "influx-spool").glob("*.lp"))


def _lines_of(session):
    _path, info, metrics, alerts, strides = session
    return list(session_lines(info, metrics, alerts, strides))


@pytest.mark.parametrize("server", ["vm", "influxdb1"])
def test_server_down_mid_write_then_back_nothing_lost_nothing_duplicated(
        server, request, session, tmp_path):
    srv = request.getfixturevalue(server)
    _path, info0, metrics, alerts, strides = session
    info = SessionInfo(session_id=f"outage-{server}", started_utc_ns=info0.started_utc_ns,
                       source="sim", software_version="0", runner_id=info0.runner_id)
    lines = list(session_lines(info, metrics, alerts, strides))
    if server == "vm":
        transport = V2Transport(srv.url, bucket="outage", org="o")
    else:
        srv.create_db("outage")
        transport = V1Transport(srv.url, bucket="outage")
    spool = Spool(tmp_path / "spool")
    writer = InfluxWriter(transport, spool, batch_size=50, retry_s=0.0)
    third = len(lines) // 3
    try:
        writer.add(lines[:third])
        srv.stop()                          # the server goes away mid-session
        writer.add(lines[third:2 * third])
        assert spool.files(), "batches written while the server is down go to the spool"
        assert writer.stats.failures >= 1
        # the server comes back while a writer thread keeps writing
        t = threading.Thread(target=writer.add, args=(lines[2 * third:],))
        t.start()
        srv.start()
        t.join(timeout=60)
        assert not t.is_alive()
        assert writer.flush(), f"still unsent: {spool.files()} {writer.stats.last_error}"
    finally:
        if not srv.running():
            srv.start()
        transport.close()
    assert writer.stats.sent_points == len(lines)      # every line acknowledged once
    assert writer.stats.rejected_points == 0 and spool.dropped_points == 0
    assert not spool.files()
    if server == "vm":
        want = _expected_vm(info, metrics, alerts, strides)
        assert _vm_numeric_counts(srv, info.session_id) == want
    else:
        expected = _expected_counts(metrics, alerts, strides)
        for (meas, fld), n in expected.items():
            (series,) = srv.query(f'SELECT count("{fld}") FROM "{meas}" '
                                  f"WHERE session = '{info.session_id}'", db="outage")
            assert series["values"][0][1] == n, (meas, fld)


def test_server_killed_during_a_write_loop_is_recovered(vm, session, tmp_path):
    """The stop lands at an arbitrary moment of a write loop (maybe inside a request)."""
    _path, info0, metrics, alerts, strides = session
    info = SessionInfo(session_id="kill-loop", started_utc_ns=info0.started_utc_ns,
                       source="sim", software_version="0", runner_id=info0.runner_id)
    lines = list(session_lines(info, metrics, alerts, strides))
    transport = V2Transport(vm.url, bucket="kill", org="o")
    spool = Spool(tmp_path / "spool")
    writer = InfluxWriter(transport, spool, batch_size=10, retry_s=0.0)
    started = threading.Event()

    def loop():
        for i in range(0, len(lines), 10):
            writer.add(lines[i:i + 10])
            started.set()

    t = threading.Thread(target=loop)
    t.start()
    assert started.wait(30)
    vm.stop()
    t.join(timeout=60)
    vm.start()
    try:
        assert writer.flush()
    finally:
        transport.close()
    assert writer.stats.sent_points == len(lines)
    assert _vm_numeric_counts(vm, info.session_id) == _expected_vm(info, metrics, alerts, strides)


def test_spool_is_bounded_and_counts_what_it_drops(tmp_path):
    spool = Spool(tmp_path / "s", max_bytes=300)
    for i in range(10):
        spool.put("\n".join(f"m f={i}.{k} {i * 10 + k}" for k in range(5)))
    assert spool.size_bytes() <= 300
    kept = spool.n_points()
    assert spool.dropped_points == 50 - kept and kept > 0
    assert spool.files()[-1].read_text().startswith("m f=9.0")  # newest kept


def test_rejected_batch_is_counted_not_retried_forever(influxdb1, tmp_path):
    influxdb1.create_db("rej")
    transport = V1Transport(influxdb1.url, bucket="rej")
    writer = InfluxWriter(transport, Spool(tmp_path / "spool"), batch_size=10)
    writer.add(["not line protocol at all"])
    assert writer.flush()
    assert writer.stats.rejected_points == 1 and "HTTP 400" in writer.stats.last_error


def test_unreachable_server_is_a_retryable_write_error():
    t = V1Transport("http://127.0.0.1:9", bucket="x")
    with pytest.raises(WriteError) as ei:
        t.write("m f=1 1")
    assert ei.value.retryable and "cannot reach" in str(ei.value)


def test_live_run_while_the_server_is_down_spools_then_push_delivers_once(
        vm, tmp_path, capsys):
    vm.stop()
    try:
        rc = main(["--dir", str(tmp_path), "demo", "--minutes", "3", "--quiet",
                   "--influx", vm.url, "--influx-bucket", "down"])
        out = capsys.readouterr().out
        assert rc == 0, out     # a dead database never fails or stalls the run
        assert "waiting in the spool" in out
    finally:
        vm.start()
    spool = tmp_path / "influx-spool"
    assert list(spool.glob("*.lp"))
    (s,) = list_sessions(tmp_path)
    # push sends the spool of the live run first, then the session: same identities
    assert main(["--dir", str(tmp_path), "push", s.session_id, "--influx", vm.url,
                 "--influx-bucket", "down"]) == 0
    assert not list(spool.glob("*.lp"))
    with SessionReader(s.path) as r:
        info, metrics, alerts, strides = r.info, r.metrics(), r.alerts(), r.strides()
    assert _vm_numeric_counts(vm, info.session_id) == _expected_vm(info, metrics, alerts, strides)


def test_push_to_a_dead_server_is_a_clear_error(tmp_path, session, capsys):
    path = session[0]
    rc = main(["push", str(path), "--influx", "http://127.0.0.1:9", "--influx-api", "v1",
               "--influx-spool", str(tmp_path / "spool")])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot reach InfluxDB at http://127.0.0.1:9" in err
    assert "Traceback" not in err


def test_config_table_supplies_bucket_api_and_token_file(influxdb1, session, tmp_path, capsys):
    path = session[0]
    influxdb1.create_db("fromcfg")
    tok = tmp_path / "token"
    tok.write_text("file-SECRET-7\n")
    cfg = tmp_path / "bf.toml"
    cfg.write_text(f'[sinks.influx]\nbucket = "fromcfg"\napi = "v1"\ntoken_env = "BF_NO_SUCH"\n'
                   f'token_file = "{tok}"\nbatch_size = 100\nspool_dir = "{tmp_path / "sp"}"\n')
    assert main(["-c", str(cfg), "push", str(path), "--influx", influxdb1.url]) == 0
    out = capsys.readouterr()
    assert "file-SECRET-7" not in out.out + out.err
    (series,) = influxdb1.query('SELECT count("cadence_spm") FROM "gait"', db="fromcfg")
    assert series["values"][0][1] == sum(math.isfinite(m.cadence_spm) for m in session[2])
    cfg.write_text(f'[sinks.influx]\ntoken_env = "BF_NO_SUCH"\ntoken_file = "{tmp_path}/nope"\n')
    assert main(["-c", str(cfg), "push", str(path), "--influx", influxdb1.url]) == 2
    err = capsys.readouterr().err
    assert "sinks.influx.token_file" in err and "nope" in err


def test_server_stopped_and_restarted_during_a_live_run(vm, tmp_path):
    """Paced demo: the server goes away mid-run and comes back before the run ends."""
    import time as _time

    result: dict[str, int] = {}

    def run():
        result["rc"] = main(["--dir", str(tmp_path), "demo", "--minutes", "4", "--quiet",
                             "--speed", "30", "--influx", vm.url, "--influx-bucket", "mid"])

    def wait_for(pred, what, timeout_s=30.0):
        deadline = _time.monotonic() + timeout_s
        while not pred():
            assert _time.monotonic() < deadline, what
            _time.sleep(0.05)

    t = threading.Thread(target=run)
    t.start()
    try:
        wait_for(lambda: list_sessions(tmp_path), "session file")
        sid = list_sessions(tmp_path)[0].session_id
        wait_for(lambda: vm.export(f'{{session="{sid}"}}'), "first points on the server")
        vm.stop()
        wait_for(lambda: list((tmp_path / "influx-spool").glob("*.lp")), "a spooled batch")
    finally:
        if not vm.running():
            vm.start()
    t.join(timeout=120)
    assert not t.is_alive() and result["rc"] == 0
    assert not list((tmp_path / "influx-spool").glob("*.lp")), "spool sent before the end"
    (s,) = list_sessions(tmp_path)
    with SessionReader(s.path) as r:
        info, metrics, alerts, strides = r.info, r.metrics(), r.alerts(), r.strides()
    assert _vm_numeric_counts(vm, info.session_id) == _expected_vm(info, metrics, alerts, strides)
