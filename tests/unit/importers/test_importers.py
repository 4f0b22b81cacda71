"""Importers: Polar Sensor Logger ACC exports and generic CSV, good files and broken ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from breathform.errors import InputError
from breathform.firmware_bridge.decode import SensorDecoder
from breathform.importers import (
    diy_stream,
    generic_csv,
    merge,
    polar_sensor_logger,
    polar_stream,
    to_stream,
)
from breathform.model import ImuBlock

PSL_HEADER = "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]"
T0_NS = 768_049_921_000_000_000  # 2024-05-04 on the Polar clock (ns since 2000-01-01)


def psl_text(n: int = 400, fs: float = 200.0, gap_at: int | None = None) -> str:
    rng = np.random.default_rng(1)
    mg = rng.integers(-2000, 2000, (n, 3))
    t = np.arange(n) / fs
    if gap_at is not None:
        t[gap_at:] += 1.0
    lines = [PSL_HEADER + " "]
    for i in range(n):
        ns = T0_NS + round(t[i] * 1e9)
        lines.append(f"2024-05-04T09:12:{i // 200:02d}.{i % 200 * 5:03d};{ns};"
                     f"{mg[i, 0]};{mg[i, 1]};{mg[i, 2]};")
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "f.txt") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_polar_sensor_logger_file_reads_device_ns_and_mg(tmp_path) -> None:
    rec = polar_sensor_logger.read(write(tmp_path, psl_text()))
    assert rec.fs_hz == 200.0 and rec.t_s.shape == (400,) and rec.gyr_dps is None
    assert rec.device_t_ns is not None and int(rec.device_t_ns[0]) == T0_NS
    assert rec.acc_mg_int is not None
    assert_array_equal(rec.acc_g, rec.acc_mg_int / 1000.0)
    # the phone's first timestamp (no zone in the file: read as UTC)
    assert rec.start_utc_ns == 1714813920 * 10**9


def test_polar_frames_decode_back_to_the_file(tmp_path) -> None:
    rec = polar_sensor_logger.read(write(tmp_path, psl_text(gap_at=150)))
    st = polar_stream(rec, "chest")
    assert st.info.kind == "polar_h10" and not st.info.has_gyro
    dec = SensorDecoder("chest", "polar_h10", rec.fs_hz)
    bl = [b for p in st.packets for b in dec.feed(p) if isinstance(b, ImuBlock)]
    assert dec.n_decode_errors == 0
    assert_array_equal(np.concatenate([b.acc_g for b in bl]), rec.acc_g)
    # the 1-s hole in the file is a gap in the session, 200 samples long
    assert dec.n_gaps == 1 and dec.n_samples_lost == 200


@pytest.mark.parametrize("text,where,what", [
    ("", "", "empty"),
    ("t_s,ax_g,ay_g,az_g\n0,0,0,1\n", ":1:", "not a Polar Sensor Logger ACC export"),
    (PSL_HEADER + "\nx;1;2;3;4\nx;2;2;3;\n", ":3:", "4 fields, expected 5"),
    (PSL_HEADER + "\nx;1;2;3;4\nx;2;2.5;3;4\n", ":3:", "expected whole numbers"),
    (PSL_HEADER + "\nx;5;2;3;4\nx;5;2;3;4\n", ":3:", "does not increase"),
    (PSL_HEADER + "\nx;5;2;3;99999\n", ":2:", "out of range"),
    (PSL_HEADER + "\nx;5;2;3;4\n", "", "1 samples; expected at least 2"),
])
def test_broken_polar_files_name_line_and_problem(tmp_path, text, where, what) -> None:
    p = write(tmp_path, text)
    with pytest.raises(InputError, match=what) as ei:
        polar_sensor_logger.read(p)
    assert str(p) + where in str(ei.value)


def test_missing_and_binary_files(tmp_path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        polar_sensor_logger.read(tmp_path / "nope.txt")
    p = tmp_path / "b.txt"
    p.write_bytes(PSL_HEADER.encode() + b"\n\xff\xfe\x00;1;2;3\n")
    with pytest.raises(InputError, match=r":2: not UTF-8"):
        polar_sensor_logger.read(p)


def csv_text(header: str, n: int = 300, fs: float = 100.0, scale_acc: float = 1.0,
             scale_gyr: float = 1.0, t_scale: float = 1.0, sep: str = ",") -> str:
    rng = np.random.default_rng(2)
    acc = rng.uniform(-3, 3, (n, 3))
    gyr = rng.uniform(-400, 400, (n, 3))
    lines = [header]
    for i in range(n):
        vals = [i / fs / t_scale, *(acc[i] * scale_acc), *(gyr[i] * scale_gyr)]
        lines.append(sep.join(f"{v:.9g}" for v in vals[:len(header.split(sep))]))
    return "\n".join(lines) + "\n"


def test_generic_csv_units_from_header_names(tmp_path) -> None:
    ref = generic_csv.read(write(tmp_path, csv_text("t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps")))
    assert ref.fs_hz == 100.0 and ref.gyr_dps is not None
    other = generic_csv.read(write(tmp_path, csv_text(
        "t_ms;ax_mps2;ay_mps2;az_mps2;gx_rad_s;gy_rad_s;gz_rad_s", scale_acc=9.80665,
        scale_gyr=np.pi / 180, t_scale=1e-3, sep=";"), "b.csv"))
    assert_allclose(other.t_s, ref.t_s, atol=1e-9)
    assert_allclose(other.acc_g, ref.acc_g, rtol=1e-7)
    assert_allclose(other.gyr_dps, ref.gyr_dps, rtol=1e-7)


def test_generic_csv_units_from_flags(tmp_path) -> None:
    p = write(tmp_path, csv_text("time,ax,ay,az", scale_acc=1000.0, t_scale=1e-3))
    rec = generic_csv.read(p, time_unit="ms", acc_unit="mg")
    assert rec.gyr_dps is None and rec.fs_hz == 100.0
    assert np.abs(rec.acc_g).max() <= 3.0


@pytest.mark.parametrize("text,kw,what", [
    ("", {}, "empty; expected a header"),
    ("ax_g,ay_g,az_g\n1,2,3\n", {}, "no time column"),
    ("t_s,x,y,z\n0,1,2,3\n", {}, "no acceleration columns"),
    ("t_s,ax,ay,az\n0,1,2,3\n", {}, "carry no unit; give --acc-unit"),
    ("t,ax_g,ay_g,az_g\n0,1,2,3\n", {}, "carries no unit; give --time-unit"),
    ("t_s,ax_g,ay_g,az_g\n0,1,2,3\n", {"acc_unit": "mg"}, "the header says ax_g"),
    ("t_s,ax_g,ay_g,az_g\n0,1,2,3\n0.01,1,2\n", {}, ":3: 3 fields, expected at least 4"),
    ("t_s,ax_g,ay_g,az_g\n0,1,2,3\n0.01,1,x,3\n", {}, ":3: column 'ay_g' is 'x'"),
    ("t_s,ax_g,ay_g,az_g\n0,1,2,3\n0.01,1,nan,3\n", {}, ":3: .* finite"),
    ("t_s,ax_g,ay_g,az_g\n0,1,2,3\n0,1,2,3\n", {}, ":3: time 0 does not increase"),
    ("t_s,ax_g,ay_g,az_g\n0,1,2,3\n", {}, "1 data rows"),
    ("t_s,ax_g,ay_g,az_g\n0,1,2,3\n", {"gyro_unit": "rpm"}, "--gyro-unit must be one of"),
])
def test_broken_csv_files_say_what_was_expected(tmp_path, text, kw, what) -> None:
    with pytest.raises(InputError, match=what):
        generic_csv.read(write(tmp_path, text), **kw)


def test_diy_packets_pick_the_smallest_full_scale_and_keep_gaps(tmp_path) -> None:
    text = csv_text("t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps", n=1000)
    rec = generic_csv.read(write(tmp_path, text))
    t = rec.t_s.copy()
    t[500:] += 2.0  # two seconds missing
    rec = generic_csv.Recording(t, rec.acc_g, rec.gyr_dps, rec.fs_hz)
    st = diy_stream(rec, "sacrum")
    assert st.info.kind == "diy" and st.info.acc_range_g == 4.0 and st.info.has_gyro
    dec = SensorDecoder("sacrum", "diy", rec.fs_hz)
    bl = [b for p in st.packets for b in dec.feed(p) if isinstance(b, ImuBlock)]
    acc = np.concatenate([b.acc_g for b in bl])
    gyr = np.concatenate([b.gyr_dps for b in bl])
    assert_allclose(acc, rec.acc_g, atol=4.0 / 32768)       # one step at +-4 g
    assert_allclose(gyr, rec.gyr_dps, atol=500.0 / 32768)   # +-500 deg/s
    assert dec.n_gaps == 1 and dec.n_samples_lost == 200 and dec.n_decode_errors == 0
    assert [b.seq for b in bl if b.gap] == [700]


def test_values_beyond_every_full_scale_are_an_error(tmp_path) -> None:
    rec = generic_csv.read(write(tmp_path, csv_text("t_s,ax_g,ay_g,az_g", scale_acc=10.0)))
    with pytest.raises(InputError, match="acceleration reaches .* beyond the largest"):
        to_stream(rec, "generic-csv", "chest")
    with pytest.raises(InputError, match="format must be one of"):
        to_stream(rec, "edf", "chest")


def test_merge_orders_by_receive_time(tmp_path) -> None:
    a = polar_stream(polar_sensor_logger.read(write(tmp_path, psl_text())), "chest")
    b = diy_stream(generic_csv.read(write(tmp_path, csv_text("t_s,ax_g,ay_g,az_g"), "c.csv")),
                   "sacrum")
    m = merge([a, b])
    assert len(m) == len(a.packets) + len(b.packets)
    assert all(x.t_rx_s <= y.t_rx_s for x, y in zip(m[:-1], m[1:], strict=True))


def test_polar_rr_file_groups_beats_per_notification_and_places_them_by_phone_time(
        tmp_path) -> None:
    from breathform.firmware_bridge.devices import polar_h10
    from breathform.importers import hr_packets

    p = write(tmp_path, "Phone timestamp;RR-interval [ms]\n"
                        "2024-05-04T09:11:59.000;800\n"       # before the ACC file: left out
                        "2024-05-04T09:12:01.500;750\n2024-05-04T09:12:01.500;760\n"
                        "2024-05-04T09:12:02.500;1000\n")
    hr = polar_sensor_logger.read_hr(p)
    assert hr.rr_ms == ((800.0,), (750.0, 760.0), (1000.0,))
    assert hr.hr_bpm == (75, 79, 60)
    pk = hr_packets(hr, 1714813920 * 10**9)
    assert [x.t_rx_s for x in pk] == [1.5, 2.5]
    m = polar_h10.decode_hr_measurement(pk[0].payload)
    assert m.hr_bpm == 79 and m.rr_1024 == (768, 778)  # ms x 1.024


def test_polar_hr_file(tmp_path) -> None:
    p = write(tmp_path, "Phone timestamp;HR [bpm];HRV [ms];Breathing interval [rpm];\n"
                        "2024-05-04T09:12:01.000;92;;;\n2024-05-04T09:12:02.000;93;;;\n")
    hr = polar_sensor_logger.read_hr(p)
    assert hr.hr_bpm == (92, 93) and hr.rr_ms == ((), ())


@pytest.mark.parametrize("text,what", [
    ("Phone timestamp;foo\nx;1\n", ":1: header"),
    ("Phone timestamp;HR [bpm]\nyesterday;90\n", ":2: phone timestamp 'yesterday'"),
    ("Phone timestamp;HR [bpm]\n2024-05-04T09:12:01;0\n", ":2: HR is '0'"),
    ("Phone timestamp;RR-interval [ms]\n2024-05-04T09:12:01;x\n", ":2: RR interval is 'x'"),
    ("Phone timestamp;HR [bpm]\n2024-05-04T09:12:02;90\n2024-05-04T09:12:01;90\n",
     ":3: phone timestamp .* goes backwards"),
    ("Phone timestamp;HR [bpm]\n", "no rows"),
])
def test_broken_hr_files(tmp_path, text, what) -> None:
    with pytest.raises(InputError, match=what):
        polar_sensor_logger.read_hr(write(tmp_path, text))
