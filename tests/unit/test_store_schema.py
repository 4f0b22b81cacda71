"""Session-store metric columns: the posture ranges, and files of an older schema version."""

from __future__ import annotations

import math
import sqlite3

from breathform.cli import main
from breathform.model import METRIC_FIELDS, Metrics, SensorInfo, SessionInfo
from breathform.store import SCHEMA_VERSION, SessionReader, SessionWriter, list_sessions

NEW_IN_V2 = ("pelvic_drop_range_deg", "pelvic_rotation_range_deg", "trunk_twist_range_deg")


def _info() -> SessionInfo:
    return SessionInfo(session_id="s1", started_utc_ns=1, source="sim", software_version="t",
                       sensors=(SensorInfo("chest", "polar_h10", 200.0, 8.0, False),))


def _downgrade_to_v1(path) -> None:
    """Rewrite a session file as version 1 wrote it: no posture-range columns."""
    con = sqlite3.connect(path)
    for col in NEW_IN_V2:
        con.execute(f"ALTER TABLE metrics DROP COLUMN {col}")
    con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
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
        assert r.meta["schema_version"] == str(SCHEMA_VERSION) == "2"
        assert r.metric_fields() == METRIC_FIELDS
        (back,) = r.metrics()
    assert back.pelvic_drop_range_deg == 7.25 and back.pelvic_rotation_range_deg == 8.5
    assert math.isnan(back.trunk_twist_range_deg)


def test_version_1_file_opens_with_nan_ranges(tmp_path):
    path = tmp_path / "s1.bfsession"
    w = SessionWriter(path, _info(), "")
    w.add_metrics([Metrics(t_s=1.0, pelvic_tilt_deg=2.0, pelvic_drop_range_deg=6.0)])
    w.close()
    _downgrade_to_v1(path)
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
    _downgrade_to_v1(s.path)
    capsys.readouterr()
    assert main(["--dir", str(tmp_path), "replay", s.session_id]) == 0
    assert "identical" in capsys.readouterr().out
