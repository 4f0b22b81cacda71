"""Regrid: a call with gaps, handled as contiguous runs and gap blocks, equals the general
per-block path (fills, resets, duplicates, out-of-order and empty blocks, missing gyro)."""

from __future__ import annotations

import numpy as np
import pytest

from breathform.model import ImuBlock
from breathform.signal import regrid

FS = 208.0


def _blocks(seed: int, has_gyro: bool) -> list[ImuBlock]:
    rng = np.random.default_rng(seed)
    out = []
    seq = int(rng.integers(0, 1000))
    for _ in range(400):
        n = int(rng.choice([8, 8, 8, 0, 3]))
        r = rng.random()
        if r < 0.03:
            seq += int(rng.integers(1, 20))  # short gap: filled
        elif r < 0.04:
            seq += int(rng.integers(300, 900))  # long gap: reset
        elif r < 0.05 and out:
            seq -= int(rng.integers(1, 12))  # overlap: duplicates dropped
        t = (seq + np.arange(n)) / FS + 0.01
        if r > 0.995 and n:
            t = t - 0.5  # out of order in time
        gyr = rng.normal(0, 50, (n, 3)) if has_gyro and rng.random() > 0.01 else None
        out.append(ImuBlock("sacrum", FS, seq, t, rng.normal(0, 1, (n, 3)), gyr))
        seq += n
    return out


def assert_same_samples(want: regrid.Samples, got: regrid.Samples) -> None:
    """Every array of two Samples equal, dtypes too."""
    for f in ("t_s", "acc_g", "gyr_dps", "idx", "filled", "reset"):
        a, b = getattr(want, f), getattr(got, f)
        assert (a is None) == (b is None), f
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=f)
            assert a.dtype == b.dtype, f


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("has_gyro", [False, True])
def test_runs_equal_general_path(seed: int, has_gyro: bool) -> None:
    blocks = _blocks(seed, has_gyro)
    p = regrid.RegridParams(FS, has_gyro=has_gyro)
    rng = np.random.default_rng(seed)
    s_ref = s_got = regrid.init_state(p)
    i = 0
    n_split = 0
    while i < len(blocks):
        chunk = blocks[i:i + int(rng.integers(1, 120))]
        i += len(chunk)
        want, s_ref = regrid._step_general(p, s_ref, chunk)
        n_split += len(regrid._split_runs(s_got, chunk)) > 1
        got, s_got = regrid.step(p, s_got, chunk)
        assert_same_samples(want, got)
    assert repr(s_ref) == repr(s_got)
    assert s_ref.n_filled > 0 and s_ref.n_long_gaps > 0 and s_ref.n_dropped > 0
    assert n_split > 3
