"""The demo as a user runs it, then `breathform replay` on the session it wrote."""

from __future__ import annotations

import re

import pytest

from breathform.alerts.engine import BREATH_CAUSES, FORM_CAUSES
from breathform.cli import main
from breathform.store import SessionReader, list_sessions


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sessions")
    rc = main(["--dir", str(folder), "demo", "--minutes", "30", "--seed", "1", "--quiet"])
    assert rc == 0
    sessions = list_sessions(folder)
    assert len(sessions) == 1
    return sessions[0]


def test_demo_writes_a_complete_session_with_alerts_on_the_climbs(demo_session):
    assert demo_session.status == "complete"
    assert demo_session.duration_s > 29 * 60
    with SessionReader(demo_session.path) as r:
        metrics = r.metrics()
        alerts = r.alerts()
        assert r.n_raw() > 10_000
    assert len(metrics) > 29 * 60
    assert alerts, "the hilly demo must raise at least one alert during the climbs"
    for a in alerts:
        assert a.cue and a.causes
        names = {c.name for c in a.causes}
        assert names & BREATH_CAUSES and names & FORM_CAUSES, names  # both sides


def test_replay_reproduces_the_live_run_exactly(demo_session, capsys):
    rc = main(["--dir", str(demo_session.path.parent), "replay", demo_session.session_id])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert re.search(r"identical: \d+ s of metrics and [1-9]\d* alerts", out), out
