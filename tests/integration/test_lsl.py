"""Lab Streaming Layer: a pylsl inlet receives a live demo's metrics and the IMU outlets."""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pylsl
import pytest

from breathform.cli import main
from breathform.errors import SinkError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.model import METRIC_FIELDS, ImuBlock
from breathform.sinks.lsl import STRIDE_CHANNELS, LslSinkFactory, SensorOutlets, stride_sample
from breathform.store import SessionReader

pytestmark = pytest.mark.integration


def _resolve(name: str, timeout_s: float = 30.0) -> Any:
    found = pylsl.resolve_byprop("name", name, minimum=1, timeout=timeout_s)
    assert found, f"no LSL stream named {name!r} within {timeout_s} s"
    return found[0]


def _channels(info: Any) -> list[tuple[str, str]]:
    out = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append((ch.child_value("label"), ch.child_value("unit")))
        ch = ch.next_sibling()
    return out


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_inlet_receives_a_live_demo(tmp_path: Path) -> None:
    prefix = f"bftest{secrets.token_hex(3)}"
    rc: list[int] = []
    demo = threading.Thread(target=lambda: rc.append(main(
        ["--dir", str(tmp_path), "demo", "--minutes", "2", "--quiet", "--speed", "12",
         "--lsl", "--lsl-prefix", prefix])))
    demo.start()
    try:
        inlet = pylsl.StreamInlet(_resolve(f"{prefix}-metrics"), max_buflen=360)
        chest = pylsl.StreamInlet(_resolve(f"{prefix}-chest"), max_buflen=360)
        sacrum_info = _resolve(f"{prefix}-sacrum")
        assert sacrum_info.type() == "IMU" and sacrum_info.channel_count() == 6
        assert [c[0] for c in _channels(chest.info(timeout=10.0))] == [
            "acc_x", "acc_y", "acc_z"]
        chest.open_stream(timeout=10.0)
        alerts = pylsl.StreamInlet(_resolve(f"{prefix}-alerts"))
        strides = pylsl.StreamInlet(_resolve(f"{prefix}-strides"), max_buflen=360)
        sinfo = strides.info(timeout=10.0)
        assert sinfo.type() == "Gait" and sinfo.nominal_srate() == pylsl.IRREGULAR_RATE
        assert [c[0] for c in _channels(sinfo)] == [c[0] for c in STRIDE_CHANNELS]
        strides.open_stream(timeout=10.0)
        info = inlet.info(timeout=10.0)
        assert info.type() == "Metrics" and info.nominal_srate() == 1.0
        assert [c[0] for c in _channels(info)] == list(METRIC_FIELDS)
        assert dict(_channels(info))["cadence_spm"] == "steps/min"
        assert info.desc().child("acquisition").child_value("manufacturer") == "breathform"
        ainfo = alerts.info(timeout=10.0)
        assert ainfo.type() == "Markers" and ainfo.channel_format() == pylsl.cf_string
        rows: list[tuple[float, list[float]]] = []
        stride_rows: list[tuple[float, list[float]]] = []
        n_chest = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            chunk, _ = chest.pull_chunk(timeout=0.0)
            n_chest += len(chunk)
            got, got_ts = strides.pull_chunk(timeout=0.0)
            stride_rows.extend(zip(got_ts, got, strict=True))
            sample, ts = inlet.pull_sample(timeout=0.5)
            if sample is not None:
                rows.append((ts, sample))
            elif not demo.is_alive():
                break
    finally:
        demo.join(timeout=120)
    assert rc == [0]
    assert len(rows) >= 20, f"received only {len(rows)} metrics rows"
    # the chest outlet streamed its 200 Hz samples live (at least 20 s worth)
    assert n_chest >= 20 * 200, f"received only {n_chest} chest samples"
    (path,) = tmp_path.glob("*.bfsession")
    with SessionReader(path) as r:
        stored = {m.t_s: m for m in r.metrics()}
        stored_strides = {st.t_start_s: st for st in r.strides()}
    # every stride received is a stored stride, stamped at its end on the metrics' clock
    assert len(stride_rows) >= 20, f"received only {len(stride_rows)} strides"
    t0 = rows[0][0] - rows[0][1][METRIC_FIELDS.index("t_s")]
    for ts, sample in stride_rows:
        st = stored_strides[sample[0]]
        assert all(_same(a, b) for a, b in zip(sample, stride_sample(st), strict=True))
        assert sample[5] in (0.0, 1.0) or math.isnan(sample[5])
        assert ts - t0 == pytest.approx(st.t_end_s, abs=1e-6)
    t_idx = METRIC_FIELDS.index("t_s")
    t_got = [s[t_idx] for _, s in rows]
    assert t_got == sorted(t_got) and len(set(t_got)) == len(t_got)
    for _, sample in rows:
        m = stored[sample[t_idx]]
        want = [float(getattr(m, f)) for f in METRIC_FIELDS]
        assert all(_same(a, b) for a, b in zip(sample, want, strict=True))
    # timestamps are the sink's start on the LSL clock plus session time
    stamps = np.array([ts for ts, _ in rows]) - np.array(t_got)
    assert np.ptp(stamps) < 1e-6


