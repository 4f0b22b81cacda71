"""Sensor-to-segment calibration and segment pitch (pelvic tilt, trunk lean).

Calibration (any mounting): the segment's vertical in the sensor frame is the mean
accelerometer reading over the first still stretch (standing capture); its forward axis is
the principal horizontal direction of the dynamic acceleration over the first steady
running (after ``fwd_skip_s`` running seconds, ``fwd_cal_s`` of them), made orthogonal to
the vertical, with its sign chosen so that the vertical and forward accelerations covary
negatively (braking at foot strike, see docs/conventions.md).

Angles: the gravity direction in the sensor frame comes from
:mod:`breathform.signal.orientation` (VQF 6D with a gyroscope; the accelerometer low-passed
well below the stride frequency without one). In the calibrated segment frame (x forward,
y left, z up) the segment's ZYX Euler angles are pitch = atan2(-g_x, hypot(g_y, g_z))
(+ = top of the segment tipped forward, averaged over each second), roll = atan2(g_y, g_z)
(+ = tipped to the right, i.e. the left side up) and, with a gyroscope only, yaw = the
heading of the segment's forward axis in the VQF earth frame. Ranges (pelvic drop, pelvic
rotation, trunk twist) are the peak-to-peak roll and yaw over the last whole stride ending
with the second; the yaw is first detrended by the line through the stride's end points, so
a slow turn or heading drift does not count as rotation. A low-passed accelerometer cannot
follow stride-frequency roll, so without a gyroscope the ranges are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import accumulate
from typing import cast

import numpy as np
from numpy.typing import NDArray

from breathform.errors import InputError
from breathform.signal import _numeric as nu
from breathform.signal import frames as fr
from breathform.signal import orientation as ori
from breathform.signal.regrid import Samples


@dataclass(frozen=True, slots=True)
class SegmentCalibration:
    """Sensor-to-segment calibration (unit vectors in the sensor frame).

    Attributes:
        vertical: The segment's up axis (z) in sensor coordinates.
        forward: The segment's forward axis (x) in sensor coordinates, or None if unknown.
    """

    vertical: tuple[float, float, float]
    forward: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("vertical", "forward"):
            v = getattr(self, name)
            if v is None:
                continue
            if len(v) != 3 or not abs(float(np.linalg.norm(v)) - 1.0) < 1e-3:
                raise InputError(f"{name} must be a unit 3-vector, got {v}")


@dataclass(frozen=True, slots=True)
class PostureParams:
    """Parameters of calibration and pitch.

    Attributes:
        fs_hz: Nominal sample rate.
        has_gyro: Whether samples carry a gyroscope (VQF orientation, stillness, ranges).
        lp_hz: Accelerometer-only gravity low-pass cutoff; well below the stride frequency
            (~1.2-1.6 Hz).
        lp_order: Butterworth order of the gravity low-pass.
        tau_acc_s: VQF accelerometer time constant (with a gyroscope).
        max_stride_s: Longest stride whose ranges are measured (history kept).
        still_std_g: Max per-axis std within a second to call it still.
        still_gyr_dps: Max mean gyro norm to call a second still.
        still_min_s: Still seconds needed before the vertical is known.
        still_max_s: The vertical averages at most this many still seconds.
        run_std_g: Min std of |acc| within a second to call it running.
        fwd_skip_s: Running seconds skipped before the forward calibration starts.
        fwd_cal_s: Running seconds averaged for the forward axis.
        calibration: A stored calibration; when given (with ``forward``) it is used as is.
    """

    fs_hz: float
    has_gyro: bool = False
    lp_hz: float = 0.4
    lp_order: int = 2
    tau_acc_s: float = 3.0
    max_stride_s: float = 2.0
    still_std_g: float = 0.03
    still_gyr_dps: float = 10.0
    still_min_s: int = 3
    still_max_s: int = 40
    run_std_g: float = 0.25
    fwd_skip_s: int = 5
    fwd_cal_s: int = 30
    calibration: SegmentCalibration | None = None

    def __post_init__(self) -> None:
        if not self.fs_hz > 2 * self.lp_hz > 0:
            raise InputError(f"need 0 < lp_hz < fs_hz/2; got lp_hz={self.lp_hz}, "
                             f"fs_hz={self.fs_hz}")
        if not 1 <= self.still_min_s <= self.still_max_s:
            raise InputError(f"need 1 <= still_min_s <= still_max_s, got "
                             f"{self.still_min_s}, {self.still_max_s}")
        if self.fwd_cal_s < 1:
            raise InputError(f"fwd_cal_s must be >= 1, got {self.fwd_cal_s}")
        if not self.max_stride_s * self.fs_hz >= 2:
            raise InputError(f"max_stride_s must hold at least 2 samples, got "
                             f"max_stride_s={self.max_stride_s}, fs_hz={self.fs_hz}")
        _orient_params(self)  # validates


@dataclass(frozen=True, slots=True)
class PostureState:
    """Carry-over of calibration and pitch.

    Attributes:
        framer: Pending samples (only used by :func:`step`).
        orient: Orientation filter state.
        still_run: Consecutive still seconds in the current still stretch.
        v_sum: Sum of per-second mean acc over the still stretch, (3,).
        vertical: Calibrated vertical (3,), NaN until known.
        vertical_final: True once the first long-enough still stretch has ended.
        run_seen: Running seconds seen.
        cov: Horizontal dynamic-acc covariance sum, (3, 3).
        xcov: Vertical-horizontal dynamic-acc cross-covariance sum, (3,).
        fwd_n: Running seconds accumulated into ``cov``.
        forward: Calibrated forward axis (3,), NaN until known.
        roll_hist: Segment roll of the latest samples (one max stride), deg, NaN where
            unknown.
        yaw_hist: Segment heading of the latest samples, deg, NaN where unknown.
    """

    framer: fr.FramerState
    orient: ori.OrientationState
    still_run: int
    v_sum: NDArray[np.float64]
    vertical: NDArray[np.float64]
    vertical_final: bool
    run_seen: int
    cov: NDArray[np.float64]
    xcov: NDArray[np.float64]
    fwd_n: int
    forward: NDArray[np.float64]
    roll_hist: NDArray[np.float64]
    yaw_hist: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PostureSecond:
    """Pitch and calibration status for second ``(t_s - 1, t_s]``.

    Attributes:
        t_s: End of the second.
        pitch_deg: Mean segment pitch relative to neutral (+ forward), NaN if unknown.
        roll_range_deg: Peak-to-peak segment roll (frontal) over the last stride, NaN
            without a gyroscope, a known stride or a calibration.
        yaw_range_deg: Peak-to-peak segment yaw (transverse) over the last stride, NaN
            likewise.
        still: The second was still.
        running: The second looked like running.
        calibrated: Vertical and forward axis are both known.
        filled_frac: Fraction of gap-filled samples (1 when there were none).
    """

    t_s: float
    pitch_deg: float
    roll_range_deg: float
    yaw_range_deg: float
    still: bool
    running: bool
    calibrated: bool
    filled_frac: float


@lru_cache(maxsize=32)
def _orient_params(p: PostureParams) -> ori.OrientationParams:
    return ori.OrientationParams(p.fs_hz, p.has_gyro, tau_acc_s=p.tau_acc_s, lp_hz=p.lp_hz,
                                 lp_order=p.lp_order)


def _hist_len(p: PostureParams) -> int:
    return round(p.max_stride_s * p.fs_hz) + 1


def init_state(p: PostureParams) -> PostureState:
    """Return the state before any sample (with the stored calibration, if any)."""
    vert = np.full(3, np.nan)
    fwd = np.full(3, np.nan)
    final = False
    if p.calibration is not None:
        vert = np.asarray(p.calibration.vertical, dtype=np.float64)
        final = True
        if p.calibration.forward is not None:
            fwd = _orthonormal_forward(vert, np.asarray(p.calibration.forward, float))
    nan_hist = np.full(_hist_len(p), np.nan)
    return PostureState(
        framer=fr.init_framer(), orient=ori.init_state(_orient_params(p)), still_run=0,
        v_sum=np.zeros(3), vertical=vert, vertical_final=final, run_seen=0,
        cov=np.zeros((3, 3)), xcov=np.zeros(3), fwd_n=0, forward=fwd,
        roll_hist=nan_hist, yaw_hist=nan_hist,
    )


def reset_filters(p: PostureParams, s: PostureState) -> PostureState:
    """Restart the filters after a long gap; keep the calibration."""
    still_run = s.still_run if s.vertical_final else 0
    v_sum = s.v_sum if s.vertical_final else np.zeros(3)
    nan_hist = np.full(_hist_len(p), np.nan)
    return replace(s, orient=ori.reset(_orient_params(p), s.orient), still_run=still_run,
                   v_sum=v_sum, roll_hist=nan_hist, yaw_hist=nan_hist)


def _orthonormal_forward(vert: NDArray[np.float64], fwd: NDArray[np.float64]
                         ) -> NDArray[np.float64]:
    x = fwd - np.dot(fwd, vert) * vert
    return np.asarray(x / np.linalg.norm(x))


def frame_step(p: PostureParams, s: PostureState, f: fr.Frame, step_s: float = np.nan
               ) -> tuple[PostureSecond, PostureState, NDArray[np.float64]]:
    """Process one second (:func:`frames_step` for one frame).

    Args:
        p: Parameters.
        s: State.
        f: The second's samples.
        step_s: Current step period (from the cadence estimator), NaN if unknown. When
            known, the forward calibration uses ``h[n] + h[n - step]``, which keeps the
            step-periodic forward acceleration and cancels the stride-periodic lateral
            sway (it alternates sign from one step to the next).

    Returns:
        The second's row, the new state and the gravity samples of the orientation
        estimate in the sensor frame (n, 3).
    """
    rows, _, s, gravs = _frames_step(p, s, (f,), (step_s,))
    return rows[0], s, gravs[0]


def frames_step(p: PostureParams, s: PostureState, frames: Sequence[fr.Frame],
                step_s: Sequence[float]
                ) -> tuple[list[PostureSecond], list[tuple[NDArray[np.float64],
                                                           NDArray[np.float64]]],
                           PostureState]:
    """:func:`frame_step` for consecutive seconds at once (bit-identical).

    The orientation filter runs once over each run of frames between resets (it is
    sequential per sample, so the split does not change its output); the rest goes second
    by second.

    Args:
        p: Parameters.
        s: State.
        frames: Consecutive seconds.
        step_s: Step period of each second (see :func:`frame_step`).

    Returns:
        A row per frame; the calibration (vertical, forward) as it stood after each frame
        (arrays shared with the state: do not modify); and the new state.
    """
    if not frames:  # nothing completed (live: most calls)
        return [], [], s
    rows, axes, s, _ = _frames_step(p, s, frames, step_s)
    return rows, axes, s


_NO_GRAV = np.zeros((0, 3))
_NO_GRAV.setflags(write=False)
_NO_ANGLE = np.zeros(0)
_NO_ANGLE.setflags(write=False)


_FrameOrient = tuple[ori.Orientation, NDArray[np.float64] | None, int, int]
"""A frame's orientation, its run's quaternions and the frame's rows a:b in them."""


