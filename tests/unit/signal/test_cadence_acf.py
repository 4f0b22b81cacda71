"""cadence: the all-rows peak picking and the joined |acc| give the row-by-row bits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from breathform.signal import cadence


def _rows_one_by_one(p: cadence.CadenceParams, acf: np.ndarray, lmin: int, lmax: int,
                     t_s: list[float]) -> list[cadence.CadenceSecond]:
    return [cadence._from_acf(p, acf[r], lmin, lmax, t) for r, t in enumerate(t_s)]


def _check(p: cadence.CadenceParams, acf: np.ndarray) -> None:
    lmin, lmax = cadence._lags(p, cadence._nwin(p))[:2]
    t_s = [float(k) for k in range(acf.shape[0])]
    got = cadence._from_acfs(p, acf, lmin, lmax, t_s)
    assert repr(got) == repr(_rows_one_by_one(p, acf, lmin, lmax, t_s))


def _real_acfs(p: cadence.CadenceParams, seed: int) -> np.ndarray:
    """Normalised ACFs of gait-like windows, as ``_estimates`` makes them."""
    rng = np.random.default_rng(seed)
    n = cadence._nwin(p)
    lstride, nfft, div = cadence._lags(p, n)[2:]
    t = np.arange(n) / p.fs_hz
    rows = []
    for _ in range(40):
        f = rng.uniform(1.2, 4.2)  # steps per second, some outside the plausible range
        asym = rng.uniform(0.0, 0.6)  # left and right steps unlike
        z = (np.sin(2 * np.pi * f * t) + asym * np.sin(np.pi * f * t)
             + rng.normal(0, rng.choice([0.01, 0.3, 2.0]), n))
        rows.append(z - z.mean())
    z = np.array(rows)
    acf = cadence._acfs(z, nfft)[:, : lstride + 2]
    return np.asarray(acf / acf[:, :1] * n / div)


@pytest.mark.parametrize("fs_hz", [20.0, 52.0, 104.0, 208.0])
@pytest.mark.parametrize("seed", range(3))
def test_all_rows_equal_row_by_row_on_gait_like_windows(fs_hz: float, seed: int) -> None:
    p = cadence.CadenceParams(fs_hz, min_acf=[0.3, 0.0, 0.9][seed])
    acf = _real_acfs(p, seed)
    _check(p, acf)
    lmin, lmax = cadence._lags(p, cadence._nwin(p))[:2]
    rows = cadence._from_acfs(p, acf, lmin, lmax, [0.0] * acf.shape[0])
    if seed == 0:  # the windows give cadences, abstentions and stride refinements
        assert sum(np.isfinite(r.cadence_spm) for r in rows) > 10
        assert any(np.isnan(r.cadence_spm) for r in rows)


_P20 = cadence.CadenceParams(20.0)  # short ACFs: lags 5..14, 33 values
_L20 = cadence._lags(_P20, cadence._nwin(_P20))[2] + 2


@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.just(_L20)),
              elements=st.sampled_from([-1.0, -0.25, 0.0, 0.2, 0.3, 0.31, 0.5, 0.7, 1.0,
                                        1.25])))
def test_all_rows_equal_row_by_row_with_ties_and_plateaus(acf: np.ndarray) -> None:
    # few distinct values: equal peaks, flat tops, no peak at all, windows cut at the end
    _check(_P20, acf)


@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.just(_L20)),
              elements=st.floats(-2.0, 2.0, allow_nan=False)),
       st.lists(st.tuples(st.integers(0, 5), st.integers(0, _L20 - 1)), max_size=3))
def test_rows_with_nan_take_the_row_by_row_path(acf: np.ndarray, bad: list[tuple[int, int]]
                                                ) -> None:
    # (an infinity, which |acc| cannot make, fails _from_acf itself: round(nan))
    for r, c in bad:
        acf[r % acf.shape[0], c] = np.nan
    _check(_P20, acf)


def test_no_rows() -> None:
    assert cadence._from_acfs(_P20, np.zeros((0, _L20)), 5, 14, []) == []


@pytest.mark.parametrize("seed", range(3))
def test_joined_magnitude_equals_chunk_by_chunk(seed: int) -> None:
    rng = np.random.default_rng(seed)
    chunks = [rng.normal(0, rng.choice([0.01, 1.0, 30.0]), (int(rng.integers(1, 260)), 3))
              for _ in range(12)]
    chunks.append(np.hstack((chunks[0], chunks[0]))[:, ::2])  # a strided view
    want = np.concatenate([np.linalg.norm(c, axis=1) - 1.0 for c in chunks])
    assert cadence._mag_minus_1(chunks).tobytes() == want.tobytes()
    one = chunks[3]
    assert cadence._mag_minus_1([one]).tobytes() == (np.linalg.norm(one, axis=1) - 1).tobytes()


def test_frames_with_nan_samples_equal_frame_by_frame() -> None:
    from test_cadence_frames import FS, _frames

    frames = _frames(5)
    k = next(i for i, f in enumerate(frames) if f.samples.n > 50 and i > 12)
    x = frames[k].samples
    acc = x.acc_g.copy()
    acc[10:14] = np.nan  # a broken sample: the windows holding it abstain row by row
    frames[k] = frames[k].__class__(frames[k].k, x.__class__(
        x.t_s, acc, x.gyr_dps, x.idx, x.filled, x.reset))
    p = cadence.CadenceParams(FS)
    s = cadence.init_state(p)
    want = []
    for f in frames:
        row, s = cadence.frame_step(p, s, f)
        want.append(row)
    got, _ = cadence.frames_step(p, cadence.init_state(p), frames)
    assert repr(got) == repr(want)


@given(arrays(np.float64, st.tuples(st.integers(0, 9), st.just(3)),
              elements=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                 st.sampled_from([0.0, -0.0, 1e-170, 1e170, 1.0, -1.0]))))
def test_magnitude_equals_norm_on_any_values(a: np.ndarray) -> None:
    # the columns written out: the bits of np.linalg.norm(axis=1), zeros, signs, overflow,
    # underflow, infinities and NaN included
    with np.errstate(all="ignore"):  # overflow and inf - inf warn (differently)
        want = np.linalg.norm(a, axis=1) - 1.0
        assert cadence._mag_minus_1([a]).tobytes() == want.tobytes()
        assert cadence._mag_minus_1([a[:1], a[1:]]).tobytes() == want.tobytes()


@pytest.mark.parametrize("fs_hz", [20.0, 104.0, 208.0])
def test_acfs_equal_the_public_fft_row_by_row(fs_hz: float) -> None:
    from scipy.fft import irfft, rfft

    p = cadence.CadenceParams(fs_hz)
    n = cadence._nwin(p)
    nfft = cadence._lags(p, n)[3]
    rng = np.random.default_rng(7)
    z = rng.normal(0, rng.choice([0.01, 1.0, 30.0], (5, 1)), (5, n))
    z[1] = 0.0  # a still window: an all-zero spectrum
    z[2, 10] = np.nan
    got = cadence._acfs(z, nfft)
    for r in range(z.shape[0]):
        want = irfft(np.abs(rfft(z[r], nfft)) ** 2)
        assert got[r].tobytes() == want.tobytes()
    assert cadence._acfs(z[:1], nfft).tobytes() == got[:1].tobytes()