def test_sensor_outlets_carry_the_decoded_samples(tmp_path: Path) -> None:
    assert main(["--dir", str(tmp_path), "demo", "--minutes", "2", "--quiet"]) == 0
    (path,) = tmp_path.glob("*.bfsession")
    prefix = f"bftest{secrets.token_hex(3)}"
    with SessionReader(path) as r:
        info = r.info
        decs = {s.role: SensorDecoder(s.role, s.kind, s.fs_hz) for s in info.sensors}
        blocks = [b for p in r.iter_raw() if p.t_rx_s < 20.0
                  for b in decs[p.sensor].feed(p) if isinstance(b, ImuBlock)]
    outlets = SensorOutlets(info, info.sensors, prefix, t0_lsl_s=1000.0)
    inlets = {}
    for s in info.sensors:
        si = _resolve(f"{prefix}-{s.role}")
        inlets[s.role] = pylsl.StreamInlet(si, max_buflen=60)
        full = inlets[s.role].info(timeout=10.0)
        assert full.type() == "IMU" and full.nominal_srate() == s.fs_hz
        labels = _channels(full)
        assert labels[:3] == [("acc_x", "g"), ("acc_y", "g"), ("acc_z", "g")]
        assert len(labels) == (6 if s.has_gyro else 3)
        assert full.desc().child("hardware").child_value("placement") == s.role
        inlets[s.role].open_stream(timeout=10.0)
    for b in blocks:
        outlets.push_block(b)
    for s in info.sensors:
        mine = [b for b in blocks if b.sensor == s.role]
        want = np.vstack([b.acc_g if b.gyr_dps is None else np.hstack([b.acc_g, b.gyr_dps])
                          for b in mine]).astype(np.float32)
        want_t = 1000.0 + np.concatenate([b.t_s for b in mine])
        got: list[list[float]] = []
        got_t: list[float] = []
        deadline = time.monotonic() + 30
        while len(got) < len(want) and time.monotonic() < deadline:
            chunk, stamps = inlets[s.role].pull_chunk(timeout=0.5)
            got += chunk
            got_t += stamps
        np.testing.assert_array_equal(np.array(got, dtype=np.float32), want)
        np.testing.assert_allclose(got_t, want_t, rtol=0, atol=1e-9)


def test_factory_builds_nothing_without_the_flag_and_checks_the_prefix() -> None:
    import argparse
    f = LslSinkFactory()
    p = argparse.ArgumentParser()
    f.add_arguments(p)
    assert f.create(p.parse_args([]), None) is None  # type: ignore[arg-type]
    with pytest.raises(SinkError, match="--lsl-prefix"):
        f.create(p.parse_args(["--lsl", "--lsl-prefix", "a b"]), None)  # type: ignore[arg-type]


def test_alert_marker_is_json() -> None:
    from breathform.model import Alert, Cause
    from breathform.sinks.lsl import alert_marker
    a = Alert(12.0, "breathless_form", 2, (Cause("rate_high", "rate_bpm", 40.0, math.nan,
                                                 37.0, "bpm"),), "Relax", True)
    d = json.loads(alert_marker(a))
    assert d["causes"][0]["baseline"] is None and d["severity"] == 2 and d["climb"] is True
