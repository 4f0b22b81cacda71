"""Decoding a stored session into per-sensor streams with device and session time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from breathform.errors import InputError
from breathform.export.streams import SessionData, load_session
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.firmware_bridge.devices import movesense, polar_h10
from breathform.model import ImuBlock, SessionInfo
from breathform.store import SessionReader, SessionWriter


def test_streams_match_the_decoder_sample_for_sample(demo_session: Path,
                                                     alert_data: SessionData) -> None:
    with SessionReader(demo_session) as r:
        decs = {s.role: SensorDecoder(s.role, s.kind, s.fs_hz) for s in r.info.sensors}
        blocks: dict[str, list[ImuBlock]] = {k: [] for k in decs}
        for p in r.iter_raw():
            blocks[p.sensor] += [b for b in decs[p.sensor].feed(p) if isinstance(b, ImuBlock)]
    for role, bl in blocks.items():
        s = alert_data.streams[role]
        np.testing.assert_array_equal(s.t_s, np.concatenate([b.t_s for b in bl]))
        np.testing.assert_array_equal(s.acc_g, np.concatenate([b.acc_g for b in bl]))
        np.testing.assert_array_equal(s.seq[[0]], [bl[0].seq])
        assert s.n_samples_lost == decs[role].n_samples_lost
        assert int(s.gap.sum()) == sum(b.gap for b in bl)
    assert alert_data.streams["sacrum"].gyr_dps is not None
    assert alert_data.streams["chest"].gyr_dps is None


def test_seq_jumps_by_the_samples_lost(alert_data: SessionData) -> None:
    for s in alert_data.streams.values():
        steps = np.diff(s.seq)
        assert (steps >= 1).all()
        assert int((steps - 1).sum()) == s.n_samples_lost
        # a jump happens exactly where a gap is flagged
        assert set(np.flatnonzero(steps > 1) + 1) <= set(np.flatnonzero(s.gap))


def test_device_times_are_the_packet_timestamps(demo_session: Path,
                                                alert_data: SessionData) -> None:
    """Polar: each frame's last sample is its timestamp; Movesense: first sample is it."""
    polar_last, ms_first = [], []
    with SessionReader(demo_session) as r:
        for p in r.iter_raw():
            if p.char == polar_h10.PMD_DATA_UUID:
                f = polar_h10.decode_pmd_frame(p.payload)
                polar_last.append((f.timestamp_ns, f.n))
            elif p.char == movesense.NOTIFY_UUID:
                note = movesense.decode_notification(p.payload)
                if isinstance(note, movesense.MovesenseData) and not note.continuation:
                    ms_first.append(movesense.decode_imu6(note.payload).timestamp_ms)
    chest = alert_data.streams["chest"]
    ends = np.cumsum([n for _, n in polar_last]) - 1
    np.testing.assert_allclose(chest.t_device_s[ends], [ts * 1e-9 for ts, _ in polar_last],
                               rtol=0, atol=2e-7)
    sacrum = alert_data.streams["sacrum"]
    n = sacrum.n // len(ms_first)
    starts = np.arange(len(ms_first)) * n
    np.testing.assert_allclose(sacrum.t_device_s[starts], np.array(ms_first) / 1000.0,
                               rtol=0, atol=1e-9)


def test_device_time_and_session_time_agree(alert_data: SessionData) -> None:
    for s in alert_data.streams.values():
        assert (np.diff(s.t_s) > 0).all()
        assert (np.diff(s.t_device_s) > 0).all()
        c = s.clock
        assert abs(c["drift_ppm"]) < 300
        pred = c["t_s0"] + (1 + c["drift_ppm"] * 1e-6) * (s.t_device_s - c["t_device0_s"])
        # clock alignment maps the sensor clock onto session time within BLE latency jitter
        assert np.max(np.abs(pred - s.t_s)) == pytest.approx(c["max_abs_residual_s"])
        assert c["max_abs_residual_s"] < 0.05
        # contiguous samples are one nominal period apart on the device clock
        ok = ~s.gap[1:]
        dt = np.diff(s.t_device_s)[ok]
        np.testing.assert_allclose(dt, 1 / s.info.fs_hz, atol=2e-3)


def test_progress_reaches_the_total(demo_session: Path) -> None:
    calls: list[tuple[int, int]] = []
    with SessionReader(demo_session) as r:
        load_session(r, lambda d, t: calls.append((d, t)), progress_every=500)
        total = r.n_raw()
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert len(calls) >= total // 500


def test_a_session_without_sensors_is_an_input_error(tmp_path: Path) -> None:
    info = SessionInfo("empty", 0, "sim", "0", ())
    SessionWriter(tmp_path / "e.bfsession", info, "").close()
    with SessionReader(tmp_path / "e.bfsession") as r, pytest.raises(InputError,
                                                                    match="no sensors"):
        load_session(r)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "edf", "bids"])
def test_a_sensor_that_sent_nothing_exports_empty(demo_session: Path, tmp_path: Path,
                                                  fmt: str) -> None:
    from breathform.export import write_data
    from breathform.export.privacy import Privacy

    path = tmp_path / "chest-only.bfsession"
    with SessionReader(demo_session) as r:
        w = SessionWriter(path, r.info, r.config_toml)
        w.add_raw([p for p in r.iter_raw() if p.sensor == "chest"])
        w.add_metrics(r.metrics())
        w.close()
    with SessionReader(path) as r:
        data = load_session(r)
    assert data.streams["sacrum"].n == 0 and data.streams["chest"].n > 0
    res = write_data(data, fmt, tmp_path / fmt, Privacy.create(True))
    assert res.n_samples["sacrum"] == 0
    assert res.metadata["sensors"]["sacrum"]["first_t_s"] is None