def _orient_frames(p: PostureParams, os_: ori.OrientationState, frames: Sequence[fr.Frame],
                   resets: Sequence[bool]
                   ) -> tuple[list[_FrameOrient | None], ori.OrientationState]:
    """Orientation of each frame's samples (None when empty), one filter call per run.

    ``resets`` are the frames' ``reset`` flags.
    """
    op = _orient_params(p)
    out: list[_FrameOrient | None] = [None] * len(frames)
    run: list[int] = []

    def flush(os_: ori.OrientationState) -> ori.OrientationState:
        if not run:
            return os_
        xs = [frames[i].samples for i in run]
        if len(run) == 1:
            o, os_ = ori.step(op, os_, xs[0].acc_g, xs[0].gyr_dps if p.has_gyro else None)
            out[run[0]] = (o, o.quat, 0, xs[0].n)
            return os_
        acc = np.concatenate([x.acc_g for x in xs])
        gyr = None
        if p.has_gyro:
            gyr = np.concatenate([x.gyr_dps if x.gyr_dps is not None
                                  else np.zeros((x.n, 3)) for x in xs])
        o, os_ = ori.step(op, os_, acc, gyr)
        a = 0
        for i, x in zip(run, xs, strict=True):
            b = a + x.n
            out[i] = (ori.Orientation(o.grav_g[a:b], None if o.quat is None else o.quat[a:b]),
                      o.quat, a, b)
            a = b
        return os_

    for i, (f, reset) in enumerate(zip(frames, resets, strict=True)):
        if reset:
            os_ = ori.reset(op, flush(os_))
            run = []
        if f.samples.n:
            run.append(i)
    return out, flush(os_)


