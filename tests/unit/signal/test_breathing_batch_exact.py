"""The breathing estimator's batch-wise arithmetic gives the plain formulation bit for bit.

References: the stride comb one block of samples at a time, three numpy operations a
block (as first written), and the locomotor-coupling prior one second at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from breathform.signal import breathing


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.int64)


def _comb_plain(lam: float, x: np.ndarray, hx: np.ndarray, hy: np.ndarray,
                segments: list[tuple[int, int]]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = hx.shape[0]
    xx = np.concatenate((hx, x))
    yy = np.concatenate((hy, np.zeros_like(x)))
    j0 = 0
    for n, period in segments:
        end = j0 + n
        if period <= 0:
            yy[h + j0:h + end] = x[j0:end]
            j0 = end
        while j0 < end:
            j1 = min(end, j0 + period)
            a, b = h + j0, h + j1
            yy[a:b] = xx[a:b] - xx[a - period:b - period] + lam * yy[a - period:b - period]
            j0 = j1
    return yy[h:], xx[-h:], yy[-h:]


def _check_comb(seed: int, lam: float, segments: list[tuple[int, int]], h: int) -> None:
    rng = np.random.default_rng(seed)
    m = sum(n for n, _ in segments)
    x = rng.standard_normal((m, 3))
    hx, hy = rng.standard_normal((h, 3)), rng.standard_normal((h, 3))
    got = breathing._comb_run(lam, x, hx, hy, segments)
    want = _comb_plain(lam, x, hx, hy, segments)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        np.testing.assert_array_equal(_bits(g), _bits(w))


@pytest.mark.parametrize("segments", [
    [(1000, 141)], [(141, 141)], [(50, 141)], [(0, 141)], [(300, 0)],
    [(200, 140), (200, 140), (199, 141), (1, 141)], [(500, 400)],
    [(250, 0), (330, 139), (20, 0), (401, 142)], [(1, 1), (7, 3)]])
def test_comb_run_is_the_plain_comb(segments: list[tuple[int, int]]) -> None:
    # one or many segments, shorter or longer than the period, off (period 0), the
    # longest period (the whole history), period 1
    _check_comb(len(segments), 0.8, segments, 400)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lam=st.sampled_from([0.0, 0.5, 0.8, 0.99]),
       segments=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 200)),
                         min_size=1, max_size=6))
def test_comb_run_property(seed: int, lam: float, segments: list[tuple[int, int]]) -> None:
    _check_comb(seed, lam, segments, 200)


def test_priors_now_are_each_seconds_prior() -> None:
    # the striding seconds' priors at once equal each second's alone (one-row path)
    p = breathing.BreathParams(100.0)
    rng = np.random.default_rng(2)
    strides = rng.uniform(0.5, 1.6, 40).tolist() + [np.nan, 0.0, float(np.float64(0.71))]
    rng.shuffle(strides)
    got = breathing._priors_now(p, strides)
    for st_s, row in zip(strides, got, strict=True):
        want = breathing._prior_now(p, st_s)
        np.testing.assert_array_equal(_bits(row), _bits(want))
