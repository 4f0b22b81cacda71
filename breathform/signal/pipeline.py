"""Fusion of the chest and sacrum processors into 1 Hz Metrics.

Second ``k`` is emitted once every configured sensor's data has passed ``k``. If one
sensor's data is more than ``max_lag_s`` behind the other's (dead or disconnected sensor),
the second is emitted anyway with NaN for that sensor's metrics, and its late rows are
dropped, so the output never stalls. Emission is decided only at the end of each
:func:`step` call, after all its blocks are ingested: the output is independent of how
blocks are chunked or interleaved across sensors (each sensor's own order kept) as long as
no call leaves one sensor more than ``max_lag_s`` behind the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from breathform.errors import InputError
from breathform.model import HeartRate, ImuBlock, Metrics
from breathform.signal import gait
from breathform.signal import sensors as sn

_NONE = -(2**62)

HR_LAG_S = 1.0
"""Heart rate in the row for second k is the latest received at or before k - HR_LAG_S."""


@dataclass(frozen=True, slots=True)
class PipelineParams:
    """Parameters of the fused pipeline.

    Attributes:
        chest_fs_hz: Chest sample rate (Polar H10: 25-200 Hz).
        sacrum_fs_hz: Sacrum sample rate, or None when there is no sacrum sensor.
        chest_has_gyro: Whether the chest sensor has a gyroscope.
        sacrum_has_gyro: Whether the sacrum sensor has a gyroscope.
        max_lag_s: A sensor this far behind the other is treated as missing.
        hr_max_age_s: Heart rate older than this is not reported.
        chest: Full chest parameters (overrides the fields above for the chest).
        sacrum: Full sacrum parameters (overrides the fields above for the sacrum).
    """

    chest_fs_hz: float
    sacrum_fs_hz: float | None = None
    chest_has_gyro: bool = False
    sacrum_has_gyro: bool = True
    max_lag_s: int = 5
    hr_max_age_s: float = 5.0
    chest: sn.ChestParams | None = None
    sacrum: sn.SacrumParams | None = None

    def __post_init__(self) -> None:
        if self.max_lag_s < 1:
            raise InputError(f"max_lag_s must be >= 1, got {self.max_lag_s}")
        if self.chest is not None and self.chest.fs_hz != self.chest_fs_hz:
            raise InputError(f"chest.fs_hz={self.chest.fs_hz} != chest_fs_hz")
        if self.sacrum is not None and self.sacrum.fs_hz != self.sacrum_fs_hz:
            raise InputError(f"sacrum.fs_hz={self.sacrum.fs_hz} != sacrum_fs_hz")

    @property
    def chest_params(self) -> sn.ChestParams:
        """The chest processor's parameters."""
        return self.chest or sn.ChestParams(self.chest_fs_hz, self.chest_has_gyro)

    @property
    def sacrum_params(self) -> sn.SacrumParams | None:
        """The sacrum processor's parameters (None without a sacrum sensor)."""
        if self.sacrum_fs_hz is None:
            return None
        return self.sacrum or sn.SacrumParams(self.sacrum_fs_hz, self.sacrum_has_gyro)


@dataclass(frozen=True, slots=True)
class PipelineState:
    """Carry-over of the pipeline.

    Attributes:
        chest: Chest processor state.
        sacrum: Sacrum processor state (None without a sacrum sensor).
        chest_rows: Chest seconds waiting to be fused.
        sacrum_rows: Sacrum seconds waiting to be fused.
        chest_first: First chest second (``_NONE`` before any).
        sacrum_first: First sacrum second.
        chest_done: Last completed chest second.
        sacrum_done: Last completed sacrum second.
        k_emit: Next second to emit (``_NONE`` before the start).
        hr_t_s: Recent heart-rate times.
        hr_bpm: Recent heart rates.
        onsets_s: Recent inspiration onsets (most recent last).
        n_late: Rows dropped because their second had been emitted already.
        strides: Sacrum strides not yet taken by :func:`take_strides`.
    """

    chest: sn.ChestState
    sacrum: sn.SacrumState | None
    chest_rows: tuple[sn.ChestSecond, ...]
    sacrum_rows: tuple[sn.SacrumSecond, ...]
    chest_first: int
    sacrum_first: int
    chest_done: int
    sacrum_done: int
    k_emit: int
    hr_t_s: NDArray[np.float64]
    hr_bpm: NDArray[np.float64]
    onsets_s: NDArray[np.float64]
    n_late: int = 0
    strides: tuple[gait.Stride, ...] = ()


