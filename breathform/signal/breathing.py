"""Breathing rate, depth, per-breath events and quality from a chest accelerometer.

Respiration tilts the chest wall by a fraction of a degree, which moves the gravity
direction seen by the sensor along the segment's sagittal (forward) axis. Running adds
impacts at the step frequency and sway at the stride frequency, with harmonics. Per sample
(native rate, all three axes, vectorised per second):

1. band-pass 0.08-2 Hz (gravity and impacts out);
2. stride-synchronous comb ``H(z) = (1 - z^-P) / (1 - lambda z^-P)`` with ``P`` the stride
   period in samples (from the cadence estimator): an exponentially averaged stride
   template is subtracted, nulling the stride frequency, the step frequency and all their
   harmonics while passing breathing that is not 1:1 locked to strides;
3. decimation to ~20 Hz (on absolute sample indices, so chunking does not matter) and a
   1.2 Hz low-pass; the three axes are kept in a trailing ring buffer.

Each second the rate is tracked with a causal forward filter (an HMM over a grid of rates,
6-60 bpm; :class:`RateTracker`, shared with the RR-interval estimator in
:mod:`breathform.signal.rr_respiration`): the belief is diffused by a Gaussian random walk
(``tracker.walk_sigma_bpm`` per second), mixed with a broad physiological prior
(``tracker.prior_bpm``, weight ``tracker.prior_mix``, so that a wrong lock can be left;
while striding the prior is centred on the commonest locomotor-respiratory coupling,
``breaths_per_stride`` = 1 breath per 2 strides, log-normal of width
``coupling_sigma_log``), and multiplied by the spectral evidence of the second. The evidence
is the Hann-windowed power of the ring summed over the three axes (mounting- and
yaw-invariant), whitened by ``f ** whiten_exp`` up to ``whiten_knee_bpm`` (postural sway has
a steep low-frequency spectrum that otherwise wins; flat above the knee so that a white
noise floor does not pull the rate to the top of the grid), normalised to a distribution
over the grid and tempered by ``tracker.evidence_temp`` (consecutive windows overlap: each
second's evidence is mostly not new). While striding, rates above ``stride_ceiling`` breaths
per stride are excluded: runners and walkers breathe at 2:1, 3:1, 3:2 ... strides per
breath, rarely 1:1, and the stride's sway is the strongest rhythm left in the band.
Confidence = the posterior mass within +-3 bpm of the posterior mean (rescaled by
``tracker.quality_mass``); the rate blends, by that confidence, the posterior mean (shrunk
towards the prior when the evidence is weak) and the unwhitened spectrum's peak within
``tracker.local_bpm`` of the posterior's mode (precise when the breathing peak is clear).
Quality = the confidence, times a dominance factor (the evidence's share within +-3 bpm of
the rate, mapped by ``dominance``; a flat spectrum has ~0.11), reduced by gap-filled
samples; below ``min_quality`` the rate is NaN (abstain rather than guess). The rate needs no
mounting calibration (its evidence is summed over the axes), so it is reported before the
posture knows the vertical; amplitude then uses the ring's principal axis and depth stays
NaN. One complex FFT of the window per second serves the evidence and, projected on the
axis (the FFT is linear), the amplitude. Depth =
amplitude at the rate along the calibrated forward axis (before that: the ring's principal
horizontal axis), corrected for the comb's gain, over the amplitude of the resting breath,
calibrated during the quiet-breathing stand (from the projection's own dominant peak and its
concentration: no locomotion there) or given in Params. Inspiration onsets (troughs of the
projected signal, i.e. the chest starting to rotate backwards) are detected with hysteresis
and kept in State.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import accumulate
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sp_fft
from scipy.signal import sosfilt_zi

try:  # scipy.fft's own backend: calling it directly skips the dispatch
    from scipy.fft._pocketfft import pypocketfft as _pfft
    from scipy.fft._pocketfft.helper import _workers
except ImportError:  # pragma: no cover - a scipy that moved it: the public path is used
    _pfft = None

try:  # what np.convolve calls, without its argument handling
    from numpy._core.multiarray import correlate as _correlate
except ImportError:  # pragma: no cover - a numpy that moved it: np.convolve is used
    _correlate = None  # type: ignore[assignment]

from breathform.errors import InputError
from breathform.signal import frames as fr
from breathform.signal._filters import butter_sos, filt


@dataclass(frozen=True, slots=True)
class RateTracker:
    """A causal forward filter (HMM) over a grid of breathing rates.

    Shared by the chest-accelerometer estimator (this module) and the RR-interval estimator
    (:mod:`breathform.signal.rr_respiration`): each second the belief is diffused by a
    Gaussian random walk, mixed with a prior (so that a wrong lock can be left) and
    multiplied by that second's spectral evidence, tempered (consecutive windows overlap).
    Confidence = the posterior mass within +-3 bpm of the posterior mean, rescaled.

    Attributes:
        grid_bpm: Rate grid (lowest, highest, step), bpm.
        walk_sigma_bpm: Standard deviation of the rate's random walk per second.
        prior_bpm: Mean and standard deviation of the physiological prior, bpm.
        prior_mix: Weight of the prior mixed into the belief each second.
        evidence_temp: Exponent of the spectral evidence (0..1).
        quality_mass: Posterior mass within +-3 bpm mapped to confidence 0 and 1.
        local_bpm: Half-width of the search for the spectral peak around the belief's mode.
    """

    grid_bpm: tuple[float, float, float] = (6.0, 60.0, 0.25)
    walk_sigma_bpm: float = 1.0
    prior_bpm: tuple[float, float] = (25.0, 10.0)
    prior_mix: float = 0.05
    evidence_temp: float = 0.1
    quality_mass: tuple[float, float] = (0.15, 0.55)
    local_bpm: float = 3.0

    def __post_init__(self) -> None:
        g0, g1, gd = self.grid_bpm
        if not (0 < g0 < g1 and 0 < gd <= (g1 - g0) / 4):
            raise InputError(f"grid_bpm must be (lo, hi, step) with 0 < lo < hi and "
                             f"0 < step <= (hi - lo)/4, got {self.grid_bpm}")
        if not self.walk_sigma_bpm > 0:
            raise InputError(f"walk_sigma_bpm must be > 0, got {self.walk_sigma_bpm}")
        if not self.prior_bpm[1] > 0:
            raise InputError(f"prior_bpm must be (mean, sd) with sd > 0, got {self.prior_bpm}")
        if not 0 < self.prior_mix < 1:
            raise InputError(f"prior_mix must be in (0, 1), got {self.prior_mix}")
        if not 0 < self.evidence_temp <= 1:
            raise InputError(f"evidence_temp must be in (0, 1], got {self.evidence_temp}")
        if not 0 <= self.quality_mass[0] < self.quality_mass[1] <= 1:
            raise InputError(f"quality_mass must satisfy 0 <= lo < hi <= 1, "
                             f"got {self.quality_mass}")
        if not self.local_bpm > 0:
            raise InputError(f"local_bpm must be > 0, got {self.local_bpm}")


@dataclass(frozen=True, slots=True)
class BreathParams:
    """Parameters of the breathing estimator.

    Attributes:
        fs_hz: Nominal chest sample rate (25-200 Hz).
        target_fs_hz: Approximate rate after decimation.
        comb_lambda: Forgetting factor of the stride template (0..1, higher = narrower).
        band_hz: Breathing band searched for the rate.
        window_s: Trailing window of the spectral estimate.
        min_window_s: Shortest window before a first estimate.
        nfft: FFT length of the spectral estimate.
        peak_halfwidth_hz: Half-width of the band counted as "the peak" (amplitude).
        tracker: The rate tracker (grid, random walk, prior, evidence temper, confidence);
            its random walk is 0.5 bpm/s here (chosen leave-one-session-out on the Hexoskin
            recordings, ``benchmarks/breathing_accuracy.py --loso``), 1.0 for the RR source.
        whiten_exp: The power spectrum is multiplied by ``f ** whiten_exp``.
        whiten_knee_bpm: Above this rate the whitening weight stays constant.
        stride_ceiling: Highest breaths per stride considered while striding (0 = off).
        breaths_per_stride: Centre of the prior while striding (2:1 coupling = 0.5).
        coupling_sigma_log: Its width in log-rate (0 = use the resting prior throughout).
        dominance: Share of the evidence's power within +-3 bpm of the rate mapped to a
            quality factor of 0 and 1 (a flat spectrum gives ~0.11; (0, 0) = off).
        min_quality: Below this quality the rate and depth are NaN.
        rest_amp_g: Resting breath amplitude (rms, g) from the runner's profile; when None
            it is calibrated from the quiet-breathing stand.
        rest_min_s: Seconds of resting estimates needed for the calibration.
        onset_hyst: Hysteresis of the onset detector, fraction of the peak-to-peak amplitude.
        max_onsets: Inspiration onsets kept in State.
        max_stride_s: Longest stride period the comb handles.
    """

    fs_hz: float
    target_fs_hz: float = 20.0
    comb_lambda: float = 0.8
    band_hz: tuple[float, float] = (0.1, 1.15)
    window_s: float = 20.0
    min_window_s: float = 12.0
    nfft: int = 4096
    peak_halfwidth_hz: float = 0.06
    tracker: RateTracker = RateTracker(walk_sigma_bpm=0.5)
    whiten_exp: float = 2.0
    whiten_knee_bpm: float = 30.0
    stride_ceiling: float = 0.7
    dominance: tuple[float, float] = (0.0, 0.12)
    breaths_per_stride: float = 0.5
    coupling_sigma_log: float = 0.3
    min_quality: float = 0.3
    rest_amp_g: float | None = None
    rest_min_s: int = 5
    onset_hyst: float = 0.3
    max_onsets: int = 64
    max_stride_s: float = 2.0

    def __post_init__(self) -> None:
        if not 20 <= self.fs_hz <= 1000:
            raise InputError(f"fs_hz must be in [20, 1000], got {self.fs_hz}")
        lo, hi = self.band_hz
        if not 0 < lo < hi < 0.45 * self.fs_d_hz:
            raise InputError(f"band_hz must satisfy 0 < lo < hi < 0.45*decimated rate, "
                             f"got {self.band_hz}")
        if not 0 <= self.comb_lambda < 1:
            raise InputError(f"comb_lambda must be in [0, 1), got {self.comb_lambda}")
        if not 0 < self.min_window_s <= self.window_s:
            raise InputError(f"need 0 < min_window_s <= window_s, got {self.min_window_s}, "
                             f"{self.window_s}")
        if self.rest_amp_g is not None and not self.rest_amp_g > 0:
            raise InputError(f"rest_amp_g must be > 0, got {self.rest_amp_g}")
        if self.nfft < self.window_s * self.fs_d_hz:
            raise InputError(f"nfft={self.nfft} shorter than the window")
        if not self.tracker.grid_bpm[1] / 60.0 < 0.45 * self.fs_d_hz:
            raise InputError(f"tracker.grid_bpm's highest rate must be below 0.45 * the "
                             f"decimated rate ({0.45 * self.fs_d_hz * 60.0:.0f} bpm), got "
                             f"{self.tracker.grid_bpm}")
        if not (self.breaths_per_stride > 0 and self.stride_ceiling >= 0
                and self.coupling_sigma_log >= 0 and self.whiten_knee_bpm > 0):
            raise InputError("need breaths_per_stride > 0, stride_ceiling >= 0, "
                             "coupling_sigma_log >= 0 and whiten_knee_bpm > 0, got "
                             f"{self.breaths_per_stride}, {self.stride_ceiling}, "
                             f"{self.coupling_sigma_log}, {self.whiten_knee_bpm}")
        d0, d1 = self.dominance
        if not (d0 == d1 == 0 or 0 <= d0 < d1 <= 1):
            raise InputError(f"dominance must be (0, 0) or satisfy 0 <= lo < hi <= 1, "
                             f"got {self.dominance}")

    @property
    def decim(self) -> int:
        """Decimation factor."""
        return max(1, round(self.fs_hz / self.target_fs_hz))

    @property
    def fs_d_hz(self) -> float:
        """Sample rate after decimation."""
        return self.fs_hz / self.decim


@dataclass(frozen=True, slots=True)
class BreathFrame:
    """One second of chest samples with what the other chest processors know.

    Attributes:
        frame: The second's samples.
        vertical: Calibrated segment vertical (3,), NaN when unknown.
        forward: Calibrated segment forward axis (3,), NaN when unknown.
        stride_s: Current stride period in seconds, NaN when not striding.
        still: Whether the second was still (standing).
    """

    frame: fr.Frame
    vertical: NDArray[np.float64]
    forward: NDArray[np.float64]
    stride_s: float
    still: bool


@dataclass(frozen=True, slots=True)
class BreathState:
    """Carry-over of the breathing estimator (see the module docstring)."""

    zi_a: NDArray[np.float64]
    primed: bool
    comb_x: NDArray[np.float64]
    comb_y: NDArray[np.float64]
    zi_c: NDArray[np.float64]
    ring: NDArray[np.float64]
    ring_filled: NDArray[np.bool_]
    n_valid: int
    belief: NDArray[np.float64]
    amp_prev_g: float
    still_run: int
    rest_sum_g: float
    rest_n: int
    rest_amp_g: float
    rest_final: bool
    trk_mode: int
    trk_v: float
    trk_t_s: float
    onsets_s: NDArray[np.float64]
    n_onsets: int


@dataclass(frozen=True, slots=True)
class BreathSecond:
    """Breathing for second ``(t_s - 1, t_s]``.

    Attributes:
        t_s: End of the second.
        rate_bpm: Breaths per minute, NaN when not trustworthy.
        depth_rel: Amplitude relative to the resting breath, NaN when unknown.
        quality: 0..1.
        amp_g: Breathing amplitude (rms, g) along the projection axis, NaN when unknown.
        onsets_s: Inspiration onsets detected during this second (session time).
        rest_calibrated: Whether the resting amplitude is known.
    """

    t_s: float
    rate_bpm: float
    depth_rel: float
    quality: float
    amp_g: float
    onsets_s: tuple[float, ...]
    rest_calibrated: bool


@lru_cache(maxsize=32)
def _sos_a(fs_hz: float) -> NDArray[np.float64]:
    return np.vstack((butter_sos(4, 2.0, "lowpass", fs_hz),
                      butter_sos(2, 0.08, "highpass", fs_hz)))


@lru_cache(maxsize=32)
def _zi_a(fs_hz: float) -> NDArray[np.float64]:
    return np.asarray(sosfilt_zi(_sos_a(fs_hz)))


def _sos_c(p: BreathParams) -> NDArray[np.float64]:
    return butter_sos(2, min(1.2, 0.4 * p.fs_d_hz), "lowpass", p.fs_d_hz)


def _nring(p: BreathParams) -> int:
    return round(p.window_s * p.fs_d_hz)


def _pmax(p: BreathParams) -> int:
    return round(p.max_stride_s * p.fs_hz)


def init_state(p: BreathParams) -> BreathState:
    """Return the state before any sample."""
    nr = _nring(p)
    rest = np.nan if p.rest_amp_g is None else float(p.rest_amp_g)
    return BreathState(
        zi_a=np.zeros((_sos_a(p.fs_hz).shape[0], 2, 3)), primed=False,
        comb_x=np.zeros((_pmax(p), 3)), comb_y=np.zeros((_pmax(p), 3)),
        zi_c=np.zeros((_sos_c(p).shape[0], 2, 3)),
        ring=np.zeros((nr, 3)), ring_filled=np.zeros(nr, bool), n_valid=0,
        belief=_prior(p).copy(), amp_prev_g=np.nan, still_run=0,
        rest_sum_g=0.0, rest_n=0,
        rest_amp_g=rest, rest_final=p.rest_amp_g is not None,
        trk_mode=0, trk_v=0.0, trk_t_s=0.0,
        onsets_s=np.full(p.max_onsets, np.nan), n_onsets=0,
    )


def reset_filters(p: BreathParams, s: BreathState) -> BreathState:
    """Restart filters and windows after a long gap; keep the resting calibration."""
    fresh = init_state(p)
    return replace(fresh, rest_sum_g=s.rest_sum_g, rest_n=s.rest_n, rest_amp_g=s.rest_amp_g,
                   rest_final=s.rest_final or s.rest_n >= p.rest_min_s,
                   onsets_s=s.onsets_s, n_onsets=s.n_onsets, belief=s.belief)


def _comb(lam: float, x: NDArray[np.float64], hx: NDArray[np.float64],
          hy: NDArray[np.float64], period: int
          ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """y[n] = x[n] - x[n-P] + lam*y[n-P], vectorised in blocks of P samples."""
    return _comb_run(lam, x, hx, hy, [(x.shape[0], period)])


def _comb_run(lam: float, x: NDArray[np.float64], hx: NDArray[np.float64],
              hy: NDArray[np.float64], segments: Sequence[tuple[int, int]]
              ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """:func:`_comb` over consecutive segments ``(n_samples, period)`` of ``x``.

    Each output sample is ``x[n] - x[n-P] + lam*y[n-P]`` with ``y[n-P]`` final before it
    is used (blocks of at most P samples), so the blocking does not change a bit: a run of
    seconds gives what the seconds one by one give.
    """
    h = hx.shape[0]
    xx = np.concatenate((hx, x))
    yy = np.concatenate((hy, np.zeros_like(x)))
    j0 = 0
    for n, period in segments:
        end = j0 + n
        if period <= 0:
            yy[h + j0:h + end] = x[j0:end]
            j0 = end
            continue
        # x[n] - x[n-P] of the whole segment at once (x does not change); per block
        # lam*y[n-P], then that difference added (the same two roundings: addition commutes)
        diff = xx[h + j0:h + end] - xx[h + j0 - period:h + end - period]
        d0 = j0
        while j0 < end:
            j1 = min(end, j0 + period)
            a, b = h + j0, h + j1
            blk = yy[a:b]
            np.multiply(yy[a - period:b - period], lam, out=blk)
            blk += diff[j0 - d0:j1 - d0]
            j0 = j1
    return yy[h:], xx[-h:], yy[-h:]


def comb_gain(lam: float, f_hz: float, stride_s: float) -> float:
    """Magnitude of the comb's response at ``f_hz`` for a stride period ``stride_s``."""
    z = np.exp(-2j * np.pi * f_hz * stride_s)
    return float(abs((1 - z) / (1 - lam * z)))


