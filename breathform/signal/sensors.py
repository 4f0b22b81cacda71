"""Per-sensor processors: chest (breathing, trunk lean) and sacrum (cadence, pelvic tilt).

Each takes that sensor's ImuBlocks (or gap-free sample arrays), puts them on the grid
(:mod:`breathform.signal.regrid`), cuts whole seconds (:mod:`breathform.signal.frames`) and
runs its processors second by second. Usable alone (``breathform analyze --sensor``) or
fused by :mod:`breathform.signal.pipeline`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from breathform.errors import InputError
from breathform.model import ImuBlock, Metrics
from breathform.signal import breathing, cadence, gait, posture, regrid
from breathform.signal import frames as fr
from breathform.signal.posture import SegmentCalibration
from breathform.signal.regrid import Samples


@dataclass(frozen=True, slots=True)
class ChestParams:
    """Parameters of the chest processor.

    Attributes:
        fs_hz: Nominal sample rate (Polar H10: 25-200 Hz).
        has_gyro: Whether the chest sensor has a gyroscope.
        calibration: Stored sensor-to-trunk calibration, or None to calibrate.
        rest_amp_g: Resting breath amplitude from the runner's profile, or None.
        max_fill_s: Longest gap filled by holding the last sample.
        posture: Override of the posture parameters (fs_hz must match).
        cadence: Override of the cadence parameters (fs_hz must match).
        breath: Override of the breathing parameters (fs_hz must match).
    """

    fs_hz: float
    has_gyro: bool = False
    calibration: SegmentCalibration | None = None
    rest_amp_g: float | None = None
    max_fill_s: float = 1.0
    posture: posture.PostureParams | None = None
    cadence: cadence.CadenceParams | None = None
    breath: breathing.BreathParams | None = None

    def __post_init__(self) -> None:
        for name in ("posture", "cadence", "breath"):
            sub = getattr(self, name)
            if sub is not None and sub.fs_hz != self.fs_hz:
                raise InputError(f"{name}.fs_hz={sub.fs_hz} differs from fs_hz={self.fs_hz}")
        _chest_sub(self)  # validates


@dataclass(frozen=True, slots=True)
class SacrumParams:
    """Parameters of the sacrum processor.

    Attributes:
        fs_hz: Nominal sample rate (Movesense: 104 Hz).
        has_gyro: Whether the sacrum sensor has a gyroscope.
        calibration: Stored sensor-to-pelvis calibration, or None to calibrate.
        max_fill_s: Longest gap filled by holding the last sample.
        posture: Override of the posture parameters (fs_hz must match).
        cadence: Override of the cadence parameters (fs_hz must match).
    """

    fs_hz: float
    has_gyro: bool = True
    calibration: SegmentCalibration | None = None
    max_fill_s: float = 1.0
    posture: posture.PostureParams | None = None
    cadence: cadence.CadenceParams | None = None

    def __post_init__(self) -> None:
        for name in ("posture", "cadence"):
            sub = getattr(self, name)
            if sub is not None and sub.fs_hz != self.fs_hz:
                raise InputError(f"{name}.fs_hz={sub.fs_hz} differs from fs_hz={self.fs_hz}")
        _sacrum_sub(self)


@lru_cache(maxsize=32)
def _chest_sub(p: ChestParams) -> tuple[regrid.RegridParams, posture.PostureParams,
                                        cadence.CadenceParams, breathing.BreathParams]:
    return (
        regrid.RegridParams(p.fs_hz, p.has_gyro, p.max_fill_s),
        p.posture or posture.PostureParams(p.fs_hz, p.has_gyro, calibration=p.calibration),
        p.cadence or cadence.CadenceParams(p.fs_hz),
        p.breath or breathing.BreathParams(p.fs_hz, rest_amp_g=p.rest_amp_g),
    )


@lru_cache(maxsize=32)
def _sacrum_sub(p: SacrumParams) -> tuple[regrid.RegridParams, posture.PostureParams,
                                          cadence.CadenceParams]:
    return (
        regrid.RegridParams(p.fs_hz, p.has_gyro, p.max_fill_s),
        p.posture or posture.PostureParams(p.fs_hz, p.has_gyro, calibration=p.calibration),
        p.cadence or cadence.CadenceParams(p.fs_hz),
    )


@dataclass(frozen=True, slots=True)
class ChestState:
    """Carry-over of the chest processor."""

    regrid: regrid.RegridState
    framer: fr.FramerState
    posture: posture.PostureState
    cadence: cadence.CadenceState
    breath: breathing.BreathState
    hist: NDArray[np.float64]
    stride_s: float


@dataclass(frozen=True, slots=True)
class SacrumState:
    """Carry-over of the sacrum processor."""

    regrid: regrid.RegridState
    framer: fr.FramerState
    posture: posture.PostureState
    cadence: cadence.CadenceState
    hist: NDArray[np.float64]
    stride_s: float
    gait: gait.GaitState


@dataclass(frozen=True, slots=True)
class ChestSecond:
    """Chest results for second ``(t_s - 1, t_s]`` (NaN = no estimate).

    Attributes:
        t_s: End of the second.
        rate_bpm: Breathing rate.
        depth_rel: Breath depth relative to rest.
        breath_quality: 0..1.
        trunk_lean_deg: Trunk pitch relative to neutral, + forward.
        trunk_twist_range_deg: Peak-to-peak trunk yaw over the last stride (needs a
            gyroscope: NaN from an accelerometer-only chest strap).
        cadence_spm: Cadence seen by the chest sensor.
        onsets_s: Inspiration onsets detected in this second.
        calibrated: Sensor-to-trunk calibration complete.
        rest_calibrated: Resting breath amplitude known.
        filled_frac: Fraction of gap-filled samples (1 = no data).
    """

    t_s: float
    rate_bpm: float
    depth_rel: float
    breath_quality: float
    trunk_lean_deg: float
    trunk_twist_range_deg: float
    cadence_spm: float
    onsets_s: tuple[float, ...]
    calibrated: bool
    rest_calibrated: bool
    filled_frac: float


@dataclass(frozen=True, slots=True)
class SacrumSecond:
    """Sacrum results for second ``(t_s - 1, t_s]`` (NaN = no estimate).

    Attributes:
        t_s: End of the second.
        cadence_spm: Steps per minute.
        pelvic_tilt_deg: Pelvis pitch relative to neutral, + anterior.
        pelvic_drop_range_deg: Peak-to-peak pelvis roll (frontal) over the last stride.
        pelvic_rotation_range_deg: Peak-to-peak pelvis yaw (transverse) over the last stride.
        calibrated: Sensor-to-pelvis calibration complete.
        filled_frac: Fraction of gap-filled samples (1 = no data).
        strides: Strides decided by this second's samples
            (:func:`breathform.signal.gait.step`: a stride is decided ``delay_s`` after
            its last contact, so it ends ``delay_s`` to ``1 + delay_s`` before ``t_s``).
    """

    t_s: float
    cadence_spm: float
    pelvic_tilt_deg: float
    pelvic_drop_range_deg: float
    pelvic_rotation_range_deg: float
    calibrated: bool
    filled_frac: float
    strides: tuple[gait.Stride, ...] = ()


def init_chest(p: ChestParams) -> ChestState:
    """Return the chest state before any sample."""
    rp, pp, cp, bp = _chest_sub(p)
    return ChestState(regrid.init_state(rp), fr.init_framer(), posture.init_state(pp),
                      cadence.init_state(cp), breathing.init_state(bp), _hist0(p.fs_hz),
                      np.nan)


def init_sacrum(p: SacrumParams) -> SacrumState:
    """Return the sacrum state before any sample."""
    rp, pp, cp = _sacrum_sub(p)
    return SacrumState(regrid.init_state(rp), fr.init_framer(), posture.init_state(pp),
                       cadence.init_state(cp), _hist0(p.fs_hz), np.nan,
                       gait.init_state(_gait_params(p)))


@lru_cache(maxsize=8)
def _gait_params(p: SacrumParams) -> gait.GaitParams:
    return gait.GaitParams(p.fs_hz, has_gyro=p.has_gyro)


_MAX_STRIDE_S = 2.0


def _hist0(fs_hz: float) -> NDArray[np.float64]:
    return np.zeros((round(_MAX_STRIDE_S * fs_hz), 6))


def _fill(f: fr.Frame, hist: NDArray[np.float64], stride_s: float, fs_hz: float
          ) -> tuple[fr.Frame, NDArray[np.float64]]:
    """Stride-periodic stand-in for gap-filled samples (see regrid.periodic_fill)."""
    x = f.samples
    if f.reset:
        hist = np.zeros_like(hist)
        stride_s = np.nan
    period = round(stride_s * fs_hz) if np.isfinite(stride_s) else 0
    gyr = x.gyr_dps if x.gyr_dps is not None else np.zeros_like(x.acc_g)
    both, hist = regrid.periodic_fill(np.hstack((x.acc_g, gyr)), x.filled, hist, period)
    if period == 0 or not bool(x.filled.any()):
        return f, hist
    new = Samples(x.t_s, both[:, :3], None if x.gyr_dps is None else both[:, 3:], x.idx,
                  x.filled, x.reset)
    return fr.Frame(f.k, new), hist


def chest_samples_step(p: ChestParams, s: ChestState, x: Samples
                       ) -> tuple[list[ChestSecond], ChestState]:
    """Feed gridded chest samples; return a row per completed second."""
    _, pp, cp, bp = _chest_sub(p)
    frames, fst = fr.push(s.framer, x, p.has_gyro)
    # gap fill + cadence (each second's fill uses the previous second's stride), then
    # posture over all the seconds (it needs nothing from breathing), then breathing
    filled, crows, cs, hist, stride_s = _fill_cadence(p.fs_hz, cp, s.cadence, frames,
                                                      s.hist, s.stride_s)
    prows, axes, ps = posture.frames_step(pp, s.posture, filled,
                                          [60.0 / c.cadence_spm for c in crows])
    brows, bs = breathing.frames_step(bp, s.breath, [
        breathing.BreathFrame(f, vert, fwd, crow.stride_s, prow.still)
        for f, crow, prow, (vert, fwd) in zip(filled, crows, prows, axes, strict=True)])
    out = []
    for f, crow, prow, brow in zip(filled, crows, prows, brows, strict=True):
        out.append(ChestSecond(
            t_s=float(f.k), rate_bpm=brow.rate_bpm, depth_rel=brow.depth_rel,
            breath_quality=brow.quality, trunk_lean_deg=prow.pitch_deg,
            trunk_twist_range_deg=prow.yaw_range_deg, cadence_spm=crow.cadence_spm,
            onsets_s=brow.onsets_s,
            calibrated=prow.calibrated, rest_calibrated=brow.rest_calibrated,
            filled_frac=f.filled_frac))
    return out, ChestState(s.regrid, fst, ps, cs, bs, hist, stride_s)


def _fill_cadence(fs_hz: float, cp: cadence.CadenceParams, cs: cadence.CadenceState,
                  frames: list[fr.Frame], hist: NDArray[np.float64], stride_s: float
                  ) -> tuple[list[fr.Frame], list[cadence.CadenceSecond], cadence.CadenceState,
                             NDArray[np.float64], float]:
    """Gap-fill and cadence; the filled frames and cadence rows.

    A second with gap-filled samples is filled with the stride the cadence of the second
    before found, so cadence runs over the seconds up to it first; in between, over as
    many seconds as there are (:func:`cadence.frames_step`).
    """
    filled: list[fr.Frame] = []
    crows: list[cadence.CadenceSecond] = []
    group: list[fr.Frame] = []  # seconds whose cadence is still to be computed
    pend: list[Samples] = []  # samples not yet pushed into hist (see _hist_with)
    for f in frames:
        if f.reset:
            hist = np.zeros_like(hist)
            pend = []
        if np.count_nonzero(f.samples.filled):
            if group:
                rows, cs = cadence.frames_step(cp, cs, group)
                crows += rows
                stride_s = rows[-1].stride_s
                group = []
            period = (round(stride_s * fs_hz) if math.isfinite(stride_s) and not f.reset
                      else 0)
            if period != 0:
                f, hist = _fill(f, _hist_with(hist, pend), stride_s, fs_hz)
                pend = []
            else:
                pend.append(f.samples)
        else:  # _fill would return f as is: only the history moves on
            pend.append(f.samples)
        filled.append(f)
        group.append(f)
    if group:
        rows, cs = cadence.frames_step(cp, cs, group)
        crows += rows
        stride_s = rows[-1].stride_s
    return filled, crows, cs, _hist_with(hist, pend), stride_s


def _hist_with(hist: NDArray[np.float64], pend: list[Samples]) -> NDArray[np.float64]:
    """The history after the samples ``pend``: what _fill leaves after each of them."""
    h = hist.shape[0]
    take: list[Samples] = []
    rows = 0
    for x in reversed(pend):
        if rows >= h:
            break
        take.append(x)
        rows += x.n
    if not rows:
        return hist
    parts = [np.hstack((x.acc_g, x.gyr_dps if x.gyr_dps is not None
                        else np.zeros_like(x.acc_g))) for x in reversed(take)]
    if rows < h:
        parts.insert(0, hist)
    allx = np.concatenate(parts)
    return allx[allx.shape[0] - h:].copy()


def sacrum_samples_step(p: SacrumParams, s: SacrumState, x: Samples
                        ) -> tuple[list[SacrumSecond], SacrumState]:
    """Feed gridded sacrum samples; return a row per completed second."""
    _, pp, cp = _sacrum_sub(p)
    frames, fst = fr.push(s.framer, x, p.has_gyro)
    # gait sees the gridded samples as they are (gap-filled ones flagged), per second
    decided, gs = gait.frames_step(_gait_params(p), s.gait, [f.samples for f in frames])
    strides = [tuple(st) for _, st in decided]
    filled, crows, cs, hist, stride_s = _fill_cadence(p.fs_hz, cp, s.cadence, frames,
                                                      s.hist, s.stride_s)
    prows, _, ps = posture.frames_step(pp, s.posture, filled,
                                       [60.0 / c.cadence_spm for c in crows])
    out = [SacrumSecond(float(f.k), crow.cadence_spm, prow.pitch_deg, prow.roll_range_deg,
                        prow.yaw_range_deg, prow.calibrated, f.filled_frac, st)
           for f, crow, prow, st in zip(filled, crows, prows, strides, strict=True)]
    return out, SacrumState(s.regrid, fst, ps, cs, hist, stride_s, gs)


def chest_step(p: ChestParams, s: ChestState, blocks: Sequence[ImuBlock]
               ) -> tuple[list[ChestSecond], ChestState]:
    """Feed chest ImuBlocks (in stream order); return a row per completed second."""
    x, rs = regrid.step(_chest_sub(p)[0], s.regrid, blocks)
    return chest_samples_step(p, replace(s, regrid=rs), x)


def sacrum_step(p: SacrumParams, s: SacrumState, blocks: Sequence[ImuBlock]
                ) -> tuple[list[SacrumSecond], SacrumState]:
    """Feed sacrum ImuBlocks (in stream order); return a row per completed second."""
    x, rs = regrid.step(_sacrum_sub(p)[0], s.regrid, blocks)
    return sacrum_samples_step(p, replace(s, regrid=rs), x)


def run_chest_batch(p: ChestParams, blocks: Sequence[ImuBlock]) -> list[ChestSecond]:
    """Process a whole chest recording in one call."""
    return chest_step(p, init_chest(p), blocks)[0]


def run_sacrum_batch(p: SacrumParams, blocks: Sequence[ImuBlock]) -> list[SacrumSecond]:
    """Process a whole sacrum recording in one call."""
    return sacrum_step(p, init_sacrum(p), blocks)[0]


def chest_metrics(row: ChestSecond) -> Metrics:
    """A chest-only Metrics row (cadence from the chest sensor)."""
    spb = _spb(row.cadence_spm, row.rate_bpm)
    return Metrics(t_s=row.t_s, rate_bpm=row.rate_bpm, depth_rel=row.depth_rel,
                   breath_quality=row.breath_quality, strides_per_breath=spb,
                   cadence_spm=row.cadence_spm, trunk_lean_deg=row.trunk_lean_deg,
                   trunk_twist_range_deg=row.trunk_twist_range_deg,
                   warming_up=not row.calibrated)


def sacrum_metrics(row: SacrumSecond) -> Metrics:
    """A sacrum-only Metrics row."""
    return Metrics(t_s=row.t_s, cadence_spm=row.cadence_spm,
                   pelvic_tilt_deg=row.pelvic_tilt_deg,
                   pelvic_drop_range_deg=row.pelvic_drop_range_deg,
                   pelvic_rotation_range_deg=row.pelvic_rotation_range_deg,
                   warming_up=not row.calibrated)


def _spb(cadence_spm: float, rate_bpm: float) -> float:
    if not (math.isfinite(cadence_spm) and math.isfinite(rate_bpm)) or rate_bpm <= 0:
        return math.nan
    return cadence_spm / 2.0 / rate_bpm


def analyze_chest(t_s: NDArray[np.float64], acc_g: NDArray[np.float64],
                  gyr_dps: NDArray[np.float64] | None, fs_hz: float,
                  calibration: SegmentCalibration | None = None,
                  rest_amp_g: float | None = None) -> list[Metrics]:
    """Analyse a gap-free chest recording (e.g. a CSV): one Metrics per whole second.

    Args:
        t_s: Sample times in session seconds, (n,), strictly increasing.
        acc_g: Acceleration in g, sensor frame, (n, 3).
        gyr_dps: Angular rate in deg/s, (n, 3), or None.
        fs_hz: Nominal sample rate.
        calibration: Stored calibration, or None to calibrate from the recording.
        rest_amp_g: Resting breath amplitude from the runner's profile, or None.

    Returns:
        Breathing rate, depth, quality, trunk lean and (chest-derived) cadence per second.
    """
    p = ChestParams(fs_hz, has_gyro=gyr_dps is not None, calibration=calibration,
                    rest_amp_g=rest_amp_g)
    x = regrid.samples_from_arrays(t_s, acc_g, gyr_dps)
    rows, _ = chest_samples_step(p, init_chest(p), x)
    return [chest_metrics(r) for r in rows]


def analyze_sacrum(t_s: NDArray[np.float64], acc_g: NDArray[np.float64],
                   gyr_dps: NDArray[np.float64] | None, fs_hz: float,
                   calibration: SegmentCalibration | None = None) -> list[Metrics]:
    """Analyse a gap-free sacrum recording: cadence and pelvic tilt per second.

    Args:
        t_s: Sample times in session seconds, (n,), strictly increasing.
        acc_g: Acceleration in g, sensor frame, (n, 3).
        gyr_dps: Angular rate in deg/s, (n, 3), or None.
        fs_hz: Nominal sample rate.
        calibration: Stored calibration, or None to calibrate from the recording.

    Returns:
        One Metrics per whole second.
    """
    p = SacrumParams(fs_hz, has_gyro=gyr_dps is not None, calibration=calibration)
    x = regrid.samples_from_arrays(t_s, acc_g, gyr_dps)
    rows, _ = sacrum_samples_step(p, init_sacrum(p), x)
    return [sacrum_metrics(r) for r in rows]
