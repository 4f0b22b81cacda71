"""The breathing spectra's FFT (one window per pocketfft call) is scipy.fft.rfft bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import fft as sp_fft

from breathform.signal import breathing


def _want(z: np.ndarray, nfft: int, nb: int) -> np.ndarray:
    return np.asarray(sp_fft.rfft(z, nfft, axis=1))[:, :nb]


def test_rfft_rows_is_rfft() -> None:
    # windows of several lengths (short, full, as long as nfft), one or many, two nfft
    rng = np.random.default_rng(3)
    nb = 300
    for nfft, n, k in [(4096, 400, 3), (4096, 240, 1), (4096, 400, 19), (4096, 17, 8),
                       (2048, 400, 9), (4096, 1, 2), (4096, 4096, 2), (4096, 399, 0)]:
        z = rng.standard_normal((k, n, 3))
        got = breathing._rfft_rows(z, nfft, nb)
        assert got.shape == (k, nb, 3) and got.flags.c_contiguous
        if k:
            np.testing.assert_array_equal(got, _want(z, nfft, nb))


@pytest.mark.parametrize("n", [240, 400])
def test_window_spectra_grouping_does_not_matter(n: int) -> None:
    # one call over many windows equals each window alone
    p = breathing.BreathParams(100.0)
    rng = np.random.default_rng(n)
    big = rng.standard_normal((n + 40, 3))
    wins = [(k, k * 2, n) for k in range(20)]
    together = breathing._window_spectra(p, big, wins)
    for key, a, m in wins:
        alone = breathing._window_spectra(p, big, [(key, a, m)])[key]
        np.testing.assert_array_equal(together[key].spec3, alone.spec3)
        np.testing.assert_array_equal(together[key].full, alone.full)
        np.testing.assert_array_equal(together[key].spec, alone.spec)
        assert together[key].total == alone.total