def frame_step(p: BreathParams, s: BreathState, bf: BreathFrame
               ) -> tuple[BreathSecond, BreathState]:
    """Process one second (:func:`frames_step` for one second)."""
    rows, s = frames_step(p, s, (bf,))
    return rows[0], s


def frames_step(p: BreathParams, s: BreathState, bfs: Sequence[BreathFrame]
                ) -> tuple[list[BreathSecond], BreathState]:
    """:func:`frame_step` for consecutive seconds at once (bit-identical).

    Band-pass, comb, decimation and low-pass run once over each run of seconds between
    resets (sequential filters with carried state: the split does not change them), and the
    windows' spectra and projected powers of the run in one pass (see
    :func:`_window_spectra`); the tracker, amplitude, onsets and resting calibration go
    second by second.
    """
    out: list[BreathSecond] = []
    i, n = 0, len(bfs)
    while i < n:
        j = i + 1
        while j < n and not bfs[j].frame.reset:
            j += 1
        s = _run_step(p, s, bfs[i:j], out)
        i = j
    return out, s


def _run_step(p: BreathParams, s: BreathState, run: Sequence[BreathFrame],
              out: list[BreathSecond]) -> BreathState:
    """Seconds of one run (a reset only at its first); appends their rows to ``out``."""
    if run[0].frame.reset:
        s = reset_filters(p, s)
    ns = [bf.frame.samples.n for bf in run]
    live = [bf for bf, m in zip(run, ns, strict=True) if m]
    if not live:
        out.extend(BreathSecond(float(bf.frame.k), np.nan, np.nan, 0.0, np.nan, (),
                                _rest_ok(s)) for bf in run)
        return s
    xs = [bf.frame.samples for bf in live]
    live_ns = [m for m in ns if m]
    one = len(xs) == 1
    acc = xs[0].acc_g if one else np.concatenate([x.acc_g for x in xs])
    # 1. band-pass at the native rate
    zi = s.zi_a if s.primed else _zi_a(p.fs_hz)[:, :, None] * acc[0]
    ya, zi_a = filt(_sos_a(p.fs_hz), acc, zi)
    # 2. stride comb, each second with its own period
    pmax = _pmax(p)
    periods = [min(pmax, round(bf.stride_s * p.fs_hz)) if math.isfinite(bf.stride_s) else 0
               for bf in live]
    segs: list[tuple[int, int]] = []
    for m, per in zip(live_ns, periods, strict=True):
        if segs and segs[-1][1] == per:
            segs[-1] = (segs[-1][0] + m, per)
        else:
            segs.append((m, per))
    yb, cx, cy = _comb_run(p.comb_lambda, ya, s.comb_x, s.comb_y, segs)
    # 3. decimate on absolute indices, low-pass, ring
    if one:
        idx, t_all, filled_all = xs[0].idx, xs[0].t_s, xs[0].filled
    else:
        idx = np.concatenate([x.idx for x in xs])
        t_all = np.concatenate([x.t_s for x in xs])
        filled_all = np.concatenate([x.filled for x in xs])
    keep = (idx % p.decim) == 0
    yd_all, zi_c = filt(_sos_c(p), yb[keep], s.zi_c)
    td_all = t_all[keep]
    nr = s.ring.shape[0]
    big = np.concatenate((s.ring, yd_all))
    big_filled = np.concatenate((s.ring_filled, filled_all[keep]))
    # kept samples up to the end of each second (cumulative)
    if one:
        cum = [int(np.count_nonzero(keep))]
    else:
        ends = list(accumulate(live_ns))
        cum = np.cumsum(keep)[np.asarray(ends) - 1].tolist()
    nv = [min(nr, s.n_valid + c) for c in cum]
    # _axis, whose first answer (the calibrated forward axis) needs no slice of the ring
    axes = [bf.forward if math.isfinite(bf.forward[0]) else _axis(bf, big[c + nr - v:c + nr])
            for bf, c, v in zip(live, cum, nv, strict=True)]
    # gap-filled samples in each second's window, big_filled[c + nr - v:c + nr], as
    # differences of one cumulative count (exact integers)
    n_filled = np.concatenate(([0], np.cumsum(big_filled))).tolist()
    spectra = _window_spectra(p, big, [
        (k, cum[k] + nr - nv[k], nv[k]) for k in range(len(live))
        if axes[k] is not None and nv[k] >= p.min_window_s * p.fs_d_hz], axes)
    priors = _priors_now(p, [bf.stride_s if k in spectra else np.nan
                             for k, bf in enumerate(live)])
    tp = _tracker_plan(p.tracker)
    rest_prior = _prior(p)
    ceil_is = np.searchsorted(tp.f_hz, [_ceiling_hz(p, bf.stride_s) for bf in live],
                              side="right").tolist()  # == _ceiling_index, all at once
    belief, amp_prev_g = s.belief, s.amp_prev_g
    trk = (s.trk_mode, s.trk_v, s.trk_t_s)
    ons, n_on = s.onsets_s, s.n_onsets
    k = 0
    c_prev = 0
    for bf, m in zip(run, ns, strict=True):
        t_k = float(bf.frame.k)
        if not m:
            out.append(BreathSecond(t_k, np.nan, np.nan, 0.0, np.nan, (), _rest_ok(s)))
            continue
        axis, c, n_valid = axes[k], cum[k], nv[k]
        rate = depth = amp = np.nan
        quality = 0.0
        onsets: tuple[float, ...] = ()
        sp = spectra.get(k)
        if axis is not None and sp is not None:
            plan = sp.plan
            pr = priors[k]
            belief, f_b, conf = _track_spec(
                p, tp, belief, sp, tp.mix_prior if pr is rest_prior else p.tracker.prior_mix * pr,
                ceil_is[k])
            proj = _proj_power(plan, sp.spec3, axis) if sp.proj is None else sp.proj
            amp = _amplitude(p, plan, proj, f_b)
            # == ring_filled[-n_valid:].mean(): an exact count over n_valid, rounded once
            filled_frac = (n_filled[c + nr] - n_filled[c + nr - n_valid]) / n_valid
            quality = conf * (1.0 - filled_frac)
            if periods[k] > 0 and math.isfinite(f_b):
                amp = amp / max(comb_gain(p.comb_lambda, f_b, bf.stride_s), 0.2)
            if math.isfinite(f_b) and quality >= p.min_quality:
                rate = 60.0 * f_b
            if math.isfinite(bf.forward[0]) and math.isfinite(amp_prev_g):
                # this second's decimated samples, a fresh array laid out as the low-pass
                # returns them ("K": the memory order of the run's output)
                yd = yd_all if one else np.array(yd_all[c_prev:c], order="K")
                onsets, trk, ons, n_on = _track_onsets(
                    p, amp_prev_g, trk, ons, n_on, td_all[c_prev:c], yd @ bf.forward)
            if quality >= p.min_quality:
                amp_prev_g = amp
            if bf.still and not s.rest_final:
                # the quiet stand has no locomotion: its calibration takes the projection's
                # own dominant peak (concentration-based quality), not the tracker's belief
                amp_r, conc = _dominant_amplitude(p, plan, proj)
                q_r = min(1.0, max(0.0, (conc - 0.2) / 0.5)) * (1.0 - filled_frac)
                s = _rest_update(p, s, bf, amp_r, q_r)
            else:
                s = _rest_update(p, s, bf, amp, quality)
            if quality >= p.min_quality and math.isfinite(s.rest_amp_g) \
                    and math.isfinite(bf.vertical[0]):
                depth = amp / s.rest_amp_g
        else:
            s = _rest_update(p, s, bf, np.nan, 0.0)
        if quality < p.min_quality:
            rate = depth = np.nan
        out.append(BreathSecond(t_k, rate, depth, quality, amp, onsets, _rest_ok(s)))
        c_prev = c
        k += 1
    c = cum[-1]
    return replace(s, zi_a=zi_a, primed=True, comb_x=cx, comb_y=cy, zi_c=zi_c,
                   ring=big[c:c + nr], ring_filled=big_filled[c:c + nr],
                   n_valid=nv[-1], belief=belief, amp_prev_g=amp_prev_g, trk_mode=trk[0],
                   trk_v=trk[1], trk_t_s=trk[2], onsets_s=ons, n_onsets=n_on)


