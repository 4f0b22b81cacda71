"""Cached filter designs shared by the processors."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfilt, sosfilt_zi


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
    y, zf = sosfilt(sos, x, axis=0, zi=zi)
    return np.asarray(y), np.asarray(zf)
