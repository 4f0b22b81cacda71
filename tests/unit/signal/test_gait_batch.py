"""gait: the per-batch helpers give the one-at-a-time bits; gaps under any grouping."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_gait import _cut, _sim_samples

from breathform.signal import frames as fr
from breathform.signal import gait
from breathform.signal.regrid import Samples


def _osc_one(av_g: np.ndarray, fs_hz: float) -> float:
    """Vertical oscillation of one stride, numpy call by numpy call (the reference)."""
    n = av_g.shape[0]
    if n < 3:
        return float("nan")
    acc = (av_g - float(av_g.cumsum()[-1]) / n) * 9.80665
    v = acc.cumsum() / fs_hz
    v = v - float(v.cumsum()[-1]) / n
    z = v.cumsum() / fs_hz
    z = z - np.linspace(float(z[0]), float(z[-1]), n)
    return float((z.max() - z.min()) * 100.0)


@pytest.mark.parametrize("seed", range(3))
def test_vertical_oscillations_at_once_equal_one_by_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    fs = float(rng.choice([52.0, 104.0, 208.0]))
    av = rng.normal(0, 0.3, 20000) + np.sin(np.arange(20000) / fs * 2 * np.pi * 1.4)
    n_str = 600  # more than one block of _OSC_ROWS
    a = rng.integers(0, 19000, n_str)
    b = a + rng.integers(3, 700, n_str)
    b[:5] = a[:5] + np.arange(5)  # 0, 1, 2 samples: NaN; 3, 4: the shortest strides
    b[-1] = av.shape[0]  # a stride ending with the array: no padding from after it
    got = gait._vertical_osc_cms(av, a.tolist(), b.tolist(), fs)
    want = [_osc_one(av[i:j], fs) for i, j in zip(a, b, strict=True)]
    assert np.array(got).tobytes() == np.array(want).tobytes()
    assert np.isnan(got[:3]).all() and np.isfinite(got[3:]).all()
    for i, j in zip(a[:20], b[:20], strict=True):
        assert repr(gait.vertical_osc_cm(av[i:j], fs)) == repr(_osc_one(av[i:j], fs))
    assert gait._vertical_osc_cms(av, [], [], fs) == []


def test_window_means_at_once_equal_sequential_sums() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 5.0, 3000) * rng.choice([1e-3, 1.0, 1e3], 3000)
    x[100:140] = -0.0  # all-(-0) and mixed-zero windows keep the sign of their sum
    x[120:125] = 0.0
    b = rng.integers(1, 3000, 500)
    b[:40] = np.arange(101, 141)
    a = np.maximum(0, b - rng.integers(1, 64, 500))  # windows of 1..63 samples
    a[:40] = np.maximum(100, b[:40] - 8)
    got = gait._window_means(x, a, b)
    want = [float(x[i:j].cumsum()[-1]) / (j - i) for i, j in zip(a, b, strict=True)]
    assert np.array(got).tobytes() == np.array(want).tobytes()
    assert gait._window_means(x, a[:0], b[:0]) == []


def _with_gaps(x: Samples, spans: list[tuple[int, int]], resets: list[int]) -> Samples:
    filled = x.filled.copy()
    acc = x.acc_g.copy()
    for a, n in spans:  # held samples, as the gap filler makes them
        filled[a: a + n] = True
        acc[a: a + n] = acc[max(0, a - 1)]
    reset = x.reset.copy()
    reset[resets] = True
    return Samples(x.t_s, acc, x.gyr_dps, x.idx, filled, reset)


@given(st.lists(st.tuples(st.integers(0, 3118), st.integers(1, 250)), max_size=5),
       st.lists(st.integers(1, 3118), max_size=3),
       st.lists(st.integers(1, 12), min_size=40, max_size=40),
       st.sampled_from([0.0, 0.4, 0.7]), st.integers(1, 5), st.booleans())
def test_grouped_seconds_equal_one_batch_with_gaps(spans: list[tuple[int, int]],
                                                   resets: list[int], groups: list[int],
                                                   frac: float, side_n: int,
                                                   gyro: bool) -> None:
    # contacts on gap-filled samples, chains cut by gaps and resets, any grouping of the
    # seconds: the decisions and the state are those of one batch
    x = _with_gaps(_sim_samples(), spans, resets)
    if not gyro:
        x = dataclasses.replace(x, gyr_dps=None)
    p = gait.GaitParams(104.0, has_gyro=gyro, min_step_frac=frac, side_n=side_n)
    frames, _ = fr.push(fr.init_framer(), x, gyro)
    n = sum(f.samples.n for f in frames)  # whole seconds (the framer keeps the rest)
    want_c, want_s, want_state = gait.step(p, gait.init_state(p), _cut(x, 0, n))
    s = gait.init_state(p)
    got_c: list[gait.Contact] = []
    got_s: list[gait.Stride] = []
    i = k = 0
    while i < len(frames):
        j = i + groups[k % len(groups)]
        out, s = gait.frames_step(p, s, [f.samples for f in frames[i:j]])
        for c, st_ in out:
            got_c += c
            got_s += st_
        i, k = j, k + 1
    assert repr(got_c) == repr(want_c)
    assert repr(got_s) == repr(want_s)
    assert len(want_s) > 10
    for fa, fb in zip(dataclasses.astuple(s), dataclasses.astuple(want_state), strict=True):
        np.testing.assert_array_equal(fa, fb)