_Spectra = dict[int, "_WinSpectrum"]


def _window_spectra(p: BreathParams, big: NDArray[np.float64],
                    wins: Sequence[tuple[int, int, int]],
                    axes: Sequence[NDArray[np.float64] | None] | None = None) -> _Spectra:
    """Spectra of the windows ``big[a:a + n]`` given as ``(key, a, n)``, batched per length.

    Per key: the plan, the complex spectrum per axis (nb, 3), its power summed over the
    axes (nb,) and that power interpolated on the tracker's grid and whitened (n_grid,),
    each as :func:`_spectrum` and :func:`_track` compute them for one window; with
    ``axes`` (indexed by key) also the power projected on the key's axis
    (:func:`_proj_power`).
    """
    out: _Spectra = {}
    if not wins:
        return out
    by_len: dict[int, list[tuple[int, int]]]
    if len(wins) == 1:
        by_len = {wins[0][2]: [(wins[0][0], wins[0][1])]}
    else:
        by_len = {}
        for key, a, n in wins:
            by_len.setdefault(n, []).append((key, a))
    for n, group in by_len.items():
        plan = _spec_plan(p, n)
        spec3, full = _spectra_rows(big, [a for _, a in group], n, plan, p.nfft)
        spec = (full[:, plan.i0] * (1.0 - plan.frac) + full[:, plan.i0 + 1] * plan.frac) \
            * plan.whiten
        # the tempered evidence, as tracker_step computes it from each row (rows made
        # contiguous: the gather above leaves them strided, and a strided row is summed
        # in another order than a contiguous one)
        if len(group) == 1:
            row = spec[0]
            total = float(row.sum())
            lik1 = None
            if total > 0 and np.isfinite(total):
                lik1 = (row * (1.0 / total) + 1e-12) ** p.tracker.evidence_temp
            key = group[0][0]
            out[key] = _WinSpectrum(plan, spec3[0], full[0], row, total, lik1,
                                    None if axes is None else _proj_power(plan, spec3[0],
                                                                          _axis_of(axes, key)))
            continue
        spec = np.ascontiguousarray(spec)
        totals = spec.sum(axis=1)
        good = np.isfinite(totals) & (totals > 0)
        inv = np.divide(1.0, totals, out=np.zeros_like(totals), where=good)
        lik = (spec * inv[:, None] + 1e-12) ** p.tracker.evidence_temp
        tot, ok = totals.tolist(), good.tolist()
        projs = [None] * len(group) if axes is None else _proj_powers(
            spec3, [_axis_of(axes, key) for key, _ in group])
        for r, (key, _) in enumerate(group):
            out[key] = _WinSpectrum(plan, spec3[r], full[r], spec[r], tot[r],
                                    lik[r] if ok[r] else None, projs[r])
    return out


