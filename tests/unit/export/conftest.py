"""A 3-minute demo session, and a copy of it with alerts, shared by the export tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from breathform.cli import main
from breathform.export.privacy import Privacy
from breathform.export.streams import SessionData, load_session
from breathform.model import Alert, Cause
from breathform.store import SessionReader, SessionWriter

ALERT_TIMES_S = (100.25, 150.5)


def make_demo_session(folder: Path) -> Path:
    """Run ``breathform demo`` for 3 minutes into ``folder``; return the session file."""
    rc = main(["--dir", str(folder), "demo", "--minutes", "3", "--quiet"])
    assert rc == 0
    (path,) = sorted(folder.glob("*.bfsession"))
    return path


@pytest.fixture(scope="session")
def demo_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_session(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def alert_session(demo_session: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo session's raw packets and metrics, plus two alerts (a 3-min run has none)."""
    out = tmp_path_factory.mktemp("alerts") / "with-alerts.bfsession"
    with SessionReader(demo_session) as r:
        w = SessionWriter(out, r.info, r.config_toml)
        w.add_raw(list(r.iter_raw()))
        w.add_metrics(r.metrics())
        w.add_strides(r.strides())
        w.set_calibration(r.calibration())
    causes = (Cause("rate_high", "rate_bpm", 48.0, 30.0, 37.5, "bpm"),
              Cause("pelvic_tilt_anterior", "pelvic_tilt_deg", 6.5, 2.0, 5.0, "deg"))
    w.add_alerts([Alert(t_s=t, kind="breathless_form", severity=1 + i, causes=causes,
                        cue="Shorten your stride, tuck the pelvis", climb=i == 1)
                  for i, t in enumerate(ALERT_TIMES_S)])
    w.close()
    return out


@pytest.fixture(scope="session")
def alert_times_s() -> tuple[float, ...]:
    return ALERT_TIMES_S


@pytest.fixture(scope="session")
def alert_data(alert_session: Path) -> SessionData:
    with SessionReader(alert_session) as r:
        return load_session(r)


@pytest.fixture(scope="session")
def salt_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def privacy(salt_dir: Path) -> Privacy:
    return Privacy.create(False, salt_dir)
