"""Session store: metric columns, the strides table, and files of older schema versions."""

from __future__ import annotations

import math
import sqlite3

import numpy as np

from breathform.cli import main
from breathform.model import METRIC_FIELDS, Metrics, SensorInfo, SessionInfo
from breathform.signal.gait import Stride
from breathform.store import SCHEMA_VERSION, SessionReader, SessionWriter, list_sessions

NEW_IN_V2 = ("pelvic_drop_range_deg", "pelvic_rotation_range_deg", "trunk_twist_range_deg")


def _info() -> SessionInfo:
    return SessionInfo(session_id="s1", started_utc_ns=1, source="sim", software_version="t",
                       sensors=(SensorInfo("chest", "polar_h10", 200.0, 8.0, False),))


def _downgrade(path, version: int) -> None:
    """Rewrite a session file as schema ``version`` wrote it: no strides table (1 and 2),
    no posture-range columns (1)."""
    con = sqlite3.connect(path)
    con.execute("DROP TABLE strides")
    for col in NEW_IN_V2 if version == 1 else ():
        con.execute(f"ALTER TABLE metrics DROP COLUMN {col}")
    con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
    con.commit()
    con.close()


def test_new_metrics_round_trip(tmp_path):
    path = tmp_path / "s1.bfsession"
    w = SessionWriter(path, _info(), "")
    m = Metrics(t_s=3.0, pelvic_tilt_deg=4.5, pelvic_drop_range_deg=7.25,
                pelvic_rotation_range_deg=8.5, trunk_twist_range_deg=math.nan, warming_up=False)
    w.add_metrics([m])
    w.close()
    with SessionReader(path) as r:
        assert r.meta["schema_version"] == str(SCHEMA_VERSION) == "3"
        assert r.metric_fields() == METRIC_FIELDS
        (back,) = r.metrics()
    assert back.pelvic_drop_range_deg == 7.25 and back.pelvic_rotation_range_deg == 8.5
    assert math.isnan(back.trunk_twist_range_deg)


def test_version_1_file_opens_with_nan_ranges(tmp_path):
    path = tmp_path / "s1.bfsession"
    w = SessionWriter(path, _info(), "")
    w.add_metrics([Metrics(t_s=1.0, pelvic_tilt_deg=2.0, pelvic_drop_range_deg=6.0)])
    w.close()
    _downgrade(path, 1)
    with SessionReader(path) as r:
        assert set(r.metric_fields()) == set(METRIC_FIELDS) - set(NEW_IN_V2)
        (m,) = r.metrics()
    assert m.pelvic_tilt_deg == 2.0
    assert all(math.isnan(getattr(m, f)) for f in NEW_IN_V2)


def test_version_1_session_replays(tmp_path, capsys):
    """A recorded demo, rewritten as a version-1 file, replays identical on its own columns."""
    assert main(["--dir", str(tmp_path), "demo", "--minutes", "2", "--flat", "--quiet"]) == 0
    (s,) = list_sessions(tmp_path)
    with SessionReader(s.path) as r:
        ranges = [m.pelvic_drop_range_deg for m in r.metrics()]
    assert any(math.isfinite(x) for x in ranges)   # the demo's sacrum has a gyroscope
    _downgrade(s.path, 1)
    capsys.readouterr()
    assert main(["--dir", str(tmp_path), "replay", s.session_id]) == 0
    assert "identical" in capsys.readouterr().out


def _stride(t_end_s: float, side: str = "L", osc_cm: float = 6.5) -> Stride:
    return Stride(t_end_s - 0.72, t_end_s, side, 0.72, 0.35, 120.0 / 0.72, osc_cm)


def test_strides_round_trip_in_time_order_with_nan(tmp_path):
    path = tmp_path / "s1.bfsession"
    w = SessionWriter(path, _info(), "")
    rows = [_stride(12.0, "R"), _stride(11.5, "L", math.nan), _stride(12.5, "?")]
    w.add_strides(rows)
    w.add_strides([])
    w.add_strides([rows[0]])      # the same stride again (a retried write) is one row
    w.close()
    with SessionReader(path) as r:
        assert r.has_strides()
        back = r.strides()
    assert [s.t_end_s for s in back] == [11.5, 12.0, 12.5]
    assert back[1] == rows[0] and back[2] == rows[2]
    assert back[0].side == "L" and math.isnan(back[0].vertical_osc_cm)


def test_version_2_file_opens_without_strides(tmp_path):
    path = tmp_path / "s1.bfsession"
    w = SessionWriter(path, _info(), "")
    w.add_metrics([Metrics(t_s=1.0, pelvic_tilt_deg=2.0)])
    w.add_strides([_stride(3.0)])
    w.close()
    _downgrade(path, 2)
    with SessionReader(path) as r:
        assert r.meta["schema_version"] == "2"
        assert not r.has_strides() and r.strides() == []
        assert r.metric_fields() == METRIC_FIELDS
        (m,) = r.metrics()
    assert m.pelvic_tilt_deg == 2.0


def test_demo_stores_strides_and_replay_reproduces_them(tmp_path, capsys):
    assert main(["--dir", str(tmp_path), "demo", "--minutes", "2", "--flat", "--quiet"]) == 0
    (s,) = list_sessions(tmp_path)
    with SessionReader(s.path) as r:
        strides = r.strides()
        metrics = r.metrics()
    assert len(strides) > 50
    # the per-stride cadence agrees with the 1 Hz cadence of the same run
    cad_1hz = np.nanmedian([m.cadence_spm for m in metrics if not m.warming_up])
    assert abs(np.median([x.cadence_spm for x in strides]) - cad_1hz) < 3.0
    assert {x.side for x in strides} <= {"L", "R", "?"}
    assert [x.t_end_s for x in strides] == sorted(x.t_end_s for x in strides)
    capsys.readouterr()
    assert main(["--dir", str(tmp_path), "replay", s.session_id]) == 0
    out = capsys.readouterr().out
    assert "identical" in out and f"({len(strides)} strides too)" in out
    # a stored stride that the replay does not reproduce makes the replay DIFFERENT
    con = sqlite3.connect(s.path)
    con.execute("UPDATE strides SET cadence_spm = cadence_spm + 1 WHERE rowid = 5")
    con.commit()
    con.close()
    assert main(["--dir", str(tmp_path), "replay", s.session_id]) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT" in out and "1 of" in out and "strides differ" in out


def test_version_2_session_replays_identical(tmp_path, capsys):
    assert main(["--dir", str(tmp_path), "demo", "--minutes", "2", "--flat", "--quiet"]) == 0
    (s,) = list_sessions(tmp_path)
    _downgrade(s.path, 2)
    capsys.readouterr()
    assert main(["--dir", str(tmp_path), "replay", s.session_id]) == 0
    out = capsys.readouterr().out
    assert "identical" in out and "strides too" not in out