def _axis_of(axes: Sequence[NDArray[np.float64] | None], key: int) -> NDArray[np.float64]:
    axis = axes[key]
    if axis is None:  # pragma: no cover - _run_step asks for no spectrum without an axis
        raise InputError(f"window {key} has no projection axis")
    return axis


def _proj_powers(spec3: NDArray[np.complex128], axes: Sequence[NDArray[np.float64]]
                 ) -> list[NDArray[np.float64]]:
    """:func:`_proj_power` of each ``spec3[r]`` (k, nb, 3) on ``axes[r]``, as (nb,) rows.

    The rows whose axes are the same (bit for bit, same layout) are projected in one
    stacked matmul: numpy runs the same gemv on each matrix of a stack, and the power
    is elementwise, so each row is what :func:`_proj_power` gives for it alone.
    """
    by_axis: dict[tuple[bytes, tuple[int, ...]], list[int]] = {}
    for r, axis in enumerate(axes):
        by_axis.setdefault((axis.tobytes(), axis.strides), []).append(r)
    if len(by_axis) == 1:
        return list(np.abs(spec3 @ axes[0]) ** 2)
    row_of: dict[int, NDArray[np.float64]] = {}
    for rows in by_axis.values():
        pw = np.abs(spec3[rows] @ axes[rows[0]]) ** 2
        row_of.update(zip(rows, pw, strict=True))
    return [row_of[r] for r in range(len(axes))]


