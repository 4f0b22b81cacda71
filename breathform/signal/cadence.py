"""Cadence (steps/min) and stride period from the acceleration magnitude.

Causal autocorrelation: each second, the unbiased autocorrelation of the high-passed
|acc| over the trailing ``window_s``; the step period is the highest peak in the plausible
lag range, preferring a peak at half its lag (so the stride peak of a symmetric gait is not
mistaken for a step), refined by parabolic interpolation. The stride period is the peak
near twice the step lag, and the cadence is two steps per stride when that peak is found:
left and right steps of unequal length blur and shift the step peak (its lag is not the
mean step time), the stride peak is not. Abstains (NaN) below ``min_acf``, when the body is
still, or when the last ``recent_s`` of the window hold much less motion than the whole
window (the steps stopped: the window would otherwise report them for up to ``window_s``).
(Moe-Nilssen & Helbostad 2004, J Biomech 37:121, for the ACF step/stride method.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray
from scipy.fft import irfft, next_fast_len, rfft

try:  # scipy.fft's own backend: calling it directly skips the dispatch (~20 us a call)
    from scipy.fft._pocketfft import pypocketfft as _pfft
    from scipy.fft._pocketfft.helper import _workers
except ImportError:  # pragma: no cover - a scipy that moved it: the public path is used
    _pfft = None

from breathform.errors import InputError
from breathform.signal import frames as fr
from breathform.signal._filters import butter_sos, filt
from breathform.signal.regrid import Samples


@dataclass(frozen=True, slots=True)
class CadenceParams:
    """Parameters of the cadence estimator.

    Attributes:
        fs_hz: Nominal sample rate.
        has_gyro: Whether samples carry a gyroscope (ignored here).
        window_s: Trailing autocorrelation window.
        hp_hz: High-pass cutoff applied to |acc|.
        min_spm: Lowest cadence reported.
        max_spm: Highest cadence reported.
        min_acf: Minimum normalised autocorrelation at the step lag.
        min_std_g: Minimum std of |acc| over the window (below: not moving).
        recent_s: Length of the window's end checked for motion (0: no check).
        min_recent_frac: Minimum std of |acc| over the last ``recent_s`` as a fraction of
            the whole window's (below: the steps stopped).
    """

    fs_hz: float
    has_gyro: bool = False
    window_s: float = 6.0
    hp_hz: float = 0.5
    min_spm: float = 90.0
    max_spm: float = 240.0
    min_acf: float = 0.3
    min_std_g: float = 0.05
    recent_s: float = 2.0
    min_recent_frac: float = 0.7

    def __post_init__(self) -> None:
        if not self.fs_hz >= 20:
            raise InputError(f"fs_hz must be >= 20 for cadence, got {self.fs_hz}")
        if not 0 < self.min_spm < self.max_spm:
            raise InputError(f"need 0 < min_spm < max_spm, got {self.min_spm}, {self.max_spm}")
        if not self.window_s * self.min_spm / 60 >= 3:
            raise InputError(f"window_s={self.window_s} too short for min_spm={self.min_spm}")
        if not 0 <= self.recent_s < self.window_s:
            raise InputError(f"need 0 <= recent_s < window_s, got {self.recent_s}")


@dataclass(frozen=True, slots=True)
class CadenceState:
    """Carry-over of the cadence estimator.

    Attributes:
        framer: Pending samples (only used by :func:`step`).
        zi: High-pass state, (n_sections, 2).
        buf: Trailing high-passed |acc|, (n_window,).
        n_valid: Valid samples in ``buf`` since the start or the last reset.
    """

    framer: fr.FramerState
    zi: NDArray[np.float64]
    buf: NDArray[np.float64]
    n_valid: int


@dataclass(frozen=True, slots=True)
class CadenceSecond:
    """Cadence for second ``(t_s - 1, t_s]``.

    Attributes:
        t_s: End of the second.
        cadence_spm: Steps per minute, NaN when not trustworthy.
        stride_s: Stride (two steps) period in seconds, NaN when unknown. Kept when only
            the end-of-window motion check withholds the cadence (the comb filter and the
            posture's stride windows run on over a stop as they did before the check).
        acf: Autocorrelation at the step lag (0..1), a quality figure.
    """

    t_s: float
    cadence_spm: float
    stride_s: float
    acf: float


def _nwin(p: CadenceParams) -> int:
    return round(p.window_s * p.fs_hz)


def _sos(p: CadenceParams) -> NDArray[np.float64]:
    return butter_sos(2, p.hp_hz, "highpass", p.fs_hz)


def init_state(p: CadenceParams) -> CadenceState:
    """Return the state before any sample."""
    return CadenceState(fr.init_framer(), np.zeros((_sos(p).shape[0], 2)),
                        np.zeros(_nwin(p)), 0)


def frame_step(p: CadenceParams, s: CadenceState, f: fr.Frame
               ) -> tuple[CadenceSecond, CadenceState]:
    """Process one second (:func:`frames_step` for one frame)."""
    rows, s = frames_step(p, s, (f,))
    return rows[0], s


def frames_step(p: CadenceParams, s: CadenceState, frames: Sequence[fr.Frame]
                ) -> tuple[list[CadenceSecond], CadenceState]:
    """Process consecutive seconds: :func:`frame_step` one by one, bit for bit.

    |acc| and the high-pass run once over each run of seconds between resets (the
    high-pass is sequential per sample), and the seconds with a full window get their
    autocorrelations from one 2-D FFT (row by row the same transform) and their step and
    stride lags picked at once (:func:`_from_acfs`).
    """
    nw = s.buf.shape[0]
    sos = _sos(p)
    zi, n_valid = s.zi, s.n_valid
    ys: list[NDArray[np.float64]] = []  # high-passed samples after s.buf, in order
    run: list[NDArray[np.float64]] = []  # acc_g of the seconds not yet filtered
    full: list[tuple[int, int]] = []  # (frame, end of its window in s.buf + ys)
    end = nw
    for j, f in enumerate(frames):
        if f.reset:
            if run:
                y, zi = filt(sos, _mag_minus_1(run), zi)
                ys.append(y)
                run = []
            zi = np.zeros_like(zi)
            n_valid = 0
        x = f.samples
        n = x.n
        if n == 0:
            continue
        run.append(x.acc_g)
        end += n
        n_valid = min(nw, n_valid + n)
        if n_valid >= nw:
            full.append((j, end))
    if run:
        y, zi = filt(sos, _mag_minus_1(run), zi)
        ys.append(y)
    if not ys:
        return [_none(f.k) for f in frames], CadenceState(s.framer, zi, s.buf, n_valid)
    stream = np.concatenate((s.buf, *ys))
    est: dict[int, CadenceSecond] = {}
    if full:
        # each window copied as a row (one gather of rows, not of every sample)
        bufs = sliding_window_view(stream, nw)[np.array([e for _, e in full]) - nw]
        est = dict(zip([j for j, _ in full],
                       _estimates(p, bufs, [float(frames[j].k) for j, _ in full]),
                       strict=True))
    rows = [est[j] if j in est else _none(f.k) for j, f in enumerate(frames)]
    return rows, CadenceState(s.framer, zi, stream[stream.shape[0] - nw:], n_valid)


def _none(t_s: float) -> CadenceSecond:
    """The row of a second without an estimate."""
    return CadenceSecond(float(t_s), np.nan, np.nan, 0.0)


def _mag_minus_1(acc_g: Sequence[NDArray[np.float64]]) -> NDArray[np.float64]:
    """|acc| - 1 of consecutive (n_i, 3) chunks, joined.

    ``np.linalg.norm(a, axis=1) - 1``, bit for bit: the norm adds each row's squares as
    ``(x*x + y*y) + z*z`` and takes the square root; written out on the columns, the same
    element-wise operations skip numpy's slow reduction over rows of 3 (each row is on its
    own, so the chunks' results joined are the joined chunks' result).
    """
    a = acc_g[0] if len(acc_g) == 1 else np.concatenate(acc_g)
    x, y, z = a[:, 0], a[:, 1], a[:, 2]
    m = x * x
    m += y * y
    m += z * z
    np.sqrt(m, out=m)
    m -= 1.0
    return m


@lru_cache(maxsize=8)
def _arange(n: int) -> NDArray[np.int64]:
    a = np.arange(n)
    a.setflags(write=False)
    return a


@lru_cache(maxsize=32)
def _lags(p: CadenceParams, n: int) -> tuple[int, int, int, int, NDArray[np.int64]]:
    """Step lag range, stride lag limit, FFT size and the unbiasing divisor for n samples."""
    lmin = max(2, int(np.floor(60.0 / p.max_spm * p.fs_hz)))
    lmax = int(np.ceil(60.0 / p.min_spm * p.fs_hz))
    lstride = min(n - 2, 2 * lmax + 3)
    nfft = next_fast_len(2 * n)
    div = n - np.arange(min(lstride + 2, (nfft // 2) * 2))
    div.setflags(write=False)
    return lmin, lmax, lstride, nfft, div


def _acfs(z: NDArray[np.float64], nfft: int) -> NDArray[np.float64]:
    """Row by row ``irfft(np.abs(rfft(z_row, nfft)) ** 2)``: the autocorrelations."""
    if _pfft is None:  # pragma: no cover - a scipy that moved its backend
        return np.asarray(irfft(np.abs(rfft(z, nfft, axis=-1)) ** 2, axis=-1))
    # what scipy.fft's rfft / irfft do for float64 input along the last axis, minus the
    # dispatch (pocketfft transforms each row on its own: rows are as if alone)
    pad = np.zeros((z.shape[0], nfft))
    pad[:, :z.shape[1]] = z
    w = _workers(None)
    spec = _pfft.r2c(pad, (-1,), True, 0, None, w)
    # np.abs(spec) ** 2 + 0.0j written into spec: the same real parts (a square >= 0 plus
    # 0.0 is itself) and +0.0 imaginary parts, without two temporaries
    pw = np.abs(spec)
    np.square(pw, out=pw)
    spec.real = pw
    spec.imag = 0.0
    return np.asarray(_pfft.c2r(spec, (-1,), (spec.shape[-1] - 1) * 2, False, 2, None, w))


def estimate(p: CadenceParams, buf: NDArray[np.float64], t_s: float) -> CadenceSecond:
    """Step and stride period from one window of high-passed |acc|."""
    return _estimates(p, buf[np.newaxis, :], [t_s])[0]


def _estimates(p: CadenceParams, bufs: NDArray[np.float64], t_s: Sequence[float]
               ) -> list[CadenceSecond]:
    """:func:`estimate` for windows of equal length at once, (m, n) C-contiguous.

    Each row's sums are numpy's pairwise sums over that row alone, so every figure is what
    the row gives by itself.
    """
    m, n = bufs.shape
    z = bufs - (np.add.reduce(bufs, axis=1) / n)[:, np.newaxis]
    d = z - (np.add.reduce(z, axis=1) / n)[:, np.newaxis]  # z.std(), row by row
    d *= d
    std = np.sqrt(np.add.reduce(d, axis=1) / n).tolist()
    nr = min(n, round(p.recent_s * p.fs_hz))
    if nr >= 2:  # the window's end, about its own mean: has the motion stopped?
        zr = z[:, n - nr:]
        dr = zr - (np.add.reduce(zr, axis=1) / nr)[:, np.newaxis]
        dr *= dr
        std_r = np.sqrt(np.add.reduce(dr, axis=1) / nr).tolist()
    else:
        std_r = std
    lmin, lmax, lstride, nfft, div = _lags(p, n)
    moving = [i for i in range(m) if not std[i] < p.min_std_g]
    if not moving:
        return [_none(t) for t in t_s]
    zm = z if len(moving) == m else z[moving]
    acf = _acfs(zm, nfft)[:, : lstride + 2]
    acf = acf / acf[:, :1] * n / div
    rows = _from_acfs(p, acf, lmin, lmax, [t_s[i] for i in moving])
    for k, i in enumerate(moving):
        if std_r[i] < p.min_recent_frac * std[i]:  # stopped: no cadence, stride kept
            r = rows[k]
            rows[k] = CadenceSecond(r.t_s, np.nan, r.stride_s, r.acf)
    if len(moving) == m:
        return rows
    out = [_none(t) for t in t_s]
    for row, i in zip(rows, moving, strict=True):
        out[i] = row
    return out


def _from_acfs(p: CadenceParams, acf: NDArray[np.float64], lmin: int, lmax: int,
               t_s: Sequence[float]) -> list[CadenceSecond]:
    """:func:`_from_acf` of each row of ``acf`` (m, L), all rows at once.

    The same element-wise operations as :func:`_from_acf` on all rows at once (so the same
    bits): a peak is kept by masking the others with -inf before ``argmax`` (the first of
    equal maxima, as there), the stride window by gathering 7 lags (fewer masked). A row
    holding a NaN or an infinity goes through :func:`_from_acf` (masking assumes finite
    values), and so does a single row.
    """
    m = acf.shape[0]
    if m <= 1:  # one row (live: a second at a time): row by row costs less
        return [_from_acf(p, acf[r], lmin, lmax, t_s[r]) for r in range(m)]
    finite = np.asarray(np.isfinite(acf).all(axis=1))
    if not finite.all():
        ok: list[bool] = finite.tolist()
        fast = iter(_from_acfs(p, acf[finite], lmin, lmax,
                               [t for t, f in zip(t_s, ok, strict=True) if f]))
        return [next(fast) if f else _from_acf(p, acf[r], lmin, lmax, t_s[r])
                for r, f in enumerate(ok)]
    nlag = acf.shape[1]
    rows = _arange(m)
    seg = acf[:, lmin - 1: lmax + 2]
    inner = seg[:, 1:-1]  # lags lmin..
    is_pk = (inner > seg[:, :-2]) & (inner >= seg[:, 2:])
    masked = np.where(is_pk, inner, -np.inf)
    best = masked.argmax(axis=1)
    has_pk = is_pk[rows, best].tolist()  # no peak: argmax gives 0, not a peak
    bv = masked[rows, best]
    best += lmin
    # a peak near half the best lag, if high enough, is the step (the best: the stride)
    near = np.abs(_arange(inner.shape[1]) + lmin - (best / 2)[:, np.newaxis]
                  ) <= (0.15 * best / 2 + 1)[:, np.newaxis]
    masked = np.where(is_pk & near, inner, -np.inf)
    half = masked.argmax(axis=1)
    swap = masked[rows, half] > 0.5 * bv  # none near: -inf, not greater
    best = np.where(swap, half + lmin, best)
    bv = acf[rows, best]
    lag = best + _parabolic_at(acf, rows, best)
    # stride: the peak near twice the step lag, within [lo, hi]
    lag2 = 2 * lag
    c = np.rint(lag2).astype(np.int64)  # round(): to even on ties, as np.rint
    lo = np.maximum(c - 3, 1)
    hi = np.minimum(c + 3, nlag - 2)
    idx = lo[:, np.newaxis] + _arange(7)
    in_win = idx <= hi[:, np.newaxis]
    np.minimum(idx, nlag - 1, out=idx)
    j = lo + np.where(in_win, acf[rows[:, np.newaxis], idx], -np.inf).argmax(axis=1)
    inside = (hi > lo) & (lo < j) & (j < hi)
    jc = np.minimum(j, nlag - 2)  # j + 1 in range where not inside (unused there)
    stride_lag = np.where(inside, jc + _parabolic_at(acf, rows, jc), lag2).tolist()
    out = []
    fs = p.fs_hz
    for t, pk, a, sl in zip(t_s, has_pk, bv.tolist(), stride_lag, strict=True):
        if not pk:
            out.append(CadenceSecond(t, np.nan, np.nan, 0.0))
        elif a < p.min_acf:
            out.append(CadenceSecond(t, np.nan, np.nan, max(0.0, a)))
        else:
            out.append(CadenceSecond(t, 120.0 * fs / sl, sl / fs, min(1.0, a)))
    return out


def _parabolic_at(a: NDArray[np.float64], rows: NDArray[np.int64], i: NDArray[np.int64]
                  ) -> NDArray[np.float64]:
    """:func:`_parabolic` of ``a[r]`` at ``i[r]``, every row (finite values)."""
    am, a0, ap = a[rows, i - 1], a[rows, i], a[rows, i + 1]
    den = am - 2 * a0 + ap
    off = np.zeros(i.shape[0])
    np.divide(0.5 * (am - ap), den, out=off, where=den < 0)
    return np.clip(off, -0.5, 0.5, out=off)


def _from_acf(p: CadenceParams, acf: NDArray[np.float64], lmin: int, lmax: int,
              t_s: float) -> CadenceSecond:
    """Step and stride period from a normalised, unbiased autocorrelation."""
    nan = CadenceSecond(t_s, np.nan, np.nan, 0.0)
    seg = acf[lmin - 1: lmax + 2]
    inner = seg[1:-1]
    is_pk = (inner > seg[:-2]) & (inner >= seg[2:])
    pk = np.flatnonzero(is_pk) + lmin
    if pk.size == 0:
        return nan
    best = int(pk[np.argmax(acf[pk])])
    half = pk[np.abs(pk - best / 2) <= 0.15 * best / 2 + 1]
    if half.size and float(acf[half].max()) > 0.5 * float(acf[best]):
        best = int(half[np.argmax(acf[half])])
    if float(acf[best]) < p.min_acf:
        return CadenceSecond(t_s, np.nan, np.nan, max(0.0, float(acf[best])))
    lag = best + _parabolic(acf, best)
    # stride: the peak near twice the step lag
    c = round(2 * lag)
    lo, hi = max(1, c - 3), min(acf.shape[0] - 2, c + 3)
    stride_lag = 2 * lag
    if hi > lo:
        j = lo + int(np.argmax(acf[lo: hi + 1]))
        if lo < j < hi:
            stride_lag = j + _parabolic(acf, j)
    return CadenceSecond(t_s, 120.0 * p.fs_hz / stride_lag, stride_lag / p.fs_hz,
                         float(min(1.0, acf[best])))


def _parabolic(a: NDArray[np.float64], i: int) -> float:
    den = a[i - 1] - 2 * a[i] + a[i + 1]
    if den >= 0:
        return 0.0
    return float(np.clip(0.5 * (a[i - 1] - a[i + 1]) / den, -0.5, 0.5))


def step(p: CadenceParams, s: CadenceState, x: Samples
         ) -> tuple[list[CadenceSecond], CadenceState]:
    """Feed samples; return a row per completed second."""
    frames, fs_ = fr.push(s.framer, x, p.has_gyro)
    s = replace(s, framer=fs_)
    out = []
    for f in frames:
        row, s = frame_step(p, s, f)
        out.append(row)
    return out, s


def run_batch(p: CadenceParams, x: Samples) -> list[CadenceSecond]:
    """Process a whole recording in one call."""
    return step(p, init_state(p), x)[0]