def _frames_step(p: PostureParams, s: PostureState, frames: Sequence[fr.Frame],
                 step_s: Sequence[float]
                 ) -> tuple[list[PostureSecond], list[tuple[NDArray[np.float64],
                                                            NDArray[np.float64]]],
                            PostureState, list[NDArray[np.float64]]]:
    resets = [f.reset for f in frames]
    orients, os_ = _orient_frames(p, s.orient, frames, resets)
    live = [f.samples for f, fo in zip(frames, orients, strict=True) if fo is not None]
    stats = _frame_stats([x.acc_g for x in live])
    off = [0, live[0].n] if len(live) == 1 else [0, *accumulate(x.n for x in live)]
    # gravity in the segment frame, per calibrated second (a (n,3) @ (3,) product per
    # second: over many seconds at once it may round differently); angles in one pass
    one = len(live) == 1
    g3: tuple[NDArray[np.float64], ...] = ()
    if not one:
        gxyz = np.zeros((3, off[-1]))
        g3 = (gxyz[0], gxyz[1], gxyz[2])
    any_cal = False
    axes: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
    gravs: list[NDArray[np.float64]] = []
    info: list[tuple[bool, bool, bool, int]] = []  # still, running, calibrated, live index
    y_ax: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None = None
    roll_hist, yaw_hist = s.roll_hist, s.yaw_hist
    li = 0
    for f, st_s, fo, reset in zip(frames, step_s, orients, resets, strict=True):
        if reset:
            s = reset_filters(p, s)
        axes_now = (s.vertical, s.forward)
        if fo is None:
            info.append((False, False, _calibrated(s), -1))
            axes.append(axes_now)
            gravs.append(_NO_GRAV)
            continue
        x = f.samples
        grav = fo[0].grav_g
        mean, std_max, norm_std = stats[li]
        # norm(mean) as np.linalg.norm computes it (sqrt of the dot product)
        still = bool(std_max < p.still_std_g
                     and abs(math.sqrt(float(mean.dot(mean))) - 1.0) < 0.05
                     and x.n >= 0.5 * p.fs_hz)
        if still and x.gyr_dps is not None:
            still = float(np.linalg.norm(x.gyr_dps, axis=1).mean()) < p.still_gyr_dps
        running = norm_std > p.run_std_g
        s = _update_vertical(p, s, still, mean)
        if running and not math.isnan(s.vertical[0]) and math.isnan(s.forward[0]):
            s = _update_forward(p, s, x.acc_g, grav, st_s)
        calibrated = _calibrated(s)
        if calibrated:
            if y_ax is None or y_ax[0] is not s.vertical or y_ax[1] is not s.forward:
                y_ax = (s.vertical, s.forward, _cross3(s.vertical, s.forward))
            any_cal = True
            if one:
                g3 = (grav @ s.forward, grav @ y_ax[2], grav @ s.vertical)
            else:
                a, b = off[li], off[li + 1]
                np.matmul(grav, s.forward, out=gxyz[0, a:b])
                np.matmul(grav, y_ax[2], out=gxyz[1, a:b])
                np.matmul(grav, s.vertical, out=gxyz[2, a:b])
        info.append((still, running, calibrated, li))
        axes.append((s.vertical, s.forward))
        gravs.append(grav)
        li += 1
    pitch_all = roll_all = _NO_ANGLE
    pitch_sums: list[float] = []
    if any_cal:
        pitch_all, roll_all = _angles_deg(*g3)
        pitch_sums = _segment_sums(pitch_all, off)
    # heading of the rest of a run's samples from this frame on (elementwise, so a frame's
    # rows are what heading_deg gives on the frame alone), again if the forward axis changes
    yaw_run: tuple[NDArray[np.float64], NDArray[np.float64], int, NDArray[np.float64]] | None
    yaw_run = None
    # with a gyroscope, the angle histories of the seconds as one array each (a second's
    # history is the hist_len samples ending with it): the ranges of all seconds at once
    m = _hist_len(p)
    roll_parts, yaw_parts = [roll_hist], [yaw_hist]
    ends: list[int] = []      # end of each live second's history in the joined arrays
    strides: list[float] = []
    pitches: list[float] = []
    end = m
    for f, st_s, fo, (_, _, calibrated, li), (_, fwd), reset in zip(
            frames, step_s, orients, info, axes, resets, strict=True):
        if reset:
            roll_hist = yaw_hist = np.full(m, np.nan)
            roll_parts.append(roll_hist)
            yaw_parts.append(yaw_hist)
            end += m
        if fo is None:
            pitches.append(np.nan)
            continue
        pitch = np.nan
        roll = yaw = None
        if calibrated:
            a, b = off[li], off[li + 1]
            pitch = pitch_sums[li] / (b - a)  # == pitch_all[a:b].mean()
            _, quat_run, qa, qb = fo
            if quat_run is not None:
                roll = roll_all[a:b]
                if yaw_run is None or yaw_run[0] is not quat_run or yaw_run[1] is not fwd:
                    yaw_run = (quat_run, fwd, qa, heading_deg(quat_run[qa:], fwd))
                q0 = yaw_run[2]
                yaw = yaw_run[3][qa - q0:qb - q0]
        pitches.append(pitch)
        if p.has_gyro:   # without one the history stays NaN: skip the work
            n = f.samples.n
            if roll is None or yaw is None:
                roll = yaw = np.full(n, np.nan)
            roll_parts.append(roll)
            yaw_parts.append(yaw)
            end += n
            ends.append(end)
            strides.append(2.0 * st_s)
    roll_rng: list[float] = []
    yaw_rng: list[float] = []
    if p.has_gyro and len(roll_parts) > 1:
        big_roll, big_yaw = np.concatenate(roll_parts), np.concatenate(yaw_parts)
        roll_hist, yaw_hist = big_roll[end - m:end], big_yaw[end - m:end]
        if len(ends) == 1:  # one second (live)
            roll_rng = [stride_range_deg(roll_hist, strides[0], p.fs_hz)]
            yaw_rng = [stride_range_deg(yaw_hist, strides[0], p.fs_hz, period_deg=360.0)]
        else:
            roll_rng = _stride_ranges_deg(big_roll, ends, strides, p.fs_hz, m)
            yaw_rng = _stride_ranges_deg(big_yaw, ends, strides, p.fs_hz, m, 360.0)
    rows: list[PostureSecond] = []
    r = 0
    for f, fo, pitch, (still, running, calibrated, _) in zip(frames, orients, pitches, info,
                                                              strict=True):
        if fo is None:
            rows.append(PostureSecond(float(f.k), np.nan, np.nan, np.nan, False, False,
                                      calibrated, 1.0))
            continue
        rr = yr = np.nan
        if roll_rng:
            rr, yr = roll_rng[r], yaw_rng[r]
            r += 1
        rows.append(PostureSecond(float(f.k), pitch, rr, yr, still, running, calibrated,
                                  f.filled_frac))
    s = PostureState(s.framer, os_, s.still_run, s.v_sum, s.vertical, s.vertical_final,
                     s.run_seen, s.cov, s.xcov, s.fwd_n, s.forward, roll_hist, yaw_hist)
    return rows, axes, s, gravs


