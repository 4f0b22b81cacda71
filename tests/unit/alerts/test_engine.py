"""Rules of the breathless-and-form alert engine, table-driven.

Scenario used throughout (unless a test says otherwise): baseline window [10, 40] s,
hold 10 s, cooldown 60 s, smoothing = median over the last 10 s. Fresh form: rate 30 bpm,
depth 1.0, pelvic tilt 5 deg, trunk lean 8 deg, cadence 170 spm. Thresholds: rate 37.5
(off 35.625), rapid-shallow rate 33.75, depth 0.7, tilt 8 (off 7.25), lean 12 (off 11).

A step change at t = 61 turns the 10-s median at t = 66 (6 of 10 rows degraded); the
episode then holds 10 confirming seconds (66..75) and the alert fires at t = 75.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest

from breathform.alerts import (
    ALERT_KIND,
    AlertParams,
    AlertState,
    baseline_of,
    init_state,
    is_climbing,
    run_batch,
    step,
)
from breathform.alerts.cues import (
    CUE_HILL,
    CUE_PELVIS,
    CUE_PELVIS_SHALLOW,
    CUE_TRUNK,
    CUE_TRUNK_SHALLOW,
)
from breathform.config import AlertsConfig
from breathform.errors import InputError
from breathform.model import Alert, Cause, Metrics

P = AlertParams(baseline_start_s=10.0, baseline_len_s=30.0, hold_s=10.0, cooldown_s=60.0)

FRESH: dict[str, Any] = dict(rate_bpm=30.0, depth_rel=1.0, breath_quality=0.9,
                             strides_per_breath=2.0, cadence_spm=170.0, pelvic_tilt_deg=5.0,
                             trunk_lean_deg=8.0, lumbar_deg=1.0, hr_bpm=150.0,
                             warming_up=False)
BREATHLESS = dict(rate_bpm=42.0)                       # rate excess 1.6
TILT = dict(pelvic_tilt_deg=10.0)                      # tilt excess 1.67
BOTH = {**BREATHLESS, **TILT}                          # severity 2
MILD = dict(rate_bpm=39.0, pelvic_tilt_deg=8.5)        # excesses 1.2 / 1.17: severity 1
BAND = dict(rate_bpm=36.5, pelvic_tilt_deg=7.6)        # between off and on thresholds
NOISE = dict(rate_bpm=200.0, depth_rel=0.2, pelvic_tilt_deg=40.0, trunk_lean_deg=40.0)
LOWQ = dict(breath_quality=0.1, rate_bpm=80.0)
NANROW = dict(rate_bpm=math.nan, depth_rel=math.nan, pelvic_tilt_deg=math.nan,
              trunk_lean_deg=math.nan)


def seg(t0: int, t1: int, **kw: Any) -> list[Metrics]:
    """Rows for t0 <= t < t1 (1 Hz): fresh form overridden by kw."""
    return [Metrics(t_s=float(t), **{**FRESH, **kw}) for t in range(t0, t1)]


def fresh_run(t1: int = 61) -> list[Metrics]:
    """Steady running from t = 1 to t1 - 1: the baseline forms at t = 40."""
    return seg(1, t1)


def times(alerts: list[Alert]) -> list[float]:
    return [a.t_s for a in alerts]


# name -> (rows, expected alert times, expected severities)
CASES: dict[str, tuple[list[Metrics], list[float], list[int]]] = {
    "breathless_and_tilt_fires_after_hold": (
        fresh_run() + seg(61, 100, **BOTH), [75.0], [2]),
    "degraded_hold_s_plus_1_fires": (
        fresh_run() + seg(61, 72, **BOTH) + seg(72, 120), [75.0], [2]),
    "degraded_exactly_hold_s_does_not_fire": (
        # at t = 75 the window is half degraded (median rate 36, tilt 7.5): still latched
        # inside the hysteresis band, but no criterion is met, so nothing fires.
        fresh_run() + seg(61, 71, **BOTH) + seg(71, 120), [], []),
    "degraded_hold_s_minus_1_does_not_fire": (
        fresh_run() + seg(61, 70, **BOTH) + seg(70, 120), [], []),
    "breathless_on_the_flat_good_form": (
        fresh_run() + seg(61, 200, rate_bpm=45.0), [], []),
    "rapid_shallow_good_form": (
        fresh_run() + seg(61, 200, rate_bpm=35.0, depth_rel=0.5), [], []),
    "bad_form_easy_breath": (
        fresh_run() + seg(61, 200, rate_bpm=31.0, pelvic_tilt_deg=12.0, trunk_lean_deg=14.0),
        [], []),
    "single_noisy_second_does_not_fire": (
        fresh_run() + seg(61, 70) + seg(70, 71, **NOISE) + seg(71, 200), [], []),
    "single_good_second_does_not_reset": (
        fresh_run() + seg(61, 70, **BOTH) + seg(70, 71) + seg(71, 100, **BOTH), [75.0], [2]),
    "low_quality_second_neither_confirms_nor_breaks": (
        fresh_run() + seg(61, 70, **BOTH) + seg(70, 71, **{**BOTH, **LOWQ})
        + seg(71, 100, **BOTH), [76.0], [2]),
    "nan_second_neither_confirms_nor_breaks": (
        fresh_run() + seg(61, 70, **BOTH) + seg(70, 71, **NANROW) + seg(71, 100, **BOTH),
        [76.0], [2]),
    "warming_up_never_alerts": (
        seg(1, 200, warming_up=True, **BOTH), [], []),
    "warming_up_seconds_after_baseline_do_not_count": (
        fresh_run() + seg(61, 200, warming_up=True, **BOTH), [], []),
    "before_baseline_window_no_alert": (
        seg(1, 10, **BOTH) + seg(10, 120), [], []),
    "degraded_while_baseline_incomplete_no_alert": (
        # every baseline second has low quality: no baseline, no alert.
        seg(1, 41, breath_quality=0.1) + seg(41, 55, **{**BOTH, "breath_quality": 0.1}),
        [], []),
    "within_cooldown_no_second_alert": (
        fresh_run() + seg(61, 134, **BOTH), [75.0], [2]),
    "fires_again_after_cooldown_escalated": (
        fresh_run() + seg(61, 250, **MILD), [75.0, 135.0, 195.0], [1, 2, 3]),
    "escalation_capped_at_3": (
        fresh_run() + seg(61, 250, **BOTH), [75.0, 135.0, 195.0], [2, 3, 3]),
    "new_episode_waits_for_cooldown_and_does_not_escalate": (
        # second episode turns on at 116, holds by 125, fires when the cooldown ends.
        fresh_run() + seg(61, 91, **MILD) + seg(91, 111) + seg(111, 200, **MILD),
        [75.0, 135.0, 195.0], [1, 1, 2]),
    "new_episode_after_cooldown_holds_again": (
        fresh_run() + seg(61, 91, **MILD) + seg(91, 141) + seg(141, 200, **MILD),
        [75.0, 155.0], [1, 1]),
    "hysteresis_band_keeps_the_episode": (
        # the band neither fires (t = 135) nor ends the episode: back above threshold, the
        # same episode fires as soon as the median crosses (t = 155: half band, half mild),
        # escalated.
        fresh_run() + seg(61, 91, **MILD) + seg(91, 151, **BAND) + seg(151, 250, **MILD),
        [75.0, 155.0, 215.0], [1, 2, 3]),
    "cleared_episode_must_hold_again": (
        fresh_run() + seg(61, 91, **MILD) + seg(91, 151) + seg(151, 250, **MILD),
        [75.0, 165.0, 225.0], [1, 1, 2]),
    "hysteresis_band_alone_starts_nothing": (
        fresh_run() + seg(61, 200, **BAND), [], []),
    "severity_3_when_far_beyond": (
        # far out, a half-degraded window (t = 65) already crosses: median 40 / 8.5.
        fresh_run() + seg(61, 100, rate_bpm=50.0, pelvic_tilt_deg=12.0), [74.0], [3]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_table(name: str) -> None:
    rows, want_t, want_sev = CASES[name]
    alerts, _ = run_batch(P, rows)
    assert times(alerts) == want_t
    assert [a.severity for a in alerts] == want_sev
    assert all(a.kind == ALERT_KIND for a in alerts)


def cause(name: str, metric: str, value: float, baseline: float, threshold: float,
          unit: str) -> Cause:
    return Cause(name, metric, value, baseline, threshold, unit)


RATE_HIGH_42 = cause("rate_high", "rate_bpm", 42.0, 30.0, 37.5, "bpm")
TILT_10 = cause("pelvic_tilt_anterior", "pelvic_tilt_deg", 10.0, 5.0, 8.0, "deg")
LEAN_13 = cause("trunk_flexion", "trunk_lean_deg", 13.0, 8.0, 12.0, "deg")


# name -> (degraded values from t = 61, causes, cue, climb)
CAUSE_CASES: dict[str, tuple[dict[str, float], tuple[Cause, ...], str, bool]] = {
    "rate_and_tilt": (BOTH, (RATE_HIGH_42, TILT_10), CUE_PELVIS, False),
    "rapid_shallow_and_tilt": (
        dict(rate_bpm=35.0, depth_rel=0.5, pelvic_tilt_deg=10.0),
        (cause("rate_elevated", "rate_bpm", 35.0, 30.0, 33.75, "bpm"),
         cause("breath_shallow", "depth_rel", 0.5, 1.0, 0.7, "rel"), TILT_10),
        CUE_PELVIS_SHALLOW, False),
    "rate_and_lean_cadence_dropping_is_not_a_climb": (
        dict(rate_bpm=42.0, trunk_lean_deg=13.0, cadence_spm=160.0),
        (RATE_HIGH_42, LEAN_13), CUE_TRUNK, False),
    "rapid_shallow_and_lean_cadence_dropping": (
        dict(rate_bpm=35.0, depth_rel=0.5, trunk_lean_deg=13.0, cadence_spm=160.0),
        (cause("rate_elevated", "rate_bpm", 35.0, 30.0, 33.75, "bpm"),
         cause("breath_shallow", "depth_rel", 0.5, 1.0, 0.7, "rel"), LEAN_13),
        CUE_TRUNK_SHALLOW, False),
    "lean_with_steady_cadence_is_a_climb": (
        dict(rate_bpm=42.0, trunk_lean_deg=13.0, cadence_spm=169.0),
        (RATE_HIGH_42, LEAN_13), CUE_HILL, True),
    "tilt_with_lean_up_2_and_cadence_up_is_a_climb": (
        dict(rate_bpm=42.0, pelvic_tilt_deg=10.0, trunk_lean_deg=10.5, cadence_spm=176.0),
        (RATE_HIGH_42, TILT_10), CUE_HILL, True),
    "tilt_with_lean_up_1_5_is_not_a_climb": (
        dict(rate_bpm=42.0, pelvic_tilt_deg=10.0, trunk_lean_deg=9.5, cadence_spm=176.0),
        (RATE_HIGH_42, TILT_10), CUE_PELVIS, False),
    "all_four_criteria": (
        dict(rate_bpm=45.0, depth_rel=0.5, pelvic_tilt_deg=10.0, trunk_lean_deg=14.0,
             cadence_spm=150.0),
        (cause("rate_high", "rate_bpm", 45.0, 30.0, 37.5, "bpm"),
         cause("breath_shallow", "depth_rel", 0.5, 1.0, 0.7, "rel"), TILT_10,
         cause("trunk_flexion", "trunk_lean_deg", 14.0, 8.0, 12.0, "deg")),
        # lean excess 1.5 < tilt excess 1.67: the pelvis leads.
        CUE_PELVIS_SHALLOW, False),
    "lean_leads_when_further_out": (
        dict(rate_bpm=42.0, pelvic_tilt_deg=8.5, trunk_lean_deg=16.0, cadence_spm=150.0),
        (RATE_HIGH_42, cause("pelvic_tilt_anterior", "pelvic_tilt_deg", 8.5, 5.0, 8.0, "deg"),
         cause("trunk_flexion", "trunk_lean_deg", 16.0, 8.0, 12.0, "deg")),
        CUE_TRUNK, False),
}


@pytest.mark.parametrize("name", sorted(CAUSE_CASES))
def test_causes_cue_and_climb(name: str) -> None:
    values, want_causes, want_cue, want_climb = CAUSE_CASES[name]
    alerts, _ = run_batch(P, fresh_run() + seg(61, 100, **values))
    assert times(alerts) == [75.0]
    a = alerts[0]
    assert a.causes == want_causes
    assert a.cue == want_cue
    assert a.climb is want_climb


def test_causes_carry_the_smoothed_median() -> None:
    # Rate alternates 41/43 and tilt 9.5/10.5: the median of 10 rows is their mid-point.
    rows = fresh_run()
    for t in range(61, 100):
        hi = t % 2 == 0
        rows += seg(t, t + 1, rate_bpm=43.0 if hi else 41.0,
                    pelvic_tilt_deg=10.5 if hi else 9.5)
    alerts, _ = run_batch(P, rows)
    assert times(alerts) == [75.0]
    by_name = {c.name: c for c in alerts[0].causes}
    assert by_name["rate_high"].value == pytest.approx(42.0)
    assert by_name["pelvic_tilt_anterior"].value == pytest.approx(10.0)


def test_baseline_forms_at_window_end_from_valid_seconds_only() -> None:
    rows = (seg(1, 10, rate_bpm=50.0) + seg(10, 20)
            + seg(20, 25, breath_quality=0.1, rate_bpm=60.0)   # low quality: ignored
            + seg(25, 30, warming_up=True, pelvic_tilt_deg=20.0)  # warm-up: ignored
            + seg(30, 41, rate_bpm=32.0, cadence_spm=math.nan))
    s = init_state(P)
    _, s = step(P, s, rows[:38])  # up to t = 38
    assert baseline_of(s) is None
    _, s = step(P, s, rows[38:])  # t = 39, 40
    b = baseline_of(s)
    assert b is not None
    assert b.n_s == 21  # t = 10..19 and 30..40
    assert b.rate_bpm == 32.0  # median of ten 30s and eleven 32s
    assert b.pelvic_tilt_deg == 5.0
    assert b.cadence_spm == 170.0  # NaN cadence seconds are skipped
    assert s.bl_rate_bpm == ()  # buffer released


def test_baseline_keeps_collecting_when_data_is_missing() -> None:
    # Only t = 36..40 are valid in the window (5 < 15 needed): collection goes on.
    rows = seg(1, 36, breath_quality=0.1) + seg(36, 100)
    s = init_state(P)
    _, s = step(P, s, rows[:48])  # up to t = 48: 5 + 8 = 13 valid
    assert baseline_of(s) is None
    _, s = step(P, s, rows[48:49])  # t = 49: 14
    assert baseline_of(s) is None
    _, s = step(P, s, rows[49:50])  # t = 50: 15
    b = baseline_of(s)
    assert b is not None and b.n_s == 15


def test_baseline_without_depth_disables_rapid_shallow_only() -> None:
    rows = seg(1, 61, depth_rel=math.nan) + seg(61, 100, rate_bpm=35.0, depth_rel=0.5,
                                                  pelvic_tilt_deg=10.0)
    alerts, s = run_batch(P, rows)
    assert alerts == []
    assert math.isnan(s.base_depth_rel)
    alerts, _ = run_batch(P, seg(1, 61, depth_rel=math.nan) + seg(61, 100, **BOTH))
    assert times(alerts) == [75.0]


def test_buffers_stay_bounded() -> None:
    # 10 rows a second during the baseline window: the buffer caps at ceil(len) + 1.
    rows = [Metrics(t_s=10.0 + 0.1 * i, **FRESH) for i in range(200)]
    s = init_state(P)
    longest = 0
    for m in rows:
        _, s = step(P, s, [m])
        longest = max(longest, len(s.bl_rate_bpm), len(s.win_t_s))
    assert longest <= 31
    assert baseline_of(s) is not None
    _, s = run_batch(P, fresh_run() + seg(61, 3000, **BOTH))
    assert len(s.win_t_s) == 10 and s.bl_rate_bpm == ()


def test_gap_empties_the_smoothing_window() -> None:
    rows = fresh_run() + seg(61, 100, **BOTH) + seg(200, 205, **BOTH)
    _, s = run_batch(P, rows)
    assert s.win_t_s == (200.0, 201.0, 202.0, 203.0, 204.0)


def test_is_climbing() -> None:
    assert not is_climbing(P, init_state(P))
    _, s = run_batch(P, fresh_run() + seg(61, 80, trunk_lean_deg=10.0, cadence_spm=168.0))
    assert is_climbing(P, s)
    _, s = run_batch(P, fresh_run() + seg(61, 80, trunk_lean_deg=10.0, cadence_spm=167.0))
    assert not is_climbing(P, s)
    _, s = run_batch(P, fresh_run() + seg(61, 80, trunk_lean_deg=10.0, cadence_spm=math.nan))
    assert is_climbing(P, s)  # cadence unknown: lean alone


def test_step_empty_chunk_is_identity() -> None:
    _, s = run_batch(P, fresh_run())
    alerts, s2 = step(P, s, [])
    assert alerts == [] and s2 is s


@pytest.mark.parametrize(("rows", "match"), [
    ([Metrics(t_s=5.0), Metrics(t_s=5.0)], r"metrics\[1\]\.t_s must increase: got 5.0 after 5.0"),
    ([Metrics(t_s=5.0), Metrics(t_s=4.0)], r"metrics\[1\]\.t_s must increase"),
    ([Metrics(t_s=5.0), {"t_s": 6.0}], r"metrics\[1\] must be a Metrics, got dict"),
])
def test_step_rejects_bad_rows(rows: list[Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        step(P, init_state(P), rows)


def test_step_rejects_time_going_back_across_calls() -> None:
    _, s = step(P, init_state(P), seg(1, 10))
    with pytest.raises(InputError, match=r"metrics\[0\]\.t_s must increase: got 9.0 after 9.0"):
        step(P, s, seg(9, 10))


def test_from_config_copies_every_field() -> None:
    cfg = AlertsConfig(baseline_start_s=30.0, baseline_len_s=60.0, rate_margin_rel=0.2,
                       depth_drop_rel=0.25, pelvic_tilt_margin_deg=2.5,
                       trunk_lean_margin_deg=3.5, hold_s=8.0, cooldown_s=45.0,
                       min_quality=0.4)
    p = AlertParams.from_config(cfg)
    for f in dataclasses.fields(cfg):
        assert getattr(p, f.name) == getattr(cfg, f.name)
    assert AlertParams.from_config(AlertsConfig()) == AlertParams()
    assert AlertParams.from_config(cfg, smooth_s=5.0).smooth_window_s == 5.0


@pytest.mark.parametrize(("kw", "match"), [
    (dict(hold_s=0.5), r"AlertParams\.hold_s must be a finite number >= 1 \(seconds\), got 0.5"),
    (dict(rate_margin_rel=0.0), r"rate_margin_rel must be in \(0, 2\), got 0.0"),
    (dict(depth_drop_rel=1.0), r"depth_drop_rel must be in \(0, 1\), got 1.0"),
    (dict(pelvic_tilt_margin_deg=-1.0), r"pelvic_tilt_margin_deg must be a number > 0"),
    (dict(cooldown_s=math.nan), r"cooldown_s must be a finite number >= 0, got nan"),
    (dict(min_quality=1.5), r"min_quality must be in \[0, 1\], got 1.5"),
    (dict(smooth_s=0.0), r"smooth_s must be None or a finite number >= 1"),
    (dict(hysteresis_frac=1.0), r"hysteresis_frac must be in \[0, 1\), got 1.0"),
    (dict(severity2_excess=2.0, severity3_excess=1.8),
     r"severity3_excess must be a number >= severity2_excess \(2.0\), got 1.8"),
])
def test_params_validation(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        AlertParams(**kw)


def test_from_config_rejects_unknown_local_field() -> None:
    with pytest.raises(InputError, match=r"unknown AlertParams field\(s\) \['hold'\]"):
        AlertParams.from_config(AlertsConfig(), hold=3.0)


def _snapshot(s: AlertState) -> str:
    return repr(dataclasses.asdict(s))  # repr: NaN == NaN


def test_state_snapshot_round_trip_through_json_and_resume() -> None:
    rows = fresh_run() + seg(61, 250, **MILD)
    want_alerts, want_state = run_batch(P, rows)
    first, s = step(P, init_state(P), rows[:70])
    blob = json.dumps(dataclasses.asdict(s))
    s2 = AlertState.from_dict(json.loads(blob))
    assert _snapshot(s2) == _snapshot(s)
    rest, s3 = step(P, s2, rows[70:])
    assert first + rest == want_alerts
    assert _snapshot(s3) == _snapshot(want_state)


def test_state_from_dict_names_bad_keys() -> None:
    d = dataclasses.asdict(init_state(P))
    d.pop("held_s")
    d["bogus"] = 1
    with pytest.raises(InputError, match=r"missing keys \['held_s'\], unknown keys \['bogus'\]"):
        AlertState.from_dict(d)


def test_deterministic() -> None:
    rows = fresh_run() + seg(61, 250, **BOTH)
    a1, s1 = run_batch(P, rows)
    a2, s2 = run_batch(P, rows)
    assert a1 == a2 and _snapshot(s1) == _snapshot(s2)
