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
   ``pelvic_tilt_deg``, ``trunk_lean_deg`` and ``cadence_spm`` is the median of its finite
   values among the collected seconds (NaN when none: ``depth_rel`` NaN disables the
   rapid-shallow criterion, ``cadence_spm`` NaN makes the climb test use lean alone).
   The buffer never holds more than ``ceil(baseline_len_s) + 1`` seconds; if it fills (only
   possible with rows faster than 1 Hz) the baseline is formed from it. No criterion is
   evaluated, and no alert fires, before the baseline exists.

2. **Smoothing.** Every criterion is judged on the *median* of the last ``smooth_s``
   seconds (default ``hold_s``; at most ``round(smooth_s)`` rows), over the rows where that
   metric is valid: breathing values need ``not warming_up``, ``breath_quality >=
   min_quality`` and a finite value; posture values need ``not warming_up`` and a finite
   value. A median needs at least ``ceil(min_valid_frac * smooth_s)`` valid rows, else it
   is unknown. A single noisy second cannot move a median of three or more rows past a
   threshold, so it neither fires nor resets an episode.

3. **Criteria** (each a latch with hysteresis; ``h = hysteresis_frac``):

   - ``rate_high``: on when rate > ``b_rate * (1 + rate_margin_rel)``; off when rate
     falls below that threshold minus ``h * b_rate * rate_margin_rel``.
   - ``rapid_shallow``: on when rate > ``b_rate * (1 + rate_margin_rel / 2)`` and depth <
     ``b_depth * (1 - depth_drop_rel)``; off when the rate falls below its threshold minus
     ``h * b_rate * rate_margin_rel / 2`` or the depth rises above its threshold plus
     ``h * b_depth * depth_drop_rel``.
   - ``pelvic_tilt_anterior``: on when tilt > ``b_tilt + pelvic_tilt_margin_deg``; off
     below that minus ``h * pelvic_tilt_margin_deg``.
   - ``trunk_flexion``: on when lean > ``b_lean + trunk_lean_margin_deg``; off below that
     minus ``h * trunk_lean_margin_deg``.

   Breathless = ``rate_high or rapid_shallow``; form degraded = ``pelvic_tilt_anterior or
   trunk_flexion``.

4. **Missing / low-quality seconds** neither confirm nor break. A latch is only
   re-evaluated in a second whose own row is valid for its side (breathing or posture)
   and whose smoothed value is known; otherwise it keeps its previous value. The hold
   counter advances only in a second where both sides were re-evaluated; a second where
   either side lacks data leaves it unchanged (it is not reset either).

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

9. **Cue.** Climbing: the hill cue. Otherwise the form cause with the larger excess picks
   the cue (pelvis or trunk), in a variant that also mentions breathing deep when the
   breathing side includes the rapid-shallow pattern. See ``breathform.alerts.cues``.

Cause values are the smoothed (median) values at the time the alert fired.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from breathform.alerts.cues import choose_cue, excess
from breathform.errors import InputError
from breathform.model import Alert, Cause, Metrics

if TYPE_CHECKING:
    from breathform.config import AlertsConfig

ALERT_KIND = "breathless_form"
"""``Alert.kind`` of the headline rule."""

BREATH_CAUSES: frozenset[str] = frozenset({"rate_high", "rate_elevated", "breath_shallow"})
"""Cause names on the breathing side."""

FORM_CAUSES: frozenset[str] = frozenset({"pelvic_tilt_anterior", "trunk_flexion"})
"""Cause names on the form side."""