def _segment_sums(x: NDArray[np.float64], off: Sequence[int]) -> list[float]:
    """``float(np.add.reduce(x[off[i]:off[i + 1]]))`` for each segment i (bit-identical).

    Consecutive segments of one length are summed as the rows of a (k, n) view: a row's
    sum is the same pairwise sum over its contiguous samples as of the segment alone.
    """
    out: list[float] = []
    i, m = 0, len(off) - 1
    while i < m:
        n = off[i + 1] - off[i]
        j = i + 1
        while j < m and off[j + 1] - off[j] == n:
            j += 1
        if j - i == 1 or n == 0:
            out.extend(float(np.add.reduce(x[off[q]:off[q + 1]])) for q in range(i, j))
        else:
            out.extend(np.add.reduce(x[off[i]:off[j]].reshape(j - i, n), axis=1).tolist())
        i = j
    return out


def _frame_stats(accs: Sequence[NDArray[np.float64]]
                 ) -> list[tuple[NDArray[np.float64], float, float]]:
    """Per second: mean acc (3,), the largest per-axis std and the std of the sample norms.

    As :func:`breathform.signal._numeric.mean_std_axis0`, ``np.linalg.norm(acc, axis=1)``
    and :func:`breathform.signal._numeric.std1` give them second by second. Seconds of one
    length are reduced together, each second's sums in the same order: the accelerations
    stacked as (n, k, 3) and reduced over axis 0 (sequential sums, as over a second's
    (n, 3) alone, with a k*3-long inner loop), the norms as (k, n) rows (pairwise sums
    of each contiguous row, as of the second's (n,) norms alone).
    """
    if len(accs) == 1:  # one second (live)
        acc = accs[0]
        mean, std = nu.mean_std_axis0(acc)
        return [(mean, float(std.max()), nu.std1(_norms(acc)))]
    if not accs:
        return []
    allacc = np.concatenate(accs)
    norms = _norms(allacc)
    offs = [0, *accumulate(a.shape[0] for a in accs)]
    stats: list[tuple[NDArray[np.float64], float, float] | None] = [None] * len(accs)
    by_len: dict[int, list[int]] = {}
    for i, acc in enumerate(accs):
        by_len.setdefault(acc.shape[0], []).append(i)
    for n, idx in by_len.items():
        if len(idx) == 1:
            i = idx[0]
            mean, std = nu.mean_std_axis0(accs[i])
            stats[i] = (mean, float(std.max()), nu.std1(norms[offs[i]:offs[i + 1]]))
            continue
        k, a = len(idx), offs[idx[0]]
        if idx[-1] - idx[0] == k - 1:  # consecutive seconds: slices of the joined arrays
            stacked = allacc[a:a + k * n].reshape(k, n, 3).transpose(1, 0, 2).copy()
            rows = norms[a:a + k * n].reshape(k, n)
        else:
            stacked = np.stack([accs[i] for i in idx], axis=1)
            rows = np.stack([norms[offs[i]:offs[i + 1]] for i in idx])
        m, std = nu.mean_std(stacked, 0)
        std_max = std.max(axis=1).tolist()
        n_std_l = nu.mean_std(rows, 1)[1].tolist()
        for r, i in enumerate(idx):
            stats[i] = (m[r], std_max[r], n_std_l[r])
    return cast(list[tuple[NDArray[np.float64], float, float]], stats)


