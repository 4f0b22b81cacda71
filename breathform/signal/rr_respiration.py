"""Breathing rate from heartbeat (RR) intervals: respiratory sinus arrhythmia, causal.

Inspiration shortens the RR interval and expiration lengthens it, so the RR series sampled
evenly carries the breathing rhythm (strongly at rest, weakly while exercising, when the
vagal modulation fades). Per recording (batch, but each second uses only beats up to it):

1. beats outside 300-2000 ms or more than 20 % away from the median of the previous
   ``median_beats`` beats (ectopic / missed beats) are dropped;
2. the RR series is interpolated linearly to ``fs_hz`` at the beat times (a sample exists
   only once the next beat has arrived: causal) and band-passed 0.08-1.2 Hz;
3. each second, the trailing ``window_s`` are turned into spectral evidence over a rate grid
   (whitened by ``f ** whiten_exp`` against the slow Mayer-wave and trend power) and tracked
   with the same forward filter as the accelerometer tracker
   (:class:`breathform.signal.breathing.RateTracker`: random walk plus a broad prior);
   quality = posterior mass within +-3 bpm, rescaled; the rate blends, by quality, the
   posterior mean and the unwhitened spectrum's peak near the posterior's mode; below
   ``min_quality`` (or with a beat gap over ``max_gap_s`` in the window) the rate is NaN.

:func:`fuse` combines this rate with the accelerometer's, second by second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import sosfilt

from breathform.errors import InputError
from breathform.signal._filters import butter_sos
from breathform.signal.breathing import (
    RateTracker,
    blend_rate_hz,
    refined_peak_hz,
    tracker_grid_hz,
    tracker_prior,
    tracker_step,
)


@dataclass(frozen=True, slots=True)
class RrParams:
    """Parameters of the RR-interval respiration estimator.

    Attributes:
        fs_hz: Rate of the evenly resampled RR series.
        window_s: Trailing window of the spectral evidence.
        nfft: FFT length.
        tracker: The rate tracker (shared with the accelerometer estimator).
        whiten_exp: The power spectrum is multiplied by ``f ** whiten_exp``.
        min_quality: Below this quality the rate is NaN.
        median_beats: Beats in the running median of the ectopic-beat filter.
        max_gap_s: A window with a longer gap between accepted beats gives NaN.
    """

    fs_hz: float = 4.0
    window_s: float = 30.0
    nfft: int = 1024
    tracker: RateTracker = RateTracker()
    whiten_exp: float = 2.0
    min_quality: float = 0.3
    median_beats: int = 9
    max_gap_s: float = 3.0

    def __post_init__(self) -> None:
        if not 2.5 <= self.fs_hz <= 20.0:
            raise InputError(f"fs_hz must be in [2.5, 20], got {self.fs_hz}")
        if not self.tracker.grid_bpm[1] / 60.0 < 0.45 * self.fs_hz:
            raise InputError(f"tracker.grid_bpm's highest rate must be below 0.45*fs_hz, "
                             f"got {self.tracker.grid_bpm}")
        if self.nfft < self.window_s * self.fs_hz:
            raise InputError(f"nfft={self.nfft} shorter than the window")
        if not (self.median_beats >= 1 and self.max_gap_s > 0):
            raise InputError(f"need median_beats >= 1 and max_gap_s > 0, got "
                             f"{self.median_beats}, {self.max_gap_s}")


@dataclass(frozen=True, slots=True)
class RrRate:
    """RR-derived breathing rate per whole second.

    Attributes:
        t_s: End of each second, (n,).
        rate_bpm: Breaths per minute, NaN when not trustworthy, (n,).
        quality: 0..1, (n,).
    """

    t_s: NDArray[np.float64]
    rate_bpm: NDArray[np.float64]
    quality: NDArray[np.float64]


def clean_beats(p: RrParams, t_s: NDArray[np.float64], rr_ms: NDArray[np.float64]
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Drop implausible and ectopic beats (causal running median of the previous beats)."""
    ok = (rr_ms >= 300.0) & (rr_ms <= 2000.0) & np.isfinite(t_s)
    t, rr = t_s[ok], rr_ms[ok]
    m = p.median_beats
    if rr.size <= m:
        return t, rr
    prev = np.lib.stride_tricks.sliding_window_view(rr, m)[:-1]
    med = np.concatenate((np.full(m, np.nan), np.median(prev, axis=1)))
    keep = np.isnan(med) | (np.abs(rr - med) <= 0.2 * med)
    return t[keep], rr[keep]