def _check(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise InputError(f"AlertParams.{name} must be {expected}, got {value!r}")


@dataclass(frozen=True, slots=True)
class AlertParams:
    """Thresholds and tuning of the breathless-and-form rule.

    The first nine fields mirror ``breathform.config.AlertsConfig``; the rest are local
    tuning with documented defaults (not in the config file yet).

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
        smooth_s: Length of the median window the criteria are judged on; None means
            ``hold_s``.
        min_valid_frac: A smoothed value needs at least this fraction of ``smooth_s`` as
            valid rows.
        baseline_min_valid_frac: The baseline needs at least this fraction of
            ``baseline_len_s`` as valid seconds.
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
    smooth_s: float | None = None
    min_valid_frac: float = 0.5
    baseline_min_valid_frac: float = 0.5
    hysteresis_frac: float = 0.25
    climb_lean_deg: float = 2.0
    climb_cadence_tol_spm: float = 2.0
    severity2_excess: float = 1.5
    severity3_excess: float = 2.0

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
    def from_config(cls, cfg: AlertsConfig, **local: Any) -> AlertParams:
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
        return cls(
            baseline_start_s=cfg.baseline_start_s, baseline_len_s=cfg.baseline_len_s,
            rate_margin_rel=cfg.rate_margin_rel, depth_drop_rel=cfg.depth_drop_rel,
            pelvic_tilt_margin_deg=cfg.pelvic_tilt_margin_deg,
            trunk_lean_margin_deg=cfg.trunk_lean_margin_deg, hold_s=cfg.hold_s,
            cooldown_s=cfg.cooldown_s, min_quality=cfg.min_quality, **local)

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
    """

    rate_bpm: float
    depth_rel: float
    pelvic_tilt_deg: float
    trunk_lean_deg: float
    cadence_spm: float
    n_s: int


@dataclass(frozen=True, slots=True)
class AlertState:
    """Everything that carries over between calls of ``step``; plain data only.

    Buffers are tuples (bounded: baseline ``<= ceil(baseline_len_s) + 1`` rows, smoothing
    window ``<= round(smooth_s)`` rows). Invalid values are stored as NaN.
    ``dataclasses.asdict`` gives a snapshot; ``AlertState.from_dict`` restores it.
    """

    n_seen: int = 0
    last_t_s: float = math.nan
    bl_rate_bpm: tuple[float, ...] = ()
    bl_depth_rel: tuple[float, ...] = ()
    bl_pelvic_tilt_deg: tuple[float, ...] = ()
    bl_trunk_lean_deg: tuple[float, ...] = ()
    bl_cadence_spm: tuple[float, ...] = ()
    baseline_ready: bool = False
    base_rate_bpm: float = math.nan
    base_depth_rel: float = math.nan
    base_pelvic_tilt_deg: float = math.nan
    base_trunk_lean_deg: float = math.nan
    base_cadence_spm: float = math.nan
    base_n_s: int = 0
    win_t_s: tuple[float, ...] = ()
    win_rate_bpm: tuple[float, ...] = ()
    win_depth_rel: tuple[float, ...] = ()
    win_pelvic_tilt_deg: tuple[float, ...] = ()
    win_trunk_lean_deg: tuple[float, ...] = ()
    win_cadence_spm: tuple[float, ...] = ()
    rate_high_on: bool = False
    rapid_shallow_on: bool = False
    tilt_on: bool = False
    lean_on: bool = False
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
                    s.base_trunk_lean_deg, s.base_cadence_spm, s.base_n_s)


def _fin(x: float) -> bool:
    return math.isfinite(x)


def _median(values: Sequence[float], min_n: int) -> float:
    good = [v for v in values if math.isfinite(v)]
    if len(good) < min_n:
        return math.nan
    return float(statistics.median(good))


def _breath_ok(p: AlertParams, m: Metrics) -> bool:
    return (not m.warming_up) and m.breath_quality >= p.min_quality and _fin(m.rate_bpm)


def _posture(m: Metrics, x: float) -> float:
    return x if (not m.warming_up and _fin(x)) else math.nan


def _update_baseline(p: AlertParams, s: AlertState, m: Metrics) -> AlertState:
    valid = (_breath_ok(p, m) and _fin(m.pelvic_tilt_deg) and _fin(m.trunk_lean_deg))
    n = len(s.bl_rate_bpm)
    in_window = p.baseline_start_s <= m.t_s <= p.baseline_end_s
    late = m.t_s > p.baseline_end_s and n < p.baseline_min_rows
    if valid and (in_window or late) and n < p.baseline_max_rows:
        s = replace(
            s,
            bl_rate_bpm=(*s.bl_rate_bpm, m.rate_bpm),
            bl_depth_rel=(*s.bl_depth_rel, m.depth_rel),
            bl_pelvic_tilt_deg=(*s.bl_pelvic_tilt_deg, m.pelvic_tilt_deg),
            bl_trunk_lean_deg=(*s.bl_trunk_lean_deg, m.trunk_lean_deg),
            bl_cadence_spm=(*s.bl_cadence_spm, m.cadence_spm),
        )
        n += 1
    full = n >= p.baseline_max_rows
    if not (full or (m.t_s >= p.baseline_end_s and n >= p.baseline_min_rows)):
        return s
    return replace(
        s,
        baseline_ready=True,
        base_rate_bpm=_median(s.bl_rate_bpm, 1),
        base_depth_rel=_median(s.bl_depth_rel, 1),
        base_pelvic_tilt_deg=_median(s.bl_pelvic_tilt_deg, 1),
        base_trunk_lean_deg=_median(s.bl_trunk_lean_deg, 1),
        base_cadence_spm=_median(s.bl_cadence_spm, 1),
        base_n_s=n,
        bl_rate_bpm=(), bl_depth_rel=(), bl_pelvic_tilt_deg=(), bl_trunk_lean_deg=(),
        bl_cadence_spm=(),
    )