def _norms(acc: NDArray[np.float64]) -> NDArray[np.float64]:
    """``np.linalg.norm(acc, axis=1)`` of an (n, 3) array: its sums run left to right."""
    sq = acc * acc
    return np.sqrt(sq[:, 0] + sq[:, 1] + sq[:, 2])


def stride_range_deg(angle_deg: NDArray[np.float64], stride_s: float, fs_hz: float,
                     period_deg: float | None = None) -> float:
    """Peak-to-peak of an angle over its last stride, end-point drift removed.

    Args:
        angle_deg: Angle samples, latest last, (m,).
        stride_s: Stride period in seconds (NaN if unknown).
        fs_hz: Sample rate.
        period_deg: Unwrap the window with this period first (360 for a heading).

    Returns:
        The range in degrees, or NaN when the stride is unknown, longer than the history or
        the window holds a NaN.
    """
    if not math.isfinite(stride_s):
        return np.nan
    win = round(stride_s * fs_hz)
    if not 2 <= win < angle_deg.shape[0]:
        return np.nan
    a = angle_deg[-win - 1:]
    if not bool(np.isfinite(a).all()):
        return np.nan
    if period_deg is not None:
        a = nu.unwrap(a, period_deg)
    a = a - nu.ramp(float(a[-1] - a[0]), a.shape[0])
    return float(a.max() - a.min())


