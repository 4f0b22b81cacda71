"""Property: any chunking of the metrics stream gives the alerts and state of one call."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from breathform.alerts import AlertParams, AlertState, init_state, run_batch, step
from breathform.alerts.engine import BREATH_CAUSES, FORM_CAUSES
from breathform.model import Metrics

FRESH: dict[str, Any] = dict(rate_bpm=30.0, depth_rel=1.0, breath_quality=0.9,
                             cadence_spm=170.0, pelvic_tilt_deg=5.0, trunk_lean_deg=8.0,
                             warming_up=False, strides_per_breath=2.0,
                             pelvic_drop_range_deg=8.0, pelvic_rotation_range_deg=8.0,
                             trunk_twist_range_deg=14.0)
# Segment kinds that exercise every branch: baseline, each criterion, noise, gaps in quality.
KINDS: dict[str, dict[str, Any]] = {
    "fresh": {},
    "both": dict(rate_bpm=42.0, pelvic_tilt_deg=10.0),
    "severe": dict(rate_bpm=52.0, trunk_lean_deg=15.0, cadence_spm=172.0),
    "shallow": dict(rate_bpm=35.0, depth_rel=0.5, trunk_lean_deg=13.0, cadence_spm=160.0),
    "band": dict(rate_bpm=36.5, pelvic_tilt_deg=7.6),
    "breathless": dict(rate_bpm=45.0),
    "badform": dict(pelvic_tilt_deg=12.0),
    "lowq": dict(breath_quality=0.1, rate_bpm=60.0, pelvic_tilt_deg=10.0),
    "nan": dict(rate_bpm=math.nan, depth_rel=math.nan, pelvic_tilt_deg=math.nan,
                trunk_lean_deg=math.nan, cadence_spm=math.nan),
    "warm": dict(warming_up=True, rate_bpm=50.0),
    "unlocked": dict(strides_per_breath=1.8, pelvic_tilt_deg=10.0),
    "wander": dict(strides_per_breath=2.3, trunk_twist_range_deg=20.0),
    "ranges": dict(rate_bpm=42.0, pelvic_drop_range_deg=11.0, pelvic_rotation_range_deg=12.0),
    "h10": dict(rate_bpm=44.0, trunk_twist_range_deg=math.nan, pelvic_tilt_deg=9.0),
    "spbnan": dict(strides_per_breath=math.nan, pelvic_drop_range_deg=math.nan),
}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AlertParams, list[Metrics]]:
    p = AlertParams(
        baseline_start_s=draw(st.sampled_from([0.0, 5.0, 10.0])),
        baseline_len_s=draw(st.sampled_from([10.0, 20.0])),
        hold_s=draw(st.sampled_from([1.0, 3.0, 5.0, 10.0])),
        cooldown_s=draw(st.sampled_from([0.0, 15.0, 40.0])),
        smooth_s=draw(st.sampled_from([None, 3.0])),
    )
    segs = draw(st.lists(st.tuples(st.sampled_from(sorted(KINDS)), st.integers(1, 40)),
                         min_size=1, max_size=12))
    rows: list[Metrics] = []
    t = 1.0
    for kind, n in segs:
        for _ in range(n):
            rows.append(Metrics(t_s=t, **{**FRESH, **KINDS[kind]}))
            t += 1.0
        if draw(st.booleans()) and draw(st.booleans()):
            t += draw(st.integers(1, 30))  # a gap in the stream
    return p, rows


def _snap(s: AlertState) -> str:
    return repr(dataclasses.asdict(s))


@given(scenarios(), st.lists(st.integers(0, 400), max_size=20))
def test_chunk_invariance(scenario: tuple[AlertParams, list[Metrics]], cuts: list[int]) -> None:
    p, rows = scenario
    want_alerts, want_state = run_batch(p, rows)
    bounds = [0, *sorted(c % (len(rows) + 1) for c in cuts), len(rows)]
    got: list[Any] = []
    s = init_state(p)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        alerts, s = step(p, s, rows[a:b])
        got += alerts
        # State hand-off: resume from a plain-data snapshot.
        s = AlertState.from_dict(dataclasses.asdict(s))
    assert repr(got) == repr(want_alerts)
    assert _snap(s) == _snap(want_state)


@given(scenarios())
def test_one_by_one_equals_all_at_once(scenario: tuple[AlertParams, list[Metrics]]) -> None:
    p, rows = scenario
    want_alerts, want_state = run_batch(p, rows)
    got: list[Any] = []
    s = init_state(p)
    for m in rows:
        alerts, s = step(p, s, [m])
        got += alerts
    assert repr(got) == repr(want_alerts)
    assert _snap(s) == _snap(want_state)
    # Invariants of every alert.
    for a in got:
        assert a.severity in (1, 2, 3) and a.causes and a.cue
        names = {c.name for c in a.causes}
        assert names & BREATH_CAUSES
        assert names & FORM_CAUSES
        for c in a.causes:  # every cause is met now, not merely latched
            assert (c.value < c.threshold if c.name in ("breath_shallow", "coupling_lost")
                    else c.value > c.threshold)
    ts = [a.t_s for a in got]
    assert all(b - a >= p.cooldown_s for a, b in zip(ts, ts[1:], strict=False))
