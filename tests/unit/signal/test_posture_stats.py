"""posture._frame_stats over many seconds equals the per-second reductions bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.signal import _numeric as nu
from breathform.signal import posture


def _one(acc: np.ndarray) -> tuple[np.ndarray, float, float]:
    mean, std = nu.mean_std_axis0(acc)
    return mean, float(std.max()), nu.std1(np.linalg.norm(acc, axis=1))


@pytest.mark.parametrize("seed", range(4))
def test_frame_stats_equal_the_seconds_alone(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.choice([1, 2, 7, 103, 104, 105, 208], size=int(rng.integers(2, 30)))
    accs = []
    for n in lengths:
        acc = rng.standard_normal((int(n), 3)) * rng.uniform(1e-3, 4.0) + [0.0, 0.0, 1.0]
        if rng.random() < 0.2:
            acc[:] = acc[0]                  # a constant second: std exactly 0
        if rng.random() < 0.2:
            acc[:, 1] = -0.0
        accs.append(acc)
    got = posture._frame_stats(accs)
    assert len(got) == len(accs)
    for acc, (mean, std_max, norm_std) in zip(accs, got, strict=True):
        w_mean, w_std_max, w_norm_std = _one(acc)
        np.testing.assert_array_equal(mean, w_mean)
        assert np.signbit(mean).tolist() == np.signbit(w_mean).tolist()
        assert std_max == w_std_max and norm_std == w_norm_std
    assert posture._frame_stats([]) == []
    one = posture._frame_stats(accs[:1])[0]
    w = _one(accs[0])
    np.testing.assert_array_equal(one[0], w[0])
    assert one[1:] == w[1:]


@pytest.mark.parametrize("seed", range(4))
def test_frame_stats_runs_of_one_length(seed: int) -> None:
    """Runs of equal-length seconds (the usual batch), with odd ones in between."""
    rng = np.random.default_rng(seed)
    lengths = [208] * int(rng.integers(2, 12)) + [207] + [208] * int(rng.integers(1, 12))
    lengths += [208, 5, 5, 5] if seed % 2 else [1, 1]
    accs = [rng.standard_normal((n, 3)) * rng.uniform(1e-3, 4.0) + [0.0, 0.0, 1.0]
            for n in lengths]
    got = posture._frame_stats(accs)
    for acc, (mean, std_max, norm_std) in zip(accs, got, strict=True):
        w_mean, w_std_max, w_norm_std = _one(acc)
        np.testing.assert_array_equal(mean, w_mean)
        assert std_max == w_std_max and norm_std == w_norm_std


def test_norms_equal_linalg_norm() -> None:
    rng = np.random.default_rng(5)
    acc = rng.standard_normal((20_000, 3)) * rng.lognormal(0.0, 3.0, (20_000, 3))
    np.testing.assert_array_equal(posture._norms(acc), np.linalg.norm(acc, axis=1))


@pytest.mark.parametrize("seed", range(6))
def test_segment_sums_equal_each_segment_alone(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.choice([1, 2, 9, 200, 200, 200, 208, 208], size=int(rng.integers(1, 40)))
    off = [0, *np.cumsum(lengths).tolist()]
    x = rng.standard_normal(off[-1]) * rng.lognormal(0.0, 2.0, off[-1])
    got = posture._segment_sums(x, off)
    want = [float(np.add.reduce(x[a:b])) for a, b in zip(off[:-1], off[1:], strict=True)]
    assert got == want
    assert posture._segment_sums(x, [0]) == []