def _stride_ranges_deg(big: NDArray[np.float64], ends: Sequence[int],
                       strides_s: Sequence[float], fs_hz: float, m: int,
                       period_deg: float | None = None) -> list[float]:
    """:func:`stride_range_deg` of ``big[e - m:e]`` for each ``e`` in ``ends`` (bit-identical).

    The windows (of different lengths) are gathered into one padded array; every step is
    elementwise or an exact reduction (max, min, all) over each row's own samples, as
    :func:`stride_range_deg` does it on one window. A window that needs unwrapping (a jump
    of half a period) goes through :func:`stride_range_deg` itself.
    """
    out = [math.nan] * len(ends)
    sel: list[int] = []
    wins: list[int] = []
    for k, st in enumerate(strides_s):
        if math.isfinite(st):
            win = round(st * fs_hz)
            if 2 <= win < m:
                sel.append(k)
                wins.append(win)
    if not sel:
        return out
    e = np.asarray([ends[k] for k in sel])
    w = np.asarray(wins)
    n_max = int(w.max()) + 1
    j = np.arange(n_max)
    valid = j[None, :] <= w[:, None]
    idx = np.where(valid, (e - w - 1)[:, None] + j[None, :], (e - 1)[:, None])
    a = big[idx]
    ok: list[bool] = np.asarray(np.isfinite(a).all(axis=1)).tolist()
    if period_deg is not None:
        dd = np.abs(a[:, 1:] - a[:, :-1])
        dd[~valid[:, 1:]] = 0.0
        ok_wrap: list[bool] = (dd.max(axis=1) < period_deg / 2).tolist()
        a[:, 1:] += 0.0   # as unwrap: -0.0 becomes 0.0
    else:
        ok_wrap = [True] * len(sel)
    rows = np.arange(len(sel))
    stop = a[rows, w] - a[:, 0]
    line = j[None, :] * (stop / w)[:, None]
    line += 0.0
    line[rows, w] = stop
    a -= line
    hi = np.where(valid, a, -np.inf).max(axis=1)
    lo = np.where(valid, a, np.inf).min(axis=1)
    rng = (hi - lo).tolist()
    for r, k in enumerate(sel):
        if not ok[r]:
            continue
        if ok_wrap[r]:
            out[k] = rng[r]
        else:
            out[k] = stride_range_deg(big[ends[k] - m:ends[k]], strides_s[k], fs_hz,
                                      period_deg)
    return out


