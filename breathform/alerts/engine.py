"""The headline rule: breathless AND form degraded, sustained, against personal baselines.

Pure and deterministic (no I/O, no asyncio): frozen ``AlertParams``, frozen ``AlertState``
and a pure ``step`` over the 1 Hz ``Metrics`` stream. ``step`` handles one row at a time, so
feeding the rows one by one or all at once gives the same alerts and the same final state.

The rules, as implemented:

1. **Baseline** ("fresh form"). A second is a *baseline second* when it is not
   ``warming_up``, has ``breath_quality >= min_quality`` and finite ``rate_bpm``,
   ``pelvic_tilt_deg`` and ``trunk_lean_deg`` (the rule needs both sides). Baseline seconds
   with ``baseline_start_s <= t_s <= baseline_start_s + baseline_len_s`` are collected; at
   the first row with ``t_s >= baseline_start_s + baseline_len_s`` the baseline is formed
   if at least ``ceil(baseline_min_valid_frac * baseline_len_s)`` baseline seconds were
   collected. Otherwise collection goes on past the window, one baseline second at a time,
   until there are that many. The baseline of each of ``rate_bpm``, ``depth_rel``,
   ``pelvic_tilt_deg``, ``trunk_lean_deg``, ``cadence_spm``, ``pelvic_drop_range_deg``,
   ``pelvic_rotation_range_deg`` and ``trunk_twist_range_deg`` is the median of its finite
   values among the collected seconds (NaN when none: ``depth_rel`` NaN disables the
   rapid-shallow criterion, ``cadence_spm`` NaN makes the climb test use lean alone, a
   range NaN, e.g. trunk twist from a Polar H10 that has no gyroscope, disables that
   range's criterion). The baseline *coupling index* is the percentage of the collected
   seconds with a known ``strides_per_breath`` that were *locked* (see 3.).
   The buffer never holds more than ``ceil(baseline_len_s) + 1`` seconds; if it fills (only
   possible with rows faster than 1 Hz) the baseline is formed from it. No criterion is
   evaluated, and no alert fires, before the baseline exists.

2. **Smoothing.** Every criterion is judged on the *median* of the last ``smooth_s``
   seconds (default ``hold_s``; at most ``round(smooth_s)`` rows), over the rows where that
   metric is valid: breathing values need ``not warming_up``, ``breath_quality >=
   min_quality`` and a finite value; posture values need ``not warming_up`` and a finite
   value. The coupling index is not a median but the percentage of locked seconds among
   the window's valid ones (breathing validity and a finite ``strides_per_breath``),
   under the same minimum row count. A median (or index) needs at least
   ``ceil(min_valid_frac * smooth_s)`` valid rows, else it is unknown. A single noisy
   second cannot move a median of three or more rows past a threshold (nor the coupling
   index of a 10-s window by more than 10 points), so it neither fires nor resets an
   episode.

3. **Criteria** (each a latch with hysteresis; ``h = hysteresis_frac``):

   - ``rate_high``: on when rate > ``b_rate * (1 + rate_margin_rel)``; off when rate
     falls below that threshold minus ``h * b_rate * rate_margin_rel``.
   - ``rapid_shallow``: on when rate > ``b_rate * (1 + rate_margin_rel / 2)`` and depth <
     ``b_depth * (1 - depth_drop_rel)``; off when the rate falls below its threshold minus
     ``h * b_rate * rate_margin_rel / 2`` or the depth rises above its threshold plus
     ``h * b_depth * depth_drop_rel``.
   - ``pelvic_tilt_anterior``: on when tilt > ``b_tilt + pelvic_tilt_margin_deg``; off
     below that minus ``h * pelvic_tilt_margin_deg``.
   - ``coupling_lost`` (loss of breath-stride coupling): a second is *locked* when its
     ``strides_per_breath`` lies within ``coupling_tol_strides`` of a locking ratio k/2
     (k = 2..8 steps per breath: 1, 1.5, 2, ... 4 strides, i.e. the 2:2, 3:2, 2:1 ...
     patterns). The coupling index is the percentage of locked seconds (window, baseline):
     a stable ratio at a small-integer pattern scores near 100, a ratio that wanders with
     an uncoupled rate scores near the chance level (about ``4 * coupling_tol_strides``,
     20 % by default). Applies only to a runner who couples when fresh: baseline index
     ``b_cpl >= coupling_min_baseline_pct``. On when the index < ``b_cpl -
     coupling_drop_pct``; off above that plus ``h * coupling_drop_pct``. Switching from
     one locked pattern to another (3:3 to 2:2 on a rise) stays locked.
   - ``pelvic_tilt_anterior``: on when tilt > ``b_tilt + pelvic_tilt_margin_deg``; off
     below that minus ``h * pelvic_tilt_margin_deg``.
   - ``trunk_flexion``: on when lean > ``b_lean + trunk_lean_margin_deg``; off below that
     minus ``h * trunk_lean_margin_deg``.
   - ``pelvic_drop``, ``pelvic_rotation``, ``trunk_twist``: on when the range per stride
     (``pelvic_drop_range_deg``, ``pelvic_rotation_range_deg``, ``trunk_twist_range_deg``)
     > its baseline + ``pelvic_drop_margin_deg`` (``pelvic_rotation_margin_deg``,
     ``trunk_twist_margin_deg``); off below that minus ``h`` times the margin. A range that
     is NaN (no gyroscope on that sensor) is never evaluated: that criterion stays off
     and the others work as without it.

   Breathless = ``rate_high or rapid_shallow or coupling_lost``; form degraded = any of
   the five form criteria (``FORM_RULES``).

4. **Missing / low-quality seconds** neither confirm nor break. A latch is only
   re-evaluated in a second whose own row is valid for it (breathing; posture: that
   metric finite) and whose smoothed value and baseline are known; otherwise it keeps its
   previous value. The hold counter advances only in a second where the breathing side
   (rate) and at least one form criterion were re-evaluated; a second where either side
   lacks data leaves it unchanged (it is not reset either).

5. **Hold and episode.** While breathless and form degraded both stay on, each
   confirming second adds 1 s to ``held_s`` (the stream is 1 Hz). When either turns off
   (which, thanks to hysteresis, needs the values back below threshold minus the band),
   the episode ends: ``held_s`` and the episode's alert count return to 0, so a new
   episode must hold again.

6. **Firing.** In a confirming second with ``held_s >= hold_s``, at least
   ``cooldown_s`` since the previous alert (of any episode), and at least one breathing
   and one form criterion *met now* (smoothed value beyond its on-threshold, not merely
   latched inside the hysteresis band), an ``Alert`` of kind ``"breathless_form"`` fires.
   Its causes are exactly the criteria met now. While the same episode persists, it fires
   again each time the cooldown has passed, one severity level higher each time (capped
   at 3); an episode idling in the hysteresis band does not fire but does not end either.

7. **Severity.** Each cause's *excess* is its distance from the baseline in units of its
   threshold distance (1.0 = just at the threshold). The breathing side's excess is the
   largest of its causes, likewise the form side; the alert's excess is the smaller of the
   two (both must be bad). Severity is 3 at ``>= severity3_excess``, 2 at ``>=
   severity2_excess``, else 1; plus one per earlier alert in the same episode, capped at 3.

8. **Climb context** (heuristic): climbing when the smoothed trunk lean is at least
   ``climb_lean_deg`` above its baseline and cadence is up or steady (smoothed cadence >=
   baseline - ``climb_cadence_tol_spm``; lean alone when cadence is unknown). Runners lean
   into a hill and shorten the stride, so cadence holds or rises; fatigue on the flat tends
   to fold the trunk while cadence drops.

9. **Cue.** Climbing: the hill cue. Otherwise the form cause with the largest excess picks
   the cue (pelvis, trunk, hips level, hips forward, shoulders), in a variant that also
   mentions breathing deep when the breathing side includes the rapid-shallow pattern, or
   breathing in time with the steps when it includes lost coupling. See
   ``breathform.alerts.cues``.

Cause values are the smoothed values at the time the alert fired: medians, except
``coupling_lost`` whose value, baseline and threshold are coupling indices in percent
(``Cause.metric`` is ``"breath_stride_coupling_pct"``, unit ``"pct"``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from breathform.alerts.cues import choose_cue, excess
from breathform.errors import InputError
from breathform.model import Alert, Cause, Metrics

ALERT_KIND = "breathless_form"
"""``Alert.kind`` of the headline rule."""

BREATH_CAUSES: frozenset[str] = frozenset(
    {"rate_high", "rate_elevated", "breath_shallow", "coupling_lost"})
"""Cause names on the breathing side."""

FORM_CAUSES: frozenset[str] = frozenset(
    {"pelvic_tilt_anterior", "trunk_flexion", "pelvic_drop", "pelvic_rotation", "trunk_twist"})
"""Cause names on the form side."""

COUPLING_METRIC = "breath_stride_coupling_pct"
"""``Cause.metric`` of ``coupling_lost``: the coupling index derived from
``Metrics.strides_per_breath`` (percent of locked seconds; see ``locked``)."""


def _check(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise InputError(f"AlertParams.{name} must be {expected}, got {value!r}")


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """The rule's thresholds that the ``[alerts]`` config table sets.

    ``breathform.config.AlertsConfig`` is this class (names, defaults and order are the
    config file's keys); ``AlertParams`` extends it with local tuning. Validation: the
    config checks each key's range (``ConfigError``), ``AlertParams`` everything again.

    Attributes:
        baseline_start_s: Session time from which the baseline is collected.
        baseline_len_s: Length of the baseline window.
        rate_margin_rel: Breathless when rate > baseline * (1 + margin).
        depth_drop_rel: Shallow when depth < baseline depth * (1 - drop).
        pelvic_tilt_margin_deg: Anterior tilt beyond baseline + this is degraded form.
        trunk_lean_margin_deg: Trunk lean beyond baseline + this is degraded form.
        hold_s: Both states must hold this many (confirming) seconds.
        cooldown_s: Minimum time between two alerts.
        min_quality: Breathing estimates below this quality are ignored.
        pelvic_drop_margin_deg: Pelvic drop range per stride beyond baseline + this is
            degraded form (skipped without a sacrum gyroscope).
        pelvic_rotation_margin_deg: Pelvic rotation range per stride beyond baseline +
            this is degraded form (skipped without a sacrum gyroscope).
        trunk_twist_margin_deg: Trunk twist range per stride beyond baseline + this is
            degraded form (skipped without a chest gyroscope, e.g. a Polar H10).
        coupling_tol_strides: A second is breath-stride *locked* when strides_per_breath
            is within this of a locking ratio k/2 (k = 2..8: 1, 1.5 ... 4 strides/breath).
        coupling_min_baseline_pct: The coupling criterion applies only to a runner whose
            baseline coupling index is at least this (percent of locked seconds).
        coupling_drop_pct: Coupling lost when the index falls below baseline minus this
            (percentage points; must be below ``coupling_min_baseline_pct``).
        hysteresis_frac: A latched criterion clears only below its threshold minus this
            fraction of its margin.
        climb_lean_deg: Trunk lean rise over baseline that suggests a climb.
        climb_cadence_tol_spm: Cadence may drop this much below baseline and still count
            as "steady" for the climb test.
        severity2_excess: Excess (in threshold units) from which severity is 2.
        severity3_excess: Excess from which severity is 3.
    """

    baseline_start_s: float = 90.0
    baseline_len_s: float = 120.0
    rate_margin_rel: float = 0.25
    depth_drop_rel: float = 0.3
    pelvic_tilt_margin_deg: float = 3.0
    trunk_lean_margin_deg: float = 4.0
    hold_s: float = 10.0
    cooldown_s: float = 90.0
    min_quality: float = 0.3
    pelvic_drop_margin_deg: float = 2.0
    pelvic_rotation_margin_deg: float = 3.0
    trunk_twist_margin_deg: float = 4.0
    coupling_tol_strides: float = 0.05
    coupling_min_baseline_pct: float = 70.0
    coupling_drop_pct: float = 40.0
    hysteresis_frac: float = 0.25
    climb_lean_deg: float = 2.0
    climb_cadence_tol_spm: float = 2.0
    severity2_excess: float = 1.5
    severity3_excess: float = 2.0


@dataclass(frozen=True, slots=True)
class AlertParams(AlertThresholds):
    """Thresholds and tuning of the breathless-and-form rule.

    The thresholds of ``AlertThresholds`` (the config file's ``[alerts]`` keys, see there)
    plus local tuning with documented defaults (not in the config file yet).

    Attributes:
        smooth_s: Length of the median window the criteria are judged on; None means
            ``hold_s``.
        min_valid_frac: A smoothed value needs at least this fraction of ``smooth_s`` as
            valid rows.
        baseline_min_valid_frac: The baseline needs at least this fraction of
            ``baseline_len_s`` as valid seconds.
    """

    smooth_s: float | None = None
    min_valid_frac: float = 0.5
    baseline_min_valid_frac: float = 0.5

    def __post_init__(self) -> None:
        def fin(x: float) -> bool:
            return isinstance(x, (int, float)) and math.isfinite(x)

        _check(fin(self.baseline_start_s) and self.baseline_start_s >= 0,
               "baseline_start_s", self.baseline_start_s, "a finite number >= 0")
        _check(fin(self.baseline_len_s) and self.baseline_len_s >= 1,
               "baseline_len_s", self.baseline_len_s, "a finite number >= 1 (seconds)")
        _check(fin(self.rate_margin_rel) and 0 < self.rate_margin_rel < 2,
               "rate_margin_rel", self.rate_margin_rel, "in (0, 2)")
        _check(fin(self.depth_drop_rel) and 0 < self.depth_drop_rel < 1,
               "depth_drop_rel", self.depth_drop_rel, "in (0, 1)")
        _check(fin(self.pelvic_tilt_margin_deg) and self.pelvic_tilt_margin_deg > 0,
               "pelvic_tilt_margin_deg", self.pelvic_tilt_margin_deg, "a number > 0")
        _check(fin(self.trunk_lean_margin_deg) and self.trunk_lean_margin_deg > 0,
               "trunk_lean_margin_deg", self.trunk_lean_margin_deg, "a number > 0")
        _check(fin(self.hold_s) and self.hold_s >= 1,
               "hold_s", self.hold_s, "a finite number >= 1 (seconds)")
        _check(fin(self.cooldown_s) and self.cooldown_s >= 0,
               "cooldown_s", self.cooldown_s, "a finite number >= 0")
        _check(fin(self.min_quality) and 0 <= self.min_quality <= 1,
               "min_quality", self.min_quality, "in [0, 1]")
        for name in ("pelvic_drop_margin_deg", "pelvic_rotation_margin_deg",
                     "trunk_twist_margin_deg"):
            v = getattr(self, name)
            _check(fin(v) and v > 0, name, v, "a number > 0")
        _check(fin(self.coupling_tol_strides) and 0 < self.coupling_tol_strides < 0.25,
               "coupling_tol_strides", self.coupling_tol_strides, "in (0, 0.25)")
        _check(fin(self.coupling_min_baseline_pct)
               and 0 < self.coupling_min_baseline_pct <= 100,
               "coupling_min_baseline_pct", self.coupling_min_baseline_pct, "in (0, 100]")
        _check(fin(self.coupling_drop_pct)
               and 0 < self.coupling_drop_pct < self.coupling_min_baseline_pct,
               "coupling_drop_pct", self.coupling_drop_pct,
               f"in (0, coupling_min_baseline_pct ({self.coupling_min_baseline_pct}))")
        _check(self.smooth_s is None or (fin(self.smooth_s) and self.smooth_s >= 1),
               "smooth_s", self.smooth_s, "None or a finite number >= 1 (seconds)")
        _check(fin(self.min_valid_frac) and 0 < self.min_valid_frac <= 1,
               "min_valid_frac", self.min_valid_frac, "in (0, 1]")
        _check(fin(self.baseline_min_valid_frac) and 0 < self.baseline_min_valid_frac <= 1,
               "baseline_min_valid_frac", self.baseline_min_valid_frac, "in (0, 1]")
        _check(fin(self.hysteresis_frac) and 0 <= self.hysteresis_frac < 1,
               "hysteresis_frac", self.hysteresis_frac, "in [0, 1)")
        _check(fin(self.climb_lean_deg) and self.climb_lean_deg > 0,
               "climb_lean_deg", self.climb_lean_deg, "a number > 0")
        _check(fin(self.climb_cadence_tol_spm) and self.climb_cadence_tol_spm >= 0,
               "climb_cadence_tol_spm", self.climb_cadence_tol_spm, "a number >= 0")
        _check(fin(self.severity2_excess) and self.severity2_excess >= 1,
               "severity2_excess", self.severity2_excess, "a number >= 1")
        _check(fin(self.severity3_excess) and self.severity3_excess >= self.severity2_excess,
               "severity3_excess", self.severity3_excess,
               f"a number >= severity2_excess ({self.severity2_excess})")

    @classmethod
    def from_config(cls, cfg: AlertThresholds, **local: Any) -> AlertParams:
        """Build the params from the ``[alerts]`` config table.

        Args:
            cfg: The validated alerts config.
            **local: Overrides of the local tuning fields (``smooth_s``,
                ``hysteresis_frac``, ...).

        Returns:
            The validated params.

        Raises:
            InputError: If a value is out of range or ``local`` names an unknown field.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(local) - known)
        if unknown:
            raise InputError(f"unknown AlertParams field(s) {unknown}; known: {sorted(known)}")
        # AlertsConfig is AlertThresholds: every one of its fields is a param.
        from_cfg = {f.name: getattr(cfg, f.name) for f in fields(AlertThresholds)}
        return cls(**{**from_cfg, **local})

    @property
    def smooth_window_s(self) -> float:
        """The effective smoothing window in seconds."""
        return self.hold_s if self.smooth_s is None else self.smooth_s

    @property
    def smooth_max_rows(self) -> int:
        """Most rows the smoothing window holds."""
        return max(1, round(self.smooth_window_s))

    @property
    def smooth_min_rows(self) -> int:
        """Fewest valid rows a smoothed value needs."""
        return max(1, math.ceil(self.min_valid_frac * self.smooth_window_s - 1e-9))

    @property
    def baseline_end_s(self) -> float:
        """End of the baseline window (session seconds)."""
        return self.baseline_start_s + self.baseline_len_s

    @property
    def baseline_min_rows(self) -> int:
        """Fewest valid seconds the baseline needs."""
        return max(1, math.ceil(self.baseline_min_valid_frac * self.baseline_len_s - 1e-9))

    @property
    def baseline_max_rows(self) -> int:
        """Most seconds the baseline buffer holds."""
        return math.ceil(self.baseline_len_s) + 1


@dataclass(frozen=True, slots=True)
class Baseline:
    """The runner's fresh-form baseline (medians over the baseline seconds).

    Attributes:
        rate_bpm: Breathing rate.
        depth_rel: Breath depth relative to rest (NaN when unknown).
        pelvic_tilt_deg: Pelvic tilt, + anterior.
        trunk_lean_deg: Trunk lean, + forward.
        cadence_spm: Cadence (NaN when unknown).
        n_s: How many seconds it was formed from.
        pelvic_drop_range_deg: Pelvic drop range per stride (NaN without a sacrum gyro).
        pelvic_rotation_range_deg: Pelvic rotation range per stride (NaN likewise).
        trunk_twist_range_deg: Trunk twist range per stride (NaN without a chest gyro).
        coupling_pct: Breath-stride coupling index, percent of the baseline seconds that
            were locked (NaN when strides_per_breath was never known).
    """

    rate_bpm: float
    depth_rel: float
    pelvic_tilt_deg: float
    trunk_lean_deg: float
    cadence_spm: float
    n_s: int
    pelvic_drop_range_deg: float = math.nan
    pelvic_rotation_range_deg: float = math.nan
    trunk_twist_range_deg: float = math.nan
    coupling_pct: float = math.nan


@dataclass(frozen=True, slots=True)
class AlertState:
    """Everything that carries over between calls of ``step``; plain data only.

    Buffers are tuples (bounded: baseline ``<= ceil(baseline_len_s) + 1`` rows, smoothing
    window ``<= round(smooth_s)`` rows). Invalid values are stored as NaN; the ``coupled``
    columns hold 1.0 (locked second), 0.0 (not locked) or NaN (unknown).
    ``dataclasses.asdict`` gives a snapshot; ``AlertState.from_dict`` restores it.
    """

    n_seen: int = 0
    last_t_s: float = math.nan
    bl_rate_bpm: tuple[float, ...] = ()
    bl_depth_rel: tuple[float, ...] = ()
    bl_pelvic_tilt_deg: tuple[float, ...] = ()
    bl_trunk_lean_deg: tuple[float, ...] = ()
    bl_cadence_spm: tuple[float, ...] = ()
    bl_pelvic_drop_range_deg: tuple[float, ...] = ()
    bl_pelvic_rotation_range_deg: tuple[float, ...] = ()
    bl_trunk_twist_range_deg: tuple[float, ...] = ()
    bl_coupled: tuple[float, ...] = ()
    baseline_ready: bool = False
    base_rate_bpm: float = math.nan
    base_depth_rel: float = math.nan
    base_pelvic_tilt_deg: float = math.nan
    base_trunk_lean_deg: float = math.nan
    base_cadence_spm: float = math.nan
    base_pelvic_drop_range_deg: float = math.nan
    base_pelvic_rotation_range_deg: float = math.nan
    base_trunk_twist_range_deg: float = math.nan
    base_coupling_pct: float = math.nan
    base_n_s: int = 0
    win_t_s: tuple[float, ...] = ()
    win_rate_bpm: tuple[float, ...] = ()
    win_depth_rel: tuple[float, ...] = ()
    win_pelvic_tilt_deg: tuple[float, ...] = ()
    win_trunk_lean_deg: tuple[float, ...] = ()
    win_cadence_spm: tuple[float, ...] = ()
    win_pelvic_drop_range_deg: tuple[float, ...] = ()
    win_pelvic_rotation_range_deg: tuple[float, ...] = ()
    win_trunk_twist_range_deg: tuple[float, ...] = ()
    win_coupled: tuple[float, ...] = ()
    rate_high_on: bool = False
    rapid_shallow_on: bool = False
    coupling_lost_on: bool = False
    tilt_on: bool = False
    lean_on: bool = False
    drop_on: bool = False
    rotation_on: bool = False
    twist_on: bool = False
    held_s: float = 0.0
    episode_alerts: int = 0
    last_alert_t_s: float = math.nan
    n_alerts: int = 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AlertState:
        """Restore a state from ``dataclasses.asdict`` output (lists accepted for tuples).

        Raises:
            InputError: If keys are missing or unknown.
        """
        names = [f.name for f in fields(cls)]
        missing = sorted(set(names) - set(d))
        extra = sorted(set(d) - set(names))
        if missing or extra:
            raise InputError(f"AlertState snapshot: missing keys {missing}, unknown keys {extra}")
        kw: dict[str, Any] = {
            k: tuple(float(x) for x in v) if isinstance(v, (list, tuple)) else v
            for k, v in d.items()}
        return cls(**kw)


@dataclass(frozen=True, slots=True)
class _FormRule:
    """One form criterion: ``metric`` above its baseline by the margin ``margin``."""

    cause: str    # Cause.name
    metric: str   # Metrics field; the state holds bl_<metric>, base_<metric>, win_<metric>
    margin: str   # AlertParams field: the margin in degrees
    latch: str    # AlertState field: the latch


FORM_RULES: tuple[_FormRule, ...] = (
    _FormRule("pelvic_tilt_anterior", "pelvic_tilt_deg", "pelvic_tilt_margin_deg", "tilt_on"),
    _FormRule("trunk_flexion", "trunk_lean_deg", "trunk_lean_margin_deg", "lean_on"),
    _FormRule("pelvic_drop", "pelvic_drop_range_deg", "pelvic_drop_margin_deg", "drop_on"),
    _FormRule("pelvic_rotation", "pelvic_rotation_range_deg", "pelvic_rotation_margin_deg",
              "rotation_on"),
    _FormRule("trunk_twist", "trunk_twist_range_deg", "trunk_twist_margin_deg", "twist_on"),
)
"""The form criteria in cause order (also the cue's order of preference on a tie)."""

# Posture columns of the baseline and smoothing buffers (cadence: climb context only).
_POSTURE: tuple[str, ...] = (*(r.metric for r in FORM_RULES[:2]), "cadence_spm",
                             *(r.metric for r in FORM_RULES[2:]))


def init_state(p: AlertParams) -> AlertState:
    """The state at the start of a session (no baseline yet).

    Args:
        p: The rule's params (unused today; kept for the uniform processor API).
    """
    del p
    return AlertState()


def baseline_of(s: AlertState) -> Baseline | None:
    """The baseline the state has formed, or None while it is still being collected."""
    if not s.baseline_ready:
        return None
    return Baseline(s.base_rate_bpm, s.base_depth_rel, s.base_pelvic_tilt_deg,
                    s.base_trunk_lean_deg, s.base_cadence_spm, s.base_n_s,
                    s.base_pelvic_drop_range_deg, s.base_pelvic_rotation_range_deg,
                    s.base_trunk_twist_range_deg, s.base_coupling_pct)


def _fin(x: float) -> bool:
    return math.isfinite(x)


def _median(values: Sequence[float], min_n: int) -> float:
    good = sorted([v for v in values if math.isfinite(v)])
    n = len(good)
    if n < min_n:
        return math.nan
    if n == 0:
        return float(statistics.median(good))  # raises as it does
    # statistics.median's own arithmetic, without its call overhead (runs ~10x a second)
    i = n // 2
    return float(good[i]) if n % 2 else float((good[i - 1] + good[i]) / 2)


def _pct(values: Sequence[float], min_n: int) -> float:
    """Percent of the known (finite) values that are 1.0; NaN with fewer than min_n."""
    good = [v for v in values if math.isfinite(v)]
    if len(good) < min_n:
        return math.nan
    return 100.0 * sum(good) / len(good)


def _breath_ok(p: AlertParams, m: Metrics) -> bool:
    return (not m.warming_up) and m.breath_quality >= p.min_quality and _fin(m.rate_bpm)


def _posture(m: Metrics, x: float) -> float:
    return x if (not m.warming_up and _fin(x)) else math.nan


def locked(p: AlertParams, strides_per_breath: float) -> float:
    """Whether one second is breath-stride locked: 1.0, 0.0, or NaN when unknown.

    Locked means ``strides_per_breath`` lies within ``coupling_tol_strides`` of a locking
    ratio k/2 strides (k steps) per breath, k = 2..8: the 2:2 (2 strides), 3:2 (2.5),
    2:1 (1.5) ... patterns runners fall into (Bramble & Carrier 1983, Science 219:251).

    Args:
        p: The rule's params.
        strides_per_breath: The second's strides per breath.
    """
    if not _fin(strides_per_breath):
        return math.nan
    k = round(2.0 * strides_per_breath)
    ok = 2 <= k <= 8 and abs(strides_per_breath - k / 2.0) <= p.coupling_tol_strides
    return 1.0 if ok else 0.0


def _coupled(p: AlertParams, m: Metrics) -> float:
    return locked(p, m.strides_per_breath) if _breath_ok(p, m) else math.nan


def _update_baseline(p: AlertParams, s: AlertState, m: Metrics) -> AlertState:
    valid = (_breath_ok(p, m) and _fin(m.pelvic_tilt_deg) and _fin(m.trunk_lean_deg))
    n = len(s.bl_rate_bpm)
    in_window = p.baseline_start_s <= m.t_s <= p.baseline_end_s
    late = m.t_s > p.baseline_end_s and n < p.baseline_min_rows
    if valid and (in_window or late) and n < p.baseline_max_rows:
        add: dict[str, Any] = {
            "bl_rate_bpm": (*s.bl_rate_bpm, m.rate_bpm),
            "bl_depth_rel": (*s.bl_depth_rel, m.depth_rel),
            "bl_coupled": (*s.bl_coupled, _coupled(p, m))}
        for name in _POSTURE:
            add[f"bl_{name}"] = (*getattr(s, f"bl_{name}"), getattr(m, name))
        s = replace(s, **add)
        n += 1
    full = n >= p.baseline_max_rows
    if not (full or (m.t_s >= p.baseline_end_s and n >= p.baseline_min_rows)):
        return s
    done: dict[str, Any] = {
        "baseline_ready": True, "base_n_s": n,
        "base_rate_bpm": _median(s.bl_rate_bpm, 1), "bl_rate_bpm": (),
        "base_depth_rel": _median(s.bl_depth_rel, 1), "bl_depth_rel": (),
        "base_coupling_pct": _pct(s.bl_coupled, 1), "bl_coupled": ()}
    for name in _POSTURE:
        done[f"base_{name}"] = _median(getattr(s, f"bl_{name}"), 1)
        done[f"bl_{name}"] = ()
    return replace(s, **done)


_WIN: tuple[str, ...] = ("t_s", "rate_bpm", "depth_rel", "coupled", *_POSTURE)
"""Columns of the smoothing window (state fields ``win_<name>``)."""


class _Window:
    """The smoothing window of one :func:`step` call, as lists.

    The state fields ``win_<name>``, ``n_seen`` and ``last_t_s``, written back to the
    state once at the end of the call.
    """

    __slots__ = ("cols", "n_seen", "last_t_s")

    def __init__(self, s: AlertState) -> None:
        self.cols: dict[str, list[float]] = {name: list(getattr(s, f"win_{name}"))
                                             for name in _WIN}
        self.n_seen = s.n_seen
        self.last_t_s = s.last_t_s

    def push(self, p: AlertParams, m: Metrics) -> None:
        """Add the row to the window (and count it)."""
        ok = _breath_ok(p, m)
        row = [m.t_s,
               m.rate_bpm if ok else math.nan,
               m.depth_rel if ok and _fin(m.depth_rel) else math.nan,
               _coupled(p, m),
               *(_posture(m, getattr(m, name)) for name in _POSTURE)]
        # Keep rows inside the window (half a second of slack for timing jitter), and never
        # more than the window's nominal row count (bounded even for rows faster than 1 Hz).
        # Times increase (step checks), so the rows kept are the newest ones.
        oldest_s = m.t_s - p.smooth_window_s - 0.5
        n_keep = p.smooth_max_rows - 1
        t = self.cols["t_s"]
        n_in = sum(1 for x in t if x > oldest_s)
        drop = len(t) - (min(n_in, n_keep) if n_keep > 0 else 0)
        for name, v in zip(_WIN, row, strict=True):
            col = self.cols[name]
            del col[:drop]
            col.append(v)
        self.n_seen += 1
        self.last_t_s = m.t_s

    def into(self, s: AlertState) -> AlertState:
        """The state with this window."""
        new: dict[str, Any] = {f"win_{name}": tuple(col) for name, col in self.cols.items()}
        return replace(s, n_seen=self.n_seen, last_t_s=self.last_t_s, **new)


def _latch_above(on: bool, x: float, on_thr: float, off_thr: float) -> bool:
    return x > on_thr if not on else not x < off_thr


def _latch_below(on: bool, x: float, on_thr: float, off_thr: float) -> bool:
    return x < on_thr if not on else not x > off_thr


@dataclass(frozen=True, slots=True)
class _Smoothed:
    rate_bpm: float
    depth_rel: float
    coupling_pct: float
    posture: dict[str, float]   # Metrics field -> smoothed value

    @property
    def trunk_lean_deg(self) -> float:
        return self.posture["trunk_lean_deg"]

    @property
    def cadence_spm(self) -> float:
        return self.posture["cadence_spm"]


def _smoothed(p: AlertParams, s: AlertState) -> _Smoothed:
    return _smoothed_cols(p, {name: getattr(s, f"win_{name}") for name in _WIN})


def _smoothed_cols(p: AlertParams, cols: Mapping[str, Sequence[float]],
                   names: Sequence[str] = _POSTURE) -> _Smoothed:
    """The smoothed values; of the posture columns only those in ``names``.

    The criteria need all but the cadence, which only the climb context uses.
    """
    k = p.smooth_min_rows
    return _Smoothed(_median(cols["rate_bpm"], k), _median(cols["depth_rel"], k),
                     _pct(cols["coupled"], k),
                     {name: _median(cols[name], k) for name in names})


_FORM_METRICS: tuple[str, ...] = tuple(r.metric for r in FORM_RULES)
"""The posture columns the criteria judge (``_POSTURE`` without the cadence)."""


@dataclass(frozen=True, slots=True)
class _Thresholds:
    rate_on: float
    rate_off: float
    rs_rate_on: float
    rs_rate_off: float
    depth_on: float
    depth_off: float
    coupling_on: float          # NaN when the runner's baseline is not coupled enough
    coupling_off: float
    form: dict[str, tuple[float, float]]   # form cause -> (on, off)


def _thresholds(p: AlertParams, s: AlertState) -> _Thresholds:
    h = p.hysteresis_frac
    b_rate, b_depth = s.base_rate_bpm, s.base_depth_rel
    rate_on = b_rate * (1 + p.rate_margin_rel)
    rs_rate_on = b_rate * (1 + p.rate_margin_rel / 2)
    depth_on = b_depth * (1 - p.depth_drop_rel)
    coupled = (_fin(s.base_coupling_pct)
               and s.base_coupling_pct >= p.coupling_min_baseline_pct)
    coupling_on = s.base_coupling_pct - p.coupling_drop_pct if coupled else math.nan
    form: dict[str, tuple[float, float]] = {}
    for r in FORM_RULES:
        margin = float(getattr(p, r.margin))
        on = float(getattr(s, f"base_{r.metric}")) + margin
        form[r.cause] = (on, on - h * margin)
    return _Thresholds(
        rate_on=rate_on, rate_off=rate_on - h * b_rate * p.rate_margin_rel,
        rs_rate_on=rs_rate_on, rs_rate_off=rs_rate_on - h * b_rate * p.rate_margin_rel / 2,
        depth_on=depth_on, depth_off=depth_on + h * b_depth * p.depth_drop_rel,
        coupling_on=coupling_on, coupling_off=coupling_on + h * p.coupling_drop_pct,
        form=form,
    )


def is_climbing(p: AlertParams, s: AlertState) -> bool:
    """Climb context from the smoothed trunk lean and cadence (heuristic, see module doc).

    Args:
        p: The rule's params.
        s: The current state.

    Returns:
        True when the trunk leans at least ``climb_lean_deg`` more than at baseline and
        cadence is up or steady; False before the baseline exists or when lean is unknown.
    """
    if not s.baseline_ready:
        return False
    return _climbing(p, s, _smoothed(p, s))


def _climbing(p: AlertParams, s: AlertState, sm: _Smoothed) -> bool:
    """:func:`is_climbing` with the smoothed values given (baseline ready)."""
    if not (_fin(sm.trunk_lean_deg) and _fin(s.base_trunk_lean_deg)):
        return False
    if sm.trunk_lean_deg - s.base_trunk_lean_deg < p.climb_lean_deg:
        return False
    if not (_fin(sm.cadence_spm) and _fin(s.base_cadence_spm)):
        return True
    return sm.cadence_spm >= s.base_cadence_spm - p.climb_cadence_tol_spm


def _causes(s: AlertState, sm: _Smoothed, th: _Thresholds) -> tuple[Cause, ...]:
    """Criteria met *now* (smoothed value beyond the on-threshold), not merely latched."""
    out: list[Cause] = []
    rate_high = sm.rate_bpm > th.rate_on
    if rate_high:
        out.append(Cause("rate_high", "rate_bpm", sm.rate_bpm, s.base_rate_bpm,
                         th.rate_on, "bpm"))
    if sm.rate_bpm > th.rs_rate_on and sm.depth_rel < th.depth_on:
        if not rate_high:
            out.append(Cause("rate_elevated", "rate_bpm", sm.rate_bpm, s.base_rate_bpm,
                             th.rs_rate_on, "bpm"))
        out.append(Cause("breath_shallow", "depth_rel", sm.depth_rel, s.base_depth_rel,
                         th.depth_on, "rel"))
    if sm.coupling_pct < th.coupling_on:  # False when either is NaN
        out.append(Cause("coupling_lost", COUPLING_METRIC, sm.coupling_pct,
                         s.base_coupling_pct, th.coupling_on, "pct"))
    for r in FORM_RULES:
        value, on = sm.posture[r.metric], th.form[r.cause][0]
        if value > on:
            out.append(Cause(r.cause, r.metric, value, float(getattr(s, f"base_{r.metric}")),
                             on, "deg"))
    return tuple(out)


def severity_of(p: AlertParams, causes: Sequence[Cause], earlier_in_episode: int = 0) -> int:
    """Severity 1..3 from how far beyond the thresholds the causes are.

    Args:
        p: The rule's params (``severity2_excess``, ``severity3_excess``).
        causes: The alert's causes, both sides.
        earlier_in_episode: Alerts already fired in the same episode (escalation).

    Returns:
        1, 2 or 3.
    """
    def side(names: frozenset[str]) -> float:
        xs = [excess(c) for c in causes if c.name in names]
        return max(xs) if xs else 1.0

    both = min(side(BREATH_CAUSES), side(FORM_CAUSES))
    base = 3 if both >= p.severity3_excess else 2 if both >= p.severity2_excess else 1
    return min(3, base + max(0, earlier_in_episode))


def _evaluate(p: AlertParams, s: AlertState, m: Metrics, win: _Window, th: _Thresholds
              ) -> tuple[Alert | None, AlertState]:
    """One row once the baseline exists; ``th`` is ``_thresholds(p, s)``."""
    sm = _smoothed_cols(p, win.cols, _FORM_METRICS)
    rate_high_on, rs_on, cpl_on = s.rate_high_on, s.rapid_shallow_on, s.coupling_lost_on

    breath_eval = _breath_ok(p, m) and _fin(sm.rate_bpm)
    if breath_eval:
        rate_high_on = _latch_above(rate_high_on, sm.rate_bpm, th.rate_on, th.rate_off)
        if _fin(sm.depth_rel) and _fin(s.base_depth_rel):
            if rs_on:
                rs_on = not (sm.rate_bpm < th.rs_rate_off or sm.depth_rel > th.depth_off)
            else:
                rs_on = sm.rate_bpm > th.rs_rate_on and sm.depth_rel < th.depth_on
        if _fin(_coupled(p, m)) and _fin(sm.coupling_pct) and _fin(th.coupling_on):
            cpl_on = _latch_below(cpl_on, sm.coupling_pct, th.coupling_on, th.coupling_off)
    latches: dict[str, Any] = {}
    form_eval = False
    for r in FORM_RULES:
        on = bool(getattr(s, r.latch))
        if (_fin(_posture(m, getattr(m, r.metric))) and _fin(sm.posture[r.metric])
                and _fin(getattr(s, f"base_{r.metric}"))):
            form_eval = True
            on = _latch_above(on, sm.posture[r.metric], *th.form[r.cause])
        latches[r.latch] = on

    if ((rate_high_on, rs_on, cpl_on) != (s.rate_high_on, s.rapid_shallow_on,
                                          s.coupling_lost_on)
            or any(getattr(s, k) != v for k, v in latches.items())):
        s = replace(s, rate_high_on=rate_high_on, rapid_shallow_on=rs_on,
                    coupling_lost_on=cpl_on, **latches)
    if not ((rate_high_on or rs_on or cpl_on) and any(latches.values())):
        if s.held_s or s.episode_alerts:
            s = replace(s, held_s=0.0, episode_alerts=0)
        return None, s
    if not (breath_eval and form_eval):
        return None, s  # missing data: neither confirms nor breaks
    s = replace(s, held_s=s.held_s + 1.0)
    cooled = not _fin(s.last_alert_t_s) or m.t_s - s.last_alert_t_s >= p.cooldown_s
    if s.held_s < p.hold_s or not cooled:
        return None, s
    causes = _causes(s, sm, th)
    names = {c.name for c in causes}
    if not (names & BREATH_CAUSES and names & FORM_CAUSES):
        return None, s  # latched in the hysteresis band only: keep holding, do not fire
    climb = _climbing(p, s, _smoothed_cols(p, win.cols))
    alert = Alert(t_s=m.t_s, kind=ALERT_KIND,
                  severity=severity_of(p, causes, s.episode_alerts),
                  causes=causes, cue=choose_cue(causes, climb), climb=climb)
    return alert, replace(s, episode_alerts=s.episode_alerts + 1, last_alert_t_s=m.t_s,
                          n_alerts=s.n_alerts + 1)


def step(p: AlertParams, s: AlertState, metrics: Sequence[Metrics]
         ) -> tuple[list[Alert], AlertState]:
    """Advance the rule over 1 Hz metrics rows.

    Args:
        p: The rule's params.
        s: The state after the previous call (``init_state(p)`` at the start).
        metrics: Rows in increasing ``t_s``, one per second; may be empty.

    Returns:
        The alerts that fired (in time order) and the new state.

    Raises:
        InputError: If a row is not a ``Metrics`` or ``t_s`` does not increase.
    """
    alerts: list[Alert] = []
    if not metrics:
        return alerts, s
    win = _Window(s)
    # the thresholds depend on the baseline alone, which no longer changes once formed
    th = _thresholds(p, s) if s.baseline_ready else None
    for i, m in enumerate(metrics):
        if not isinstance(m, Metrics):
            raise InputError(f"metrics[{i}] must be a Metrics, got {type(m).__name__}")
        if _fin(win.last_t_s) and not m.t_s > win.last_t_s:
            raise InputError(f"metrics[{i}].t_s must increase: got {m.t_s} after "
                             f"{win.last_t_s}")
        win.push(p, m)
        if not s.baseline_ready:
            s = _update_baseline(p, s, m)
            if not s.baseline_ready:
                continue
        if th is None:
            th = _thresholds(p, s)
        alert, s = _evaluate(p, s, m, win, th)
        if alert is not None:
            alerts.append(alert)
    return alerts, win.into(s)


def run_batch(p: AlertParams, metrics: Sequence[Metrics]) -> tuple[list[Alert], AlertState]:
    """All alerts of a whole session: ``step`` from ``init_state`` in one call."""
    return step(p, init_state(p), metrics)