def estimate(p: RrParams, t_s: NDArray[np.float64], rr_ms: NDArray[np.float64],
             t_end_s: float | None = None) -> RrRate:
    """RR-derived breathing rate for each whole second up to ``t_end_s``.

    Args:
        p: Parameters.
        t_s: Beat times (s), strictly increasing, (n,).
        rr_ms: RR interval ending at each beat (ms), (n,).
        t_end_s: Last second to report (default: the last beat).

    Returns:
        One rate per whole second from the first beat on; each uses beats up to it only.

    Raises:
        InputError: If the arrays do not match or times do not increase.
    """
    t_s = np.asarray(t_s, dtype=np.float64)
    rr_ms = np.asarray(rr_ms, dtype=np.float64)
    if t_s.shape != rr_ms.shape or t_s.ndim != 1:
        raise InputError(f"t_s and rr_ms must be 1-D of the same length, got {t_s.shape} "
                         f"and {rr_ms.shape}")
    if t_s.size and np.any(np.diff(t_s) <= 0):
        raise InputError("beat times t_s must increase strictly")
    tb, rr = clean_beats(p, t_s, rr_ms)
    if tb.size < 2:
        k = np.zeros(0)
        return RrRate(k, k, k)
    k0 = int(np.ceil(tb[0]))
    k1 = int(np.floor(tb[-1] if t_end_s is None else t_end_s))
    secs = np.arange(k0, k1 + 1, dtype=np.float64)
    tg = np.arange(tb[0], tb[-1], 1.0 / p.fs_hz)
    x = np.interp(tg, tb, rr)
    sos = butter_sos(2, (0.08, 1.2), "bandpass", p.fs_hz)
    x = np.asarray(sosfilt(sos, x - x[0]))
    n = round(p.window_s * p.fs_hz)
    w = np.hanning(n + 2)[1:-1]
    freqs = np.asarray(np.fft.rfftfreq(p.nfft, 1.0 / p.fs_hz), dtype=np.float64)
    f = tracker_grid_hz(p.tracker)
    # spectra of all complete windows at once (vectorised), then the filter per second
    ends = np.searchsorted(tg, secs, side="right")
    full = ends >= n
    gap_ok = _gap_ok(p, tb, secs)
    spec = np.zeros((secs.size, f.size))
    pw = np.zeros((secs.size, freqs.size))
    if full.any():
        idx = ends[full][:, None] - n + np.arange(n)[None, :]
        seg = x[idx]
        seg = (seg - seg.mean(axis=1, keepdims=True)) * w
        pw[full] = np.abs(np.fft.rfft(seg, p.nfft, axis=1)) ** 2
        spec[full] = np.stack([np.interp(f, freqs, row) for row in pw[full]])
    spec *= (f / f[0]) ** p.whiten_exp
    rate = np.full(secs.size, np.nan)
    qual = np.zeros(secs.size)
    belief = tracker_prior(p.tracker)
    df_hz = float(freqs[1] - freqs[0])
    for i in range(secs.size):  # one step per second, not per sample
        if not (full[i] and gap_ok[i]):
            continue
        belief, f_mean, q = tracker_step(p.tracker, belief, spec[i])
        # confident: the unwhitened spectrum's peak near the mode (no prior/whitening bias)
        f_pk = refined_peak_hz(pw[i], df_hz, float(f[int(np.argmax(belief))]),
                               p.tracker.local_bpm)
        qual[i] = q
        if q >= p.min_quality:
            rate[i] = 60.0 * blend_rate_hz(q, f_pk, f_mean)
    return RrRate(secs, rate, qual)


def _gap_ok(p: RrParams, tb: NDArray[np.float64], secs: NDArray[np.float64]
            ) -> NDArray[np.bool_]:
    """Whether the window ending at each second has no beat gap over ``max_gap_s``."""
    big = np.flatnonzero(np.diff(tb) > p.max_gap_s)
    ok = np.ones(secs.size, bool)
    for j in big:
        # the gap (tb[j], tb[j+1]) spoils windows that overlap it
        ok &= ~((secs > tb[j]) & (secs - p.window_s < tb[j + 1]))
    # the latest beat must be recent
    last = np.searchsorted(tb, secs, side="right") - 1
    ok &= (last >= 0) & (secs - tb[np.maximum(last, 0)] <= p.max_gap_s)
    return ok