def _calibrated(s: PostureState) -> bool:
    return not (math.isnan(s.vertical[0]) or math.isnan(s.forward[0]))


def _update_vertical(p: PostureParams, s: PostureState, still: bool,
                     mean: NDArray[np.float64]) -> PostureState:
    if s.vertical_final:
        return s
    if still:
        run = s.still_run + 1
        v_sum = s.v_sum + mean
        vert = s.vertical
        if run >= p.still_min_s:
            vert = v_sum / np.linalg.norm(v_sum)
        return replace(s, still_run=run, v_sum=v_sum, vertical=vert,
                       vertical_final=run >= p.still_max_s)
    if s.still_run >= p.still_min_s:
        return replace(s, vertical_final=True)
    return replace(s, still_run=0, v_sum=np.zeros(3))


def _update_forward(p: PostureParams, s: PostureState, acc: NDArray[np.float64],
                    grav: NDArray[np.float64], step_s: float) -> PostureState:
    run_seen = s.run_seen + 1
    if run_seen <= p.fwd_skip_s:
        return replace(s, run_seen=run_seen)
    gh = grav / np.linalg.norm(grav, axis=1, keepdims=True)
    dyn = acc - grav
    av = np.einsum("ij,ij->i", dyn, gh)
    h = dyn - av[:, None] * gh
    lag = round(step_s * p.fs_hz) if np.isfinite(step_s) else 0
    hs = h[lag:] + h[: h.shape[0] - lag] if 0 < lag < h.shape[0] else h
    cov = s.cov + hs.T @ hs
    xcov = s.xcov + h.T @ av
    fwd_n = s.fwd_n + 1
    fwd = s.forward
    if fwd_n >= p.fwd_cal_s:
        v = s.vertical
        proj = np.eye(3) - np.outer(v, v)
        w, vecs = np.linalg.eigh(proj @ cov @ proj)
        e = _orthonormal_forward(v, vecs[:, int(np.argmax(w))])
        if float(np.dot(e, xcov)) > 0:
            e = -e
        fwd = e
    return replace(s, run_seen=run_seen, cov=cov, xcov=xcov, fwd_n=fwd_n, forward=fwd)


