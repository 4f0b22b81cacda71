"""CSV and Parquet exports read back equal to the decoded session."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from breathform.errors import InputError
from breathform.export import write_data
from breathform.export.metadata import METRIC_UNITS
from breathform.export.parquet_export import read_metadata
from breathform.export.privacy import Privacy
from breathform.export.streams import SessionData
from breathform.model import METRIC_FIELDS


def _check_metadata(md: dict[str, object], data: SessionData) -> None:
    sensors = md["sensors"]
    assert isinstance(sensors, dict)
    for role, s in data.streams.items():
        m = sensors[role]
        assert m["device_kind"] == s.info.kind
        assert m["sample_rate_hz"] == s.info.fs_hz
        assert m["acc_range_g"] == s.info.acc_range_g
        assert m["placement"]
        assert m["n_samples"] == s.n
        assert {"params", "drift_ppm", "n_resets"} <= set(m["clock_alignment"])
        assert {c["name"]: c["unit"] for c in m["channels"]}["ax_g"] == "g"
    assert md["calibration"] == data.calibration
    software = md["software"]
    assert isinstance(software, dict) and software["export_version"]
    assert md["metrics"]["columns"] == METRIC_UNITS  # type: ignore[index]


def test_csv_round_trip(alert_data: SessionData, privacy: Privacy, tmp_path: Path,
                        alert_times_s: tuple[float, ...]) -> None:
    res = write_data(alert_data, "csv", tmp_path, privacy)
    assert {f.name for f in res.files} == {"chest.csv", "sacrum.csv", "heart_rate.csv",
                                           "metrics.csv", "alerts.csv", "strides.csv",
                                           "metadata.json"}
    for role, s in alert_data.streams.items():
        with (tmp_path / f"{role}.csv").open() as f:
            header = f.readline().strip().split(",")
        arr = np.loadtxt(tmp_path / f"{role}.csv", delimiter=",", skiprows=1)
        col = {n: arr[:, i] for i, n in enumerate(header)}
        np.testing.assert_array_equal(col["seq"], s.seq)
        np.testing.assert_allclose(col["t_device_s"], s.t_device_s, rtol=0, atol=6e-8)
        np.testing.assert_allclose(col["t_s"], s.t_s, rtol=0, atol=6e-7)
        np.testing.assert_allclose(col["ax_g"], s.acc_g[:, 0], rtol=1e-7, atol=1e-12)
        if s.gyr_dps is not None:
            np.testing.assert_allclose(col["gz_dps"], s.gyr_dps[:, 2], rtol=1e-7, atol=1e-12)
        np.testing.assert_array_equal(col["gap"].astype(bool), s.gap)
    with (tmp_path / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(alert_data.metrics)
    for row, m in zip(rows, alert_data.metrics, strict=True):
        for k in METRIC_FIELDS:
            want = getattr(m, k)
            got = row[k]
            if k == "warming_up":
                assert got == ("1" if want else "0")
            elif math.isnan(want):
                assert got == ""
            else:
                assert float(got) == want
    with (tmp_path / "alerts.csv").open() as f:
        alerts = list(csv.DictReader(f))
    assert [float(a["t_s"]) for a in alerts] == list(alert_times_s)
    assert json.loads(alerts[0]["causes"])[0]["name"] == "rate_high"
    _check_metadata(json.loads((tmp_path / "metadata.json").read_text()), alert_data)


def test_parquet_round_trip(alert_data: SessionData, privacy: Privacy, tmp_path: Path,
                            alert_times_s: tuple[float, ...]) -> None:
    write_data(alert_data, "parquet", tmp_path, privacy)
    for role, s in alert_data.streams.items():
        t = pq.read_table(tmp_path / f"{role}.parquet")
        np.testing.assert_array_equal(t["seq"].to_numpy(), s.seq)
        np.testing.assert_array_equal(t["t_device_s"].to_numpy(), s.t_device_s)
        np.testing.assert_array_equal(t["t_s"].to_numpy(), s.t_s)
        np.testing.assert_array_equal(np.column_stack([t[f"a{a}_g"].to_numpy() for a in "xyz"]),
                                      s.acc_g)
        if s.gyr_dps is not None:
            np.testing.assert_array_equal(
                np.column_stack([t[f"g{a}_dps"].to_numpy() for a in "xyz"]), s.gyr_dps)
        else:
            assert "gx_dps" not in t.column_names
        np.testing.assert_array_equal(t["gap"].to_numpy(), s.gap)
        assert t.schema.field("ax_g").metadata[b"unit"] == b"g"
        assert t.schema.metadata[b"breathform.table"] == role.encode()
        _check_metadata(read_metadata(tmp_path / f"{role}.parquet"), alert_data)
    m = pq.read_table(tmp_path / "metrics.parquet")
    assert m.column_names == list(METRIC_FIELDS)
    rate = m["rate_bpm"].to_pylist()
    for got, want in zip(rate, alert_data.metrics, strict=True):
        assert (got is None) if math.isnan(want.rate_bpm) else got == want.rate_bpm
    assert m.schema.field("cadence_spm").metadata[b"unit"] == b"steps/min"
    a = pq.read_table(tmp_path / "alerts.parquet").to_pylist()
    assert [r["t_s"] for r in a] == list(alert_times_s)
    assert [r["severity"] for r in a] == [1, 2] and a[1]["climb"] is True
    hr = pq.read_table(tmp_path / "heart_rate.parquet")
    assert alert_data.hr is not None
    np.testing.assert_array_equal(hr["hr_bpm"].to_numpy(), alert_data.hr.hr_bpm)


def test_read_metadata_rejects_foreign_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    pq.write_table(pa.table({"x": [1]}), tmp_path / "x.parquet")
    with pytest.raises(InputError, match="not a breathform Parquet export"):
        read_metadata(tmp_path / "x.parquet")


def test_unknown_format_and_file_as_out(alert_data: SessionData, privacy: Privacy,
                                        tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--format must be one of"):
        write_data(alert_data, "xlsx", tmp_path, privacy)
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match="must be a folder"):
        write_data(alert_data, "csv", tmp_path / "f", privacy)


def test_strides_table_round_trips_through_csv_and_parquet(
        alert_data: SessionData, privacy: Privacy, tmp_path: Path) -> None:
    strides = alert_data.strides
    assert len(strides) > 100     # 3-min demo with a sacrum sensor
    write_data(alert_data, "csv", tmp_path / "csv", privacy)
    with (tmp_path / "csv" / "strides.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [float(r["t_end_s"]) for r in rows] == [s.t_end_s for s in strides]
    assert [r["side"] for r in rows] == [s.side for s in strides]
    assert [float(r["cadence_spm"]) for r in rows] == [s.cadence_spm for s in strides]
    write_data(alert_data, "parquet", tmp_path / "pq", privacy)
    t = pq.read_table(tmp_path / "pq" / "strides.parquet")
    assert t.column_names == ["t_start_s", "t_end_s", "side", "stride_s", "step_s",
                              "cadence_spm", "vertical_osc_cm"]
    assert t.schema.field("cadence_spm").metadata[b"unit"] == b"steps/min"
    assert t.column("stride_s").to_pylist() == [s.stride_s for s in strides]
    osc = t.column("vertical_osc_cm").to_pylist()
    assert [x is None for x in osc] == [math.isnan(s.vertical_osc_cm) for s in strides]
