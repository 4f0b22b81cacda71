"""The lean sosfilt path gives exactly what scipy's sosfilt gives."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import sosfilt

from breathform.signal._filters import butter_sos, filt


@pytest.mark.parametrize("shape", [(1,), (7,), (200,), (1, 3), (208, 3), (5, 6)])
@pytest.mark.parametrize("design", [(2, 0.5, "lowpass", 50.0), (4, (0.1, 0.7), "bandpass", 200.0)])
def test_filt_is_sosfilt_bit_for_bit(shape: tuple[int, ...],
                                     design: tuple[int, float | tuple[float, float], str, float]
                                     ) -> None:
    sos = butter_sos(*design)
    rng = np.random.default_rng(len(shape) * 10 + shape[0])
    zi = rng.standard_normal((sos.shape[0], 2, *shape[1:]))
    x0 = rng.standard_normal(shape)
    for x in (x0, np.asfortranarray(x0), x0[::-1]):
        want_y, want_zf = sosfilt(sos, x, axis=0, zi=zi)
        zi_before = zi.copy()
        y, zf = filt(sos, x, zi)
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(zf, want_zf)
        # same memory layout too: later reductions over it then sum in the same order
        assert (y.strides, zf.strides) == (want_y.strides, want_zf.strides)
        np.testing.assert_array_equal(zi, zi_before)  # the state passed in is not changed


def test_filt_empty_input_returns_state() -> None:
    sos = butter_sos(2, 0.5, "lowpass", 50.0)
    zi = np.ones((sos.shape[0], 2, 3))
    y, zf = filt(sos, np.zeros((0, 3)), zi)
    assert y.shape == (0, 3) and zf is zi