def init_state(p: PipelineParams) -> PipelineState:
    """Return the state before any data."""
    sp = p.sacrum_params
    return PipelineState(
        chest=sn.init_chest(p.chest_params),
        sacrum=None if sp is None else sn.init_sacrum(sp),
        chest_rows=(), sacrum_rows=(), chest_first=_NONE, sacrum_first=_NONE,
        chest_done=_NONE, sacrum_done=_NONE, k_emit=_NONE,
        hr_t_s=np.zeros(0), hr_bpm=np.zeros(0), onsets_s=np.zeros(0),
    )


def step(p: PipelineParams, s: PipelineState, blocks: Sequence[ImuBlock],
         hr: Sequence[HeartRate] = ()) -> tuple[list[Metrics], PipelineState]:
    """Feed blocks of either sensor (and heart rate); return the completed seconds.

    Args:
        p: Parameters.
        s: State.
        blocks: ImuBlocks of both sensors, each sensor's in stream order.
        hr: Heart-rate notifications, in time order.

    Returns:
        One Metrics per newly completed second, in order, and the new state.

    Raises:
        InputError: If a block comes from a sensor that is not configured.
    """
    chest_b = [b for b in blocks if b.sensor == "chest"]
    sacrum_b = [b for b in blocks if b.sensor == "sacrum"]
    sp = p.sacrum_params
    if sacrum_b and sp is None:
        raise InputError("got sacrum blocks but sacrum_fs_hz is None")
    if chest_b:
        rows, cs = sn.chest_step(p.chest_params, s.chest, chest_b)
        s = replace(s, chest=cs)
        s = _add_chest(s, rows)
    if sacrum_b and sp is not None and s.sacrum is not None:
        srows, ss = sn.sacrum_step(sp, s.sacrum, sacrum_b)
        s = replace(s, sacrum=ss)
        s = _add_sacrum(s, srows)
    if hr:
        s = replace(s, hr_t_s=np.concatenate((s.hr_t_s, [h.t_s for h in hr])),
                    hr_bpm=np.concatenate((s.hr_bpm, [h.hr_bpm for h in hr])))
    return _emit(p, s, final=False)


def finish(p: PipelineParams, s: PipelineState) -> tuple[list[Metrics], PipelineState]:
    """Emit every second still waiting (end of a recording), NaN where a sensor is missing."""
    return _emit(p, s, final=True)


def take_strides(s: PipelineState) -> tuple[list[gait.Stride], PipelineState]:
    """Take the sacrum strides decided so far (per-stride table; the 1 Hz rows hold none).

    Strides do not wait for the fusion of seconds: they leave as soon as the sacrum
    processor has decided them, in time order.
    """
    return list(s.strides), replace(s, strides=())


def run_batch(p: PipelineParams, blocks: Sequence[ImuBlock],
              hr: Sequence[HeartRate] = ()) -> list[Metrics]:
    """Process a whole recording in one call (without the final :func:`finish`)."""
    return step(p, init_state(p), blocks, hr)[0]


def _add_chest(s: PipelineState, rows: list[sn.ChestSecond]) -> PipelineState:
    if not rows:
        return s
    first = s.chest_first if s.chest_first != _NONE else int(rows[0].t_s)
    keep = tuple(r for r in rows if s.k_emit == _NONE or int(r.t_s) >= s.k_emit)
    ons = [o for r in rows for o in r.onsets_s]
    onsets = s.onsets_s if not ons else np.concatenate((s.onsets_s, ons))[-64:]
    return replace(s, chest_rows=s.chest_rows + keep, chest_first=first,
                   chest_done=int(rows[-1].t_s), onsets_s=onsets,
                   n_late=s.n_late + len(rows) - len(keep))


def _add_sacrum(s: PipelineState, rows: list[sn.SacrumSecond]) -> PipelineState:
    if not rows:
        return s
    first = s.sacrum_first if s.sacrum_first != _NONE else int(rows[0].t_s)
    keep = tuple(r for r in rows if s.k_emit == _NONE or int(r.t_s) >= s.k_emit)
    strides = tuple(st for r in rows for st in r.strides)
    return replace(s, sacrum_rows=s.sacrum_rows + keep, sacrum_first=first,
                   sacrum_done=int(rows[-1].t_s), n_late=s.n_late + len(rows) - len(keep),
                   strides=s.strides + strides)


