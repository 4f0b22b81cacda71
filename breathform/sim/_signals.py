"""Small signal helpers shared by the simulator modules (private)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

F64 = NDArray[np.float64]

CTRL_FS_HZ = 10.0
"""Rate of the control grid on which route and physiology are computed."""


def lag(x: F64, fs_hz: float, tau_s: float, x0: float | None = None) -> F64:
    """First-order lag (exact discretisation of dy/dt = (x - y)/tau).

    Args:
        x: Input, shape (n,).
        fs_hz: Sample rate of x.
        tau_s: Time constant.
        x0: Initial state; x[0] when None.

    Returns:
        Lagged signal, shape (n,).
    """
    a = float(np.exp(-1.0 / (fs_hz * tau_s)))
    y0 = float(x[0]) if x0 is None else x0
    y, _ = lfilter([1.0 - a], [1.0, -a], x, zi=[a * y0])
    return np.asarray(y, dtype=np.float64)


def smooth_noise(rng: np.random.Generator, n: int, fs_hz: float, tau_s: float,
                 sd: float) -> F64:
    """Stationary Ornstein-Uhlenbeck noise (AR(1)) with the given correlation time.

    Args:
        rng: Random generator.
        n: Number of samples.
        fs_hz: Sample rate.
        tau_s: Correlation time.
        sd: Stationary standard deviation.

    Returns:
        Noise, shape (n,).
    """
    a = float(np.exp(-1.0 / (fs_hz * tau_s)))
    e = rng.standard_normal(n)
    x0 = sd * e[0]
    e[0] = 0.0
    y, _ = lfilter([sd * np.sqrt(1.0 - a * a)], [1.0, -a], e, zi=[a * x0])
    y[0] = x0
    return np.asarray(y, dtype=np.float64)


def smoothstep(x: F64) -> F64:
    """Cubic smoothstep of clip(x, 0, 1)."""
    c = np.clip(x, 0.0, 1.0)
    return np.asarray(c * c * (3.0 - 2.0 * c), dtype=np.float64)


def crossing_times(t_s: F64, count: F64) -> F64:
    """Times at which a non-decreasing cumulative count passes each integer.

    Args:
        t_s: Grid times, shape (n,), increasing.
        count: Cumulative count on the grid, shape (n,), non-decreasing.

    Returns:
        Linearly interpolated times of the integers in (count[0], count[-1]].
    """
    first = int(np.floor(count[0])) + 1
    last = int(np.floor(count[-1]))
    if last < first:
        return np.zeros(0, dtype=np.float64)
    k = np.arange(first, last + 1, dtype=np.float64)
    j = np.searchsorted(count, k, side="left")
    i = j - 1
    frac = (k - count[i]) / (count[j] - count[i])
    return np.asarray(t_s[i] + frac * (t_s[j] - t_s[i]), dtype=np.float64)


def per_second_mean(t_s: F64, x: F64, n_seconds: int) -> F64:
    """Mean of x over each interval (k-1, k], k = 1..n_seconds.

    Args:
        t_s: Sample times, shape (n,).
        x: Values, shape (n,).
        n_seconds: Number of whole seconds.

    Returns:
        Means, shape (n_seconds,); NaN for a second without samples.
    """
    sec = np.ceil(t_s).astype(np.int64) - 1
    ok = (sec >= 0) & (sec < n_seconds)
    cnt = np.bincount(sec[ok], minlength=n_seconds).astype(np.float64)
    tot = np.bincount(sec[ok], weights=x[ok], minlength=n_seconds)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(cnt > 0, tot / np.maximum(cnt, 1.0), np.nan),
                          dtype=np.float64)
