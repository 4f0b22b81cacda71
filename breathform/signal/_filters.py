"""Cached filter designs shared by the processors."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfilt, sosfilt_zi

try:  # the kernel scipy.signal.sosfilt runs; calling it directly skips ~15 us of checks
    from scipy.signal._sosfilt import _sosfilt as _sos_kernel
except ImportError:  # pragma: no cover - a scipy that moved it: the public path is used
    _sos_kernel = None


@lru_cache(maxsize=64)
def butter_sos(order: int, cutoff_hz: float | tuple[float, float], btype: str,
               fs_hz: float) -> NDArray[np.float64]:
    """Butterworth second-order sections (cached per design)."""
    return np.asarray(butter(order, cutoff_hz, btype=btype, fs=fs_hz, output="sos"))


@lru_cache(maxsize=64)
def unit_zi(order: int, cutoff_hz: float | tuple[float, float], btype: str,
            fs_hz: float) -> NDArray[np.float64]:
    """Steady-state ``zi`` of the design for a unit step input, shape (n_sections, 2)."""
    return np.asarray(sosfilt_zi(butter_sos(order, cutoff_hz, btype, fs_hz)))


def filt(sos: NDArray[np.float64], x: NDArray[np.float64], zi: NDArray[np.float64]
         ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``sosfilt`` along axis 0 that accepts empty input."""
    if x.shape[0] == 0:
        return x.copy(), zi
    if (_sos_kernel is not None and x.ndim in (1, 2) and x.dtype == np.float64
            and sos.dtype == np.float64 and zi.dtype == np.float64
            and sos.ndim == 2 and sos.shape[1] == 6
            and zi.shape == (sos.shape[0], 2, *x.shape[1:])):
        # What sosfilt does for float64 along axis 0, without its per-call overhead (this
        # runs for every filter and second): the same kernel on the same memory layout, so
        # the output is bit-identical, including the strides of y and zf.
        if x.ndim == 1:
            y1 = np.array(x[np.newaxis, :], dtype=np.float64, order="C")
            z1 = np.array(zi[np.newaxis], dtype=np.float64, order="C")
            _sos_kernel(sos, y1, z1)
            return y1[0], z1[0]
        y2 = np.array(x.T, dtype=np.float64, order="C")
        z2 = np.array(zi.transpose(2, 0, 1), dtype=np.float64, order="C")
        _sos_kernel(sos, y2, z2)
        return y2.T, z2.transpose(1, 2, 0)
    y, zf = sosfilt(sos, x, axis=0, zi=zi)
    return np.asarray(y), np.asarray(zf)