def _emit(p: PipelineParams, s: PipelineState, final: bool
          ) -> tuple[list[Metrics], PipelineState]:
    has_sacrum = p.sacrum_fs_hz is not None
    firsts = [s.chest_first] + ([s.sacrum_first] if has_sacrum else [])
    dones = [s.chest_done] + ([s.sacrum_done] if has_sacrum else [])
    known = [f for f in firsts if f != _NONE]
    if not known:
        return [], s
    top = max(dones)
    k = s.k_emit
    if k == _NONE:
        if len(known) == len(firsts) or final or top >= min(known) + p.max_lag_s:
            k = min(known)
        else:
            return [], s
    out: list[Metrics] = []
    hr: _HrList | None = None
    crow, srow = list(s.chest_rows), list(s.sacrum_rows)
    ci = si = 0
    while True:
        passed = all(d != _NONE and d >= k for d in dones)
        if not (passed or top >= k + p.max_lag_s or (final and top >= k)):
            break
        while ci < len(crow) and int(crow[ci].t_s) < k:
            ci += 1
        while si < len(srow) and int(srow[si].t_s) < k:
            si += 1
        c = crow[ci] if ci < len(crow) and int(crow[ci].t_s) == k else None
        r = srow[si] if si < len(srow) and int(srow[si].t_s) == k else None
        if hr is None:
            hr = _HrList(s.hr_t_s.tolist(), s.hr_bpm.tolist())
        out.append(_fuse(p, hr, k, c, r))
        k += 1
    while ci < len(crow) and int(crow[ci].t_s) < k:
        ci += 1
    while si < len(srow) and int(srow[si].t_s) < k:
        si += 1
    keep_hr = s.hr_t_s >= k - 1 - p.hr_max_age_s
    if keep_hr.size and not keep_hr.all():
        # keep at least the latest one
        keep_hr[-1] = True
    return out, replace(s, chest_rows=tuple(crow[ci:]), sacrum_rows=tuple(srow[si:]),
                        k_emit=k, hr_t_s=s.hr_t_s[keep_hr], hr_bpm=s.hr_bpm[keep_hr])


class _HrList(NamedTuple):
    """The recent heart rates as plain floats (times, bpm)."""

    t_s: list[float]
    bpm: list[float]


def _fuse(p: PipelineParams, hr_recent: _HrList, k: int, c: sn.ChestSecond | None,
          r: sn.SacrumSecond | None) -> Metrics:
    nan = math.nan
    rate = depth = lean = twist = chest_cad = nan
    quality = 0.0
    warming = c is None or not c.calibrated
    if c is not None:
        rate, depth, quality, lean = c.rate_bpm, c.depth_rel, c.breath_quality, c.trunk_lean_deg
        chest_cad, twist = c.cadence_spm, c.trunk_twist_range_deg
    tilt = cad = drop = rot = nan
    if p.sacrum_fs_hz is not None:
        if r is not None:
            tilt, cad = r.pelvic_tilt_deg, r.cadence_spm
            drop, rot = r.pelvic_drop_range_deg, r.pelvic_rotation_range_deg
        warming = warming or r is None or not r.calibrated
    if not math.isfinite(cad):
        cad = chest_cad
    spb = nan
    if math.isfinite(cad) and math.isfinite(rate) and rate > 0:
        spb = cad / 2.0 / rate
    hr = nan
    # Heart rate received up to k - HR_LAG_S only: second k is emitted once IMU samples past
    # k have arrived, and a heart-rate notification received just before k may be processed
    # after them (clock-mapping error, batching). Lagging 1 s makes the choice independent
    # of batching, so a replay gives the live values exactly.
    lo_s, hi_s = k - p.hr_max_age_s, k - HR_LAG_S
    for t, bpm in zip(reversed(hr_recent.t_s), reversed(hr_recent.bpm), strict=True):
        if lo_s < t <= hi_s:   # the latest one in the window
            hr = bpm
            break
    return Metrics(t_s=float(k), rate_bpm=rate, depth_rel=depth, breath_quality=quality,
                   strides_per_breath=spb, cadence_spm=cad, pelvic_tilt_deg=tilt,
                   pelvic_drop_range_deg=drop, pelvic_rotation_range_deg=rot,
                   trunk_lean_deg=lean, trunk_twist_range_deg=twist, lumbar_deg=lean - tilt,
                   hr_bpm=hr,
                   warming_up=warming)