def _push_window(p: AlertParams, s: AlertState, m: Metrics) -> AlertState:
    ok = _breath_ok(p, m)
    row = (m.t_s,
           m.rate_bpm if ok else math.nan,
           m.depth_rel if ok and _fin(m.depth_rel) else math.nan,
           _posture(m, m.pelvic_tilt_deg),
           _posture(m, m.trunk_lean_deg),
           _posture(m, m.cadence_spm))
    cols = (s.win_t_s, s.win_rate_bpm, s.win_depth_rel, s.win_pelvic_tilt_deg,
            s.win_trunk_lean_deg, s.win_cadence_spm)
    # Keep rows inside the window (half a second of slack for timing jitter), and never
    # more than the window's nominal row count (bounded even for rows faster than 1 Hz).
    oldest_s = m.t_s - p.smooth_window_s - 0.5
    n_keep = p.smooth_max_rows - 1
    keep = [i for i, t in enumerate(cols[0]) if t > oldest_s]
    keep = keep[max(0, len(keep) - n_keep):] if n_keep > 0 else []
    new = tuple((*(c[i] for i in keep), v) for c, v in zip(cols, row, strict=True))
    return replace(s, win_t_s=new[0], win_rate_bpm=new[1], win_depth_rel=new[2],
                   win_pelvic_tilt_deg=new[3], win_trunk_lean_deg=new[4],
                   win_cadence_spm=new[5])


def _latch_above(on: bool, x: float, on_thr: float, off_thr: float) -> bool:
    return x > on_thr if not on else not x < off_thr


@dataclass(frozen=True, slots=True)
class _Smoothed:
    rate_bpm: float
    depth_rel: float
    pelvic_tilt_deg: float
    trunk_lean_deg: float
    cadence_spm: float


def _smoothed(p: AlertParams, s: AlertState) -> _Smoothed:
    k = p.smooth_min_rows
    return _Smoothed(_median(s.win_rate_bpm, k), _median(s.win_depth_rel, k),
                     _median(s.win_pelvic_tilt_deg, k), _median(s.win_trunk_lean_deg, k),
                     _median(s.win_cadence_spm, k))


@dataclass(frozen=True, slots=True)
class _Thresholds:
    rate_on: float
    rate_off: float
    rs_rate_on: float
    rs_rate_off: float
    depth_on: float
    depth_off: float
    tilt_on: float
    tilt_off: float
    lean_on: float
    lean_off: float