def _spectra_rows(big: NDArray[np.float64], starts: Sequence[int], n: int, plan: _SpecPlan,
                  nfft: int) -> tuple[NDArray[np.complex128], NDArray[np.float64]]:
    """Spectra of the windows ``big[a:a + n]``, ``a`` in ``starts`` (n <= nfft).

    Per window ``w`` the values of::

        z = (w - w.mean(axis=0)) * plan.hann[:, None]
        spec3 = scipy.fft.rfft(z, nfft, axis=0)[:plan.nb]          # (nb, 3)
        full = (spec3.real ** 2 + spec3.imag ** 2).sum(axis=1)      # (nb,)

    stacked as (k, nb, 3) and (k, nb), computed in other layouts with the same operations
    on each element: the windows are gathered as (n, k, 3), so that the mean's sum runs
    over the outer axis (numpy sums an axis that is not the innermost one row after row,
    in order, as it does for the (n, 3) window: the same sequential sums, without
    thousands of 3-element inner loops); the FFT is scipy's backend (minus the dispatch)
    on :data:`_FFT_ROWS` windows per call, each axis a contiguous zero-padded row
    (pocketfft transforms each row on its own, several at once in SIMD lanes doing the same
    operations: the grouping and the layout do not change a bit); ``.sum(axis=1)`` over
    the three axes is sequential, ``(a0 + a1) + a2``, written out on contiguous rows.
    """
    k = len(starts)
    nb = plan.nb
    spec3 = np.empty((k, nb, 3), np.complex128)
    full = np.empty((k, nb))
    if not k:
        return spec3, full
    # (n, k, 3), C-contiguous: the mean's sum below runs over the outer axis
    z = big[_arange_col(n) + np.asarray(starts, np.intp)]
    mean = np.add.reduce(z, axis=0)
    mean /= n
    z -= mean
    z *= plan.hann[:, None, None]
    c = min(k, _FFT_ROWS)
    pad = np.zeros((c, 3, nfft))  # past n it stays zero: each call writes up to n only
    buf = np.empty((c, 3, nfft // 2 + 1), np.complex128)
    workers = None if _pfft is None else _workers(None)
    for r0 in range(0, k, c):
        m = min(c, k - r0)
        pad[:m, :, :n] = z[:, r0:r0 + m].transpose(1, 2, 0)
        if _pfft is None:  # pragma: no cover - a scipy that moved its backend
            buf[:m] = sp_fft.rfft(pad[:m], axis=2)
        else:
            _pfft.r2c(pad[:m], (2,), True, 0, buf[:m], workers)
        part = buf[:m, :, :nb]
        spec3[r0:r0 + m] = part.transpose(0, 2, 1)
        q = part.real ** 2
        q += part.imag ** 2
        np.add(q[:, 0], q[:, 1], out=full[r0:r0 + m])
        full[r0:r0 + m] += q[:, 2]
    return spec3, full


_FFT_ROWS = 8
"""Windows per pocketfft call in :func:`_spectra_rows`: one window's three axes fill few
SIMD lanes and each call has a fixed cost (8 windows per call take ~20 % less time per
window than one). Its buffers (8 x 3 x nfft floats in, as many complex out: ~1.6 MB at
nfft 4096) are allocated once per batch and reused by every call, not a padded copy of all
the batch's windows (megabytes more, fresh pages each batch)."""


class _WinSpectrum(NamedTuple):
    """A window's spectrum (see :func:`_window_spectra`)."""

    plan: _SpecPlan
    spec3: NDArray[np.complex128]           # complex spectrum per axis, (nb, 3)
    full: NDArray[np.float64]               # power summed over the axes, (nb,)
    spec: NDArray[np.float64]               # that on the grid, whitened, (n_grid,)
    total: float                            # its sum
    lik: NDArray[np.float64] | None         # tempered evidence (None: no evidence)
    proj: NDArray[np.float64] | None        # power projected on an axis (None: not asked)


@lru_cache(maxsize=16)
def _arange_col(n: int) -> NDArray[np.intp]:
    """``np.arange(n)[:, None]`` (read-only)."""
    a = np.arange(n)[:, None]
    a.setflags(write=False)
    return a


def _rest_ok(s: BreathState) -> bool:
    return math.isfinite(s.rest_amp_g)


def _axis(bf: BreathFrame, ring: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """The projection axis for amplitude and onsets.

    The calibrated forward axis, else the ring's principal horizontal axis, else (vertical
    unknown) its principal axis; None before 8 samples.
    """
    if math.isfinite(bf.forward[0]):
        return bf.forward
    if ring.shape[0] < 8:
        return None
    v = bf.vertical
    h = ring @ (np.eye(3) - np.outer(v, v)) if np.isfinite(v[0]) else ring
    w, vecs = np.linalg.eigh(h.T @ h)
    return np.asarray(vecs[:, int(np.argmax(w))])


def _grid_hz(p: BreathParams) -> NDArray[np.float64]:
    return tracker_grid_hz(p.tracker)


def _prior(p: BreathParams) -> NDArray[np.float64]:
    return tracker_prior(p.tracker)


def _prior_now(p: BreathParams, stride_s: float) -> NDArray[np.float64]:
    """The resting prior, or while striding the locomotor-coupling prior."""
    return _priors_now(p, [stride_s])[0]


def _priors_now(p: BreathParams, strides_s: Sequence[float]) -> list[NDArray[np.float64]]:
    """:func:`_prior_now` for several seconds (the striding ones in one elementwise pass)."""
    out = [_prior(p)] * len(strides_s)
    if p.coupling_sigma_log <= 0:
        return out
    rows = [k for k, st in enumerate(strides_s) if math.isfinite(st) and st > 0]
    if not rows:
        return out
    if len(rows) == 1:  # the same operations on one row
        k = rows[0]
        mu1 = np.log(p.breaths_per_stride / strides_s[k])
        w1 = np.exp((-0.5 / p.coupling_sigma_log ** 2) * (_log_grid(p.tracker) - mu1) ** 2)
        out[k] = np.asarray(w1 / w1.sum())
        return out
    # elementwise: the same division and log per row as one row alone
    mu = np.log(p.breaths_per_stride / np.asarray([strides_s[k] for k in rows], np.float64))
    w = np.exp((-0.5 / p.coupling_sigma_log ** 2)
               * (_log_grid(p.tracker)[None, :] - mu[:, None]) ** 2)
    w = w / w.sum(axis=1, keepdims=True)
    for r, k in enumerate(rows):
        out[k] = w[r]
    return out


@lru_cache(maxsize=32)
def _log_grid(t: RateTracker) -> NDArray[np.float64]:
    return np.asarray(np.log(tracker_grid_hz(t)))


@dataclass(frozen=True, slots=True)
class _SpecPlan:
    """Per window length: everything about the spectral estimate that does not change."""

    hann: NDArray[np.float64]        # (n,) window
    w2_sum: float                    # sum of the window's squares
    nb: int                          # FFT bins kept (those up to the grid's top, searched)
    df_hz: float                     # bin spacing
    i0: NDArray[np.intp]             # grid -> lower bin
    frac: NDArray[np.float64]        # grid -> interpolation weight of the upper bin
    whiten: NDArray[np.float64]      # whitening weight on the grid


@lru_cache(maxsize=16)
def _spec_plan(p: BreathParams, n: int) -> _SpecPlan:
    df = p.fs_d_hz / p.nfft
    f = _grid_hz(p)
    top_hz = max(float(f[-1]) + p.tracker.local_bpm / 60.0, p.band_hz[1]) + p.peak_halfwidth_hz
    nb = min(p.nfft // 2 + 1, int(np.ceil(top_hz / df)) + 3)
    pos = f / df
    i0 = np.minimum(np.floor(pos).astype(np.intp), nb - 2)
    w = _hann(n)
    return _SpecPlan(
        hann=w, w2_sum=float((w**2).sum()), nb=nb, df_hz=df, i0=i0,
        frac=np.asarray(pos - i0), whiten=np.asarray(
            (np.minimum(f, p.whiten_knee_bpm / 60.0) / f[0]) ** p.whiten_exp))


def _spectrum(p: BreathParams, win: NDArray[np.float64]
              ) -> tuple[_SpecPlan, NDArray[np.complex128]]:
    """The window's Hann-windowed complex spectrum per axis, (nb, 3), bins up to the grid's top."""
    sp = _window_spectra(p, win, [(0, 0, win.shape[0])])[0]
    return sp.plan, sp.spec3


def _ceiling_hz(p: BreathParams, stride_s: float) -> float:
    """Rates above this get no evidence (inf when not striding or the ceiling is off)."""
    if p.stride_ceiling > 0 and math.isfinite(stride_s) and stride_s > 0:
        return p.stride_ceiling / stride_s
    return math.inf


def _track_spec(p: BreathParams, tp: _TrackerPlan, belief: NDArray[np.float64],
                sp: _WinSpectrum, mix_prior: NDArray[np.float64], ceil_i: int
                ) -> tuple[NDArray[np.float64], float, float]:
    """One step of the forward filter on the window's spectrum (:func:`_window_spectra`).

    ``tp`` is ``_tracker_plan(p.tracker)``; ``mix_prior`` the prior mixed in this second
    times ``prior_mix``; ``ceil_i`` the first grid index above the stride ceiling
    (:func:`_ceiling_index`). Returns the belief, the rate (Hz) and the confidence.
    """
    total = sp.total
    post, f_mean, conf = _forward(tp, belief, sp.lik, mix_prior, ceil_i)
    d0, d1 = p.dominance
    if d1 > 0 and total > 0 and math.isfinite(total):
        lo, hi = _near(tp, 60.0 * f_mean, 3.0)
        share = float(np.add.reduce(sp.spec[lo:hi])) / total
        conf *= min(1.0, max(0.0, (share - d0) / (d1 - d0)))
    # the whitened, tempered evidence locates a peak coarsely (and biased upwards); once the
    # belief is confident the unwhitened spectrum's peak near its mode gives the rate
    f_peak = refined_peak_hz(sp.full, sp.plan.df_hz, tp.f_list[int(post.argmax())],
                             p.tracker.local_bpm)
    return post, blend_rate_hz(conf, f_peak, f_mean), conf


# ------------------------------------------------------------------ the shared rate tracker
@lru_cache(maxsize=32)
def tracker_grid_hz(t: RateTracker) -> NDArray[np.float64]:
    """The tracker's rate grid in Hz, (n_grid,)."""
    g0, g1, gd = t.grid_bpm
    return np.arange(g0, g1 + 0.5 * gd, gd) / 60.0


@lru_cache(maxsize=32)
def tracker_prior(t: RateTracker) -> NDArray[np.float64]:
    """The Gaussian prior over the grid (sums to 1), also the belief before any evidence."""
    g = tracker_grid_hz(t) * 60.0
    w = np.exp(-0.5 * ((g - t.prior_bpm[0]) / t.prior_bpm[1]) ** 2)
    return np.asarray(w / w.sum())


@lru_cache(maxsize=32)
def _walk_kernel(t: RateTracker) -> NDArray[np.float64]:
    gd = t.grid_bpm[2]
    half = int(np.ceil(4.0 * t.walk_sigma_bpm / gd))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) * gd / t.walk_sigma_bpm) ** 2)
    return np.asarray(k / k.sum())


def tracker_step(t: RateTracker, belief: NDArray[np.float64], spec: NDArray[np.float64],
                 prior_now: NDArray[np.float64] | None = None, ceiling_hz: float = np.inf
                 ) -> tuple[NDArray[np.float64], float, float]:
    """One second of the forward filter.

    Args:
        t: Tracker parameters.
        belief: Posterior of the previous second over the grid, (n_grid,).
        spec: This second's spectral evidence (power, >= 0) on the grid, (n_grid,); all
            zeros or non-finite = no evidence (the belief only diffuses).
        prior_now: The prior mixed in this second (default: :func:`tracker_prior`).
        ceiling_hz: Rates above this get no evidence (excluded).

    Returns:
        The posterior (n_grid,), its mean rate in Hz and the confidence in 0..1.
    """
    total = float(spec.sum())
    lik = None
    if total > 0 and np.isfinite(total):
        lik = (spec * (1.0 / total) + 1e-12) ** t.evidence_temp
    return _tracker_update(t, belief, lik, prior_now, ceiling_hz)


def _tracker_update(t: RateTracker, belief: NDArray[np.float64],
                    lik: NDArray[np.float64] | None, prior_now: NDArray[np.float64] | None,
                    ceiling_hz: float) -> tuple[NDArray[np.float64], float, float]:
    """:func:`tracker_step` given the tempered evidence ``lik``.

    ``lik`` is None without evidence; the ceiling changes it in place.
    """
    tp = _tracker_plan(t)
    mix_prior = tp.mix_prior if prior_now is None else t.prior_mix * prior_now
    return _forward(tp, belief, lik, mix_prior, _ceiling_index(tp, ceiling_hz))


class _TrackerPlan(NamedTuple):
    """Per tracker: what every step of the forward filter uses (see :func:`_forward`)."""

    f_hz: NDArray[np.float64]         # the grid (n_grid,)
    f_list: list[float]               # the same as floats
    kernel_rev: NDArray[np.float64]   # the random walk's kernel, reversed (contiguous)
    keep: float                       # 1 - prior_mix
    mix_prior: NDArray[np.float64]    # prior_mix * the resting prior
    g0_bpm: float                     # grid start and step, bpm
    gd_bpm: float
    n: int                            # grid points
    q0: float                         # quality_mass
    q1: float


@lru_cache(maxsize=32)
def _tracker_plan(t: RateTracker) -> _TrackerPlan:
    f = tracker_grid_hz(t)
    k = _walk_kernel(t)
    return _TrackerPlan(f, f.tolist(), np.ascontiguousarray(k[::-1]), 1.0 - t.prior_mix,
                        t.prior_mix * tracker_prior(t), t.grid_bpm[0], t.grid_bpm[2],
                        f.shape[0], *t.quality_mass)


def _ceiling_index(tp: _TrackerPlan, ceiling_hz: float) -> int:
    """The first grid index above ``ceiling_hz`` (the grid increases: ``f > c`` is a tail)."""
    if not math.isfinite(ceiling_hz):
        return tp.n
    return int(np.searchsorted(tp.f_hz, ceiling_hz, side="right"))


def _forward(tp: _TrackerPlan, belief: NDArray[np.float64], lik: NDArray[np.float64] | None,
             mix_prior: NDArray[np.float64], ceil_i: int
             ) -> tuple[NDArray[np.float64], float, float]:
    """:func:`tracker_step`'s arithmetic, operation for operation (bit-identical).

    ``(1 - mix) * pred + mix * prior`` is ``pred * keep + mix_prior`` in place (the
    product commutes exactly), ``x.sum()`` is ``np.add.reduce(x)``, ``lik[f > c] = 0`` is
    ``lik[ceil_i:] = 0`` and ``np.convolve(b, k, "same")`` is what it calls,
    ``correlate(b, k[::-1], "same")``.
    """
    if _correlate is None:  # pragma: no cover - a numpy that moved it
        pred = np.convolve(belief, tp.kernel_rev[::-1], mode="same")
    else:
        pred = _correlate(belief, tp.kernel_rev, "same")
    pred /= np.add.reduce(pred)
    pred *= tp.keep
    pred += mix_prior
    if lik is not None:
        if ceil_i < tp.n:
            lik[ceil_i:] = 0.0
        pred *= lik
        pred /= np.add.reduce(pred)
    f_mean = float(pred @ tp.f_hz)
    lo, hi = _near(tp, 60.0 * f_mean, 3.0)
    mass = float(np.add.reduce(pred[lo:hi]))
    return pred, f_mean, min(1.0, max(0.0, (mass - tp.q0) / (tp.q1 - tp.q0)))


def _near(tp: _TrackerPlan, centre_bpm: float, half_bpm: float) -> tuple[int, int]:
    """:func:`grid_near` as (start, stop)."""
    g0, gd = tp.g0_bpm, tp.gd_bpm
    lo = max(0, math.ceil((centre_bpm - half_bpm - g0) / gd - 1e-9))
    hi = min(tp.n, math.floor((centre_bpm + half_bpm - g0) / gd + 1e-9) + 1)
    return lo, max(lo, hi)


def grid_near(t: RateTracker, centre_bpm: float, half_bpm: float) -> slice:
    """The grid points within ``half_bpm`` of ``centre_bpm`` (the grid is uniform)."""
    return slice(*_near(_tracker_plan(t), centre_bpm, half_bpm))


def refined_peak_hz(full: NDArray[np.float64], df_hz: float, f_mode_hz: float,
                    local_bpm: float) -> float:
    """Parabolically (log-power) refined maximum of a spectrum near ``f_mode_hz``.

    Args:
        full: Power spectrum on bins ``k * df_hz``, (n_bins,).
        df_hz: Bin spacing.
        f_mode_hz: Centre of the search.
        local_bpm: Half-width of the search.

    Returns:
        The peak frequency in Hz, NaN when the search range is too short or at an edge.
    """
    n_bins = full.shape[0]
    half = max(1, int(local_bpm / 60.0 / df_hz))
    c = round(f_mode_hz / df_hz)
    lo, hi = max(1, c - half), min(n_bins - 1, c + half + 1)
    if hi - lo < 3:
        return float("nan")
    i = lo + int(full[lo:hi].argmax())
    if not 0 < i < n_bins - 1:
        return float("nan")
    # elementwise: each log is the one of that value alone
    a, b, cc = np.log(full[i - 1:i + 2] + 1e-30).tolist()
    den = a - 2 * b + cc
    # == np.clip(x, -0.5, 0.5) (exact selection)
    delta = min(0.5, max(-0.5, 0.5 * (a - cc) / den)) if den < 0 else 0.0
    return (i + delta) * df_hz


def blend_rate_hz(conf: float, f_peak_hz: float, f_mean_hz: float) -> float:
    """The rate: by confidence, the spectral peak (precise) or the posterior mean (robust)."""
    if not math.isfinite(f_peak_hz):
        return f_mean_hz
    return conf * f_peak_hz + (1.0 - conf) * f_mean_hz


def _proj_power(plan: _SpecPlan, spec3: NDArray[np.complex128], axis: NDArray[np.float64]
                ) -> NDArray[np.float64]:
    """Power spectrum of the window projected on ``axis`` (the FFT is linear)."""
    return np.asarray(np.abs(spec3 @ axis) ** 2)


def _bins_near(plan: _SpecPlan, f_hz: float, halfwidth_hz: float) -> slice:
    """The bins ``k`` with ``|k df - f_hz| <= halfwidth_hz``."""
    lo = max(0, math.ceil((f_hz - halfwidth_hz) / plan.df_hz - 1e-9))
    hi = min(plan.nb, math.floor((f_hz + halfwidth_hz) / plan.df_hz + 1e-9) + 1)
    return slice(lo, max(lo, hi))


def _dominant_amplitude(p: BreathParams, plan: _SpecPlan, spec: NDArray[np.float64]
                        ) -> tuple[float, float]:
    """Amplitude (rms) of the strongest peak in ``band_hz`` and its share of the band."""
    band = _bins_near(plan, 0.5 * (p.band_hz[0] + p.band_hz[1]),
                      0.5 * (p.band_hz[1] - p.band_hz[0]))
    total = float(spec[band].sum())
    if not total > 0:
        return float("nan"), 0.0
    f_b = (band.start + int(np.argmax(spec[band]))) * plan.df_hz
    near = _bins_near(plan, f_b, p.peak_halfwidth_hz)
    pk = float(spec[max(near.start, band.start):min(near.stop, band.stop)].sum())
    return float(np.sqrt(2.0 * pk / (p.nfft * plan.w2_sum))), pk / total


def _amplitude(p: BreathParams, plan: _SpecPlan, spec: NDArray[np.float64], f_b: float
               ) -> float:
    """Rms amplitude of the projected window within ``peak_halfwidth_hz`` of ``f_b``."""
    if not math.isfinite(f_b):
        return 0.0
    pk = float(np.add.reduce(spec[_bins_near(plan, f_b, p.peak_halfwidth_hz)]))
    return math.sqrt(2.0 * pk / (p.nfft * plan.w2_sum))


@lru_cache(maxsize=16)
def _hann(n: int) -> NDArray[np.float64]:
    return np.asarray(np.hanning(n + 2)[1:-1])


def _rest_update(p: BreathParams, s: BreathState, bf: BreathFrame, amp: float,
                 quality: float) -> BreathState:
    if s.rest_final:
        return s
    if bf.still and math.isfinite(bf.vertical[0]):
        run = s.still_run + 1
        if run >= p.window_s + 2 and quality >= 0.4 and math.isfinite(amp):
            rs, rn = s.rest_sum_g + amp, s.rest_n + 1
            return replace(s, still_run=run, rest_sum_g=rs, rest_n=rn,
                           rest_amp_g=rs / rn if rn >= p.rest_min_s else s.rest_amp_g)
        return replace(s, still_run=run)
    if s.rest_n >= p.rest_min_s:
        return replace(s, rest_final=True)
    return s if s.still_run == 0 else replace(s, still_run=0)


def _track_onsets(p: BreathParams, amp_prev_g: float, trk: tuple[int, float, float],
                  ons: NDArray[np.float64], n_on: int, t: NDArray[np.float64],
                  v: NDArray[np.float64]
                  ) -> tuple[tuple[float, ...], tuple[int, float, float],
                             NDArray[np.float64], int]:
    """Inspiration onsets in this second's projected samples.

    Returns the onsets, the detector's (mode, extreme value, its time) and the onsets kept
    with their count.
    """
    # inhalation = chest rotating backwards = gravity moving towards +forward
    h = p.onset_hyst * 2.0 * math.sqrt(2.0) * amp_prev_g
    mode, ev, et = trk
    found: list[float] = []
    for ti, vi in zip(t.tolist(), v.tolist(), strict=True):
        if mode == 0:
            mode, ev, et = -1, vi, ti
        elif mode == -1:
            if vi < ev:
                ev, et = vi, ti
            elif vi > ev + h:
                found.append(et)
                mode, ev, et = 1, vi, ti
        elif vi > ev:
            ev, et = vi, ti
        elif vi < ev - h:
            mode, ev, et = -1, vi, ti
    if found:
        ons = np.concatenate((ons, np.asarray(found)))[-p.max_onsets:]
        n_on += len(found)
    return tuple(found), (mode, ev, et), ons, n_on


def step(p: BreathParams, s: BreathState, x: Sequence[BreathFrame]
         ) -> tuple[list[BreathSecond], BreathState]:
    """Feed whole seconds (with their context); return a row per second."""
    return frames_step(p, s, x)


def run_batch(p: BreathParams, x: Sequence[BreathFrame]) -> list[BreathSecond]:
    """Process a whole recording in one call."""
    return step(p, init_state(p), x)[0]
