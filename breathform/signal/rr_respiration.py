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
   with a forward filter (random walk plus a broad prior), as the accelerometer tracker in
   :mod:`breathform.signal.breathing`; quality = posterior mass within +-3 bpm, rescaled;
   the rate blends, by quality, the posterior mean and the unwhitened spectrum's peak near
   the posterior's mode; below ``min_quality`` (or with a beat gap over ``max_gap_s`` in
   the window) the rate is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import sosfilt

from breathform.errors import InputError
from breathform.signal._filters import butter_sos


@dataclass(frozen=True, slots=True)
class RrParams:
    """Parameters of the RR-interval respiration estimator.

    Attributes:
        fs_hz: Rate of the evenly resampled RR series.
        window_s: Trailing window of the spectral evidence.
        nfft: FFT length.
        grid_bpm: Rate grid (lowest, highest, step), bpm.
        walk_sigma_bpm: Random walk of the rate per second.
        prior_bpm: Mean and standard deviation of the prior.
        prior_mix: Weight of the prior mixed in each second.
        evidence_temp: Exponent of the evidence (0..1).
        whiten_exp: The power spectrum is multiplied by ``f ** whiten_exp``.
        quality_mass: Posterior mass within +-3 bpm mapped to quality 0 and 1.
        min_quality: Below this quality the rate is NaN.
        median_beats: Beats in the running median of the ectopic-beat filter.
        max_gap_s: A window with a longer gap between accepted beats gives NaN.
    """

    fs_hz: float = 4.0
    window_s: float = 30.0
    nfft: int = 1024
    grid_bpm: tuple[float, float, float] = (6.0, 60.0, 0.25)
    walk_sigma_bpm: float = 1.0
    prior_bpm: tuple[float, float] = (25.0, 10.0)
    prior_mix: float = 0.05
    evidence_temp: float = 0.1
    whiten_exp: float = 2.0
    quality_mass: tuple[float, float] = (0.15, 0.55)
    min_quality: float = 0.3
    median_beats: int = 9
    max_gap_s: float = 3.0

    def __post_init__(self) -> None:
        g0, g1, gd = self.grid_bpm
        if not 2.5 <= self.fs_hz <= 20.0:
            raise InputError(f"fs_hz must be in [2.5, 20], got {self.fs_hz}")
        if not (0 < g0 < g1 and 0 < gd <= (g1 - g0) / 4 and g1 / 60.0 < 0.45 * self.fs_hz):
            raise InputError(f"grid_bpm must be (lo, hi, step) below 0.45*fs_hz, "
                             f"got {self.grid_bpm}")
        if self.nfft < self.window_s * self.fs_hz:
            raise InputError(f"nfft={self.nfft} shorter than the window")
        if not (0 < self.prior_mix < 1 and 0 < self.evidence_temp <= 1
                and self.walk_sigma_bpm > 0 and self.prior_bpm[1] > 0):
            raise InputError("need 0 < prior_mix < 1, 0 < evidence_temp <= 1, "
                             "walk_sigma_bpm > 0 and prior_bpm[1] > 0")


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
    g0, g1, gd = p.grid_bpm
    grid = np.arange(g0, g1 + 0.5 * gd, gd)
    f = grid / 60.0
    prior = np.exp(-0.5 * ((grid - p.prior_bpm[0]) / p.prior_bpm[1]) ** 2)
    prior /= prior.sum()
    half = int(np.ceil(4.0 * p.walk_sigma_bpm / gd))
    kern = np.exp(-0.5 * (np.arange(-half, half + 1) * gd / p.walk_sigma_bpm) ** 2)
    kern /= kern.sum()
    # spectra of all complete windows at once (vectorised), then the filter per second
    ends = np.searchsorted(tg, secs, side="right")
    full = ends >= n
    gap_ok = _gap_ok(p, tb, secs)
    spec = np.zeros((secs.size, grid.size))
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
    belief = prior.copy()
    q0, q1 = p.quality_mass
    for i in range(secs.size):  # one step per second, not per sample
        if not (full[i] and gap_ok[i]):
            continue
        pred = np.convolve(belief, kern, mode="same")
        pred = (1.0 - p.prior_mix) * pred / pred.sum() + p.prior_mix * prior
        total = float(spec[i].sum())
        if total > 0:
            ll = p.evidence_temp * np.log(spec[i] / total + 1e-12)
            pred = pred * np.exp(ll - ll.max())
        belief = pred / pred.sum()
        m = float(belief @ grid)
        q = float(np.clip((belief[np.abs(grid - m) <= 3.0].sum() - q0) / (q1 - q0), 0, 1))
        # confident: the unwhitened spectrum's peak near the mode (no prior/whitening bias)
        pk = _peak_bpm(pw[i], freqs, float(grid[int(np.argmax(belief))]))
        qual[i] = q
        if q >= p.min_quality:
            rate[i] = m if not np.isfinite(pk) else q * pk + (1.0 - q) * m
    return RrRate(secs, rate, qual)


def _peak_bpm(pw: NDArray[np.float64], freqs: NDArray[np.float64], mode_bpm: float,
              half_bpm: float = 3.0) -> float:
    """Parabolically refined maximum of ``pw`` within ``half_bpm`` of ``mode_bpm``."""
    sel = np.flatnonzero(np.abs(freqs * 60.0 - mode_bpm) <= half_bpm)
    if sel.size < 3:
        return float("nan")
    i = int(sel[int(np.argmax(pw[sel]))])
    if not 0 < i < pw.size - 1:
        return float("nan")
    a, b, c = (float(np.log(v + 1e-30)) for v in pw[i - 1:i + 2])
    den = a - 2 * b + c
    delta = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5)) if den < 0 else 0.0
    return float((freqs[i] + delta * (freqs[1] - freqs[0])) * 60.0)


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
