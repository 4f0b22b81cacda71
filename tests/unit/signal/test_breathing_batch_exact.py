"""The breathing estimator's batch-wise arithmetic gives the plain formulation bit for bit.

References: the stride comb's recursion one sample at a time, and the locomotor-coupling
prior one second at a time.
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
    """y[n] = x[n] - x[n-P] + lam*y[n-P] one sample (row) at a time; y = x where P = 0."""
    h = hx.shape[0]
    xs = [*hx, *x]
    ys = [*hy]
    n = h
    for count, period in segments:
        for _ in range(count):
            if period > 0:
                ys.append(xs[n] - xs[n - period] + lam * ys[n - period])
            else:
                ys.append(xs[n].copy())
            n += 1
    y = np.array(ys).reshape(-1, 3)
    return y[h:], np.array(xs[-h:]), y[-h:]


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