def fuse(t_s: NDArray[np.float64], acc_rate_bpm: NDArray[np.float64],
         acc_quality: NDArray[np.float64], rr: RrRate, agree_bpm: float = 4.0
         ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Fuse the accelerometer's rate with the RR-interval rate, second by second (causal).

    Where only one source reports, it is taken as is. Where both report and agree within
    ``agree_bpm``, the rate is their quality-weighted mean and the quality
    ``1 - (1 - q_acc)(1 - q_rr)`` (two independent sources that agree); where they disagree,
    the source with the higher quality wins with its own quality.

    Args:
        t_s: End of each second of the accelerometer rows, (n,).
        acc_rate_bpm: Accelerometer rate (NaN = abstained), (n,).
        acc_quality: Its quality 0..1, (n,).
        rr: The RR-interval estimate (:func:`estimate`); seconds it lacks count as NaN.
        agree_bpm: Largest difference for which the two are averaged.

    Returns:
        The fused rate (NaN where neither reports) and quality, each (n,).

    Raises:
        InputError: If the arrays' shapes differ or ``agree_bpm`` is not positive.
    """
    t_s = np.asarray(t_s, dtype=np.float64)
    ra = np.asarray(acc_rate_bpm, dtype=np.float64)
    qa = np.asarray(acc_quality, dtype=np.float64)
    if not (t_s.ndim == 1 and ra.shape == t_s.shape and qa.shape == t_s.shape):
        raise InputError(f"t_s, acc_rate_bpm and acc_quality must be 1-D of the same "
                         f"length, got {t_s.shape}, {ra.shape}, {qa.shape}")
    if not agree_bpm > 0:
        raise InputError(f"agree_bpm must be > 0, got {agree_bpm}")
    rr_at = np.full(t_s.shape, np.nan)
    q_rr = np.zeros(t_s.shape)
    if rr.t_s.size:
        i = np.clip(np.searchsorted(rr.t_s, t_s), 0, rr.t_s.size - 1)
        hit = rr.t_s[i] == t_s
        rr_at[hit] = rr.rate_bpm[i[hit]]
        q_rr[hit] = rr.quality[i[hit]]
    has_a, has_r = np.isfinite(ra), np.isfinite(rr_at)
    both = has_a & has_r
    agree = both & (np.abs(np.where(both, ra - rr_at, 0.0)) <= agree_bpm)
    a_wins = has_a & ~(has_r & (q_rr > qa))
    rate = np.where(a_wins, ra, rr_at)
    qual = np.where(a_wins, qa, np.where(has_r, q_rr, np.maximum(qa, q_rr)))
    w = np.where(agree, qa + q_rr, 1.0)
    mean = np.where(agree, (qa * np.where(both, ra, 0.0) + q_rr * np.where(both, rr_at, 0.0))
                    / np.where(w > 0, w, 1.0), 0.0)
    rate = np.where(agree & (w > 0), mean, rate)
    qual = np.where(agree, 1.0 - (1.0 - qa) * (1.0 - q_rr), qual)
    return rate, qual


def heart_rate_bpm(p: RrParams, t_s: NDArray[np.float64], rr_ms: NDArray[np.float64],
                   at_s: NDArray[np.float64], window_s: float = 5.0) -> NDArray[np.float64]:
    """Heart rate at each of ``at_s`` from the clean beats in the trailing ``window_s``.

    Args:
        p: Parameters (for the ectopic-beat filter).
        t_s: Beat times (s), (n,).
        rr_ms: RR interval ending at each beat (ms), (n,).
        at_s: Times to report at, (m,), increasing.
        window_s: Trailing window.

    Returns:
        Beats per minute, (m,); NaN where the window holds no clean beat.
    """
    tb, rr = clean_beats(p, np.asarray(t_s, np.float64), np.asarray(rr_ms, np.float64))
    c = np.concatenate(([0.0], np.cumsum(rr)))
    hi = np.searchsorted(tb, at_s, side="right")
    lo = np.searchsorted(tb, np.asarray(at_s) - window_s, side="right")
    n = hi - lo
    mean_ms = (c[hi] - c[lo]) / np.maximum(n, 1)
    return np.where(n > 0, 60000.0 / np.where(n > 0, mean_ms, 1.0), np.nan)
