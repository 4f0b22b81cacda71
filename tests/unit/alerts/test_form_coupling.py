"""The form criteria of the stride ranges and the breath-stride coupling rule, table-driven.

Scenario as in test_engine.py (baseline window [10, 40] s, hold 10 s, cooldown 60 s, 10-s
smoothing), with a gyro-equipped runner: fresh pelvic drop range 8 deg, pelvic rotation
range 8 deg, trunk twist range 14 deg, strides per breath 2.0 (the 2:2 pattern, locked:
baseline coupling index 100 %). Thresholds: drop 10 (off 9.5), rotation 11 (off 10.25),
twist 18 (off 17), coupling index 60 % (off 70 %). Rate 37.5, tilt 8 as before.

A step change at t = 61 turns the 10-s median (and the coupling index: 6 of 10 seconds
unlocked = 40 %) at t = 66; the episode holds 10 confirming seconds and fires at t = 75.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from breathform.alerts import AlertParams, baseline_of, run_batch
from breathform.alerts.cues import (
    CUE_DROP,
    CUE_PELVIS,
    CUE_PELVIS_RHYTHM,
    CUE_PELVIS_SHALLOW,
    CUE_ROTATION,
    CUE_TRUNK_RHYTHM,
    CUE_TWIST,
    CUE_TWIST_SHALLOW,
    FORM_CUE_ORDER,
)
from breathform.alerts.engine import (
    BREATH_CAUSES,
    COUPLING_METRIC,
    FORM_CAUSES,
    FORM_RULES,
    locked,
)
from breathform.config import AlertsConfig, from_dict
from breathform.errors import ConfigError, InputError
from breathform.model import Cause, Metrics

P = AlertParams(baseline_start_s=10.0, baseline_len_s=30.0, hold_s=10.0, cooldown_s=60.0)

FRESH: dict[str, Any] = dict(rate_bpm=30.0, depth_rel=1.0, breath_quality=0.9,
                             strides_per_breath=2.0, cadence_spm=170.0, pelvic_tilt_deg=5.0,
                             trunk_lean_deg=8.0, lumbar_deg=1.0, hr_bpm=150.0,
                             warming_up=False, pelvic_drop_range_deg=8.0,
                             pelvic_rotation_range_deg=8.0, trunk_twist_range_deg=14.0)
H10 = dict(trunk_twist_range_deg=math.nan)        # a Polar H10 chest: no gyroscope
EASY = dict(rate_bpm=31.0)                        # breathing as fresh (below every threshold)
RATE = dict(rate_bpm=42.0)                        # rate excess 1.6
UNLOCKED = dict(strides_per_breath=1.8)           # 0.2 strides off the 2:2 pattern
TILT = dict(pelvic_tilt_deg=10.0)                 # tilt excess 1.67


def seg(t0: int, t1: int, base: dict[str, Any] | None = None, /,
        **kw: Any) -> list[Metrics]:
    """Rows for t0 <= t < t1 (1 Hz): ``base`` (default FRESH) overridden by kw."""
    b = FRESH if base is None else base
    return [Metrics(t_s=float(t), **{**b, **kw}) for t in range(t0, t1)]


def fresh_run(base: dict[str, Any] | None = None) -> list[Metrics]:
    """Steady running from t = 1 to 60: the baseline forms at t = 40."""
    return seg(1, 61, base)


FRESH_H10 = {**FRESH, **H10}


def wander(t0: int, t1: int, base: dict[str, Any] | None = None, /,
           **kw: Any) -> list[Metrics]:
    """Strides per breath wandering between patterns (1.75, 1.8 ... 2.2): never locked."""
    vals = (1.8, 2.2, 1.7, 2.3, 1.75, 2.2)
    return [m for t in range(t0, t1)
            for m in seg(t, t + 1, base, strides_per_breath=vals[t % len(vals)], **kw)]


# name -> (rows, expected alert times, severities, cause names of the first alert, its cue)
CASES: dict[str, tuple[list[Metrics], list[float], list[int], tuple[str, ...], str]] = {
    "breathless_and_pelvic_drop": (
        fresh_run() + seg(61, 100, **RATE, pelvic_drop_range_deg=11.0),   # excess 1.5
        [75.0], [2], ("rate_high", "pelvic_drop"), CUE_DROP),
    "breathless_and_pelvic_rotation": (
        fresh_run() + seg(61, 100, **RATE, pelvic_rotation_range_deg=12.0),  # excess 1.33
        [75.0], [1], ("rate_high", "pelvic_rotation"), CUE_ROTATION),
    "breathless_and_trunk_twist": (
        fresh_run() + seg(61, 100, **RATE, trunk_twist_range_deg=20.0),   # excess 1.5
        [75.0], [2], ("rate_high", "trunk_twist"), CUE_TWIST),
    "far_beyond_is_severity_3": (
        fresh_run() + seg(61, 100, rate_bpm=50.0, pelvic_drop_range_deg=14.0),
        [74.0], [3], ("rate_high", "pelvic_drop"), CUE_DROP),
    "twist_leads_the_cue_when_further_out": (
        fresh_run() + seg(61, 100, **RATE, **TILT, trunk_twist_range_deg=24.0),  # 2.5 > 1.67
        [75.0], [2], ("rate_high", "pelvic_tilt_anterior", "trunk_twist"), CUE_TWIST),
    "tie_goes_to_the_pelvis": (
        # tilt 9.5 and drop 11: both excess 1.5
        fresh_run() + seg(61, 100, **RATE, pelvic_tilt_deg=9.5, pelvic_drop_range_deg=11.0),
        [75.0], [2], ("rate_high", "pelvic_tilt_anterior", "pelvic_drop"), CUE_PELVIS),
    "coupling_lost_and_tilt": (
        fresh_run() + seg(61, 100, **EASY, **UNLOCKED, **TILT),
        [75.0], [2], ("coupling_lost", "pelvic_tilt_anterior"), CUE_PELVIS_RHYTHM),
    "coupling_lost_wandering_ratio_and_lean": (
        fresh_run() + wander(61, 100, **EASY, trunk_lean_deg=13.0, cadence_spm=160.0),
        [75.0], [1], ("coupling_lost", "trunk_flexion"), CUE_TRUNK_RHYTHM),
    "shallow_wins_the_cue_over_lost_coupling": (
        fresh_run() + seg(61, 100, rate_bpm=35.0, depth_rel=0.5, **UNLOCKED, **TILT),
        [75.0], [2], ("rate_elevated", "breath_shallow", "coupling_lost",
                      "pelvic_tilt_anterior"), CUE_PELVIS_SHALLOW),
    "shallow_and_twist": (
        fresh_run() + seg(61, 100, rate_bpm=35.0, depth_rel=0.5,
                          trunk_twist_range_deg=20.0),
        [75.0], [2], ("rate_elevated", "breath_shallow", "trunk_twist"), CUE_TWIST_SHALLOW),
    # --- NaN trunk twist (Polar H10): never fires, never blocks the others
    "h10_twist_nan_breathless_and_drop_fires": (
        fresh_run(FRESH_H10) + seg(61, 100, FRESH_H10, **RATE, pelvic_drop_range_deg=11.0),
        [75.0], [2], ("rate_high", "pelvic_drop"), CUE_DROP),
    "h10_twist_nan_coupling_lost_and_tilt_fires": (
        fresh_run(FRESH_H10) + seg(61, 100, FRESH_H10, **EASY, **UNLOCKED, **TILT),
        [75.0], [2], ("coupling_lost", "pelvic_tilt_anterior"), CUE_PELVIS_RHYTHM),
    "twist_lost_mid_run_does_not_block": (
        fresh_run() + seg(61, 100, **RATE, **TILT, **H10),
        [75.0], [2], ("rate_high", "pelvic_tilt_anterior"), CUE_PELVIS),
    "no_gyro_at_all_ranges_nan_tilt_still_fires": (
        fresh_run({**FRESH, "pelvic_drop_range_deg": math.nan,
                   "pelvic_rotation_range_deg": math.nan, **H10})
        + seg(61, 100, **RATE, **TILT, pelvic_drop_range_deg=math.nan,
              pelvic_rotation_range_deg=math.nan, **H10),
        [75.0], [2], ("rate_high", "pelvic_tilt_anterior"), CUE_PELVIS),
}

# name -> rows that must NOT fire
QUIET: dict[str, list[Metrics]] = {
    "coupling_lost_on_the_flat_good_form": fresh_run() + seg(61, 200, rate_bpm=45.0,
                                                              **UNLOCKED),
    "wandering_ratio_good_form": fresh_run() + wander(61, 200, rate_bpm=36.0),
    "bad_ranges_at_an_easy_breath": fresh_run() + seg(
        61, 200, **EASY, pelvic_drop_range_deg=13.0, pelvic_rotation_range_deg=14.0,
        trunk_twist_range_deg=24.0),
    "bad_tilt_with_locked_breathing_at_an_easy_rate": fresh_run() + seg(61, 200, **EASY,
                                                                         **TILT),
    "single_noisy_second_of_ranges": fresh_run() + seg(61, 70, **RATE) + seg(
        70, 71, **RATE, pelvic_drop_range_deg=40.0, pelvic_rotation_range_deg=40.0,
        trunk_twist_range_deg=60.0) + seg(71, 200, **RATE),
    "single_unlocked_second": fresh_run() + seg(61, 70, **EASY, **TILT) + seg(
        70, 71, **EASY, **TILT, **UNLOCKED) + seg(71, 200, **EASY, **TILT),
    "three_unlocked_seconds_stay_above_the_threshold": fresh_run() + seg(
        61, 70, **EASY, **TILT) + seg(70, 73, **EASY, **TILT, **UNLOCKED)
        + seg(73, 200, **EASY, **TILT),
    "switching_pattern_stays_coupled": fresh_run() + seg(61, 80, **EASY, **TILT,
                                                          strides_per_breath=2.05)
        + seg(80, 200, **EASY, **TILT, strides_per_breath=2.5),   # 2:2 -> 3:2
    "runner_who_never_couples_has_no_coupling_rule": wander(1, 61) + wander(
        61, 200, **EASY, **TILT),
    "h10_twist_nan_breathless_good_form": fresh_run(FRESH_H10) + seg(
        61, 200, FRESH_H10, rate_bpm=45.0),
    "twist_without_a_baseline_is_ignored": fresh_run(FRESH_H10) + seg(
        61, 200, **RATE, trunk_twist_range_deg=40.0),
    "drop_in_the_hysteresis_band_starts_nothing": fresh_run() + seg(
        61, 200, **RATE, pelvic_drop_range_deg=9.8),
    "strides_per_breath_unknown_no_coupling_rule": fresh_run() + seg(
        61, 200, **EASY, **TILT, strides_per_breath=math.nan),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_new_rules_fire(name: str) -> None:
    rows, want_t, want_sev, want_names, want_cue = CASES[name]
    alerts, _ = run_batch(P, rows)
    assert [a.t_s for a in alerts] == want_t
    assert [a.severity for a in alerts] == want_sev
    assert tuple(c.name for c in alerts[0].causes) == want_names
    assert alerts[0].cue == want_cue
    assert not alerts[0].climb


@pytest.mark.parametrize("name", sorted(QUIET))
def test_new_rules_must_not_fire(name: str) -> None:
    alerts, s = run_batch(P, QUIET[name])
    assert alerts == []
    assert baseline_of(s) is not None  # quiet for the rule's reasons, not for lack of data


def test_causes_carry_their_numbers() -> None:
    rows = fresh_run() + seg(61, 100, **EASY, **UNLOCKED, **TILT,
                             pelvic_drop_range_deg=11.0, pelvic_rotation_range_deg=12.0,
                             trunk_twist_range_deg=20.0)
    alerts, _ = run_batch(P, rows)
    assert alerts[0].causes == (
        Cause("coupling_lost", COUPLING_METRIC, 0.0, 100.0, 60.0, "pct"),
        Cause("pelvic_tilt_anterior", "pelvic_tilt_deg", 10.0, 5.0, 8.0, "deg"),
        Cause("pelvic_drop", "pelvic_drop_range_deg", 11.0, 8.0, 10.0, "deg"),
        Cause("pelvic_rotation", "pelvic_rotation_range_deg", 12.0, 8.0, 11.0, "deg"),
        Cause("trunk_twist", "trunk_twist_range_deg", 20.0, 14.0, 18.0, "deg"),
    )
    # coupling excess (0 - 100) / (60 - 100) = 2.5; form side max(1.67, 1.5, 1.33, 1.5)
    assert alerts[0].severity == 2


def test_coupling_index_in_the_window_counts_locked_seconds() -> None:
    # 4 unlocked seconds in a 10-s window: index 60 %, not below the threshold (60): no
    # alert; 5: 50 % (excess 1.25) fires once the hold has passed.
    four = fresh_run() + [m for k in range(61, 200) for m in seg(
        k, k + 1, **EASY, **TILT, **(UNLOCKED if k % 10 < 4 else {}))]
    five = fresh_run() + [m for k in range(61, 200) for m in seg(
        k, k + 1, **EASY, **TILT, **(UNLOCKED if k % 10 < 5 else {}))]
    assert run_batch(P, four)[0] == []
    alerts, _ = run_batch(P, five)
    assert alerts and alerts[0].causes[0].name == "coupling_lost"
    assert alerts[0].causes[0].value == 50.0


def test_baseline_holds_ranges_and_coupling() -> None:
    _, s = run_batch(P, fresh_run(FRESH_H10)[:30] + wander(31, 61, FRESH_H10))
    b = baseline_of(s)
    assert b is not None
    assert (b.pelvic_drop_range_deg, b.pelvic_rotation_range_deg) == (8.0, 8.0)
    assert math.isnan(b.trunk_twist_range_deg)
    assert b.coupling_pct == pytest.approx(100.0 * 21 / 31)  # t = 10..30 locked of 10..40


@pytest.mark.parametrize(("spb", "want"), [
    (2.0, 1.0), (2.049, 1.0), (1.951, 1.0), (2.06, 0.0), (2.25, 0.0), (1.5, 1.0),
    (1.0, 1.0), (4.0, 1.0), (3.03, 1.0), (0.5, 0.0), (4.5, 0.0), (0.0, 0.0),
    (math.inf, math.nan), (math.nan, math.nan),
])
def test_locked(spb: float, want: float) -> None:
    got = locked(P, spb)
    assert (math.isnan(got) and math.isnan(want)) or got == want


def test_form_rules_name_real_fields() -> None:
    m_fields = {f.name for f in dataclasses.fields(Metrics)}
    p_fields = {f.name for f in dataclasses.fields(AlertParams)}
    for r in FORM_RULES:
        assert r.metric in m_fields and r.margin in p_fields
    assert {r.cause for r in FORM_RULES} == FORM_CAUSES == set(FORM_CUE_ORDER)
    assert "coupling_lost" in BREATH_CAUSES


def test_every_config_field_is_a_param_with_the_same_default() -> None:
    p, cfg = AlertParams(), AlertsConfig()
    for f in dataclasses.fields(AlertsConfig):
        assert getattr(p, f.name) == getattr(cfg, f.name), f.name
    changed = {f.name: getattr(cfg, f.name) * 0.9 for f in dataclasses.fields(AlertsConfig)}
    changed["baseline_len_s"] = 60.0
    changed["hold_s"] = 8.0
    q = AlertParams.from_config(AlertsConfig(**changed))
    for name, v in changed.items():
        assert getattr(q, name) == v


@pytest.mark.parametrize(("kw", "match"), [
    (dict(pelvic_drop_margin_deg=0.0), r"pelvic_drop_margin_deg must be a number > 0, got 0.0"),
    (dict(pelvic_rotation_margin_deg=math.nan), r"pelvic_rotation_margin_deg must be a number"),
    (dict(trunk_twist_margin_deg=-2.0), r"trunk_twist_margin_deg must be a number > 0"),
    (dict(coupling_tol_strides=0.25), r"coupling_tol_strides must be in \(0, 0.25\), got 0.25"),
    (dict(coupling_min_baseline_pct=101.0), r"coupling_min_baseline_pct must be in \(0, 100\]"),
    (dict(coupling_drop_pct=70.0),
     r"coupling_drop_pct must be in \(0, coupling_min_baseline_pct \(70.0\)\), got 70.0"),
])
def test_params_validation(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        AlertParams(**kw)


@pytest.mark.parametrize(("alerts", "key", "expected"), [
    ({"trunk_twist_margin_deg": 0.0}, "alerts.trunk_twist_margin_deg", "a number in (0, 45)"),
    ({"pelvic_drop_margin_deg": "2"}, "alerts.pelvic_drop_margin_deg", "a number"),
    ({"pelvic_rotation_margin_deg": 50}, "alerts.pelvic_rotation_margin_deg",
     "a number in (0, 45)"),
    ({"coupling_tol_strides": 0.3}, "alerts.coupling_tol_strides", "a number in (0, 0.25)"),
    ({"coupling_min_baseline_pct": 0}, "alerts.coupling_min_baseline_pct",
     "a number in (0, 100]"),
    ({"coupling_drop_pct": 80.0}, "alerts.coupling_drop_pct",
     "a number below alerts.coupling_min_baseline_pct (70)"),
    ({"coupling_drop_pct": 50.0, "coupling_min_baseline_pct": 50.0},
     "alerts.coupling_drop_pct", "a number below alerts.coupling_min_baseline_pct (50)"),
    ({"climb_lean_deg": 0}, "alerts.climb_lean_deg", "a number in (0, 45)"),
    ({"hysteresis_frac": 1.0}, "alerts.hysteresis_frac", "a number in [0, 1)"),
    ({"severity2_excess": 0.5}, "alerts.severity2_excess", "a number in [1, 10]"),
    ({"severity3_excess": 1.2}, "alerts.severity3_excess",
     "a number >= alerts.severity2_excess (1.5)"),
])
def test_config_validation_names_key_value_expected(alerts: dict[str, Any], key: str,
                                                    expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        from_dict({"alerts": alerts})
    assert e.value.key == key and e.value.expected == expected
    assert key in str(e.value) and expected in str(e.value)


def test_config_new_thresholds_reach_the_rule() -> None:
    cfg = from_dict({"alerts": {"pelvic_drop_margin_deg": 1.5, "coupling_drop_pct": 30.0}})
    p = AlertParams.from_config(cfg.alerts)
    assert (p.pelvic_drop_margin_deg, p.coupling_drop_pct) == (1.5, 30.0)


def test_config_climb_severity_hysteresis_reach_the_rule() -> None:
    cfg = from_dict({"alerts": {"climb_lean_deg": 3.5, "climb_cadence_tol_spm": 5.0,
                                "severity2_excess": 1.2, "severity3_excess": 3.0,
                                "hysteresis_frac": 0.1}})
    p = AlertParams.from_config(cfg.alerts)
    assert (p.climb_lean_deg, p.climb_cadence_tol_spm, p.severity2_excess,
            p.severity3_excess, p.hysteresis_frac) == (3.5, 5.0, 1.2, 3.0, 0.1)