def pitch_roll_deg(grav: NDArray[np.float64], vertical: NDArray[np.float64],
                   forward: NDArray[np.float64]
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Segment pitch and roll (ZYX Euler) from gravity samples.

    Args:
        grav: Gravity direction samples in the sensor frame (any norm), (n, 3).
        vertical: Segment up axis in the sensor frame, (3,).
        forward: Segment forward axis in the sensor frame, (3,), orthogonal to vertical.

    Returns:
        Pitch in degrees (+ = top of the segment forward) and roll in degrees (+ = tipped
        to the right, left side up), each (n,).
    """
    return _pitch_roll_deg(grav, vertical, forward, _cross3(vertical, forward))


def _cross3(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """``np.cross`` of two 3-vectors, on floats (the same products and differences)."""
    a0, a1, a2 = a.tolist()
    b0, b1, b2 = b.tolist()
    return np.array([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])


def _pitch_roll_deg(grav: NDArray[np.float64], vertical: NDArray[np.float64],
                    forward: NDArray[np.float64], y_ax: NDArray[np.float64]
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return _angles_deg(grav @ forward, grav @ y_ax, grav @ vertical)


def _angles_deg(gx: NDArray[np.float64], gy: NDArray[np.float64], gz: NDArray[np.float64]
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pitch and roll (deg) from gravity in the segment frame (elementwise)."""
    return (np.asarray(np.degrees(np.arctan2(-gx, np.hypot(gy, gz)))),
            np.asarray(np.degrees(np.arctan2(gy, gz))))


def heading_deg(quat: NDArray[np.float64], forward: NDArray[np.float64]
                ) -> NDArray[np.float64]:
    """Segment yaw (ZYX Euler): heading of its forward axis in the 6D earth frame.

    Args:
        quat: Sensor-to-earth quaternions [w, x, y, z], (n, 4).
        forward: Segment forward axis in the sensor frame, (3,).

    Returns:
        Yaw in degrees (+ = turned to the left), in (-180, 180], (n,).
    """
    w, x, y, z = quat[:, 0], quat[:, 1], quat[:, 2], quat[:, 3]
    fx, fy, fz = (float(v) for v in forward)
    # first two rows of the rotation matrix of each quaternion, times ``forward``
    ex = (1 - 2 * (y * y + z * z)) * fx + 2 * (x * y - w * z) * fy + 2 * (x * z + w * y) * fz
    ey = 2 * (x * y + w * z) * fx + (1 - 2 * (x * x + z * z)) * fy + 2 * (y * z - w * x) * fz
    return np.asarray(np.degrees(np.arctan2(ey, ex)))


def step(p: PostureParams, s: PostureState, x: Samples
         ) -> tuple[list[PostureSecond], PostureState]:
    """Feed samples; return a row per completed second."""
    frames, fs_ = fr.push(s.framer, x, p.has_gyro)
    s = replace(s, framer=fs_)
    out = []
    for f in frames:
        row, s, _ = frame_step(p, s, f)
        out.append(row)
    return out, s


def run_batch(p: PostureParams, x: Samples) -> list[PostureSecond]:
    """Process a whole recording in one call."""
    return step(p, init_state(p), x)[0]


def calibration_of(s: PostureState) -> SegmentCalibration | None:
    """The calibration found so far (None until the vertical is known)."""
    if np.isnan(s.vertical[0]):
        return None
    fwd = None if np.isnan(s.forward[0]) else tuple(float(v) for v in s.forward)
    v = s.vertical / np.linalg.norm(s.vertical)
    return SegmentCalibration((float(v[0]), float(v[1]), float(v[2])), fwd)  # type: ignore[arg-type]


__all__: Sequence[str] = [
    "PostureParams", "PostureSecond", "PostureState", "SegmentCalibration", "calibration_of",
    "frame_step", "frames_step", "heading_deg", "init_state", "pitch_roll_deg", "run_batch", "step",
    "stride_range_deg",
]
