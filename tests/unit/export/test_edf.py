"""EDF+ export read back with pyedflib: ranges, sample-by-sample values, annotations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from breathform.export import write_data
from breathform.export.edf_export import (
    DIGITAL_MAX,
    DIGITAL_MIN,
    METRIC_RANGES,
    NO_DATA,
    metric_label,
    quantise,
    to_physical,
)
from breathform.export.metadata import GYRO_RANGE_DPS
from breathform.export.privacy import Privacy
from breathform.export.streams import SessionData


@given(st.lists(st.floats(-8, 8, allow_nan=False), min_size=1, max_size=50))
def test_quantise_is_within_half_a_step(xs: list[float]) -> None:
    x = np.array(xs)
    back = to_physical(quantise(x, -8.0, 8.0), -8.0, 8.0)
    step = 16.0 / (DIGITAL_MAX - DIGITAL_MIN)
    assert np.all(np.abs(back - x) <= step / 2 + 1e-12)


def test_quantise_clips_and_marks_no_data() -> None:
    d = quantise(np.array([np.nan, -100.0, 100.0, 0.0]), -8.0, 8.0)
    assert d.tolist() == [NO_DATA, DIGITAL_MIN, DIGITAL_MAX, 0]
    assert np.isnan(to_physical(d, -8.0, 8.0)[0])


@pytest.fixture(scope="module")
def edf_dir(alert_data: SessionData, privacy: Privacy,
            tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edf")
    res = write_data(alert_data, "edf", out, privacy)
    assert {f.name for f in res.files} == {"chest.edf", "sacrum.edf", "metrics.edf",
                                           "metadata.json"}
    return out


@pytest.mark.parametrize("role", ["chest", "sacrum"])
def test_sensor_file_round_trip(edf_dir: Path, alert_data: SessionData, privacy: Privacy,
                                role: str) -> None:
    s = alert_data.streams[role]
    fs = s.info.fs_hz
    start = (dt.datetime(1970, 1, 1) + dt.timedelta(
        microseconds=alert_data.started_utc_ns // 1000 + round(float(s.t_s[0]) * 1e6)))
    with pyedflib.EdfReader(str(edf_dir / f"{role}.edf")) as f:
        labels = f.getSignalLabels()
        n_sig = 6 if s.gyr_dps is not None else 3
        assert len(labels) == n_sig
        assert f.getStartdatetime() == start.replace(microsecond=0)
        assert f.getPatientCode() == privacy.pseudonym("runner", alert_data.meta["runner_id"])
        lead = round(start.microsecond / 1e6 * fs)
        idx = lead + (s.seq - s.seq[0])
        for i in range(n_sig):
            assert f.getSampleFrequency(i) == fs
            is_acc = i < 3
            full = s.info.acc_range_g if is_acc else GYRO_RANGE_DPS[s.info.kind]
            assert f.getPhysicalDimension(i) == ("g" if is_acc else "deg/s")
            assert f.getPhysicalMinimum(i) == -full and f.getPhysicalMaximum(i) == full
            digital = f.readSignal(i, digital=True)
            phys = to_physical(digital, -full, full)
            want = s.acc_g[:, i] if is_acc else s.gyr_dps[:, i - 3]  # type: ignore[index]
            step = 2 * full / (DIGITAL_MAX - DIGITAL_MIN)
            assert np.max(np.abs(phys[idx] - np.clip(want, -full, full))) <= step / 2 + 1e-9
            # pyedflib's own physical conversion agrees with ours
            np.testing.assert_allclose(f.readSignal(i)[idx], phys[idx], atol=step)
            # every other sample is "no data": the lead-in, lost samples, the padding
            missing = np.ones(digital.size, dtype=bool)
            missing[idx] = False
            assert (digital[missing] == NO_DATA).all()
            assert int(missing[lead:lead + s.seq[-1] - s.seq[0] + 1].sum()) == s.n_samples_lost
        onsets, durations, texts = f.readAnnotations()
    frac = start.microsecond / 1e6
    alerts = [(o, t) for o, t in zip(onsets, texts, strict=True) if t.startswith("alert")]
    assert [t for _, t in alerts] == ["alert breathless_form sev1",
                                      "alert breathless_form sev2 climb"]
    for (o, _), a in zip(alerts, alert_data.alerts, strict=True):
        # the annotation sits on the nominal-rate timeline where the sample recorded nearest
        # the alert's session time is, plus the remainder (a gap may precede it)
        j = int(np.argmin(np.abs(s.t_s - a.t_s)))
        want = (s.seq[j] - s.seq[0]) / fs + (a.t_s - s.t_s[j]) + frac
        assert o == pytest.approx(want, abs=1e-4)
        # which is the naive session-time offset up to clock drift and gap rounding
        assert o == pytest.approx(a.t_s - float(s.t_s[0]) + frac, abs=0.2)
    gaps = [(o, d) for o, d, t in zip(onsets, durations, texts, strict=True)
            if t.startswith("gap")]
    assert len(gaps) == int(s.gap.sum())


def test_metrics_file(edf_dir: Path, alert_data: SessionData) -> None:
    with pyedflib.EdfReader(str(edf_dir / "metrics.edf")) as f:
        labels = f.getSignalLabels()
        assert labels == [metric_label(n) for n in METRIC_RANGES]
        assert all(len(x) <= 16 for x in labels)
        i = labels.index("hr_bpm")
        lo, hi, _ = METRIC_RANGES["hr_bpm"]
        assert (f.getPhysicalMinimum(i), f.getPhysicalMaximum(i)) == (lo, hi)
        phys = to_physical(f.readSignal(i, digital=True), lo, hi)
    t0_us = alert_data.started_utc_ns // 1000 + round(alert_data.metrics[0].t_s * 1e6)
    lead = round((t0_us % 1_000_000) / 1e6)
    want = np.array([m.hr_bpm for m in alert_data.metrics])
    got = phys[lead:lead + want.size]
    step = (hi - lo) / (DIGITAL_MAX - DIGITAL_MIN)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.max(np.abs(got[ok] - want[ok])) <= step / 2 + 1e-9
