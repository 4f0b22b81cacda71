"""numpy reductions on small arrays without numpy's per-call overhead.

Each helper performs exactly the operations of the numpy call it replaces (same ufuncs,
same reduction order), so results are bit-identical; they only skip the Python layers
(argument handling, dispatch) that dominate for the per-second arrays of the processors.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray


def std1(z: NDArray[np.float64]) -> float:
    """``float(z.std())`` of a 1-D float64 array with at least one element."""
    n = z.shape[0]
    d = z - np.add.reduce(z) / n
    d *= d
    return math.sqrt(float(np.add.reduce(d)) / n)


def mean_std(x: NDArray[np.float64], axis: int = 0
             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(x.mean(axis), x.std(axis))`` of a float64 array with ``x.shape[axis] >= 1``."""
    n = x.shape[axis]
    m = np.add.reduce(x, axis=axis, keepdims=True)
    m /= n
    d = x - m
    d *= d
    var = np.add.reduce(d, axis=axis)
    var /= n
    return np.squeeze(m, axis), np.sqrt(var)


def mean_std_axis0(x: NDArray[np.float64]
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(x.mean(axis=0), x.std(axis=0))`` of a float64 (n, m) array, n >= 1."""
    return mean_std(x, 0)


@lru_cache(maxsize=64)
def _arange(n: int) -> NDArray[np.float64]:
    a = np.arange(n, dtype=np.float64)
    a.setflags(write=False)
    return a


def ramp(stop: float, num: int) -> NDArray[np.float64]:
    """``np.linspace(0.0, stop, num)`` for num >= 2 (a fresh array)."""
    div = num - 1
    y = _arange(num).copy()
    step = stop / div
    if step == 0:
        y /= div
        y *= stop
    else:
        y *= step
    y += 0.0
    y[-1] = stop
    return y


def unwrap(p: NDArray[np.float64], period: float) -> NDArray[np.float64]:
    """``np.unwrap(p, period=period)`` of a finite 1-D float64 array of >= 2 samples."""
    dd = p[1:] - p[:-1]
    half = period / 2
    if float(np.abs(dd).max()) < half:
        # nothing to correct: np.unwrap adds a cumulative sum of zeros
        up = p.copy()
        up[1:] += 0.0
        return up
    return np.asarray(np.unwrap(p, period=period))