def _thresholds(p: AlertParams, s: AlertState) -> _Thresholds:
    h = p.hysteresis_frac
    b_rate, b_depth = s.base_rate_bpm, s.base_depth_rel
    rate_on = b_rate * (1 + p.rate_margin_rel)
    rs_rate_on = b_rate * (1 + p.rate_margin_rel / 2)
    depth_on = b_depth * (1 - p.depth_drop_rel)
    tilt_on = s.base_pelvic_tilt_deg + p.pelvic_tilt_margin_deg
    lean_on = s.base_trunk_lean_deg + p.trunk_lean_margin_deg
    return _Thresholds(
        rate_on=rate_on, rate_off=rate_on - h * b_rate * p.rate_margin_rel,
        rs_rate_on=rs_rate_on, rs_rate_off=rs_rate_on - h * b_rate * p.rate_margin_rel / 2,
        depth_on=depth_on, depth_off=depth_on + h * b_depth * p.depth_drop_rel,
        tilt_on=tilt_on, tilt_off=tilt_on - h * p.pelvic_tilt_margin_deg,
        lean_on=lean_on, lean_off=lean_on - h * p.trunk_lean_margin_deg,
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
    sm = _smoothed(p, s)
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
    if sm.pelvic_tilt_deg > th.tilt_on:
        out.append(Cause("pelvic_tilt_anterior", "pelvic_tilt_deg", sm.pelvic_tilt_deg,
                         s.base_pelvic_tilt_deg, th.tilt_on, "deg"))
    if sm.trunk_lean_deg > th.lean_on:
        out.append(Cause("trunk_flexion", "trunk_lean_deg", sm.trunk_lean_deg,
                         s.base_trunk_lean_deg, th.lean_on, "deg"))
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


def _evaluate(p: AlertParams, s: AlertState, m: Metrics) -> tuple[Alert | None, AlertState]:
    sm = _smoothed(p, s)
    th = _thresholds(p, s)
    rate_high_on, rs_on = s.rate_high_on, s.rapid_shallow_on
    tilt_on, lean_on = s.tilt_on, s.lean_on

    breath_eval = _breath_ok(p, m) and _fin(sm.rate_bpm)
    if breath_eval:
        rate_high_on = _latch_above(rate_high_on, sm.rate_bpm, th.rate_on, th.rate_off)
        if _fin(sm.depth_rel) and _fin(s.base_depth_rel):
            if rs_on:
                rs_on = not (sm.rate_bpm < th.rs_rate_off or sm.depth_rel > th.depth_off)
            else:
                rs_on = sm.rate_bpm > th.rs_rate_on and sm.depth_rel < th.depth_on
    tilt_eval = (_fin(_posture(m, m.pelvic_tilt_deg)) and _fin(sm.pelvic_tilt_deg)
                 and _fin(s.base_pelvic_tilt_deg))
    lean_eval = (_fin(_posture(m, m.trunk_lean_deg)) and _fin(sm.trunk_lean_deg)
                 and _fin(s.base_trunk_lean_deg))
    if tilt_eval:
        tilt_on = _latch_above(tilt_on, sm.pelvic_tilt_deg, th.tilt_on, th.tilt_off)
    if lean_eval:
        lean_on = _latch_above(lean_on, sm.trunk_lean_deg, th.lean_on, th.lean_off)

    s = replace(s, rate_high_on=rate_high_on, rapid_shallow_on=rs_on, tilt_on=tilt_on,
                lean_on=lean_on)
    if not ((rate_high_on or rs_on) and (tilt_on or lean_on)):
        if s.held_s or s.episode_alerts:
            s = replace(s, held_s=0.0, episode_alerts=0)
        return None, s
    if not (breath_eval and (tilt_eval or lean_eval)):
        return None, s  # missing data: neither confirms nor breaks
    s = replace(s, held_s=s.held_s + 1.0)
    cooled = not _fin(s.last_alert_t_s) or m.t_s - s.last_alert_t_s >= p.cooldown_s
    if s.held_s < p.hold_s or not cooled:
        return None, s
    causes = _causes(s, sm, th)
    names = {c.name for c in causes}
    if not (names & BREATH_CAUSES and names & FORM_CAUSES):
        return None, s  # latched in the hysteresis band only: keep holding, do not fire
    climb = is_climbing(p, s)
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
    for i, m in enumerate(metrics):
        if not isinstance(m, Metrics):
            raise InputError(f"metrics[{i}] must be a Metrics, got {type(m).__name__}")
        if _fin(s.last_t_s) and not m.t_s > s.last_t_s:
            raise InputError(f"metrics[{i}].t_s must increase: got {m.t_s} after "
                             f"{s.last_t_s}")
        s = replace(s, n_seen=s.n_seen + 1, last_t_s=m.t_s)
        s = _push_window(p, s, m)
        if not s.baseline_ready:
            s = _update_baseline(p, s, m)
            if not s.baseline_ready:
                continue
        alert, s = _evaluate(p, s, m)
        if alert is not None:
            alerts.append(alert)
    return alerts, s


def run_batch(p: AlertParams, metrics: Sequence[Metrics]) -> tuple[list[Alert], AlertState]:
    """All alerts of a whole session: ``step`` from ``init_state`` in one call."""
    return step(p, init_state(p), metrics)
