"""The breathing spectra are the plain per-window formulation bit for bit.

The module gathers the windows as (n, k, 3), transforms several per pocketfft call in
another layout, sums the axes' powers written out and projects the windows sharing an axis
in one stacked matmul; the references below are one window at a time with scipy.fft, and
the batched formulation the module used before (windows as (k, n, 3)).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import fft as sp_fft

from breathform.signal import breathing


def _bits(a: np.ndarray) -> np.ndarray:
    """The raw bits (tells -0.0 from 0.0 and compares NaNs by payload)."""
    a = np.ascontiguousarray(a)
    return a.view(np.float64 if a.dtype == np.complex128 else a.dtype).view(np.int64)


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    np.testing.assert_array_equal(_bits(a), _bits(b))


def _plain_window(big: np.ndarray, a: int, n: int, plan: breathing._SpecPlan, nfft: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    w = big[a:a + n]
    z = (w - w.mean(axis=0)) * plan.hann[:, None]
    spec3 = np.asarray(sp_fft.rfft(z, nfft, axis=0))[:plan.nb]
    return spec3, (spec3.real ** 2 + spec3.imag ** 2).sum(axis=1)


def _batched_before(big: np.ndarray, starts: list[int], n: int, plan: breathing._SpecPlan,
                    nfft: int) -> tuple[np.ndarray, np.ndarray]:
    w = big[np.asarray(starts)[:, None] + np.arange(n)]
    z = (w - w.mean(axis=1, keepdims=True)) * plan.hann[:, None]
    spec3 = np.asarray(sp_fft.rfft(z, nfft, axis=1))[:, :plan.nb]
    return spec3, (spec3.real ** 2 + spec3.imag ** 2).sum(axis=2)


def _check_rows(p: breathing.BreathParams, big: np.ndarray, starts: list[int], n: int) -> None:
    plan = breathing._spec_plan(p, n)
    spec3, full = breathing._spectra_rows(big, starts, n, plan, p.nfft)
    k = len(starts)
    assert spec3.shape == (k, plan.nb, 3) and full.shape == (k, plan.nb)
    assert spec3.flags.c_contiguous and full.flags.c_contiguous
    for r, a in enumerate(starts):
        s1, f1 = _plain_window(big, a, n, plan, p.nfft)
        _same(spec3[r], s1)
        _same(full[r], f1)
    if k:
        s2, f2 = _batched_before(big, starts, n, plan, p.nfft)
        _same(spec3, s2)
        _same(full, f2)


@pytest.mark.parametrize(("fs_hz", "nfft", "n", "k"), [
    (100.0, 4096, 400, 0), (100.0, 4096, 400, 1), (100.0, 4096, 400, 7),
    (100.0, 4096, 400, 8), (100.0, 4096, 400, 9), (100.0, 4096, 240, 17),
    (100.0, 4096, 1, 3), (100.0, 4096, 17, 26), (100.0, 2048, 400, 12),
    (100.0, 512, 512, 10), (200.0, 4096, 400, 40)])
def test_spectra_rows_are_the_plain_spectra(fs_hz: float, nfft: int, n: int, k: int) -> None:
    # chunks of _FFT_ROWS windows, a short last chunk, no padding (n == nfft), one sample
    p = breathing.BreathParams(fs_hz, nfft=nfft)
    rng = np.random.default_rng(k * 1000 + n)
    big = rng.standard_normal((n + 300, 3)) * rng.uniform(1e-4, 1.0)
    starts = rng.integers(0, 301, k).tolist()  # any order, repeats, overlaps
    _check_rows(p, big, starts, n)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 20), n=st.integers(1, 400),
       scale=st.sampled_from([0.0, 1e-12, 1e-3, 1.0, 1e6]), step=st.integers(0, 30))
def test_spectra_rows_property(seed: int, k: int, n: int, scale: float, step: int) -> None:
    # constant (zero) windows included: their mean is exact and the spectrum all zeros
    p = breathing.BreathParams(100.0)
    rng = np.random.default_rng(seed)
    big = rng.standard_normal((n + k * step + 5, 3)) * scale + rng.standard_normal(3)
    _check_rows(p, big, [r * step for r in range(k)], n)


def _axes(rng: np.random.Generator, k: int) -> list[np.ndarray]:
    fwd = np.array([0.6, 0.0, 0.8])
    w, vecs = np.linalg.eigh(np.cov(rng.standard_normal((3, 50))))
    col = vecs[:, int(np.argmax(w))]  # a strided column view, as _axis returns it
    assert not col.flags.c_contiguous
    choices = [fwd, fwd.copy(), np.array([0.6, -0.0, 0.8]), col, col.copy(),
               rng.standard_normal(3)]
    return [choices[int(i)] for i in rng.integers(0, len(choices), k)]


@pytest.mark.parametrize("k", [1, 2, 5, 33])
def test_proj_powers_are_each_rows_projection(k: int) -> None:
    rng = np.random.default_rng(k)
    plan = breathing._spec_plan(breathing.BreathParams(100.0), 400)
    spec3 = rng.standard_normal((k, plan.nb, 3)) + 1j * rng.standard_normal((k, plan.nb, 3))
    for axes in (_axes(rng, k), [_axes(rng, 1)[0]] * k):
        got = breathing._proj_powers(spec3, axes)
        assert len(got) == k
        for r in range(k):
            _same(got[r], breathing._proj_power(plan, spec3[r], axes[r]))
            _same(got[r], breathing._proj_power(plan, spec3[r].copy(), axes[r]))


def test_window_spectra_projections() -> None:
    p = breathing.BreathParams(100.0)
    rng = np.random.default_rng(5)
    big = rng.standard_normal((500, 3))
    wins = [(key, 3 * key, 400) for key in range(12)] + [(12, 7, 300)]
    axes = _axes(rng, 13)
    got = breathing._window_spectra(p, big, wins, axes)
    for key, a, n in wins:
        sp = got[key]
        assert sp.proj is not None
        _same(sp.proj, breathing._proj_power(sp.plan, sp.spec3, axes[key]))
        alone = breathing._window_spectra(p, big, [(key, a, n)], axes)[key]
        assert alone.proj is not None
        _same(sp.proj, alone.proj)
    assert all(sp.proj is None for sp in breathing._window_spectra(p, big, wins).values())


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
